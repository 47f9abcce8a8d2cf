/*
 * harness._delayline: a delay line for a router namespace, on NFQUEUE.
 *
 * The kernel keeps every queued packet; this loop only learns each packet's
 * id (metadata-only copies, GSO packets kept whole), computes when it is due
 * and issues its verdict then.  One loop serves every queue of a router (one
 * queue per link and direction) on one netlink socket.
 *
 *   run(queues, rcvbuf, maxlen, seed)   queues: [(num, delay_ns, jitter_ns,
 *                                        reorder, table or None), ...]
 *
 * It binds the queues, writes {"event": "ready"} to stdout, then loops with
 * the GIL released until SIGTERM or SIGINT.  On SIGUSR1 it writes one JSON
 * line of cumulative counters (packets, released, lateness histogram per
 * queue, socket overruns): the caller takes differences around a trial.
 *
 * Per packet delay: delay + jitter * table[r] / 8192 with an iproute2/netem
 * distribution table, uniform in [delay - jitter, delay + jitter] without
 * one, never below 0.  Without reorder a packet is never due before the one
 * queued ahead of it, so a queue is a FIFO and one batch verdict (every id up
 * to N) releases all of its due packets; with reorder each packet gets its own
 * verdict, and all verdicts of a round go out in one sendmsg.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define MAX_QUEUES 16
#define DIST_SCALE 8192          /* netem's NETEM_DIST_SCALE */
#define HIST_BUCKET_NS 5000      /* release error histogram: 5 us buckets ... */
#define HIST_OFFSET_NS 1000000   /* ... from 1 ms early ... */
#define HIST_BUCKETS 4201        /* ... to 20 ms late, both ends open */
#define RECV_BATCH 64
#define ROUND_MAX 4096           /* packets read before releasing due ones */
#define MSG_BUF 4096
#define LEAD_MAX_NS 500000ull
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define FLUSH_AT (64 << 10)      /* bytes of verdicts per sendmsg, under the socket's sndbuf */

struct pkt {
    uint64_t due;
    uint32_t id;
};

struct queue {
    uint16_t num;
    int64_t delay, jitter;
    int reorder;
    int16_t *table;
    size_t table_len;
    struct pkt *heap;            /* min-heap on (due, id) */
    size_t len, cap;
    uint64_t last_due;
    uint64_t packets, released, max_depth, alloc_fail;
    uint64_t *hist;
};

struct line {
    struct queue q[MAX_QUEUES];
    size_t nq;
    struct mnl_socket *nl;
    uint64_t overruns;           /* ENOBUFS: notifications the kernel could not deliver */
    uint64_t lead;               /* the timer's recent oversleep (average): wake this early */
    uint64_t rng;
    char *out;                   /* verdicts of one round */
    size_t out_len, out_cap;
    char err[256];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(struct line *l)   /* xorshift64*: fast, and seeded per run */
{
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    return l->rng * 0x2545F4914F6CDD1Dull;
}

static int64_t sample_delay(struct line *l, struct queue *q)
{
    int64_t d = q->delay;
    if (q->jitter > 0) {
        if (q->table)
            d += q->jitter * q->table[rnd(l) % q->table_len] / DIST_SCALE;
        else
            d += (int64_t)(rnd(l) % (uint64_t)(2 * q->jitter + 1)) - q->jitter;
    }
    return d < 0 ? 0 : d;
}

/* ------------------------------------------------------------ the heap */

static int before(const struct pkt *a, const struct pkt *b)
{
    return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static int heap_push(struct queue *q, struct pkt p)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 1024;
        struct pkt *h = realloc(q->heap, cap * sizeof(*h));
        if (!h)
            return -1;
        q->heap = h;
        q->cap = cap;
    }
    size_t i = q->len++;
    while (i > 0 && before(&p, &q->heap[(i - 1) / 2])) {
        q->heap[i] = q->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->heap[i] = p;
    return 0;
}

static struct pkt heap_pop(struct queue *q)
{
    struct pkt top = q->heap[0], last = q->heap[--q->len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->len)
            break;
        if (c + 1 < q->len && before(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!before(&q->heap[c], &last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (q->len)
        q->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------ verdicts */

static struct nlmsghdr *out_msg(struct line *l, int type, uint16_t queue)
{
    if (l->out_cap - l->out_len < (size_t)(MNL_SOCKET_BUFFER_SIZE / 64)) {
        size_t cap = l->out_cap * 2;
        char *p = realloc(l->out, cap);
        if (!p)
            return NULL;
        l->out = p;
        l->out_cap = cap;
    }
    return nfq_nlmsg_put(l->out + l->out_len, type, queue);
}

static void out_done(struct line *l, struct nlmsghdr *nlh)
{
    l->out_len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static int flush(struct line *l)
{
    size_t off = 0;
    while (off < l->out_len) {
        ssize_t n = mnl_socket_sendto(l->nl, l->out + off, l->out_len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(l->err, sizeof(l->err), "sending verdicts: %s", strerror(errno));
            return -1;
        }
        off += (size_t)n;
    }
    l->out_len = 0;
    return 0;
}

/* Signed release error (release time - due time), offset so that early
 * releases down to -HIST_OFFSET_NS have buckets of their own. */
static void record_error(struct queue *q, uint64_t released, uint64_t due)
{
    int64_t err = (int64_t)(released - due) + HIST_OFFSET_NS;
    int64_t b = err < 0 ? 0 : err / HIST_BUCKET_NS;
    q->hist[b < HIST_BUCKETS - 1 ? b : HIST_BUCKETS - 1]++;
}

/* Verdicts for every due packet; the earliest time still pending, or 0. */
static int release(struct line *l, uint64_t now, uint64_t *next)
{
    uint64_t sent_at = now_ns();   /* `now` may be ahead of it by the lead */
    *next = 0;
    for (size_t i = 0; i < l->nq; i++) {
        struct queue *q = &l->q[i];
        uint32_t last_id = 0;
        int any = 0;
        while (q->len && q->heap[0].due <= now) {
            struct pkt p = heap_pop(q);
            record_error(q, sent_at, p.due);
            q->released++;
            if (q->reorder) {
                struct nlmsghdr *nlh = out_msg(l, NFQNL_MSG_VERDICT, q->num);
                if (!nlh)
                    return -1;
                nfq_nlmsg_verdict_put(nlh, p.id, NF_ACCEPT);
                out_done(l, nlh);
                if (l->out_len > FLUSH_AT && flush(l) < 0)
                    return -1;
            } else {
                last_id = p.id;
                any = 1;
            }
        }
        if (any) {   /* FIFO: every id up to last_id is due and still queued */
            struct nlmsghdr *nlh = out_msg(l, NFQNL_MSG_VERDICT_BATCH, q->num);
            if (!nlh)
                return -1;
            nfq_nlmsg_verdict_put(nlh, last_id, NF_ACCEPT);
            out_done(l, nlh);
        }
        if (q->len && (!*next || q->heap[0].due < *next))
            *next = q->heap[0].due;
    }
    return l->out_len ? flush(l) : 0;
}

/* ------------------------------------------------------------ packets */

static struct queue *find_queue(struct line *l, uint16_t num)
{
    for (size_t i = 0; i < l->nq; i++)
        if (l->q[i].num == num)
            return &l->q[i];
    return NULL;
}

struct arrival {
    struct line *l;
    uint64_t now;
    int failed;
};

static int on_packet(const struct nlmsghdr *nlh, void *data)
{
    struct arrival *a = data;
    struct nlattr *attr[NFQA_MAX + 1] = {0};
    if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
        return MNL_CB_OK;
    struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
    struct queue *q = find_queue(a->l, ntohs(nfg->res_id));
    if (!q)
        return MNL_CB_OK;
    struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
    uint64_t due = a->now + (uint64_t)sample_delay(a->l, q);
    if (!q->reorder && due < q->last_due)
        due = q->last_due;
    q->last_due = due;
    q->packets++;
    if (heap_push(q, (struct pkt){due, ntohl(ph->packet_id)}) < 0) {
        q->alloc_fail++;   /* left in the kernel's queue: accepted when the line stops */
        a->failed = 1;
        return MNL_CB_ERROR;
    }
    if (q->len > q->max_depth)
        q->max_depth = q->len;
    return MNL_CB_OK;
}

/* Read what the socket holds (at most ROUND_MAX packets); -1 on error. */
static int receive(struct line *l, char (*bufs)[MSG_BUF])
{
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    size_t total = 0;
    while (total < ROUND_MAX) {
        for (int i = 0; i < RECV_BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], MSG_BUF};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(mnl_socket_get_fd(l->nl), msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == ENOBUFS) {
                l->overruns++;
                continue;
            }
            if (errno == EINTR)
                continue;
            snprintf(l->err, sizeof(l->err), "receiving packets: %s", strerror(errno));
            return -1;
        }
        struct arrival a = {l, now_ns(), 0};
        for (int i = 0; i < n; i++)
            mnl_cb_run(bufs[i], msgs[i].msg_len, 0, 0, on_packet, &a);
        if (a.failed) {
            snprintf(l->err, sizeof(l->err), "out of memory holding queued packets");
            return -1;
        }
        total += (size_t)n;
        if (n < RECV_BATCH)
            return 0;
    }
    return 0;
}

/* ------------------------------------------------------------ setup */

static int config(struct line *l, uint16_t queue, int (*put)(struct nlmsghdr *, void *), void *arg)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nlh->nlmsg_flags |= NLM_F_ACK;
    put(nlh, arg);
    if (mnl_socket_sendto(l->nl, nlh, nlh->nlmsg_len) < 0)
        return -1;
    for (;;) {   /* the ack; packet notifications cannot come before the rules exist */
        ssize_t n = mnl_socket_recvfrom(l->nl, buf, sizeof(buf));
        if (n < 0)
            return -1;
        int r = mnl_cb_run(buf, (size_t)n, 0, 0, NULL, NULL);
        if (r <= MNL_CB_STOP)
            return r;
    }
}

static int put_bind(struct nlmsghdr *nlh, void *arg)
{
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
    return 0;
}

static int put_params(struct nlmsghdr *nlh, void *arg)
{
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_META, 0);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, *(uint32_t *)arg);
    /* GSO packets whole: one verdict per super-packet, not per segment. */
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
    return 0;
}

static int open_line(struct line *l, int rcvbuf, uint32_t maxlen)
{
    l->nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!l->nl || mnl_socket_bind(l->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(l->err, sizeof(l->err), "netlink socket: %s", strerror(errno));
        return -1;
    }
    int fd = mnl_socket_get_fd(l->nl);
    /* FORCE: beyond the namespace's rmem_max (we are root in our namespace). */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0) {
        snprintf(l->err, sizeof(l->err), "SO_RCVBUFFORCE: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < l->nq; i++) {
        if (config(l, l->q[i].num, put_bind, NULL) < 0 ||
            config(l, l->q[i].num, put_params, &maxlen) < 0) {
            snprintf(l->err, sizeof(l->err), "binding queue %u: %s", l->q[i].num, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ output */

static void dump(struct line *l, const char *event)
{
    size_t cap = 4096 + l->nq * (HIST_BUCKETS * 24 + 256), n = 0;
    char *s = malloc(cap);
    if (!s)
        return;
    n += snprintf(s + n, cap - n, "{\"event\": \"%s\", \"t_ns\": %llu, \"overruns\": %llu, "
                  "\"lead_ns\": %llu, \"hist_offset_ns\": %d, \"queues\": {", event,
                  (unsigned long long)now_ns(), (unsigned long long)l->overruns,
                  (unsigned long long)l->lead, HIST_OFFSET_NS);
    for (size_t i = 0; i < l->nq; i++) {
        struct queue *q = &l->q[i];
        n += snprintf(s + n, cap - n,
                      "%s\"%u\": {\"packets\": %llu, \"released\": %llu, \"held\": %zu, "
                      "\"max_depth\": %llu, \"bucket_ns\": %d, \"late\": {",
                      i ? ", " : "", q->num, (unsigned long long)q->packets,
                      (unsigned long long)q->released, q->len, (unsigned long long)q->max_depth,
                      HIST_BUCKET_NS);
        int first = 1;
        for (size_t b = 0; b < HIST_BUCKETS; b++) {
            if (!q->hist[b])
                continue;
            n += snprintf(s + n, cap - n, "%s\"%zu\": %llu", first ? "" : ", ", b,
                          (unsigned long long)q->hist[b]);
            first = 0;
        }
        n += snprintf(s + n, cap - n, "}}");
    }
    n += snprintf(s + n, cap - n, "}}\n");
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, s + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(s);
}

/* ------------------------------------------------------------ the loop */

/* Sleep until the next due time, less the recent oversleep: a virtual
 * machine wakes a sleeper 30-200 us late, so the line aims that much early
 * and, once awake, releases what falls due within that lead.  Releases then
 * scatter around their due times (a few us early or late) without spinning
 * a CPU; the histogram records the signed error. */
static int wait_for(struct line *l, struct pollfd *fds, uint64_t next)
{
    uint64_t now = now_ns(), wait = 0;
    int sleeping = 0;
    if (next && next > now + l->lead) {
        wait = next - now - l->lead;
        sleeping = 1;
    }
    struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
    int n = ppoll(fds, 2, next ? &ts : NULL, NULL);
    if (n < 0 && errno != EINTR) {
        snprintf(l->err, sizeof(l->err), "ppoll: %s", strerror(errno));
        return -1;
    }
    if (sleeping && n == 0) {   /* woke by the timer: how late? */
        uint64_t over = now_ns() - (now + wait);
        l->lead = MIN((7 * l->lead + over) / 8, LEAD_MAX_NS);
    }
    return 0;
}

static int loop(struct line *l, int sfd)
{
    static char bufs[RECV_BATCH][MSG_BUF];
    struct pollfd fds[2] = {{mnl_socket_get_fd(l->nl), POLLIN, 0}, {sfd, POLLIN, 0}};
    for (;;) {
        uint64_t next;
        if (release(l, now_ns() + l->lead, &next) < 0 || wait_for(l, fds, next) < 0)
            return -1;
        if (fds[0].revents && receive(l, bufs) < 0)
            return -1;
        if (fds[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) != sizeof(si))
                continue;
            if (si.ssi_signo == SIGUSR1)
                dump(l, "stats");
            else
                return 0;
        }
    }
}

/* Accept whatever is still held, so that nothing waits on a dead line. */
static void drain(struct line *l)
{
    uint64_t next;
    if (l->nl)
        release(l, UINT64_MAX, &next);
}

/* ------------------------------------------------------------ Python */

static int parse_queue(PyObject *item, struct queue *q)
{
    PyObject *table = NULL;
    long long delay, jitter;
    int num, reorder;
    if (!PyArg_ParseTuple(item, "iLLpO", &num, &delay, &jitter, &reorder, &table))
        return -1;
    if (num < 0 || num > 65535 || delay < 0 || jitter < 0) {
        PyErr_SetString(PyExc_ValueError, "queue number 0-65535, delay and jitter >= 0");
        return -1;
    }
    *q = (struct queue){.num = (uint16_t)num, .delay = delay, .jitter = jitter, .reorder = reorder};
    q->hist = calloc(HIST_BUCKETS, sizeof(*q->hist));
    if (!q->hist) {
        PyErr_NoMemory();
        return -1;
    }
    if (table == Py_None)
        return 0;
    Py_ssize_t n = PySequence_Length(table);
    if (n <= 0) {
        PyErr_SetString(PyExc_ValueError, "a distribution table needs values");
        return -1;
    }
    q->table = malloc((size_t)n * sizeof(*q->table));
    if (!q->table) {
        PyErr_NoMemory();
        return -1;
    }
    q->table_len = (size_t)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PySequence_GetItem(table, i);
        long x = v ? PyLong_AsLong(v) : -1;
        Py_XDECREF(v);
        if (PyErr_Occurred())
            return -1;
        q->table[i] = (int16_t)x;
    }
    return 0;
}

static void free_line(struct line *l)
{
    for (size_t i = 0; i < l->nq; i++) {
        free(l->q[i].heap);
        free(l->q[i].table);
        free(l->q[i].hist);
    }
    free(l->out);
    if (l->nl)
        mnl_socket_close(l->nl);
}

static PyObject *dl_run(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"queues", "rcvbuf", "maxlen", "seed", NULL};
    PyObject *queues;
    int rcvbuf = 32 << 20;
    unsigned int maxlen = 1 << 16;
    unsigned long long seed = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|iIK", names, &queues, &rcvbuf, &maxlen, &seed))
        return NULL;
    struct line l = {.rng = seed ? seed : 1, .out_cap = 1 << 16};
    Py_ssize_t nq = PySequence_Length(queues);
    if (nq <= 0 || nq > MAX_QUEUES) {
        PyErr_Format(PyExc_ValueError, "1 to %d queues", MAX_QUEUES);
        return NULL;
    }
    l.out = malloc(l.out_cap);
    PyObject *ret = NULL;
    for (Py_ssize_t i = 0; i < nq; i++) {
        PyObject *item = PySequence_GetItem(queues, i);
        int bad = !item || parse_queue(item, &l.q[i]) < 0;
        Py_XDECREF(item);
        l.nq = (size_t)i + 1;
        if (bad)
            goto out;
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    prctl(PR_SET_TIMERSLACK, 1UL);   /* wake-ups within a microsecond of the due time */
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sfd < 0 || !l.out ? -1 : open_line(&l, rcvbuf, maxlen);
    if (rc == 0) {
        static const char ready[] = "{\"event\": \"ready\"}\n";
        rc = write(STDOUT_FILENO, ready, sizeof(ready) - 1) < 0 ? -1 : loop(&l, sfd);
        drain(&l);
        dump(&l, "final");
    }
    Py_END_ALLOW_THREADS
    if (sfd >= 0)
        close(sfd);
    if (rc < 0) {
        PyErr_Format(PyExc_OSError, "delay line: %s", l.err[0] ? l.err : strerror(errno));
        goto out;
    }
    ret = Py_NewRef(Py_None);
out:
    free_line(&l);
    return ret;
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))dl_run, METH_VARARGS | METH_KEYWORDS,
     "run(queues, rcvbuf=32 MiB, maxlen=65536, seed=1): the delay line until SIGTERM"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef_Slot slots[] = {
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_delayline", "A delay line on NFQUEUE (see harness/net/delayline.py).",
    0, methods, slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__delayline(void)
{
    return PyModuleDef_Init(&module);
}
