/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for core/num.c: integers to text, as the C library's "%0*lld" writes them. */
#include "tc_test.h"

#include "core/common.h"
#include "core/num.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The C library's own text: vsnprintf() is not replaced (snprintf()'s "%lld" is). */
static int
libc_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* 'v' and its neighbours, and the same negated, into 'out'; returns how many. */
static size_t
add_around(long long *out, long long v)
{
    out[0] = v - 1;
    out[1] = v;
    out[2] = v + 1;
    out[3] = -v + 1;
    out[4] = -v;
    out[5] = -v - 1;
    return 6;
}

/* Every digit count, at its edges, either sign, and the extremes. */
static size_t
boundary_values(long long *out)
{
    size_t n = 0;
    for (long long p = 1;; p *= 10) {
        n += add_around(out + n, p);
        if (p == 1000000000000000000LL) {
            break; /* the largest power of ten a long long holds */
        }
    }
    static const long long more[] = {
        0,
        9,
        99,
        999,
        1234567891,
        -1234567891,
        INT_MAX,
        INT_MIN,
        987654321012345678LL,
        LLONG_MAX,
        LLONG_MAX - 1,
        LLONG_MIN,
        LLONG_MIN + 1,
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(more); i++) {
        out[n++] = more[i];
    }
    return n;
}

/* Each value at every width: the C library's text, and not a byte written past it. */
static void
test_format_as_libc_writes_it(void **state)
{
    (void)state;
    long long values[160];
    size_t count = boundary_values(values);
    assert_true(count <= TC_ARRAY_LEN(values));
    for (size_t i = 0; i < count; i++) {
        for (unsigned width = 0; width <= TC_NUM_MAX; width++) {
            char want[32];
            char got[32];
            int wn = libc_format(want, sizeof(want), "%0*lld", (int)width, values[i]);
            memset(got, 'x', sizeof(got));
            size_t gn = tc_num_format(got, values[i], width);
            if (gn != (size_t)wn || memcmp(got, want, gn) != 0) {
                fail_msg("%lld at width %u: \"%.*s\", want \"%s\"", values[i], width, (int)gn, got,
                         want);
            }
            for (size_t k = gn; k < sizeof(got); k++) {
                assert_int_equal(got[k], 'x');
            }
        }
    }
}

/* The longest text fits TC_NUM_MAX. */
static void
test_longest(void **state)
{
    (void)state;
    char got[TC_NUM_MAX];
    assert_int_equal(tc_num_format(got, LLONG_MIN, 0), TC_NUM_MAX);
    assert_memory_equal(got, "-9223372036854775808", TC_NUM_MAX);
    assert_int_equal(tc_num_format(got, 0, TC_NUM_MAX), TC_NUM_MAX);
    assert_memory_equal(got, "00000000000000000000", TC_NUM_MAX);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_as_libc_writes_it),
        cmocka_unit_test(test_longest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
