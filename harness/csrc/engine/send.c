/*
 * bulk_send: the send loop and its modes (send, sendfile, vmsplice+splice,
 * MSG_ZEROCOPY); the io_uring modes are in uring.c.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

const char *eng_send_mode_names[SEND_MODE_COUNT] = {"send", "sendfile", "splice", "zerocopy", "io_uring",
                                                    "io_uring_zc"};

struct sender {
    int fd;
    enum send_mode mode;
    uint64_t duration_ns, max_bytes;
    int64_t corrupt_at; /* test hook: stream offset of one inverted byte, -1 off */
    size_t period;      /* == buffer size */
    char *buf;          /* the pattern, written once, never rewritten */
    const char *call;   /* the call that failed in send_chunk */
    int memfd, pipefd[2];
    size_t pipe_size, in_pipe;
    struct eng_uring *uring; /* the io_uring modes' ring, NULL until set up */
};

static int send_setup_file(struct sender *s, struct loop *l)
{
    s->memfd = memfd_create("mptcp-bench-payload", MFD_CLOEXEC);
    if (s->memfd < 0)
        return eng_fail_mode(l, 1, "memfd_create", errno);
    for (size_t done = 0; done < s->period;) {
        ssize_t n = write(s->memfd, s->buf + done, s->period - done);
        if (n < 0 && errno != EINTR)
            return eng_fail(l, "write(memfd)", errno);
        done += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

static int send_setup(struct sender *s, struct loop *l)
{
    int one = 1;
    switch (s->mode) {
    case SEND_COPY:
        return 0;
    case SEND_FILE:
        return send_setup_file(s, l);
    case SEND_SPLICE:
        return eng_pipe_open(s->pipefd, s->period, &s->pipe_size, l);
    case SEND_ZEROCOPY:
        /* Without SO_ZEROCOPY, MPTCP silently ignores MSG_ZEROCOPY: refuse. */
        if (setsockopt(s->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) < 0)
            return eng_fail_unsupported(l, "setsockopt(SO_ZEROCOPY)", errno, NULL);
        l->zc.on = 1;
        return 0;
    case SEND_URING:
    case SEND_URING_ZC:
        return eng_uring_setup(&s->uring, s->mode == SEND_URING_ZC, l);
    }
    return eng_fail(l, "send mode", EINVAL);
}

static void send_release(struct sender *s)
{
    if (s->memfd >= 0)
        close(s->memfd);
    eng_pipe_close(s->pipefd);
    if (s->uring)
        eng_uring_release(s->uring);
}

/* MSG_ZEROCOPY completions: reap whatever the error queue holds now.  Each
 * notification covers the send calls numbered ee_info..ee_data. */
static int zc_reap(int fd, struct loop *l)
{
    char control[256];
    for (;;) {
        struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof(control)};
        if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
            if (errno == EAGAIN)
                return 0;
            if (errno == EINTR)
                continue;
            return eng_fail(l, "recvmsg(MSG_ERRQUEUE)", errno);
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                  (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
                continue;
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof(ee));
            if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY)
                return eng_fail(l, "recvmsg(MSG_ERRQUEUE)", ee.ee_errno ? (int)ee.ee_errno : EPROTO);
            uint64_t n = (uint32_t)(ee.ee_data - ee.ee_info) + 1ull;
            l->zc.completions += n;
            if (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
                l->zc.copied += n;
        }
    }
}

static void zc_wait(int fd)
{
    struct pollfd p = {.fd = fd, .events = 0}; /* POLLERR is always reported */
    poll(&p, 1, 50);
}

static ssize_t send_zerocopy(struct sender *s, struct loop *l, size_t pos, size_t len)
{
    s->call = "send(MSG_ZEROCOPY)";
    ssize_t n = send(s->fd, s->buf + pos, len, MSG_NOSIGNAL | MSG_ZEROCOPY);
    if (n >= 0) {
        l->zc.requests++;
        return zc_reap(s->fd, l) ? -2 : n;
    }
    if (errno != ENOBUFS)
        return -1;
    /* The socket's notification memory (optmem) is full: completions must
     * be reaped before the kernel accepts another zero-copy send.  With
     * none of ours outstanding it never will: the limit is too small. */
    if (l->zc.completions >= l->zc.requests) {
        eng_fail_unsupported(l, s->call, ENOBUFS,
                             "net.core.optmem_max leaves no room for one zero-copy notification");
        return -2;
    }
    l->zc.enobufs++;
    zc_wait(s->fd);
    if (zc_reap(s->fd, l))
        return -2;
    errno = EAGAIN; /* the loop retries, within its deadline */
    return -1;
}

static ssize_t send_splice(struct sender *s, size_t pos, size_t len)
{
    if (!s->in_pipe) {
        /* The pipe is empty, so every page vmspliced before has left it;
         * pages the socket still holds are never rewritten (the buffer is
         * written once), which is what makes vmsplice without a completion
         * signal safe. */
        struct iovec iov = {.iov_base = s->buf + pos, .iov_len = MIN(len, s->pipe_size)};
        ssize_t n = vmsplice(s->pipefd[1], &iov, 1, 0);
        if (n <= 0) {
            s->call = "vmsplice";
            return -1;
        }
        s->in_pipe = (size_t)n;
    }
    ssize_t n = splice(s->pipefd[0], NULL, s->fd, NULL, s->in_pipe, SPLICE_F_MOVE | SPLICE_F_MORE);
    if (n < 0) {
        s->call = "splice(pipe, socket)";
        return -1;
    }
    s->in_pipe -= (size_t)n;
    return n;
}

static ssize_t send_chunk(struct sender *s, struct loop *l, size_t pos, size_t len)
{
    switch (s->mode) {
    case SEND_COPY:
        s->call = "send";
        return send(s->fd, s->buf + pos, len, MSG_NOSIGNAL);
    case SEND_FILE: {
        off_t off = (off_t)pos;
        s->call = "sendfile";
        return sendfile(s->fd, s->memfd, &off, len);
    }
    case SEND_SPLICE:
        return send_splice(s, pos, len);
    case SEND_ZEROCOPY:
        return send_zerocopy(s, l, pos, len);
    case SEND_URING:
    case SEND_URING_ZC:
        return eng_uring_send(s->uring, l, s->fd, s->buf + pos, len, &s->call);
    }
    s->call = "send mode";
    errno = EINVAL;
    return -1;
}

static int send_drain(struct sender *s, struct loop *l)
{
    if (s->mode == SEND_ZEROCOPY)
        for (uint64_t until = eng_now_ns() + DRAIN_NS;
             l->zc.completions < l->zc.requests && eng_now_ns() < until;) {
            zc_wait(s->fd);
            if (zc_reap(s->fd, l))
                return -1;
        }
    if (s->uring)
        return eng_uring_drain(s->uring, l);
    return 0;
}

/* Test hook: the byte at corrupt_at goes out inverted, by a plain copy
 * send() of its own, whatever the mode.  Returns 1 when this step is that
 * byte; otherwise shortens *len to stop just before it. */
static int corrupt_due(struct sender *s, uint64_t offset, size_t *len)
{
    if (s->corrupt_at < 0 || (uint64_t)s->corrupt_at >= offset + *len)
        return 0;
    if ((uint64_t)s->corrupt_at > offset) {
        *len = (size_t)((uint64_t)s->corrupt_at - offset);
        return 0;
    }
    return 1;
}

static ssize_t send_corrupt(struct sender *s, size_t pos)
{
    char b = (char)~s->buf[pos];
    s->call = "send(corrupt byte)";
    ssize_t n = send(s->fd, &b, 1, MSG_NOSIGNAL);
    if (n == 1)
        s->corrupt_at = -1;
    return n;
}

/* Sends until the deadline or the byte budget; SO_SNDTIMEO (set by the
 * caller) turns a blocked send into EAGAIN so the deadline is honoured. */
static int send_loop(void *args, struct loop *l)
{
    struct sender *s = args;
    uint64_t deadline = s->duration_ns ? l->start_ns + s->duration_ns : 0;
    int rc = send_setup(s, l);
    while (rc == 0) {
        if ((deadline && eng_now_ns() >= deadline) || (s->max_bytes && l->bytes >= s->max_bytes))
            break;
        size_t pos = (size_t)(l->bytes % s->period), len = s->period - pos;
        if (s->max_bytes && s->max_bytes - l->bytes < len)
            len = (size_t)(s->max_bytes - l->bytes);
        ssize_t n = corrupt_due(s, l->bytes, &len) ? send_corrupt(s, pos) : send_chunk(s, l, pos, len);
        l->calls++;
        if (n >= 0) {
            rc = eng_account(l, eng_now_ns(), (uint64_t)n);
        } else if (n == -2) {
            rc = -1; /* send_chunk failed the loop itself */
        } else if (errno == EINTR) {
            rc = eng_interrupted(l);
        } else if (errno != EAGAIN) {
            rc = eng_fail_mode(l, s->mode != SEND_COPY, s->call, errno);
        }
    }
    if (rc == 0)
        rc = send_drain(s, l);
    send_release(s);
    return rc;
}

PyObject *eng_bulk_send(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fd", "duration_ns", "max_bytes", "bufsize", "interval_ns", "mode",
                             "seed", "corrupt_at", NULL};
    struct sender s = {.memfd = -1, .pipefd = {-1, -1}};
    unsigned long long duration = 0, max_bytes = 0, interval = 100 * NS_PER_MS, seed = 1;
    long long corrupt_at = -1;
    Py_ssize_t bufsize = 128 * 1024;
    const char *mode = "send";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|KKnKsKL", kwlist, &s.fd, &duration, &max_bytes,
                                     &bufsize, &interval, &mode, &seed, &corrupt_at))
        return NULL;
    int m = eng_parse_mode(mode, eng_send_mode_names, (int)COUNT(eng_send_mode_names));
    if (m < 0)
        return PyErr_Format(PyExc_ValueError, "unknown send mode %s", mode);
    if (bufsize <= 0 || interval == 0 || (!duration && !max_bytes))
        return PyErr_Format(PyExc_ValueError,
                            "bufsize and interval must be positive and a duration or a byte budget given");
    s.mode = (enum send_mode)m;
    s.duration_ns = duration;
    s.max_bytes = max_bytes;
    s.corrupt_at = corrupt_at;
    s.period = (size_t)bufsize;
    if (!(s.buf = eng_pattern_new(s.period, seed)))
        return PyErr_NoMemory();
    struct loop l = {.s = {.interval_ns = interval}};
    PyObject *r = eng_run_loop(send_loop, &s, &l);
    free(s.buf);
    return r;
}
