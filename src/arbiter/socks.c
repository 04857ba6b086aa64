/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter's listening sockets: one per address (a port-0 bind has one
 * of its own), shared by the generations whose binds name it, inherited
 * from systemd or the old arbiter where given, closed when the last
 * generation lets go.
 */
#include "arbiter/arbiter_internal.h"

#include "arbiter/inherit.h"
#include "core/alloc.h"
#include "core/log.h"
#include "transport/bindaddr.h"
#include "transport/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Whether socket files may be removed: not while another arbiter shares
 * them (the one we started with SIGUSR2, or the one that started us).
 */
bool
tc_socks_may_unlink(const arbiter_t *a)
{
    if (a->reexec_pid > 0) {
        return false;
    }
    return a->master_pid == 0 || getppid() != a->master_pid;
}

/*
 * The socket file at 'path', of a socket closed while the old arbiter
 * that started us listens on it too: removed once that one is gone
 * (tc_socks_tidy()), as the old one leaves it to us.
 */
static void
keep_leftover(arbiter_t *a, const char *path, dev_t dev, ino_t ino)
{
    if (path == NULL || ino == 0) {
        return;
    }
    a->leftover = tc_xrealloc(a->leftover, (a->nleftover + 1) * sizeof(*a->leftover));
    a->leftover[a->nleftover++] =
        (tc_listener_t){.fd = -1, .unix_path = tc_xstrdup(path), .unix_dev = dev, .unix_ino = ino};
}

void
tc_socks_keep_untaken(arbiter_t *a)
{
    for (size_t i = 0; i < a->inherit.n; i++) {
        const tc_inherit_fd_t *in = &a->inherit.fds[i];
        if (!in->taken && !in->systemd) {
            keep_leftover(a, in->unix_path, in->unix_dev, in->unix_ino);
        }
    }
}

void
tc_socks_release(arbiter_t *a, sock_t *s, const char *why)
{
    if (--s->refs > 0) {
        return;
    }
    for (size_t i = 0; i < a->nsocks; i++) {
        if (a->socks[i] == s) {
            a->socks[i] = a->socks[--a->nsocks];
            break;
        }
    }
    /*
     * While the old arbiter runs, a socket it handed over is its too; one
     * this arbiter bound itself is not, and goes with its file at once. So
     * for the old arbiter: while the new one runs, a socket it handed over
     * at SIGUSR2 is the new one's too; one bound since (a reload) is not.
     */
    bool shared = !tc_socks_may_unlink(a) && ((a->reexec_pid > 0 && s->handed) || s->from_old);
    bool may_unlink = !s->systemd && !shared;
    if (shared && !s->systemd && a->reexec_pid == 0) {
        keep_leftover(a, s->l.unix_path, s->l.unix_dev, s->l.unix_ino);
    }
    /* the end of its 'Listening at:' line, but for the arbiter's own end */
    if (why != NULL) {
        tc_log(TC_LOG_INFO, "Closed %s: %s%s", s->l.name, why,
               s->systemd          ? "; systemd holds it still"
               : !shared           ? ""
               : a->reexec_pid > 0 ? "; the new arbiter listens on"
                                   : "; the old arbiter listens on");
    }
    tc_listener_close(&s->l, may_unlink);
    free(s);
}

void
tc_socks_tidy(arbiter_t *a, bool end)
{
    if (a->nleftover == 0 || (!end && !tc_socks_may_unlink(a))) {
        return;
    }
    bool may_unlink = tc_socks_may_unlink(a);
    for (size_t i = 0; i < a->nleftover; i++) {
        tc_listener_t *l = &a->leftover[i];
        if (may_unlink) {
            tc_log(TC_LOG_INFO, "Removing %s, no longer bound, now that the old arbiter is gone",
                   l->unix_path);
            tc_listener_unlink(l);
        }
        free(l->unix_path);
    }
    free(a->leftover);
    a->leftover = NULL;
    a->nleftover = 0;
}

/*
 * A generation that ends (a failed reload's, or one replaced by the next)
 * gives up socket 's', which no other generation has: it stops listening
 * now, for every process that holds it. The workers of that generation
 * keep their descriptors until they exit, one still booting maybe for its
 * whole graceful_timeout, and the kernel would complete the handshake of
 * every client that connects meanwhile, to leave it unanswered in a
 * backlog nobody accepts from and reset it at the last close. shutdown()
 * of a listening TCP socket ends the listening itself (Linux): a client is
 * refused at once, as before the reload; the connections a worker
 * accepted already are not touched. A unix socket's file is removed as it
 * closes, so nobody reaches it. Not a socket another arbiter or systemd
 * shares, or one of a config's fd://N.
 */
void
tc_socks_unlisten(const arbiter_t *a, const sock_t *s)
{
    bool shared = !tc_socks_may_unlink(a) && ((a->reexec_pid > 0 && s->handed) || s->from_old);
    if (s->refs > 1 || s->systemd || shared || s->l.fd < 0 || strncmp(s->l.spec, "fd://", 5) == 0 ||
        (s->l.family != AF_INET && s->l.family != AF_INET6)) {
        return;
    }
    (void)shutdown(s->l.fd, SHUT_RD);
}

/*
 * A full stop: the arbiter stops listening. Its descriptors close at once,
 * after the workers were told to stop, so that a socket refuses new clients
 * as soon as its workers close theirs too, rather than keep them in its
 * backlog, never accepted, until the last worker exits. The socket files
 * stay until the end (tc_socks_release()), and tc_socks_may_unlink() decides there as
 * before. A new arbiter (SIGUSR2), the old one that started us, and
 * systemd each hold descriptors of their own: they listen on.
 */
void
tc_socks_stop(arbiter_t *a)
{
    for (size_t i = 0; i < a->nsocks; i++) {
        tc_listener_stop(&a->socks[i]->l);
    }
}

/*
 * Whether nobody will accept on the sockets once this server's workers
 * have stopped: no other arbiter shares them, and none is systemd's (which
 * starts the service again for a client waiting in its backlog).
 */
bool
tc_socks_end_with_us(const arbiter_t *a)
{
    if (!tc_socks_may_unlink(a)) {
        return false;
    }
    for (size_t i = 0; i < a->nsocks; i++) {
        if (a->socks[i]->systemd) {
            return false;
        }
    }
    return true;
}

/*
 * A unix socket file just made for generation 'g' goes to its workers'
 * 'user' and 'group', as gunicorn gives it: with a umask such as 007, the
 * workers' group (a front proxy's) may connect. The file is opened without
 * following a link and changed only if it is still the socket bound, so a
 * file put at the path meanwhile (in a folder others may write to) is left
 * as it is.
 */
static void
give_socket(const gen_t *g, const tc_listener_t *l)
{
    if (l->unix_path == NULL || l->unix_ino == 0 || (!g->ids.set_uid && !g->ids.set_gid)) {
        return;
    }
    int fd = open(l->unix_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    int rc = 0;
    /* NOLINTNEXTLINE(bugprone-branch-clone): either call failing is reported by its errno */
    if (fd < 0) {
        rc = -errno;
    } else if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == l->unix_dev &&
               st.st_ino == l->unix_ino &&
               fchownat(fd, "", g->ids.set_uid ? g->ids.uid : (uid_t)-1,
                        g->ids.set_gid ? g->ids.gid : (gid_t)-1, AT_EMPTY_PATH) < 0) {
        rc = -errno;
    }
    if (rc != 0) {
        tc_log(TC_LOG_WARNING, "Cannot give the socket file %s to the workers' user: %s",
               l->unix_path, tc_strerror(rc));
    }
    if (fd >= 0) {
        (void)close(fd);
    }
}

/*
 * A socket kept from the last generation, or from the old arbiter after
 * an upgrade, takes the new config's backlog: listen() on a listening
 * socket sets it again (Linux), as nginx does on a reload. Not one that
 * systemd gave (its unit's Backlog= sets it) or a config's fd://N (whoever
 * passed it set it).
 */
static void
set_backlog(const sock_t *s, const tc_config_t *cfg)
{
    if (s->systemd || strncmp(s->l.spec, "fd://", 5) == 0) {
        return;
    }
    if (listen(s->l.fd, cfg->backlog) < 0) {
        int rc = -errno;
        tc_log(TC_LOG_WARNING, "Bind %s: cannot set its backlog to %d: %s", s->l.name, cfg->backlog,
               tc_strerror(rc));
    }
}

void
tc_socks_restore_backlog(const arbiter_t *a, const gen_t *g)
{
    for (size_t i = 0; a->cur != NULL && i < g->n; i++) {
        if (g->socks[i] != NULL && tc_generation_has_sock(a->cur, g->socks[i])) {
            set_backlog(g->socks[i], a->cur->cfg);
        }
    }
}

/* ---- the sockets of a generation's binds ---- */

/* Open socket 's' for bind 'i' of 'g' (the log says so when it is not by its text). */
static void
keep(gen_t *g, size_t i, sock_t *s, const tc_config_t *cfg, bool by_address)
{
    s->refs++;
    set_backlog(s, cfg);
    g->socks[i] = s;
    if (by_address) {
        tc_log(TC_LOG_INFO, "Bind %s is %s, open already: kept", cfg->binds[i], s->l.name);
    }
}

/* 's', new with one reference, among the open sockets. */
static void
add(arbiter_t *a, gen_t *g, size_t i, sock_t *s)
{
    s->refs = 1;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    a->socks = tc_xrealloc(a->socks, (a->nsocks + 1) * sizeof(*a->socks));
    a->socks[a->nsocks++] = s;
    g->socks[i] = s;
    tc_log(TC_LOG_INFO, "Listening at: %s (%d)", s->l.name, (int)a->pid);
}

/*
 * The socket of the descriptor 'in' that systemd or the old arbiter gave,
 * for bind 'i' of 'g', which takes it by its text or, 'by_address', by
 * the address it names another way.
 */
static int
adopt(arbiter_t *a, gen_t *g, size_t i, const tc_inherit_fd_t *in, bool by_address,
      const tc_config_t *cfg, tc_err_t *err)
{
    const char *spec = cfg->binds[i];
    sock_t *s = tc_xcalloc(1, sizeof(*s));
    s->systemd = in->systemd;
    s->from_old = !in->systemd;
    char fdspec[32];
    (void)snprintf(fdspec, sizeof(fdspec), "fd://%d", in->fd);
    tc_err_t lerr;
    tc_err_clear(&lerr);
    int rc = tc_listener_open(&s->l, fdspec, cfg->backlog, &lerr);
    if (rc != TC_OK) {
        /* a descriptor we were given: say which bind, and who gave it */
        free(s);
        return tc_err_set(err, rc, "Cannot listen: %s (%s): %s", spec,
                          in->systemd ? "systemd's LISTEN_FDS" : "inherited from the old arbiter",
                          lerr.msg);
    }
    /* known by its bind from now on */
    free(s->l.spec);
    s->l.spec = tc_xstrdup(spec);
    /*
     * the socket file the old arbiter owned, ours to remove now: the one it
     * bound, by inode, not whatever is at the bind's path now
     */
    if (in->unix_path != NULL && s->l.family == AF_UNIX) {
        tc_listener_adopt_path(&s->l, in->unix_path, in->unix_dev, in->unix_ino);
    }
    set_backlog(s, cfg); /* the old arbiter's config may have had another */
    if (by_address) {
        tc_log(TC_LOG_INFO, "Bind %s is %s, inherited as %s: kept", spec, s->l.name, in->spec);
    }
    add(a, g, i, s);
    return TC_OK;
}

/*
 * Bind 'i' of 'cfg' names, another way, the address of a socket another
 * bind took for 'g' ('127.0.0.1:9090' then 'localhost:9090'): binding
 * would fail with 'address already in use' (or with 'reuse_port' open a
 * second socket at that address), a clash of the config with itself,
 * which 'err' names; so would, without 'reuse_port', one port at every
 * address ('0.0.0.0:9090') and at one of them ('127.0.0.1:9090'). TC_OK
 * when no socket of 'g' is at its address; a port-0 bind never clashes.
 */
static int
same_address(const gen_t *g, size_t i, const tc_config_t *cfg, tc_err_t *err)
{
    const char *spec = cfg->binds[i];
    for (size_t j = 0; j < g->n && !tc_bindaddr_picks_port(spec); j++) {
        const sock_t *s = g->socks[j];
        if (s == NULL || j == i) {
            continue;
        }
        if (tc_listener_serves(&s->l, spec)) {
            return tc_err_set(err, -EADDRINUSE, "bind %s: the same address as bind %s (%s)", spec,
                              cfg->binds[j], s->l.name);
        }
        /* one port at every address and at one of them, as --check-config finds it */
        int rc = tc_bindaddr_check_pair(cfg->binds[j], spec, cfg->reuse_port, err);
        if (rc != TC_OK) {
            return rc;
        }
        /* ... and as only the names, once looked up, show it ('localhost:9090') */
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        bool bound_any = false;
        if (!cfg->reuse_port && getsockname(s->l.fd, (struct sockaddr *)&ss, &len) == 0 &&
            tc_bindaddr_port_clash((const struct sockaddr *)&ss, spec, &bound_any)) {
            return tc_err_set(err, -EADDRINUSE,
                              "bind %s: its port is taken by bind %s (%s), as %s is every "
                              "address (reuse_port is off)",
                              spec, cfg->binds[j], s->l.name, bound_any ? cfg->binds[j] : spec);
        }
    }
    return TC_OK;
}

/* A new socket for bind 'i' of 'g', which no open or inherited one serves. */
static int
open_new(arbiter_t *a, gen_t *g, size_t i, const tc_config_t *cfg, tc_err_t *err)
{
    tc_err_t lerr;
    tc_err_clear(&lerr);
    sock_t *s = tc_xcalloc(1, sizeof(*s));
    int rc = same_address(g, i, cfg, &lerr);
    if (rc == TC_OK) {
        rc = tc_listener_open_ex(&s->l, cfg->binds[i], cfg->backlog, cfg->reuse_port, &lerr);
    }
    if (rc != TC_OK) {
        free(s);
        return tc_err_set(err, rc, "Cannot listen: %s", lerr.msg);
    }
    give_socket(g, &s->l);
    add(a, g, i, s);
    return TC_OK;
}

/* An open socket no bind of 'g' took that the serving generation's bind 'spec' has. */
static sock_t *
open_by_text(const arbiter_t *a, const gen_t *g, const char *spec)
{
    for (size_t k = 0; k < a->nsocks; k++) {
        sock_t *s = a->socks[k];
        if (!tc_generation_has_sock(g, s) && strcmp(tc_socks_bind(a, s), spec) == 0) {
            return s;
        }
    }
    return NULL;
}

/* An open socket no bind of 'g' took that 'spec' names by its address (or its opening text). */
static sock_t *
open_by_address(const arbiter_t *a, const gen_t *g, const char *spec)
{
    for (size_t k = 0; k < a->nsocks; k++) {
        sock_t *s = a->socks[k];
        if (!tc_generation_has_sock(g, s) && tc_listener_serves(&s->l, spec)) {
            return s;
        }
    }
    return NULL;
}

/*
 * How a bind takes a socket it does not open, the surest way first:
 * BY_TEXT, a bind that names an address, the socket that the serving
 * generation's bind of the same text has (or the descriptor handed over
 * for it); BY_ADDRESS, such a bind, the one at the address it names
 * another way; BY_PORT0_TEXT, a port-0 bind, a socket of a port-0 bind of
 * the same text that no bind took for its address. So "127.0.0.1:40123"
 * takes the socket "127.0.0.1:0" got at 40123, and a "127.0.0.1:0" beside
 * it opens a new port, in either order.
 */
enum take { BY_TEXT, BY_ADDRESS, BY_PORT0_TEXT };

/* The sockets the binds of 'g' take, the way 'how' says, of those open or inherited. */
static int
take_existing(arbiter_t *a, gen_t *g, const tc_config_t *cfg, enum take how, tc_err_t *err)
{
    for (size_t i = 0; i < cfg->nbinds; i++) {
        const char *spec = cfg->binds[i];
        bool port0 = tc_bindaddr_picks_port(spec);
        if (g->socks[i] != NULL || port0 != (how == BY_PORT0_TEXT)) {
            continue; /* taken already, or not this way */
        }
        bool by_address = how == BY_ADDRESS;
        sock_t *s = by_address ? open_by_address(a, g, spec) : open_by_text(a, g, spec);
        if (s != NULL) {
            keep(g, i, s, cfg, by_address);
            continue;
        }
        const tc_inherit_fd_t *in = by_address ? tc_inherit_take_address(&a->inherit, spec, cfg)
                                               : tc_inherit_take(&a->inherit, spec);
        int rc = in != NULL ? adopt(a, g, i, in, by_address, cfg, err) : TC_OK;
        if (rc != TC_OK) {
            return rc;
        }
    }
    return TC_OK;
}

/*
 * The listening sockets of the binds of 'cfg' for generation 'g': every
 * bind first takes the socket open already or inherited that it names
 * (take_existing(), in the order of 'enum take'), so that a socket is the
 * bind's that names its address, whatever the order of the config; the
 * other binds, in order, open a new one each. Never one 'g' holds: two
 * binds of a config are two sockets, or a clash.
 */
int
tc_socks_take(arbiter_t *a, gen_t *g, const tc_config_t *cfg, tc_err_t *err)
{
    TC_ASSERT(g->n == cfg->nbinds);
    for (int how = BY_TEXT; how <= BY_PORT0_TEXT; how++) {
        int rc = take_existing(a, g, cfg, (enum take)how, err);
        if (rc != TC_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < cfg->nbinds; i++) {
        int rc = g->socks[i] != NULL ? TC_OK : open_new(a, g, i, cfg, err);
        if (rc != TC_OK) {
            return rc;
        }
    }
    return TC_OK;
}

/*
 * The bind 's' serves in the serving generation's config, which may name
 * it another way than the bind that opened it; its own text otherwise.
 */
char *
tc_socks_bind(const arbiter_t *a, const sock_t *s)
{
    const gen_t *g = a->cur;
    for (size_t i = 0; g != NULL && i < g->n; i++) {
        if (g->socks[i] == s) {
            return g->cfg->binds[i];
        }
    }
    return s->l.spec;
}
