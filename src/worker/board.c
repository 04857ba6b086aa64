/* SPDX-License-Identifier: Apache-2.0 */
/* The balance board shared by an arbiter and all its workers (MAP_SHARED|MAP_ANONYMOUS). */
#include "worker/board.h"

#include <stdatomic.h>
#include <sys/mman.h>

/* One worker's slot, a cache line of its own: posting does not slow the readers of others. */
typedef struct slot {
    atomic_uint gen; /* the generation of the worker given the slot; 0: none */
    atomic_int conns;
    atomic_bool open;
    char pad[64 - sizeof(atomic_uint) - sizeof(atomic_int) - sizeof(atomic_bool)];
} slot_t;

struct tc_board {
    atomic_int high; /* 1 + the highest slot given; a worker reads no further (bounded below) */
    char pad[64 - sizeof(atomic_int)];
    slot_t slots[TC_BOARD_SLOTS];
};

tc_board_t *
tc_board_new(void)
{
    void *p =
        mmap(NULL, sizeof(tc_board_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p; /* zero-filled: every slot empty */
}

void
tc_board_free(tc_board_t *b)
{
    if (b != NULL) {
        (void)munmap(b, sizeof(*b));
    }
}

static bool
valid(int slot)
{
    return slot >= 0 && slot < TC_BOARD_SLOTS;
}

void
tc_board_assign(tc_board_t *b, int slot, unsigned gen)
{
    if (!valid(slot)) {
        return;
    }
    slot_t *s = &b->slots[slot];
    atomic_store(&s->open, false);
    atomic_store(&s->conns, 0);
    atomic_store(&s->gen, gen);
    if (atomic_load(&b->high) <= slot) {
        atomic_store(&b->high, slot + 1);
    }
}

void
tc_board_clear(tc_board_t *b, int slot)
{
    if (valid(slot)) {
        atomic_store(&b->slots[slot].open, false);
        atomic_store(&b->slots[slot].gen, 0);
    }
}

void
tc_board_add(tc_board_t *b, int slot, int delta)
{
    if (valid(slot)) {
        atomic_fetch_add_explicit(&b->slots[slot].conns, delta, memory_order_relaxed);
    }
}

void
tc_board_set_open(tc_board_t *b, int slot, bool open)
{
    if (valid(slot)) {
        atomic_store(&b->slots[slot].open, open);
    }
}

bool
tc_board_defer(const tc_board_t *b, int slot, int conns, int max_conns)
{
    if (!valid(slot)) {
        return false;
    }
    unsigned gen = atomic_load_explicit(&b->slots[slot].gen, memory_order_relaxed);
    int high = atomic_load_explicit(&b->high, memory_order_relaxed);
    high = high < 0 ? 0 : high > TC_BOARD_SLOTS ? TC_BOARD_SLOTS : high;
    for (int i = 0; i < high; i++) {
        const slot_t *s = &b->slots[i];
        if (i == slot || !atomic_load_explicit(&s->open, memory_order_relaxed) ||
            atomic_load_explicit(&s->gen, memory_order_relaxed) != gen) {
            continue;
        }
        int n = atomic_load_explicit(&s->conns, memory_order_relaxed);
        if (n >= 0 && n < conns && n < max_conns) {
            return true;
        }
    }
    return false;
}
