/*
 * harness._engine: the traffic engine's hot loops.
 *
 * One file, a thin Python face (harness/engine.py).  Sockets are created,
 * bound and connected in Python (except CRR's, which the loop itself opens
 * and closes); the loops here only move bytes, with the GIL released, and
 * report what they did: byte counts, monotonic timestamps, a per-interval
 * series, zero-copy completions, verification counts, per-transaction
 * latencies and, when a call fails, which call and which errno.
 * TCP and MPTCP take the same path: the protocol is a property of the socket.
 *
 * Honesty rules the loops follow:
 *   - a mode whose capability is refused (setsockopt(SO_ZEROCOPY) on MPTCP,
 *     a SEND_ZC completion of -EOPNOTSUPP, io_uring absent) fails with the
 *     call and errno and the flag `unsupported`; it never falls back to copying;
 *   - zero-copy completions are counted, and so are *copied* ones;
 *   - buffers handed to the kernel without a completion signal (vmsplice) or
 *     still referenced by in-flight skbs are never rewritten: the payload is
 *     written once before a loop starts.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)   /* kernel 6.2, newer than liburing 2.3 */
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif
#endif

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef MPTCP_FULL_INFO
#define MPTCP_FULL_INFO 4
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

#if defined(__clang__)
#define COMPILER_NAME "clang "
#elif defined(__GNUC__)
#define COMPILER_NAME "gcc "
#else
#define COMPILER_NAME ""
#endif

#define COUNT(a) (sizeof(a) / sizeof(*(a)))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define NS_PER_MS 1000000ull
#define DRAIN_NS (2000 * NS_PER_MS) /* how long to wait for late completions */
#define POLL_MS 200                 /* each wait is bounded so deadlines and signals are seen */
#define SAMPLES_INITIAL 65536

enum send_mode { SEND_COPY, SEND_FILE, SEND_SPLICE, SEND_ZEROCOPY, SEND_URING, SEND_URING_ZC };
static const char *send_mode_names[] = {"send", "sendfile", "splice", "zerocopy", "io_uring",
                                        "io_uring_zc"};
enum recv_mode { RECV_COPY, RECV_SPLICE, RECV_TRUNC };
static const char *recv_mode_names[] = {"recv", "splice", "trunc"};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------- loop results */

/* Units per interval (bytes for bulk, transactions for RR), indexed from a
 * reference time. */
struct series {
    uint64_t *v;
    size_t n, cap;
    uint64_t interval_ns, t0;
};

static int series_add(struct series *s, uint64_t t, uint64_t units)
{
    size_t idx = t > s->t0 ? (size_t)((t - s->t0) / s->interval_ns) : 0;
    if (idx >= s->cap) {
        size_t cap = s->cap ? s->cap : 128;
        while (cap <= idx)
            cap *= 2;
        uint64_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -1;
        memset(v + s->cap, 0, (cap - s->cap) * sizeof(*v));
        s->v = v;
        s->cap = cap;
    }
    s->v[idx] += units;
    if (idx + 1 > s->n)
        s->n = idx + 1;
    return 0;
}

/* Per-transaction latencies in ns, in completion order. */
struct samples {
    uint64_t *v;
    size_t n, cap;
};

static int samples_push(struct samples *s, uint64_t v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : SAMPLES_INITIAL;
        uint64_t *p = realloc(s->v, cap * sizeof(*p));
        if (!p)
            return -1;
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = v;
    return 0;
}

struct zc_count {
    int on;
    uint64_t requests;    /* sends that promised a completion */
    uint64_t completions; /* completions reaped */
    uint64_t copied;      /* ... of which the kernel copied the data anyway */
    uint64_t enobufs;     /* sends refused until completions were reaped (optmem full) */
};

struct check {
    int on;
    uint64_t checked, mismatched, first_bad; /* first_bad: stream offset + 1, 0 if none */
};

/* What one loop did. */
struct loop {
    uint64_t bytes, calls, start_ns, end_ns, first_ns, last_ns;
    int err;            /* errno of the failing call, 0 if none */
    const char *call;   /* name of the failing call */
    const char *detail; /* a reason that is not an errno */
    int unsupported;    /* the failure is a refused capability, not a transport error */
    struct series s;
    struct zc_count zc;
    struct check chk;
    /* latency workloads */
    struct samples lat;
    uint64_t transactions;
    uint64_t *per_flow;
    int nflows;
    uint64_t accepted_tcp, accepted_mptcp, accepted_other;
};

/* Called with the GIL released when a syscall returns EINTR: a pending
 * Python signal handler (Ctrl-C, SIGTERM) must run and may abort the loop. */
static int signal_pending(void)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int r = PyErr_CheckSignals();
    PyGILState_Release(g);
    return r < 0;
}

static int fail(struct loop *l, const char *call, int err)
{
    l->call = call;
    l->err = err;
    return -1;
}

/* Errnos by which the kernel refuses a capability rather than a transfer. */
static int capability_errno(int e)
{
    return e == EOPNOTSUPP || e == ENOPROTOOPT || e == ENOSYS || e == EINVAL || e == EFAULT ||
           e == EPERM || e == EPROTONOSUPPORT || e == EAFNOSUPPORT;
}

/* A mode-specific call failed: before any byte moved, with a capability
 * errno, that is the mode being unsupported on this socket. */
static int fail_mode(struct loop *l, int special_mode, const char *call, int err)
{
    l->unsupported = special_mode && l->bytes == 0 && capability_errno(err);
    return fail(l, call, err);
}

static int fail_unsupported(struct loop *l, const char *call, int err, const char *detail)
{
    l->unsupported = 1;
    l->detail = detail;
    return fail(l, call, err);
}

/* EINTR: 0 to retry, -1 (with the loop failed) when a handler raised. */
static int interrupted(struct loop *l)
{
    return signal_pending() ? fail(l, "signal", EINTR) : 0;
}

static int set_item(PyObject *d, const char *key, PyObject *v)
{
    if (!v)
        return -1;
    int r = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return r;
}

static PyObject *u64_list(const uint64_t *v, size_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *x = PyLong_FromUnsignedLongLong(v[i]);
        if (!x) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, x);
    }
    return list;
}

static PyObject *error_dict(struct loop *l)
{
    if (!l->err && !l->detail)
        Py_RETURN_NONE;
    return Py_BuildValue("{s:s,s:i,s:O,s:z}", "call", l->call ? l->call : "", "errno", l->err,
                         "unsupported", l->unsupported ? Py_True : Py_False, "detail", l->detail);
}

static int optional_sections(PyObject *d, struct loop *l)
{
    if (l->zc.on &&
        set_item(d, "zc", Py_BuildValue("{s:K,s:K,s:K,s:K}", "requests", (unsigned long long)l->zc.requests,
                                        "completions", (unsigned long long)l->zc.completions,
                                        "copied", (unsigned long long)l->zc.copied, "enobufs",
                                        (unsigned long long)l->zc.enobufs)) < 0)
        return -1;
    if (l->chk.on) {
        PyObject *first = l->chk.first_bad ? PyLong_FromUnsignedLongLong(l->chk.first_bad - 1)
                                           : Py_NewRef(Py_None);
        if (!first || set_item(d, "verify", Py_BuildValue("{s:K,s:K,s:N}", "checked",
                                                          (unsigned long long)l->chk.checked, "mismatched",
                                                          (unsigned long long)l->chk.mismatched,
                                                          "first_bad_offset", first)) < 0)
            return -1;
    }
    if (l->nflows) {
        /* Latencies as packed native uint64: numpy.frombuffer reads them as is. */
        if (set_item(d, "latency_ns", PyBytes_FromStringAndSize((const char *)l->lat.v,
                                                                (Py_ssize_t)(l->lat.n * sizeof(uint64_t)))) < 0 ||
            set_item(d, "per_flow", u64_list(l->per_flow, (size_t)l->nflows)) < 0 ||
            set_item(d, "transactions", PyLong_FromUnsignedLongLong(l->transactions)) < 0)
            return -1;
    }
    if (l->accepted_tcp + l->accepted_mptcp + l->accepted_other &&
        set_item(d, "accepted", Py_BuildValue("{s:K,s:K,s:K}", "tcp", (unsigned long long)l->accepted_tcp,
                                              "mptcp", (unsigned long long)l->accepted_mptcp, "other",
                                              (unsigned long long)l->accepted_other)) < 0)
        return -1;
    return 0;
}

static PyObject *loop_result(struct loop *l)
{
    PyObject *d = Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "bytes", (unsigned long long)l->bytes, "calls",
        (unsigned long long)l->calls, "start_ns", (unsigned long long)l->start_ns, "end_ns",
        (unsigned long long)l->end_ns, "first_ns", (unsigned long long)l->first_ns, "last_ns",
        (unsigned long long)l->last_ns, "interval_ns", (unsigned long long)l->s.interval_ns);
    if (!d || set_item(d, "intervals", u64_list(l->s.v, l->s.n)) < 0 ||
        set_item(d, "error", error_dict(l)) < 0 || optional_sections(d, l) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* Runs one loop with the GIL released and returns its result (or NULL when
 * a Python signal handler raised).  The caller owns the loop's arguments. */
typedef int (*loop_fn)(void *args, struct loop *l);

static PyObject *run_loop(loop_fn fn, void *args, struct loop *l)
{
    Py_BEGIN_ALLOW_THREADS
    l->start_ns = l->s.t0 = now_ns();
    fn(args, l);
    l->end_ns = now_ns();
    Py_END_ALLOW_THREADS
    PyObject *r = PyErr_Occurred() ? NULL : loop_result(l);
    free(l->s.v);
    free(l->lat.v);
    free(l->per_flow);
    return r;
}

static int account(struct loop *l, uint64_t t, uint64_t n)
{
    if (!l->first_ns)
        l->first_ns = t;
    l->last_ns = t;
    l->bytes += n;
    return series_add(&l->s, t, n) ? fail(l, "realloc", ENOMEM) : 0;
}

static int parse_mode(const char *name, const char **names, int count)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

/* ------------------------------------------------------------ pattern */

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

static char *pattern_new(size_t period, uint64_t seed)
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

static void check_chunk(struct check *c, const char *pattern, size_t period, uint64_t offset,
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
static int pipe_open(int fds[2], size_t want, size_t *size, struct loop *l)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return fail(l, "pipe2", errno);
    fcntl(fds[1], F_SETPIPE_SZ, (int)MIN(want, 1u << 20));
    int got = fcntl(fds[1], F_GETPIPE_SZ);
    if (got <= 0)
        return fail(l, "fcntl(F_GETPIPE_SZ)", errno);
    *size = (size_t)got;
    return 0;
}

static void pipe_close(int fds[2])
{
    if (fds[0] >= 0) {
        close(fds[0]);
        close(fds[1]);
    }
}

/* ---------------------------------------------------------------- send */

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
#ifdef HAVE_LIBURING
    struct io_uring ring;
    int ring_on, inflight;
    uint64_t notifs_pending;
#endif
};

#define URING_DATA 1
#define URING_CANCEL 2

static int send_setup_file(struct sender *s, struct loop *l)
{
    s->memfd = memfd_create("mptcp-bench-payload", MFD_CLOEXEC);
    if (s->memfd < 0)
        return fail_mode(l, 1, "memfd_create", errno);
    for (size_t done = 0; done < s->period;) {
        ssize_t n = write(s->memfd, s->buf + done, s->period - done);
        if (n < 0 && errno != EINTR)
            return fail(l, "write(memfd)", errno);
        done += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

static int send_setup_uring(struct sender *s, struct loop *l)
{
#ifdef HAVE_LIBURING
    int r = io_uring_queue_init(8, &s->ring, 0);
    if (r < 0)
        return fail_unsupported(l, "io_uring_queue_init", -r, NULL);
    s->ring_on = 1;
    l->zc.on = s->mode == SEND_URING_ZC;
    return 0;
#else
    return fail_unsupported(l, "io_uring", ENOSYS, "built without liburing");
#endif
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
        return pipe_open(s->pipefd, s->period, &s->pipe_size, l);
    case SEND_ZEROCOPY:
        /* Without SO_ZEROCOPY, MPTCP silently ignores MSG_ZEROCOPY: refuse. */
        if (setsockopt(s->fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) < 0)
            return fail_unsupported(l, "setsockopt(SO_ZEROCOPY)", errno, NULL);
        l->zc.on = 1;
        return 0;
    case SEND_URING:
    case SEND_URING_ZC:
        return send_setup_uring(s, l);
    }
    return fail(l, "send mode", EINVAL);
}

static void send_release(struct sender *s)
{
    if (s->memfd >= 0)
        close(s->memfd);
    pipe_close(s->pipefd);
#ifdef HAVE_LIBURING
    if (s->ring_on)
        io_uring_queue_exit(&s->ring);
#endif
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
            return fail(l, "recvmsg(MSG_ERRQUEUE)", errno);
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                  (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
                continue;
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof(ee));
            if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY)
                return fail(l, "recvmsg(MSG_ERRQUEUE)", ee.ee_errno ? (int)ee.ee_errno : EPROTO);
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
        fail_unsupported(l, s->call, ENOBUFS,
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

#ifdef HAVE_LIBURING
/* Waits for the data completion of the in-flight send, counting SEND_ZC
 * notifications as they come.  -1/EAGAIN when the wait timed out. */
static ssize_t uring_wait_data(struct sender *s, struct loop *l, unsigned timeout_ms)
{
    for (;;) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        int r = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
        if (r == -ETIME) {
            errno = EAGAIN;
            return -1;
        }
        if (r < 0) {
            s->call = "io_uring_wait_cqe";
            errno = -r;
            return -1;
        }
        int res = cqe->res;
        unsigned flags = cqe->flags;
        uint64_t tag = cqe->user_data;
        io_uring_cqe_seen(&s->ring, cqe);
        if (flags & IORING_CQE_F_NOTIF) {
            s->notifs_pending--;
            l->zc.completions++;
            if ((unsigned)res & IORING_NOTIF_USAGE_ZC_COPIED)
                l->zc.copied++;
            continue;
        }
        if (tag != URING_DATA)
            continue;
        s->inflight = 0;
        if (flags & IORING_CQE_F_MORE) {
            l->zc.requests++;
            s->notifs_pending++;
        }
        if (res < 0) {
            s->call = s->mode == SEND_URING_ZC ? "io_uring SEND_ZC completion" : "io_uring SEND completion";
            errno = -res;
            return -1;
        }
        return res;
    }
}

/* One send at a time: on a stream socket a short send must complete before
 * the next one is queued, or bytes would be reordered. */
static ssize_t send_uring(struct sender *s, struct loop *l, size_t pos, size_t len)
{
    if (!s->inflight) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
        if (s->mode == SEND_URING_ZC)
            io_uring_prep_send_zc(sqe, s->fd, s->buf + pos, len, MSG_NOSIGNAL,
                                  IORING_SEND_ZC_REPORT_USAGE);
        else
            io_uring_prep_send(sqe, s->fd, s->buf + pos, len, MSG_NOSIGNAL);
        sqe->user_data = URING_DATA;
        int r = io_uring_submit(&s->ring);
        if (r < 0) {
            s->call = "io_uring_submit";
            errno = -r;
            return -1;
        }
        s->inflight = 1;
    }
    return uring_wait_data(s, l, POLL_MS);
}

/* At the end: cancel a send still waiting for room, count what it moved,
 * then wait for the outstanding SEND_ZC notifications. */
static int uring_drain(struct sender *s, struct loop *l)
{
    if (s->inflight) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
        io_uring_prep_cancel64(sqe, URING_DATA, 0);
        sqe->user_data = URING_CANCEL;
        io_uring_submit(&s->ring);
        ssize_t n = uring_wait_data(s, l, DRAIN_NS / NS_PER_MS);
        if (n > 0 && account(l, now_ns(), (uint64_t)n))
            return -1;
    }
    for (uint64_t until = now_ns() + DRAIN_NS; s->notifs_pending && now_ns() < until;)
        if (uring_wait_data(s, l, 50) < 0 && errno != EAGAIN && errno != ECANCELED)
            break;
    return 0;
}
#endif

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
#ifdef HAVE_LIBURING
        return send_uring(s, l, pos, len);
#endif
        break;
    }
    s->call = "send mode";
    errno = EINVAL;
    return -1;
}

static int send_drain(struct sender *s, struct loop *l)
{
    if (s->mode == SEND_ZEROCOPY)
        for (uint64_t until = now_ns() + DRAIN_NS;
             l->zc.completions < l->zc.requests && now_ns() < until;) {
            zc_wait(s->fd);
            if (zc_reap(s->fd, l))
                return -1;
        }
#ifdef HAVE_LIBURING
    if (s->ring_on)
        return uring_drain(s, l);
#endif
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
        if ((deadline && now_ns() >= deadline) || (s->max_bytes && l->bytes >= s->max_bytes))
            break;
        size_t pos = (size_t)(l->bytes % s->period), len = s->period - pos;
        if (s->max_bytes && s->max_bytes - l->bytes < len)
            len = (size_t)(s->max_bytes - l->bytes);
        ssize_t n = corrupt_due(s, l->bytes, &len) ? send_corrupt(s, pos) : send_chunk(s, l, pos, len);
        l->calls++;
        if (n >= 0) {
            rc = account(l, now_ns(), (uint64_t)n);
        } else if (n == -2) {
            rc = -1; /* send_chunk failed the loop itself */
        } else if (errno == EINTR) {
            rc = interrupted(l);
        } else if (errno != EAGAIN) {
            rc = fail_mode(l, s->mode != SEND_COPY, s->call, errno);
        }
    }
    if (rc == 0)
        rc = send_drain(s, l);
    send_release(s);
    return rc;
}

static PyObject *bulk_send(PyObject *self, PyObject *args, PyObject *kw)
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
    int m = parse_mode(mode, send_mode_names, (int)COUNT(send_mode_names));
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
    if (!(s.buf = pattern_new(s.period, seed)))
        return PyErr_NoMemory();
    struct loop l = {.s = {.interval_ns = interval}};
    PyObject *r = run_loop(send_loop, &s, &l);
    free(s.buf);
    return r;
}

/* ---------------------------------------------------------------- recv */

struct receiver {
    int fd;
    enum recv_mode mode;
    uint64_t idle_timeout_ns;
    size_t bufsize;     /* bytes asked for per call: max(the sender's buffer, lowat) */
    size_t period;      /* the sender's buffer size: the pattern's period */
    int lowat;          /* SO_RCVLOWAT, 0: the kernel's default (wake on any byte) */
    char *buf;
    const char *call;
    int pipefd[2], devnull;
    size_t pipe_size;
    char *pattern; /* verification: the sender's period, NULL when off */
};

/* SO_RCVLOWAT batches the receiver's wake-ups: the kernel wakes it only
 * once lowat bytes are queued (or at EOF), so one call moves a batch.  It
 * is asked for explicitly and its refusal is an unsupported result. */
static int recv_setup(struct receiver *r, struct loop *l)
{
    if (r->lowat && setsockopt(r->fd, SOL_SOCKET, SO_RCVLOWAT, &r->lowat, sizeof(r->lowat)) < 0)
        return fail_mode(l, 1, "setsockopt(SO_RCVLOWAT)", errno);
    if (r->mode != RECV_SPLICE)
        return 0;
    if (pipe_open(r->pipefd, r->bufsize, &r->pipe_size, l))
        return -1;
    r->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    return r->devnull < 0 ? fail(l, "open(/dev/null)", errno) : 0;
}

static void recv_release(struct receiver *r)
{
    pipe_close(r->pipefd);
    if (r->devnull >= 0)
        close(r->devnull);
}

/* socket -> pipe -> /dev/null: the payload is never copied to user space. */
static ssize_t recv_splice(struct receiver *r)
{
    r->call = "splice(socket, pipe)";
    ssize_t n = splice(r->fd, NULL, r->pipefd[1], NULL, r->pipe_size, SPLICE_F_MOVE);
    for (ssize_t left = n; left > 0;) {
        ssize_t m = splice(r->pipefd[0], NULL, r->devnull, NULL, (size_t)left, SPLICE_F_MOVE);
        if (m < 0 && errno != EINTR) {
            r->call = "splice(pipe, /dev/null)";
            return -1;
        }
        left -= m > 0 ? m : 0;
    }
    return n;
}

static ssize_t recv_chunk(struct receiver *r)
{
    switch (r->mode) {
    case RECV_COPY:
        r->call = "recv";
        return recv(r->fd, r->buf, r->bufsize, 0);
    case RECV_SPLICE:
        return recv_splice(r);
    case RECV_TRUNC:
        /* TCP discards the bytes without copying; a NULL buffer makes a
         * protocol that would copy anyway fail (EFAULT) instead of pretend. */
        r->call = "recv(MSG_TRUNC)";
        return recv(r->fd, NULL, r->bufsize, MSG_TRUNC);
    }
    r->call = "recv mode";
    errno = EINVAL;
    return -1;
}

/* Receives until the peer's FIN.  Intervals count from the first byte, so
 * the series is the goodput the application saw.  SO_RCVTIMEO (set by the
 * caller) bounds each wait; idle_timeout_ns bounds a silence. */
static int recv_loop(void *args, struct loop *l)
{
    struct receiver *r = args;
    int rc = recv_setup(r, l);
    while (rc == 0) {
        ssize_t n = recv_chunk(r);
        uint64_t t = now_ns();
        l->calls++;
        if (n == 0)
            break;
        if (n < 0) {
            uint64_t since = l->last_ns ? l->last_ns : l->start_ns;
            if (errno == EAGAIN)
                rc = r->idle_timeout_ns && t - since > r->idle_timeout_ns ? fail(l, r->call, ETIMEDOUT) : 0;
            else if (errno == EINTR)
                rc = interrupted(l);
            else
                rc = fail_mode(l, r->mode != RECV_COPY, r->call, errno);
            continue;
        }
        if (!l->first_ns)
            l->s.t0 = t;
        if (r->pattern)
            check_chunk(&l->chk, r->pattern, r->period, l->bytes, r->buf, (size_t)n);
        rc = account(l, t, (uint64_t)n);
    }
    recv_release(r);
    return rc;
}

static PyObject *bulk_recv(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fd", "bufsize", "interval_ns", "idle_timeout_ns", "mode", "verify_seed",
                             "lowat", NULL};
    struct receiver r = {.pipefd = {-1, -1}, .devnull = -1};
    unsigned long long interval = 100 * NS_PER_MS, idle = 10000 * NS_PER_MS;
    Py_ssize_t bufsize = 128 * 1024;
    const char *mode = "recv";
    PyObject *seed = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|nKKsOi", kwlist, &r.fd, &bufsize, &interval, &idle,
                                     &mode, &seed, &r.lowat))
        return NULL;
    int m = parse_mode(mode, recv_mode_names, (int)COUNT(recv_mode_names));
    if (m < 0)
        return PyErr_Format(PyExc_ValueError, "unknown receive mode %s", mode);
    if (bufsize <= 0 || interval == 0 || r.lowat < 0)
        return PyErr_Format(PyExc_ValueError, "bufsize and interval must be positive, lowat not negative");
    if (seed != Py_None && m != RECV_COPY)
        return PyErr_Format(PyExc_ValueError, "verification needs the bytes: receive mode recv");
    r.mode = (enum recv_mode)m;
    r.period = (size_t)bufsize;
    r.bufsize = MAX((size_t)bufsize, (size_t)r.lowat);
    r.idle_timeout_ns = idle;
    struct loop l = {.s = {.interval_ns = interval}, .chk = {.on = seed != Py_None}};
    if (l.chk.on) {
        unsigned long long v = PyLong_AsUnsignedLongLong(seed);
        if (PyErr_Occurred() || !(r.pattern = pattern_new(r.period, v)))
            return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    if (posix_memalign((void **)&r.buf, 4096, r.bufsize)) {
        free(r.pattern);
        return PyErr_NoMemory();
    }
    PyObject *res = run_loop(recv_loop, &r, &l);
    free(r.buf);
    free(r.pattern);
    return res;
}

/* ------------------------------------------------------------ latency */

/* Moves exactly len bytes, sending or receiving; EAGAIN (SO_SNDTIMEO /
 * SO_RCVTIMEO) is retried until idle_ns of silence.  Receiving, returns 1
 * when the peer closed before the first byte. */
static int move_all(struct loop *l, int fd, char *buf, size_t len, uint64_t idle_ns, int sending)
{
    const char *call = sending ? "send(request/response)" : "recv(request/response)";
    uint64_t since = now_ns();
    for (size_t done = 0; done < len;) {
        ssize_t n = sending ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
                            : recv(fd, buf + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            since = now_ns();
        } else if (n == 0) {
            return done ? fail(l, call, ECONNRESET) : 1;
        } else if (errno == EINTR) {
            if (interrupted(l))
                return -1;
        } else if (errno != EAGAIN || now_ns() - since > idle_ns) {
            return fail(l, call, errno == EAGAIN ? ETIMEDOUT : errno);
        }
    }
    return 0;
}

static int send_all(struct loop *l, int fd, char *buf, size_t len, uint64_t idle_ns)
{
    return move_all(l, fd, buf, len, idle_ns, 1);
}

static int recv_all(struct loop *l, int fd, char *buf, size_t len, uint64_t idle_ns)
{
    return move_all(l, fd, buf, len, idle_ns, 0);
}

struct rr {
    int *fds, n;
    size_t req, resp;
    uint64_t duration_ns, max_tx, idle_ns;
    /* max(req, resp) bytes each: what is received lands in rx, and tx is
     * filled once per loop ('R' requests, 'A' responses), never per
     * transaction, so that no refill sits inside a measured round trip. */
    char *rx, *tx;
    /* CRR: the loop opens its own connections */
    int family, protocol, lfd;
    struct sockaddr_storage local, remote;
    socklen_t addrlen;
};

/* A transaction completed on `flow` at t (both ends count them). */
static int count_tx(struct loop *l, int flow, uint64_t t)
{
    if (series_add(&l->s, t, 1))
        return fail(l, "realloc", ENOMEM);
    l->per_flow[flow]++;
    l->transactions++;
    if (!l->first_ns)
        l->first_ns = t;
    l->last_ns = t;
    return 0;
}

/* ... and the client records its latency. */
static int record(struct loop *l, int flow, uint64_t t0, uint64_t t1)
{
    if (samples_push(&l->lat, t1 - t0))
        return fail(l, "realloc", ENOMEM);
    return count_tx(l, flow, t1);
}

struct rr_state {
    struct pollfd *p;
    uint64_t *t0;
    size_t *got;
    int active;
    uint64_t progress;
    uint64_t deadline, issued; /* the client's: when to stop, requests sent */
};

static int rr_state_new(struct rr_state *st, const struct rr *a)
{
    st->p = calloc((size_t)a->n, sizeof(*st->p));
    st->t0 = calloc((size_t)a->n, sizeof(*st->t0));
    st->got = calloc((size_t)a->n, sizeof(*st->got));
    for (int i = 0; st->p && i < a->n; i++)
        st->p[i] = (struct pollfd){.fd = a->fds[i], .events = POLLIN};
    st->active = a->n;
    st->progress = now_ns();
    st->deadline = st->issued = 0;
    return st->p && st->t0 && st->got ? 0 : -1;
}

static void rr_state_free(struct rr_state *st)
{
    free(st->p);
    free(st->t0);
    free(st->got);
}

/* Waits until a flow is readable; 0 to go on, -1 on failure or silence. */
static int rr_poll(struct loop *l, struct rr_state *st, const struct rr *a, const char *what)
{
    int r = poll(st->p, (nfds_t)a->n, POLL_MS);
    if (r < 0)
        return errno == EINTR ? interrupted(l) : fail(l, "poll", errno);
    if (r == 0 && now_ns() - st->progress > a->idle_ns)
        return fail(l, what, ETIMEDOUT);
    return 0;
}

/* Reads what flow i has toward `want` bytes: 1 when complete, 0 when not
 * yet, 2 at EOF before any byte, -1 on failure. */
static int rr_read(struct loop *l, struct rr_state *st, const struct rr *a, int i, size_t want,
                   const char *what)
{
    ssize_t n = recv(st->p[i].fd, a->rx, want - st->got[i], MSG_DONTWAIT);
    if (n == 0)
        return st->got[i] ? fail(l, what, ECONNRESET) : 2;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : fail(l, what, errno);
    st->got[i] += (size_t)n;
    l->bytes += (uint64_t)n;
    st->progress = now_ns();
    if (st->got[i] < want)
        return 0;
    st->got[i] = 0;
    return 1;
}

static void rr_retire(struct rr_state *st, int i)
{
    st->p[i].fd = -1; /* poll ignores it */
    st->active--;
}

/* What a loop does with a flow's complete message (done == 1) or its EOF
 * before any byte (done == 2); 0 to go on. */
typedef int (*rr_on_msg)(struct loop *l, struct rr_state *st, const struct rr *a, int i,
                         int done);

/* Polls the active flows and reads each ready one toward `want` bytes,
 * handing what completes to on_msg, until no flow is left or one fails. */
static int rr_pump(struct loop *l, struct rr_state *st, const struct rr *a, size_t want,
                   const char *what, rr_on_msg on_msg)
{
    int rc = 0;
    while (rc == 0 && st->active) {
        rc = rr_poll(l, st, a, what);
        for (int i = 0; rc == 0 && i < a->n; i++) {
            if (st->p[i].fd < 0 || !st->p[i].revents)
                continue;
            int done = rr_read(l, st, a, i, want, what);
            rc = done < 0 ? -1 : done ? on_msg(l, st, a, i, done) : 0;
        }
    }
    return rc;
}

/* RR client: every flow has one request outstanding at a time; a
 * transaction's latency runs from just before its request is sent to the
 * moment the last byte of its response has been read. */
static int rr_client_msg(struct loop *l, struct rr_state *st, const struct rr *a, int i, int done)
{
    if (done == 2) /* the server closed between transactions */
        return fail(l, "recv(response)", ECONNRESET);
    uint64_t t = now_ns();
    int rc = record(l, i, st->t0[i], t);
    if ((st->deadline && t >= st->deadline) || (a->max_tx && st->issued >= a->max_tx)) {
        rr_retire(st, i);
        return rc;
    }
    st->t0[i] = now_ns();
    st->issued++;
    return rc ? rc : send_all(l, a->fds[i], a->tx, a->req, a->idle_ns);
}

static int rr_client_loop(void *args, struct loop *l)
{
    struct rr *a = args;
    struct rr_state st;
    int rc = rr_state_new(&st, a) ? fail(l, "calloc", ENOMEM) : 0;
    st.deadline = a->duration_ns ? l->start_ns + a->duration_ns : 0;
    memset(a->tx, 'R', a->req);
    for (int i = 0; rc == 0 && i < a->n; i++, st.issued++) {
        st.t0[i] = now_ns();
        rc = send_all(l, a->fds[i], a->tx, a->req, a->idle_ns);
    }
    rc = rc ? rc : rr_pump(l, &st, a, a->resp, "recv(response)", rr_client_msg);
    rr_state_free(&st);
    return rc;
}

/* RR server: answers every complete request; a flow ends at its EOF. */
static int rr_server_msg(struct loop *l, struct rr_state *st, const struct rr *a, int i, int done)
{
    if (done == 2) {
        rr_retire(st, i);
        return 0;
    }
    int rc = send_all(l, a->fds[i], a->tx, a->resp, a->idle_ns);
    return rc ? rc : count_tx(l, i, now_ns());
}

static int rr_server_loop(void *args, struct loop *l)
{
    struct rr *a = args;
    struct rr_state st;
    int rc = rr_state_new(&st, a) ? fail(l, "calloc", ENOMEM) : 0;
    memset(a->tx, 'A', a->resp);
    rc = rc ? rc : rr_pump(l, &st, a, a->req, "recv(request)", rr_server_msg);
    rr_state_free(&st);
    return rc;
}

/* One CRR transaction: socket, bind, connect, request, response, then the
 * server's close (read as EOF) and ours.  The server closes first, so the
 * TIME_WAIT state stays on its side and the client never runs out of ports. */
static int crr_once(struct loop *l, const struct rr *a)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, a->protocol);
    if (fd < 0)
        return fail_mode(l, 1, "socket", errno);
    /* Timeouts bound connect and each wait (a lost SYN would otherwise
     * block for minutes); both protocols pay the same two calls. */
    struct timeval tv = {.tv_sec = (time_t)(a->idle_ns / 1000000000ull),
                         .tv_usec = (suseconds_t)(a->idle_ns % 1000000000ull / 1000)};
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        rc = fail(l, "setsockopt(SO_SNDTIMEO/SO_RCVTIMEO)", errno);
    else if (bind(fd, (struct sockaddr *)&a->local, a->addrlen) < 0)
        rc = fail(l, "bind", errno);
    else if (connect(fd, (struct sockaddr *)&a->remote, a->addrlen) < 0) {
        int err = errno;
        rc = err == EINTR && interrupted(l) ? -1 : fail(l, "connect", err);
    }
    rc = rc ? rc : send_all(l, fd, a->tx, a->req, a->idle_ns);
    rc = rc ? rc : recv_all(l, fd, a->rx, a->resp, a->idle_ns);
    if (rc == 1)
        rc = fail(l, "recv(response)", ECONNRESET);
    if (rc == 0 && recv_all(l, fd, a->rx, 1, a->idle_ns) != 1)
        rc = l->err ? -1 : fail(l, "recv(EOF)", EPROTO);
    close(fd);
    return rc;
}

static int crr_client_loop(void *args, struct loop *l)
{
    struct rr *a = args;
    uint64_t deadline = a->duration_ns ? l->start_ns + a->duration_ns : 0;
    memset(a->tx, 'R', a->req);
    for (uint64_t t = now_ns(); !(deadline && t >= deadline) && !(a->max_tx && l->transactions >= a->max_tx);) {
        if (crr_once(l, a))
            return -1;
        uint64_t t1 = now_ns();
        if (record(l, 0, t, t1))
            return -1;
        l->bytes += a->req + a->resp;
        t = t1;
    }
    return 0;
}

static void count_protocol(struct loop *l, int fd)
{
    int proto = 0;
    socklen_t len = sizeof(proto);
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
    if (proto == IPPROTO_TCP)
        l->accepted_tcp++;
    else if (proto == 262)
        l->accepted_mptcp++;
    else
        l->accepted_other++;
}

/* CRR server: accept, read the request, answer, close first.  A request
 * whose first byte is 'E' is the client's last: answered, then the loop ends.
 * The listener's SO_RCVTIMEO bounds each accept. */
static int crr_server_loop(void *args, struct loop *l)
{
    struct rr *a = args;
    uint64_t since = now_ns();
    memset(a->tx, 'A', a->resp);
    for (;;) {
        int c = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR && interrupted(l))
                return -1;
            if (errno == EAGAIN && now_ns() - since > a->idle_ns)
                return fail(l, "accept", ETIMEDOUT);
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                return fail(l, "accept", errno);
            continue;
        }
        count_protocol(l, c);
        int rc = recv_all(l, c, a->rx, a->req, a->idle_ns);
        char first = a->rx[0];
        if (rc == 0)
            rc = send_all(l, c, a->tx, a->resp, a->idle_ns);
        close(c);
        since = now_ns();
        if (rc < 0)
            return -1;
        if (rc == 1) /* closed before its request: not a transaction */
            continue;
        if (first == 'E') /* the client's stop signal, not one of its transactions */
            return 0;
        l->bytes += a->req + a->resp;
        if (count_tx(l, 0, since))
            return -1;
    }
}

static int fds_from(PyObject *seq, struct rr *a)
{
    PyObject *fast = PySequence_Fast(seq, "fds must be a sequence of file descriptors");
    if (!fast)
        return -1;
    a->n = (int)PySequence_Fast_GET_SIZE(fast);
    if (a->n < 1 || a->n > 1024) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "between 1 and 1024 flows");
        return -1;
    }
    a->fds = calloc((size_t)a->n, sizeof(int));
    for (int i = 0; a->fds && i < a->n; i++)
        a->fds[i] = (int)PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
    Py_DECREF(fast);
    if (!a->fds)
        PyErr_NoMemory();
    return PyErr_Occurred() ? -1 : 0;
}

/* Allocates what every latency loop shares and runs it. */
static PyObject *run_latency(loop_fn fn, struct rr *a, int nflows, uint64_t interval)
{
    struct loop l = {.s = {.interval_ns = interval}, .nflows = nflows};
    if (a->req < 1 || a->resp < 1 || interval == 0) {
        free(a->fds);
        return PyErr_Format(PyExc_ValueError, "request, response and interval must be positive");
    }
    size_t size = MAX(a->req, a->resp);
    a->rx = malloc(size);
    a->tx = malloc(size);
    l.per_flow = calloc((size_t)nflows, sizeof(uint64_t));
    PyObject *r = NULL;
    if (!a->rx || !a->tx || !l.per_flow) {
        free(l.per_flow);
        PyErr_NoMemory();
    } else {
        r = run_loop(fn, a, &l); /* latency samples grow as they come (samples_push) */
    }
    free(a->rx);
    free(a->tx);
    free(a->fds);
    return r;
}

static PyObject *rr_run(PyObject *args, PyObject *kw, loop_fn fn)
{
    static char *kwlist[] = {"fds", "request", "response", "duration_ns", "max_transactions",
                             "idle_timeout_ns", "interval_ns", NULL};
    struct rr a = {0};
    PyObject *fds;
    Py_ssize_t req = 1, resp = 1;
    unsigned long long duration = 0, max_tx = 0, idle = 10000 * NS_PER_MS, interval = 100 * NS_PER_MS;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|nnKKKK", kwlist, &fds, &req, &resp, &duration,
                                     &max_tx, &idle, &interval))
        return NULL;
    if (fn == rr_client_loop && !duration && !max_tx)
        return PyErr_Format(PyExc_ValueError, "a duration or a transaction count is needed");
    if (fds_from(fds, &a))
        return NULL;
    a.req = (size_t)req;
    a.resp = (size_t)resp;
    a.duration_ns = duration;
    a.max_tx = max_tx;
    a.idle_ns = idle;
    return run_latency(fn, &a, a.n, interval);
}

static PyObject *rr_client(PyObject *self, PyObject *args, PyObject *kw)
{
    return rr_run(args, kw, rr_client_loop);
}

static PyObject *rr_server(PyObject *self, PyObject *args, PyObject *kw)
{
    return rr_run(args, kw, rr_server_loop);
}

static int sockaddr_from(int family, const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)ss;
        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t)port);
        *len = sizeof(*s);
        return inet_pton(AF_INET, ip, &s->sin_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    *len = sizeof(*s);
    return inet_pton(AF_INET6, ip, &s->sin6_addr) == 1 ? 0 : -1;
}

static PyObject *crr_client(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"family", "protocol", "bind", "connect", "port", "request", "response",
                             "duration_ns", "max_transactions", "idle_timeout_ns", "interval_ns", NULL};
    struct rr a = {0};
    const char *bind_ip, *connect_ip;
    int port;
    Py_ssize_t req = 1, resp = 1;
    unsigned long long duration = 0, max_tx = 0, idle = 10000 * NS_PER_MS, interval = 100 * NS_PER_MS;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iissi|nnKKKK", kwlist, &a.family, &a.protocol, &bind_ip,
                                     &connect_ip, &port, &req, &resp, &duration, &max_tx, &idle, &interval))
        return NULL;
    if (!duration && !max_tx)
        return PyErr_Format(PyExc_ValueError, "a duration or a transaction count is needed");
    if ((a.family != AF_INET && a.family != AF_INET6) ||
        sockaddr_from(a.family, bind_ip, 0, &a.local, &a.addrlen) ||
        sockaddr_from(a.family, connect_ip, port, &a.remote, &a.addrlen))
        return PyErr_Format(PyExc_ValueError, "bad address %s or %s for family %d", bind_ip, connect_ip,
                            a.family);
    a.req = (size_t)req;
    a.resp = (size_t)resp;
    a.duration_ns = duration;
    a.max_tx = max_tx;
    a.idle_ns = idle;
    return run_latency(crr_client_loop, &a, 1, interval);
}

static PyObject *crr_server(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"listen_fd", "request", "response", "idle_timeout_ns", "interval_ns", NULL};
    struct rr a = {0};
    Py_ssize_t req = 1, resp = 1;
    unsigned long long idle = 10000 * NS_PER_MS, interval = 100 * NS_PER_MS;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|nnKK", kwlist, &a.lfd, &req, &resp, &idle, &interval))
        return NULL;
    a.req = (size_t)req;
    a.resp = (size_t)resp;
    a.idle_ns = idle;
    return run_latency(crr_server_loop, &a, 1, interval);
}

/* ------------------------------------------------------- introspection */

/* Offsets of struct mptcp_full_info (include/uapi/linux/mptcp.h): six u32
 * sizes/counts, then two aligned u64 user pointers, then struct mptcp_info,
 * whose size grows with kernel versions. */
#define FI_SIZE_TCPINFO_KERNEL 0
#define FI_SIZE_TCPINFO_USER 4
#define FI_SIZE_SFINFO_KERNEL 8
#define FI_SIZE_SFINFO_USER 12
#define FI_NUM_SUBFLOWS 16
#define FI_SIZE_ARRAYS_USER 20
#define FI_SUBFLOW_INFO 24
#define FI_TCP_INFO 32
#define FI_MPTCP_INFO 40
#define FI_MPTCP_INFO_ROOM 512
#define ELEM_ROOM 512 /* per-subflow room: larger than any kernel's struct */

static uint32_t get_u32(const char *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static void put_u32(char *p, size_t off, uint32_t v) { memcpy(p + off, &v, sizeof(v)); }
static void put_u64(char *p, size_t off, uint64_t v) { memcpy(p + off, &v, sizeof(v)); }

/* n elements of `stride` bytes from base, as a list of bytes objects. */
static PyObject *elements(const char *base, uint32_t n, uint32_t stride)
{
    PyObject *list = PyList_New(n);
    for (uint32_t i = 0; list && i < n; i++) {
        PyObject *b = PyBytes_FromStringAndSize(base + (size_t)i * stride, (Py_ssize_t)stride);
        if (!b) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, b);
    }
    return list;
}

/* MPTCP_FULL_INFO: the kernel fills subflow ids/addresses and tcp_info into
 * arrays we provide, and reports its own element sizes; the raw bytes go to
 * Python (harness/sockinfo.py) which parses only what the kernel wrote. */
static PyObject *mptcp_full_info(PyObject *self, PyObject *args)
{
    int fd, max_subflows = 16;
    if (!PyArg_ParseTuple(args, "i|i", &fd, &max_subflows))
        return NULL;
    if (max_subflows <= 0 || max_subflows > 256)
        return PyErr_Format(PyExc_ValueError, "max_subflows must be within 1..256");
    char hdr[FI_MPTCP_INFO + FI_MPTCP_INFO_ROOM] = {0};
    char *sf = calloc((size_t)max_subflows, ELEM_ROOM);
    char *ti = calloc((size_t)max_subflows, ELEM_ROOM);
    PyObject *r = NULL;
    if (!sf || !ti) {
        PyErr_NoMemory();
        goto out;
    }
    put_u32(hdr, FI_SIZE_TCPINFO_USER, ELEM_ROOM);
    put_u32(hdr, FI_SIZE_SFINFO_USER, ELEM_ROOM);
    put_u32(hdr, FI_SIZE_ARRAYS_USER, (uint32_t)max_subflows);
    put_u64(hdr, FI_SUBFLOW_INFO, (uint64_t)(uintptr_t)sf);
    put_u64(hdr, FI_TCP_INFO, (uint64_t)(uintptr_t)ti);
    socklen_t len = sizeof(hdr);
    if (getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, hdr, &len) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto out;
    }
    /* The kernel writes min(our size, its size) per element and packs the
     * arrays with that stride, which it reports back in the *_user fields. */
    uint32_t tsize = get_u32(hdr, FI_SIZE_TCPINFO_USER);
    uint32_t ssize = get_u32(hdr, FI_SIZE_SFINFO_USER);
    uint32_t n = get_u32(hdr, FI_NUM_SUBFLOWS);
    uint32_t filled = MIN(n, (uint32_t)max_subflows);
    if (tsize > ELEM_ROOM || ssize > ELEM_ROOM) {
        PyErr_SetString(PyExc_OSError, "MPTCP_FULL_INFO: element size beyond the buffer");
        goto out;
    }
    PyObject *sfl = elements(sf, filled, ssize), *til = elements(ti, filled, tsize);
    PyObject *pairs = sfl && til ? PyObject_CallFunction((PyObject *)&PyZip_Type, "OO", sfl, til) : NULL;
    PyObject *subflows = pairs ? PySequence_List(pairs) : NULL;
    Py_XDECREF(sfl);
    Py_XDECREF(til);
    Py_XDECREF(pairs);
    if (!subflows)
        goto out;
    Py_ssize_t mi = len > FI_MPTCP_INFO ? (Py_ssize_t)(len - FI_MPTCP_INFO) : 0;
    r = Py_BuildValue("{s:I,s:I,s:I,s:y#,s:N}", "num_subflows", n, "size_tcpinfo_kernel",
                      get_u32(hdr, FI_SIZE_TCPINFO_KERNEL), "size_sfinfo_kernel",
                      get_u32(hdr, FI_SIZE_SFINFO_KERNEL), "mptcp_info", hdr + FI_MPTCP_INFO, mi,
                      "subflows", subflows);
out:
    free(sf);
    free(ti);
    return r;
}

/* MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS (kernels before MPTCP_FULL_INFO):
 * a struct mptcp_subflow_data header {size_subflow_data, num_subflows,
 * size_kernel, size_user}, then the elements packed with the stride the
 * kernel writes back into size_user. */
static PyObject *mptcp_subflow_data(PyObject *self, PyObject *args)
{
    int fd, optname, max_subflows = 16;
    if (!PyArg_ParseTuple(args, "ii|i", &fd, &optname, &max_subflows))
        return NULL;
    if (max_subflows <= 0 || max_subflows > 256)
        return PyErr_Format(PyExc_ValueError, "max_subflows must be within 1..256");
    const uint32_t hdr = 16;
    socklen_t len = hdr + (socklen_t)max_subflows * ELEM_ROOM;
    char *buf = calloc(1, len);
    if (!buf)
        return PyErr_NoMemory();
    put_u32(buf, 0, hdr);
    put_u32(buf, 12, ELEM_ROOM);
    PyObject *r = NULL;
    if (getsockopt(fd, SOL_MPTCP, optname, buf, &len) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
    } else {
        uint32_t stride = get_u32(buf, 12), n = get_u32(buf, 4);
        uint32_t filled = stride && len > hdr ? MIN(n, (uint32_t)((len - hdr) / stride)) : 0;
        if (stride > ELEM_ROOM)
            PyErr_SetString(PyExc_OSError, "mptcp_subflow_data: element size beyond the buffer");
        else
            r = Py_BuildValue("{s:I,s:I,s:I,s:N}", "num_subflows", n, "size_kernel", get_u32(buf, 8),
                              "size_user", stride, "elements", elements(buf + hdr, filled, stride));
    }
    free(buf);
    return r;
}

/* ------------------------------------------------------------ process */

static PyObject *py_setns(PyObject *self, PyObject *args)
{
    int fd;
    if (!PyArg_ParseTuple(args, "i", &fd))
        return NULL;
    if (setns(fd, CLONE_NEWNET) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

/* A new network namespace for the calling thread only (the orchestrator's
 * other threads, and the process, stay where they are). */
static PyObject *unshare_net(PyObject *self, PyObject *noargs)
{
    if (unshare(CLONE_NEWNET) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

/* Workers die with the orchestrator, even when it is SIGKILLed. */
static PyObject *set_pdeathsig(PyObject *self, PyObject *args)
{
    int sig;
    if (!PyArg_ParseTuple(args, "i", &sig))
        return NULL;
    if (prctl(PR_SET_PDEATHSIG, sig) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define FN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef methods[] = {
    {"bulk_send", FN(bulk_send), KW,
     "bulk_send(fd, duration_ns=0, max_bytes=0, bufsize=131072, interval_ns=100000000, mode='send', "
     "seed=1, corrupt_at=-1)"},
    {"bulk_recv", FN(bulk_recv), KW,
     "bulk_recv(fd, bufsize=131072, interval_ns=100000000, idle_timeout_ns=10000000000, mode='recv', "
     "verify_seed=None, lowat=0)"},
    {"rr_client", FN(rr_client), KW,
     "rr_client(fds, request=1, response=1, duration_ns=0, max_transactions=0, idle_timeout_ns, interval_ns)"},
    {"rr_server", FN(rr_server), KW, "rr_server(fds, request=1, response=1, idle_timeout_ns, interval_ns)"},
    {"crr_client", FN(crr_client), KW,
     "crr_client(family, protocol, bind, connect, port, request=1, response=1, duration_ns=0, "
     "max_transactions=0, idle_timeout_ns, interval_ns)"},
    {"crr_server", FN(crr_server), KW, "crr_server(listen_fd, request=1, response=1, idle_timeout_ns, interval_ns)"},
    {"mptcp_full_info", mptcp_full_info, METH_VARARGS, "mptcp_full_info(fd, max_subflows=16)"},
    {"mptcp_subflow_data", mptcp_subflow_data, METH_VARARGS,
     "mptcp_subflow_data(fd, optname, max_subflows=16): MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS"},
    {"setns", py_setns, METH_VARARGS, "setns(fd): enter the network namespace open at fd"},
    {"set_pdeathsig", set_pdeathsig, METH_VARARGS, "set_pdeathsig(sig)"},
    {"unshare_net", unshare_net, METH_NOARGS, "unshare_net(): a new network namespace for this thread"},
    {NULL, NULL, 0, NULL},
};

static PyObject *names_tuple(const char **names, Py_ssize_t count)
{
    PyObject *t = PyTuple_New(count);
    for (Py_ssize_t i = 0; t && i < count; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (!s) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

#define NAMES(a) names_tuple(a, (Py_ssize_t)COUNT(a))

static int exec_module(PyObject *m)
{
#ifdef HAVE_LIBURING
    PyObject *uring = Py_True;
#else
    PyObject *uring = Py_False;
#endif
    Py_INCREF(uring);
    if (PyModule_AddObject(m, "SEND_MODES", NAMES(send_mode_names)) < 0 ||
        PyModule_AddObject(m, "RECV_MODES", NAMES(recv_mode_names)) < 0 ||
        PyModule_AddObject(m, "LIBURING", uring) < 0)
        return -1;
#ifdef __VERSION__
    return PyModule_AddStringConstant(m, "COMPILER", COMPILER_NAME __VERSION__);
#else
    return PyModule_AddStringConstant(m, "COMPILER", "unknown");
#endif
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "harness._engine", "mptcp-bench traffic engine hot loops", 0, methods,
    slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__engine(void) { return PyModuleDef_Init(&module); }
