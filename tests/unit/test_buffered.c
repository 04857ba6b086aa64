/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for transport/buffered.c: message ends found by skipping. */
#include "sample_call.h"
#include "tc_test.h"

#include "core/buf.h"
#include "transport/transport.h"

#include <stdlib.h>

static const tc_transport_t *const T = &tc_transport_buffered;

static int
scan(const tc_proto_ops_t *ops, const uint8_t *data, size_t len, size_t max, size_t *off,
     size_t *msg_len)
{
    uint8_t *in = malloc(len > 0 ? len : 1);
    assert_non_null(in);
    if (len > 0) {
        memcpy(in, data, len);
    }
    *off = 0xdead;
    *msg_len = 0xbeef;
    int rc = T->scan(ops, in, len, max, off, msg_len);
    free(in);
    return rc;
}

/* Every prefix is AGAIN, the whole is OK, and two messages back to back split right. */
static void
test_every_cut(void **state)
{
    (void)state;
    for (size_t f = 0; f < TC_ARRAY_LEN(sample_formats); f++) {
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, sample_formats[f], NULL, 0, &out);
        write_sample_call(&p, 1);
        size_t first = out.len;
        write_sample_call(&p, 2);
        size_t off;
        size_t len;
        for (size_t cut = 0; cut < first; cut++) {
            assert_int_equal(scan(sample_formats[f], out.data, cut, 4096, &off, &len), TC_AGAIN);
        }
        for (size_t cut = first; cut <= out.len; cut++) {
            assert_int_equal(scan(sample_formats[f], out.data, cut, 4096, &off, &len), TC_OK);
            assert_int_equal(off, 0);
            assert_int_equal(len, first);
        }
        assert_int_equal(
            scan(sample_formats[f], out.data + first, out.len - first, 4096, &off, &len), TC_OK);
        assert_int_equal(off, 0);
        assert_int_equal(len, out.len - first);
        /* the message fills the limit exactly, and one byte less */
        assert_int_equal(scan(sample_formats[f], out.data, out.len, first, &off, &len), TC_OK);
        assert_int_equal(scan(sample_formats[f], out.data, first - 1, first - 1, &off, &len),
                         TC_ELIMIT);
        assert_int_equal(scan(sample_formats[f], out.data, first, first - 1, &off, &len),
                         TC_ELIMIT);
        assert_int_equal(scan(sample_formats[f], out.data, first - 2, first - 1, &off, &len),
                         TC_AGAIN);
        tc_buf_deinit(&out);
    }
}

static void
test_non_strict_binary(void **state)
{
    (void)state;
    static const uint8_t m[] = {0x00, 0x00, 0x00, 0x04, 'p',  'i',  'n', 'g',
                                0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0xff};
    size_t off;
    size_t len;
    assert_int_equal(scan(&tc_proto_binary, m, sizeof(m), 4096, &off, &len), TC_OK);
    assert_int_equal(off, 0);
    assert_int_equal(len, sizeof(m) - 1);
}

static void
test_limits(void **state)
{
    (void)state;
    size_t off;
    size_t len;
    /* a string longer than the whole limit is refused as soon as its length is in */
    static const uint8_t bstr[] = {0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 'p',  0x00,
                                   0x00, 0x00, 0x01, 0x0b, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00};
    assert_int_equal(scan(&tc_proto_binary, bstr, sizeof(bstr), 4096, &off, &len), TC_AGAIN);
    assert_int_equal(scan(&tc_proto_binary, bstr, sizeof(bstr), 4095, &off, &len), TC_ELIMIT);
    static const uint8_t cstr[] = {0x82, 0x21, 0x01, 0x01, 'p', 0x18, 0x80, 0x20};
    assert_int_equal(scan(&tc_proto_compact, cstr, sizeof(cstr), 4096, &off, &len), TC_AGAIN);
    assert_int_equal(scan(&tc_proto_compact, cstr, sizeof(cstr), 4095, &off, &len), TC_ELIMIT);
    /* so is a method name */
    static const uint8_t name[] = {0x80, 0x01, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(scan(&tc_proto_binary, name, sizeof(name), 1 << 20, &off, &len), TC_ELIMIT);
    /* and a container count */
    static const uint8_t list[] = {0x82, 0x21, 0x01, 0x01, 'p', 0x19, 0xf3, 0xff, 0x7f};
    assert_int_equal(scan(&tc_proto_compact, list, sizeof(list), 4096, &off, &len), TC_ELIMIT);
    /* nothing at all yet */
    assert_int_equal(scan(&tc_proto_compact, list, 0, 4096, &off, &len), TC_AGAIN);
}

static void
test_garbage(void **state)
{
    (void)state;
    size_t off;
    size_t len;
    /* an HTTP request on a binary port: "GET " is a name length far over the limit */
    assert_int_equal(
        scan(&tc_proto_binary, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, 65536, &off, &len),
        TC_ELIMIT);
    /* on a compact port, refused at the first byte */
    assert_int_equal(scan(&tc_proto_compact, (const uint8_t *)"G", 1, 65536, &off, &len),
                     TC_EPROTO);
    /* a bad binary version, refused at the second byte */
    assert_int_equal(scan(&tc_proto_binary, (const uint8_t *)"\x80\x02", 2, 65536, &off, &len),
                     TC_EPROTO);
    /* message type 5 and 0 */
    static const uint8_t t5[] = {0x82, 0xa1, 0x00, 0x01, 'p', 0x00};
    assert_int_equal(scan(&tc_proto_compact, t5, sizeof(t5), 65536, &off, &len), TC_EPROTO);
    static const uint8_t t0[] = {0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x01, 0x00};
    assert_int_equal(scan(&tc_proto_binary, t0, sizeof(t0), 65536, &off, &len), TC_EPROTO);
    /* an invalid type inside an empty list */
    static const uint8_t el[] = {0x82, 0x21, 0x01, 0x01, 'p', 0x19, 0x0e, 0x00};
    assert_int_equal(scan(&tc_proto_compact, el, sizeof(el), 65536, &off, &len), TC_EPROTO);
}

/* Nesting is bounded by the hard ceiling here; the codec applies the configured limit. */
static void
test_depth(void **state)
{
    (void)state;
    size_t off;
    size_t len;
    uint8_t m[5 + TC_PROTO_DEPTH_MAX + TC_PROTO_DEPTH_MAX];
    memcpy(m, "\x82\x21\x01\x01p", 5);
    /* the argument struct holds TC_PROTO_DEPTH_MAX - 1 structs nested through field 1 */
    memset(m + 5, 0x1c, TC_PROTO_DEPTH_MAX - 1);
    memset(m + 5 + TC_PROTO_DEPTH_MAX - 1, 0x00, TC_PROTO_DEPTH_MAX);
    size_t n = 5 + 2 * TC_PROTO_DEPTH_MAX - 1;
    assert_int_equal(scan(&tc_proto_compact, m, n, 65536, &off, &len), TC_OK);
    assert_int_equal(len, n);
    memset(m + 5, 0x1c, TC_PROTO_DEPTH_MAX);
    memset(m + 5 + TC_PROTO_DEPTH_MAX, 0x00, TC_PROTO_DEPTH_MAX);
    assert_int_equal(scan(&tc_proto_compact, m, sizeof(m), 65536, &off, &len), TC_ELIMIT);
}

static void
test_begin_end(void **state)
{
    (void)state;
    tc_buf_t out;
    tc_buf_init(&out);
    tc_buf_append(&out, "ab", 2);
    size_t mark = T->begin(&out);
    assert_int_equal(mark, 2);
    assert_int_equal(out.len, 2);
    tc_buf_append(&out, "cd", 2);
    T->end(&out, mark);
    assert_int_equal(out.len, 4);
    TC_ASSERT_BYTES(out.data, "abcd", 4);
    tc_buf_deinit(&out);
}

/* ---- resuming ---- */

/*
 * A call whose one argument is a struct holding a list of 'n' structs (a
 * string, an i32 list, a map of string to i64) and a list of 'n' strings:
 * every kind of step the resumable skip takes, nested.
 */
static void
write_big_call(tc_proto_t *p, uint32_t n)
{
    const tc_proto_ops_t *ops = p->ops;
    ops->write_message_begin(p, "put", 3, TC_MSG_CALL, 7);
    ops->write_struct_begin(p);
    ops->write_field_begin(p, TC_TTYPE_STRUCT, 1);
    ops->write_struct_begin(p);
    ops->write_field_begin(p, TC_TTYPE_LIST, 4);
    ops->write_list_begin(p, TC_TTYPE_STRUCT, n);
    for (uint32_t i = 0; i < n; i++) {
        ops->write_struct_begin(p);
        ops->write_field_begin(p, TC_TTYPE_STRING, 1);
        ops->write_binary(p, "element", 7);
        ops->write_field_begin(p, TC_TTYPE_BOOL, 2);
        ops->write_bool(p, i % 2 == 0);
        ops->write_field_begin(p, TC_TTYPE_LIST, 20);
        ops->write_list_begin(p, TC_TTYPE_I32, 3);
        ops->write_i32(p, (int32_t)i);
        ops->write_i32(p, -1);
        ops->write_i32(p, INT32_MAX);
        ops->write_field_begin(p, TC_TTYPE_MAP, 21);
        ops->write_map_begin(p, TC_TTYPE_STRING, TC_TTYPE_I64, 1);
        ops->write_binary(p, "k", 1);
        ops->write_i64(p, (int64_t)i << 40);
        ops->write_field_stop(p);
        ops->write_struct_end(p);
    }
    ops->write_field_begin(p, TC_TTYPE_LIST, 5);
    ops->write_list_begin(p, TC_TTYPE_STRING, n);
    for (uint32_t i = 0; i < n; i++) {
        ops->write_binary(p, "0123456789", 10);
    }
    ops->write_field_stop(p);
    ops->write_struct_end(p);
    ops->write_field_stop(p);
    ops->write_struct_end(p);
}

/*
 * A message arriving in pieces, scanned the way transport/conn.c does:
 * one state, TC_AGAIN for every prefix, then the message found whole.
 * Returns the reader calls it took.
 */
static unsigned long
scan_in_pieces(const tc_proto_ops_t *ops, const tc_buf_t *msg, size_t piece)
{
    tc_proto_skip_state_t st;
    tc_proto_skip_state_init(&st);
    size_t off = 0;
    size_t len = 0;
    reads = 0;
    for (size_t have = piece; have < msg->len; have += piece) {
        assert_int_equal(T->scan_resume(ops, &st, msg->data, have, 1u << 24, &off, &len), TC_AGAIN);
    }
    assert_int_equal(T->scan_resume(ops, &st, msg->data, msg->len, 1u << 24, &off, &len), TC_OK);
    assert_int_equal(off, 0);
    assert_int_equal(len, msg->len);
    return reads;
}

/* Every piece size gives the same message as one scan, in both sample_formats. */
static void
test_resume_every_piece(void **state)
{
    (void)state;
    for (size_t f = 0; f < TC_ARRAY_LEN(sample_formats); f++) {
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, sample_formats[f], NULL, 0, &out);
        write_big_call(&p, 3);
        size_t first = out.len;
        write_sample_call(&p, 2);
        size_t off;
        size_t len;
        assert_int_equal(scan(sample_formats[f], out.data, out.len, 4096, &off, &len), TC_OK);
        assert_int_equal(len, first);
        tc_buf_t one = {.data = out.data, .len = first, .cap = first};
        for (size_t piece = 1; piece <= first; piece++) {
            (void)scan_in_pieces(sample_formats[f], &one, piece);
        }
        /* a state carried on past a refusal point refuses the same way */
        tc_proto_skip_state_t st;
        tc_proto_skip_state_init(&st);
        assert_int_equal(
            T->scan_resume(sample_formats[f], &st, out.data, first / 2, 4096, &off, &len),
            TC_AGAIN);
        assert_int_equal(
            T->scan_resume(sample_formats[f], &st, out.data, out.len, first - 1, &off, &len),
            TC_ELIMIT);
        tc_buf_deinit(&out);
    }
}

/*
 * A 1 MiB message sent 100 bytes at a time: each piece costs a few reader
 * calls, not a walk over everything buffered before it (that walk took
 * about 10,000 x 2,000,000 / 2 reader calls).
 */
static void
test_resume_linear_work(void **state)
{
    (void)state;
    for (size_t f = 0; f < TC_ARRAY_LEN(sample_formats); f++) {
        tc_proto_ops_t ops = counting(sample_formats[f]);
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, sample_formats[f], NULL, 0, &out);
        uint32_t n = sample_formats[f] == &tc_proto_binary ? 16384 : 32768;
        write_big_call(&p, n);
        assert_in_range(out.len, 1u << 20, 2u << 20);
        /* one scan of the whole message: the reader calls a message needs */
        reads = 0;
        size_t off;
        size_t len;
        tc_proto_skip_state_t st;
        tc_proto_skip_state_init(&st);
        assert_int_equal(T->scan_resume(&ops, &st, out.data, out.len, 1u << 24, &off, &len), TC_OK);
        unsigned long once = reads;
        assert_true(once > 6ul * n);
        unsigned long pieces = out.len / 100;
        unsigned long work = scan_in_pieces(&ops, &out, 100);
        assert_true(work >= once);
        /* at most a few reader calls per piece repeated */
        assert_true(work <= once + 4 * pieces);
        tc_buf_deinit(&out);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cut),
        cmocka_unit_test(test_non_strict_binary),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_begin_end),
        cmocka_unit_test(test_resume_every_piece),
        cmocka_unit_test(test_resume_linear_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
