/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for worker/heartbeat.c: what the arbiter reads of a page the
 * worker writes, in one process (the page is the same memory after fork).
 */
#include "tc_test.h"

#include "worker/heartbeat.h"

#include <time.h>

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A new page is dated its creation, and is neither ready nor stopping. */
static void
test_new_page(void **state)
{
    (void)state;
    double before = now();
    tc_heartbeat_t *hb = tc_heartbeat_new();
    assert_non_null(hb);
    double last = tc_heartbeat_last(hb);
    assert_true(last >= before && last <= now());
    assert_false(tc_heartbeat_ready(hb));
    assert_false(tc_heartbeat_stopping(hb));
    assert_null(tc_heartbeat_hook(hb));
    assert_true(tc_heartbeat_boot_time(hb) < 0);
    tc_heartbeat_free(hb);
}

/*
 * The boot time is what passed from the page's creation to the ready, and
 * stays that whatever beats come after: an arbiter that looks only later
 * still sees a boot longer than its timeout.
 */
static void
test_boot_time_is_kept(void **state)
{
    (void)state;
    tc_heartbeat_t *hb = tc_heartbeat_new();
    assert_non_null(hb);
    double t0 = now();
    sleep_s(0.03);
    tc_heartbeat_set_ready(hb);
    double took = now() - t0;
    assert_true(tc_heartbeat_ready(hb));
    double boot = tc_heartbeat_boot_time(hb);
    assert_true(boot >= 0.03);
    assert_true(boot <= took + 0.001);
    /* the ready is a beat */
    assert_true(tc_heartbeat_last(hb) >= t0 + 0.03);
    sleep_s(0.02);
    tc_heartbeat_beat(hb);
    assert_true(tc_heartbeat_boot_time(hb) == boot);
    assert_true(tc_heartbeat_last(hb) >= t0 + 0.05);
    tc_heartbeat_free(hb);
}

/* A beat dated back: the arbiter counts from the start of the call still running. */
static void
test_beat_since(void **state)
{
    (void)state;
    tc_heartbeat_t *hb = tc_heartbeat_new();
    assert_non_null(hb);
    double t = now();
    tc_heartbeat_beat_since(hb, 5.0);
    double last = tc_heartbeat_last(hb);
    assert_true(last <= t - 5.0 + 0.5 && last >= t - 5.0 - 0.001);
    tc_heartbeat_beat_since(hb, 0.0);
    assert_true(tc_heartbeat_last(hb) >= t);
    tc_heartbeat_free(hb);
}

/* The flags and the hook name, as the worker sets them. */
static void
test_flags_and_hook(void **state)
{
    (void)state;
    tc_heartbeat_t *hb = tc_heartbeat_new();
    assert_non_null(hb);
    tc_heartbeat_set_stopping(hb);
    assert_true(tc_heartbeat_stopping(hb));
    assert_false(tc_heartbeat_shutdown(hb));
    tc_heartbeat_set_shutdown(hb);
    assert_true(tc_heartbeat_shutdown(hb));
    tc_heartbeat_set_hook(hb, "worker_exit");
    assert_string_equal(tc_heartbeat_hook(hb), "worker_exit");
    tc_heartbeat_set_hook(hb, NULL);
    assert_null(tc_heartbeat_hook(hb));
    /* a C plugin's boot hooks, as the worker names them */
    tc_heartbeat_set_hook(hb, "plugin init_worker");
    assert_string_equal(tc_heartbeat_hook(hb), "plugin init_worker");
    tc_heartbeat_set_hook(hb, "plugin init_thread");
    assert_string_equal(tc_heartbeat_hook(hb), "plugin init_thread");
    tc_heartbeat_set_hook(hb, "init_worker"); /* no such name: none */
    assert_null(tc_heartbeat_hook(hb));
    tc_heartbeat_free(hb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_page),
        cmocka_unit_test(test_boot_time_is_kept),
        cmocka_unit_test(test_beat_since),
        cmocka_unit_test(test_flags_and_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
