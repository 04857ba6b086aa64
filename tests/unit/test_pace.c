/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for worker/pace.c: the watchdog's waits after what its looks
 * found, and the wake-up a call's start sends through the real self-pipe
 * while the long wait is armed.
 */
#include "tc_test.h"

#include "core/selfpipe.h"
#include "worker/pace.h"

#include <pthread.h>

static int
setup(void **state)
{
    (void)state;
    return tc_selfpipe_open() == TC_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    tc_selfpipe_close();
    return 0;
}

/* The wake-ups waiting in the pipe, read out. */
static int
wakes(void)
{
    int sigs[64];
    int n = tc_selfpipe_read(sigs, 64);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(sigs[i], TC_SELFPIPE_WAKE);
    }
    return n;
}

/* Quick looks while calls run; after the last one, the quiet looks, then the long wait. */
static void
test_waits_after_the_last_call(void **state)
{
    (void)state;
    tc_pace_t p;
    tc_pace_init(&p);
    /* no call seen yet: the long wait from the first look */
    assert_int_equal(tc_pace_next(&p, false, false), TC_PACE_IDLE_NS);
    assert_int_equal(tc_pace_next(&p, true, false), TC_PACE_BUSY_NS);
    for (int i = 0; i < TC_PACE_QUIET_LOOKS; i++) {
        assert_int_equal(tc_pace_next(&p, false, false), TC_PACE_QUIET_NS);
    }
    assert_int_equal(tc_pace_next(&p, false, false), TC_PACE_IDLE_NS);
    assert_int_equal(tc_pace_next(&p, false, false), TC_PACE_IDLE_NS);
    /* a call seen again: quick, and quiet looks again after it */
    assert_int_equal(tc_pace_next(&p, true, false), TC_PACE_BUSY_NS);
    assert_int_equal(tc_pace_next(&p, false, false), TC_PACE_QUIET_NS);
    /* in a stop, the stop's wait once no call runs; a call running: quick */
    assert_int_equal(tc_pace_next(&p, false, true), TC_PACE_STOP_NS);
    assert_int_equal(tc_pace_next(&p, true, true), TC_PACE_BUSY_NS);
    assert_true(TC_PACE_BUSY_NS < TC_PACE_QUIET_NS && TC_PACE_QUIET_NS < TC_PACE_IDLE_NS);
}

/* The first call to start in the long wait wakes the main thread, once. */
static void
test_a_call_wakes_the_long_wait_once(void **state)
{
    (void)state;
    atomic_bool idle;
    atomic_init(&idle, false);
    tc_pace_t p;
    tc_pace_init(&p);
    tc_pace_call_started(&idle); /* not armed: no wake-up */
    assert_int_equal(wakes(), 0);

    tc_pace_arm(&p, &idle);
    tc_pace_call_started(&idle);
    tc_pace_call_started(&idle);
    assert_int_equal(wakes(), 1);
    /* woken by a call: the quiet looks again, not the long wait at once */
    tc_pace_disarm(&p, &idle);
    assert_false(atomic_load(&idle));
    assert_int_equal(tc_pace_next(&p, false, false), TC_PACE_QUIET_NS);
}

/* A long wait that ends with no call: armed again at once, and the loops need not wake it. */
static void
test_a_wait_with_no_call_stays_long(void **state)
{
    (void)state;
    atomic_bool idle;
    atomic_init(&idle, false);
    tc_pace_t p;
    tc_pace_init(&p);
    tc_pace_arm(&p, &idle);
    assert_true(atomic_load(&idle));
    tc_pace_disarm(&p, &idle);
    assert_false(atomic_load(&idle));
    assert_int_equal(tc_pace_next(&p, false, false), TC_PACE_IDLE_NS);
    /* disarmed: a call's start sends nothing; a second disarm changes nothing */
    tc_pace_call_started(&idle);
    assert_int_equal(wakes(), 0);
    tc_pace_disarm(&p, &idle);
    assert_int_equal(tc_pace_next(&p, false, false), TC_PACE_IDLE_NS);
}

typedef struct {
    atomic_bool *idle;
    int calls;
} starter_t;

static void *
starter(void *arg)
{
    starter_t *s = arg;
    for (int i = 0; i < s->calls; i++) {
        tc_pace_call_started(s->idle);
    }
    return NULL;
}

/* Four threads starting calls against one arm: exactly one wake-up. */
static void
test_one_wake_among_threads(void **state)
{
    (void)state;
    for (int round = 0; round < 50; round++) {
        atomic_bool idle;
        atomic_init(&idle, false);
        tc_pace_t p;
        tc_pace_init(&p);
        tc_pace_arm(&p, &idle);
        pthread_t t[4];
        starter_t s = {&idle, 100};
        for (int i = 0; i < 4; i++) {
            assert_int_equal(pthread_create(&t[i], NULL, starter, &s), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
        }
        assert_int_equal(wakes(), 1);
        tc_pace_disarm(&p, &idle);
        assert_int_equal(p.quiet, 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waits_after_the_last_call),
        cmocka_unit_test(test_a_call_wakes_the_long_wait_once),
        cmocka_unit_test(test_a_wait_with_no_call_stays_long),
        cmocka_unit_test(test_one_wake_among_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
