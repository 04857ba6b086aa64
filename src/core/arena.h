/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bump allocator: many small allocations freed all at once. One per RPC
 * (decoded arguments, reply scratch) and one per compiled schema.
 * Not thread-safe: an arena has one owner thread at a time.
 */
#ifndef TC_CORE_ARENA_H
#define TC_CORE_ARENA_H

#include "core/common.h"

typedef struct tc_arena_chunk tc_arena_chunk_t;

typedef struct tc_arena {
    tc_arena_chunk_t *_head; /* newest chunk first */
    size_t _chunk_size;      /* default size of a new chunk */
    size_t total;            /* bytes handed out since the last reset */
} tc_arena_t;

/* Storage provided by the caller; 'chunk_size' 0 picks 4 KiB. Allocates nothing yet. */
void tc_arena_init(tc_arena_t *a, size_t chunk_size);
/* Free every chunk. */
void tc_arena_deinit(tc_arena_t *a);
/*
 * Forget every allocation (per request): one chunk of the default size is
 * kept for reuse, every other chunk (a big block's too) is freed.
 */
void tc_arena_reset(tc_arena_t *a);
/* 'size' bytes aligned for any type; aborts when memory runs out. Never NULL. */
void *tc_arena_alloc(tc_arena_t *a, size_t size);
/* Like tc_arena_alloc(), zero-filled. */
void *tc_arena_calloc(tc_arena_t *a, size_t size);

#endif /* TC_CORE_ARENA_H */
