/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for core/num.c: integers to text, as the C library's "%0*lld" writes them. */
#include "tc_test.h"

#include "core/common.h"
#include "core/num.h"

#include <limits.h>
#include <string.h>

/* Each value at every width: the C library's text, and not a byte written past it. */
static void
test_format_as_libc_writes_it(void **state)
{
    (void)state;
    long long values[TC_TEST_DECIMAL_EDGES];
    size_t count = tc_test_decimal_edges(values);
    for (size_t i = 0; i < count; i++) {
        for (unsigned width = 0; width <= TC_NUM_MAX; width++) {
            char want[32];
            char got[32];
            int wn = tc_test_libc_format(want, sizeof(want), "%0*lld", (int)width, values[i]);
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
