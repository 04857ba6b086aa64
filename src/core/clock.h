/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monotonic clock, read in one place for every layer: nanoseconds for
 * what is stored or compared across threads and processes, seconds for
 * deadlines, and the kernel's coarse clock for the stamps taken at every
 * read and write. Header only: each read inlines to one clock_gettime().
 */
#ifndef TC_CORE_CLOCK_H
#define TC_CORE_CLOCK_H

#include <sys/time.h>
#include <time.h>

#define TC_CLOCK_NS_PER_S 1000000000LL

/* 'ts' in nanoseconds (a monotonic time: it fits a long long for 292 years of uptime). */
static inline long long
tc_clock_ns_of(const struct timespec *ts)
{
    return (long long)ts->tv_sec * TC_CLOCK_NS_PER_S + ts->tv_nsec;
}

/* 'ts' in seconds. */
static inline double
tc_clock_s_of(const struct timespec *ts)
{
    return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

/* 's' seconds (>= 0) as a timeval, for libevent's timeouts. */
static inline struct timeval
tc_clock_timeval(double s)
{
    struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
    return tv;
}

/*
 * CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the
 * machine (the heartbeat page compares a worker's with the arbiter's). Any
 * thread; never fails (the clock always exists, the pointer is valid).
 */
static inline long long
tc_clock_mono_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return tc_clock_ns_of(&ts);
}

/* CLOCK_MONOTONIC in seconds. Any thread. */
static inline double
tc_clock_mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return tc_clock_s_of(&ts);
}

/*
 * CLOCK_MONOTONIC_COARSE in seconds: the monotonic clock as of the kernel's
 * last tick (a few ms behind at most), a seventh of the cost of a precise
 * read. Compare it only with itself. Any thread.
 */
static inline double
tc_clock_coarse_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return tc_clock_s_of(&ts);
}

#endif /* TC_CORE_CLOCK_H */
