/*
 * evloop_send / evloop_recv: bulk transfer over many connections on the
 * event loop (evloop.c).  Copy modes only: send() on the sender, recv() or
 * recv(MSG_TRUNC) on the receiver; the zero-copy, sendfile, splice and
 * io_uring modes run one thread per connection (send.c, recv.c, uring.c),
 * chosen in Python.  Every call is MSG_DONTWAIT, so the sockets keep the
 * flags Python gave them.
 */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define TURN_CALLS 4 /* calls per connection per turn: fairness between ready connections */

struct evbulk {
    int mode;          /* enum send_mode (SEND_COPY) or enum recv_mode */
    uint64_t max_bytes; /* per connection, 0 for none */
    size_t period;     /* the pattern's period: the sender's buffer size */
    size_t callsize;   /* bytes asked for per call */
    int lowat;
    char *pattern;     /* sender: the payload; receiver: verification, or NULL */
};

/* A sender is done with a connection: its peer sees EOF at once. */
static void send_end(struct evloop *ev, struct evconn *c)
{
    if (shutdown(c->fd, SHUT_WR) < 0 && !c->l.err)
        eng_fail(&c->l, "shutdown", errno);
}

static int send_failed(struct evworker *w, struct evconn *c, int err)
{
    eng_fail(&c->l, "send", err);
    eng_evconn_end(w, c);
    return 0;
}

static int send_serve(struct evloop *ev, struct evworker *w, struct evconn *c)
{
    struct evbulk *b = ev->role;
    for (int k = 0; k < TURN_CALLS; k++) {
        size_t pos = (size_t)(c->l.bytes % b->period), len = b->period - pos;
        if (b->max_bytes && c->l.bytes >= b->max_bytes) {
            send_end(ev, c);
            eng_evconn_end(w, c);
            return 0;
        }
        if (b->max_bytes)
            len = (size_t)MIN((uint64_t)len, b->max_bytes - c->l.bytes);
        ssize_t n = send(c->fd, b->pattern + pos, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        c->l.calls++;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : send_failed(w, c, errno);
        if (eng_account(&c->l, eng_now_ns(), (uint64_t)n)) {
            eng_evconn_end(w, c);
            return 0;
        }
    }
    return 1;
}

static ssize_t recv_call(struct evbulk *b, struct evworker *w, int fd)
{
    if (b->mode == RECV_TRUNC) /* a NULL buffer: a protocol that would copy fails (EFAULT) */
        return recv(fd, NULL, b->callsize, MSG_TRUNC | MSG_DONTWAIT);
    return recv(fd, w->buf, b->callsize, MSG_DONTWAIT);
}

static int recv_serve(struct evloop *ev, struct evworker *w, struct evconn *c)
{
    struct evbulk *b = ev->role;
    for (int k = 0; k < TURN_CALLS; k++) {
        ssize_t n = recv_call(b, w, c->fd);
        uint64_t t = eng_now_ns();
        c->l.calls++;
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            if (errno == EAGAIN)
                return 0;
            continue;
        }
        if (n < 0)
            eng_fail_mode(&c->l, b->mode != RECV_COPY, b->mode == RECV_TRUNC ? "recv(MSG_TRUNC)" : "recv", errno);
        if (n > 0 && b->pattern)
            eng_check_chunk(&c->l.chk, b->pattern, b->period, c->l.bytes, w->buf, (size_t)n);
        if (n <= 0 || eng_account(&c->l, t, (uint64_t)n)) {
            eng_evconn_end(w, c); /* EOF, or failed */
            return 0;
        }
    }
    return 1;
}

/* Each connection's receiver setup: SO_RCVLOWAT (batched wake-ups, as in
 * bulk_recv) and verification.  A refusal fails that connection. */
static void recv_setup(struct evloop *ev, struct evbulk *b)
{
    for (int i = 0; i < ev->nconns; i++) {
        struct evconn *c = &ev->conns[i];
        c->l.chk.on = b->pattern != NULL;
        if (b->lowat && setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &b->lowat, sizeof(b->lowat)) < 0) {
            eng_fail_mode(&c->l, 1, "setsockopt(SO_RCVLOWAT)", errno);
            c->done = 1;
        }
    }
}

static PyObject *run(struct evloop *ev, struct evbulk *b)
{
    ev->role = b;
    PyObject *r = eng_evloop_run(ev);
    free(b->pattern);
    return r;
}

PyObject *eng_evloop_send(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fds", "threads", "duration_ns", "max_bytes", "bufsize", "interval_ns",
                             "mode", "seed", NULL};
    PyObject *fds;
    int threads = 1;
    unsigned long long duration = 0, max_bytes = 0, interval = 100 * NS_PER_MS, seed = 1;
    Py_ssize_t bufsize = 128 * 1024;
    const char *mode = "send";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|iKKnKsK", kwlist, &fds, &threads, &duration,
                                     &max_bytes, &bufsize, &interval, &mode, &seed))
        return NULL;
    if (strcmp(mode, eng_send_mode_names[SEND_COPY]))
        return PyErr_Format(PyExc_ValueError, "the event loop sends with send() only, not %s", mode);
    if (bufsize <= 0 || (!duration && !max_bytes))
        return PyErr_Format(PyExc_ValueError, "bufsize must be positive and a duration or a byte budget given");
    struct evloop ev = {.events = EPOLLOUT, .deadline_ns = duration, .expire = send_end, .serve = send_serve};
    struct evbulk b = {.mode = SEND_COPY, .max_bytes = max_bytes, .period = (size_t)bufsize};
    if (!(b.pattern = eng_pattern_new(b.period, seed)))
        return PyErr_NoMemory();
    if (eng_evloop_new(&ev, fds, threads, interval)) {
        free(b.pattern);
        return NULL;
    }
    return run(&ev, &b);
}

PyObject *eng_evloop_recv(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fds", "threads", "bufsize", "interval_ns", "idle_timeout_ns", "mode",
                             "verify_seed", "lowat", NULL};
    PyObject *fds, *seed = Py_None;
    int threads = 1, lowat = 0;
    unsigned long long interval = 100 * NS_PER_MS, idle = 10000 * NS_PER_MS;
    Py_ssize_t bufsize = 128 * 1024;
    const char *mode = "recv";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|inKKsOi", kwlist, &fds, &threads, &bufsize, &interval,
                                     &idle, &mode, &seed, &lowat))
        return NULL;
    int m = eng_parse_mode(mode, eng_recv_mode_names, (int)COUNT(eng_recv_mode_names));
    if (m != RECV_COPY && m != RECV_TRUNC)
        return PyErr_Format(PyExc_ValueError, "the event loop receives with recv or trunc, not %s", mode);
    if (bufsize <= 0 || lowat < 0 || (seed != Py_None && m != RECV_COPY))
        return PyErr_Format(PyExc_ValueError,
                            "bufsize must be positive, lowat not negative, verification with mode recv");
    size_t callsize = MAX((size_t)bufsize, (size_t)lowat);
    struct evloop ev = {.events = EPOLLIN | EPOLLRDHUP, .idle_ns = idle, .from_first_byte = 1,
                        .idle_call = m == RECV_TRUNC ? "recv(MSG_TRUNC)" : "recv",
                        .bufsize = m == RECV_COPY ? callsize : 0, .serve = recv_serve};
    struct evbulk b = {.mode = m, .period = (size_t)bufsize, .callsize = callsize, .lowat = lowat};
    if (seed != Py_None) {
        unsigned long long v = PyLong_AsUnsignedLongLong(seed);
        if (PyErr_Occurred() || !(b.pattern = eng_pattern_new(b.period, v)))
            return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    if (eng_evloop_new(&ev, fds, threads, interval)) {
        free(b.pattern);
        return NULL;
    }
    recv_setup(&ev, &b);
    return run(&ev, &b);
}
