/*
 * The latency loops: rr_client/rr_server (concurrent ping-pongs on open
 * flows) and crr_client/crr_server (connect, request, response, close).
 */
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Moves exactly len bytes, sending or receiving; EAGAIN (SO_SNDTIMEO /
 * SO_RCVTIMEO) is retried until idle_ns of silence.  Receiving, returns 1
 * when the peer closed before the first byte. */
static int move_all(struct loop *l, int fd, char *buf, size_t len, uint64_t idle_ns, int sending)
{
    const char *call = sending ? "send(request/response)" : "recv(request/response)";
    uint64_t since = eng_now_ns();
    for (size_t done = 0; done < len;) {
        ssize_t n = sending ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
                            : recv(fd, buf + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            since = eng_now_ns();
        } else if (n == 0) {
            return done ? eng_fail(l, call, ECONNRESET) : 1;
        } else if (errno == EINTR) {
            if (eng_interrupted(l))
                return -1;
        } else if (errno != EAGAIN || eng_now_ns() - since > idle_ns) {
            return eng_fail(l, call, errno == EAGAIN ? ETIMEDOUT : errno);
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
    uint64_t pace_ns; /* RR client, one flow: a request at most every pace_ns (0: back to back) */
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
    if (eng_series_add(&l->s, t, 1))
        return eng_fail(l, "realloc", ENOMEM);
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
    if (eng_samples_push(&l->lat, t1 - t0))
        return eng_fail(l, "realloc", ENOMEM);
    return count_tx(l, flow, t1);
}

/* The open flows of an RR loop on one epoll set (level-triggered EPOLLIN,
 * each flow's index as its data): a wait costs what is ready, not what is
 * open, so 10 000 connections are served as 10 are. */
#define RR_EVENTS 1024

struct rr_state {
    int ep, ready;
    struct epoll_event *ev;
    uint64_t *t0;
    size_t *got;
    int active;
    uint64_t progress;
    uint64_t deadline, issued; /* the client's: when to stop, requests sent */
};

/* NULL when ready, else the call that failed (errno says why). */
static const char *rr_state_new(struct rr_state *st, const struct rr *a)
{
    st->ev = calloc(RR_EVENTS, sizeof(*st->ev));
    st->t0 = calloc((size_t)a->n, sizeof(*st->t0));
    st->got = calloc((size_t)a->n, sizeof(*st->got));
    st->ep = epoll_create1(EPOLL_CLOEXEC);
    st->active = st->ready = 0;
    st->progress = eng_now_ns();
    st->deadline = st->issued = 0;
    if (!st->ev || !st->t0 || !st->got) {
        errno = ENOMEM;
        return "calloc";
    }
    if (st->ep < 0)
        return "epoll_create1";
    for (int i = 0; i < a->n; i++, st->active++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(st->ep, EPOLL_CTL_ADD, a->fds[i], &e) < 0)
            return "epoll_ctl(EPOLL_CTL_ADD)";
    }
    return NULL;
}

static void rr_state_free(struct rr_state *st)
{
    if (st->ep >= 0)
        close(st->ep);
    free(st->ev);
    free(st->t0);
    free(st->got);
}

/* Waits until a flow is readable; 0 to go on, -1 on failure or silence. */
static int rr_poll(struct loop *l, struct rr_state *st, const struct rr *a, const char *what)
{
    st->ready = epoll_wait(st->ep, st->ev, RR_EVENTS, POLL_MS);
    if (st->ready < 0) {
        st->ready = 0;
        return errno == EINTR ? eng_interrupted(l) : eng_fail(l, "epoll_wait", errno);
    }
    if (st->ready == 0 && eng_now_ns() - st->progress > a->idle_ns)
        return eng_fail(l, what, ETIMEDOUT);
    return 0;
}

/* Reads what flow i has toward `want` bytes: 1 when complete, 0 when not
 * yet, 2 at EOF before any byte, -1 on failure. */
static int rr_read(struct loop *l, struct rr_state *st, const struct rr *a, int i, size_t want,
                   const char *what)
{
    ssize_t n = recv(a->fds[i], a->rx, want - st->got[i], MSG_DONTWAIT);
    if (n == 0)
        return st->got[i] ? eng_fail(l, what, ECONNRESET) : 2;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : eng_fail(l, what, errno);
    st->got[i] += (size_t)n;
    l->bytes += (uint64_t)n;
    st->progress = eng_now_ns();
    if (st->got[i] < want)
        return 0;
    st->got[i] = 0;
    return 1;
}

static void rr_retire(struct rr_state *st, const struct rr *a, int i)
{
    epoll_ctl(st->ep, EPOLL_CTL_DEL, a->fds[i], NULL); /* no more of its events */
    st->got[i] = SIZE_MAX;                               /* events already returned skip it */
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
        for (int k = 0; rc == 0 && k < st->ready; k++) {
            int i = (int)st->ev[k].data.u32;
            if (st->got[i] == SIZE_MAX) /* retired after this wait returned */
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
        return eng_fail(l, "recv(response)", ECONNRESET);
    uint64_t t = eng_now_ns();
    int rc = record(l, i, st->t0[i], t);
    if ((st->deadline && t >= st->deadline) || (a->max_tx && st->issued >= a->max_tx)) {
        rr_retire(st, a, i);
        return rc;
    }
    if (a->pace_ns && !rc) {
        /* A mostly idle connection: the next request waits for its slot. */
        struct timespec next = {.tv_sec = (time_t)((st->t0[i] + a->pace_ns) / 1000000000ull),
                                .tv_nsec = (long)((st->t0[i] + a->pace_ns) % 1000000000ull)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            if (eng_interrupted(l))
                return -1;
        if (st->deadline && eng_now_ns() >= st->deadline) {
            rr_retire(st, a, i);
            return 0;
        }
        st->progress = eng_now_ns(); /* the wait is not silence */
    }
    st->t0[i] = eng_now_ns();
    st->issued++;
    return rc ? rc : send_all(l, a->fds[i], a->tx, a->req, a->idle_ns);
}

static int rr_client_loop(void *args, struct loop *l)
{
    struct rr *a = args;
    struct rr_state st;
    const char *failed = rr_state_new(&st, a);
    int rc = failed ? eng_fail(l, failed, errno) : 0;
    st.deadline = a->duration_ns ? l->start_ns + a->duration_ns : 0;
    memset(a->tx, 'R', a->req);
    for (int i = 0; rc == 0 && i < a->n; i++, st.issued++) {
        st.t0[i] = eng_now_ns();
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
        rr_retire(st, a, i);
        return 0;
    }
    int rc = send_all(l, a->fds[i], a->tx, a->resp, a->idle_ns);
    return rc ? rc : count_tx(l, i, eng_now_ns());
}

static int rr_server_loop(void *args, struct loop *l)
{
    struct rr *a = args;
    struct rr_state st;
    const char *failed = rr_state_new(&st, a);
    int rc = failed ? eng_fail(l, failed, errno) : 0;
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
        return eng_fail_mode(l, 1, "socket", errno);
    /* Timeouts bound connect and each wait (a lost SYN would otherwise
     * block for minutes); both protocols pay the same two calls. */
    struct timeval tv = {.tv_sec = (time_t)(a->idle_ns / 1000000000ull),
                         .tv_usec = (suseconds_t)(a->idle_ns % 1000000000ull / 1000)};
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        rc = eng_fail(l, "setsockopt(SO_SNDTIMEO/SO_RCVTIMEO)", errno);
    else if (bind(fd, (struct sockaddr *)&a->local, a->addrlen) < 0)
        rc = eng_fail(l, "bind", errno);
    else if (connect(fd, (struct sockaddr *)&a->remote, a->addrlen) < 0) {
        int err = errno;
        rc = err == EINTR && eng_interrupted(l) ? -1 : eng_fail(l, "connect", err);
    }
    rc = rc ? rc : send_all(l, fd, a->tx, a->req, a->idle_ns);
    rc = rc ? rc : recv_all(l, fd, a->rx, a->resp, a->idle_ns);
    if (rc == 1)
        rc = eng_fail(l, "recv(response)", ECONNRESET);
    if (rc == 0 && recv_all(l, fd, a->rx, 1, a->idle_ns) != 1)
        rc = l->err ? -1 : eng_fail(l, "recv(EOF)", EPROTO);
    close(fd);
    return rc;
}

static int crr_client_loop(void *args, struct loop *l)
{
    struct rr *a = args;
    uint64_t deadline = a->duration_ns ? l->start_ns + a->duration_ns : 0;
    memset(a->tx, 'R', a->req);
    for (uint64_t t = eng_now_ns(); !(deadline && t >= deadline) && !(a->max_tx && l->transactions >= a->max_tx);) {
        if (crr_once(l, a))
            return -1;
        uint64_t t1 = eng_now_ns();
        if (record(l, 0, t, t1))
            return -1;
        l->bytes += a->req + a->resp;
        t = t1;
    }
    return 0;
}

/* CRR with several clients at once: each of `n` slots runs connect,
 * request, response, EOF, close, then its next connection, on one epoll set
 * of non-blocking sockets.  A slot's latency runs from socket() to the
 * server's EOF, as one connection's does above; the source port is picked
 * at connect() (IP_BIND_ADDRESS_NO_PORT), so connections and the server's
 * TIME_WAIT do not use up the port range. */
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* linux/in.h */
#endif

enum crr_state { CRR_CONNECTING, CRR_RESPONSE, CRR_EOF };

struct crr_slot {
    int fd;
    enum crr_state state;
    size_t done;
    uint64_t t0;
};

static int crr_slot_start(struct loop *l, const struct rr *a, int ep, struct crr_slot *s, int i)
{
    s->t0 = eng_now_ns();
    s->done = 0;
    s->state = CRR_CONNECTING;
    s->fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, a->protocol);
    if (s->fd < 0)
        return eng_fail_mode(l, 1, "socket", errno);
    int one = 1; /* a kernel without it for this socket picks the port at bind() */
    setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    const char *call = NULL;
    if (bind(s->fd, (const struct sockaddr *)&a->local, a->addrlen) < 0)
        call = "bind";
    else if (connect(s->fd, (const struct sockaddr *)&a->remote, a->addrlen) < 0 &&
             errno != EINPROGRESS)
        call = "connect";
    else if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e) < 0)
        call = "epoll_ctl(EPOLL_CTL_ADD)";
    if (!call)
        return 0;
    int err = errno;
    close(s->fd);
    s->fd = -1;
    return eng_fail(l, call, err);
}

/* Moves slot i on after an event: 0 (waiting, or a new connection
 * started), 1 (its last connection ended at the deadline), -1 failed. */
static int crr_slot_step(struct loop *l, const struct rr *a, int ep, struct crr_slot *s, int i,
                         uint64_t deadline)
{
    if (s->state == CRR_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err)
            return eng_fail(l, "connect", err);
        for (;;) {
            ssize_t n = send(s->fd, a->tx + s->done, a->req - s->done, MSG_NOSIGNAL);
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : eng_fail(l, "send(request)", errno);
            s->done += (size_t)n;
            if (s->done == a->req)
                break;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e) < 0)
            return eng_fail(l, "epoll_ctl(EPOLL_CTL_MOD)", errno);
        s->state = CRR_RESPONSE;
        s->done = 0;
        return 0;
    }
    size_t want = s->state == CRR_RESPONSE ? a->resp - s->done : 1;
    ssize_t n = recv(s->fd, a->rx, want, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : eng_fail(l, "recv(response)", errno);
    if (s->state == CRR_RESPONSE) {
        if (n == 0)
            return eng_fail(l, "recv(response)", ECONNRESET);
        s->done += (size_t)n;
        if (s->done == a->resp)
            s->state = CRR_EOF;
        return 0;
    }
    if (n > 0) /* more than the response: not the server we expect */
        return eng_fail(l, "recv(EOF)", EPROTO);
    close(s->fd);
    s->fd = -1;
    uint64_t t = eng_now_ns();
    if (record(l, i, s->t0, t))
        return -1;
    l->bytes += a->req + a->resp;
    if ((deadline && t >= deadline) || (a->max_tx && l->transactions >= a->max_tx))
        return 1;
    return crr_slot_start(l, a, ep, s, i);
}

static int crr_many_loop(void *args, struct loop *l)
{
    struct rr *a = args;
    uint64_t deadline = a->duration_ns ? l->start_ns + a->duration_ns : 0;
    struct crr_slot *slots = calloc((size_t)a->n, sizeof(*slots));
    struct epoll_event *ev = calloc(RR_EVENTS, sizeof(*ev));
    int ep = epoll_create1(EPOLL_CLOEXEC), rc = 0, active = 0;
    memset(a->tx, 'R', a->req);
    if (!slots || !ev)
        rc = eng_fail(l, "calloc", ENOMEM);
    else if (ep < 0)
        rc = eng_fail(l, "epoll_create1", errno);
    for (int i = 0; slots && i < a->n; i++)
        slots[i].fd = -1;
    for (int i = 0; rc == 0 && i < a->n; i++, active++)
        rc = crr_slot_start(l, a, ep, &slots[i], i);
    uint64_t progress = eng_now_ns();
    while (rc == 0 && active) {
        int ready = epoll_wait(ep, ev, RR_EVENTS, POLL_MS);
        if (ready < 0) {
            rc = errno == EINTR ? eng_interrupted(l) : eng_fail(l, "epoll_wait", errno);
            continue;
        }
        if (ready == 0 && eng_now_ns() - progress > a->idle_ns)
            rc = eng_fail(l, "recv(response)", ETIMEDOUT);
        for (int k = 0; rc == 0 && k < ready; k++) {
            int i = (int)ev[k].data.u32;
            if (slots[i].fd < 0)
                continue;
            int r = crr_slot_step(l, a, ep, &slots[i], i, deadline);
            progress = eng_now_ns();
            rc = r < 0 ? -1 : 0;
            active -= r == 1;
        }
    }
    for (int i = 0; slots && i < a->n; i++)
        if (slots[i].fd >= 0)
            close(slots[i].fd);
    if (ep >= 0)
        close(ep);
    free(slots);
    free(ev);
    return rc;
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
    uint64_t since = eng_now_ns();
    memset(a->tx, 'A', a->resp);
    for (;;) {
        int c = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR && eng_interrupted(l))
                return -1;
            if (errno == EAGAIN && eng_now_ns() - since > a->idle_ns)
                return eng_fail(l, "accept", ETIMEDOUT);
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                return eng_fail(l, "accept", errno);
            continue;
        }
        count_protocol(l, c);
        int rc = recv_all(l, c, a->rx, a->req, a->idle_ns);
        char first = a->rx[0];
        if (rc == 0)
            rc = send_all(l, c, a->tx, a->resp, a->idle_ns);
        close(c);
        since = eng_now_ns();
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
    if (a->n < 1 || a->n > MAX_FLOWS) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "between 1 and %d flows", MAX_FLOWS);
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
        r = eng_run_loop(fn, a, &l); /* latency samples grow as they come (eng_samples_push) */
    }
    free(a->rx);
    free(a->tx);
    free(a->fds);
    return r;
}

static PyObject *rr_run(PyObject *args, PyObject *kw, loop_fn fn)
{
    static char *kwlist[] = {"fds", "request", "response", "duration_ns", "max_transactions",
                             "idle_timeout_ns", "interval_ns", "pace_ns", NULL};
    struct rr a = {0};
    PyObject *fds;
    Py_ssize_t req = 1, resp = 1;
    unsigned long long duration = 0, max_tx = 0, idle = 10000 * NS_PER_MS, interval = 100 * NS_PER_MS,
                       pace = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|nnKKKKK", kwlist, &fds, &req, &resp, &duration,
                                     &max_tx, &idle, &interval, &pace))
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
    a.pace_ns = pace;
    if (pace && a.n != 1) {
        free(a.fds);
        return PyErr_Format(PyExc_ValueError, "a paced RR client runs one flow, not %d", a.n);
    }
    return run_latency(fn, &a, a.n, interval);
}

PyObject *eng_rr_client(PyObject *self, PyObject *args, PyObject *kw)
{
    return rr_run(args, kw, rr_client_loop);
}

PyObject *eng_rr_server(PyObject *self, PyObject *args, PyObject *kw)
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

PyObject *eng_crr_client(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"family", "protocol", "bind", "connect", "port", "request", "response",
                             "duration_ns", "max_transactions", "idle_timeout_ns", "interval_ns",
                             "clients", NULL};
    struct rr a = {0};
    const char *bind_ip, *connect_ip;
    int port, clients = 1;
    Py_ssize_t req = 1, resp = 1;
    unsigned long long duration = 0, max_tx = 0, idle = 10000 * NS_PER_MS, interval = 100 * NS_PER_MS;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iissi|nnKKKKi", kwlist, &a.family, &a.protocol, &bind_ip,
                                     &connect_ip, &port, &req, &resp, &duration, &max_tx, &idle, &interval,
                                     &clients))
        return NULL;
    if (clients < 1 || clients > MAX_FLOWS)
        return PyErr_Format(PyExc_ValueError, "between 1 and %d clients", MAX_FLOWS);
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
    a.n = clients;
    /* One client keeps its blocking loop (crr_once): no event set in its
     * round trips.  Several share the event loop. */
    return run_latency(clients == 1 ? crr_client_loop : crr_many_loop, &a, clients, interval);
}

PyObject *eng_crr_server(PyObject *self, PyObject *args, PyObject *kw)
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
