/*
 * harness._engine: the traffic engine's hot loops.
 *
 * One file, a thin Python face (harness/engine.py).  Sockets are created,
 * bound and connected in Python; the loops here only move bytes, with the GIL
 * released, and report what they did: byte counts, monotonic timestamps, a
 * per-interval series and, when a call fails, which call and which errno.
 * TCP and MPTCP take the same path: the protocol is a property of the socket.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef MPTCP_FULL_INFO
#define MPTCP_FULL_INFO 4
#endif

/* Send and receive modes.  Only the copying ones exist in this first cut;
 * zero-copy modes join these enums and their switch statements. */
#if defined(__clang__)
#define COMPILER_NAME "clang "
#elif defined(__GNUC__)
#define COMPILER_NAME "gcc "
#else
#define COMPILER_NAME ""
#endif

#define COUNT(a) (sizeof(a) / sizeof(*(a)))

enum send_mode { SEND_COPY };
enum recv_mode { RECV_COPY };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Bytes per interval, indexed from a reference time. */
struct series {
    uint64_t *v;
    size_t n, cap;
    uint64_t interval_ns, t0;
};

static int series_add(struct series *s, uint64_t t, uint64_t bytes)
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
    s->v[idx] += bytes;
    if (idx + 1 > s->n)
        s->n = idx + 1;
    return 0;
}

/* What one loop did. */
struct loop {
    uint64_t bytes, calls, start_ns, end_ns, first_ns, last_ns;
    int err;              /* errno of the failing call, 0 if none */
    const char *call;     /* name of the failing call */
    struct series s;
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

static PyObject *loop_result(struct loop *l)
{
    PyObject *series = PyList_New((Py_ssize_t)l->s.n);
    if (!series)
        return NULL;
    for (size_t i = 0; i < l->s.n; i++)
        PyList_SET_ITEM(series, (Py_ssize_t)i, PyLong_FromUnsignedLongLong(l->s.v[i]));
    PyObject *error = Py_None;
    Py_INCREF(error);
    if (l->err) {
        Py_DECREF(error);
        error = Py_BuildValue("{s:s,s:i}", "call", l->call, "errno", l->err);
        if (!error) {
            Py_DECREF(series);
            return NULL;
        }
    }
    return Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:N,s:N}",
        "bytes", (unsigned long long)l->bytes,
        "calls", (unsigned long long)l->calls,
        "start_ns", (unsigned long long)l->start_ns,
        "end_ns", (unsigned long long)l->end_ns,
        "first_ns", (unsigned long long)l->first_ns,
        "last_ns", (unsigned long long)l->last_ns,
        "interval_ns", (unsigned long long)l->s.interval_ns,
        "intervals", series,
        "error", error);
}

/* Runs one loop with the GIL released, frees its buffer, and returns its
 * result (or NULL when a Python signal handler raised). */
typedef int (*loop_fn)(const void *args, struct loop *l);

static PyObject *run_loop(loop_fn fn, const void *args, uint64_t interval_ns, void *buf)
{
    struct loop l = {.s = {.interval_ns = interval_ns}};
    Py_BEGIN_ALLOW_THREADS
    l.start_ns = l.s.t0 = now_ns();
    fn(args, &l);
    l.end_ns = now_ns();
    Py_END_ALLOW_THREADS
    free(buf);
    PyObject *r = PyErr_Occurred() ? NULL : loop_result(&l);
    free(l.s.v);
    return r;
}

/* ---------------------------------------------------------------- send */

struct send_args {
    int fd;
    enum send_mode mode;
    uint64_t duration_ns, max_bytes;
    size_t bufsize;
    char *buf;
};

static ssize_t send_once(const struct send_args *a, size_t len)
{
    switch (a->mode) {
    case SEND_COPY:
        return send(a->fd, a->buf, len, MSG_NOSIGNAL);
    }
    errno = EINVAL;
    return -1;
}

/* Sends until the deadline or the byte budget; SO_SNDTIMEO (set by the
 * caller) turns a blocked send into EAGAIN so the deadline is honoured. */
static int send_loop(const void *args, struct loop *l)
{
    const struct send_args *a = args;
    uint64_t deadline = a->duration_ns ? l->start_ns + a->duration_ns : 0;
    for (;;) {
        uint64_t t = now_ns();
        if (deadline && t >= deadline)
            break;
        size_t len = a->bufsize;
        if (a->max_bytes) {
            if (l->bytes >= a->max_bytes)
                break;
            if (a->max_bytes - l->bytes < len)
                len = (size_t)(a->max_bytes - l->bytes);
        }
        ssize_t n = send_once(a, len);
        l->calls++;
        if (n < 0) {
            if (errno == EAGAIN)
                continue;
            if (errno == EINTR) {
                if (signal_pending())
                    return fail(l, "signal", EINTR);
                continue;
            }
            return fail(l, "send", errno);
        }
        t = now_ns();
        if (!l->first_ns)
            l->first_ns = t;
        l->last_ns = t;
        l->bytes += (uint64_t)n;
        if (series_add(&l->s, t, (uint64_t)n))
            return fail(l, "realloc", ENOMEM);
    }
    return 0;
}

static const char *send_mode_names[] = {"send"};

static int parse_mode(const char *name, const char **names, int count)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

static PyObject *bulk_send(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fd", "duration_ns", "max_bytes", "bufsize", "interval_ns", "mode", NULL};
    struct send_args a = {.bufsize = 128 * 1024};
    unsigned long long duration = 0, max_bytes = 0, interval = 100000000ull;
    Py_ssize_t bufsize = 128 * 1024;
    const char *mode = "send";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|KKnKs", kwlist, &a.fd, &duration,
                                     &max_bytes, &bufsize, &interval, &mode))
        return NULL;
    int m = parse_mode(mode, send_mode_names, (int)COUNT(send_mode_names));
    if (m < 0)
        return PyErr_Format(PyExc_ValueError, "unknown send mode %s", mode);
    if (bufsize <= 0 || interval == 0 || (!duration && !max_bytes))
        return PyErr_Format(PyExc_ValueError,
                            "bufsize and interval must be positive and a duration or a byte budget given");
    a.mode = (enum send_mode)m;
    a.duration_ns = duration;
    a.max_bytes = max_bytes;
    a.bufsize = (size_t)bufsize;
    if (posix_memalign((void **)&a.buf, 4096, a.bufsize))
        return PyErr_NoMemory();
    /* Non-zero, non-repeating-per-byte content so nothing on the path can
     * treat the payload as trivially compressible. */
    for (size_t i = 0; i < a.bufsize; i++)
        a.buf[i] = (char)(i * 131 + 7);

    return run_loop(send_loop, &a, interval, a.buf);
}

/* ---------------------------------------------------------------- recv */

struct recv_args {
    int fd;
    enum recv_mode mode;
    uint64_t idle_timeout_ns;
    size_t bufsize;
    char *buf;
};

static ssize_t recv_once(const struct recv_args *a)
{
    switch (a->mode) {
    case RECV_COPY:
        return recv(a->fd, a->buf, a->bufsize, 0);
    }
    errno = EINVAL;
    return -1;
}

/* Receives until the peer's FIN.  Intervals count from the first byte, so
 * the series is the goodput the application saw.  SO_RCVTIMEO (set by the
 * caller) bounds each wait; idle_timeout_ns bounds a silence. */
static int recv_loop(const void *args, struct loop *l)
{
    const struct recv_args *a = args;
    for (;;) {
        ssize_t n = recv_once(a);
        uint64_t t = now_ns();
        l->calls++;
        if (n == 0)
            return 0;
        if (n < 0) {
            uint64_t since = l->last_ns ? l->last_ns : l->start_ns;
            if (errno == EAGAIN) {
                if (a->idle_timeout_ns && t - since > a->idle_timeout_ns)
                    return fail(l, "recv", ETIMEDOUT);
                continue;
            }
            if (errno == EINTR) {
                if (signal_pending())
                    return fail(l, "signal", EINTR);
                continue;
            }
            return fail(l, "recv", errno);
        }
        if (!l->first_ns)
            l->first_ns = l->s.t0 = t;
        l->last_ns = t;
        l->bytes += (uint64_t)n;
        if (series_add(&l->s, t, (uint64_t)n))
            return fail(l, "realloc", ENOMEM);
    }
}

static const char *recv_mode_names[] = {"recv"};

static PyObject *bulk_recv(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fd", "bufsize", "interval_ns", "idle_timeout_ns", "mode", NULL};
    struct recv_args a = {0};
    unsigned long long interval = 100000000ull, idle = 10000000000ull;
    Py_ssize_t bufsize = 128 * 1024;
    const char *mode = "recv";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|nKKs", kwlist, &a.fd, &bufsize, &interval,
                                     &idle, &mode))
        return NULL;
    int m = parse_mode(mode, recv_mode_names, (int)COUNT(recv_mode_names));
    if (m < 0)
        return PyErr_Format(PyExc_ValueError, "unknown receive mode %s", mode);
    if (bufsize <= 0 || interval == 0)
        return PyErr_Format(PyExc_ValueError, "bufsize and interval must be positive");
    a.mode = (enum recv_mode)m;
    a.bufsize = (size_t)bufsize;
    a.idle_timeout_ns = idle;
    if (posix_memalign((void **)&a.buf, 4096, a.bufsize))
        return PyErr_NoMemory();

    return run_loop(recv_loop, &a, interval, a.buf);
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
    if (!sf || !ti) {
        free(sf);
        free(ti);
        return PyErr_NoMemory();
    }
    put_u32(hdr, FI_SIZE_TCPINFO_USER, ELEM_ROOM);
    put_u32(hdr, FI_SIZE_SFINFO_USER, ELEM_ROOM);
    put_u32(hdr, FI_SIZE_ARRAYS_USER, (uint32_t)max_subflows);
    put_u64(hdr, FI_SUBFLOW_INFO, (uint64_t)(uintptr_t)sf);
    put_u64(hdr, FI_TCP_INFO, (uint64_t)(uintptr_t)ti);
    socklen_t len = sizeof(hdr);
    PyObject *r = NULL;
    if (getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, hdr, &len) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto out;
    }
    /* The kernel writes min(our size, its size) per element and packs the
     * arrays with that stride, which it reports back in the *_user fields. */
    uint32_t tsize = get_u32(hdr, FI_SIZE_TCPINFO_USER);
    uint32_t ssize = get_u32(hdr, FI_SIZE_SFINFO_USER);
    uint32_t n = get_u32(hdr, FI_NUM_SUBFLOWS);
    uint32_t filled = n < (uint32_t)max_subflows ? n : (uint32_t)max_subflows;
    if (tsize > ELEM_ROOM || ssize > ELEM_ROOM) {
        PyErr_SetString(PyExc_OSError, "MPTCP_FULL_INFO: element size beyond the buffer");
        goto out;
    }
    PyObject *subflows = PyList_New(filled);
    if (!subflows)
        goto out;
    for (uint32_t i = 0; i < filled; i++) {
        PyObject *pair = Py_BuildValue("(y#y#)", sf + (size_t)i * ssize, (Py_ssize_t)ssize,
                                       ti + (size_t)i * tsize, (Py_ssize_t)tsize);
        if (!pair) {
            Py_DECREF(subflows);
            goto out;
        }
        PyList_SET_ITEM(subflows, i, pair);
    }
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

static PyMethodDef methods[] = {
    {"bulk_send", (PyCFunction)(void (*)(void))bulk_send, METH_VARARGS | METH_KEYWORDS,
     "bulk_send(fd, duration_ns=0, max_bytes=0, bufsize=131072, interval_ns=100000000, mode='send')"},
    {"bulk_recv", (PyCFunction)(void (*)(void))bulk_recv, METH_VARARGS | METH_KEYWORDS,
     "bulk_recv(fd, bufsize=131072, interval_ns=100000000, idle_timeout_ns=10000000000, mode='recv')"},
    {"mptcp_full_info", mptcp_full_info, METH_VARARGS, "mptcp_full_info(fd, max_subflows=16)"},
    {"setns", py_setns, METH_VARARGS, "setns(fd): enter the network namespace open at fd"},
    {"set_pdeathsig", set_pdeathsig, METH_VARARGS, "set_pdeathsig(sig)"},
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
    PyObject *sm = NAMES(send_mode_names);
    PyObject *rm = NAMES(recv_mode_names);
    if (!sm || !rm || PyModule_AddObject(m, "SEND_MODES", sm) < 0) {
        Py_XDECREF(sm);
        Py_XDECREF(rm);
        return -1;
    }
    if (PyModule_AddObject(m, "RECV_MODES", rm) < 0) {
        Py_DECREF(rm);
        return -1;
    }
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
