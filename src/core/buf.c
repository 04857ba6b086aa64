/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffer: the one place that reallocates output and input bytes. */
#include "core/buf.h"

#include "core/alloc.h"

#include <stdlib.h>

void
tc_buf_init(tc_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
tc_buf_deinit(tc_buf_t *b)
{
    free(b->data);
    tc_buf_init(b);
}

void
tc_buf_grow(tc_buf_t *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need < b->len) {
        need = SIZE_MAX; /* overflow: let the allocator fail loudly */
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    b->data = tc_xrealloc(b->data, cap);
    b->cap = cap;
}

void
tc_buf_consume(tc_buf_t *b, size_t n)
{
    TC_ASSERT(n <= b->len);
    if (n < b->len) {
        memmove(b->data, b->data + n, b->len - n);
    }
    b->len -= n;
}
