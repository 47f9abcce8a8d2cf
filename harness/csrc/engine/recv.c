/*
 * bulk_recv: the receive loop and its modes (recv, splice to /dev/null,
 * recv(MSG_TRUNC)), with optional verification of the payload.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

const char *eng_recv_mode_names[RECV_MODE_COUNT] = {"recv", "splice", "trunc"};

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
        return eng_fail_mode(l, 1, "setsockopt(SO_RCVLOWAT)", errno);
    if (r->mode != RECV_SPLICE)
        return 0;
    if (eng_pipe_open(r->pipefd, r->bufsize, &r->pipe_size, l))
        return -1;
    r->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    return r->devnull < 0 ? eng_fail(l, "open(/dev/null)", errno) : 0;
}

static void recv_release(struct receiver *r)
{
    eng_pipe_close(r->pipefd);
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
        uint64_t t = eng_now_ns();
        l->calls++;
        if (n == 0)
            break;
        if (n < 0) {
            uint64_t since = l->last_ns ? l->last_ns : l->start_ns;
            if (errno == EAGAIN)
                rc = r->idle_timeout_ns && t - since > r->idle_timeout_ns ? eng_fail(l, r->call, ETIMEDOUT) : 0;
            else if (errno == EINTR)
                rc = eng_interrupted(l);
            else
                rc = eng_fail_mode(l, r->mode != RECV_COPY, r->call, errno);
            continue;
        }
        if (!l->first_ns)
            l->s.t0 = t;
        if (r->pattern)
            eng_check_chunk(&l->chk, r->pattern, r->period, l->bytes, r->buf, (size_t)n);
        rc = eng_account(l, t, (uint64_t)n);
    }
    recv_release(r);
    return rc;
}

PyObject *eng_bulk_recv(PyObject *self, PyObject *args, PyObject *kw)
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
    int m = eng_parse_mode(mode, eng_recv_mode_names, (int)COUNT(eng_recv_mode_names));
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
        if (PyErr_Occurred() || !(r.pattern = eng_pattern_new(r.period, v)))
            return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    if (posix_memalign((void **)&r.buf, 4096, r.bufsize)) {
        free(r.pattern);
        return PyErr_NoMemory();
    }
    PyObject *res = eng_run_loop(recv_loop, &r, &l);
    free(r.buf);
    free(r.pattern);
    return res;
}
