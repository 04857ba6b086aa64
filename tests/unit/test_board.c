/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for worker/board.c: which worker a woken one leaves a client
 * to, from what the slots say (one process: the board is the same memory
 * after fork).
 */
#include "tc_test.h"

#include "worker/board.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

/* A board with two workers of generation 1 in slots 0 and 1, slot 0 accepting. */
static tc_board_t *
two_workers(void)
{
    tc_board_t *b = tc_board_new();
    assert_non_null(b);
    tc_board_assign(b, 0, 1);
    tc_board_assign(b, 1, 1);
    tc_board_set_open(b, 0, true);
    return b;
}

/* A worker alone on its board, or among empty slots, never waits. */
static void
test_alone(void **state)
{
    (void)state;
    tc_board_t *b = tc_board_new();
    assert_non_null(b);
    tc_board_assign(b, 0, 1);
    tc_board_set_open(b, 0, true);
    tc_board_add(b, 0, 500);
    assert_false(tc_board_defer(b, 0, 500, 1000));
    tc_board_free(b);
}

/* It waits for a sibling that accepts and holds fewer, and only then. */
static void
test_fewer_sibling(void **state)
{
    (void)state;
    tc_board_t *b = two_workers();
    tc_board_add(b, 1, 3);
    /* not open yet (booting): its few connections say nothing */
    assert_false(tc_board_defer(b, 0, 5, 1000));
    tc_board_set_open(b, 1, true);
    assert_true(tc_board_defer(b, 0, 5, 1000));
    assert_true(tc_board_defer(b, 0, 4, 1000));
    /* as many: both take clients, whoever is first */
    assert_false(tc_board_defer(b, 0, 3, 1000));
    assert_false(tc_board_defer(b, 0, 0, 1000));
    /* the sibling's view of the same board */
    tc_board_add(b, 0, 7);
    assert_false(tc_board_defer(b, 1, 3, 1000));
    /* at its worker_connections it takes nobody: do not wait for it */
    assert_false(tc_board_defer(b, 0, 5, 3));
    /* a stop began: it accepts no more */
    tc_board_set_open(b, 1, false);
    assert_false(tc_board_defer(b, 0, 5, 1000));
    tc_board_free(b);
}

/* Only siblings of the worker's own generation count; a cleared slot counts for nothing. */
static void
test_generation_and_clear(void **state)
{
    (void)state;
    tc_board_t *b = tc_board_new();
    assert_non_null(b);
    tc_board_assign(b, 0, 2);
    tc_board_assign(b, 5, 1); /* the old generation, still draining or serving */
    tc_board_set_open(b, 5, true);
    assert_false(tc_board_defer(b, 0, 9, 1000));
    tc_board_assign(b, 7, 2);
    tc_board_set_open(b, 7, true);
    tc_board_add(b, 7, 1);
    assert_true(tc_board_defer(b, 0, 9, 1000));
    /* reaped: the slot is emptied, whatever the worker wrote last */
    tc_board_clear(b, 7);
    assert_false(tc_board_defer(b, 0, 9, 1000));
    /* given to a new worker: empty again, closed until it says it accepts */
    tc_board_add(b, 7, -1);
    tc_board_assign(b, 7, 2);
    assert_false(tc_board_defer(b, 0, 9, 1000));
    tc_board_set_open(b, 7, true);
    assert_true(tc_board_defer(b, 0, 9, 1000));
    tc_board_free(b);
}

/* Slots out of range post nothing and never wait; a negative count read is ignored. */
static void
test_out_of_range(void **state)
{
    (void)state;
    tc_board_t *b = tc_board_new();
    assert_non_null(b);
    tc_board_assign(b, -1, 1);
    tc_board_assign(b, TC_BOARD_SLOTS, 1);
    tc_board_add(b, -1, 3);
    tc_board_set_open(b, TC_BOARD_SLOTS, true);
    tc_board_clear(b, -1);
    assert_false(tc_board_defer(b, -1, 100, 1000));
    assert_false(tc_board_defer(b, TC_BOARD_SLOTS, 100, 1000));
    tc_board_assign(b, TC_BOARD_SLOTS - 1, 1);
    tc_board_assign(b, 0, 1);
    tc_board_set_open(b, TC_BOARD_SLOTS - 1, true);
    tc_board_add(b, TC_BOARD_SLOTS - 1, -4);
    assert_false(tc_board_defer(b, 0, 100, 1000));
    tc_board_add(b, TC_BOARD_SLOTS - 1, 6);
    assert_true(tc_board_defer(b, 0, 100, 1000));
    tc_board_free(b);
}

/* What a forked worker posts, its sibling reads: the mapping is shared, not copied. */
static void
test_shared_after_fork(void **state)
{
    (void)state;
    tc_board_t *b = two_workers();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tc_board_set_open(b, 1, true);
        tc_board_add(b, 1, 2);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(tc_board_defer(b, 0, 3, 1000));
    assert_false(tc_board_defer(b, 0, 2, 1000));
    tc_board_free(b);
}

/* Each thread takes and gives back ROUNDS connections, holding one at a time. */
#define ROUNDS 20000

static void *
take_give(void *arg)
{
    tc_board_t *b = arg;
    for (int i = 0; i < ROUNDS; i++) {
        tc_board_add(b, 1, 1);
        tc_board_add(b, 1, -1);
    }
    tc_board_add(b, 1, 1); /* and keeps one */
    return NULL;
}

/* Changes posted by threads running at once all count: 4 threads keeping one each post 4. */
static void
test_threads_add(void **state)
{
    (void)state;
    tc_board_t *b = two_workers();
    tc_board_set_open(b, 1, true);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, take_give, b), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    assert_true(tc_board_defer(b, 0, 5, 1000));
    assert_false(tc_board_defer(b, 0, 4, 1000));
    tc_board_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone),
        cmocka_unit_test(test_fewer_sibling),
        cmocka_unit_test(test_generation_and_clear),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_shared_after_fork),
        cmocka_unit_test(test_threads_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
