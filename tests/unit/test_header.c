/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for transport/header.c: frames written by Apache Thrift's
 * Python THeaderTransport (0.17), info headers, padding, ZLIB (once or
 * several times) and its cap, truncation at every boundary, and replies
 * read back and compared with what Apache's Python server writes.
 */
#include "tc_test.h"

#include "core/buf.h"
#include "protocol/message.h"
#include "transport/header.h"

#include <stdlib.h>
#include <zlib.h>

/* A binary ping call, seqid 7: the message inside every frame below. */
static const uint8_t ping[] = {0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x70,
                               0x69, 0x6e, 0x67, 0x00, 0x00, 0x00, 0x07, 0x00};

/* Python: THeaderTransport(binary), sequence_id 7, no headers. */
static const uint8_t plain[] = {
    0x00, 0x00, 0x00, 0x1f, 0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x04, 0x70, 0x69, 0x6e, 0x67, 0x00, 0x00, 0x00, 0x07, 0x00,
};

/* Python: set_header(b"k", b"v"), set_header(b"user", b"ann"). */
static const uint8_t kv[] = {
    0x00, 0x00, 0x00, 0x2f, 0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00,
    0x05, 0x00, 0x00, 0x01, 0x02, 0x01, 0x6b, 0x01, 0x76, 0x04, 0x75, 0x73, 0x65,
    0x72, 0x03, 0x61, 0x6e, 0x6e, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x04, 0x70, 0x69, 0x6e, 0x67, 0x00, 0x00, 0x00, 0x07, 0x00,
};

/* Python: set_header(b"k", b"v"), add_transform(ZLIB). */
static const uint8_t zlibbed[] = {
    0x00, 0x00, 0x00, 0x2d, 0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00,
    0x03, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x6b, 0x01, 0x76, 0x00, 0x00, 0x00,
    0x78, 0x9c, 0x6b, 0x60, 0x64, 0x60, 0x64, 0x60, 0x60, 0x60, 0x29, 0xc8, 0xcc,
    0x4b, 0x07, 0xd2, 0xec, 0x0c, 0x00, 0x15, 0x89, 0x02, 0x3c,
};

/* Python: two add_transform(ZLIB). */
static const uint8_t zlibbed_twice[] = {
    0x00, 0x00, 0x00, 0x2c, 0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x01, 0x00, 0x02,
    0x01, 0x01, 0x78, 0x9c, 0xab, 0x98, 0x93, 0x9d, 0x90, 0x02, 0x84, 0x09, 0x09, 0x9a, 0x27, 0xce,
    0x78, 0xb3, 0x5f, 0x7a, 0xc3, 0xc3, 0x20, 0xda, 0xc9, 0x64, 0x03, 0x00, 0x75, 0x1f, 0x08, 0xdd,
};

/*
 * Apache's Python server (THeaderTransport 0.17) answering 'zlibbed' with
 * set_header(b"a", b"one"), set_header(b"bb", b"") and the message "reply
 * bytes": the request's flags, sequence id and protocol id, no transform.
 */
static const uint8_t python_reply[] = {
    0x00, 0x00, 0x00, 0x25, 0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x04,
    0x00, 0x00, 0x01, 0x02, 0x01, 0x61, 0x03, 0x6f, 0x6e, 0x65, 0x02, 0x62, 0x62, 0x00,
    0x00, 0x00, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x20, 0x62, 0x79, 0x74, 0x65, 0x73,
};

static tc_header_t h;
static uint8_t *copy; /* the frame 'h' borrows */

static int
setup(void **state)
{
    (void)state;
    tc_header_init(&h);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tc_header_deinit(&h);
    free(copy);
    copy = NULL;
    return 0;
}

/* Read frame bytes (with their 4-byte length) from an exact-size copy. */
static int
read_frame(const uint8_t *f, size_t len, size_t max, const char **why)
{
    free(copy); /* the previous frame: 'h' borrowed it until now */
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, f, len);
    *why = NULL;
    return tc_header_read(&h, copy + 4, len - 4, max, why);
}

static void
assert_kv(tc_header_iter_t *it, const char *k, const char *v)
{
    tc_header_kv_t e;
    assert_true(tc_header_next(it, &e));
    assert_int_equal(e.key_len, strlen(k));
    assert_memory_equal(e.key, k, e.key_len);
    assert_int_equal(e.value_len, strlen(v));
    assert_memory_equal(e.value, v, e.value_len);
}

static void
test_python_frames(void **state)
{
    (void)state;
    const char *why;
    assert_ptr_equal(tc_transport_find("header"), &tc_transport_header);
    assert_int_equal(read_frame(plain, sizeof(plain), 1024, &why), TC_OK);
    assert_int_equal(h.seqid, 7);
    assert_int_equal(h.flags, 0);
    assert_ptr_equal(h.protocol, &tc_proto_binary);
    assert_int_equal(h.ntransforms, 0);
    assert_int_equal(h.payload_len, sizeof(ping));
    assert_memory_equal(h.payload, ping, sizeof(ping));
    tc_header_iter_t it;
    tc_header_kv_t e;
    tc_header_iter_init(&h, &it);
    assert_false(tc_header_next(&it, &e));

    assert_int_equal(read_frame(kv, sizeof(kv), 1024, &why), TC_OK);
    assert_memory_equal(h.payload, ping, sizeof(ping));
    tc_header_iter_init(&h, &it);
    assert_kv(&it, "k", "v");
    assert_kv(&it, "user", "ann");
    assert_false(tc_header_next(&it, &e));

    assert_int_equal(read_frame(zlibbed, sizeof(zlibbed), 1024, &why), TC_OK);
    assert_int_equal(h.ntransforms, 1);
    assert_int_equal(h.payload_len, sizeof(ping));
    assert_memory_equal(h.payload, ping, sizeof(ping));
    tc_header_iter_init(&h, &it);
    assert_kv(&it, "k", "v");
    assert_false(tc_header_next(&it, &e));
}

/* The transport finds frames; every cut of one is AGAIN, too short a frame EPROTO. */
static void
test_scan(void **state)
{
    (void)state;
    size_t off;
    size_t len;
    for (size_t cut = 0; cut < sizeof(kv); cut++) {
        assert_int_equal(tc_transport_header.scan(NULL, kv, cut, 1024, &off, &len), TC_AGAIN);
    }
    assert_int_equal(tc_transport_header.scan(NULL, kv, sizeof(kv), 1024, &off, &len), TC_OK);
    assert_int_equal(off, 4);
    assert_int_equal(len, sizeof(kv) - 4);
    assert_int_equal(tc_transport_header.scan(NULL, kv, sizeof(kv), 16, &off, &len), TC_ELIMIT);
    static const uint8_t tiny[] = {0x00, 0x00, 0x00, 0x04, 0x0f, 0xff, 0x00, 0x00};
    assert_int_equal(tc_transport_header.scan(NULL, tiny, sizeof(tiny), 1024, &off, &len),
                     TC_EPROTO);
}

/*
 * A frame cut short anywhere (its length field patched to match) is refused,
 * never read past: only the message itself may be cut and still be a frame.
 */
static void
test_truncated_at_every_boundary(void **state)
{
    (void)state;
    const uint8_t *frames[] = {plain, kv, zlibbed};
    size_t sizes[] = {sizeof(plain), sizeof(kv), sizeof(zlibbed)};
    size_t header_end[] = {18, 34, 26}; /* 4 + 10 + header words * 4 */
    for (size_t f = 0; f < 3; f++) {
        for (size_t cut = 4; cut < sizes[f]; cut++) {
            uint8_t *b = malloc(cut);
            assert_non_null(b);
            memcpy(b, frames[f], cut);
            const char *why = NULL;
            int rc = tc_header_read(&h, b + 4, cut - 4, 1024, &why);
            if (cut < header_end[f]) {
                assert_int_equal(rc, TC_EPROTO);
                assert_non_null(why);
            } else if (f == 2) {
                /* a zlib stream cut short */
                assert_int_equal(rc, cut == sizes[f] ? TC_OK : TC_EPROTO);
            } else {
                assert_int_equal(rc, TC_OK); /* the protocol finds the message short */
                assert_int_equal(h.payload_len, cut - header_end[f]);
            }
            free(b);
        }
    }
}

static void
test_bad_frames(void **state)
{
    (void)state;
    const char *why;
    uint8_t b[sizeof(kv)];
    /* wrong magic */
    memcpy(b, kv, sizeof(kv));
    b[5] = 0xFE;
    assert_int_equal(read_frame(b, sizeof(b), 1024, &why), TC_EPROTO);
    /* header size larger than the frame */
    memcpy(b, kv, sizeof(kv));
    b[13] = 0x20;
    assert_int_equal(read_frame(b, sizeof(b), 1024, &why), TC_EPROTO);
    assert_string_equal(why, "header size larger than the frame");
    assert_int_equal(h.refused, 0);
    /* protocol id 1 (JSON) */
    memcpy(b, kv, sizeof(kv));
    b[14] = 0x01;
    assert_int_equal(read_frame(b, sizeof(b), 1024, &why), TC_EPROTO);
    assert_string_equal(why, "unsupported protocol id");
    assert_int_equal(h.refused, TC_APPEX_INVALID_PROTOCOL);
    assert_int_equal(h.refused_id, 1);
    /* an info header longer than the header block */
    memcpy(b, kv, sizeof(kv));
    b[27] = 0x09;
    assert_int_equal(read_frame(b, sizeof(b), 1024, &why), TC_EPROTO);
    /* a transform other than ZLIB */
    memcpy(b, zlibbed, sizeof(zlibbed));
    b[16] = 0x02;
    assert_int_equal(read_frame(b, sizeof(zlibbed), 1024, &why), TC_EPROTO);
    assert_string_equal(why, "unsupported transform");
    assert_int_equal(h.refused, TC_APPEX_INVALID_TRANSFORM);
    assert_int_equal(h.refused_id, 2);
    /* garbage where the zlib stream should be */
    memcpy(b, zlibbed, sizeof(zlibbed));
    b[27] = 0x00;
    assert_int_equal(read_frame(b, sizeof(zlibbed), 1024, &why), TC_EPROTO);
    assert_int_equal(h.refused, 0); /* set back by each read */
    /* an unknown info header type ends the info headers (Apache skips the rest) */
    memcpy(b, kv, sizeof(kv));
    b[16] = 0x07;
    assert_int_equal(read_frame(b, sizeof(b), 1024, &why), TC_OK);
    tc_header_iter_t it;
    tc_header_kv_t e;
    tc_header_iter_init(&h, &it);
    assert_false(tc_header_next(&it, &e));
    /* a varint of more than 5 bytes */
    memcpy(b, kv, sizeof(kv));
    memset(b + 14, 0x80, 6);
    assert_int_equal(read_frame(b, sizeof(b), 1024, &why), TC_EPROTO);
    assert_string_equal(why, "protocol id over 32 bits");
}

/*
 * A varint of the header block cut by its end, and one over 32 bits (5
 * bytes, the last with bits above bit 31): each named as what it is.
 */
static void
test_bad_varints(void **state)
{
    (void)state;
    static const struct {
        uint8_t block[8];
        uint8_t words; /* the header block's size */
        const char *why;
    } bad[] = {
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, 2, "protocol id over 32 bits"},
        {{0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0x00, 0x00, 0x00}, 2, "protocol id over 32 bits"},
        {{0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x10, 0x00, 0x00}, 2, "transform count over 32 bits"},
        {{0x00, 0x01, 0x81, 0x80, 0x80, 0x80, 0x7F, 0x00}, 2, "transform id over 32 bits"},
        {{0x80, 0x80, 0x80, 0x80}, 1, "truncated protocol id"},
        {{0x00, 0x80, 0x80, 0x80}, 1, "truncated transform count"},
        {{0x00, 0x01, 0x81, 0x80}, 1, "truncated transform id"},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(bad); i++) {
        size_t hlen = 4u * bad[i].words;
        size_t len = 10 + hlen + sizeof(ping);
        /* magic, flags 0, sequence id 7, the header size's high byte */
        static const uint8_t fixed[] = {0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00};
        uint8_t f[4 + 10 + 8 + sizeof(ping)] = {0};
        f[3] = (uint8_t)len;
        memcpy(f + 4, fixed, sizeof(fixed));
        f[13] = bad[i].words;
        memcpy(f + 14, bad[i].block, hlen);
        memcpy(f + 14 + hlen, ping, sizeof(ping));
        const char *why;
        assert_int_equal(read_frame(f, 4 + len, 1024, &why), TC_EPROTO);
        if (strcmp(why, bad[i].why) != 0) {
            fail_msg("case %zu: '%s', not '%s'", i, why, bad[i].why);
        }
        assert_int_equal(h.refused, 0);
    }
}

/* Build a ZLIB frame of 'n' zero bytes. */
static size_t
zeros_frame(uint8_t **out, size_t n)
{
    uint8_t *zeros = calloc(1, n);
    uLongf zlen = compressBound((uLong)n);
    uint8_t *f = malloc(18 + zlen);
    assert_non_null(zeros);
    assert_non_null(f);
    assert_int_equal(compress2(f + 18, &zlen, zeros, (uLong)n, 9), Z_OK);
    static const uint8_t head[] = {0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00,
                                   0x07, 0x00, 0x01, 0x00, 0x01, 0x01, 0x00};
    memcpy(f + 4, head, sizeof(head));
    size_t len = 14 + zlen;
    f[0] = (uint8_t)(len >> 24);
    f[1] = (uint8_t)(len >> 16);
    f[2] = (uint8_t)(len >> 8);
    f[3] = (uint8_t)len;
    free(zeros);
    *out = f;
    return 18 + zlen;
}

/* The inflated size is capped: exactly the cap is fine, one byte more is not. */
static void
test_zlib_cap(void **state)
{
    (void)state;
    uint8_t *f;
    size_t n = zeros_frame(&f, 100000);
    assert_true(n < 1000); /* a zip bomb in small */
    const char *why;
    assert_int_equal(read_frame(f, n, 100000, &why), TC_OK);
    assert_int_equal(h.payload_len, 100000);
    assert_int_equal(read_frame(f, n, 99999, &why), TC_ELIMIT);
    assert_string_equal(why, "the inflated message is over max_message_size");
    assert_true(h.inflated.cap <= 2 * 100000);
    assert_int_equal(read_frame(f, n, 1000, &why), TC_ELIMIT);
    assert_true(h.inflated.cap <= 2 * 100000);
    free(f);
}

/* Append to 'out' the reply frame of the message [msg, msg+len), as a connection writes it. */
static void
write_reply(tc_buf_t *out, const void *msg, size_t len)
{
    size_t mark = tc_header_begin(out);
    assert_int_equal(out->len, mark + TC_HEADER_LEAST);
    tc_buf_append(out, msg, len);
    tc_header_end(&h, out, mark);
}

/*
 * Shedding once a message is handled frees the scratch a large message
 * grew (the inflated message) and keeps small buffers; the header reads
 * and writes as before after it.
 */
static void
test_shed(void **state)
{
    (void)state;
    uint8_t *f;
    size_t n = zeros_frame(&f, 100000);
    const char *why;
    assert_int_equal(read_frame(f, n, 100000, &why), TC_OK);
    assert_true(h.inflated.cap >= 100000);
    assert_int_equal(tc_header_set_reply(&h, "k", 1, "v", 1), TC_OK);
    tc_header_shed(&h, 65536);
    assert_null(h.inflated.data);
    assert_int_equal(h.inflated.cap, 0);
    assert_int_equal(h.nreply_info, 1); /* the reply's headers are not scratch */
    assert_int_equal(read_frame(zlibbed, sizeof(zlibbed), 1024, &why), TC_OK);
    assert_memory_equal(h.payload, ping, sizeof(ping));
    const uint8_t *inflated = h.inflated.data;
    tc_header_shed(&h, 65536);
    assert_ptr_equal(h.inflated.data, inflated); /* small: kept for the next message */
    assert_int_equal(h.inflated.len, 0);
    assert_int_equal(read_frame(zlibbed, sizeof(zlibbed), 1024, &why), TC_OK);
    assert_memory_equal(h.payload, ping, sizeof(ping));
    assert_ptr_equal(h.inflated.data, inflated);
    free(f);
}

/*
 * A reply is a frame like the request's: read back, it holds the message
 * and the headers set. Without headers it is the message and
 * TC_HEADER_LEAST bytes before it.
 */
static void
test_reply_round_trip(void **state)
{
    (void)state;
    const uint8_t *frames[] = {kv, zlibbed, kv, zlibbed};
    size_t sizes[] = {sizeof(kv), sizeof(zlibbed), sizeof(kv), sizeof(zlibbed)};
    for (size_t f = 0; f < 4; f++) {
        bool headers = f < 2;
        const char *why;
        assert_int_equal(read_frame(frames[f], sizes[f], 1024, &why), TC_OK);
        if (headers) {
            assert_int_equal(tc_header_set_reply(&h, "a", 1, "one", 3), TC_OK);
            assert_int_equal(tc_header_set_reply(&h, "bb", 2, "", 0), TC_OK);
        }
        tc_buf_t out;
        tc_buf_init(&out);
        tc_buf_append(&out, "x", 1); /* appended after what is there */
        write_reply(&out, "reply bytes", 11);
        assert_true(headers || out.len == 1 + TC_HEADER_LEAST + 11);
        size_t off;
        size_t len;
        assert_int_equal(
            tc_transport_header.scan(NULL, out.data + 1, out.len - 1, 1 << 20, &off, &len), TC_OK);
        assert_int_equal(off + len, out.len - 1);
        assert_true((size_t)(out.data[13] << 8 | out.data[14]) * 4 + 10 <= len);
        assert_int_equal(read_frame(out.data + 1, out.len - 1, 1024, &why), TC_OK);
        assert_int_equal(h.seqid, 7);
        assert_int_equal(h.ntransforms, 0); /* a compressed request too: Apache's servers */
        assert_ptr_equal(h.protocol, &tc_proto_binary);
        assert_int_equal(h.payload_len, 11);
        assert_memory_equal(h.payload, "reply bytes", 11);
        tc_header_iter_t it;
        tc_header_kv_t e;
        tc_header_iter_init(&h, &it);
        if (headers) {
            assert_kv(&it, "a", "one");
            assert_kv(&it, "bb", "");
        }
        assert_false(tc_header_next(&it, &e));
        tc_buf_deinit(&out);
    }
}

/* The reply to a ZLIB request is, byte for byte, the one Apache's Python server writes. */
static void
test_reply_as_apache_writes_it(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(read_frame(zlibbed, sizeof(zlibbed), 1024, &why), TC_OK);
    assert_int_equal(tc_header_set_reply(&h, "a", 1, "one", 3), TC_OK);
    assert_int_equal(tc_header_set_reply(&h, "bb", 2, "", 0), TC_OK);
    tc_buf_t out;
    tc_buf_init(&out);
    write_reply(&out, "reply bytes", 11);
    assert_int_equal(out.len, sizeof(python_reply));
    assert_memory_equal(out.data, python_reply, sizeof(python_reply));
    tc_buf_deinit(&out);
}

/* Build a frame of [m, m+len) under 'layers' ZLIB transforms, each compressed at 'level'. */
static size_t
layered_frame_of(uint8_t **out, const uint8_t *m, size_t len, unsigned layers, int level)
{
    uint8_t *msg = malloc(len);
    assert_non_null(msg);
    memcpy(msg, m, len);
    for (unsigned i = 0; i < layers; i++) {
        uLongf zlen = compressBound((uLong)len);
        uint8_t *z = malloc(zlen);
        assert_non_null(z);
        assert_int_equal(compress2(z, &zlen, msg, (uLong)len, level), Z_OK);
        free(msg);
        msg = z;
        len = zlen;
    }
    size_t block = 2 + layers;
    block += (4 - block % 4) % 4;
    size_t n = 4 + 10 + block + len;
    uint8_t *f = calloc(1, n);
    assert_non_null(f);
    f[0] = (uint8_t)((n - 4) >> 24);
    f[1] = (uint8_t)((n - 4) >> 16);
    f[2] = (uint8_t)((n - 4) >> 8);
    f[3] = (uint8_t)(n - 4);
    f[4] = 0x0f;
    f[5] = 0xff;
    f[11] = 7;
    f[13] = (uint8_t)(block / 4);
    f[15] = (uint8_t)layers; /* protocol id 0, then the count: one varint byte */
    memset(f + 16, TC_HEADER_TRANSFORM_ZLIB, layers);
    memcpy(f + 14 + block, msg, len);
    free(msg);
    *out = f;
    return n;
}

/* Build a frame of 'ping' under 'layers' ZLIB transforms. */
static size_t
layered_frame(uint8_t **out, unsigned layers)
{
    return layered_frame_of(out, ping, sizeof(ping), layers, 6);
}

/*
 * ZLIB named more than once is undone as many times, as Apache's readers
 * (C++, Python, Go) do; Python's client writes that after add_transform(ZLIB)
 * twice. The count is bounded, each layer capped.
 */
static void
test_zlib_layers(void **state)
{
    (void)state;
    const char *why;
    /* one layer, again and again, keeps one scratch buffer: the second is for layers after it */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(read_frame(zlibbed, sizeof(zlibbed), 1024, &why), TC_OK);
    }
    assert_int_equal(h.spare.cap, 0);
    assert_int_equal(read_frame(zlibbed_twice, sizeof(zlibbed_twice), 1024, &why), TC_OK);
    assert_int_equal(h.ntransforms, 2);
    assert_int_equal(h.payload_len, sizeof(ping));
    assert_memory_equal(h.payload, ping, sizeof(ping));
    for (unsigned layers = 0; layers <= TC_HEADER_TRANSFORMS_MAX + 1; layers++) {
        uint8_t *f;
        size_t n = layered_frame(&f, layers);
        int rc = read_frame(f, n, 1024, &why);
        if (layers <= TC_HEADER_TRANSFORMS_MAX) {
            assert_int_equal(rc, TC_OK);
            assert_int_equal(h.ntransforms, layers);
            assert_int_equal(h.payload_len, sizeof(ping));
            assert_memory_equal(h.payload, ping, sizeof(ping));
        } else {
            assert_int_equal(rc, TC_EPROTO);
            assert_string_equal(why, "too many transforms");
        }
        free(f);
    }
    /* a layer that is no zlib stream (the message itself) under one that is */
    uint8_t *f;
    size_t n = layered_frame(&f, 1);
    f[15] = 2; /* ZLIB, ZLIB, where the padding was */
    f[17] = TC_HEADER_TRANSFORM_ZLIB;
    assert_int_equal(read_frame(f, n, 1024, &why), TC_EPROTO);
    assert_string_equal(why, "zlib: invalid compressed message");
    free(f);
}

/*
 * However many layers a frame names, they inflate to at most twice the cap
 * together: each layer may be a zlib bomb of the next (zlib's stored blocks
 * of a run of zeros compress a thousandfold), so with the cap on each layer
 * alone a frame of 20 KB naming ZLIB 16 times had a server inflate 16 times
 * max_message_size, 256 MB with the default.
 */
static void
test_zlib_layers_budget(void **state)
{
    (void)state;
    const char *why;
    uint8_t *zeros = calloc(1, 30000);
    assert_non_null(zeros);
    uint8_t *f;
    /* three stored layers: each inflates to about 30,000 bytes, 90,000 together */
    size_t n = layered_frame_of(&f, zeros, 30000, 3, 0);
    assert_int_equal(read_frame(f, n, 46000, &why), TC_OK);
    assert_int_equal(h.payload_len, 30000);
    assert_memory_equal(h.payload, zeros, 30000);
    /* each layer is under a cap of 40,000, all three over twice it */
    assert_int_equal(read_frame(f, n, 40000, &why), TC_ELIMIT);
    assert_string_equal(why, "the inflated layers are over twice max_message_size together");
    /* one layer over the cap is still told as such */
    assert_int_equal(read_frame(f, n, 29000, &why), TC_ELIMIT);
    assert_string_equal(why, "the inflated message is over max_message_size");
    free(f);
    /* two layers never reach the budget: each is within the cap */
    n = layered_frame_of(&f, zeros, 30000, 2, 0);
    assert_int_equal(read_frame(f, n, 30100, &why), TC_OK);
    assert_int_equal(h.payload_len, 30000);
    free(f);
    free(zeros);
}

/* Reply headers are bounded so the header block always fits its 16-bit size. */
static void
test_reply_headers_limit(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(read_frame(plain, sizeof(plain), 1024, &why), TC_OK);
    static char big[TC_HEADER_REPLY_INFO_MAX];
    memset(big, 'v', sizeof(big));
    assert_int_equal(tc_header_set_reply(&h, "k1", 2, big, 40000), TC_OK);
    assert_int_equal(tc_header_set_reply(&h, "k2", 2, big, 40000), TC_ELIMIT);
    /* lengths whose sum wraps (a plugin's bad arguments) are over the limit too */
    assert_int_equal(tc_header_set_reply(&h, "k", SIZE_MAX - 5, "v", 1), TC_ELIMIT);
    assert_int_equal(tc_header_set_reply(&h, "k", 1, "v", SIZE_MAX), TC_ELIMIT);
    assert_int_equal(h.nreply_info, 1);
    /*
     * filled to the limit, in one header or in many: the reply's header
     * block stays under 16384 words, which Apache's C++ client refuses
     */
    for (int many = 0; many < 2; many++) {
        assert_int_equal(read_frame(kv, sizeof(kv), 1024, &why), TC_OK);
        size_t n = 0;
        if (many) {
            /* bounded: a broken limit fails the test instead of hanging it */
            while (n < TC_HEADER_REPLY_INFO_MAX && tc_header_set_reply(&h, "", 0, "", 0) == TC_OK) {
                n++;
            }
            assert_true(n < TC_HEADER_REPLY_INFO_MAX);
        } else {
            size_t v = TC_HEADER_REPLY_INFO_MAX - 2 - 2 * 5;
            assert_int_equal(tc_header_set_reply(&h, "k1", 2, big, v), TC_OK);
            assert_int_equal(tc_header_set_reply(&h, "k", 1, "", 0), TC_ELIMIT);
            n = 1;
        }
        assert_int_equal(h.nreply_info, n);
        assert_true(h.reply_info.len <= TC_HEADER_REPLY_INFO_MAX);
        tc_buf_t out;
        tc_buf_init(&out);
        write_reply(&out, NULL, 0);
        size_t words = (size_t)(out.data[12] << 8 | out.data[13]);
        assert_true(words >= 16000 && words < 16384);
        /* with the most headers, a message of max_body bytes still has a length that fits */
        assert_true(out.len - 4 + tc_transport_header.max_body <= INT32_MAX);
        assert_int_equal(read_frame(out.data, out.len, 1024, &why), TC_OK);
        tc_header_iter_t it;
        tc_header_kv_t e;
        tc_header_iter_init(&h, &it);
        size_t seen = 0;
        while (tc_header_next(&it, &e)) {
            seen++;
        }
        assert_int_equal(seen, n);
        tc_buf_deinit(&out);
    }
    /* the next request starts with none */
    assert_int_equal(read_frame(plain, sizeof(plain), 1024, &why), TC_OK);
    assert_int_equal(h.nreply_info, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_python_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_at_every_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_varints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zlib_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_as_apache_writes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zlib_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zlib_layers_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_headers_limit, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc;
}
