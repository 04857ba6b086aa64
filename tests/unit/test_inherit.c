/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for arbiter/inherit.c: what an arbiter upgrading itself hands
 * the new one in the environment, and what the new one reads back.
 */
#include "tc_test.h"

#include "arbiter/inherit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* A descriptor to hand over (any open one: export and load only change its flags). */
static int
some_fd(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    return fd;
}

/* Export 'out' and load it back into 'in', as the new arbiter does at start. */
static void
hand_over(const tc_inherit_out_t *out, size_t n, tc_inherit_t *in)
{
    tc_inherit_export(out, n);
    tc_inherit_load(in, NULL, 0);
    assert_null(getenv("THRIFTCORN_FDS"));
}

/* ---- tests ---- */

/*
 * The socket file goes with its descriptor, by device and inode; a relative
 * path is made absolute from the folder of the exporter. A socket without a
 * file of ours, or systemd's, hands over none.
 */
static void
test_socket_files_go_with_their_descriptors(void **state)
{
    (void)state;
    int fds[4] = {some_fd(), some_fd(), some_fd(), some_fd()};
    tc_inherit_out_t out[4] = {
        {.fd = fds[0],
         .spec = "unix:/run/a.sock",
         .unix_path = "/run/a.sock",
         .unix_dev = 2049,
         .unix_ino = 1234567},
        {.fd = fds[1], .spec = "unix:b.sock", .unix_path = "b.sock", .unix_dev = 7, .unix_ino = 8},
        {.fd = fds[2], .spec = "unix:/run/c.sock", .unix_path = "/run/c.sock", .unix_ino = 0},
        {.fd = fds[3],
         .spec = "unix:/run/d.sock",
         .systemd = true,
         .unix_path = "/run/d.sock",
         .unix_dev = 1,
         .unix_ino = 2},
    };
    tc_inherit_t in;
    hand_over(out, 4, &in);
    assert_int_equal(in.n, 4);

    const tc_inherit_fd_t *a = tc_inherit_take(&in, "unix:/run/a.sock");
    assert_non_null(a);
    assert_int_equal(a->fd, fds[0]);
    assert_false(a->systemd);
    assert_string_equal(a->unix_path, "/run/a.sock");
    assert_int_equal(a->unix_dev, 2049);
    assert_int_equal(a->unix_ino, 1234567);
    assert_null(tc_inherit_take(&in, "unix:/run/a.sock")); /* taken once */

    const tc_inherit_fd_t *b = tc_inherit_take(&in, "unix:b.sock");
    assert_non_null(b);
    char want[PATH_MAX + 16];
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    (void)snprintf(want, sizeof(want), "%s/b.sock", cwd);
    assert_string_equal(b->unix_path, want);
    assert_int_equal(b->unix_ino, 8);

    const tc_inherit_fd_t *c = tc_inherit_take(&in, "unix:/run/c.sock");
    assert_non_null(c);
    assert_null(c->unix_path);
    assert_int_equal(c->unix_ino, 0);

    const tc_inherit_fd_t *d = tc_inherit_take(&in, "unix:/run/d.sock");
    assert_non_null(d);
    assert_true(d->systemd);
    assert_null(d->unix_path);
    char name[64];
    (void)snprintf(name, sizeof(name), "THRIFTCORN_UNIX_%d", fds[0]);
    assert_null(getenv(name)); /* read, then removed */
    tc_inherit_deinit(&in);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(close(fds[i]), 0); /* all taken: none closed by deinit */
    }
}

/* A malformed THRIFTCORN_UNIX_<fd> hands over no file: a wrong one is never removed. */
static void
test_malformed_file_is_none(void **state)
{
    (void)state;
    const char *bad[] = {"", "1:2", "x:2:/a", "1:0:/a", "1:2:a", "1:y:/a", "1;2;/a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = some_fd();
        char name[64];
        char list[16];
        (void)snprintf(list, sizeof(list), "%d", fd);
        (void)snprintf(name, sizeof(name), "THRIFTCORN_BIND_%d", fd);
        assert_int_equal(setenv(name, "unix:/run/x.sock", 1), 0);
        (void)snprintf(name, sizeof(name), "THRIFTCORN_UNIX_%d", fd);
        assert_int_equal(setenv(name, bad[i], 1), 0);
        assert_int_equal(setenv("THRIFTCORN_FDS", list, 1), 0);
        tc_inherit_t in;
        tc_inherit_load(&in, NULL, 0);
        const tc_inherit_fd_t *f = tc_inherit_take(&in, "unix:/run/x.sock");
        assert_non_null(f);
        assert_null(f->unix_path);
        assert_int_equal(f->unix_ino, 0);
        assert_null(getenv(name));
        tc_inherit_deinit(&in);
        assert_int_equal(close(fd), 0);
    }
}

/* A TCP socket listening at 127.0.0.1, on a port of the kernel's choice, into '*port'. */
static int
tcp_fd(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/*
 * A bind written another way than the old arbiter's takes the socket at
 * its address; never one that another bind of the config that names an
 * address names by its text, nor one of another kind, nor for port 0. A
 * socket handed over for a port-0 bind goes to the bind that names its
 * port, though the config has that port-0 bind too.
 */
static void
test_take_by_address(void **state)
{
    (void)state;
    int p1;
    int p2;
    int fds[2] = {tcp_fd(&p1), tcp_fd(&p2)};
    char other1[32];
    char other2[32];
    char text2[32];
    (void)snprintf(other1, sizeof(other1), "127.1:%d", p1);
    (void)snprintf(other2, sizeof(other2), "127.1:%d", p2);
    (void)snprintf(text2, sizeof(text2), "127.0.0.1:%d", p2);
    tc_inherit_out_t out[2] = {{.fd = fds[0], .spec = "127.0.0.1:0"},
                               {.fd = fds[1], .spec = text2}};
    tc_inherit_t in;
    hand_over(out, 2, &in);
    char port0[] = "127.0.0.1:0";
    char *binds[] = {other1, other2, text2, port0};
    const tc_config_t cfg = {.binds = binds, .nbinds = 4};
    assert_null(tc_inherit_take_address(&in, "127.0.0.1:0", &cfg));
    assert_null(tc_inherit_take_address(&in, "unix:/run/x.sock", &cfg));
    const tc_inherit_fd_t *f = tc_inherit_take_address(&in, other1, &cfg);
    assert_non_null(f);
    assert_int_equal(f->fd, fds[0]);
    assert_null(tc_inherit_take_address(&in, other1, &cfg)); /* taken once */
    assert_null(tc_inherit_take_address(&in, other2, &cfg)); /* 'text2' names it */
    f = tc_inherit_take(&in, text2);
    assert_non_null(f);
    assert_int_equal(f->fd, fds[1]);
    tc_inherit_deinit(&in);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(close(fds[i]), 0); /* all taken: none closed by deinit */
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_files_go_with_their_descriptors),
        cmocka_unit_test(test_malformed_file_is_none),
        cmocka_unit_test(test_take_by_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
