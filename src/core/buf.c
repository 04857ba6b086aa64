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
    b->_max = 0;
    b->_refused = false;
}

void
tc_buf_deinit(tc_buf_t *b)
{
    free(b->data);
    tc_buf_init(b);
}

bool
tc_buf_grow(tc_buf_t *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need < b->len) {
        need = SIZE_MAX; /* overflow: let the allocator fail loudly */
    }
    if (TC_UNLIKELY(b->_max != 0 && need > b->_max)) {
        b->_refused = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (b->_max != 0 && cap > b->_max) {
        cap = b->_max; /* doubling stops at the bound; 'need' fits in it */
    }
    b->data = tc_xrealloc(b->data, cap);
    b->cap = cap;
    return true;
}

void
tc_buf_fit_max(tc_buf_t *b)
{
    TC_ASSERT(b->_max >= b->len);
    b->data = tc_xrealloc(b->data, b->_max);
    b->cap = b->_max;
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
