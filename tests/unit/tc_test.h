/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one include for unit tests: cmocka needs these system headers first,
 * in this order.
 */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Assert that 'len' bytes at 'got' equal the bytes at 'want'. */
#define TC_ASSERT_BYTES(got, want, len) assert_memory_equal((got), (want), (len))

/*
 * Set the soft file size limit (RLIMIT_FSIZE) to 'max' bytes: a write past
 * it is cut to what fits, as on a full disk (the caller ignores SIGXFSZ).
 */
static inline void
tc_test_limit_file_size(rlim_t max)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/*
 * Create an empty file of its own for a test named 'name' (its path into
 * 'path', of 'cap' bytes) and return it open for reading and writing.
 */
static inline int
tc_test_temp_file(char *path, size_t cap, const char *name)
{
    snprintf(path, cap, "/tmp/tc-test-%s-%d-XXXXXX", name, (int)getpid());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

/* A fresh folder of its own for a test named 'name', its path into 'dir' ('cap' bytes). */
static inline void
tc_test_temp_dir(char *dir, size_t cap, const char *name)
{
    snprintf(dir, cap, "/tmp/tc-%s-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
}

/* Remove 'name' in folder 'dir' if it is there. */
static inline void
tc_test_remove_in(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    (void)unlink(path);
}

/*
 * A thread's body: 50 ms from its start, SIGUSR1 to the thread '*arg'
 * (a pthread_t), so that a wait in that thread is interrupted.
 */
static inline void *
tc_test_usr1_later(void *arg)
{
    const pthread_t *to = arg;
    struct timespec ts = {0, 50000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(pthread_kill(*to, SIGUSR1), 0);
    return NULL;
}

/*
 * vsnprintf(): the C library's own text, for a test to compare with. In a
 * program linked with tc_core, snprintf()'s "%lld" is thriftcorn's
 * (bridge/lua_fmt.h), vsnprintf() never is.
 */
static inline int tc_test_libc_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int
tc_test_libc_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    return n;
}

/* Room for what tc_test_decimal_edges() puts out. */
#define TC_TEST_DECIMAL_EDGES 128

/*
 * Integers at the edge of every count of decimal digits, of either sign,
 * into 'out' (TC_TEST_DECIMAL_EDGES of room): each power of ten that a long
 * long holds and its neighbours (9, 10, 11, 99, 100, ...), negated too, and
 * 0 and the int and long long extremes. Returns how many.
 */
static inline size_t
tc_test_decimal_edges(long long *out)
{
    size_t n = 0;
    for (long long p = 1;; p *= 10) {
        const long long around[] = {p - 1, p, p + 1, -p + 1, -p, -p - 1};
        for (size_t i = 0; i < sizeof(around) / sizeof(around[0]); i++) {
            out[n++] = around[i];
        }
        if (p == 1000000000000000000LL) {
            break; /* the largest power of ten a long long holds */
        }
    }
    const long long extremes[] = {INT_MAX,   INT_MIN,       LLONG_MAX,    LLONG_MAX - 1,
                                  LLONG_MIN, LLONG_MIN + 1, 1234567891LL, -1234567891LL};
    for (size_t i = 0; i < sizeof(extremes) / sizeof(extremes[0]); i++) {
        out[n++] = extremes[i];
    }
    return n;
}

/* The time zone of this process, as TZ names it (NULL: the system's), for localtime_r(). */
static inline void
tc_test_set_tz(const char *tz)
{
    if (tz != NULL) {
        assert_int_equal(setenv("TZ", tz, 1), 0);
    } else {
        assert_int_equal(unsetenv("TZ"), 0);
    }
    tzset();
}

/*
 * The 31 bytes at 's' are a log time, "[2026-11-26 01:14:11.433 +0530]":
 * the local time with milliseconds, and 'offset', its UTC offset as
 * strftime's %z writes it. Taken back to UTC by that offset, the time is
 * between 'before' and 'after' (the caller's time() around the write).
 */
static inline void
tc_test_assert_log_time(const char *s, time_t before, time_t after, const char *offset)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int ms = -1;
    char sign = '?';
    int oh = -1;
    int om = -1;
    int end = 0;
    int got = sscanf(s, "[%4d-%2d-%2d %2d:%2d:%2d.%3d %c%2d%2d]%n", &tm.tm_year, &tm.tm_mon,
                     &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &sign, &oh, &om, &end);
    if (got != 10 || end != 31 || s[20] != '.' || s[24] != ' ') {
        fail_msg("'%.31s' is not a log time [YYYY-mm-dd HH:MM:SS.mmm +hhmm]", s);
    }
    assert_memory_equal(s + 25, offset, 5);
    assert_true(ms >= 0 && ms <= 999);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    long east = (sign == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
    time_t utc = timegm(&tm) - east;
    if (utc < before || utc > after) {
        fail_msg("'%.31s' is %lld s from the time it was written", s,
                 (long long)(utc < before ? utc - before : utc - after));
    }
}

#endif /* TC_TEST_H */
