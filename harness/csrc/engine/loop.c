/*
 * What every loop shares: running it with the GIL released, its per-interval
 * series and latency samples, recording which call failed with which errno,
 * and turning the result into the dict Python receives.
 */
#include "engine.h"

#include <signal.h>

#include <time.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLES_INITIAL 65536

int eng_series_add(struct series *s, uint64_t t, uint64_t units)
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

int eng_samples_push(struct samples *s, uint64_t v)
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

/* Called with the GIL released when a syscall returns EINTR: a pending
 * Python signal handler (Ctrl-C, SIGTERM) must run and may abort the loop. */
static int signal_pending(void)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int r = PyErr_CheckSignals();
    PyGILState_Release(g);
    return r < 0;
}

int eng_fail(struct loop *l, const char *call, int err)
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
int eng_fail_mode(struct loop *l, int special_mode, const char *call, int err)
{
    l->unsupported = special_mode && l->bytes == 0 && capability_errno(err);
    return eng_fail(l, call, err);
}

int eng_fail_unsupported(struct loop *l, const char *call, int err, const char *detail)
{
    l->unsupported = 1;
    l->detail = detail;
    return eng_fail(l, call, err);
}

/* Set by request_stop() (from a signal handler): the running loop ends
 * with "stop", its result so far returned, at its next EINTR. */
static volatile sig_atomic_t stop_requested;

PyObject *eng_request_stop(PyObject *self, PyObject *args)
{
    stop_requested = 1;
    Py_RETURN_NONE;
}

/* EINTR: 0 to retry, -1 (with the loop failed) when a handler raised or
 * asked the loop to stop. */
int eng_interrupted(struct loop *l)
{
    if (signal_pending())
        return eng_fail(l, "signal", EINTR);
    return stop_requested ? eng_fail(l, "stop", EINTR) : 0;
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

PyObject *eng_loop_result(struct loop *l)
{
    PyObject *d = Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "cpu_ns", (unsigned long long)l->cpu_ns,
        "bytes", (unsigned long long)l->bytes, "calls",
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
uint64_t eng_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

PyObject *eng_run_loop(loop_fn fn, void *args, struct loop *l)
{
    Py_BEGIN_ALLOW_THREADS
    uint64_t cpu0 = eng_thread_cpu_ns();
    l->start_ns = l->s.t0 = eng_now_ns();
    fn(args, l);
    l->end_ns = eng_now_ns();
    l->cpu_ns = eng_thread_cpu_ns() - cpu0;
    Py_END_ALLOW_THREADS
    PyObject *r = PyErr_Occurred() ? NULL : eng_loop_result(l);
    eng_loop_free(l);
    return r;
}

void eng_loop_free(struct loop *l)
{
    free(l->s.v);
    free(l->lat.v);
    free(l->per_flow);
    l->s.v = l->lat.v = l->per_flow = NULL;
}

int eng_account(struct loop *l, uint64_t t, uint64_t n)
{
    if (!l->first_ns)
        l->first_ns = t;
    l->last_ns = t;
    l->bytes += n;
    return eng_series_add(&l->s, t, n) ? eng_fail(l, "realloc", ENOMEM) : 0;
}

int eng_parse_mode(const char *name, const char **names, int count)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}
