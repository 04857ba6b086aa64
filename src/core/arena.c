/* SPDX-License-Identifier: Apache-2.0 */
/* Bump allocator over a list of chunks; big requests get a chunk of their own. */
#include "core/arena.h"

#include "core/alloc.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct tc_arena_chunk {
    tc_arena_chunk_t *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

#define ALIGN_UP(n) (((n) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

void
tc_arena_init(tc_arena_t *a, size_t chunk_size)
{
    a->_head = NULL;
    a->_chunk_size = chunk_size ? chunk_size : 4096;
    a->total = 0;
}

void
tc_arena_deinit(tc_arena_t *a)
{
    tc_arena_chunk_t *c = a->_head;
    while (c != NULL) {
        tc_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->_head = NULL;
    a->total = 0;
}

void
tc_arena_reset(tc_arena_t *a)
{
    /*
     * keep one chunk of the default size for the next request; a big
     * block's chunk is freed, also one that is the oldest (a big block goes
     * behind the current chunk, so it is the last when that was the only one)
     */
    tc_arena_chunk_t *keep = NULL;
    tc_arena_chunk_t *c = a->_head;
    while (c != NULL) {
        tc_arena_chunk_t *next = c->next;
        if (keep == NULL && c->size == a->_chunk_size) {
            keep = c;
        } else {
            free(c);
        }
        c = next;
    }
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->_head = keep;
    a->total = 0;
}

void *
tc_arena_alloc(tc_arena_t *a, size_t size)
{
    if (size > SIZE_MAX / 2) {
        tc_oom(size); /* the rounding or the chunk header would wrap it */
    }
    size = ALIGN_UP(size ? size : 1);
    tc_arena_chunk_t *c = a->_head;
    if (c == NULL || c->size - c->used < size) {
        size_t csize = size > a->_chunk_size ? size : a->_chunk_size;
        tc_arena_chunk_t *n = tc_xmalloc(sizeof(*n) + csize);
        n->size = csize;
        n->used = 0;
        if (c != NULL && size > a->_chunk_size) {
            /* a big block goes behind the current chunk, which keeps its free space */
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->_head = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    a->total += size;
    return p;
}

void *
tc_arena_calloc(tc_arena_t *a, size_t size)
{
    void *p = tc_arena_alloc(a, size);
    memset(p, 0, size);
    return p;
}
