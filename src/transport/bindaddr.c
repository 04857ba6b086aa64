/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bind addresses: the text of a bind checked and read into socket addresses,
 * and two texts or a bound socket compared, without opening anything; the
 * arbiter's listeners (transport/listener.c) and the config check use them.
 */
#include "transport/bindaddr.h"

#include "core/file.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
    char addr[TC_BINDADDR_HOST_MAX];
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
 * Whether 'spec' is several addresses written as one bind ("A:1,B:2",
 * "A:1 B:2", as other servers take a list): no address, name or port holds
 * a ',', and a gap with a ':' on both sides parts two addresses. Such a
 * bind would otherwise be refused as an IPv6 address missing its brackets,
 * or looked up as a name.
 */
static bool
several(const char *spec)
{
    const char *gap = spec + strcspn(spec, " \t");
    return strchr(spec, ',') != NULL ||
           (*gap != '\0' && memchr(spec, ':', (size_t)(gap - spec)) != NULL &&
            strchr(gap, ':') != NULL);
}

int
tc_bindaddr_split(const char *spec, char *host, unsigned *port, bool *v6, tc_err_t *err)
{
    const char *colon;
    const char *hbeg = spec;
    size_t hlen;
    size_t scheme = scheme_len(spec);
    if (scheme > 0) {
        return tc_err_set(err, TC_EINVAL, "%s: unknown scheme '%.*s': " TC_BINDADDR_FORMS, spec,
                          (int)scheme, spec);
    }
    if (several(spec)) {
        return tc_err_set(err, TC_EINVAL,
                          "%s: several addresses in one bind: give each its own, as items of a "
                          "list (bind = { \"A\", \"B\" }) or --bind flags",
                          spec);
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
            return tc_err_set(err, TC_EINVAL, "%s: " TC_BINDADDR_FORMS, spec);
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
    if (hlen >= TC_BINDADDR_HOST_MAX) {
        return tc_err_set(err, TC_EINVAL, "%s: host name too long", spec);
    }
    memcpy(host, hbeg, hlen);
    host[hlen] = '\0';
    int rc = parse_port(spec, colon + 1, port, err);
    return rc == TC_OK ? check_host(spec, host, *v6, err) : rc;
}

int
tc_bindaddr_resolve(const char *host, unsigned port, bool v6, struct addrinfo **res)
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

void
tc_bindaddr_format(const struct sockaddr *sa, char *buf, size_t n)
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

/* ---- unix:PATH and fd://N ---- */

int
tc_bindaddr_unix(const char *spec, struct sockaddr_un *sun, tc_err_t *err)
{
    const char *path = spec + strlen(TC_BINDADDR_UNIX);
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (*path == '\0') {
        return tc_err_set(err, TC_EINVAL, "%s: missing path after 'unix:'", spec);
    }
    if (*path == '@') {
        /* how a Linux abstract socket is shown (an fd:// one, as ss(8) does), not a file */
        return tc_err_set(err, TC_EINVAL,
                          "%s: '@' names an abstract socket, which thriftcorn does not bind; "
                          "for a file named %s, write unix:./%s",
                          spec, path, path);
    }
    if (strlen(path) >= sizeof(sun->sun_path)) {
        return tc_err_set(err, TC_EINVAL, "%s: path longer than %zu bytes", spec,
                          sizeof(sun->sun_path) - 1);
    }
    memcpy(sun->sun_path, path, strlen(path) + 1);
    return TC_OK;
}

int
tc_bindaddr_fd(const char *spec, int *fd, tc_err_t *err)
{
    const char *s = spec + strlen(TC_BINDADDR_FD);
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
 * HOST:PORT or [V6]:PORT resolved as tc_listener_open() resolves it (may
 * block), when it names the port of 'bound' (an IPv4 or IPv6 address), or
 * NULL: another port, port 0 (a new port), or a name that does not
 * resolve. Free with freeaddrinfo().
 */
static struct addrinfo *
resolve_at_port(const struct sockaddr *bound, const char *spec)
{
    char host[TC_BINDADDR_HOST_MAX];
    unsigned port = 0;
    bool v6;
    if (tc_bindaddr_split(spec, host, &port, &v6, NULL) != TC_OK || port == 0) {
        return NULL;
    }
    /* another port: no name to look up */
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)bound;
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)bound;
    if (ntohs(bound->sa_family == AF_INET ? a4->sin_port : a6->sin6_port) != port) {
        return NULL;
    }
    struct addrinfo *res = NULL;
    return tc_bindaddr_resolve(host, port, v6, &res) == 0 ? res : NULL;
}

/*
 * Whether HOST:PORT or [V6]:PORT resolves, as tc_listener_open() resolves
 * it, to the address 'bound'. The open binds the first address that binds,
 * so any of them is one it could have bound. Port 0 asks for a new port:
 * never.
 */
static bool
inet_serves(const struct sockaddr *bound, const char *spec)
{
    struct addrinfo *res = resolve_at_port(bound, spec);
    bool same = false;
    for (const struct addrinfo *ai = res; ai != NULL && !same; ai = ai->ai_next) {
        same = same_inet(ai->ai_addr, bound);
    }
    if (res != NULL) {
        freeaddrinfo(res);
    }
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
           unix_abs_path(spec + strlen(TC_BINDADDR_UNIX), b, sizeof(b)) && strcmp(a, b) == 0;
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
    char host[TC_BINDADDR_HOST_MAX];
    unsigned port = 0;
    bool v6;
    if (tc_bindaddr_split(spec, host, &port, &v6, NULL) != TC_OK || port == 0) {
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

/*
 * Whether HOST:PORT or [V6]:PORT resolves to an address of the family of
 * 'bound' at its port where one of the two is every address of that
 * family, which bind() refuses without SO_REUSEPORT on both ('*bound_any':
 * 'bound' is). Port 0 never does.
 */
bool
tc_bindaddr_port_clash(const struct sockaddr *bound, const char *spec, bool *bound_any)
{
    if ((bound->sa_family != AF_INET && bound->sa_family != AF_INET6) ||
        strncmp(spec, TC_BINDADDR_UNIX, strlen(TC_BINDADDR_UNIX)) == 0 ||
        strncmp(spec, TC_BINDADDR_FD, strlen(TC_BINDADDR_FD)) == 0) {
        return false;
    }
    struct addrinfo *res = resolve_at_port(bound, spec);
    bool clash = false;
    for (const struct addrinfo *ai = res; ai != NULL && !clash; ai = ai->ai_next) {
        clash = ai->ai_family == bound->sa_family && (any_addr(bound) || any_addr(ai->ai_addr));
    }
    if (res != NULL) {
        freeaddrinfo(res);
    }
    *bound_any = any_addr(bound);
    return clash;
}

/* ---- checks ---- */

int
tc_bindaddr_check_pair(const char *earlier, const char *later, bool reuse_port, tc_err_t *err)
{
    if (strcmp(earlier, later) == 0) {
        return TC_OK; /* port 0 twice: two ports; any other text twice the config refuses */
    }
    size_t ul = strlen(TC_BINDADDR_UNIX);
    if (strncmp(earlier, TC_BINDADDR_UNIX, ul) == 0 && strncmp(later, TC_BINDADDR_UNIX, ul) == 0) {
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
    char name[TC_BINDADDR_NAME_LEN];
    tc_bindaddr_format(xa, name, sizeof(name));
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
tc_bindaddr_check(const char *spec, tc_err_t *err)
{
    if (spec == NULL || *spec == '\0') {
        return tc_err_set(err, TC_EINVAL, "empty bind address: " TC_BINDADDR_FORMS);
    }
    if (strncmp(spec, TC_BINDADDR_UNIX, strlen(TC_BINDADDR_UNIX)) == 0) {
        struct sockaddr_un sun;
        return tc_bindaddr_unix(spec, &sun, err);
    }
    if (strncmp(spec, TC_BINDADDR_FD, strlen(TC_BINDADDR_FD)) == 0) {
        int fd;
        return tc_bindaddr_fd(spec, &fd, err);
    }
    char host[TC_BINDADDR_HOST_MAX];
    unsigned port;
    bool v6;
    return tc_bindaddr_split(spec, host, &port, &v6, err);
}

bool
tc_bindaddr_picks_port(const char *spec)
{
    char host[TC_BINDADDR_HOST_MAX];
    unsigned port = 1;
    bool v6;
    if (strncmp(spec, TC_BINDADDR_UNIX, strlen(TC_BINDADDR_UNIX)) == 0 ||
        strncmp(spec, TC_BINDADDR_FD, strlen(TC_BINDADDR_FD)) == 0) {
        return false; /* "unix:x:0" is a path */
    }
    return tc_bindaddr_split(spec, host, &port, &v6, NULL) == TC_OK && port == 0;
}

int
tc_bindaddr_check_path(const char *spec, tc_err_t *err)
{
    if (spec == NULL || strncmp(spec, TC_BINDADDR_UNIX, strlen(TC_BINDADDR_UNIX)) != 0) {
        return TC_OK;
    }
    const char *path = spec + strlen(TC_BINDADDR_UNIX);
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

bool
tc_bindaddr_names(const struct sockaddr *bound, socklen_t len, const char *spec)
{
    if (strncmp(spec, TC_BINDADDR_FD, strlen(TC_BINDADDR_FD)) == 0) {
        return false; /* a descriptor, not an address: only the same text is the same */
    }
    if (tc_bindaddr_check(spec, NULL) != TC_OK) {
        return false; /* one that would not open serves nothing */
    }
    bool unix_spec = strncmp(spec, TC_BINDADDR_UNIX, strlen(TC_BINDADDR_UNIX)) == 0;
    if (bound->sa_family == AF_UNIX) {
        return unix_spec && unix_serves((const struct sockaddr_un *)(const void *)bound, len, spec);
    }
    if (bound->sa_family == AF_INET || bound->sa_family == AF_INET6) {
        return !unix_spec && inet_serves(bound, spec);
    }
    return false;
}
