/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for core/arena.c: alignment, big blocks, what a reset keeps. */
#include "tc_test.h"

#include "core/arena.h"

#include <stdalign.h>

/* Every block is aligned for any type, zero-filled by calloc, and none overlap. */
static void
test_alloc_aligned(void **state)
{
    (void)state;
    tc_arena_t a;
    tc_arena_init(&a, 256);
    unsigned char *prev = NULL;
    for (size_t size = 0; size < 300; size++) {
        unsigned char *p = tc_arena_calloc(&a, size);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        for (size_t i = 0; i < size; i++) {
            assert_int_equal(p[i], 0);
        }
        memset(p, 0xAB, size);
        if (prev != NULL) {
            assert_ptr_not_equal(p, prev);
        }
        prev = p;
    }
    assert_true(a.total >= 300 * 299 / 2);
    tc_arena_deinit(&a);
    assert_null(a._head);
}

/*
 * A reset keeps the chunk of the default size, and a request's blocks start
 * in it again; a big block behind it is freed.
 */
static void
test_reset_keeps_the_default_chunk(void **state)
{
    (void)state;
    tc_arena_t a;
    tc_arena_init(&a, 4096);
    void *first = tc_arena_alloc(&a, 100);
    void *head = a._head;
    assert_non_null(tc_arena_alloc(&a, 1u << 20));
    assert_ptr_equal(a._head, head); /* the big block went behind it */
    tc_arena_reset(&a);
    assert_int_equal(a.total, 0);
    assert_ptr_equal(a._head, head);
    assert_ptr_equal(tc_arena_alloc(&a, 100), first);
    tc_arena_deinit(&a);
}

/*
 * A first allocation bigger than the default size makes a chunk of its
 * own size: a reset frees it rather than keeping it for every request
 * after, and the next request starts a chunk of the default size.
 */
static void
test_reset_frees_a_big_first_chunk(void **state)
{
    (void)state;
    tc_arena_t a;
    tc_arena_init(&a, 4096);
    unsigned char *big = tc_arena_alloc(&a, 8u << 20);
    memset(big, 1, 8u << 20);
    assert_non_null(a._head);
    tc_arena_reset(&a);
    assert_null(a._head);
    assert_int_equal(a.total, 0);
    void *p = tc_arena_alloc(&a, 100);
    void *head = a._head;
    assert_non_null(head);
    tc_arena_reset(&a);
    assert_ptr_equal(a._head, head);
    assert_ptr_equal(tc_arena_alloc(&a, 100), p);
    tc_arena_deinit(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_aligned),
        cmocka_unit_test(test_reset_keeps_the_default_chunk),
        cmocka_unit_test(test_reset_frees_a_big_first_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
