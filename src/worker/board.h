/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The balance board: shared memory the arbiter maps once, before it forks
 * its first worker, where each worker posts how many connections it holds
 * and whether it accepts. Every worker that waits on a listener is woken by
 * a new client, and the one whose thread runs first would take nearly all
 * of them; a worker woken for a client reads the board and leaves the
 * client to a worker of its generation that holds fewer, for a moment
 * (see accept.c). The board is a hint: what a worker reads of another's
 * slot decides only who accepts first, never whether a client is accepted.
 */
#ifndef TC_WORKER_BOARD_H
#define TC_WORKER_BOARD_H

#include "core/common.h"

#include <stdbool.h>

typedef struct tc_board tc_board_t;

/* Slots of a board: workers beyond them (a board index of -1) post nothing and never wait. */
#define TC_BOARD_SLOTS 1024

/* Map a new board (arbiter, before the first fork). NULL if mmap() fails. */
tc_board_t *tc_board_new(void);
/* Unmap it. NULL is a no-op. */
void tc_board_free(tc_board_t *b);

/*
 * Arbiter, before it forks the worker that will post in 'slot' (0 ..
 * TC_BOARD_SLOTS - 1): the slot is emptied and marked with the worker's
 * generation; workers read the slots up to the highest given so far.
 */
void tc_board_assign(tc_board_t *b, int slot, unsigned gen);
/* Arbiter, once the worker of 'slot' is gone: its slot is emptied (it accepts nothing). */
void tc_board_clear(tc_board_t *b, int slot);

/*
 * Worker: it holds 'delta' connections more (1: one taken) or fewer (-1:
 * one closed), from any thread. The board keeps the count and changes it
 * in one atomic step, so changes from threads running at once all count;
 * posting totals each thread computed could leave an older total behind a
 * newer one.
 */
void tc_board_add(tc_board_t *b, int slot, int delta);
/* Worker: it accepts from now on (ready), or no more (a stop began). */
void tc_board_set_open(tc_board_t *b, int slot, bool open);

/*
 * Worker of 'slot', which holds 'conns' connections, woken for a client:
 * true when another worker of its generation accepts and holds fewer than
 * 'conns' and fewer than 'max_conns' (its worker_connections, the same in
 * one generation): that one should take the client.
 */
bool tc_board_defer(const tc_board_t *b, int slot, int conns, int max_conns);

#endif /* TC_WORKER_BOARD_H */
