/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for transport/listener.c: every bind form, and the errors operators meet. */
#include "tc_test.h"

#include "core/err.h"
#include "transport/bindaddr.h"
#include "transport/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 16

/* ---- helpers ---- */

/* The port of "HOST:PORT" or "[V6]:PORT". */
static unsigned
name_port(const char *name)
{
    const char *colon = strrchr(name, ':');
    assert_non_null(colon);
    return (unsigned)strtoul(colon + 1, NULL, 10);
}

/* Connect to 'sa' and check that the listener accepts the connection. */
static void
assert_accepts(const tc_listener_t *l, const struct sockaddr *sa, socklen_t salen)
{
    int c = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, sa, salen), 0);
    struct pollfd pfd = {.fd = l->fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    int s = accept(l->fd, NULL, NULL);
    assert_true(s >= 0);
    close(s);
    close(c);
}

static void
assert_accepts_inet(const tc_listener_t *l, const char *ip, unsigned port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
        len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, ip, &a4->sin_addr), 1);
        len = sizeof(*a4);
    }
    assert_accepts(l, (const struct sockaddr *)&ss, len);
}

static void
fill_sun(struct sockaddr_un *sun, const char *path)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
}

/* A fresh path under /tmp for a unix socket; the file does not exist. */
static void
temp_path(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/tc-test-listener-%d-XXXXXX", (int)getpid());
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(unlink(buf), 0);
}

static bool
file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A unix socket path under /tmp that does not exist yet, its bind spec and its address. */
typedef struct unix_bind {
    char path[108];
    char spec[128];
    struct sockaddr_un sun;
} unix_bind_t;

static void
temp_unix(unix_bind_t *u)
{
    temp_path(u->path, sizeof(u->path));
    snprintf(u->spec, sizeof(u->spec), "unix:%s", u->path);
    fill_sun(&u->sun, u->path);
}

/* Open 'spec', which must succeed. */
static void
open_ok(tc_listener_t *l, const char *spec)
{
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_listener_open(l, spec, BACKLOG, &err), TC_OK);
}

/* 'u' opens (over a stale file at its path), accepts, and its close removes the file. */
static void
assert_opens_and_removes(const unix_bind_t *u)
{
    tc_listener_t l;
    open_ok(&l, u->spec);
    assert_accepts(&l, (const struct sockaddr *)&u->sun, sizeof(u->sun));
    tc_listener_close(&l, true);
    assert_false(file_exists(u->path));
}

/* Open 'spec', expecting failure, and check that the message contains 'want'. */
static void
assert_open_fails(const char *spec, const char *want)
{
    tc_listener_t l;
    tc_err_t err;
    tc_err_clear(&err);
    int rc = tc_listener_open(&l, spec, BACKLOG, &err);
    assert_true(rc < 0);
    assert_int_equal(err.code, rc);
    assert_int_equal(l.fd, -1);
    assert_null(l.name);
    if (strstr(err.msg, want) == NULL) {
        fail_msg("'%s': message '%s' lacks '%s'", spec, err.msg, want);
    }
}

/*
 * 'spec' is malformed: tc_bindaddr_check() refuses it without opening
 * anything, with the message tc_listener_open() gives, which contains 'want'.
 */
static void
assert_malformed(const char *spec, const char *want)
{
    assert_open_fails(spec, want);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_bindaddr_check(spec, &err), TC_EINVAL);
    if (strstr(err.msg, want) == NULL) {
        fail_msg("'%s': check message '%s' lacks '%s'", spec, err.msg, want);
    }
}

/* ---- TCP ---- */

static void
test_ipv4_port_zero(void **state)
{
    (void)state;
    tc_listener_t l;
    open_ok(&l, "127.0.0.1:0");
    assert_true(l.fd >= 0);
    assert_int_equal(l.family, AF_INET);
    assert_string_equal(l.spec, "127.0.0.1:0");
    assert_null(l.unix_path);
    unsigned port = name_port(l.name);
    assert_true(port > 0);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%u", port);
    assert_string_equal(l.name, want);
    assert_true(fcntl(l.fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(l.fd, F_GETFD) & FD_CLOEXEC);
    assert_accepts_inet(&l, "127.0.0.1", port);
    tc_listener_close(&l, true);
    assert_int_equal(l.fd, -1);
    assert_null(l.name);
    assert_null(l.spec);
}

static bool
have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    bool ok = bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0;
    close(fd);
    return ok;
}

static void
test_ipv6_port_zero(void **state)
{
    (void)state;
    if (!have_ipv6_loopback()) {
        print_message("skipped: this machine has no IPv6 loopback (cannot bind ::1)\n");
        skip();
    }
    tc_listener_t l;
    open_ok(&l, "[::1]:0");
    assert_int_equal(l.family, AF_INET6);
    unsigned port = name_port(l.name);
    char want[64];
    snprintf(want, sizeof(want), "[::1]:%u", port);
    assert_string_equal(l.name, want);
    assert_accepts_inet(&l, "::1", port);
    tc_listener_close(&l, true);
}

static void
test_localhost_resolves(void **state)
{
    (void)state;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo("localhost", NULL, &hints, &ai) != 0) {
        /* e.g. a bare chroot without /etc/hosts: nothing of ours to test */
        print_message("skipped: this system does not resolve 'localhost'\n");
        skip();
    }
    freeaddrinfo(ai);
    tc_listener_t probe;
    open_ok(&probe, "127.0.0.1:0");
    unsigned port = name_port(probe.name);
    tc_listener_close(&probe, true);

    char spec[64];
    snprintf(spec, sizeof(spec), "localhost:%u", port);
    tc_listener_t l;
    open_ok(&l, spec);
    assert_string_equal(l.spec, spec);
    assert_int_equal(name_port(l.name), port);
    char v4[64];
    char v6[64];
    snprintf(v4, sizeof(v4), "127.0.0.1:%u", port);
    snprintf(v6, sizeof(v6), "[::1]:%u", port);
    if (l.family == AF_INET) {
        assert_string_equal(l.name, v4);
        assert_accepts_inet(&l, "127.0.0.1", port);
    } else {
        assert_int_equal(l.family, AF_INET6);
        assert_string_equal(l.name, v6);
        assert_accepts_inet(&l, "::1", port);
    }
    tc_listener_close(&l, true);
}

static void
test_address_in_use(void **state)
{
    (void)state;
    tc_listener_t first;
    open_ok(&first, "127.0.0.1:0");
    char want[96];
    snprintf(want, sizeof(want), "%s: address already in use", first.name);
    assert_open_fails(first.name, want);

    tc_listener_t second;
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_listener_open(&second, first.name, BACKLOG, &err), -EADDRINUSE);
    assert_string_equal(err.msg, want);
    tc_listener_close(&first, true);
}

static void
test_malformed_specs(void **state)
{
    (void)state;
    assert_malformed("", "empty bind address");
    assert_malformed("nohost", "nohost: expected HOST:PORT");
    assert_malformed("1.2.3.4:99999", "1.2.3.4:99999: port 99999 out of range");
    assert_malformed("[::1", "[::1: missing ']'");
    assert_malformed("[::1]9090", "expected ':PORT' after ']'");
    assert_malformed("[]:9090", "missing host");
    assert_malformed(":9090", "missing host");
    assert_malformed("127.0.0.1:", "missing port");
    assert_malformed("127.0.0.1:90a", "is not a number");
    assert_malformed("127.0.0.1:-1", "is not a number");
    assert_malformed("::1:9090", "in brackets");
    /* a URL's scheme is not an IPv6 address to put in brackets */
    assert_malformed("tcp://127.0.0.1:80", "tcp://127.0.0.1:80: unknown scheme 'tcp://': "
                                           "expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N");
    assert_malformed("http://[::1]:80", "unknown scheme 'http://'");
    assert_malformed("unix+tcp://x:1", "unknown scheme 'unix+tcp://'");
    assert_malformed("[not-v6]:9090", "is not an IPv6 address");
    assert_malformed("999.1.1.1:9090", "'999.1.1.1' is not an IPv4 address");
    assert_malformed("1.2.3.4.5:9090", "is not an IPv4 address");
    /* no host name holds a space or a control character */
    assert_malformed(" 127.0.0.1:9090", "the host ' 127.0.0.1' contains a space at byte 1");
    assert_malformed("my host:9090", "the host 'my host' contains a space at byte 3");
    assert_malformed("local\thost:9090", "contains a control character at byte 6");
    /* several addresses written as one bind: not an IPv6 address, nor a name */
    assert_malformed("127.0.0.1:9090,127.0.0.1:9091",
                     "127.0.0.1:9090,127.0.0.1:9091: several addresses in one bind: give each "
                     "its own, as items of a list (bind = { \"A\", \"B\" }) or --bind flags");
    assert_malformed("127.0.0.1,127.0.0.2:9090", "several addresses in one bind");
    assert_malformed("127.0.0.1:9090 [::1]:9091", "several addresses in one bind");
    /* a name is looked up only when the bind opens */
    assert_open_fails("host.invalid:9090", "host.invalid:9090: ");
    assert_malformed("unix:", "missing path");
    /* '@' is how an abstract socket is shown: not the name of a file to make */
    assert_malformed("unix:@tc.sock", "unix:@tc.sock: '@' names an abstract socket, which "
                                      "thriftcorn does not bind; for a file named @tc.sock, "
                                      "write unix:./@tc.sock");
    char long_path[200];
    memset(long_path, 'x', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    char long_spec[256];
    snprintf(long_spec, sizeof(long_spec), "unix:/%s", long_path);
    assert_malformed(long_spec, "path longer than");
    assert_malformed("fd://", "missing descriptor number");
    assert_malformed("fd://x", "not a descriptor number");
    assert_malformed("fd://99999999999", "out of range");
}

/* ---- unix:PATH ---- */

static void
test_unix_socket(void **state)
{
    (void)state;
    unix_bind_t u;
    temp_unix(&u);
    tc_listener_t l;
    open_ok(&l, u.spec);
    assert_int_equal(l.family, AF_UNIX);
    assert_string_equal(l.name, u.spec);
    assert_string_equal(l.unix_path, u.path);
    assert_accepts(&l, (struct sockaddr *)&u.sun, sizeof(u.sun));

    /* a live socket is another server's: refused, and its file stays */
    assert_open_fails(u.spec, "address already in use");
    assert_true(file_exists(u.path));

    tc_listener_close(&l, false);
    assert_true(file_exists(u.path));
    /* the file left behind is stale now: replaced */
    assert_opens_and_removes(&u);
}

static void
test_unix_stale_socket_replaced(void **state)
{
    (void)state;
    unix_bind_t u;
    temp_unix(&u);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&u.sun, sizeof(u.sun)), 0);
    close(fd); /* the file stays: a crashed server's leftover */
    assert_true(file_exists(u.path));
    assert_opens_and_removes(&u);
}

/*
 * Closing removes the socket file it bound, not one put at its path since
 * (another server's socket, after someone removed ours); an adopted file
 * (a socket inherited with its bind) is removed as a bound one is, if it
 * is still the inode handed over with it.
 */
static void
test_unix_replaced_file_stays(void **state)
{
    (void)state;
    unix_bind_t u;
    temp_unix(&u);
    const char *path = u.path;
    tc_listener_t l;
    open_ok(&l, u.spec);
    dev_t ours_dev = l.unix_dev;
    ino_t ours_ino = l.unix_ino;
    assert_true(ours_ino != 0);
    assert_int_equal(unlink(path), 0);
    int other = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(other >= 0);
    assert_int_equal(bind(other, (struct sockaddr *)&u.sun, sizeof(u.sun)), 0);
    tc_listener_close(&l, true);
    assert_true(file_exists(path));

    /* adopted as the file we bound: the other socket's file is not that one, and stays */
    tc_listener_t adopted;
    memset(&adopted, 0, sizeof(adopted));
    adopted.fd = -1;
    tc_listener_adopt_path(&adopted, path, ours_dev, ours_ino);
    tc_listener_close(&adopted, true);
    assert_true(file_exists(path));
    /* no inode handed over: nothing is removed */
    tc_listener_adopt_path(&adopted, path, 0, 0);
    tc_listener_close(&adopted, true);
    assert_true(file_exists(path));
    /* adopted as the other socket's file: removed with it */
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    tc_listener_adopt_path(&adopted, path, st.st_dev, st.st_ino);
    tc_listener_close(&adopted, true);
    assert_false(file_exists(path));
    close(other);
    /* a regular file is never removed, whatever its inode */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(lstat(path, &st), 0);
    tc_listener_adopt_path(&adopted, path, st.st_dev, st.st_ino);
    tc_listener_close(&adopted, true);
    assert_true(file_exists(path));
    assert_int_equal(unlink(path), 0);
}

static void
test_unix_regular_file_untouched(void **state)
{
    (void)state;
    unix_bind_t u;
    temp_unix(&u);
    const char *path = u.path;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("precious", f);
    fclose(f);

    char want[160];
    snprintf(want, sizeof(want), "%s: a file that is not a socket", u.spec);
    assert_open_fails(u.spec, want);

    char buf[16] = {0};
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "precious");
    assert_int_equal(unlink(path), 0);
}

static void
test_unix_errors(void **state)
{
    (void)state;
    assert_open_fails("unix:/nonexistent-dir-tc/x.sock",
                      "unix:/nonexistent-dir-tc/x.sock: no such file or directory");
    char spec[256];
    memset(spec, 'a', sizeof(spec) - 1);
    spec[sizeof(spec) - 1] = '\0';
    memcpy(spec, "unix:/", 6);
    assert_open_fails(spec, "path longer than 107 bytes");
}

/* ---- fd://N ---- */

static void
test_fd_inherited(void **state)
{
    (void)state;
    /* a bound socket not yet listening, as a supervisor might pass it */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof(a4));
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a4, sizeof(a4)), 0);
    socklen_t len = sizeof(a4);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a4, &len), 0);
    unsigned port = ntohs(a4.sin_port);

    char spec[32];
    snprintf(spec, sizeof(spec), "fd://%d", fd);
    tc_listener_t l;
    open_ok(&l, spec);
    assert_int_equal(l.fd, fd);
    assert_int_equal(l.family, AF_INET);
    assert_string_equal(l.spec, spec);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%u", port);
    assert_string_equal(l.name, want);
    assert_null(l.unix_path);
    assert_true(fcntl(l.fd, F_GETFL) & O_NONBLOCK);
    assert_accepts_inet(&l, "127.0.0.1", port);
    tc_listener_close(&l, true);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */
}

static void
test_fd_errors(void **state)
{
    (void)state;
    assert_open_fails("fd://999999", "fd://999999: not an open descriptor");
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char spec[32];
    char want[128];
    snprintf(spec, sizeof(spec), "fd://%d", fd);
    snprintf(want, sizeof(want), "%s: not a socket", spec);
    assert_open_fails(spec, want);
    assert_true(fcntl(fd, F_GETFD) >= 0); /* not ours: left open */
    close(fd);

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    snprintf(spec, sizeof(spec), "fd://%d", fd);
    assert_open_fails(spec, "not a stream socket");
    close(fd);

    /*
     * a socket never bound: listen() would bind it to every address on a
     * port the kernel picks, so it is refused, and left as it came
     */
    static const int families[] = {AF_INET, AF_INET6, AF_UNIX};
    for (size_t i = 0; i < TC_ARRAY_LEN(families); i++) {
        fd = socket(families[i], SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        snprintf(spec, sizeof(spec), "fd://%d", fd);
        snprintf(want, sizeof(want), "%s: the socket is not bound to an address", spec);
        assert_open_fails(spec, want);
        int listening = 1;
        socklen_t len = sizeof(listening);
        assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
        assert_int_equal(listening, 0);
        struct sockaddr_storage ss;
        len = sizeof(ss);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
        if (families[i] != AF_UNIX) {
            assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, 0); /* still unbound */
        }
        close(fd);
    }
}

/* ---- the same address written another way ---- */

/* Whether 'l' serves the spec printf() makes of 'fmt'. */
static bool serves(const tc_listener_t *l, const char *fmt, ...) TC_PRINTF(2, 3);

static bool
serves(const tc_listener_t *l, const char *fmt, ...)
{
    char spec[PATH_MAX + 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(spec, sizeof(spec), fmt, ap);
    va_end(ap);
    return tc_listener_serves(l, spec);
}

/*
 * tc_listener_serves() of 'l' is 'want' for each of the 'n' specs, in which
 * a "%u" stands for 'port'.
 */
static void
assert_serves(const tc_listener_t *l, unsigned port, bool want, const char *const *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = specs[i];
        const char *at = strstr(s, "%u");
        bool got = at == NULL ? tc_listener_serves(l, s)
                              : serves(l, "%.*s%u%s", (int)(at - s), s, port, at + 2);
        if (got != want) {
            fail_msg("tc_listener_serves('%s') with port %u is %d", s, port, (int)got);
        }
    }
}

static void
test_serves_inet(void **state)
{
    (void)state;
    /* the same text, port 0 included (the same bind), the port it got, the address another way */
    static const char *const same[] = {"127.0.0.1:0", "127.0.0.1:%u", "127.1:%u"};
    /* another address, another family, a new port; no address */
    static const char *const other[] = {
        "127.0.0.2:%u",      "0.0.0.0:%u",      "[::1]:%u",    "[::ffff:127.0.0.1]:%u",
        "unix:127.0.0.1:%u", "host.invalid:%u", "localhost:0", "127.1:0"};
    static const char *const none[] = {"nohost", ""};
    tc_listener_t l;
    open_ok(&l, "127.0.0.1:0");
    unsigned port = name_port(l.name);
    assert_serves(&l, port, true, same, TC_ARRAY_LEN(same));
    assert_serves(&l, port, false, other, TC_ARRAY_LEN(other));
    assert_serves(&l, port, false, none, TC_ARRAY_LEN(none));
    /* a name that resolves to it; another port; an inherited socket's text */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo("localhost", NULL, &hints, &ai) == 0) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)ai->ai_addr;
        if (a4->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
            assert_true(serves(&l, "localhost:%u", port));
        }
        freeaddrinfo(ai);
    }
    assert_false(serves(&l, "127.0.0.1:%u", port == 65535 ? 1 : port + 1));
    assert_false(serves(&l, "fd://%d", l.fd));
    tc_listener_close(&l, true);
    assert_false(serves(&l, "127.0.0.1:%u", port)); /* closed: serves nothing */

    /* 0.0.0.0 and 0 are one address; it is not 127.0.0.1 */
    static const char *const any[] = {"0:%u", "0.0.0.0:%u"};
    open_ok(&l, "0.0.0.0:0");
    port = name_port(l.name);
    assert_serves(&l, port, true, any, TC_ARRAY_LEN(any));
    assert_false(serves(&l, "127.0.0.1:%u", port));
    tc_listener_close(&l, true);
}

static void
test_serves_ipv6(void **state)
{
    (void)state;
    if (!have_ipv6_loopback()) {
        print_message("skipped: this machine has no IPv6 loopback (cannot bind ::1)\n");
        skip();
    }
    static const char *const same[] = {"[::1]:%u", "[0:0:0:0:0:0:0:1]:%u", "[::0001]:%u"};
    static const char *const other[] = {"[::]:%u", "127.0.0.1:%u", "[0::1]:0"};
    tc_listener_t l;
    open_ok(&l, "[::1]:0");
    unsigned port = name_port(l.name);
    assert_serves(&l, port, true, same, TC_ARRAY_LEN(same));
    assert_serves(&l, port, false, other, TC_ARRAY_LEN(other));
    tc_listener_close(&l, true);
}

static void
test_serves_unix(void **state)
{
    (void)state;
    char here[PATH_MAX];
    assert_non_null(getcwd(here, sizeof(here)));
    char dir[] = "/tmp/tc-test-listener-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    char cwd[PATH_MAX]; /* what getcwd() says: the folder as the listener sees it */
    assert_non_null(getcwd(cwd, sizeof(cwd)));

    /* bound by a relative path: the absolute one, and others, name it */
    static const char *const same[] = {"unix:s.sock", "unix:./s.sock", "unix:.//./s.sock"};
    /* a folder, not a unix socket */
    static const char *const other[] = {"unix:s.sock/", "unix:s.sock/.", "unix:.",
                                        "unix:", "127.0.0.1:1"};
    tc_listener_t l;
    open_ok(&l, "unix:s.sock");
    assert_serves(&l, 0, true, same, TC_ARRAY_LEN(same));
    assert_true(serves(&l, "unix:%s/s.sock", cwd));
    assert_true(serves(&l, "unix:/%s//./s.sock", cwd));
    assert_serves(&l, 0, false, other, TC_ARRAY_LEN(other));
    /* another file, '..' as written */
    assert_false(serves(&l, "unix:%s/t.sock", cwd));
    char far[PATH_MAX]; /* normalised, it is s.sock; as written, it does not fit */
    size_t n = 0;
    while (n + 2 < 200) {
        far[n++] = '.';
        far[n++] = '/';
    }
    snprintf(far + n, sizeof(far) - n, "s.sock");
    assert_false(serves(&l, "unix:%s", far));
    assert_true(serves(&l, "unix:%s", far + n - 8));
    assert_false(serves(&l, "unix:../%s/s.sock", strrchr(cwd, '/') + 1));
    tc_listener_close(&l, true);

    /* bound by the absolute path: the relative one names it */
    static const char *const relative[] = {"unix:a.sock", "unix:./a.sock"};
    char spec[PATH_MAX + 16];
    snprintf(spec, sizeof(spec), "unix:%s/a.sock", cwd);
    open_ok(&l, spec);
    assert_serves(&l, 0, true, relative, TC_ARRAY_LEN(relative));
    assert_false(tc_listener_serves(&l, "unix:s.sock"));
    tc_listener_close(&l, true);

    assert_int_equal(chdir(here), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void
test_serves_fd(void **state)
{
    (void)state;
    tc_listener_t first;
    open_ok(&first, "127.0.0.1:0");
    unsigned port = name_port(first.name);
    /* an inherited socket is known by its address too; another fd:// text is another socket */
    int fd = dup(first.fd);
    assert_true(fd >= 0);
    char spec[32];
    snprintf(spec, sizeof(spec), "fd://%d", fd);
    tc_listener_t l;
    open_ok(&l, spec);
    assert_true(tc_listener_serves(&l, spec));
    assert_true(serves(&l, "127.0.0.1:%u", port));
    assert_false(serves(&l, "fd://%d", first.fd));
    assert_false(serves(&first, "fd://%d", fd));
    tc_listener_close(&l, true);
    tc_listener_close(&first, true);
}

/* ---- tc_listener_stop() ---- */

/* A connect to 'sa' is refused: nothing listens there. */
static void
assert_refused(const struct sockaddr *sa, socklen_t salen)
{
    int c = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, sa, salen), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(c);
}

/*
 * Only this descriptor closes: a socket another one still holds (a worker,
 * a new arbiter, systemd) listens on; once none does, a new client is
 * refused. The names stay for tc_listener_close().
 */
static void
test_stop_tcp(void **state)
{
    (void)state;
    tc_listener_t l;
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_listener_open(&l, "127.0.0.1:0", BACKLOG, &err), TC_OK);
    unsigned port = name_port(l.name);
    tc_listener_t held = {.fd = dup(l.fd)};
    assert_true(held.fd >= 0);
    tc_listener_stop(&l);
    assert_int_equal(l.fd, -1);
    assert_non_null(l.name);
    assert_string_equal(l.spec, "127.0.0.1:0");
    assert_accepts_inet(&held, "127.0.0.1", port);

    close(held.fd);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_refused((struct sockaddr *)&sin, sizeof(sin));
    tc_listener_stop(&l); /* a closed one: nothing happens */
    assert_int_equal(l.fd, -1);
    tc_listener_close(&l, true);
}

/* A unix socket: refused at its file, which stays until tc_listener_close() removes it. */
static void
test_stop_unix(void **state)
{
    (void)state;
    char path[108];
    temp_path(path, sizeof(path));
    char spec[128];
    snprintf(spec, sizeof(spec), "unix:%s", path);
    tc_listener_t l;
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_listener_open(&l, spec, BACKLOG, &err), TC_OK);
    tc_listener_t held = {.fd = dup(l.fd)};
    assert_true(held.fd >= 0);
    tc_listener_stop(&l);
    assert_int_equal(l.fd, -1);
    struct sockaddr_un sun;
    fill_sun(&sun, path);
    assert_accepts(&held, (struct sockaddr *)&sun, sizeof(sun));

    close(held.fd);
    assert_refused((struct sockaddr *)&sun, sizeof(sun));
    assert_true(file_exists(path));
    tc_listener_close(&l, true);
    assert_false(file_exists(path));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_port_zero),
        cmocka_unit_test(test_ipv6_port_zero),
        cmocka_unit_test(test_localhost_resolves),
        cmocka_unit_test(test_address_in_use),
        cmocka_unit_test(test_malformed_specs),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_unix_stale_socket_replaced),
        cmocka_unit_test(test_unix_replaced_file_stays),
        cmocka_unit_test(test_unix_regular_file_untouched),
        cmocka_unit_test(test_unix_errors),
        cmocka_unit_test(test_fd_inherited),
        cmocka_unit_test(test_fd_errors),
        cmocka_unit_test(test_serves_inet),
        cmocka_unit_test(test_serves_ipv6),
        cmocka_unit_test(test_serves_unix),
        cmocka_unit_test(test_serves_fd),
        cmocka_unit_test(test_stop_tcp),
        cmocka_unit_test(test_stop_unix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
