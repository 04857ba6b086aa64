/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for transport/detect.c: every form, at every byte boundary. */
#include "tc_test.h"

#include "transport/detect.h"
#include "transport/header.h"

#include <stdlib.h>

/* Detect on an exact-size copy, so ASan sees any read past what was given. */
static int
detect(const uint8_t *data, size_t len, tc_detected_t *r)
{
    uint8_t *in = malloc(len > 0 ? len : 1);
    assert_non_null(in);
    if (len > 0) {
        memcpy(in, data, len);
    }
    int rc = tc_detect(in, len, r);
    free(in);
    return rc;
}

typedef struct form {
    const char *what;
    uint8_t bytes[12];
    size_t decided_at; /* bytes needed to decide */
    const tc_transport_t *transport;
    const tc_proto_ops_t *protocol;
    tc_detect_kind_t kind;
} form_t;

static const form_t forms[] = {
    {"buffered binary",
     {0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 'p', 'i', 'n', 'g'},
     1,
     &tc_transport_buffered,
     &tc_proto_binary,
     TC_DETECT_BINARY_STRICT},
    {"buffered compact",
     {0x82, 0x21, 0x00, 0x04, 'p', 'i', 'n', 'g', 0x00},
     1,
     &tc_transport_buffered,
     &tc_proto_compact,
     TC_DETECT_COMPACT},
    {"buffered binary (non-strict)",
     {0x00, 0x00, 0x00, 0x04, 'p', 'i', 'n', 'g', 0x01, 0x00, 0x00, 0x00},
     5,
     &tc_transport_buffered,
     &tc_proto_binary,
     TC_DETECT_BINARY_OLD},
    {"framed binary",
     {0x00, 0x00, 0x00, 0x11, 0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04},
     5,
     &tc_transport_framed,
     &tc_proto_binary,
     TC_DETECT_BINARY_STRICT},
    {"framed binary (non-strict)",
     {0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x04, 'p', 'i', 'n', 'g'},
     5,
     &tc_transport_framed,
     &tc_proto_binary,
     TC_DETECT_BINARY_OLD},
    {"framed compact",
     {0x00, 0x00, 0x00, 0x09, 0x82, 0x21, 0x00, 0x04, 'p', 'i', 'n', 'g'},
     5,
     &tc_transport_framed,
     &tc_proto_compact,
     TC_DETECT_COMPACT},
    {"header",
     {0x00, 0x00, 0x00, 0x20, 0x0F, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01},
     6,
     &tc_transport_header,
     NULL,
     TC_DETECT_HEADER},
};

/* Fewer bytes than needed: AGAIN; from there on, the same answer. */
static void
test_every_form_at_every_boundary(void **state)
{
    (void)state;
    for (size_t i = 0; i < TC_ARRAY_LEN(forms); i++) {
        const form_t *f = &forms[i];
        tc_detected_t r;
        for (size_t n = 0; n < f->decided_at; n++) {
            assert_int_equal(detect(f->bytes, n, &r), TC_AGAIN);
        }
        for (size_t n = f->decided_at; n <= sizeof(f->bytes); n++) {
            memset(&r, 0, sizeof(r));
            assert_int_equal(detect(f->bytes, n, &r), TC_OK);
            assert_ptr_equal(r.transport, f->transport);
            assert_ptr_equal(r.protocol, f->protocol);
            assert_int_equal(r.kind, f->kind);
            assert_string_equal(tc_detect_name(&r), f->what);
        }
    }
}

/* Bytes no form starts with are refused as soon as they are seen, and not before. */
static void
test_unknown_bytes(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[6];
        size_t len; /* refused with this many */
    } bad[] = {
        {{0xFF}, 1},                               /* a negative length */
        {{0x81}, 1},                               /* neither 0x80 nor 0x82 */
        {{0x00, 0x00, 0x00, 0x10, 0x01}, 5},       /* byte 4 a control character */
        {{0x00, 0x00, 0x00, 0x10, 0x7F}, 5},       /* DEL */
        {{0x00, 0x00, 0x00, 0x10, 0xFF}, 5},       /* */
        {{0x00, 0x00, 0x00, 0x10, 0x0F, 0xFE}, 6}, /* almost THeader's magic */
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(bad); i++) {
        tc_detected_t r;
        for (size_t n = 0; n < bad[i].len; n++) {
            assert_int_equal(detect(bad[i].bytes, n, &r), TC_AGAIN);
        }
        assert_int_equal(detect(bad[i].bytes, bad[i].len, &r), TC_EPROTO);
    }
}

/* Text such as HTTP looks like an old binary name; the scanner's limits refuse it later. */
static void
test_text_is_an_old_binary_name(void **state)
{
    (void)state;
    static const uint8_t http[] = "GET / HTTP/1.1\r\n";
    tc_detected_t r;
    assert_int_equal(detect(http, sizeof(http) - 1, &r), TC_OK);
    assert_ptr_equal(r.transport, &tc_transport_buffered);
    assert_int_equal(r.kind, TC_DETECT_BINARY_OLD);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_form_at_every_boundary),
        cmocka_unit_test(test_unknown_bytes),
        cmocka_unit_test(test_text_is_an_old_binary_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
