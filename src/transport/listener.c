/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening sockets: what a bind names (transport/bindaddr.c) bound and
 * listened on by the arbiter before it forks; the workers inherit the
 * descriptors and accept on them.
 */
#include "transport/listener.h"

#include "core/alloc.h"
#include "transport/bindaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static void
reset(tc_listener_t *l)
{
    l->fd = -1;
    l->family = AF_UNSPEC;
    l->spec = NULL;
    l->name = NULL;
    l->unix_path = NULL;
    l->unix_dev = 0;
    l->unix_ino = 0;
}

/* close() is not retried on EINTR: on Linux the descriptor is gone either way. */
static void
close_fd(int fd)
{
    if (fd >= 0) {
        (void)close(fd);
    }
}

/* The name a bound socket goes by: "127.0.0.1:40123", "[::1]:9090", "unix:/x.sock". */
static int
sock_name(int fd, char **name, int *family)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -errno;
    }
    char buf[sizeof(((struct sockaddr_un *)NULL)->sun_path) + TC_BINDADDR_NAME_LEN];
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        tc_bindaddr_format(sa, buf, sizeof(buf));
    } else if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)sa;
        size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                          ? len - offsetof(struct sockaddr_un, sun_path)
                          : 0;
        if (plen > 0 && un->sun_path[0] == '\0') {
            /* Linux abstract socket: shown with '@', as ss(8) does */
            (void)snprintf(buf, sizeof(buf), TC_BINDADDR_UNIX "@%.*s", (int)(plen - 1),
                           un->sun_path + 1);
        } else {
            (void)snprintf(buf, sizeof(buf), TC_BINDADDR_UNIX "%.*s",
                           (int)strnlen(un->sun_path, plen), un->sun_path);
        }
    } else {
        return TC_EINVAL;
    }
    *name = tc_xstrdup(buf);
    *family = ss.ss_family;
    return TC_OK;
}

/* ---- HOST:PORT and [V6]:PORT ---- */

/* The reason getaddrinfo() failed; its gai_strerror() is not documented as thread-safe. */
static const char *
gai_reason(int rc, int saved_errno)
{
    switch (rc) {
    case EAI_NONAME:
    case EAI_NODATA:
        return "host not found";
    case EAI_AGAIN:
        return "temporary failure in name resolution";
    case EAI_FAMILY:
    case EAI_ADDRFAMILY:
        return "no address of a supported family";
    case EAI_MEMORY:
        return tc_strerror(-ENOMEM);
    case EAI_SYSTEM:
        return tc_strerror(-saved_errno);
    default:
        return "name resolution failed";
    }
}

/* socket(), options, bind(), listen() for one address; the failed step in '*step'. */
static int
bind_addr(const struct addrinfo *ai, int backlog, bool reuse_port, const char **step)
{
    int one = 1;
    *step = "socket";
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    *step = "setsockopt";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
        goto fail;
    }
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        goto fail;
    }
    /* [::]:PORT means IPv6 only, as in nginx; bind 0.0.0.0:PORT too for both */
    if (ai->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
        goto fail;
    }
    *step = "bind";
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        goto fail;
    }
    *step = "listen";
    if (listen(fd, backlog) < 0) {
        goto fail;
    }
    return fd;
fail:;
    int rc = -errno;
    close_fd(fd);
    return rc;
}

/* "SPEC (ADDR): [STEP: ]REASON"; ADDR only when a name was resolved, STEP unless bind. */
static void
report(const char *spec, const struct sockaddr *sa, const char *step, int rc, tc_err_t *err)
{
    char addr[TC_BINDADDR_NAME_LEN];
    char label[TC_BINDADDR_HOST_MAX + 2 * TC_BINDADDR_NAME_LEN];
    tc_bindaddr_format(sa, addr, sizeof(addr));
    if (strcmp(addr, spec) == 0) {
        (void)snprintf(label, sizeof(label), "%s", spec);
    } else {
        (void)snprintf(label, sizeof(label), "%s (%s)", spec, addr);
    }
    if (strcmp(step, "bind") == 0) {
        tc_err_set(err, rc, "%s: %s", label, tc_strerror(rc));
    } else {
        tc_err_set(err, rc, "%s: %s: %s", label, step, tc_strerror(rc));
    }
}

static int
open_inet(tc_listener_t *l, const char *spec, int backlog, bool reuse_port, tc_err_t *err)
{
    char host[TC_BINDADDR_HOST_MAX];
    unsigned port = 0;
    bool v6;
    int rc = tc_bindaddr_split(spec, host, &port, &v6, err);
    if (rc != TC_OK) {
        return rc;
    }
    struct addrinfo *res = NULL;
    int grc = tc_bindaddr_resolve(host, port, v6, &res);
    if (grc != 0) {
        if (v6 && grc == EAI_NONAME) {
            return tc_err_set(err, TC_EINVAL, "%s: '%s' is not an IPv6 address", spec, host);
        }
        return tc_err_set(err, grc == EAI_SYSTEM ? -errno : TC_ENOTFOUND, "%s: %s", spec,
                          gai_reason(grc, errno));
    }
    /* a name may resolve to several addresses: the first that binds wins */
    rc = TC_ENOTFOUND;
    for (const struct addrinfo *ai = res; ai != NULL && l->fd < 0; ai = ai->ai_next) {
        const char *step;
        int fd = bind_addr(ai, backlog, reuse_port, &step);
        if (fd >= 0) {
            l->fd = fd;
        } else if (rc == TC_ENOTFOUND) {
            rc = fd;
            report(spec, ai->ai_addr, step, rc, err);
        }
    }
    freeaddrinfo(res);
    if (l->fd < 0) {
        return rc;
    }
    rc = sock_name(l->fd, &l->name, &l->family);
    if (rc != TC_OK) {
        return tc_err_set(err, rc, "%s: getsockname: %s", spec, tc_strerror(rc));
    }
    return TC_OK;
}

/* ---- unix:PATH ---- */

/* How long a start waits for another one to bind in the same folder (ms). */
#define FOLDER_LOCK_WAIT_MS 5000

/*
 * The folder of unix socket 'path', locked (flock()) while this server
 * probes, replaces and binds a socket in it; closing the descriptor
 * returned unlocks it. Two servers started at once on a stale file take
 * turns: the later one finds the earlier one's socket live, instead of
 * removing it after its own probe found the stale one. Other programs do
 * not take the lock. -1 when the folder cannot be opened (bind() says
 * why) or stays locked past FOLDER_LOCK_WAIT_MS: the bind goes on unlocked.
 */
static int
lock_folder(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        (void)snprintf(dir, sizeof(dir), ".");
    } else if (slash == path) {
        (void)snprintf(dir, sizeof(dir), "/");
    } else {
        (void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 10) {
        if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= FOLDER_LOCK_WAIT_MS) {
            close_fd(fd);
            return -1;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10L * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    return fd;
}

/*
 * A socket file already at 'path' is stale when nobody accepts on it any
 * more (connect() is refused); a live one means another server owns it.
 */
static int
remove_stale_socket(const char *spec, const char *path, const struct sockaddr_un *sun,
                    tc_err_t *err)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int rc = -errno;
        return tc_err_set(err, rc, "%s: socket: %s", spec, tc_strerror(rc));
    }
    int rc;
    do {
        rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    } while (rc < 0 && errno == EINTR);
    int e = rc < 0 ? errno : 0;
    close_fd(fd);
    if (rc == 0 || e == EAGAIN) {
        return tc_err_set(err, -EADDRINUSE, "%s: %s (a server is accepting on it)", spec,
                          tc_strerror(-EADDRINUSE));
    }
    if (e != ECONNREFUSED) {
        return tc_err_set(err, -e, "%s: cannot probe the existing socket: %s", spec,
                          tc_strerror(-e));
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        rc = -errno;
        return tc_err_set(err, rc, "%s: cannot remove the stale socket: %s", spec, tc_strerror(rc));
    }
    return TC_OK;
}

/* socket(), bind(), listen() on a unix path; the failed step in '*step'. */
static int
bind_unix(const struct sockaddr_un *sun, int backlog, const char **step)
{
    *step = "socket";
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    *step = "bind";
    if (bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0) {
        int rc = -errno;
        close_fd(fd);
        return rc;
    }
    *step = "listen";
    if (listen(fd, backlog) < 0) {
        int rc = -errno;
        (void)unlink(sun->sun_path); /* ours: bind() just created it */
        close_fd(fd);
        return rc;
    }
    return fd;
}

/* A stale socket file at 'path' replaced, and the new socket bound and listening. */
static int
replace_and_bind(tc_listener_t *l, const char *spec, const char *path,
                 const struct sockaddr_un *sun, int backlog, tc_err_t *err)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return tc_err_set(err, -EEXIST, "%s: a file that is not a socket is in the way", spec);
        }
        int rc = remove_stale_socket(spec, path, sun, err);
        if (rc != TC_OK) {
            return rc;
        }
    } else if (errno != ENOENT) {
        int rc = -errno;
        return tc_err_set(err, rc, "%s: %s", spec, tc_strerror(rc));
    }

    const char *step = "bind";
    int fd = bind_unix(sun, backlog, &step);
    if (fd < 0) {
        if (strcmp(step, "bind") == 0) {
            return tc_err_set(err, fd, "%s: %s", spec, tc_strerror(fd));
        }
        return tc_err_set(err, fd, "%s: %s: %s", spec, step, tc_strerror(fd));
    }
    l->fd = fd;
    l->family = AF_UNIX;
    l->name = tc_xstrdup(spec);
    /* the file bind() just made, known by its inode from now on */
    struct stat made;
    bool sock = lstat(path, &made) == 0 && S_ISSOCK(made.st_mode);
    tc_listener_adopt_path(l, path, sock ? made.st_dev : 0, sock ? made.st_ino : 0);
    return TC_OK;
}

static int
open_unix(tc_listener_t *l, const char *spec, int backlog, tc_err_t *err)
{
    const char *path = spec + strlen(TC_BINDADDR_UNIX);
    struct sockaddr_un sun;
    int rc = tc_bindaddr_unix(spec, &sun, err);
    if (rc != TC_OK) {
        return rc;
    }
    int lock = lock_folder(path);
    rc = replace_and_bind(l, spec, path, &sun, backlog, err);
    close_fd(lock); /* and with it the lock */
    return rc;
}

/* ---- fd://N ---- */

/*
 * Whether socket 'fd' has an address: an IPv4 or IPv6 one has a port (the
 * kernel gives one at bind(), port 0 too), a unix one a path or an abstract
 * name. Another family, or a failed getsockname(), is left to sock_name().
 */
static bool
is_bound(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return true;
    }
    if (ss.ss_family == AF_INET) {
        return ((const struct sockaddr_in *)(const void *)&ss)->sin_port != 0;
    }
    if (ss.ss_family == AF_INET6) {
        return ((const struct sockaddr_in6 *)(const void *)&ss)->sin6_port != 0;
    }
    if (ss.ss_family == AF_UNIX) {
        return len > offsetof(struct sockaddr_un, sun_path);
    }
    return true;
}

/*
 * Adopt an inherited socket (systemd socket activation, a supervisor): it
 * must be a stream socket; it is put in listening, non-blocking,
 * close-on-exec mode. Its file, if it is a unix socket, is not ours to remove.
 */
static int
open_fd(tc_listener_t *l, const char *spec, int backlog, tc_err_t *err)
{
    int fd = -1;
    int rc = tc_bindaddr_fd(spec, &fd, err);
    if (rc != TC_OK) {
        return rc;
    }
    int type = 0;
    int listening = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        rc = -errno;
        if (rc == -EBADF) {
            return tc_err_set(err, rc, "%s: not an open descriptor", spec);
        }
        if (rc == -ENOTSOCK) {
            return tc_err_set(err, rc, "%s: not a socket", spec);
        }
        return tc_err_set(err, rc, "%s: %s", spec, tc_strerror(rc));
    }
    if (type != SOCK_STREAM) {
        return tc_err_set(err, TC_EINVAL, "%s: not a stream socket", spec);
    }
    if (!is_bound(fd)) {
        /* listen() would bind it to every address, on a port the kernel picks */
        return tc_err_set(err, TC_EINVAL, "%s: the socket is not bound to an address", spec);
    }
    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) {
        rc = -errno;
        return tc_err_set(err, rc, "%s: getsockopt: %s", spec, tc_strerror(rc));
    }
    if (!listening && listen(fd, backlog) < 0) {
        rc = -errno;
        return tc_err_set(err, rc, "%s: listen: %s", spec, tc_strerror(rc));
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        rc = -errno;
        return tc_err_set(err, rc, "%s: fcntl: %s", spec, tc_strerror(rc));
    }
    rc = sock_name(fd, &l->name, &l->family);
    if (rc == TC_EINVAL) {
        return tc_err_set(err, rc, "%s: not an IPv4, IPv6 or unix socket", spec);
    }
    if (rc != TC_OK) {
        return tc_err_set(err, rc, "%s: getsockname: %s", spec, tc_strerror(rc));
    }
    l->fd = fd;
    return TC_OK;
}

/* ---- public ---- */

int
tc_listener_open(tc_listener_t *l, const char *spec, int backlog, tc_err_t *err)
{
    return tc_listener_open_ex(l, spec, backlog, false, err);
}

int
tc_listener_open_ex(tc_listener_t *l, const char *spec, int backlog, bool reuse_port, tc_err_t *err)
{
    reset(l);
    int rc;
    if (spec == NULL || *spec == '\0') {
        return tc_err_set(err, TC_EINVAL, "empty bind address: " TC_BINDADDR_FORMS);
    }
    if (strncmp(spec, TC_BINDADDR_UNIX, strlen(TC_BINDADDR_UNIX)) == 0) {
        rc = open_unix(l, spec, backlog, err);
    } else if (strncmp(spec, TC_BINDADDR_FD, strlen(TC_BINDADDR_FD)) == 0) {
        rc = open_fd(l, spec, backlog, err);
    } else {
        rc = open_inet(l, spec, backlog, reuse_port, err);
    }
    if (rc != TC_OK) {
        close_fd(l->fd);
        free(l->name);
        reset(l);
        return rc;
    }
    l->spec = tc_xstrdup(spec);
    return TC_OK;
}

bool
tc_listener_serves(const tc_listener_t *l, const char *spec)
{
    if (l->fd < 0 || spec == NULL || *spec == '\0') {
        return false;
    }
    if (l->spec != NULL && strcmp(l->spec, spec) == 0) {
        return true;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0) {
        return false;
    }
    return tc_bindaddr_names((const struct sockaddr *)&ss, len, spec);
}

void
tc_listener_adopt_path(tc_listener_t *l, const char *path, dev_t dev, ino_t ino)
{
    free(l->unix_path);
    l->unix_path = tc_xstrdup(path);
    l->unix_dev = dev;
    l->unix_ino = ino;
}

void
tc_listener_unlink(const tc_listener_t *l)
{
    struct stat st;
    if (l->unix_path != NULL && l->unix_ino != 0 && lstat(l->unix_path, &st) == 0 &&
        S_ISSOCK(st.st_mode) && st.st_dev == l->unix_dev && st.st_ino == l->unix_ino) {
        (void)unlink(l->unix_path); /* already gone is fine */
    }
}

void
tc_listener_close(tc_listener_t *l, bool unlink_path)
{
    close_fd(l->fd);
    if (unlink_path) {
        tc_listener_unlink(l);
    }
    free(l->spec);
    free(l->name);
    free(l->unix_path);
    reset(l);
}

void
tc_listener_stop(tc_listener_t *l)
{
    close_fd(l->fd);
    l->fd = -1;
}
