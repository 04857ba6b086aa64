/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for core/buf.c. */
#include "tc_test.h"

#include "core/buf.h"

static void
test_append_grows(void **state)
{
    (void)state;
    tc_buf_t b;
    tc_buf_init(&b);
    assert_null(b.data);
    for (int i = 0; i < 1000; i++) {
        tc_buf_append_u8(&b, (uint8_t)i);
    }
    assert_int_equal(b.len, 1000);
    assert_true(b.cap >= 1000);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(b.data[i], (uint8_t)i);
    }
    tc_buf_deinit(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void
test_consume_moves_rest(void **state)
{
    (void)state;
    tc_buf_t b;
    tc_buf_init(&b);
    tc_buf_append(&b, "hello world", 11);
    tc_buf_consume(&b, 6);
    assert_int_equal(b.len, 5);
    TC_ASSERT_BYTES(b.data, "world", 5);
    tc_buf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    tc_buf_append(&b, "", 0);
    assert_int_equal(b.len, 0);
    tc_buf_deinit(&b);
}

/* Shedding empties a buffer; it frees the bytes only of one grown past the limit. */
static void
test_shed_frees_only_a_big_buffer(void **state)
{
    (void)state;
    tc_buf_t b;
    tc_buf_init(&b);
    tc_buf_reserve(&b, 4096);
    tc_buf_append(&b, "abc", 3);
    uint8_t *kept = b.data;
    size_t cap = b.cap;
    tc_buf_shed(&b, cap); /* at the limit: kept */
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, kept);
    assert_int_equal(b.cap, cap);
    tc_buf_append(&b, "de", 2);
    tc_buf_shed(&b, cap - 1); /* over it: freed */
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    tc_buf_append(&b, "fg", 2); /* and usable again */
    TC_ASSERT_BYTES(b.data, "fg", 2);
    tc_buf_deinit(&b);
}

/*
 * A bound stops growth, not appends that fit: an append that needs room
 * past it is dropped whole and remembered, one that fits in what is
 * allocated goes in, and the bound can be lifted again.
 */
static void
test_bound_refuses_growth(void **state)
{
    (void)state;
    static const uint8_t x[512];
    tc_buf_t b;
    tc_buf_init(&b);
    tc_buf_set_max(&b, 300);
    tc_buf_append(&b, x, 200);
    assert_int_equal(b.len, 200);
    assert_true(b.cap <= 300);
    assert_false(tc_buf_refused(&b));
    tc_buf_append(&b, x, 100); /* exactly the bound */
    assert_int_equal(b.len, 300);
    assert_int_equal(b.cap, 300);
    assert_false(tc_buf_refused(&b));
    tc_buf_append_u8(&b, 1); /* one past it: dropped */
    assert_int_equal(b.len, 300);
    assert_int_equal(b.cap, 300);
    assert_true(tc_buf_refused(&b));
    b.len = 100;
    assert_false(tc_buf_reserve(&b, 201));
    assert_true(tc_buf_reserve(&b, 200)); /* room there is: no growth asked */
    tc_buf_append(&b, x, 512);
    assert_int_equal(b.len, 100);
    assert_int_equal(b.cap, 300);
    tc_buf_set_max(&b, 0); /* no bound, and the refusal forgotten */
    assert_false(tc_buf_refused(&b));
    tc_buf_append(&b, x, 512);
    assert_int_equal(b.len, 612);
    assert_false(tc_buf_refused(&b));
    tc_buf_deinit(&b);
}

/* A bound below what is allocated gives the rest back, keeping the bytes. */
static void
test_bound_shrinks_a_bigger_buffer(void **state)
{
    (void)state;
    tc_buf_t b;
    tc_buf_init(&b);
    tc_buf_reserve(&b, 4096);
    tc_buf_append(&b, "abcdef", 6);
    tc_buf_set_max(&b, 10);
    assert_int_equal(b.cap, 10);
    assert_int_equal(b.len, 6);
    TC_ASSERT_BYTES(b.data, "abcdef", 6);
    tc_buf_append(&b, "ghij", 4);
    tc_buf_append(&b, "k", 1);
    assert_true(tc_buf_refused(&b));
    TC_ASSERT_BYTES(b.data, "abcdefghij", 10);
    tc_buf_set_max(&b, 0);
    tc_buf_deinit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows),
        cmocka_unit_test(test_consume_moves_rest),
        cmocka_unit_test(test_shed_frees_only_a_big_buffer),
        cmocka_unit_test(test_bound_refuses_growth),
        cmocka_unit_test(test_bound_shrinks_a_bigger_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
