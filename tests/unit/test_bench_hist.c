/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for bench/bench_hist.c, the latency histogram of thriftcorn-bench. */
#include "tc_test.h"

#include "bench_hist.h"

#include <stdlib.h>

static tc_bench_hist_t *
new_hist(void)
{
    tc_bench_hist_t *h = malloc(sizeof(*h));
    assert_non_null(h);
    tc_bench_hist_init(h);
    return h;
}

static void
test_small_values_are_exact(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 256; v++) {
        assert_int_equal(tc_bench_hist_bucket_max(tc_bench_hist_index(v)), v);
    }
}

static void
test_buckets_are_contiguous_and_tight(void **state)
{
    (void)state;
    /* every value lands in a bucket whose range holds it, within 1/128 */
    unsigned prev = 0;
    for (uint64_t v = 1; v < (UINT64_C(1) << (TC_BENCH_HIST_MAX_BITS - 1)); v += v / 97 + 1) {
        unsigned i = tc_bench_hist_index(v);
        assert_true(i >= prev);
        assert_true(i < TC_BENCH_HIST_BUCKETS);
        uint64_t hi = tc_bench_hist_bucket_max(i);
        assert_true(hi >= v);
        assert_true((double)(hi - v) <= (double)v / 128.0);
        if (i > 0) {
            assert_true(tc_bench_hist_bucket_max(i - 1) < v);
        }
        prev = i;
    }
    /* huge values are clamped into the last bucket */
    assert_int_equal(tc_bench_hist_index(UINT64_MAX), TC_BENCH_HIST_BUCKETS - 1);
}

static void
test_empty(void **state)
{
    (void)state;
    tc_bench_hist_t *h = new_hist();
    assert_int_equal(tc_bench_hist_percentile(h, 50.0), 0);
    assert_int_equal(tc_bench_hist_percentile(h, 100.0), 0);
    assert_true(tc_bench_hist_mean(h) == 0.0);
    free(h);
}

static void
test_percentiles_of_uniform(void **state)
{
    (void)state;
    tc_bench_hist_t *h = new_hist();
    /* 1..100000 ns once each: pN is N% of 100000, within the bucket error */
    for (uint64_t v = 1; v <= 100000; v++) {
        tc_bench_hist_record(h, v);
    }
    assert_int_equal(h->count, 100000);
    assert_int_equal(tc_bench_hist_percentile(h, 0.0), 1);
    assert_int_equal(tc_bench_hist_percentile(h, 100.0), 100000);
    const double pcts[] = {50.0, 90.0, 99.0, 99.9};
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
        double want = pcts[i] * 1000.0;
        double got = (double)tc_bench_hist_percentile(h, pcts[i]);
        assert_true(got >= want);
        assert_true(got <= want * (1.0 + 1.0 / 128.0));
    }
    assert_true(tc_bench_hist_mean(h) == 50000.5);
    free(h);
}

static void
test_percentile_rank_and_outlier(void **state)
{
    (void)state;
    tc_bench_hist_t *h = new_hist();
    /* 999 fast calls and one slow: p99.9 is still fast, max is the slow one */
    for (int i = 0; i < 999; i++) {
        tc_bench_hist_record(h, 100);
    }
    tc_bench_hist_record(h, 5000000);
    assert_int_equal(tc_bench_hist_percentile(h, 50.0), 100);
    assert_int_equal(tc_bench_hist_percentile(h, 99.9), 100);
    assert_int_equal(tc_bench_hist_percentile(h, 99.95), 5000000);
    assert_int_equal(tc_bench_hist_percentile(h, 100.0), 5000000);
    /* a percentile never exceeds the largest value recorded */
    tc_bench_hist_init(h);
    tc_bench_hist_record(h, 1000001);
    assert_int_equal(tc_bench_hist_percentile(h, 50.0), 1000001);
    free(h);
}

static void
test_edges(void **state)
{
    (void)state;
    tc_bench_hist_t *h = new_hist();
    const double pcts[] = {0.0, 50.0, 90.0, 99.0, 99.9, 100.0};
    /* one call: every percentile is that call, not its bucket's top */
    tc_bench_hist_record(h, 123457);
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
        assert_int_equal(tc_bench_hist_percentile(h, pcts[i]), 123457);
    }
    /* all equal */
    tc_bench_hist_init(h);
    for (int i = 0; i < 1000; i++) {
        tc_bench_hist_record(h, 98765);
    }
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
        assert_int_equal(tc_bench_hist_percentile(h, pcts[i]), 98765);
    }
    assert_true(tc_bench_hist_mean(h) == 98765.0);
    /* past the last bucket (about 78 h): still between the minimum and the maximum */
    tc_bench_hist_init(h);
    tc_bench_hist_record(h, UINT64_C(1) << 49);
    tc_bench_hist_record(h, UINT64_C(1) << 49);
    assert_int_equal(tc_bench_hist_percentile(h, 50.0), UINT64_C(1) << 49);
    assert_int_equal(tc_bench_hist_percentile(h, 100.0), UINT64_C(1) << 49);
    free(h);
}

static void
test_the_longest_calls_are_kept_apart(void **state)
{
    (void)state;
    /*
     * A call waits up to --timeout (at most 86400 s) for its reply, and as
     * long again when its thread waits for a connection to open anew
     * (--reconnect): such latencies keep their 1/128. The last bucket was
     * at 1100 s: the p90 of calls of 2000 s and of 172800 s was 2000 s.
     */
    const uint64_t s = UINT64_C(1000000000);
    tc_bench_hist_t *h = new_hist();
    for (int i = 0; i < 50; i++) {
        tc_bench_hist_record(h, 2000 * s);
        tc_bench_hist_record(h, 2 * 86400 * s);
    }
    assert_true(tc_bench_hist_index(2 * 86400 * s) < TC_BENCH_HIST_BUCKETS - 1);
    uint64_t p50 = tc_bench_hist_percentile(h, 50.0);
    uint64_t p90 = tc_bench_hist_percentile(h, 90.0);
    assert_true(p50 >= 2000 * s && (double)p50 <= 2000.0 * (double)s * (1.0 + 1.0 / 128.0));
    assert_true(p90 >= 2 * 86400 * s);
    assert_true((double)p90 <= 2.0 * 86400.0 * (double)s * (1.0 + 1.0 / 128.0));
    free(h);
}

static void
test_merge(void **state)
{
    (void)state;
    tc_bench_hist_t *a = new_hist();
    tc_bench_hist_t *b = new_hist();
    tc_bench_hist_t *all = new_hist();
    for (uint64_t v = 1; v <= 5000; v++) {
        tc_bench_hist_record(v % 2 ? a : b, v * 37);
        tc_bench_hist_record(all, v * 37);
    }
    tc_bench_hist_merge(a, b);
    assert_int_equal(a->count, all->count);
    assert_int_equal(a->min, all->min);
    assert_int_equal(a->max, all->max);
    assert_memory_equal(a->counts, all->counts, sizeof(a->counts));
    assert_int_equal(tc_bench_hist_percentile(a, 99.0), tc_bench_hist_percentile(all, 99.0));
    free(a);
    free(b);
    free(all);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_values_are_exact),
        cmocka_unit_test(test_buckets_are_contiguous_and_tight),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_percentiles_of_uniform),
        cmocka_unit_test(test_percentile_rank_and_outlier),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_the_longest_calls_are_kept_apart),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
