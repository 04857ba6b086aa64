/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for transport/framed.c (and transport.c's lookup). */
#include "tc_test.h"

#include "core/buf.h"
#include "transport/transport.h"

#include <stdlib.h>

static const tc_transport_t *const T = &tc_transport_framed;

/* Scan an exact-size copy of [data, data+len), so ASan sees any over-read. */
static int
scan(const uint8_t *data, size_t len, size_t max, size_t *off, size_t *msg_len)
{
    uint8_t *in = malloc(len > 0 ? len : 1);
    assert_non_null(in);
    if (len > 0) {
        memcpy(in, data, len);
    }
    *off = 0xdead;
    *msg_len = 0xbeef;
    int rc = T->scan(&tc_proto_binary, in, len, max, off, msg_len);
    free(in);
    return rc;
}

static void
test_find(void **state)
{
    (void)state;
    assert_ptr_equal(tc_transport_find("framed"), &tc_transport_framed);
    assert_ptr_equal(tc_transport_find("buffered"), &tc_transport_buffered);
    assert_null(tc_transport_find("http"));
    assert_null(tc_transport_find(NULL));
    assert_string_equal(T->name, "framed");
}

/* Every prefix of a frame is AGAIN; the whole one is OK; two back to back split right. */
static void
test_every_cut(void **state)
{
    (void)state;
    /* a framed binary ping call: 4-byte length 17, then the message */
    static const uint8_t two[] = {
        0x00, 0x00, 0x00, 0x11, 0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x04, 'p',  'i',  'n',  'g',  0x00, 0x00, 0x00, 0x01, 0x00, /* second frame: 3 bytes */
        0x00, 0x00, 0x00, 0x03, 0xaa, 0xbb, 0xcc,
    };
    size_t off;
    size_t len;
    for (size_t cut = 0; cut < 21; cut++) {
        assert_int_equal(scan(two, cut, 1024, &off, &len), TC_AGAIN);
    }
    for (size_t cut = 21; cut <= sizeof(two); cut++) {
        assert_int_equal(scan(two, cut, 1024, &off, &len), TC_OK);
        assert_int_equal(off, 4);
        assert_int_equal(len, 17);
    }
    const uint8_t *rest = two + 21;
    size_t rest_len = sizeof(two) - 21;
    for (size_t cut = 0; cut < rest_len; cut++) {
        assert_int_equal(scan(rest, cut, 1024, &off, &len), TC_AGAIN);
    }
    assert_int_equal(scan(rest, rest_len, 1024, &off, &len), TC_OK);
    assert_int_equal(off, 4);
    assert_int_equal(len, 3);
    assert_memory_equal(rest + off, "\xaa\xbb\xcc", 3);
}

static void
test_limits(void **state)
{
    (void)state;
    size_t off;
    size_t len;
    /* zero and negative frames */
    assert_int_equal(scan((const uint8_t *)"\x00\x00\x00\x00", 4, 1024, &off, &len), TC_EPROTO);
    assert_int_equal(scan((const uint8_t *)"\xff\xff\xff\xff", 4, 1024, &off, &len), TC_EPROTO);
    assert_int_equal(scan((const uint8_t *)"\x80\x00\x00\x00", 4, 1024, &off, &len), TC_EPROTO);
    /* over the limit: known from the header alone, before any body arrives */
    assert_int_equal(scan((const uint8_t *)"\x00\x00\x04\x01", 4, 1024, &off, &len), TC_ELIMIT);
    assert_int_equal(scan((const uint8_t *)"\x7f\xff\xff\xff", 4, 1024, &off, &len), TC_ELIMIT);
    assert_int_equal(scan((const uint8_t *)"\x00\x00\x04\x00", 4, 1024, &off, &len), TC_AGAIN);
    /* exactly the limit */
    uint8_t big[4 + 1024];
    memset(big, 0, sizeof(big));
    big[2] = 0x04;
    assert_int_equal(scan(big, sizeof(big), 1024, &off, &len), TC_OK);
    assert_int_equal(len, 1024);
    assert_int_equal(scan(big, sizeof(big), 1023, &off, &len), TC_ELIMIT);
    /* a header of 3 bytes is not enough to judge */
    assert_int_equal(scan((const uint8_t *)"\xff\xff\xff", 3, 1024, &off, &len), TC_AGAIN);
}

/*
 * begin() reserves the length, end() fills it in, after what is already in
 * the buffer; the largest body is what the length (an i32) can say.
 */
static void
test_begin_end(void **state)
{
    (void)state;
    assert_int_equal(T->max_body, INT32_MAX);
    tc_buf_t out;
    tc_buf_init(&out);
    tc_buf_append(&out, "xyz", 3);
    size_t mark = T->begin(&out);
    assert_int_equal(mark, 3);
    assert_int_equal(out.len, 7);
    tc_proto_t p;
    tc_proto_init(&p, &tc_proto_binary, NULL, 0, &out);
    p.ops->write_message_begin(&p, "ping", 4, TC_MSG_REPLY, 1);
    p.ops->write_struct_begin(&p);
    p.ops->write_field_stop(&p);
    p.ops->write_struct_end(&p);
    T->end(&out, mark);
    static const uint8_t want[] = {'x',  'y',  'z',  0x00, 0x00, 0x00, 0x11, 0x80,
                                   0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04, 'p',
                                   'i',  'n',  'g',  0x00, 0x00, 0x00, 0x01, 0x00};
    assert_int_equal(out.len, sizeof(want));
    TC_ASSERT_BYTES(out.data, want, sizeof(want));
    /* what end() wrote scans back as one frame */
    size_t off;
    size_t len;
    assert_int_equal(scan(out.data + 3, out.len - 3, 1024, &off, &len), TC_OK);
    assert_int_equal(off, 4);
    assert_int_equal(len, 17);
    /* an empty reply body still gets its (zero) length */
    size_t m2 = T->begin(&out);
    T->end(&out, m2);
    assert_int_equal(out.len, sizeof(want) + 4);
    TC_ASSERT_BYTES(out.data + m2, "\x00\x00\x00\x00", 4);
    tc_buf_deinit(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_every_cut),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_begin_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
