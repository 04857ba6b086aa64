/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for transport/transport.c: transports by name, the scan of a stream in pieces. */
#include "sample_call.h"
#include "tc_test.h"

#include "core/buf.h"
#include "transport/transport.h"

#include <stdbool.h>
#include <stdlib.h>

/* tc_transport_scan() of exactly 'len' bytes (a copy, so that ASan sees any read past them). */
static int
scan(const tc_transport_t *t, const tc_proto_ops_t *ops, tc_proto_skip_state_t **skip,
     const uint8_t *data, size_t len, size_t max, size_t *off, size_t *msg_len)
{
    uint8_t *in = malloc(len > 0 ? len : 1);
    assert_non_null(in);
    if (len > 0) {
        memcpy(in, data, len);
    }
    *off = 0xdead;
    *msg_len = 0xbeef;
    int rc = tc_transport_scan(t, ops, skip, in, len, max, off, msg_len);
    free(in);
    return rc;
}

/* Uneven pieces: 1, 2, 3, 5, 8, 13 bytes, over and over. */
static size_t
piece(size_t i)
{
    static const size_t sizes[] = {1, 2, 3, 5, 8, 13};
    return sizes[i % TC_ARRAY_LEN(sizes)];
}

/*
 * The message at 'data' (whole at 'len' bytes) arriving in pieces of 1 byte
 * ('step' 0) or of uneven sizes, on the stream state '*skip': TC_AGAIN for
 * every prefix, then the message found. The state exists from the first
 * TC_AGAIN on, is the one the stream had if it had one, and is set back
 * once the message is found.
 */
static void
scan_in_pieces(const tc_proto_ops_t *ops, tc_proto_skip_state_t **skip, const uint8_t *data,
               size_t len, int step)
{
    const tc_transport_t *t = &tc_transport_buffered;
    tc_proto_skip_state_t *had = *skip;
    size_t off;
    size_t mlen;
    bool inside = false;
    size_t have = 1;
    for (size_t i = 0; have < len; i++) {
        assert_int_equal(scan(t, ops, skip, data, have, 1u << 20, &off, &mlen), TC_AGAIN);
        assert_non_null(*skip);
        if (had != NULL) {
            assert_ptr_equal(*skip, had);
        }
        had = *skip;
        /* the state holds where the skip got, not just that it began */
        inside = inside || (*skip)->top > 0;
        have += step == 0 ? 1 : piece(i);
    }
    assert_true(inside);
    assert_int_equal(scan(t, ops, skip, data, len, 1u << 20, &off, &mlen), TC_OK);
    assert_int_equal(off, 0);
    assert_int_equal(mlen, len);
    assert_ptr_equal(*skip, had);
    assert_int_equal((*skip)->pos, 0);
    assert_int_equal((*skip)->top, 0);
}

/* Messages that each come whole, alone or back to back: no state is made. */
static void
test_whole_messages_no_state(void **state)
{
    (void)state;
    for (size_t f = 0; f < TC_ARRAY_LEN(sample_formats); f++) {
        const tc_proto_ops_t *ops = sample_formats[f];
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, ops, NULL, 0, &out);
        write_sample_call(&p, 1);
        size_t first = out.len;
        write_sample_call(&p, 2);
        tc_proto_skip_state_t *skip = NULL;
        size_t off;
        size_t len;
        assert_int_equal(
            scan(&tc_transport_buffered, ops, &skip, out.data, out.len, 4096, &off, &len), TC_OK);
        assert_int_equal(off, 0);
        assert_int_equal(len, first);
        assert_int_equal(scan(&tc_transport_buffered, ops, &skip, out.data + first, out.len - first,
                              4096, &off, &len),
                         TC_OK);
        assert_int_equal(off, 0);
        assert_int_equal(len, out.len - first);
        /* refused whole, too: still nothing to keep */
        assert_int_equal(
            scan(&tc_transport_buffered, ops, &skip, out.data, first, first - 1, &off, &len),
            TC_ELIMIT);
        assert_null(skip);
        tc_buf_deinit(&out);
    }
}

/*
 * Two messages, each cut byte by byte and then in uneven pieces, on one
 * stream: the first cut makes the state, every later message goes on with it.
 */
static void
test_pieces(void **state)
{
    (void)state;
    for (size_t f = 0; f < TC_ARRAY_LEN(sample_formats); f++) {
        const tc_proto_ops_t *ops = sample_formats[f];
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, ops, NULL, 0, &out);
        write_sample_call(&p, 1);
        size_t first = out.len;
        write_sample_call(&p, 2);
        size_t second = out.len - first;
        for (int step = 0; step < 2; step++) {
            tc_proto_skip_state_t *skip = NULL;
            scan_in_pieces(ops, &skip, out.data, first, step);
            tc_proto_skip_state_t *made = skip;
            scan_in_pieces(ops, &skip, out.data + first, second, 1 - step);
            assert_ptr_equal(skip, made);
            /* a whole message after them scans as it would on a new stream */
            size_t off;
            size_t len;
            assert_int_equal(scan(&tc_transport_buffered, ops, &skip, out.data + first, second,
                                  4096, &off, &len),
                             TC_OK);
            assert_int_equal(off, 0);
            assert_int_equal(len, second);
            assert_ptr_equal(skip, made);
            free(skip);
        }
        tc_buf_deinit(&out);
    }
}

/*
 * A message over 'max' in pieces: TC_AGAIN while it may still fit, then
 * TC_ELIMIT, and the state, left inside the message, is set back: the next
 * message on it scans right.
 */
static void
test_pieces_over_max(void **state)
{
    (void)state;
    for (size_t f = 0; f < TC_ARRAY_LEN(sample_formats); f++) {
        const tc_proto_ops_t *ops = sample_formats[f];
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, ops, NULL, 0, &out);
        write_sample_call(&p, 1);
        size_t first = out.len;
        write_sample_call(&p, 2);
        size_t max = first - 1;
        tc_proto_skip_state_t *skip = NULL;
        size_t off;
        size_t len;
        size_t have = 1;
        for (size_t i = 0; have < max; i++) {
            assert_int_equal(
                scan(&tc_transport_buffered, ops, &skip, out.data, have, max, &off, &len),
                TC_AGAIN);
            have += piece(i);
        }
        assert_non_null(skip);
        assert_true(skip->top > 0);
        tc_proto_skip_state_t *made = skip;
        assert_int_equal(scan(&tc_transport_buffered, ops, &skip, out.data, have, max, &off, &len),
                         TC_ELIMIT);
        assert_ptr_equal(skip, made);
        assert_int_equal(skip->pos, 0);
        assert_int_equal(skip->top, 0);
        scan_in_pieces(ops, &skip, out.data + first, out.len - first, 1);
        assert_ptr_equal(skip, made);
        free(skip);
        tc_buf_deinit(&out);
    }
}

/* A call with a list of 'n' strings: long enough for a walk per piece to show. */
static void
write_long_call(tc_proto_t *p, uint32_t n)
{
    const tc_proto_ops_t *ops = p->ops;
    ops->write_message_begin(p, "put", 3, TC_MSG_CALL, 7);
    ops->write_struct_begin(p);
    ops->write_field_begin(p, TC_TTYPE_LIST, 1);
    ops->write_list_begin(p, TC_TTYPE_STRING, n);
    for (uint32_t i = 0; i < n; i++) {
        ops->write_binary(p, "0123456789", 10);
    }
    ops->write_field_stop(p);
    ops->write_struct_end(p);
}

/*
 * The state is what the next call goes on from: a message in 100-byte
 * pieces costs one walk of it plus a few reader calls per piece (from the
 * start every time, it would cost about pieces / 2 walks).
 */
static void
test_pieces_walked_once(void **state)
{
    (void)state;
    for (size_t f = 0; f < TC_ARRAY_LEN(sample_formats); f++) {
        tc_proto_ops_t ops = counting(sample_formats[f]);
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, sample_formats[f], NULL, 0, &out);
        write_long_call(&p, 2000);
        size_t off;
        size_t len;
        tc_proto_skip_state_t *skip = NULL;
        reads = 0;
        assert_int_equal(tc_transport_scan(&tc_transport_buffered, &ops, &skip, out.data, out.len,
                                           1u << 20, &off, &len),
                         TC_OK);
        assert_null(skip);
        unsigned long once = reads;
        assert_true(once >= 2000);
        reads = 0;
        unsigned long pieces = 0;
        for (size_t have = 100; have < out.len; have += 100) {
            assert_int_equal(tc_transport_scan(&tc_transport_buffered, &ops, &skip, out.data, have,
                                               1u << 20, &off, &len),
                             TC_AGAIN);
            pieces++;
        }
        assert_int_equal(tc_transport_scan(&tc_transport_buffered, &ops, &skip, out.data, out.len,
                                           1u << 20, &off, &len),
                         TC_OK);
        assert_int_equal(len, out.len);
        assert_true(pieces >= 100);
        assert_true(reads >= once);
        assert_true(reads <= once + 4 * (pieces + 1));
        free(skip);
        tc_buf_deinit(&out);
    }
}

/* Framed (and THeader) read a length, not the message: the state is never made or touched. */
static void
test_not_resumable_no_state(void **state)
{
    (void)state;
    static const uint8_t frames[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 2, 'd', 'e'};
    tc_proto_skip_state_t *skip = NULL;
    size_t off;
    size_t len;
    for (size_t have = 0; have < 7; have++) {
        assert_int_equal(
            scan(&tc_transport_framed, &tc_proto_binary, &skip, frames, have, 16, &off, &len),
            TC_AGAIN);
    }
    assert_int_equal(scan(&tc_transport_framed, &tc_proto_binary, &skip, frames, 7, 16, &off, &len),
                     TC_OK);
    assert_int_equal(off, 4);
    assert_int_equal(len, 3);
    assert_int_equal(scan(&tc_transport_framed, &tc_proto_binary, &skip, frames + 7,
                          sizeof(frames) - 7, 16, &off, &len),
                     TC_OK);
    assert_int_equal(off, 4);
    assert_int_equal(len, 2);
    assert_int_equal(scan(&tc_transport_framed, &tc_proto_binary, &skip, frames, 7, 2, &off, &len),
                     TC_ELIMIT);
    assert_null(skip);
    /* a stream's state left as it is (a transport's scan() never sees it) */
    tc_proto_skip_state_t kept = {.pos = 5, .top = 1};
    tc_proto_skip_state_t *st = &kept;
    assert_int_equal(scan(&tc_transport_framed, &tc_proto_binary, &st, frames, 3, 16, &off, &len),
                     TC_AGAIN);
    assert_int_equal(scan(&tc_transport_header, NULL, &st, frames, 3, 16, &off, &len), TC_AGAIN);
    assert_ptr_equal(st, &kept);
    assert_int_equal(kept.pos, 5);
    assert_int_equal(kept.top, 1);
}

static void
test_find(void **state)
{
    (void)state;
    assert_ptr_equal(tc_transport_find("framed"), &tc_transport_framed);
    assert_ptr_equal(tc_transport_find("buffered"), &tc_transport_buffered);
    assert_ptr_equal(tc_transport_find("header"), &tc_transport_header);
    assert_null(tc_transport_find("Framed"));
    assert_null(tc_transport_find(""));
    assert_null(tc_transport_find(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_messages_no_state), cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_pieces_over_max),         cmocka_unit_test(test_pieces_walked_once),
        cmocka_unit_test(test_not_resumable_no_state),  cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
