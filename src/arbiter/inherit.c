/* SPDX-License-Identifier: Apache-2.0 */
/* Inherited listening sockets: the environment protocol of upgrades and of systemd. */
#include "arbiter/inherit.h"

#include "core/alloc.h"
#include "core/file.h"
#include "core/log.h"
#include "transport/bindaddr.h"
#include "transport/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SD_LISTEN_FDS_START 3
#define SD_LISTEN_FDS_MAX   1024

/* NOLINTBEGIN(concurrency-mt-unsafe): the arbiter is single-threaded */

static void
add(tc_inherit_t *in, int fd, const char *spec, bool systemd)
{
    /* ours now: no process a hook starts before the binds open may keep it listening */
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) {
        (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
    in->fds = tc_xrealloc(in->fds, (in->n + 1) * sizeof(*in->fds));
    in->fds[in->n].fd = fd;
    in->fds[in->n].spec = tc_xstrdup(spec);
    in->fds[in->n].systemd = systemd;
    in->fds[in->n].taken = false;
    in->fds[in->n].unix_path = NULL;
    in->fds[in->n].unix_dev = 0;
    in->fds[in->n].unix_ino = 0;
    in->n++;
}

/*
 * THRIFTCORN_UNIX_<fd>: "DEV:INO:PATH", the socket file the old arbiter
 * owned, which 'f' then owns. Without it (or malformed) no file is.
 */
static void
load_unix_file(tc_inherit_fd_t *f, const char *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long long dev = strtoull(value, &end, 10);
    if (errno != 0 || end == value || *end != ':') {
        return;
    }
    const char *p = end + 1;
    unsigned long long ino = strtoull(p, &end, 10);
    if (errno != 0 || end == p || *end != ':' || end[1] != '/' || ino == 0) {
        return;
    }
    f->unix_path = tc_xstrdup(end + 1);
    f->unix_dev = (dev_t)dev;
    f->unix_ino = (ino_t)ino;
}

static void
load_upgrade(tc_inherit_t *in, const char *list)
{
    char *copy = tc_xstrdup(list);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *end = NULL;
        long fd = strtol(tok, &end, 10);
        char name[64];
        (void)snprintf(name, sizeof(name), "THRIFTCORN_BIND_%ld", fd);
        const char *spec = getenv(name);
        if (end == tok || fd < 0 || fd > 65535 || spec == NULL) {
            continue;
        }
        add(in, (int)fd, spec, false);
        (void)unsetenv(name);
        /* systemd's socket stays systemd's through an upgrade: its file is not ours */
        (void)snprintf(name, sizeof(name), "THRIFTCORN_SYSTEMD_%ld", fd);
        if (getenv(name) != NULL) {
            in->fds[in->n - 1].systemd = true;
            (void)unsetenv(name);
        }
        (void)snprintf(name, sizeof(name), "THRIFTCORN_UNIX_%ld", fd);
        const char *file = getenv(name);
        if (file != NULL) {
            if (!in->fds[in->n - 1].systemd) {
                load_unix_file(&in->fds[in->n - 1], file);
            }
            (void)unsetenv(name);
        }
    }
    free(copy);
}

/* ---- systemd's LISTEN_FDS ---- */

/* How a bind may take one of systemd's sockets, the surest way first. */
enum match { BY_FD, BY_ADDRESS, BY_KIND, BY_ORDER };

/* 'u' for a unix socket, 'i' for TCP, 0 for anything else (not a socket, say) */
static int
fd_kind(int fd)
{
    int domain = 0;
    socklen_t len = sizeof(domain);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) {
        return 0;
    }
    return domain == AF_UNIX ? 'u' : domain == AF_INET || domain == AF_INET6 ? 'i' : 0;
}

static bool
fits(enum match how, int fd, const char *bind)
{
    if (strncmp(bind, "fd://", 5) == 0) {
        /* a descriptor named by its number is that one or none */
        char name[32];
        (void)snprintf(name, sizeof(name), "fd://%d", fd);
        return how == BY_FD && strcmp(bind, name) == 0;
    }
    if (how == BY_ADDRESS) {
        tc_listener_t l = {.fd = fd};
        return tc_listener_serves(&l, bind);
    }
    if (how == BY_KIND) {
        int kind = fd_kind(fd);
        return kind != 0 && kind == (strncmp(bind, "unix:", 5) == 0 ? 'u' : 'i');
    }
    return how == BY_ORDER;
}

/*
 * systemd's 'n' descriptors from 3 on, in the order of the socket unit,
 * which need not be the order of 'binds': each bind takes the one it names
 * (fd://N, or its address), then one of its kind (unix or TCP), then any
 * one, in order. A bind left without one opens its own; a descriptor left
 * without a bind is closed.
 */
static void
load_systemd(tc_inherit_t *in, int n, char *const *binds, size_t nbinds)
{
    const char **owner = tc_xcalloc((size_t)n + 1, sizeof(*owner));
    bool *served = tc_xcalloc(nbinds + 1, sizeof(*served));
    for (int how = BY_FD; how <= BY_ORDER; how++) {
        for (size_t j = 0; j < nbinds; j++) {
            for (int i = 0; i < n && !served[j]; i++) {
                if (owner[i] == NULL && fits((enum match)how, SD_LISTEN_FDS_START + i, binds[j])) {
                    owner[i] = binds[j];
                    served[j] = true;
                }
            }
        }
    }
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        if (owner[i] != NULL) {
            add(in, fd, owner[i], true);
        } else {
            char spec[32];
            (void)snprintf(spec, sizeof(spec), "fd://%d", fd);
            tc_log(TC_LOG_WARNING, "LISTEN_FDS: no bind for descriptor %d; closing it", fd);
            add(in, fd, spec, true);
        }
    }
    free(served);
    free(owner);
}

void
tc_inherit_load(tc_inherit_t *in, char *const *binds, size_t nbinds)
{
    memset(in, 0, sizeof(*in));
    const char *list = getenv("THRIFTCORN_FDS");
    if (list != NULL) {
        load_upgrade(in, list);
        (void)unsetenv("THRIFTCORN_FDS");
    }
    const char *pid = getenv("LISTEN_PID");
    const char *nfds = getenv("LISTEN_FDS");
    if (pid != NULL && nfds != NULL && strtol(pid, NULL, 10) == (long)getpid()) {
        long n = strtol(nfds, NULL, 10);
        if (n > SD_LISTEN_FDS_MAX) {
            n = SD_LISTEN_FDS_MAX;
        }
        load_systemd(in, n > 0 ? (int)n : 0, binds, nbinds);
    }
    (void)unsetenv("LISTEN_PID");
    (void)unsetenv("LISTEN_FDS");
    (void)unsetenv("LISTEN_FDNAMES");
}

const tc_inherit_fd_t *
tc_inherit_take(tc_inherit_t *in, const char *spec)
{
    for (size_t i = 0; i < in->n; i++) {
        if (!in->fds[i].taken && strcmp(in->fds[i].spec, spec) == 0) {
            in->fds[i].taken = true;
            return &in->fds[i];
        }
    }
    return NULL;
}

/*
 * Binding the address again would fail ('address already in use') or, with
 * 'reuse_port', open a second socket beside the inherited one, whose
 * backlog nobody accepts from once the old arbiter's workers stop: the
 * clients the kernel queues there are reset when it closes. So a bind
 * takes the socket at its address, as nginx matches inherited sockets and
 * a reload keeps an open one. Not one handed over for a bind of 'cfg' that
 * names an address, which is that bind's; one handed over for a port-0
 * bind ("127.0.0.1:0", at port 40123) is the bind's that names its port.
 */
const tc_inherit_fd_t *
tc_inherit_take_address(tc_inherit_t *in, const char *spec, const tc_config_t *cfg)
{
    for (size_t i = 0; i < in->n; i++) {
        tc_inherit_fd_t *f = &in->fds[i];
        tc_listener_t l = {.fd = f->fd};
        bool named = tc_config_has_bind(cfg, f->spec) && !tc_bindaddr_picks_port(f->spec);
        if (!f->taken && !named && tc_listener_serves(&l, spec)) {
            f->taken = true;
            return f;
        }
    }
    return NULL;
}

void
tc_inherit_deinit(tc_inherit_t *in)
{
    for (size_t i = 0; i < in->n; i++) {
        if (!in->fds[i].taken) {
            (void)close(in->fds[i].fd);
        }
        free(in->fds[i].spec);
        free(in->fds[i].unix_path);
    }
    free(in->fds);
    memset(in, 0, sizeof(*in));
}

/*
 * THRIFTCORN_UNIX_<fd> for the socket file 'o' owns: a relative path is
 * made absolute here, from the folder it was bound in, since the new
 * arbiter starts in the folder as named at start (a release symlink
 * switched since names another one).
 */
static void
export_unix_file(const tc_inherit_out_t *o)
{
    if (o->systemd || o->unix_path == NULL || o->unix_ino == 0) {
        return;
    }
    char path[PATH_MAX];
    if (!tc_file_abs_path(o->unix_path, path, sizeof(path))) {
        return; /* no file handed over: the new arbiter leaves it */
    }
    size_t len = strlen(path) + 64;
    char *value = tc_xcalloc(len, 1);
    (void)snprintf(value, len, "%llu:%llu:%s", (unsigned long long)o->unix_dev,
                   (unsigned long long)o->unix_ino, path);
    char name[64];
    (void)snprintf(name, sizeof(name), "THRIFTCORN_UNIX_%d", o->fd);
    (void)setenv(name, value, 1);
    free(value);
}

void
tc_inherit_export(const tc_inherit_out_t *out, size_t n)
{
    char list[4096];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const tc_inherit_out_t *o = &out[i];
        int flags = fcntl(o->fd, F_GETFD);
        if (flags < 0 || fcntl(o->fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
            continue;
        }
        int k = snprintf(list + used, sizeof(list) - used, "%s%d", used ? "," : "", o->fd);
        if (k < 0 || (size_t)k >= sizeof(list) - used) {
            break;
        }
        used += (size_t)k;
        char name[64];
        (void)snprintf(name, sizeof(name), "THRIFTCORN_BIND_%d", o->fd);
        (void)setenv(name, o->spec, 1);
        if (o->systemd) {
            (void)snprintf(name, sizeof(name), "THRIFTCORN_SYSTEMD_%d", o->fd);
            (void)setenv(name, "1", 1);
        }
        export_unix_file(o);
    }
    (void)setenv("THRIFTCORN_FDS", list, 1);
}

/* NOLINTEND(concurrency-mt-unsafe) */
