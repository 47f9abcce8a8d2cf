/*
 * exchange: the end of a bulk transfer over many connections, in C.  The
 * sender waits for every receiver's one-byte "done"; the receiver sends it
 * on every connection, then waits for every close.  One recv per
 * connection, on one epoll set, with the GIL released: at 10 000
 * connections Python's socket calls and loop cost more than the kernel's
 * (docs/engine.md, "Python's part").
 */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXCHANGE_EVENTS 1024

struct exchange {
    int *fds, n, send; /* send: the byte to send on each first, or -1 */
    int *got;          /* per connection: the byte received, -1 at EOF, -2 waiting */
    uint64_t idle_ns, cpu_ns;
    const char *call;  /* a failure: the call and its errno */
    int err;
};

static int exchange_run(struct exchange *x)
{
    unsigned char b = (unsigned char)x->send;
    for (int i = 0; x->send >= 0 && i < x->n; i++)
        if (send(x->fds[i], &b, 1, MSG_NOSIGNAL) != 1) {
            x->call = "send(done)";
            return errno;
        }
    int ep = epoll_create1(EPOLL_CLOEXEC), left = x->n;
    if (ep < 0) {
        x->call = "epoll_create1";
        return errno;
    }
    int err = 0;
    for (int i = 0; i < x->n && !err; i++) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
        x->got[i] = -2;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, x->fds[i], &e) < 0) {
            x->call = "epoll_ctl(EPOLL_CTL_ADD)";
            err = errno;
        }
    }
    struct epoll_event ev[EXCHANGE_EVENTS];
    uint64_t since = eng_now_ns();
    while (left && !err) {
        int ready = epoll_wait(ep, ev, EXCHANGE_EVENTS, POLL_MS);
        if (ready < 0 && errno != EINTR) {
            x->call = "epoll_wait";
            err = errno;
        } else if (ready <= 0 && eng_now_ns() - since > x->idle_ns) {
            x->call = "recv(done)";
            err = ETIMEDOUT;
        }
        for (int k = 0; k < ready && !err; k++) {
            int i = (int)ev[k].data.u32;
            unsigned char c;
            ssize_t r = recv(x->fds[i], &c, 1, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            x->got[i] = r == 1 ? c : -1; /* an error ends it as a close would */
            epoll_ctl(ep, EPOLL_CTL_DEL, x->fds[i], NULL);
            left--;
            since = eng_now_ns();
        }
    }
    close(ep);
    return err;
}

PyObject *eng_exchange(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fds", "send", "idle_timeout_ns", NULL};
    PyObject *seq, *fast;
    struct exchange x = {.send = -1, .idle_ns = 10000 * NS_PER_MS};
    unsigned long long idle = x.idle_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|iK", kwlist, &seq, &x.send, &idle))
        return NULL;
    if (!(fast = PySequence_Fast(seq, "fds must be a sequence of file descriptors")))
        return NULL;
    x.idle_ns = idle;
    x.n = (int)PySequence_Fast_GET_SIZE(fast);
    x.fds = calloc((size_t)x.n + 1, sizeof(int));
    x.got = calloc((size_t)x.n + 1, sizeof(int));
    for (int i = 0; x.fds && i < x.n; i++)
        x.fds[i] = (int)PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
    Py_DECREF(fast);
    PyObject *r = NULL;
    if (!x.fds || !x.got) {
        PyErr_NoMemory();
    } else if (!PyErr_Occurred()) {
        Py_BEGIN_ALLOW_THREADS
        uint64_t cpu0 = eng_thread_cpu_ns();
        x.err = exchange_run(&x);
        x.cpu_ns = eng_thread_cpu_ns() - cpu0;
        Py_END_ALLOW_THREADS
        PyObject *got = PyList_New(x.n);
        for (int i = 0; got && i < x.n; i++)
            PyList_SET_ITEM(got, i, PyLong_FromLong(x.got[i]));
        r = got ? Py_BuildValue("{s:N,s:K,s:z,s:i}", "got", got, "cpu_ns",
                                (unsigned long long)x.cpu_ns, "call", x.call, "errno", x.err)
                : NULL;
    }
    free(x.fds);
    free(x.got);
    return r;
}
