/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for arbiter/signals.c: the arbiter's signals as its loop reads
 * them, and what a child of tc_signals_fork() starts with. A worker must not
 * meet a signal's default action between the fork and its loop: the arbiter
 * sends SIGUSR1 to every worker it has, the one forked a moment ago included.
 */
#include "tc_test.h"

#include "arbiter/signals.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Child exit codes: what went wrong, for the parent's assertion. */
enum { CHILD_OK = 0, CHILD_MASK = 2, CHILD_DISPOSITION = 3, CHILD_NO_SIGNAL = 4 };

static int
setup(void **state)
{
    (void)state;
    return tc_signals_init() == TC_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    tc_signals_deinit();
    return 0;
}

/* The child's exit status, or -signal when a signal ended it. */
static int
reap(pid_t pid)
{
    int status = 0;
    pid_t r;
    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    assert_int_equal(r, pid);
    if (WIFSIGNALED(status)) {
        return -WTERMSIG(status);
    }
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/*
 * SIGUSR1 sent the moment the child exists waits, pending, in a child
 * forked with it in 'child_mask' (with an empty mask its default action
 * would end the child); the other signals are not blocked, and the
 * dispositions tc_signals_init() set are back to their defaults.
 */
static void
test_child_mask_holds_a_signal_sent_at_once(void **state)
{
    (void)state;
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGUSR1);
    pid_t pid = tc_signals_fork(&held);
    assert_true(pid >= 0);
    if (pid == 0) {
        sigset_t now;
        struct sigaction sa;
        if (pthread_sigmask(SIG_SETMASK, NULL, &now) != 0 || !sigismember(&now, SIGUSR1) ||
            sigismember(&now, SIGTERM) || sigismember(&now, SIGHUP)) {
            _exit(CHILD_MASK);
        }
        if (sigaction(SIGUSR1, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL) {
            _exit(CHILD_DISPOSITION);
        }
        struct timespec limit = {.tv_sec = 10, .tv_nsec = 0};
        int sig;
        do {
            sig = sigtimedwait(&held, NULL, &limit);
        } while (sig < 0 && errno == EINTR);
        _exit(sig == SIGUSR1 ? CHILD_OK : CHILD_NO_SIGNAL);
    }
    assert_int_equal(kill(pid, SIGUSR1), 0);
    assert_int_equal(reap(pid), CHILD_OK);
}

/* Without a mask the child starts with none blocked. */
static void
test_no_child_mask_blocks_nothing(void **state)
{
    (void)state;
    pid_t pid = tc_signals_fork(NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        sigset_t now;
        if (pthread_sigmask(SIG_SETMASK, NULL, &now) != 0) {
            _exit(CHILD_MASK);
        }
        for (int s = 1; s < NSIG; s++) {
            if (sigismember(&now, s) == 1) {
                _exit(CHILD_MASK);
            }
        }
        _exit(CHILD_OK);
    }
    assert_int_equal(reap(pid), CHILD_OK);
}

/* Every handled signal comes out of tc_signals_wait() in the order sent. */
static void
test_wait_reads_in_order(void **state)
{
    (void)state;
    const int sent[] = {SIGHUP, SIGTTIN, SIGUSR2, SIGTTOU, SIGWINCH, SIGUSR1, SIGHUP};
    for (size_t i = 0; i < TC_ARRAY_LEN(sent); i++) {
        /* one thread: the signal is handled before kill() returns */
        assert_int_equal(kill(getpid(), sent[i]), 0);
    }
    int got[16];
    assert_int_equal(tc_signals_wait(got, 16, 1000, -1), (int)TC_ARRAY_LEN(sent));
    for (size_t i = 0; i < TC_ARRAY_LEN(sent); i++) {
        assert_int_equal(got[i], sent[i]);
    }
    assert_int_equal(tc_signals_wait(got, 16, 0, -1), 0);
}

/* With nothing sent, a wait lasts its timeout in milliseconds and returns 0. */
static void
test_wait_times_out(void **state)
{
    (void)state;
    struct timespec t0;
    struct timespec t1;
    int got[4];
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tc_signals_wait(got, 4, 60, -1), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(waited >= 0.055);
    assert_true(waited < 5.0);
}

/*
 * A wait that the handler interrupts returns 0, as a timeout does; the
 * signal is read by the next one.
 */
static void
test_interrupted_wait_returns_none(void **state)
{
    (void)state;
    pthread_t me = pthread_self();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, tc_test_usr1_later, &me), 0);
    int got[4];
    assert_int_equal(tc_signals_wait(got, 4, -1, -1), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(tc_signals_wait(got, 4, 0, -1), 1);
    assert_int_equal(got[0], SIGUSR1);
}

/*
 * tc_signals_init() catches the handled signals (SIGCHLD without stops) and
 * SIGPIPE and SIGXFSZ, restarting; tc_signals_deinit() gives all of them
 * their defaults back.
 */
static void
test_dispositions(void **state)
{
    (void)state;
    sigset_t set;
    tc_signals_handled(&set);
    struct sigaction sa;
    for (int s = 1; s < NSIG; s++) {
        if (sigismember(&set, s) != 1 && s != SIGPIPE && s != SIGXFSZ) {
            continue;
        }
        assert_int_equal(sigaction(s, NULL, &sa), 0);
        assert_true(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
        assert_true((sa.sa_flags & SA_RESTART) != 0);
        assert_int_equal((sa.sa_flags & SA_NOCLDSTOP) != 0, s == SIGCHLD);
    }
    assert_true(sigismember(&set, SIGCHLD) == 1 && sigismember(&set, SIGTERM) == 1);
    assert_true(sigismember(&set, SIGABRT) == 0 && sigismember(&set, SIGPIPE) == 0);
    tc_signals_deinit();
    for (int s = 1; s < NSIG; s++) {
        if (sigismember(&set, s) == 1 || s == SIGPIPE || s == SIGXFSZ) {
            assert_int_equal(sigaction(s, NULL, &sa), 0);
            assert_true(sa.sa_handler == SIG_DFL);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_child_mask_holds_a_signal_sent_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_child_mask_blocks_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_reads_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_wait_returns_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispositions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
