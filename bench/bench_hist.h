/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Latency histogram of the load generator: HDR-style log-linear buckets
 * (exact below 256 ns, then 128 buckets per power of two, under 0.8% error),
 * so percentiles cost no sorting and merging threads is a sum.
 */
#ifndef TC_BENCH_HIST_H
#define TC_BENCH_HIST_H

#include <stdint.h>

/* Sub-buckets per power of two, as a power of two: 2^7 = 128. */
#define TC_BENCH_HIST_SUB_BITS 7
/*
 * Largest value kept apart, 2^48 - 1: larger values count as this (about
 * 78 h in ns). --timeout is at most 86400 s: a call's latency stays under
 * it, twice that included (a reply read after its thread waited --timeout
 * for a connection to open anew, --reconnect).
 */
#define TC_BENCH_HIST_MAX_BITS 48
#define TC_BENCH_HIST_BUCKETS                                                                      \
    ((TC_BENCH_HIST_MAX_BITS - TC_BENCH_HIST_SUB_BITS + 1) << TC_BENCH_HIST_SUB_BITS)

typedef struct tc_bench_hist {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    double sum;
    uint64_t counts[TC_BENCH_HIST_BUCKETS];
} tc_bench_hist_t;

/* Storage provided by the caller; starts empty. */
void tc_bench_hist_init(tc_bench_hist_t *h);

/* Record one value (any unit; the load generator uses nanoseconds). */
void tc_bench_hist_record(tc_bench_hist_t *h, uint64_t v);

/* Add every value of 'from' to 'into'. */
void tc_bench_hist_merge(tc_bench_hist_t *into, const tc_bench_hist_t *from);

/*
 * The value at percentile 'pct' (0..100): the smallest recorded value v such
 * that at least pct% of the values are <= v, reported as the highest value
 * of v's bucket, never above the maximum recorded. 100 is the maximum, 0 the
 * minimum; 0 when the histogram is empty.
 */
uint64_t tc_bench_hist_percentile(const tc_bench_hist_t *h, double pct);

/* Mean of the recorded values, 0.0 when empty. */
double tc_bench_hist_mean(const tc_bench_hist_t *h);

/* Bucket index of 'v', and the highest value that falls in bucket 'i'. */
unsigned tc_bench_hist_index(uint64_t v);
uint64_t tc_bench_hist_bucket_max(unsigned i);

#endif /* TC_BENCH_HIST_H */
