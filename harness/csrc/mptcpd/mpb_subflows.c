// SPDX-License-Identifier: BSD-3-Clause
/*
 * mpb_subflows: an mptcpd path-manager plugin for the userspace PM.
 *
 * When a connection this host opened is fully established, it opens one
 * subflow from each local address listed in MPB_PM_SUBFLOWS (comma
 * separated, those of the connection's family) to the peer's initial
 * address; an address also listed in MPB_PM_BACKUP is marked backup once
 * its subflow is up.  The same policy as the in-kernel PM's `subflow`
 * (and `backup`) endpoints, so the two path managers compare like for like.
 *
 * mptcpd 0.12 (Debian 12) ships no development headers: the few
 * declarations used here are mptcpd 0.12's, from its include/mptcpd/
 * plugin.h, types.h and path_manager.h (BSD-3-Clause).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef uint32_t mptcpd_token_t;
typedef uint8_t mptcpd_aid_t;
struct mptcpd_pm;
struct mptcpd_interface;

struct mptcpd_plugin_desc {
    char const *const name;
    char const *const description;
    char const *const version;
    int const priority;
    int (*init)(struct mptcpd_pm *);
    void (*exit)(struct mptcpd_pm *);
};

struct mptcpd_plugin_ops {
    void (*new_connection)(mptcpd_token_t, struct sockaddr const *, struct sockaddr const *,
                           bool, struct mptcpd_pm *);
    void (*connection_established)(mptcpd_token_t, struct sockaddr const *,
                                   struct sockaddr const *, bool, struct mptcpd_pm *);
    void (*connection_closed)(mptcpd_token_t, struct mptcpd_pm *);
    void (*new_address)(mptcpd_token_t, mptcpd_aid_t, struct sockaddr const *, struct mptcpd_pm *);
    void (*address_removed)(mptcpd_token_t, mptcpd_aid_t, struct mptcpd_pm *);
    void (*new_subflow)(mptcpd_token_t, struct sockaddr const *, struct sockaddr const *, bool,
                        struct mptcpd_pm *);
    void (*subflow_closed)(mptcpd_token_t, struct sockaddr const *, struct sockaddr const *, bool,
                           struct mptcpd_pm *);
    void (*subflow_priority)(mptcpd_token_t, struct sockaddr const *, struct sockaddr const *,
                             bool, struct mptcpd_pm *);
    void (*new_interface)(struct mptcpd_interface const *, struct mptcpd_pm *);
    void (*update_interface)(struct mptcpd_interface const *, struct mptcpd_pm *);
    void (*delete_interface)(struct mptcpd_interface const *, struct mptcpd_pm *);
    void (*new_local_address)(struct mptcpd_interface const *, struct sockaddr const *,
                              struct mptcpd_pm *);
    void (*delete_local_address)(struct mptcpd_interface const *, struct sockaddr const *,
                                 struct mptcpd_pm *);
};

bool mptcpd_plugin_register_ops(char const *name, struct mptcpd_plugin_ops const *ops);
int mptcpd_pm_add_subflow(struct mptcpd_pm *pm, mptcpd_token_t token, mptcpd_aid_t local_id,
                          mptcpd_aid_t remote_id, struct sockaddr const *local_addr,
                          struct sockaddr const *remote_addr, bool backup);
int mptcpd_pm_set_backup(struct mptcpd_pm *pm, mptcpd_token_t token,
                         struct sockaddr const *local_addr, struct sockaddr const *remote_addr,
                         bool backup);

#define MAX_ADDRS 16

struct local {
    struct sockaddr_storage addr;
    bool backup;
};

static struct local locals[MAX_ADDRS];
static int n_locals;

static bool parse(char const *text, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *in4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

static bool same_address(struct sockaddr const *a, struct sockaddr const *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return ((struct sockaddr_in const *)a)->sin_addr.s_addr ==
               ((struct sockaddr_in const *)b)->sin_addr.s_addr;
    return memcmp(&((struct sockaddr_in6 const *)a)->sin6_addr,
                  &((struct sockaddr_in6 const *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static bool listed(char const *list, char const *text)
{
    size_t n = strlen(text);
    for (char const *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, text, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static int load(void)
{
    char const *subflows = getenv("MPB_PM_SUBFLOWS");
    char const *backup = getenv("MPB_PM_BACKUP");
    char buf[1024];
    if (!subflows || strlen(subflows) >= sizeof(buf)) {
        fprintf(stderr, "mpb_subflows: MPB_PM_SUBFLOWS is not set (comma-separated local addresses)\n");
        return -1;
    }
    strcpy(buf, subflows);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n_locals == MAX_ADDRS || !parse(tok, &locals[n_locals].addr)) {
            fprintf(stderr, "mpb_subflows: bad or too many addresses in MPB_PM_SUBFLOWS: %s\n", tok);
            return -1;
        }
        locals[n_locals++].backup = listed(backup, tok);
    }
    return 0;
}

static void established(mptcpd_token_t token, struct sockaddr const *laddr,
                        struct sockaddr const *raddr, bool server_side, struct mptcpd_pm *pm)
{
    if (server_side)
        return;
    for (int i = 0; i < n_locals; i++) {
        struct sockaddr const *local = (struct sockaddr const *)&locals[i].addr;
        if (local->sa_family != laddr->sa_family || same_address(local, laddr))
            continue;
        /* Local ids 1..n: the initial subflow holds id 0. */
        int err = mptcpd_pm_add_subflow(pm, token, (mptcpd_aid_t)(i + 1), 0, local, raddr,
                                        locals[i].backup);
        if (err)
            fprintf(stderr, "mpb_subflows: token %08x: subflow from local address %d: error %d\n",
                    token, i + 1, err);
    }
}

static void new_subflow(mptcpd_token_t token, struct sockaddr const *laddr,
                        struct sockaddr const *raddr, bool backup, struct mptcpd_pm *pm)
{
    /* mptcpd 0.12 cannot pass the backup flag with the subflow: set it now. */
    for (int i = 0; i < n_locals; i++)
        if (locals[i].backup && !backup && same_address((struct sockaddr const *)&locals[i].addr, laddr))
            mptcpd_pm_set_backup(pm, token, laddr, raddr, true);
}

static struct mptcpd_plugin_ops const ops = {
    .connection_established = established,
    .new_subflow = new_subflow,
};

static int init(struct mptcpd_pm *pm)
{
    (void)pm;
    if (load() || !mptcpd_plugin_register_ops("mpb_subflows", &ops))
        return -1;
    fprintf(stderr, "mpb_subflows: ready, %d local address(es)\n", n_locals);
    return 0;
}

static void fini(struct mptcpd_pm *pm)
{
    (void)pm;
}

extern struct mptcpd_plugin_desc const _mptcpd_plugin __attribute__((visibility("default")));
struct mptcpd_plugin_desc const _mptcpd_plugin = {
    "mpb_subflows", "One subflow per listed local address (mptcp-bench)", 0, 0, init, fini,
};
