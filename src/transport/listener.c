/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening sockets: a bind spec parsed, bound and listened on by the arbiter
 * before it forks; the workers inherit the descriptors and accept on them.
 */
#include "transport/listener.h"

#include "core/alloc.h"
#include "core/file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define UNIX_PREFIX "unix:"
#define FD_PREFIX   "fd://"
#define SPEC_FORMS  "expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"
#define HOST_MAX    256 /* a DNS name is at most 253 bytes */
#define NAME_LEN    (INET6_ADDRSTRLEN + 16)

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

/* "127.0.0.1:9090" or "[::1]:9090" for an AF_INET or AF_INET6 address. */
static void
format_addr(const struct sockaddr *sa, char *buf, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip)) == NULL) {
            (void)snprintf(ip, sizeof(ip), "?");
        }
        (void)snprintf(buf, n, "[%s]:%u", ip, (unsigned)ntohs(a6->sin6_port));
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)sa;
        if (inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip)) == NULL) {
            (void)snprintf(ip, sizeof(ip), "?");
        }
        (void)snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(a4->sin_port));
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
    char buf[sizeof(((struct sockaddr_un *)NULL)->sun_path) + NAME_LEN];
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        format_addr(sa, buf, sizeof(buf));
    } else if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)sa;
        size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                          ? len - offsetof(struct sockaddr_un, sun_path)
                          : 0;
        if (plen > 0 && un->sun_path[0] == '\0') {
            /* Linux abstract socket: shown with '@', as ss(8) does */
            (void)snprintf(buf, sizeof(buf), UNIX_PREFIX "@%.*s", (int)(plen - 1),
                           un->sun_path + 1);
        } else {
            (void)snprintf(buf, sizeof(buf), UNIX_PREFIX "%.*s", (int)strnlen(un->sun_path, plen),
                           un->sun_path);
        }
    } else {
        return TC_EINVAL;
    }
    *name = tc_xstrdup(buf);
    *family = ss.ss_family;
    return TC_OK;
}

/* ---- HOST:PORT and [V6]:PORT ---- */

/* A decimal port, 0-65535, no sign, no spaces. */
static int
parse_port(const char *spec, const char *s, unsigned *port, tc_err_t *err)
{
    if (*s == '\0') {
        return tc_err_set(err, TC_EINVAL, "%s: missing port after ':'", spec);
    }
    unsigned long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return tc_err_set(err, TC_EINVAL, "%s: port '%s' is not a number", spec, s);
        }
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535) {
            return tc_err_set(err, TC_EINVAL, "%s: port %s out of range (0-65535)", spec, s);
        }
    }
    *port = (unsigned)v;
    return TC_OK;
}

/*
 * A bracketed host must be an IPv6 address; one of digits and dots only is
 * meant as an IPv4 address (not a name to look up), so it must read as one.
 */
static int
check_host(const char *spec, const char *host, bool v6, tc_err_t *err)
{
    struct in6_addr a6;
    struct in_addr a4;
    char addr[HOST_MAX];
    /* a zone ("fe80::1%eth0") is the interface's name: looked up when the bind opens */
    (void)snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(host, "%"), host);
    if (v6 && inet_pton(AF_INET6, addr, &a6) != 1) {
        return tc_err_set(err, TC_EINVAL, "%s: '%s' is not an IPv6 address", spec, host);
    }
    /*
     * no name a resolver knows holds a space or a control character (the
     * hosts file separates names by them): " 0.0.0.0" would pass the check
     * and fail only when the bind opens, as a host not found
     */
    for (const char *p = host; !v6 && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == 0x7f) {
            return tc_err_set(err, TC_EINVAL, "%s: the host '%s' contains %s at byte %zu", spec,
                              host, c == ' ' ? "a space" : "a control character",
                              (size_t)(p - host) + 1);
        }
    }
    /* inet_aton(), as getaddrinfo() reads numbers: "127.1" is 127.0.0.1 */
    if (!v6 && strspn(host, "0123456789.") == strlen(host) && inet_aton(host, &a4) == 0) {
        return tc_err_set(err, TC_EINVAL, "%s: '%s' is not an IPv4 address", spec, host);
    }
    return TC_OK;
}

/*
 * The length of the URL scheme 'spec' starts with ("tcp://": RFC 3986's
 * ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) then "://"), 0 for none: such
 * a bind is none of the forms, not an IPv6 address missing its brackets.
 */
static size_t
scheme_len(const char *spec)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t n = strspn(spec, alpha);
    if (n == 0) {
        return 0;
    }
    n += strspn(spec + n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return strncmp(spec + n, "://", 3) == 0 ? n + 3 : 0;
}

/*
 * Split 'spec' into host and port, both checked for their form; '*v6' is
 * set for the bracketed form.
 */
static int
split_host_port(const char *spec, char *host, unsigned *port, bool *v6, tc_err_t *err)
{
    const char *colon;
    const char *hbeg = spec;
    size_t hlen;
    size_t scheme = scheme_len(spec);
    if (scheme > 0) {
        return tc_err_set(err, TC_EINVAL, "%s: unknown scheme '%.*s': " SPEC_FORMS, spec,
                          (int)scheme, spec);
    }
    *v6 = spec[0] == '[';
    if (*v6) {
        const char *close = strchr(spec, ']');
        if (close == NULL) {
            return tc_err_set(err, TC_EINVAL, "%s: missing ']' after the IPv6 address", spec);
        }
        if (close[1] != ':') {
            return tc_err_set(err, TC_EINVAL, "%s: expected ':PORT' after ']'", spec);
        }
        hbeg = spec + 1;
        hlen = (size_t)(close - hbeg);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL) {
            return tc_err_set(err, TC_EINVAL, "%s: " SPEC_FORMS, spec);
        }
        hlen = (size_t)(colon - spec);
        if (memchr(spec, ':', hlen) != NULL) {
            return tc_err_set(err, TC_EINVAL, "%s: an IPv6 address goes in brackets: [V6]:PORT",
                              spec);
        }
    }
    if (hlen == 0) {
        return tc_err_set(err, TC_EINVAL, "%s: missing host (use 0.0.0.0 or [::] for all)", spec);
    }
    if (hlen >= HOST_MAX) {
        return tc_err_set(err, TC_EINVAL, "%s: host name too long", spec);
    }
    memcpy(host, hbeg, hlen);
    host[hlen] = '\0';
    int rc = parse_port(spec, colon + 1, port, err);
    return rc == TC_OK ? check_host(spec, host, *v6, err) : rc;
}

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
    char addr[NAME_LEN];
    char label[HOST_MAX + 2 * NAME_LEN];
    format_addr(sa, addr, sizeof(addr));
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

/* The addresses of 'host' and 'port' to bind: getaddrinfo()'s return code. */
static int
resolve(const char *host, unsigned port, bool v6, struct addrinfo **res)
{
    char service[8];
    (void)snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = v6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (v6 ? AI_NUMERICHOST : 0);
    errno = 0; /* read for EAI_SYSTEM */
    return getaddrinfo(host, service, &hints, res);
}

static int
open_inet(tc_listener_t *l, const char *spec, int backlog, bool reuse_port, tc_err_t *err)
{
    char host[HOST_MAX];
    unsigned port = 0;
    bool v6;
    int rc = split_host_port(spec, host, &port, &v6, err);
    if (rc != TC_OK) {
        return rc;
    }
    struct addrinfo *res = NULL;
    int grc = resolve(host, port, v6, &res);
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

/* The address of unix:PATH, or TC_EINVAL for a path that cannot be one. */
static int
unix_addr(const char *spec, struct sockaddr_un *sun, tc_err_t *err)
{
    const char *path = spec + strlen(UNIX_PREFIX);
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (*path == '\0') {
        return tc_err_set(err, TC_EINVAL, "%s: missing path after 'unix:'", spec);
    }
    if (strlen(path) >= sizeof(sun->sun_path)) {
        return tc_err_set(err, TC_EINVAL, "%s: path longer than %zu bytes", spec,
                          sizeof(sun->sun_path) - 1);
    }
    memcpy(sun->sun_path, path, strlen(path) + 1);
    return TC_OK;
}

static int
open_unix(tc_listener_t *l, const char *spec, int backlog, tc_err_t *err)
{
    const char *path = spec + strlen(UNIX_PREFIX);
    struct sockaddr_un sun;
    int urc = unix_addr(spec, &sun, err);
    if (urc != TC_OK) {
        return urc;
    }

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return tc_err_set(err, -EEXIST, "%s: a file that is not a socket is in the way", spec);
        }
        int rc = remove_stale_socket(spec, path, &sun, err);
        if (rc != TC_OK) {
            return rc;
        }
    } else if (errno != ENOENT) {
        int rc = -errno;
        return tc_err_set(err, rc, "%s: %s", spec, tc_strerror(rc));
    }

    const char *step = "bind";
    int fd = bind_unix(&sun, backlog, &step);
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

/* ---- fd://N ---- */

static int
parse_fd(const char *spec, const char *s, int *fd, tc_err_t *err)
{
    long v = 0;
    if (*s == '\0') {
        return tc_err_set(err, TC_EINVAL, "%s: missing descriptor number", spec);
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return tc_err_set(err, TC_EINVAL, "%s: '%s' is not a descriptor number", spec, s);
        }
        v = v * 10 + (*p - '0');
        if (v > INT_MAX) {
            return tc_err_set(err, TC_EINVAL, "%s: descriptor number out of range", spec);
        }
    }
    *fd = (int)v;
    return TC_OK;
}

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
    int rc = parse_fd(spec, spec + strlen(FD_PREFIX), &fd, err);
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

/* ---- the same address written another way ---- */

/* Whether 'a' and 'b' are the same IPv4 or IPv6 address and port. */
static bool
same_inet(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family) {
        return false;
    }
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

/*
 * Whether HOST:PORT or [V6]:PORT resolves, as open_inet() resolves it, to
 * the address 'bound'. open_inet() binds the first address that binds, so
 * any of them is one it could have bound. Port 0 asks for a new port: never.
 */
static bool
inet_serves(const struct sockaddr *bound, const char *spec)
{
    char host[HOST_MAX];
    unsigned port = 0;
    bool v6;
    if (split_host_port(spec, host, &port, &v6, NULL) != TC_OK || port == 0) {
        return false;
    }
    /* another port: no name to look up */
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)bound;
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)bound;
    if (ntohs(bound->sa_family == AF_INET ? a4->sin_port : a6->sin6_port) != port) {
        return false;
    }
    struct addrinfo *res = NULL;
    if (resolve(host, port, v6, &res) != 0) {
        return false;
    }
    bool same = false;
    for (const struct addrinfo *ai = res; ai != NULL && !same; ai = ai->ai_next) {
        same = same_inet(ai->ai_addr, bound);
    }
    freeaddrinfo(res);
    return same;
}

/*
 * 'path' made absolute (tc_file_abs_path()) into 'out'. False for a name
 * that ends in a folder, and when it does not fit.
 */
static bool
unix_abs_path(const char *path, char *out, size_t n)
{
    const char *last = strrchr(path, '/');
    last = last != NULL ? last + 1 : path;
    if (*last == '\0' || strcmp(last, ".") == 0) {
        return false; /* a folder: bind() makes no socket there */
    }
    return tc_file_abs_path(path, out, n);
}

/* Whether unix:PATH names the file 'bound' was bound to (both made absolute). */
static bool
unix_serves(const struct sockaddr_un *bound, socklen_t blen, const char *spec)
{
    size_t plen = blen > offsetof(struct sockaddr_un, sun_path)
                      ? blen - offsetof(struct sockaddr_un, sun_path)
                      : 0;
    if (plen == 0 || bound->sun_path[0] == '\0') {
        return false; /* unnamed or abstract: no file to name */
    }
    char was[sizeof(bound->sun_path) + 1];
    (void)snprintf(was, sizeof(was), "%.*s", (int)strnlen(bound->sun_path, plen), bound->sun_path);
    char a[PATH_MAX];
    char b[PATH_MAX];
    return unix_abs_path(was, a, sizeof(a)) &&
           unix_abs_path(spec + strlen(UNIX_PREFIX), b, sizeof(b)) && strcmp(a, b) == 0;
}

/*
 * The address of HOST:PORT or [V6]:PORT read without a lookup, into 'ss':
 * a host getaddrinfo() takes as a number (inet_aton()'s forms for IPv4:
 * "127.1", "0x7f.0.0.1"), or an IPv6 address without a zone. False for a
 * name, a zone, port 0 (a port of its own) and what the check refuses.
 */
static bool
numeric_addr(const char *spec, struct sockaddr_storage *ss)
{
    char host[HOST_MAX];
    unsigned port = 0;
    bool v6;
    if (split_host_port(spec, host, &port, &v6, NULL) != TC_OK || port == 0) {
        return false;
    }
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return strchr(host, '%') == NULL && inet_pton(AF_INET6, host, &a6->sin6_addr) == 1;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return inet_aton(host, &a4->sin_addr) != 0;
}

/* Whether 'sa' is 0.0.0.0 or [::], every address of its family. */
static bool
any_addr(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        return ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr == INADDR_ANY;
    }
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)sa;
    return IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
}

/* ---- public ---- */

int
tc_listener_check_pair(const char *earlier, const char *later, bool reuse_port, tc_err_t *err)
{
    if (strcmp(earlier, later) == 0) {
        return TC_OK; /* port 0 twice: two ports; any other text twice the config refuses */
    }
    size_t ul = strlen(UNIX_PREFIX);
    if (strncmp(earlier, UNIX_PREFIX, ul) == 0 && strncmp(later, UNIX_PREFIX, ul) == 0) {
        char a[PATH_MAX];
        char b[PATH_MAX];
        if (unix_abs_path(earlier + ul, a, sizeof(a)) && unix_abs_path(later + ul, b, sizeof(b)) &&
            strcmp(a, b) == 0) {
            /* named as the socket bound at 'earlier' is: its path as written */
            return tc_err_set(err, -EADDRINUSE, "bind %s: the same address as bind %s (%s)", later,
                              earlier, earlier);
        }
        return TC_OK;
    }
    struct sockaddr_storage x;
    struct sockaddr_storage y;
    if (!numeric_addr(earlier, &x) || !numeric_addr(later, &y) || x.ss_family != y.ss_family) {
        return TC_OK; /* a name is looked up only when the bind opens */
    }
    const struct sockaddr *xa = (const struct sockaddr *)&x;
    const struct sockaddr *ya = (const struct sockaddr *)&y;
    char name[NAME_LEN];
    format_addr(xa, name, sizeof(name));
    if (same_inet(xa, ya)) {
        return tc_err_set(err, -EADDRINUSE, "bind %s: the same address as bind %s (%s)", later,
                          earlier, name);
    }
    /*
     * every address of a family and one of them, at one port: bind() of the
     * later fails, in either order, unless both sockets have SO_REUSEPORT
     */
    const struct sockaddr_in *x4 = (const struct sockaddr_in *)(const void *)xa;
    const struct sockaddr_in6 *x6 = (const struct sockaddr_in6 *)(const void *)xa;
    const struct sockaddr_in *y4 = (const struct sockaddr_in *)(const void *)ya;
    const struct sockaddr_in6 *y6 = (const struct sockaddr_in6 *)(const void *)ya;
    bool same_port =
        x.ss_family == AF_INET ? x4->sin_port == y4->sin_port : x6->sin6_port == y6->sin6_port;
    if (!reuse_port && same_port && (any_addr(xa) || any_addr(ya))) {
        return tc_err_set(err, -EADDRINUSE,
                          "bind %s: its port is taken by bind %s (%s), as %s is every address "
                          "(reuse_port is off)",
                          later, earlier, name, any_addr(xa) ? earlier : later);
    }
    return TC_OK;
}

int
tc_listener_check(const char *spec, tc_err_t *err)
{
    if (spec == NULL || *spec == '\0') {
        return tc_err_set(err, TC_EINVAL, "empty bind address: " SPEC_FORMS);
    }
    if (strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0) {
        struct sockaddr_un sun;
        return unix_addr(spec, &sun, err);
    }
    if (strncmp(spec, FD_PREFIX, strlen(FD_PREFIX)) == 0) {
        int fd;
        return parse_fd(spec, spec + strlen(FD_PREFIX), &fd, err);
    }
    char host[HOST_MAX];
    unsigned port;
    bool v6;
    return split_host_port(spec, host, &port, &v6, err);
}

int
tc_listener_check_path(const char *spec, tc_err_t *err)
{
    if (spec == NULL || strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) != 0) {
        return TC_OK;
    }
    const char *path = spec + strlen(UNIX_PREFIX);
    struct stat st;
    if (lstat(path, &st) == 0) {
        return S_ISSOCK(st.st_mode)
                   ? TC_OK
                   : tc_err_set(err, -EEXIST, "%s: a file that is not a socket is in the way",
                                spec);
    }
    int rc = errno == ENOENT ? tc_file_check_folder(path) : -errno;
    return rc == TC_OK ? TC_OK : tc_err_set(err, rc, "%s: %s", spec, tc_strerror(rc));
}

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
        return tc_err_set(err, TC_EINVAL, "empty bind address: " SPEC_FORMS);
    }
    if (strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0) {
        rc = open_unix(l, spec, backlog, err);
    } else if (strncmp(spec, FD_PREFIX, strlen(FD_PREFIX)) == 0) {
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
    if (strncmp(spec, FD_PREFIX, strlen(FD_PREFIX)) == 0) {
        return false; /* a descriptor, not an address: only the same text is the same */
    }
    if (tc_listener_check(spec, NULL) != TC_OK) {
        return false; /* one that would not open serves nothing */
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0) {
        return false;
    }
    bool unix_spec = strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0;
    if (ss.ss_family == AF_UNIX) {
        return unix_spec && unix_serves((const struct sockaddr_un *)(const void *)&ss, len, spec);
    }
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        return !unix_spec && inet_serves((const struct sockaddr *)&ss, spec);
    }
    return false;
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
