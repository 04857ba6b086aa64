/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for core/clock.h: each reader reads the clock it names (its
 * value lies between two reads of that clock taken around it), never goes
 * back, and the conversions are exact at the second's boundaries.
 */
#include "tc_test.h"

#include "core/clock.h"

#include <limits.h>
#include <sys/wait.h>

#define ROUNDS 100000

static struct timespec
read_clock(clockid_t id)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(id, &ts), 0);
    return ts;
}

static void
test_ns_of_is_exact_at_the_boundaries(void **state)
{
    (void)state;
    struct timespec ts = {0, 0};
    assert_true(tc_clock_ns_of(&ts) == 0);
    ts = (struct timespec){0, 999999999};
    assert_true(tc_clock_ns_of(&ts) == 999999999LL);
    ts = (struct timespec){1, 0};
    assert_true(tc_clock_ns_of(&ts) == 1000000000LL);
    ts = (struct timespec){1, 999999999};
    assert_true(tc_clock_ns_of(&ts) == 1999999999LL);
    /* the largest time it can say, without overflow (UBSan would stop it) */
    ts = (struct timespec){9223372035, 999999999};
    assert_true(tc_clock_ns_of(&ts) == 9223372035999999999LL);
    ts = (struct timespec){9223372036, 854775807};
    assert_true(tc_clock_ns_of(&ts) == LLONG_MAX);
    /* the units the callers derive: whole seconds (access log) and microseconds (sd_notify) */
    ts = (struct timespec){5, 999999999};
    assert_true(tc_clock_ns_of(&ts) / TC_CLOCK_NS_PER_S == 5);
    assert_true(tc_clock_ns_of(&ts) / 1000 == 5999999LL);
    ts = (struct timespec){6, 0};
    assert_true(tc_clock_ns_of(&ts) / TC_CLOCK_NS_PER_S == 6);
    assert_true(tc_clock_ns_of(&ts) / 1000 == 6000000LL);
}

static void
test_s_of_is_exact_at_the_boundaries(void **state)
{
    (void)state;
    struct timespec ts = {0, 0};
    assert_true(tc_clock_s_of(&ts) == 0.0);
    ts = (struct timespec){0, 1};
    assert_true(tc_clock_s_of(&ts) == 1e-9);
    ts = (struct timespec){1, 500000000};
    assert_true(tc_clock_s_of(&ts) == 1.5);
    ts = (struct timespec){0, 999999999};
    assert_true(tc_clock_s_of(&ts) < 1.0);
    assert_true(tc_clock_s_of(&ts) > 0.999999998);
    ts = (struct timespec){2, 0};
    assert_true(tc_clock_s_of(&ts) == 2.0);
    /* a day-old machine: a nanosecond still shows */
    struct timespec a = {86400, 999999999};
    struct timespec b = {86401, 0};
    assert_true(tc_clock_s_of(&a) < tc_clock_s_of(&b));
}

/* Each reader lies between two reads of its clock taken around it. */
static void
test_readers_read_their_clock(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        struct timespec before = read_clock(CLOCK_MONOTONIC);
        long long ns = tc_clock_mono_ns();
        double s = tc_clock_mono_s();
        struct timespec after = read_clock(CLOCK_MONOTONIC);
        assert_true(tc_clock_ns_of(&before) <= ns && ns <= tc_clock_ns_of(&after));
        assert_true(tc_clock_s_of(&before) <= s && s <= tc_clock_s_of(&after));

        before = read_clock(CLOCK_MONOTONIC_COARSE);
        double coarse = tc_clock_coarse_s();
        after = read_clock(CLOCK_MONOTONIC_COARSE);
        assert_true(tc_clock_s_of(&before) <= coarse && coarse <= tc_clock_s_of(&after));
    }
}

static void
test_readers_never_go_back(void **state)
{
    (void)state;
    long long ns = tc_clock_mono_ns();
    double s = tc_clock_mono_s();
    double coarse = tc_clock_coarse_s();
    for (int i = 0; i < ROUNDS; i++) {
        long long ns2 = tc_clock_mono_ns();
        double s2 = tc_clock_mono_s();
        double coarse2 = tc_clock_coarse_s();
        assert_true(ns2 >= ns);
        assert_true(s2 >= s);
        assert_true(coarse2 >= coarse);
        ns = ns2;
        s = s2;
        coarse = coarse2;
    }
}

/* The heartbeat page compares a worker's reading with the arbiter's: one clock for both. */
static void
test_one_clock_across_processes(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    long long before = tc_clock_mono_ns();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        long long t = tc_clock_mono_ns();
        _exit(write(fds[1], &t, sizeof(t)) == (ssize_t)sizeof(t) ? 0 : 1);
    }
    close(fds[1]);
    long long child = 0;
    assert_int_equal(read(fds[0], &child, sizeof(child)), sizeof(child));
    long long after = tc_clock_mono_ns();
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(before <= child && child <= after);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ns_of_is_exact_at_the_boundaries),
        cmocka_unit_test(test_s_of_is_exact_at_the_boundaries),
        cmocka_unit_test(test_readers_read_their_clock),
        cmocka_unit_test(test_readers_never_go_back),
        cmocka_unit_test(test_one_clock_across_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
