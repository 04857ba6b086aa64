/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for arbiter/sdnotify.c: what reaches $NOTIFY_SOCKET, and from
 * which process. Only the service's main process speaks: after an upgrade's
 * new arbiter said MAINPID=, a STOPPING=1 from the old one would stop the
 * whole service.
 */
#include "tc_test.h"

#include "arbiter/sdnotify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char folder[] = "/tmp/tc-sdnotify-XXXXXX";
static char path[64];
static int sock = -1;

static int
setup(void **state)
{
    (void)state;
    if (mkdtemp(folder) == NULL) {
        return -1;
    }
    (void)snprintf(path, sizeof(path), "%s/notify.sock", folder);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path) + 1);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || bind(sock, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
        return -1;
    }
    return setenv("NOTIFY_SOCKET", path, 1);
}

static int
teardown(void **state)
{
    (void)state;
    (void)close(sock);
    (void)unlink(path);
    (void)rmdir(folder);
    return 0;
}

/* The next datagram, "" when none is waiting. */
static const char *
next(void)
{
    static char buf[256];
    ssize_t n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    if (n < 0) {
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        n = 0;
    }
    buf[n] = '\0';
    return buf;
}

static void
test_only_the_main_process_speaks(void **state)
{
    (void)state;
    char want[64];
    tc_sdnotify_init();
    /* the workers and what they start must not find it */
    assert_null(getenv("NOTIFY_SOCKET"));
    tc_sdnotify("READY=1");
    assert_string_equal(next(), "READY=1");

    /* an upgrade's new arbiter is main from its MAINPID= on: quiet here */
    tc_sdnotify_main(getpid() + 1);
    tc_sdnotify("STOPPING=1");
    assert_string_equal(next(), "");

    /* taken back, with a state in the same datagram or without */
    tc_sdnotify_mainpid(getpid(), "READY=1");
    (void)snprintf(want, sizeof(want), "MAINPID=%d\nREADY=1", (int)getpid());
    assert_string_equal(next(), want);
    tc_sdnotify_mainpid(getpid() + 1, NULL);
    (void)snprintf(want, sizeof(want), "MAINPID=%d", (int)getpid() + 1);
    assert_string_equal(next(), want);
    tc_sdnotify("RELOADING=1");
    assert_string_equal(next(), "");
    tc_sdnotify_main(getpid());
    tc_sdnotify("STOPPING=1");
    assert_string_equal(next(), "STOPPING=1");

    /* the new arbiter of an upgrade gets it back */
    tc_sdnotify_export();
    assert_non_null(getenv("NOTIFY_SOCKET"));
    assert_string_equal(getenv("NOTIFY_SOCKET"), path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_only_the_main_process_speaks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
