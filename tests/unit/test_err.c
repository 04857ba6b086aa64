/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for core/err.c: the first error set wins, and a prefix put
 * before a message already set (where the error happened) keeps what fits.
 */
#include "tc_test.h"

#include "core/err.h"

#include <string.h>

static void
test_first_error_wins(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_err_set(&err, TC_EPROTO, "first %d", 1), TC_EPROTO);
    assert_int_equal(tc_err_set(&err, TC_ELIMIT, "second"), TC_ELIMIT);
    assert_int_equal(err.code, TC_EPROTO);
    assert_string_equal(err.msg, "first 1");
    assert_int_equal(tc_err_set(NULL, TC_ETYPE, "nowhere"), TC_ETYPE);
}

static void
test_prefix(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    tc_err_prefix(&err, "%s.%s: ", "mod.Point", "y"); /* unset: nothing to place it before */
    assert_int_equal(err.code, TC_OK);
    assert_string_equal(err.msg, "");
    tc_err_set(&err, TC_EPROTO, "message truncated");
    tc_err_prefix(&err, "%s.%s: ", "mod.Point", "y");
    assert_int_equal(err.code, TC_EPROTO);
    assert_string_equal(err.msg, "mod.Point.y: message truncated");
    tc_err_prefix(NULL, "x");
}

static void
test_prefix_cuts_the_end_of_a_long_message(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    char long_msg[TC_ERR_MSG_MAX];
    memset(long_msg, 'm', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    tc_err_set(&err, TC_EPROTO, "%s", long_msg);
    assert_int_equal(strlen(err.msg), TC_ERR_MSG_MAX - 1);
    tc_err_prefix(&err, "service %s: ", "Ping");
    assert_int_equal(strlen(err.msg), TC_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "service Ping: mmm", 17);
    assert_int_equal(err.msg[TC_ERR_MSG_MAX - 2], 'm');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_prefix_cuts_the_end_of_a_long_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
