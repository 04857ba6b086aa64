/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte buffer, passed by pointer. Growing never moves the handle,
 * only 'data'; pointers into 'data' are invalid after any append.
 */
#ifndef TC_CORE_BUF_H
#define TC_CORE_BUF_H

#include "core/common.h"

#include <string.h>

struct tc_buf {
    uint8_t *data; /* owned; NULL while cap == 0 */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
};

/* Storage provided by the caller; starts empty, allocates nothing. */
void tc_buf_init(tc_buf_t *b);
/* Free the bytes; the handle may be reused after tc_buf_init(). */
void tc_buf_deinit(tc_buf_t *b);
/* Make room for 'extra' more bytes (aborts when memory runs out). */
void tc_buf_grow(tc_buf_t *b, size_t extra);
/* Drop the first 'n' bytes, moving the rest to the front. */
void tc_buf_consume(tc_buf_t *b, size_t n);

/* Ensure room for 'extra' bytes; the fast path is inline. */
static inline void
tc_buf_reserve(tc_buf_t *b, size_t extra)
{
    if (TC_UNLIKELY(b->cap - b->len < extra)) {
        tc_buf_grow(b, extra);
    }
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

/* Append 'n' bytes from 'p'. */
static inline void
tc_buf_append(tc_buf_t *b, const void *p, size_t n)
{
    tc_buf_reserve(b, n);
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
}

/* Append one byte. */
static inline void
tc_buf_append_u8(tc_buf_t *b, uint8_t v)
{
    tc_buf_reserve(b, 1);
    b->data[b->len++] = v;
}

#endif /* TC_CORE_BUF_H */
