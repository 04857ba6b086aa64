/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for transport/bindaddr.c: the text of a bind checked, read and
 * compared without a socket (transport/listener.c's tests open them).
 */
#include "tc_test.h"

#include "core/err.h"
#include "transport/bindaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

/* ---- tc_bindaddr_check() ---- */

/* What opens, or may: the check takes it, a name not looked up, a descriptor not looked at. */
static void
test_check_accepts(void **state)
{
    (void)state;
    static const char *const good[] = {
        "127.0.0.1:0",      "0.0.0.0:65535",  "127.1:9090",     "[::1]:9090",
        "[fe80::1%lo]:0",   "[::]:0",         "localhost:9090", "host.invalid:9090",
        "unix:/tmp/x.sock", "unix:./@x.sock", "fd://3"};
    for (size_t i = 0; i < TC_ARRAY_LEN(good); i++) {
        tc_err_t err;
        tc_err_clear(&err);
        if (tc_bindaddr_check(good[i], &err) != TC_OK) {
            fail_msg("'%s' refused: %s", good[i], err.msg);
        }
    }
}

/* The parts of HOST:PORT, [V6]:PORT and fd://N, as the open takes them. */
static void
test_split(void **state)
{
    (void)state;
    char host[TC_BINDADDR_HOST_MAX];
    unsigned port = 1;
    bool v6 = true;
    assert_int_equal(tc_bindaddr_split("127.1:09090", host, &port, &v6, NULL), TC_OK);
    assert_string_equal(host, "127.1");
    assert_int_equal(port, 9090);
    assert_false(v6);
    assert_int_equal(tc_bindaddr_split("[fe80::1%lo]:0", host, &port, &v6, NULL), TC_OK);
    assert_string_equal(host, "fe80::1%lo");
    assert_int_equal(port, 0);
    assert_true(v6);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_bindaddr_split("localhost", host, &port, &v6, &err), TC_EINVAL);
    assert_string_equal(err.msg, "localhost: " TC_BINDADDR_FORMS);
    int fd = -1;
    assert_int_equal(tc_bindaddr_fd("fd://017", &fd, NULL), TC_OK);
    assert_int_equal(fd, 17);
    struct sockaddr_un sun;
    assert_int_equal(tc_bindaddr_unix("unix:x.sock", &sun, NULL), TC_OK);
    assert_int_equal(sun.sun_family, AF_UNIX);
    assert_string_equal(sun.sun_path, "x.sock");
}

/* ---- tc_bindaddr_format() and tc_bindaddr_names() ---- */

static void
test_format(void **state)
{
    (void)state;
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof(a4));
    a4.sin_family = AF_INET;
    a4.sin_port = htons(9090);
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char name[TC_BINDADDR_NAME_LEN];
    tc_bindaddr_format((const struct sockaddr *)&a4, name, sizeof(name));
    assert_string_equal(name, "127.0.0.1:9090");
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(65535);
    a6.sin6_addr = in6addr_loopback;
    tc_bindaddr_format((const struct sockaddr *)&a6, name, sizeof(name));
    assert_string_equal(name, "[::1]:65535");
}

/*
 * Which texts name an address as getsockname() gives it, with no socket:
 * numbers written another way do, another port, port 0, a descriptor and
 * the other kind of address do not.
 */
static void
test_names(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)&ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons(9090);
    a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    socklen_t len = sizeof(*a4);
    assert_true(tc_bindaddr_names(sa, len, "127.0.0.1:9090"));
    assert_true(tc_bindaddr_names(sa, len, "127.1:09090"));
    static const char *const not_v4[] = {"127.0.0.1:9091", "127.0.0.2:9090", "127.0.0.1:0",
                                         "fd://3",         "unix:9090",      "127.0.0.1:x"};
    for (size_t i = 0; i < TC_ARRAY_LEN(not_v4); i++) {
        if (tc_bindaddr_names(sa, len, not_v4[i])) {
            fail_msg("'%s' names 127.0.0.1:9090", not_v4[i]);
        }
    }
    struct sockaddr_un *un = (struct sockaddr_un *)(void *)&ss;
    memset(&ss, 0, sizeof(ss));
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, "x.sock", sizeof("x.sock"));
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof("x.sock"));
    assert_true(tc_bindaddr_names(sa, len, "unix:x.sock"));
    assert_true(tc_bindaddr_names(sa, len, "unix:./x.sock"));
    assert_false(tc_bindaddr_names(sa, len, "unix:y.sock"));
    assert_false(tc_bindaddr_names(sa, len, "127.0.0.1:9090"));
    /* an abstract name is no file a path names */
    memcpy(un->sun_path, "\0x.sock", sizeof("\0x.sock"));
    assert_false(tc_bindaddr_names(sa, len, "unix:x.sock"));
}

/*
 * Which texts cannot be bound beside a socket at 127.0.0.1:9090 or at
 * 0.0.0.0:9090 without SO_REUSEPORT, looked up as the open looks them up:
 * every address and one of them at one port, either way round; the same
 * address (tc_bindaddr_names()), another port or family, port 0, a
 * descriptor and a unix path are no such clash.
 */
static void
test_port_clash(void **state)
{
    (void)state;
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof(a4));
    a4.sin_family = AF_INET;
    a4.sin_port = htons(9090);
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const struct sockaddr *sa = (const struct sockaddr *)(const void *)&a4;
    bool any = true;
    assert_true(tc_bindaddr_port_clash(sa, "0.0.0.0:9090", &any));
    assert_false(any);
    static const char *const pass[] = {"127.0.0.1:9090",   "127.0.0.2:9090", "0.0.0.0:9091",
                                       "0.0.0.0:0",        "[::]:9090",      "fd://3",
                                       "unix:0.0.0.0:9090"};
    for (size_t i = 0; i < TC_ARRAY_LEN(pass); i++) {
        if (tc_bindaddr_port_clash(sa, pass[i], &any)) {
            fail_msg("'%s' clashes with 127.0.0.1:9090", pass[i]);
        }
    }
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    assert_true(tc_bindaddr_port_clash(sa, "127.0.0.1:9090", &any));
    assert_true(any);
    assert_true(tc_bindaddr_port_clash(sa, "127.1:09090", &any));
    assert_false(tc_bindaddr_port_clash(sa, "127.0.0.1:9091", &any));
}

/* ---- tc_bindaddr_check_path() ---- */

/* What --check-config finds at a unix:PATH without binding; any other bind passes. */
static void
test_check_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/tc-test-bindaddr-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[sizeof(dir) + 16];
    char spec[sizeof(file) + 8];
    snprintf(file, sizeof(file), "%s/plain", dir);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    tc_err_t err;
    tc_err_clear(&err);
    snprintf(spec, sizeof(spec), "unix:%s", file);
    assert_int_equal(tc_bindaddr_check_path(spec, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "a file that is not a socket is in the way"));
    assert_non_null(strstr(err.msg, file));
    /* nothing there yet, in a folder that is: the bind makes it */
    snprintf(spec, sizeof(spec), "unix:%s/new.sock", dir);
    assert_int_equal(tc_bindaddr_check_path(spec, NULL), TC_OK);
    snprintf(spec, sizeof(spec), "unix:%s/none/x.sock", dir);
    tc_err_clear(&err);
    assert_int_equal(tc_bindaddr_check_path(spec, &err), -ENOENT);
    assert_non_null(strstr(err.msg, spec));
    assert_int_equal(tc_bindaddr_check_path("127.0.0.1:9090", NULL), TC_OK);
    assert_int_equal(tc_bindaddr_check_path("fd://3", NULL), TC_OK);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- tc_bindaddr_check_pair() ---- */

/* The message of tc_bindaddr_check_pair(a, b), "" when they do not clash. */
static const char *
pair(const char *a, const char *b, bool reuse_port)
{
    static tc_err_t err;
    tc_err_clear(&err);
    int rc = tc_bindaddr_check_pair(a, b, reuse_port, &err);
    assert_int_equal(rc, rc == TC_OK ? TC_OK : -EADDRINUSE);
    return rc == TC_OK ? "" : err.msg;
}

/* Clashes the text shows, found without a lookup; names and what binds pass. */
static void
test_check_pair(void **state)
{
    (void)state;
    assert_string_equal(pair("127.0.0.1:9090", "127.0.0.1:09090", false),
                        "bind 127.0.0.1:09090: the same address as bind 127.0.0.1:9090 "
                        "(127.0.0.1:9090)");
    /* inet_aton()'s forms, as getaddrinfo() reads them; reuse_port changes nothing there */
    assert_string_equal(pair("0x7f.1:9090", "127.0.0.1:9090", true),
                        "bind 127.0.0.1:9090: the same address as bind 0x7f.1:9090 "
                        "(127.0.0.1:9090)");
    assert_string_equal(pair("[::1]:9090", "[0:0::1]:9090", false),
                        "bind [0:0::1]:9090: the same address as bind [::1]:9090 ([::1]:9090)");
    assert_string_equal(pair("unix:x.sock", "unix:./x.sock", false),
                        "bind unix:./x.sock: the same address as bind unix:x.sock (unix:x.sock)");
    assert_string_equal(pair("127.0.0.1:9090", "0:9090", false),
                        "bind 0:9090: its port is taken by bind 127.0.0.1:9090 "
                        "(127.0.0.1:9090), as 0:9090 is every address (reuse_port is off)");
    assert_string_equal(pair("[::]:9090", "[::1]:9090", false),
                        "bind [::1]:9090: its port is taken by bind [::]:9090 ([::]:9090), "
                        "as [::]:9090 is every address (reuse_port is off)");
    static const char *const pass[][2] = {
        {"127.0.0.1:0", "127.0.0.1:0"},       /* a port of its own each */
        {"127.0.0.1:0", "127.0.0.1:00"},      /* port 0 too */
        {"127.0.0.1:9090", "127.0.0.1:9091"}, /* another port */
        {"127.0.0.1:9090", "127.0.0.2:9090"}, /* another address */
        {"0.0.0.0:9090", "0.0.0.0:9091"},     /* every address, at another port */
        {"[::]:9090", "0.0.0.0:9090"},        /* [::] is IPv6 only */
        {"localhost:9090", "127.0.0.1:9090"}, /* a name: looked up by the start only */
        {"[fe80::1%lo]:9090", "[fe80::1]:9090"}, {"unix:a.sock", "unix:b.sock"},
        {"unix:9090", "127.0.0.1:9090"},         {"fd://3", "fd://03"},
    };
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        assert_string_equal(pair(pass[i][0], pass[i][1], false), "");
    }
    assert_string_equal(pair("0.0.0.0:9090", "127.0.0.1:9090", true), "");
}

/* Port 0, however written, asks for a port the kernel picks; nothing else does. */
static void
test_picks_port(void **state)
{
    (void)state;
    static const char *const yes[] = {"127.0.0.1:0", "127.0.0.1:00", "[::1]:0", "localhost:0",
                                      "0.0.0.0:0"};
    static const char *const no[] = {
        "127.0.0.1:9090", "[::1]:9090", "unix:x:0",  "unix:0",      "fd://0",
        "127.0.0.1:",     "[::1]0",     "tcp://h:0", "127.0.0.1:x0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_true(tc_bindaddr_picks_port(yes[i]));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_false(tc_bindaddr_picks_port(no[i]));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_accepts), cmocka_unit_test(test_split),
        cmocka_unit_test(test_format),        cmocka_unit_test(test_names),
        cmocka_unit_test(test_port_clash),    cmocka_unit_test(test_check_path),
        cmocka_unit_test(test_check_pair),    cmocka_unit_test(test_picks_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
