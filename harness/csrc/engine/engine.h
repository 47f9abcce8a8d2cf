/*
 * harness._engine: the traffic engine's hot loops.
 *
 * One extension module, a thin Python face (harness/traffic/engine.py).  Sockets are
 * created, bound and connected in Python (except CRR's, which the loop itself
 * opens and closes); the loops here only move bytes, with the GIL released,
 * and report what they did: byte counts, monotonic timestamps, a
 * per-interval series, zero-copy completions, verification counts,
 * per-transaction latencies and, when a call fails, which call and which
 * errno.  TCP and MPTCP take the same path: the protocol is a property of the
 * socket.
 *
 * Honesty rules the loops follow:
 *   - a mode whose capability is refused (setsockopt(SO_ZEROCOPY) on MPTCP,
 *     a SEND_ZC completion of -EOPNOTSUPP, io_uring absent) fails with the
 *     call and errno and the flag `unsupported`; it never falls back to copying;
 *   - zero-copy completions are counted, and so are *copied* ones;
 *   - buffers handed to the kernel without a completion signal (vmsplice) or
 *     still referenced by in-flight skbs are never rewritten: the payload is
 *     written once before a loop starts.
 *
 * The sources, one concern each (every .c here is compiled into the module):
 *   engine.h    what the files share: the loop result, its series and
 *               samples, error recording, the send/receive modes;
 *   loop.c      runs a loop with the GIL released, records its errors and
 *               turns its result into a dict;
 *   payload.c   the payload pattern, its verification, splice pipes;
 *   send.c      bulk_send: the send loop and its copy, sendfile, splice and
 *               MSG_ZEROCOPY modes;
 *   uring.c     the io_uring modes, the only file that depends on liburing
 *               (HAVE_LIBURING); without it, stubs that answer unsupported;
 *   recv.c      bulk_recv;
 *   rr.c        rr_client/rr_server and crr_client/crr_server: the latency
 *               (request/response) loops;
 *   evloop.c    the event loop: T threads, each multiplexing its share of
 *               many connections with edge-triggered epoll, every
 *               connection's counts kept apart;
 *   evmerge.c   its connections from Python's fds, and their results
 *               merged at the end and returned, each and together;
 *   evbulk.c    evloop_send/evloop_recv: what a bulk connection does when
 *               the event loop finds it ready (copy modes only);
 *   sockinfo.c  MPTCP socket introspection (MPTCP_FULL_INFO, MPTCP_TCPINFO,
 *               MPTCP_SUBFLOW_ADDRS);
 *   process.c   setns, unshare_net, set_pdeathsig;
 *   module.c    the method table, module constants and init.
 * Every symbol shared between files is declared below with the prefix eng_
 * and hidden visibility: the module exports PyInit__engine only.
 */
#ifndef MPTCP_BENCH_ENGINE_H
#define MPTCP_BENCH_ENGINE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define COUNT(a) (sizeof(a) / sizeof(*(a)))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define NS_PER_MS 1000000ull
#define DRAIN_NS (2000 * NS_PER_MS) /* how long to wait for late completions */
#define POLL_MS 200                 /* each wait is bounded so deadlines and signals are seen */
#define MAX_FLOWS 10000             /* connections of one latency loop (harness.limits.MAX_FLOWS) */

enum send_mode { SEND_COPY, SEND_FILE, SEND_SPLICE, SEND_ZEROCOPY, SEND_URING, SEND_URING_ZC };
#define SEND_MODE_COUNT (SEND_URING_ZC + 1)
enum recv_mode { RECV_COPY, RECV_SPLICE, RECV_TRUNC };
#define RECV_MODE_COUNT (RECV_TRUNC + 1)

static inline uint64_t eng_now_ns(void)
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

/* Per-transaction latencies in ns, in completion order. */
struct samples {
    uint64_t *v;
    size_t n, cap;
};

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
    uint64_t cpu_ns;    /* CPU time of the thread(s) that ran the loop */
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

/* A loop body, run with the GIL released; 0 or -1 with the loop failed. */
typedef int (*loop_fn)(void *args, struct loop *l);

/* ------------------------------------------------------- the event loop */

/* One connection of an event loop and what it did (its own loop result). */
struct evconn {
    int fd;
    int done;   /* finished: budget, deadline or EOF reached, or failed */
    int queued; /* on its worker's ready list */
    struct loop l;
};

struct evworker;

/* What the threads of one event-loop call share.  The role (evbulk.c)
 * fills the hooks: serve moves data on a ready connection and returns 1
 * while it may have more to do, 0 once it would block or is done; expire
 * ends a connection at the deadline. */
struct evloop {
    struct evconn *conns;
    int nconns, nthreads;
    uint32_t events;      /* EPOLLIN or EPOLLOUT */
    uint64_t start_ns, deadline_ns, idle_ns, interval_ns;
    const char *idle_call; /* the call named when a connection stays silent */
    int from_first_byte;   /* the merged series counts from the first byte */
    size_t bufsize;        /* each worker's receive buffer, 0 for none */
    int (*serve)(struct evloop *ev, struct evworker *w, struct evconn *c);
    void (*expire)(struct evloop *ev, struct evconn *c);
    void *role;
    int stop;        /* set (atomically) when a signal handler raised */
    struct loop all; /* the merged result */
};

/* One thread's share: conns[first .. first + count). */
struct evworker {
    struct evloop *ev;
    uint64_t cpu_ns; /* this thread's CPU time in the loop */
    int epfd, first, count, live, nready;
    struct evconn **ready;
    char *buf; /* receive buffer, ev->bufsize bytes */
};

/* io_uring send state, defined in uring.c only. */
struct eng_uring;

#pragma GCC visibility push(hidden)

/* loop.c: results, and the calling thread's CPU time (ns) */
uint64_t eng_thread_cpu_ns(void);
int eng_series_add(struct series *s, uint64_t t, uint64_t units);
int eng_samples_push(struct samples *s, uint64_t v);
int eng_account(struct loop *l, uint64_t t, uint64_t n);
PyObject *eng_run_loop(loop_fn fn, void *args, struct loop *l);
PyObject *eng_loop_result(struct loop *l);
void eng_loop_free(struct loop *l);
int eng_parse_mode(const char *name, const char **names, int count);

/* loop.c: error recording.  Each returns -1 with the loop failed, except
 * eng_interrupted: 0 to retry after EINTR. */
int eng_fail(struct loop *l, const char *call, int err);
int eng_fail_mode(struct loop *l, int special_mode, const char *call, int err);
int eng_fail_unsupported(struct loop *l, const char *call, int err, const char *detail);
int eng_interrupted(struct loop *l);

/* payload.c */
char *eng_pattern_new(size_t period, uint64_t seed);
void eng_check_chunk(struct check *c, const char *pattern, size_t period, uint64_t offset,
                     const char *data, size_t n);
int eng_pipe_open(int fds[2], size_t want, size_t *size, struct loop *l);
void eng_pipe_close(int fds[2]);

/* evloop.c: eng_evloop_run executes the loop with the GIL released and
 * returns {"loop": merged, "flows": [one loop result per connection],
 * "threads": T}, or NULL, and frees what eng_evloop_new allocated.
 * eng_evconn_end takes a connection out of its worker's loop. */
PyObject *eng_evloop_run(struct evloop *ev);
void eng_evconn_end(struct evworker *w, struct evconn *c);

/* evmerge.c: eng_evloop_new takes the fds (a sequence of int); merge sums
 * the connections into ev->all; results builds the dict run returns. */
int eng_evloop_new(struct evloop *ev, PyObject *fds, int threads, uint64_t interval_ns);
int eng_evloop_merge(struct evloop *ev);
PyObject *eng_evloop_results(struct evloop *ev);
void eng_evloop_free(struct evloop *ev);

/* uring.c: one send at a time on one ring (see there) */
extern const int eng_liburing; /* 1 when built with liburing */
int eng_uring_setup(struct eng_uring **u, int zc, struct loop *l);
ssize_t eng_uring_send(struct eng_uring *u, struct loop *l, int fd, const char *buf, size_t len,
                       const char **call);
int eng_uring_drain(struct eng_uring *u, struct loop *l);
void eng_uring_release(struct eng_uring *u);

/* The names of the modes, indexed by enum send_mode / enum recv_mode. */
extern const char *eng_send_mode_names[SEND_MODE_COUNT]; /* send.c */
extern const char *eng_recv_mode_names[RECV_MODE_COUNT]; /* recv.c */

/* Python entry points, listed in module.c's method table. */
PyObject *eng_bulk_send(PyObject *self, PyObject *args, PyObject *kw);           /* send.c */
PyObject *eng_bulk_recv(PyObject *self, PyObject *args, PyObject *kw);           /* recv.c */
PyObject *eng_rr_client(PyObject *self, PyObject *args, PyObject *kw);           /* rr.c */
PyObject *eng_rr_server(PyObject *self, PyObject *args, PyObject *kw);           /* rr.c */
PyObject *eng_crr_client(PyObject *self, PyObject *args, PyObject *kw);          /* rr.c */
PyObject *eng_crr_server(PyObject *self, PyObject *args, PyObject *kw);          /* rr.c */
PyObject *eng_evloop_send(PyObject *self, PyObject *args, PyObject *kw);         /* evbulk.c */
PyObject *eng_exchange(PyObject *self, PyObject *args, PyObject *kw);            /* exchange.c */
PyObject *eng_evloop_recv(PyObject *self, PyObject *args, PyObject *kw);         /* evbulk.c */
PyObject *eng_mptcp_full_info(PyObject *self, PyObject *args);                   /* sockinfo.c */
PyObject *eng_mptcp_subflow_data(PyObject *self, PyObject *args);                /* sockinfo.c */
PyObject *eng_setns(PyObject *self, PyObject *args);                             /* process.c */
PyObject *eng_unshare_net(PyObject *self, PyObject *noargs);                     /* process.c */
PyObject *eng_set_pdeathsig(PyObject *self, PyObject *args);                     /* process.c */
PyObject *eng_request_stop(PyObject *self, PyObject *args);                      /* loop.c */

#pragma GCC visibility pop

#endif
