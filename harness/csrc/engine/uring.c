/*
 * The io_uring send modes (io_uring: SEND, io_uring_zc: SEND_ZC) of
 * bulk_send, on one ring per loop.
 *
 * The only file that depends on liburing (HAVE_LIBURING, set by setup.py
 * when it links).  Built without it, the same entry points are stubs: setup
 * fails the loop as unsupported, "built without liburing" (ENOSYS), before
 * any byte moves; the mode never falls back to copying.
 */
#include "engine.h"

#include <errno.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#include <stdlib.h>
#include <sys/socket.h>
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)   /* kernel 6.2, newer than liburing 2.3 */
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#define URING_DATA 1
#define URING_CANCEL 2

struct eng_uring {
    struct io_uring ring;
    int zc; /* SEND_ZC rather than SEND */
    int inflight;
    uint64_t notifs_pending;
};

const int eng_liburing = 1;

int eng_uring_setup(struct eng_uring **u, int zc, struct loop *l)
{
    struct eng_uring *ur = calloc(1, sizeof(*ur));
    if (!ur)
        return eng_fail(l, "calloc", ENOMEM);
    int r = io_uring_queue_init(8, &ur->ring, 0);
    if (r < 0) {
        free(ur);
        return eng_fail_unsupported(l, "io_uring_queue_init", -r, NULL);
    }
    ur->zc = zc;
    *u = ur;
    l->zc.on = zc;
    return 0;
}

void eng_uring_release(struct eng_uring *u)
{
    io_uring_queue_exit(&u->ring);
    free(u);
}

/* Waits for the data completion of the in-flight send, counting SEND_ZC
 * notifications as they come.  -1/EAGAIN when the wait timed out; on
 * another failure, *call names it. */
static ssize_t uring_wait_data(struct eng_uring *u, struct loop *l, unsigned timeout_ms,
                               const char **call)
{
    for (;;) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        int r = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
        if (r == -ETIME) {
            errno = EAGAIN;
            return -1;
        }
        if (r < 0) {
            *call = "io_uring_wait_cqe";
            errno = -r;
            return -1;
        }
        int res = cqe->res;
        unsigned flags = cqe->flags;
        uint64_t tag = cqe->user_data;
        io_uring_cqe_seen(&u->ring, cqe);
        if (flags & IORING_CQE_F_NOTIF) {
            u->notifs_pending--;
            l->zc.completions++;
            if ((unsigned)res & IORING_NOTIF_USAGE_ZC_COPIED)
                l->zc.copied++;
            continue;
        }
        if (tag != URING_DATA)
            continue;
        u->inflight = 0;
        if (flags & IORING_CQE_F_MORE) {
            l->zc.requests++;
            u->notifs_pending++;
        }
        if (res < 0) {
            *call = u->zc ? "io_uring SEND_ZC completion" : "io_uring SEND completion";
            errno = -res;
            return -1;
        }
        return res;
    }
}

/* One send at a time: on a stream socket a short send must complete before
 * the next one is queued, or bytes would be reordered. */
ssize_t eng_uring_send(struct eng_uring *u, struct loop *l, int fd, const char *buf, size_t len,
                       const char **call)
{
    if (!u->inflight) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
        if (u->zc)
            io_uring_prep_send_zc(sqe, fd, buf, len, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
        else
            io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
        sqe->user_data = URING_DATA;
        int r = io_uring_submit(&u->ring);
        if (r < 0) {
            *call = "io_uring_submit";
            errno = -r;
            return -1;
        }
        u->inflight = 1;
    }
    return uring_wait_data(u, l, POLL_MS, call);
}

/* At the end: cancel a send still waiting for room, count what it moved,
 * then wait for the outstanding SEND_ZC notifications. */
int eng_uring_drain(struct eng_uring *u, struct loop *l)
{
    const char *call; /* the loop is over: a failure here is not reported */
    if (u->inflight) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
        io_uring_prep_cancel64(sqe, URING_DATA, 0);
        sqe->user_data = URING_CANCEL;
        io_uring_submit(&u->ring);
        ssize_t n = uring_wait_data(u, l, DRAIN_NS / NS_PER_MS, &call);
        if (n > 0 && eng_account(l, eng_now_ns(), (uint64_t)n))
            return -1;
    }
    for (uint64_t until = eng_now_ns() + DRAIN_NS; u->notifs_pending && eng_now_ns() < until;)
        if (uring_wait_data(u, l, 50, &call) < 0 && errno != EAGAIN && errno != ECANCELED)
            break;
    return 0;
}

#else /* built without liburing: the modes exist and say why they cannot run */

const int eng_liburing = 0;

int eng_uring_setup(struct eng_uring **u, int zc, struct loop *l)
{
    return eng_fail_unsupported(l, "io_uring", ENOSYS, "built without liburing");
}

void eng_uring_release(struct eng_uring *u) {}

/* Never reached (setup failed the loop): answers like an unknown mode. */
ssize_t eng_uring_send(struct eng_uring *u, struct loop *l, int fd, const char *buf, size_t len,
                       const char **call)
{
    *call = "send mode";
    errno = EINVAL;
    return -1;
}

int eng_uring_drain(struct eng_uring *u, struct loop *l) { return 0; }

#endif
