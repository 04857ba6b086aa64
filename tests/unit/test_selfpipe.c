/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for core/selfpipe.c, with real signals: what the handler
 * writes, in which order, what it does with a full or closed pipe, and the
 * dispositions it leaves for a program the process executes.
 */
#include "tc_test.h"

#include "core/selfpipe.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The signals every test has passed on to the pipe. */
static const int caught[] = {SIGUSR1, SIGUSR2, SIGHUP, SIGWINCH, SIGCHLD};

/* This test program, which re-executes itself to look at a disposition after exec. */
static const char *self;

static int
setup(void **state)
{
    (void)state;
    /* a handler or read that blocks ends the program (SIGALRM) instead of hanging it */
    alarm(30);
    if (tc_selfpipe_open() != TC_OK) {
        return -1;
    }
    for (size_t i = 0; i < TC_ARRAY_LEN(caught); i++) {
        tc_selfpipe_catch(caught[i]);
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < TC_ARRAY_LEN(caught); i++) {
        tc_selfpipe_default(caught[i]);
    }
    tc_selfpipe_default(SIGPIPE);
    tc_selfpipe_default(SIGXFSZ);
    tc_selfpipe_close();
    alarm(0);
    return 0;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every signal in the pipe now, up to 'cap', in the order read. */
static int
drain(int *sigs, int cap)
{
    int total = 0;
    for (;;) {
        int chunk[64];
        int n = tc_selfpipe_read(chunk, 64);
        assert_true(n >= 0);
        if (n == 0) {
            return total;
        }
        for (int i = 0; i < n; i++) {
            if (total < cap) {
                sigs[total] = chunk[i];
            }
            total++;
        }
    }
}

/* Signals sent one after another are read in the order they were sent, repeats included. */
static void
test_signals_are_read_in_order(void **state)
{
    (void)state;
    const int sent[] = {SIGUSR2, SIGUSR1, SIGHUP, SIGUSR2, SIGWINCH, SIGUSR1};
    for (size_t i = 0; i < TC_ARRAY_LEN(sent); i++) {
        /* one thread: the signal is handled before kill() returns */
        if (i % 2 == 0) {
            assert_int_equal(kill(getpid(), sent[i]), 0);
        } else {
            assert_int_equal(raise(sent[i]), 0);
        }
    }
    int got[8];
    int n = tc_selfpipe_wait(got, 8, 1000000000LL);
    assert_int_equal(n, (int)TC_ARRAY_LEN(sent));
    for (size_t i = 0; i < TC_ARRAY_LEN(sent); i++) {
        assert_int_equal(got[i], sent[i]);
    }
    assert_int_equal(tc_selfpipe_wait(got, 8, 0), 0);
}

/* A read takes at most 'cap' signals, the oldest; the others wait for the next. */
static void
test_cap_takes_the_oldest(void **state)
{
    (void)state;
    assert_int_equal(kill(getpid(), SIGHUP), 0);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    int got[3] = {0, 0, 0};
    assert_int_equal(tc_selfpipe_wait(got, 1, 0), 1);
    assert_int_equal(got[0], SIGHUP);
    assert_int_equal(tc_selfpipe_wait(got, 3, 0), 2);
    assert_int_equal(got[0], SIGUSR1);
    assert_int_equal(got[1], SIGUSR2);
    assert_int_equal(tc_selfpipe_read(got, 3), 0);
}

/* With nothing sent, a wait lasts its timeout and returns 0. */
static void
test_wait_times_out(void **state)
{
    (void)state;
    int sig = 0;
    double t0 = now();
    assert_int_equal(tc_selfpipe_wait(&sig, 1, 50000000LL), 0);
    double waited = now() - t0;
    assert_true(waited >= 0.045);
    assert_true(waited < 5.0);
    assert_int_equal(sig, 0);
}

/*
 * A full pipe drops the newest byte instead of blocking the handler: the
 * oldest signals are kept, in order, and the pipe takes signals again once
 * it is read. errno is what it was before the handler's failed write.
 */
static void
test_full_pipe_drops_without_blocking(void **state)
{
    (void)state;
    /* more than any pipe holds (64 KiB by default); a handler that blocked would meet the alarm */
    enum { SENT = 65536 + 512 };
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    for (int i = 0; i < SENT; i++) {
        assert_int_equal(kill(getpid(), SIGUSR1), 0);
    }
    errno = EDOM;
    assert_int_equal(kill(getpid(), SIGHUP), 0);
    assert_int_equal(errno, EDOM);

    static int got[SENT + 2];
    int n = drain(got, SENT + 2);
    assert_true(n >= 4096);
    assert_true(n < SENT);
    assert_int_equal(got[0], SIGUSR2);
    for (int i = 1; i < n; i++) {
        assert_int_equal(got[i], SIGUSR1);
    }
    assert_int_equal(kill(getpid(), SIGWINCH), 0);
    int sig = 0;
    assert_int_equal(tc_selfpipe_wait(&sig, 1, 1000000000LL), 1);
    assert_int_equal(sig, SIGWINCH);
}

/* The handler keeps errno also when its write fails for a closed pipe. */
static void
test_closed_pipe_keeps_errno(void **state)
{
    (void)state;
    tc_selfpipe_close();
    errno = ERANGE;
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(errno, ERANGE);
    errno = EDOM;
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    assert_int_equal(errno, EDOM);
    /* and the pipe can be made again */
    assert_int_equal(tc_selfpipe_open(), TC_OK);
    assert_int_equal(kill(getpid(), SIGHUP), 0);
    int sig = 0;
    assert_int_equal(tc_selfpipe_wait(&sig, 1, 1000000000LL), 1);
    assert_int_equal(sig, SIGHUP);
}

/*
 * A signal handled by the waiting thread interrupts the wait (-EINTR); its
 * byte is then in the pipe to read.
 */
static void
test_wait_interrupted_by_a_handler(void **state)
{
    (void)state;
    pthread_t me = pthread_self();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, tc_test_usr1_later, &me), 0);
    int sig = 0;
    assert_int_equal(tc_selfpipe_wait(&sig, 1, -1), -EINTR);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(tc_selfpipe_read(&sig, 1), 1);
    assert_int_equal(sig, SIGUSR1);
}

static void *
kill_process_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 50000000L};
    nanosleep(&ts, NULL);
    /* the waiting thread blocks it: this thread runs the handler */
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    return NULL;
}

/*
 * A signal that another thread handles wakes a wait with no time limit in
 * the thread that blocks it, as in a worker whose handler threads take its
 * signals.
 */
static void
test_wait_woken_by_another_thread(void **state)
{
    (void)state;
    /* created first, the thread keeps SIGUSR2 unblocked */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kill_process_later, NULL), 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    int sig = 0;
    int n = tc_selfpipe_wait(&sig, 1, -1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sig, SIGUSR2);
}

static void *
wake_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 50000000L};
    nanosleep(&ts, NULL);
    tc_selfpipe_wake();
    return NULL;
}

/*
 * tc_selfpipe_wake() from another thread ends a wait with no time limit
 * as a signal would, read as TC_SELFPIPE_WAKE after the signals before it
 * (a worker's call reaching max_requests wakes its main thread so).
 */
static void
test_wake_from_another_thread(void **state)
{
    (void)state;
    assert_int_equal(raise(SIGUSR1), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wake_later, NULL), 0);
    int sigs[4] = {-1, -1, -1, -1};
    assert_int_equal(tc_selfpipe_wait(sigs, 4, 0), 1);
    assert_int_equal(sigs[0], SIGUSR1);
    assert_int_equal(tc_selfpipe_wait(sigs, 4, -1), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(sigs[0], TC_SELFPIPE_WAKE);
    /* no signal's number */
    assert_true(sigs[0] != SIGUSR1 && sigs[0] != SIGTERM && sigs[0] != SIGHUP);
}

/* A caught signal's handler restarts (SA_RESTART); SIGCHLD's is not told of stops. */
static void
test_catch_flags(void **state)
{
    (void)state;
    struct sigaction sa;
    assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
    assert_true(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
    assert_true((sa.sa_flags & SA_RESTART) != 0);
    assert_true((sa.sa_flags & SA_NOCLDSTOP) == 0);
    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    assert_true((sa.sa_flags & SA_RESTART) != 0);
    assert_true((sa.sa_flags & SA_NOCLDSTOP) != 0);
}

static int read_fd = -1;

static void *
read_one(void *arg)
{
    unsigned char b = 0;
    ssize_t *r = arg;
    *r = read(read_fd, &b, 1);
    return NULL;
}

/* A read in another thread that the handler interrupts goes on (SA_RESTART). */
static void
test_interrupted_read_restarts(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    read_fd = p[0];
    ssize_t r = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_one, &r), 0);
    struct timespec ts = {0, 50000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(pthread_kill(t, SIGUSR1), 0);
    nanosleep(&ts, NULL);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r, 1);
    int sig = 0;
    assert_int_equal(tc_selfpipe_wait(&sig, 1, 1000000000LL), 1);
    assert_int_equal(sig, SIGUSR1);
    (void)close(p[0]);
    (void)close(p[1]);
}

/* The child's exit status, or -signal when a signal ended it. */
static int
reap(pid_t pid, int options)
{
    int status = 0;
    pid_t r;
    do {
        r = waitpid(pid, &status, options);
    } while (r < 0 && errno == EINTR);
    assert_int_equal(r, pid);
    if (WIFSTOPPED(status)) {
        return 1000 + WSTOPSIG(status);
    }
    if (WIFSIGNALED(status)) {
        return -WTERMSIG(status);
    }
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A child that stops and goes on sends no SIGCHLD; one that ends sends one. */
static void
test_sigchld_only_for_an_end(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)raise(SIGSTOP);
        _exit(7);
    }
    assert_int_equal(reap(pid, WUNTRACED), 1000 + SIGSTOP);
    int sigs[4];
    assert_int_equal(tc_selfpipe_wait(sigs, 4, 100000000LL), 0);
    assert_int_equal(kill(pid, SIGCONT), 0);
    assert_int_equal(reap(pid, 0), 7);
    assert_int_equal(tc_selfpipe_wait(sigs, 4, 5000000000LL), 1);
    assert_int_equal(sigs[0], SIGCHLD);
    assert_int_equal(tc_selfpipe_wait(sigs, 4, 100000000LL), 0);
}

/*
 * SIGPIPE and SIGXFSZ are ignored by a handler: the process lives through
 * them, a write to a pipe without a reader fails with EPIPE, nothing goes
 * into the pipe, and a program executed from here meets SIGPIPE's default
 * action again.
 */
static void
test_ignored_signals(void **state)
{
    (void)state;
    tc_selfpipe_ignore(SIGPIPE);
    tc_selfpipe_ignore(SIGXFSZ);
    assert_int_equal(raise(SIGPIPE), 0);
    assert_int_equal(kill(getpid(), SIGXFSZ), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    (void)close(p[0]);
    errno = 0;
    assert_int_equal(write(p[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    (void)close(p[1]);
    int sig = 0;
    assert_int_equal(tc_selfpipe_read(&sig, 1), 0);

    struct sigaction sa;
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[] = {(char *)self, (char *)"--raise-sigpipe", NULL};
        execv(self, argv);
        _exit(127);
    }
    assert_int_equal(reap(pid, 0), -SIGPIPE);
}

/* tc_selfpipe_default() gives a signal its default action back. */
static void
test_default_restores(void **state)
{
    (void)state;
    tc_selfpipe_default(SIGUSR1);
    struct sigaction sa;
    assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)raise(SIGUSR1);
        _exit(0);
    }
    assert_int_equal(reap(pid, 0), -SIGUSR1);
    tc_selfpipe_catch(SIGUSR1);
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--raise-sigpipe") == 0) {
        /* executed by test_ignored_signals: SIGPIPE's default action ends us */
        (void)raise(SIGPIPE);
        return 0;
    }
    self = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signals_are_read_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_takes_the_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_pipe_drops_without_blocking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_pipe_keeps_errno, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_interrupted_by_a_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_woken_by_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catch_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_read_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigchld_only_for_an_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_restores, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
