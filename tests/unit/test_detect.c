/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for transport/detect.c: every form, at every byte boundary. */
#include "tc_test.h"

#include "transport/detect.h"
#include "transport/header.h"

#include <stdlib.h>
#include <string.h>

/*
 * Detect on an exact-size copy, so ASan sees any read past what was given,
 * with transport 'transport' configured (NULL: "auto").
 */
static int
detect_on(const tc_transport_t *transport, const uint8_t *data, size_t len, tc_detected_t *r)
{
    uint8_t *in = malloc(len > 0 ? len : 1);
    assert_non_null(in);
    if (len > 0) {
        memcpy(in, data, len);
    }
    int rc = tc_detect(in, len, transport, r);
    free(in);
    return rc;
}

static int
detect(const uint8_t *data, size_t len, tc_detected_t *r)
{
    return detect_on(NULL, data, len, r);
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
    static const char no_form[] = "the first bytes fit no Thrift transport and protocol: ";
    static const struct {
        uint8_t bytes[6];
        size_t len;      /* refused with this many */
        const char *why; /* after no_form, or whole with '=' first */
    } bad[] = {
        {{0xFF},
         1,
         "a negative frame length, and byte 0 is neither 0x80 (binary) nor 0x82 (compact)"},
        {{0x81},
         1,
         "a negative frame length, and byte 0 is neither 0x80 (binary) nor 0x82 (compact)"},
        {{0x00, 0x00, 0x00, 0x10, 0x01},
         5,
         "a length, then a byte that starts no binary, compact or THeader message"},
        {{0x00, 0x00, 0x00, 0x10, 0x7F},
         5,
         "a length, then a byte that starts no binary, compact or THeader message"}, /* DEL */
        {{0x00, 0x00, 0x00, 0x10, 0xFF},
         5,
         "a length, then a byte that starts no binary, compact or THeader message"},
        {{0x00, 0x00, 0x00, 0x10, 0x0F, 0xFE},
         6,
         "a length, then 0x0F but not THeader's magic 0x0FFF"},
        /* a frame of 0 bytes, or an old binary message named "": not a fifth byte waited for */
        {{0x00, 0x00, 0x00, 0x00}, 4, "=frame length 0 (must be 1 or more)"},
        {{0x00, 0x00, 0x00, 0x00, 0x80, 0x01}, 4, "=frame length 0 (must be 1 or more)"},
        {{0x00, 0x00, 0x00, 0x00, 0x01}, 4, "=frame length 0 (must be 1 or more)"},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(bad); i++) {
        tc_detected_t r;
        for (size_t n = 0; n < bad[i].len; n++) {
            assert_int_equal(detect(bad[i].bytes, n, &r), TC_AGAIN);
        }
        for (size_t n = bad[i].len; n <= sizeof(bad[i].bytes); n++) {
            r.refused = NULL;
            assert_int_equal(detect(bad[i].bytes, n, &r), TC_EPROTO);
            assert_non_null(r.refused);
            if (bad[i].why[0] == '=') {
                assert_string_equal(r.refused, bad[i].why + 1);
            } else {
                assert_memory_equal(r.refused, no_form, strlen(no_form));
                assert_string_equal(r.refused + strlen(no_form), bad[i].why);
            }
        }
    }
}

/*
 * What clients of other protocols send first: refused as soon as it can be
 * told, not read as a name or frame of hundreds of MB for a limit to
 * refuse later (or a large limit to wait for).
 */
static void
test_other_protocols(void **state)
{
    (void)state;
    static const char http[] = "text that starts like an HTTP request";
    static const char tls[] = "a TLS ClientHello";
    static const struct {
        const char *what;
        uint8_t bytes[8];
        size_t len;       /* refused with this many */
        const char *seen; /* the end of the reason */
    } bad[] = {
        {"HTTP", "GET / HT", 5, http},
        {"HTTP", "POST /x ", 5, http},
        {"HTTP", "OPTIONS ", 5, http},
        {"HTTP/2", "PRI * HT", 5, http},
        {"SSH", "SSH-2.0-", 5, "an SSH banner"},
        {"Redis inline", "PING\r\n\r\n", 5, ": text"},
        {"lower case", "get / HT", 5, ": text"},
        /* python3 ssl (OpenSSL 3), curl: a record of 0x200 bytes */
        {"TLS 1.0 record, 0x200", {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01}, 6, tls},
        {"TLS 1.2 record, 0x141", {0x16, 0x03, 0x03, 0x01, 0x41, 0x01, 0x00, 0x01}, 6, tls},
        {"TLS, 0x182", {0x16, 0x03, 0x01, 0x01, 0x82, 0x01, 0x00, 0x01}, 6, tls},
        {"TLS, 0x10F", {0x16, 0x03, 0x01, 0x01, 0x0F, 0x01, 0x00, 0x01}, 6, tls},
        /* an old binary name of 16 MiB or more */
        {"name of 2^24",
         {0x01, 0x00, 0x00, 0x00, 'a', 'b', 'c', 'd'},
         5,
         "a non-strict binary name of 16 MiB or more"},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(bad); i++) {
        tc_detected_t r;
        for (size_t n = 0; n < bad[i].len; n++) {
            assert_int_equal(detect(bad[i].bytes, n, &r), TC_AGAIN);
        }
        for (size_t n = bad[i].len; n <= sizeof(bad[i].bytes); n++) {
            r.refused = NULL;
            if (detect(bad[i].bytes, n, &r) != TC_EPROTO) {
                fail_msg("%s with %zu bytes: not refused", bad[i].what, n);
            }
            size_t k = strlen(r.refused);
            size_t e = strlen(bad[i].seen);
            if (k < e || strcmp(r.refused + k - e, bad[i].seen) != 0) {
                fail_msg("%s: refused as '%s'", bad[i].what, r.refused);
            }
        }
    }
}

/*
 * Apart from a ClientHello, the same first bytes are the forms they would
 * be: a framed strict binary message of 369 MB, a frame whose byte 5 is
 * not 01, a name just under 16 MiB.
 */
static void
test_almost_other_protocols(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[6];
        size_t len; /* decided with this many */
        const tc_transport_t *transport;
        tc_detect_kind_t kind;
    } good[] = {
        {{0x16, 0x03, 0x01, 0x02, 0x80, 0x01}, 5, &tc_transport_framed, TC_DETECT_BINARY_STRICT},
        {{0x16, 0x03, 0x01, 0x02, 0x00, 0x00}, 6, &tc_transport_framed, TC_DETECT_BINARY_OLD},
        {{0x16, 0x03, 0x01, 0x02, 0x82, 0x21}, 6, &tc_transport_framed, TC_DETECT_COMPACT},
        {{0x16, 0x03, 0x01, 0x02, 0x0F, 0xFF}, 6, &tc_transport_header, TC_DETECT_HEADER},
        {{0x16, 0x05, 0x01, 0x02, 0x00, 0x01}, 5, &tc_transport_framed, TC_DETECT_BINARY_OLD},
        {{0x00, 0xFF, 0xFF, 0xFF, 'a', 'b'}, 5, &tc_transport_buffered, TC_DETECT_BINARY_OLD},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(good); i++) {
        tc_detected_t r;
        for (size_t n = 0; n < good[i].len; n++) {
            assert_int_equal(detect(good[i].bytes, n, &r), TC_AGAIN);
        }
        for (size_t n = good[i].len; n <= sizeof(good[i].bytes); n++) {
            memset(&r, 0, sizeof(r));
            assert_int_equal(detect(good[i].bytes, n, &r), TC_OK);
            assert_ptr_equal(r.transport, good[i].transport);
            assert_int_equal(r.kind, good[i].kind);
        }
    }
}

/*
 * The bytes that are a frame length where frames may be (transport auto or
 * framed) are refused as such there; on a buffered port, which has no
 * frames, as what they are: no binary or compact message. When the bytes
 * are refused, and what is found, do not depend on the setting.
 */
static void
test_refusals_by_transport(void **state)
{
    (void)state;
    static const char empty[] = "frame length 0 (must be 1 or more)";
    static const char empty_buffered[] = "the first bytes start no binary or compact message: "
                                         "four zero bytes (a non-strict binary message with no "
                                         "name)";
    static const char negative[] = "the first bytes fit no Thrift transport and protocol: a "
                                   "negative frame length, and byte 0 is neither 0x80 (binary) "
                                   "nor 0x82 (compact)";
    static const char high_buffered[] = "the first bytes start no binary or compact message: "
                                        "byte 0 is over 0x7F but neither 0x80 (binary) nor 0x82 "
                                        "(compact)";
    static const struct {
        uint8_t bytes[6];
        size_t len; /* refused with this many */
        const char *framed;
        const char *buffered;
    } bad[] = {
        {{0x00, 0x00, 0x00, 0x00}, 4, empty, empty_buffered},
        {{0x00, 0x00, 0x00, 0x00, 0x80, 0x01}, 4, empty, empty_buffered},
        {{0x00, 0x00, 0x00, 0x00, 0x01}, 4, empty, empty_buffered},
        {{0xFF, 0xFF, 0xFF, 0xFB}, 1, negative, high_buffered},
        {{0x81, 0x01}, 1, negative, high_buffered},
    };
    const tc_transport_t *transports[] = {NULL, &tc_transport_framed, &tc_transport_buffered};
    for (size_t t = 0; t < TC_ARRAY_LEN(transports); t++) {
        bool buffered = transports[t] == &tc_transport_buffered;
        for (size_t i = 0; i < TC_ARRAY_LEN(bad); i++) {
            tc_detected_t r;
            for (size_t n = 0; n < bad[i].len; n++) {
                assert_int_equal(detect_on(transports[t], bad[i].bytes, n, &r), TC_AGAIN);
            }
            for (size_t n = bad[i].len; n <= sizeof(bad[i].bytes); n++) {
                r.refused = NULL;
                assert_int_equal(detect_on(transports[t], bad[i].bytes, n, &r), TC_EPROTO);
                assert_string_equal(r.refused, buffered ? bad[i].buffered : bad[i].framed);
            }
        }
        /* what fits a form is found whatever the setting (a mismatch is the caller's) */
        for (size_t i = 0; i < TC_ARRAY_LEN(forms); i++) {
            tc_detected_t r;
            memset(&r, 0, sizeof(r));
            assert_int_equal(detect_on(transports[t], forms[i].bytes, sizeof(forms[i].bytes), &r),
                             TC_OK);
            assert_ptr_equal(r.transport, forms[i].transport);
            assert_int_equal(r.kind, forms[i].kind);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_form_at_every_boundary),
        cmocka_unit_test(test_unknown_bytes),
        cmocka_unit_test(test_other_protocols),
        cmocka_unit_test(test_almost_other_protocols),
        cmocka_unit_test(test_refusals_by_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
