/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log-linear latency histogram of thriftcorn-bench (see bench_hist.h). A
 * value with its highest set bit at m >= SUB_BITS falls in a bucket of width
 * 2^(m - SUB_BITS): the SUB_BITS+1 leading bits of the value are kept.
 */
#include "bench_hist.h"

#include <string.h>

#define SUB       (1u << TC_BENCH_HIST_SUB_BITS)
#define MAX_VALUE ((UINT64_C(1) << TC_BENCH_HIST_MAX_BITS) - 1)

void
tc_bench_hist_init(tc_bench_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned
tc_bench_hist_index(uint64_t v)
{
    if (v > MAX_VALUE) {
        v = MAX_VALUE;
    }
    if (v < SUB) {
        return (unsigned)v;
    }
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - TC_BENCH_HIST_SUB_BITS;
    /* sub is in [SUB, 2*SUB): bucket ranges of successive shifts follow on */
    return shift * SUB + (unsigned)(v >> shift);
}

uint64_t
tc_bench_hist_bucket_max(unsigned i)
{
    if (i < 2 * SUB) {
        return i;
    }
    unsigned shift = i / SUB - 1;
    uint64_t sub = i - shift * SUB;
    return ((sub + 1) << shift) - 1;
}

void
tc_bench_hist_record(tc_bench_hist_t *h, uint64_t v)
{
    h->counts[tc_bench_hist_index(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min) {
        h->min = v;
    }
    if (v > h->max) {
        h->max = v;
    }
}

void
tc_bench_hist_merge(tc_bench_hist_t *into, const tc_bench_hist_t *from)
{
    for (unsigned i = 0; i < TC_BENCH_HIST_BUCKETS; i++) {
        into->counts[i] += from->counts[i];
    }
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min) {
        into->min = from->min;
    }
    if (from->max > into->max) {
        into->max = from->max;
    }
}

uint64_t
tc_bench_hist_percentile(const tc_bench_hist_t *h, double pct)
{
    if (h->count == 0) {
        return 0;
    }
    if (pct <= 0.0) {
        return h->min;
    }
    if (pct >= 100.0) {
        return h->max;
    }
    /*
     * rank of the value: ceil(pct% of count), at least 1; the slack keeps
     * 99.9% of 1000 at rank 999 although 99.9 has no exact binary form
     */
    double want = pct / 100.0 * (double)h->count * (1.0 - 1e-12);
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want) {
        rank++;
    }
    if (rank == 0) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < TC_BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = tc_bench_hist_bucket_max(i);
            if (v > h->max) {
                v = h->max;
            }
            return v < h->min ? h->min : v;
        }
    }
    return h->max;
}

double
tc_bench_hist_mean(const tc_bench_hist_t *h)
{
    return h->count == 0 ? 0.0 : h->sum / (double)h->count;
}
