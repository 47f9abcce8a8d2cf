/*
 * The event loop's connections as Python gives them and as it gets them
 * back: eng_evloop_new reads the fds; when every thread has ended, the
 * connections' loop results are merged on one grid (eng_evloop_merge) and
 * returned, each and merged, in the shape of every other loop
 * (eng_evloop_results).  The threads and epoll are in evloop.c.
 */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int eng_evloop_new(struct evloop *ev, PyObject *fds, int threads, uint64_t interval_ns)
{
    PyObject *seq = PySequence_Fast(fds, "fds must be a sequence of file descriptors");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > INT32_MAX || threads < 1 || interval_ns == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "one fd or more, one thread or more, a positive interval");
        return -1;
    }
    ev->conns = calloc((size_t)n, sizeof(*ev->conns));
    for (Py_ssize_t i = 0; ev->conns && i < n; i++) {
        ev->conns[i].fd = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        ev->conns[i].l.s.interval_ns = interval_ns;
    }
    Py_DECREF(seq);
    if (!ev->conns || PyErr_Occurred()) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        free(ev->conns);
        ev->conns = NULL;
        return -1;
    }
    ev->nconns = (int)n;
    ev->nthreads = MIN(threads, ev->nconns);
    ev->interval_ns = ev->all.s.interval_ns = interval_ns;
    return 0;
}

/* ------------------------------------------------------- the result */

static int merge_series(struct series *into, const struct series *s)
{
    for (size_t j = 0; j < s->n; j++)
        if (s->v[j] && eng_series_add(into, into->t0 + j * into->interval_ns, s->v[j]))
            return -1;
    return 0;
}

/* A receiver's series counts from its first byte, as bulk_recv's does. */
static void from_first_byte(struct loop *m)
{
    size_t skip = m->first_ns > m->start_ns ? (size_t)((m->first_ns - m->start_ns) / m->s.interval_ns) : 0;
    skip = MIN(skip, m->s.n);
    memmove(m->s.v, m->s.v + skip, (m->s.n - skip) * sizeof(*m->s.v));
    m->s.n -= skip;
    m->s.t0 += skip * m->s.interval_ns;
}

static void merge_counts(struct loop *m, const struct loop *l)
{
    m->bytes += l->bytes;
    m->calls += l->calls;
    if (l->first_ns && (!m->first_ns || l->first_ns < m->first_ns))
        m->first_ns = l->first_ns;
    m->last_ns = MAX(m->last_ns, l->last_ns);
    m->chk.checked += l->chk.checked;
    m->chk.mismatched += l->chk.mismatched;
    if (!m->chk.first_bad)
        m->chk.first_bad = l->chk.first_bad;
    if (!m->err && !m->detail && (l->err || l->detail)) {
        m->err = l->err;
        m->call = l->call;
        m->detail = l->detail;
        m->unsupported = l->unsupported;
    }
}

int eng_evloop_merge(struct evloop *ev)
{
    struct loop *m = &ev->all;
    m->start_ns = m->s.t0 = ev->start_ns;
    m->chk.on = ev->conns[0].l.chk.on;
    for (int i = 0; i < ev->nconns; i++) {
        struct evconn *c = &ev->conns[i];
        c->l.start_ns = ev->start_ns;
        c->l.end_ns = m->end_ns;
        merge_counts(m, &c->l);
        if (merge_series(&m->s, &c->l.s))
            return eng_fail(m, "realloc", ENOMEM);
    }
    if (ev->from_first_byte)
        from_first_byte(m);
    return 0;
}

PyObject *eng_evloop_results(struct evloop *ev)
{
    PyObject *flows = PyList_New(ev->nconns);
    for (int i = 0; flows && i < ev->nconns; i++) {
        PyObject *r = eng_loop_result(&ev->conns[i].l);
        if (!r)
            Py_CLEAR(flows);
        else
            PyList_SET_ITEM(flows, i, r);
    }
    PyObject *all = flows ? eng_loop_result(&ev->all) : NULL;
    if (!all) {
        Py_XDECREF(flows);
        return NULL;
    }
    return Py_BuildValue("{s:N,s:N,s:i}", "loop", all, "flows", flows, "threads", ev->nthreads);
}

void eng_evloop_free(struct evloop *ev)
{
    for (int i = 0; i < ev->nconns; i++)
        eng_loop_free(&ev->conns[i].l);
    eng_loop_free(&ev->all);
    free(ev->conns);
    ev->conns = NULL;
}
