/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte buffer, passed by pointer. Growing never moves the handle,
 * only 'data'; pointers into 'data' are invalid after any append. A buffer
 * may be given a bound it refuses to grow past (tc_buf_set_max()): an
 * append that needs more is dropped whole, and the buffer remembers it.
 */
#ifndef TC_CORE_BUF_H
#define TC_CORE_BUF_H

#include "core/common.h"

#include <stdbool.h>
#include <string.h>

struct tc_buf {
    uint8_t *data; /* owned; NULL while cap == 0 */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
    size_t _max;   /* tc_buf_set_max(): 'cap' never grows past it; 0: no bound */
    bool _refused; /* a growth past '_max' was refused since tc_buf_set_max() */
};

/* Storage provided by the caller; starts empty and unbounded, allocates nothing. */
void tc_buf_init(tc_buf_t *b);
/* Free the bytes; the handle may be reused after tc_buf_init(). */
void tc_buf_deinit(tc_buf_t *b);
/*
 * Make room for 'extra' more bytes (aborts when memory runs out). False,
 * with nothing changed and the refusal remembered, when that needs more
 * than the buffer's bound.
 */
bool tc_buf_grow(tc_buf_t *b, size_t extra);
/* Drop the first 'n' bytes, moving the rest to the front. */
void tc_buf_consume(tc_buf_t *b, size_t n);
/* tc_buf_set_max()'s slow path: give back what was allocated past the bound. */
void tc_buf_fit_max(tc_buf_t *b);

/*
 * Ensure room for 'extra' bytes; false when the bound refuses it (the
 * caller then writes nothing). The fast path is inline.
 */
static inline bool
tc_buf_reserve(tc_buf_t *b, size_t extra)
{
    if (TC_UNLIKELY(b->cap - b->len < extra)) {
        return tc_buf_grow(b, extra);
    }
    return true;
}

/*
 * Bound 'b' to 'max' bytes allocated (at least 'len'; 0: no bound) and
 * forget an earlier refusal. Growth past the bound is refused, so memory
 * stays within it whatever is appended: a caller that cannot know the
 * size of what it will write sets the bound first and looks at
 * tc_buf_refused() after. A buffer allocated past it is shrunk to it.
 */
static inline void
tc_buf_set_max(tc_buf_t *b, size_t max)
{
    TC_ASSERT(max == 0 || max >= b->len);
    b->_max = max;
    b->_refused = false;
    if (TC_UNLIKELY(max != 0 && b->cap > max)) {
        tc_buf_fit_max(b);
    }
}

/* True when an append was dropped for the bound since tc_buf_set_max(). */
static inline bool
tc_buf_refused(const tc_buf_t *b)
{
    return b->_refused;
}

/*
 * Empty 'b', and free its bytes if it grew past 'keep': a buffer reused
 * from message to message then holds what a typical message needs, not
 * its peak. The fast path is inline.
 */
static inline void
tc_buf_shed(tc_buf_t *b, size_t keep)
{
    b->len = 0;
    if (TC_UNLIKELY(b->cap > keep)) {
        tc_buf_deinit(b);
    }
}

/* Append 'n' bytes from 'p' (none of them when the bound refuses the room). */
static inline void
tc_buf_append(tc_buf_t *b, const void *p, size_t n)
{
    if (TC_UNLIKELY(!tc_buf_reserve(b, n))) {
        return;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
}

/* Append one byte (unless the bound refuses it). */
static inline void
tc_buf_append_u8(tc_buf_t *b, uint8_t v)
{
    if (TC_UNLIKELY(!tc_buf_reserve(b, 1))) {
        return;
    }
    b->data[b->len++] = v;
}

#endif /* TC_CORE_BUF_H */
