/*
 * The bulk loops' payload and plumbing: the pattern the sender writes once
 * and the receiver verifies against, and the pipes the splice modes use.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The payload: splitmix64 of (seed, 8-byte word index) over one period.
 * The stream byte at offset o is pattern[o % period]; the receiver rebuilds
 * the same period from the seed to verify what arrived. */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

char *eng_pattern_new(size_t period, uint64_t seed)
{
    char *p;
    if (posix_memalign((void **)&p, 4096, period))
        return NULL;
    for (size_t i = 0; i < period; i += 8) {
        uint64_t w = splitmix64(seed * 0x100000001b3ull + i / 8);
        memcpy(p + i, &w, MIN(8, period - i));
    }
    return p;
}

void eng_check_chunk(struct check *c, const char *pattern, size_t period, uint64_t offset,
                     const char *data, size_t n)
{
    for (size_t done = 0; done < n;) {
        size_t pos = (size_t)((offset + done) % period), k = MIN(n - done, period - pos);
        if (memcmp(data + done, pattern + pos, k))
            for (size_t i = 0; i < k; i++)
                if (data[done + i] != pattern[pos + i]) {
                    c->mismatched++;
                    if (!c->first_bad)
                        c->first_bad = offset + done + i + 1;
                }
        done += k;
    }
    c->checked += n;
}

/* A pipe as large as one buffer (within fs.pipe-max-size), so that one
 * splice moves as much as one send() or recv() would; its real size in *size. */
int eng_pipe_open(int fds[2], size_t want, size_t *size, struct loop *l)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return eng_fail(l, "pipe2", errno);
    fcntl(fds[1], F_SETPIPE_SZ, (int)MIN(want, 1u << 20));
    int got = fcntl(fds[1], F_GETPIPE_SZ);
    if (got <= 0)
        return eng_fail(l, "fcntl(F_GETPIPE_SZ)", errno);
    *size = (size_t)got;
    return 0;
}

void eng_pipe_close(int fds[2])
{
    if (fds[0] >= 0) {
        close(fds[0]);
        close(fds[1]);
    }
}
