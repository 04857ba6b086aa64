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
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char folder[32];
static char path[64];
static int sock = -1;

static int
setup(void **state)
{
    (void)state;
    (void)snprintf(folder, sizeof(folder), "/tmp/tc-sdnotify-XXXXXX");
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
    static char buf[512];
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
    tc_sdnotify_mainpid(getpid(), "READY=1", NULL);
    (void)snprintf(want, sizeof(want), "MAINPID=%d\nREADY=1", (int)getpid());
    assert_string_equal(next(), want);
    tc_sdnotify_mainpid(getpid(), "READY=1", "Ready: generation 1, 1 worker");
    (void)snprintf(want, sizeof(want), "MAINPID=%d\nREADY=1\nSTATUS=Ready: generation 1, 1 worker",
                   (int)getpid());
    assert_string_equal(next(), want);
    tc_sdnotify_mainpid(getpid() + 1, NULL, NULL);
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

/* CLOCK_MONOTONIC in microseconds, as systemd reads MONOTONIC_USEC= */
static uint64_t
monotonic_usec(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * sd_notify(3): RELOADING=1 goes with MONOTONIC_USEC=, in the same
 * datagram. Type=notify-reload waits for one at or after the time it sent
 * SIGHUP, and without it takes the reload for one that never ends.
 */
static void
test_reloading_says_when(void **state)
{
    (void)state;
    tc_sdnotify_init();
    tc_sdnotify_main(getpid());
    uint64_t before = monotonic_usec();
    tc_sdnotify("RELOADING=1");
    uint64_t after = monotonic_usec();
    const char *got = next();
    const char *want = "RELOADING=1\nMONOTONIC_USEC=";
    assert_memory_equal(got, want, strlen(want));
    char *end = NULL;
    uint64_t usec = strtoull(got + strlen(want), &end, 10);
    assert_true(end > got + strlen(want) && *end == '\0');
    assert_true(before <= usec && usec <= after);
    tc_sdnotify("READY=1");
    assert_string_equal(next(), "READY=1");
}

/*
 * '@' names a socket in Linux's abstract namespace: its address is the
 * name after a NUL, as long as the name and no longer (a longer one, padded
 * with NULs, is another address).
 */
static void
test_abstract_socket(void **state)
{
    (void)state;
    char name[64];
    (void)snprintf(name, sizeof(name), "@tc-sdnotify-%d", (int)getpid());
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
    int abstract = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(abstract >= 0);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    assert_int_equal(bind(abstract, (const struct sockaddr *)&sun, len), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    tc_sdnotify_init();
    tc_sdnotify_main(getpid());
    tc_sdnotify("READY=1");
    char buf[64];
    ssize_t n = recv(abstract, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    (void)close(abstract);
    assert_int_equal(n, 7);
    buf[n] = '\0';
    assert_string_equal(buf, "READY=1");
}

/*
 * STATUS= is what `systemctl status` shows: in the datagram of the state
 * it explains, after MONOTONIC_USEC= for RELOADING=1, alone when there is
 * no state. systemd ends a field at a newline, so the text is one line.
 */
static void
test_status_goes_with_its_state(void **state)
{
    (void)state;
    tc_sdnotify_init();
    tc_sdnotify_main(getpid());
    tc_sdnotify_status("READY=1", "Ready: generation 1, 4 workers");
    assert_string_equal(next(), "READY=1\nSTATUS=Ready: generation 1, 4 workers");
    tc_sdnotify_status(NULL, "Ready: generation 1, 5 workers");
    assert_string_equal(next(), "STATUS=Ready: generation 1, 5 workers");
    tc_sdnotify_status("READY=1", NULL);
    assert_string_equal(next(), "READY=1");

    tc_sdnotify_status("RELOADING=1", "Reloading");
    const char *got = next();
    const char *want = "RELOADING=1\nMONOTONIC_USEC=";
    assert_memory_equal(got, want, strlen(want));
    char *end = NULL;
    (void)strtoull(got + strlen(want), &end, 10);
    assert_true(end > got + strlen(want));
    assert_string_equal(end, "\nSTATUS=Reloading");

    /* a reason of several lines, or with control characters, stays on its line */
    tc_sdnotify_status("READY=1", "Reload failed: a.lua:3: bad\nb.lua:4: worse\r\tend");
    assert_string_equal(next(), "READY=1\nSTATUS=Reload failed: a.lua:3: bad b.lua:4: worse  end");

    /* the main process only, as every state */
    tc_sdnotify_main(getpid() + 1);
    tc_sdnotify_status("READY=1", "Ready");
    assert_string_equal(next(), "");
}

/* A long status is cut to TC_SDNOTIFY_STATUS_MAX bytes, not inside a UTF-8 character. */
static void
test_long_status_is_cut(void **state)
{
    (void)state;
    tc_sdnotify_init();
    tc_sdnotify_main(getpid());
    char status[TC_SDNOTIFY_STATUS_MAX * 2];
    size_t n = 0;
    status[n++] = 'x';
    while (n + 2 < sizeof(status)) {
        status[n++] = (char)0xC3; /* "é", two bytes each, starting at an odd offset */
        status[n++] = (char)0xA9;
    }
    status[n] = '\0';
    tc_sdnotify_status("READY=1", status);
    const char *got = next();
    const char *head = "READY=1\nSTATUS=";
    assert_memory_equal(got, head, strlen(head));
    const char *text = got + strlen(head);
    size_t len = strlen(text);
    assert_true(len <= TC_SDNOTIFY_STATUS_MAX);
    assert_true(len > TC_SDNOTIFY_STATUS_MAX - 8);
    assert_string_equal(text + len - 3, "...");
    /* the cut left whole characters: "x", then pairs */
    assert_true((len - 3 - 1) % 2 == 0);
    assert_memory_equal(text, status, len - 3);
}

static volatile sig_atomic_t alarmed;

static void
on_alarm(int sig)
{
    (void)sig;
    alarmed = 1;
}

/*
 * A receiver that stopped reading must not stall the arbiter: with its
 * queue full, the datagram is dropped at once. (Were the send to block,
 * SIGALRM, set without SA_RESTART, ends it after 2 s with EINTR, and the
 * time taken fails the test rather than hang it.)
 */
static void
test_a_full_receiver_never_blocks(void **state)
{
    (void)state;
    tc_sdnotify_init();
    tc_sdnotify_main(getpid());
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path) + 1);
    /*
     * A sender's own send buffer may run out before the receiver's queue
     * does (net.unix.max_dgram_qlen may be set high): the queue is full
     * only once a fresh socket's first datagram is refused.
     */
    int sent = 0;
    bool full = false;
    for (int sockets = 0; !full && sockets < 1000; sockets++) {
        int filler = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(filler >= 0);
        for (int i = 0;; i++, sent++) {
            if (sendto(filler, "x", 1, 0, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
                assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
                full = i == 0;
                break;
            }
        }
        (void)close(filler);
    }
    assert_true(full);
    assert_true(sent > 0);

    struct sigaction sa = {.sa_handler = on_alarm};
    struct sigaction old;
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    alarmed = 0;
    (void)alarm(2);
    struct timespec t0;
    struct timespec t1;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
    tc_sdnotify_status("READY=1", "Ready: generation 1, 1 worker");
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
    (void)alarm(0);
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_false(alarmed);
    assert_true(took < 0.5);

    /* the queue holds what the filler sent, and nothing of what was dropped */
    for (int i = 0; i < sent; i++) {
        assert_string_equal(next(), "x");
    }
    assert_string_equal(next(), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_only_the_main_process_speaks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reloading_says_when, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abstract_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_goes_with_its_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_status_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_full_receiver_never_blocks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
