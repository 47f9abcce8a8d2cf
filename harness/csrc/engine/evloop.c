/*
 * The event loop: T threads, each multiplexing its share of F connections
 * with edge-triggered epoll.  A ready connection is served a bounded number
 * of calls per turn and stays on its worker's ready list until a call would
 * block, so one fast connection cannot starve the others, and epoll is
 * asked again only when no connection is known to be ready.
 *
 * The calling thread is worker 0; the others are pthreads started with
 * every signal blocked, so a signal (Ctrl-C, SIGTERM) interrupts the
 * calling thread, whose Python handler may stop all of them.  Every
 * connection keeps its own loop result; they are merged once all threads
 * have ended, on one grid from the loop's start.
 */
#include "engine.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_EVENTS 512

/* ------------------------------------------------------- one worker */

static void ready_push(struct evworker *w, struct evconn *c)
{
    if (!c->queued && !c->done) {
        c->queued = 1;
        w->ready[w->nready++] = c;
    }
}

void eng_evconn_end(struct evworker *w, struct evconn *c)
{
    if (c->done)
        return;
    c->done = 1;
    w->live--;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static int worker_setup(struct evworker *w)
{
    struct evloop *ev = w->ev;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->ready = calloc((size_t)w->count, sizeof(*w->ready));
    if (ev->bufsize && posix_memalign((void **)&w->buf, 4096, ev->bufsize))
        w->buf = NULL;
    if (w->epfd < 0 || !w->ready || (ev->bufsize && !w->buf))
        return eng_fail(&ev->conns[w->first].l, w->epfd < 0 ? "epoll_create1" : "malloc",
                        w->epfd < 0 ? errno : ENOMEM);
    w->live = w->count;
    for (int i = w->first; i < w->first + w->count; i++) {
        struct evconn *c = &ev->conns[i];
        struct epoll_event e = {.events = ev->events | EPOLLET, .data.ptr = c};
        c->l.start_ns = c->l.s.t0 = ev->start_ns;
        if (c->done) { /* failed before the loop began */
            w->live--;
        } else if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &e) < 0) {
            eng_fail(&c->l, "epoll_ctl(EPOLL_CTL_ADD)", errno);
            c->done = 1;
            w->live--;
        }
    }
    return 0;
}

static int past_deadline(struct evloop *ev)
{
    return ev->deadline_ns && eng_now_ns() >= ev->deadline_ns;
}

/* One pass over the ready list: each connection gets one turn and stays
 * listed while it may have more to do.  A pass over thousands of
 * connections can outlast the deadline: it is checked at every turn. */
static void serve_ready(struct evworker *w)
{
    int kept = 0, i = 0;
    for (; i < w->nready && !past_deadline(w->ev); i++) {
        struct evconn *c = w->ready[i];
        if (!c->done && w->ev->serve(w->ev, w, c) && !c->done)
            w->ready[kept++] = c;
        else
            c->queued = 0;
    }
    while (i < w->nready)
        w->ready[kept++] = w->ready[i++];
    w->nready = kept;
}

/* Every connection epoll has ready joins the ready list before a pass, so
 * that each gets its turn in the same pass. */
static int collect(struct evworker *w, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n, total = 0;
    do {
        n = epoll_wait(w->epfd, evs, MAX_EVENTS, timeout_ms);
        for (int i = 0; i < n; i++)
            ready_push(w, evs[i].data.ptr);
        total += n > 0 ? n : 0;
        timeout_ms = 0;
    } while (n == MAX_EVENTS);
    return n < 0 ? -1 : total;
}

/* Connections silent for longer than the idle timeout fail (receiving). */
static void expire_idle(struct evworker *w, uint64_t now)
{
    struct evloop *ev = w->ev;
    for (int i = w->first; i < w->first + w->count; i++) {
        struct evconn *c = &ev->conns[i];
        uint64_t since = c->l.last_ns ? c->l.last_ns : ev->start_ns;
        if (!c->done && now - since > ev->idle_ns) {
            eng_fail(&c->l, ev->idle_call, ETIMEDOUT);
            eng_evconn_end(w, c);
        }
    }
}

static void expire_all(struct evworker *w)
{
    for (int i = w->first; i < w->first + w->count; i++) {
        struct evconn *c = &w->ev->conns[i];
        if (!c->done) {
            w->ev->expire(w->ev, c);
            eng_evconn_end(w, c);
        }
    }
}

static int wait_ms(struct evworker *w, uint64_t now)
{
    if (w->nready)
        return 0;
    uint64_t deadline = w->ev->deadline_ns;
    if (!deadline)
        return POLL_MS;
    return (int)MIN((uint64_t)POLL_MS, (deadline - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* Worker 0 runs in the calling thread: a signal interrupts it there, and a
 * Python handler that raised stops every worker. */
static void stop_on_signal(struct evloop *ev)
{
    if (eng_interrupted(&ev->all))
        __atomic_store_n(&ev->stop, 1, __ATOMIC_RELAXED);
}

static void worker_loop(struct evworker *w, int main_thread)
{
    struct evloop *ev = w->ev;
    uint64_t idle_check = ev->start_ns + POLL_MS * NS_PER_MS;
    while (w->live > 0 && !__atomic_load_n(&ev->stop, __ATOMIC_RELAXED)) {
        uint64_t now = eng_now_ns();
        if (ev->deadline_ns && now >= ev->deadline_ns) {
            expire_all(w);
            break;
        }
        int n = collect(w, wait_ms(w, now));
        if (n < 0 && errno == EINTR) {
            if (main_thread)
                stop_on_signal(ev);
            continue;
        }
        if (n < 0) {
            eng_fail(&ev->conns[w->first].l, "epoll_wait", errno);
            break;
        }
        serve_ready(w);
        if (ev->idle_ns && (now = eng_now_ns()) >= idle_check) {
            expire_idle(w, now);
            idle_check = now + POLL_MS * NS_PER_MS;
        }
    }
}

static void worker_run(struct evworker *w, int main_thread)
{
    uint64_t cpu0 = eng_thread_cpu_ns();
    if (worker_setup(w) == 0)
        worker_loop(w, main_thread);
    w->cpu_ns = eng_thread_cpu_ns() - cpu0;
    if (w->epfd >= 0)
        close(w->epfd);
    free(w->ready);
    free(w->buf);
}

/* ------------------------------------------------------- the threads */

struct thread_arg {
    struct evworker *w;
    int donefd; /* eventfd: each thread adds 1 as it ends */
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    uint64_t one = 1;
    worker_run(a->w, 0);
    (void)!write(a->donefd, &one, sizeof(one)); /* an eventfd add of 1 cannot fail */
    return NULL;
}

/* Started with every signal blocked: signals go to the calling thread. */
static int start_threads(struct evloop *ev, struct evworker *ws, struct thread_arg *args,
                         pthread_t *tids, int donefd)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int started = 1;
    for (; started < ev->nthreads; started++) {
        args[started] = (struct thread_arg){.w = &ws[started], .donefd = donefd};
        if (pthread_create(&tids[started], NULL, thread_main, &args[started]))
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

/* Waits for the other threads, still answering signals. */
static void wait_threads(struct evloop *ev, int donefd, int others)
{
    for (uint64_t ended = 0; ended < (uint64_t)others;) {
        struct pollfd p = {.fd = donefd, .events = POLLIN};
        uint64_t k;
        int r = poll(&p, 1, POLL_MS);
        if (r < 0 && errno == EINTR)
            stop_on_signal(ev);
        else if (r > 0 && read(donefd, &k, sizeof(k)) == sizeof(k))
            ended += k;
    }
}

static void split(struct evloop *ev, struct evworker *ws)
{
    for (int t = 0; t < ev->nthreads; t++) {
        int first = (int)((int64_t)ev->nconns * t / ev->nthreads);
        int next = (int)((int64_t)ev->nconns * (t + 1) / ev->nthreads);
        ws[t] = (struct evworker){.ev = ev, .epfd = -1, .first = first, .count = next - first};
    }
}

/* Runs every worker; the threads that could not start leave their
 * connections failed with the errno of pthread_create. */
static void run_workers(struct evloop *ev, struct evworker *ws, pthread_t *tids,
                        struct thread_arg *args)
{
    int donefd = eventfd(0, EFD_CLOEXEC);
    int started = donefd < 0 ? 1 : start_threads(ev, ws, args, tids, donefd);
    for (int t = started; t < ev->nthreads; t++)
        for (int i = ws[t].first; i < ws[t].first + ws[t].count; i++)
            eng_fail(&ev->conns[i].l, donefd < 0 ? "eventfd" : "pthread_create", donefd < 0 ? errno : EAGAIN);
    worker_run(&ws[0], 1);
    if (started > 1)
        wait_threads(ev, donefd, started - 1);
    for (int t = 1; t < started; t++)
        pthread_join(tids[t], NULL);
    if (donefd >= 0)
        close(donefd);
}

PyObject *eng_evloop_run(struct evloop *ev)
{
    struct evworker *ws = calloc((size_t)ev->nthreads, sizeof(*ws));
    pthread_t *tids = calloc((size_t)ev->nthreads, sizeof(*tids));
    struct thread_arg *args = calloc((size_t)ev->nthreads, sizeof(*args));
    PyObject *r = NULL;
    if (!ws || !tids || !args) {
        PyErr_NoMemory();
    } else {
        split(ev, ws);
        Py_BEGIN_ALLOW_THREADS
        ev->start_ns = eng_now_ns();
        if (ev->deadline_ns)
            ev->deadline_ns += ev->start_ns; /* given as a duration */
        run_workers(ev, ws, tids, args);
        ev->all.end_ns = eng_now_ns();
        for (int t = 0; t < ev->nthreads; t++)
            ev->all.cpu_ns += ws[t].cpu_ns;
        eng_evloop_merge(ev);
        Py_END_ALLOW_THREADS
        r = PyErr_Occurred() ? NULL : eng_evloop_results(ev);
    }
    free(ws);
    free(tids);
    free(args);
    eng_evloop_free(ev);
    return r;
}
