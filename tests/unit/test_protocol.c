/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for protocol/protocol.c: lookup, skip and skip_message over both
 * formats, the limits, and hostile input (the shapes of past Apache Thrift
 * CVEs, and random bytes).
 */
#include "proto_cases.h"

static const tc_proto_ops_t *const formats[] = {&tc_proto_binary, &tc_proto_compact};

static void
test_find_and_names(void **state)
{
    (void)state;
    assert_ptr_equal(tc_proto_find("binary"), &tc_proto_binary);
    assert_ptr_equal(tc_proto_find("compact"), &tc_proto_compact);
    assert_null(tc_proto_find("json"));
    assert_null(tc_proto_find(""));
    assert_null(tc_proto_find(NULL));
    assert_string_equal(tc_proto_type_name(TC_TTYPE_I32), "i32");
    assert_string_equal(tc_proto_type_name(TC_TTYPE_STRING), "string");
    assert_string_equal(tc_proto_type_name(TC_TTYPE_UUID), "uuid");
    assert_string_equal(tc_proto_type_name(TC_TTYPE_STOP), "stop");
    assert_string_equal(tc_proto_type_name(5), "invalid");
    assert_string_equal(tc_proto_type_name(17), "invalid");
    assert_string_equal(tc_proto_type_name(255), "invalid");
    static const uint8_t valid[] = {2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16};
    int n = 0;
    for (unsigned t = 0; t < 256; t++) {
        n += tc_proto_type_is_value((uint8_t)t);
    }
    assert_int_equal(n, TC_ARRAY_LEN(valid));
    for (size_t i = 0; i < TC_ARRAY_LEN(valid); i++) {
        assert_true(tc_proto_type_is_value(valid[i]));
    }
}

static void
test_init_defaults(void **state)
{
    (void)state;
    tc_proto_t p;
    memset(&p, 0xa5, sizeof(p));
    tc_proto_init(&p, &tc_proto_compact, NULL, 0, NULL);
    assert_ptr_equal(p.ops, &tc_proto_compact);
    assert_int_equal(p.max_depth, TC_PROTO_DEPTH_DEFAULT);
    assert_int_equal(p.max_string, INT32_MAX);
    assert_int_equal(p.depth, 0);
    assert_int_equal(p._fid_top, 0);
    assert_int_equal(p._last_fid, 0);
    assert_int_equal(p._bool_pending, 0);
    assert_int_equal(tc_proto_left(&p), 0);
    assert_null(p.out);
    static const uint8_t b[3] = {1, 2, 3};
    tc_proto_reset_input(&p, b, sizeof(b));
    assert_int_equal(tc_proto_left(&p), 3);
}

/* ---- skip ---- */

/* Write 'n' lists nested in each other, the innermost empty (of byte). */
static void
write_nested_lists(tc_proto_t *p, int n)
{
    for (int i = 0; i < n - 1; i++) {
        p->ops->write_list_begin(p, TC_TTYPE_LIST, 1);
    }
    p->ops->write_list_begin(p, TC_TTYPE_BYTE, 0);
}

/* Write 'n' structs nested through field 1, each also holding a bool field. */
static void
write_nested_structs(tc_proto_t *p, int n)
{
    for (int i = 0; i < n; i++) {
        p->ops->write_struct_begin(p);
        p->ops->write_field_begin(p, TC_TTYPE_BOOL, 2);
        p->ops->write_bool(p, true);
        if (i < n - 1) {
            p->ops->write_field_begin(p, TC_TTYPE_STRUCT, 1);
        }
    }
    for (int i = 0; i < n; i++) {
        p->ops->write_field_stop(p);
        p->ops->write_struct_end(p);
    }
}

static int
skip_nested(const tc_proto_ops_t *ops, void (*write)(tc_proto_t *, int), uint8_t type, int n,
            uint32_t max_depth)
{
    tc_buf_t out;
    tc_buf_init(&out);
    tc_proto_t p;
    tc_proto_init(&p, ops, NULL, 0, &out);
    write(&p, n);
    tc_proto_reset_input(&p, out.data, out.len);
    p.max_depth = max_depth;
    int rc = tc_proto_skip(&p, type);
    if (rc == TC_OK) {
        assert_int_equal(tc_proto_left(&p), 0);
    }
    assert_int_equal(p.depth, 0);
    tc_buf_deinit(&out);
    return rc;
}

/* CVE-2015-3254 shape: nesting deeper than the limit is refused, not recursed into. */
static void
test_skip_depth(void **state)
{
    (void)state;
    for (size_t f = 0; f < TC_ARRAY_LEN(formats); f++) {
        const tc_proto_ops_t *ops = formats[f];
        assert_int_equal(skip_nested(ops, write_nested_lists, TC_TTYPE_LIST, 64, 64), TC_OK);
        assert_int_equal(skip_nested(ops, write_nested_lists, TC_TTYPE_LIST, 65, 64), TC_ELIMIT);
        assert_int_equal(skip_nested(ops, write_nested_lists, TC_TTYPE_LIST, 3, 3), TC_OK);
        assert_int_equal(skip_nested(ops, write_nested_lists, TC_TTYPE_LIST, 4, 3), TC_ELIMIT);
        assert_int_equal(skip_nested(ops, write_nested_lists, TC_TTYPE_LIST, 10000, 64), TC_ELIMIT);
        assert_int_equal(skip_nested(ops, write_nested_structs, TC_TTYPE_STRUCT, 64, 64), TC_OK);
        assert_int_equal(skip_nested(ops, write_nested_structs, TC_TTYPE_STRUCT, 65, 64),
                         TC_ELIMIT);
        assert_int_equal(skip_nested(ops, write_nested_structs, TC_TTYPE_STRUCT, 256, 256), TC_OK);
        assert_int_equal(skip_nested(ops, write_nested_structs, TC_TTYPE_STRUCT, 1, 0), TC_ELIMIT);
    }
    /*
     * A limit set above the hard ceiling still cannot overflow compact's field
     * id stack: 257 structs nested through field 1 (0x1c), then their stops.
     */
    uint8_t deep[257 + 257];
    memset(deep, 0x1c, 256);
    memset(deep + 256, 0x00, 258);
    tc_proto_t p;
    tc_proto_init(&p, &tc_proto_compact, deep, sizeof(deep), NULL);
    p.max_depth = 100000;
    assert_int_equal(tc_proto_skip(&p, TC_TTYPE_STRUCT), TC_ELIMIT);
    tc_proto_init(&p, &tc_proto_compact, deep + 1, sizeof(deep) - 3, NULL);
    p.max_depth = 100000;
    assert_int_equal(tc_proto_skip(&p, TC_TTYPE_STRUCT), TC_OK);
    assert_int_equal(tc_proto_left(&p), 0);
}

/* tc_proto_read_error()'s text for skipping 'hex' as 'type' with the limits given. */
static void
assert_read_error(const tc_proto_ops_t *ops, const char *hex, uint8_t type, uint32_t max_depth,
                  uint32_t max_string, int code, const char *text)
{
    size_t len;
    uint8_t *in = hex_decode(hex, &len);
    tc_proto_t p;
    tc_proto_init(&p, ops, in, len, NULL);
    p.max_depth = max_depth;
    p.max_string = max_string;
    int rc = tc_proto_skip(&p, type);
    assert_int_not_equal(rc, TC_OK);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_proto_read_error(&p, rc, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, text);
    free(in);
}

/*
 * A limit met is named as what it was: the size read and the limit it
 * passed, or the nesting; whichever came last, in either format.
 */
static void
test_read_error_names_the_limit(void **state)
{
    (void)state;
    /* a string, a list and a map of 1001 where 1000 is the most */
    assert_read_error(&tc_proto_binary, "000003e9", TC_TTYPE_STRING, 64, 1000, TC_ELIMIT,
                      "a size of 1001, over max_message_size (1000)");
    assert_read_error(&tc_proto_binary, "08000003e9", TC_TTYPE_LIST, 64, 1000, TC_ELIMIT,
                      "a size of 1001, over max_message_size (1000)");
    assert_read_error(&tc_proto_binary, "0808000003e9", TC_TTYPE_MAP, 64, 1000, TC_ELIMIT,
                      "a size of 1001, over max_message_size (1000)");
    assert_read_error(&tc_proto_compact, "e907", TC_TTYPE_STRING, 64, 1000, TC_ELIMIT,
                      "a size of 1001, over max_message_size (1000)");
    assert_read_error(&tc_proto_compact, "f5e907", TC_TTYPE_LIST, 64, 1000, TC_ELIMIT,
                      "a size of 1001, over max_message_size (1000)");
    /* a short list's count, in its header byte: 3 where 2 is the most */
    assert_read_error(&tc_proto_compact, "35", TC_TTYPE_LIST, 64, 2, TC_ELIMIT,
                      "a size of 3, over max_message_size (2)");
    /* lists in lists, 3 deep, where 2 is the most */
    assert_read_error(&tc_proto_binary, "0f000000010f000000010800000000", TC_TTYPE_LIST, 2, 1000,
                      TC_ELIMIT, "nesting deeper than 2");
    assert_read_error(&tc_proto_compact, "19191500", TC_TTYPE_LIST, 2, 1000, TC_ELIMIT,
                      "nesting deeper than 2");
    /* a chain of structs past compact's field id stack, whatever max_depth says */
    char hex[2 * 257 + 1];
    for (int i = 0; i < 257; i++) {
        memcpy(hex + 2 * i, "1c", 2);
    }
    hex[2 * 257] = '\0';
    assert_read_error(&tc_proto_compact, hex, TC_TTYPE_STRUCT, 100000, 1000, TC_ELIMIT,
                      "nesting deeper than 256");
    /* and the other two kinds */
    assert_read_error(&tc_proto_binary, "0800000002", TC_TTYPE_LIST, 64, 1000, TC_EPROTO,
                      "message truncated");
    assert_read_error(&tc_proto_binary, "ff", TC_TTYPE_STRUCT, 64, 1000, TC_EPROTO,
                      "invalid binary protocol bytes");
}

static int
skip_hex(const tc_proto_ops_t *ops, const char *hex, uint8_t type)
{
    size_t len;
    uint8_t *in = hex_decode(hex, &len);
    tc_proto_t p;
    tc_proto_init(&p, ops, in, len, NULL);
    int rc = tc_proto_skip(&p, type);
    if (rc == TC_OK) {
        assert_int_equal(tc_proto_left(&p), 0);
    }
    free(in);
    return rc;
}

static int
skip_message_hex(const tc_proto_ops_t *ops, const char *hex)
{
    size_t len;
    uint8_t *in = hex_decode(hex, &len);
    tc_proto_t p;
    tc_proto_init(&p, ops, in, len, NULL);
    int rc = tc_proto_skip_message(&p);
    if (rc == TC_OK) {
        assert_int_equal(tc_proto_left(&p), 0);
    }
    free(in);
    return rc;
}

static void
test_skip_invalid_types(void **state)
{
    (void)state;
    static const uint8_t bad[] = {0, 1, 5, 7, 9, 17, 0x80, 0xff};
    for (size_t f = 0; f < TC_ARRAY_LEN(formats); f++) {
        for (size_t i = 0; i < TC_ARRAY_LEN(bad); i++) {
            assert_int_equal(skip_hex(formats[f], "0000000000000000", bad[i]), TC_EPROTO);
        }
    }
    /*
     * CVE-2019-0205 / CVE-2019-3552 shapes: an invalid type inside a
     * container header with no elements must not be accepted, and a bad
     * field type is refused rather than looped over.
     */
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "0f0001"
                              "0100000000"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "0e0001"
                              "1100000000"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "0d0001"
                              "000800000000"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "0d0001"
                              "0b0100000000"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "0d0001"
                              "0b0800000000"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_OK);
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "050001"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "19"
                              "00"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "19"
                              "0e"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "1a"
                              "0f"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "1b"
                              "01e3"
                              "0000"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "1b"
                              "00"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_OK);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "1e"
                              "00",
                              TC_TTYPE_STRUCT),
                     TC_EPROTO);
    /* a list of lists whose inner header has a bad type */
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "0f00000001"
                              "0000000000",
                              TC_TTYPE_LIST),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "19"
                              "00",
                              TC_TTYPE_LIST),
                     TC_EPROTO);
}

static void
test_skip_limits(void **state)
{
    (void)state;
    /* a count larger than the bytes left is AGAIN before any element is looked at */
    assert_int_equal(skip_hex(&tc_proto_binary, "0b7fffffff", TC_TTYPE_LIST), TC_AGAIN);
    assert_int_equal(skip_hex(&tc_proto_compact, "f8ffffffff07", TC_TTYPE_LIST), TC_AGAIN);
    assert_int_equal(skip_hex(&tc_proto_binary, "0c0c7fffffff00", TC_TTYPE_MAP), TC_AGAIN);
    /* fixed-size elements are stepped over at once */
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "0a00000003"
                              "000000000000000100000000000000020000000000000003",
                              TC_TTYPE_SET),
                     TC_OK);
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "0a00000003"
                              "0000000000000001000000000000000200000000000000",
                              TC_TTYPE_LIST),
                     TC_AGAIN);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "27"
                              "00000000000000000000000000000000",
                              TC_TTYPE_LIST),
                     TC_OK);
    assert_int_equal(skip_hex(&tc_proto_binary,
                              "030600000002" /* map<byte, i16> of 2 */
                              "010002"
                              "020003",
                              TC_TTYPE_MAP),
                     TC_OK);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "023700"
                              "0000000000000000"
                              "01",
                              TC_TTYPE_MAP),
                     TC_AGAIN);
    /* varint elements are scanned byte by byte, near the end of input and away from it */
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "35"
                              "02"
                              "ffffffff0f"
                              "00",
                              TC_TTYPE_LIST),
                     TC_OK);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "35"
                              "02"
                              "ffffffffffffffffffff"
                              "00",
                              TC_TTYPE_LIST),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "35"
                              "02"
                              "ffffffffffffffffffff"
                              "0000000000000000000000000000000000000000",
                              TC_TTYPE_LIST),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "35"
                              "02"
                              "ff",
                              TC_TTYPE_LIST),
                     TC_AGAIN);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "16"
                              "ffffffffffffffffff01",
                              TC_TTYPE_LIST),
                     TC_OK);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "16"
                              "ffffffffffffffffffff01",
                              TC_TTYPE_LIST),
                     TC_EPROTO);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "24"
                              "8001"
                              "7f",
                              TC_TTYPE_SET),
                     TC_OK);
    /* other variable-size elements one by one */
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "28"
                              "0161"
                              "00",
                              TC_TTYPE_LIST),
                     TC_OK);
    assert_int_equal(skip_hex(&tc_proto_compact,
                              "28"
                              "0161"
                              "02",
                              TC_TTYPE_LIST),
                     TC_AGAIN);
}

static void
test_skip_message(void **state)
{
    (void)state;
    assert_int_equal(skip_message_hex(&tc_proto_binary, "800100010000000170000000"
                                                        "01"
                                                        "00"),
                     TC_OK);
    assert_int_equal(skip_message_hex(&tc_proto_binary, "800100040000000170000000"
                                                        "01"
                                                        "00"),
                     TC_OK);
    /* message types 0 and 5..255 are not Thrift messages */
    assert_int_equal(skip_message_hex(&tc_proto_binary, "800100000000000170000000"
                                                        "01"
                                                        "00"),
                     TC_EPROTO);
    assert_int_equal(skip_message_hex(&tc_proto_binary, "800100050000000170000000"
                                                        "01"
                                                        "00"),
                     TC_EPROTO);
    assert_int_equal(skip_message_hex(&tc_proto_binary, "800100ff0000000170000000"
                                                        "01"
                                                        "00"),
                     TC_EPROTO);
    assert_int_equal(skip_message_hex(&tc_proto_binary, "0000000170"
                                                        "00"
                                                        "00000001"
                                                        "00"),
                     TC_EPROTO);
    assert_int_equal(skip_message_hex(&tc_proto_binary, "0000000170"
                                                        "04"
                                                        "00000001"
                                                        "00"),
                     TC_OK);
    assert_int_equal(skip_message_hex(&tc_proto_compact, "8221000170"
                                                         "00"),
                     TC_OK);
    assert_int_equal(skip_message_hex(&tc_proto_compact, "8281000170"
                                                         "00"),
                     TC_OK);
    assert_int_equal(skip_message_hex(&tc_proto_compact, "8201000170"
                                                         "00"),
                     TC_EPROTO);
    assert_int_equal(skip_message_hex(&tc_proto_compact, "82a1000170"
                                                         "00"),
                     TC_EPROTO);
    assert_int_equal(skip_message_hex(&tc_proto_compact, "82e1000170"
                                                         "00"),
                     TC_EPROTO);
    /* a message whose struct is cut short */
    assert_int_equal(skip_message_hex(&tc_proto_compact, "8221000170"
                                                         "15"),
                     TC_AGAIN);
}

/* ---- hostile input ---- */

static uint64_t
xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static void
check_random(const tc_proto_ops_t *ops, const uint8_t *data, size_t len, uint32_t max_string)
{
    /* an exact-size copy, so ASan catches any read past the end */
    uint8_t *in = malloc(len > 0 ? len : 1);
    assert_non_null(in);
    if (len > 0) {
        memcpy(in, data, len);
    }
    tc_proto_t p;
    for (int mode = 0; mode < 2; mode++) {
        tc_proto_init(&p, ops, in, len, NULL);
        p.max_string = max_string;
        int rc = mode == 0 ? tc_proto_skip_message(&p) : tc_proto_skip(&p, TC_TTYPE_STRUCT);
        assert_true(rc == TC_OK || rc == TC_AGAIN || rc == TC_EPROTO || rc == TC_ELIMIT);
        assert_true(p.rp >= in && p.rp <= in + len);
        assert_int_equal(p.depth, 0);
    }
    free(in);
}

/* Random bytes and mutated valid messages: every outcome is a status, never a crash. */
static void
test_random_bytes(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15u;
    uint8_t buf[96];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(xorshift(&seed) % sizeof(buf));
        for (size_t i = 0; i < len; i++) {
            buf[i] = (uint8_t)xorshift(&seed);
        }
        /* half the time, look like a message header so the struct gets parsed */
        if (len >= 2 && (iter & 1)) {
            buf[0] = 0x82;
            buf[1] = 0x21;
        }
        uint32_t max = (iter & 2) ? 64 : INT32_MAX;
        check_random(&tc_proto_compact, buf, len, max);
        if (len >= 4 && (iter & 1)) {
            buf[0] = 0x80;
            buf[1] = 0x01;
            buf[2] = 0x00;
            buf[3] = 0x01;
        }
        check_random(&tc_proto_binary, buf, len, max);
    }
    /* valid messages with a few bytes changed */
    for (size_t f = 0; f < TC_ARRAY_LEN(formats); f++) {
        for (size_t c = 0; c < TC_ARRAY_LEN(scripts); c++) {
            tc_buf_t out;
            tc_buf_init(&out);
            tc_proto_t p;
            tc_proto_init(&p, formats[f], NULL, 0, &out);
            script_write(&p, &scripts[c]);
            for (int iter = 0; iter < 200; iter++) {
                uint8_t *m = malloc(out.len);
                assert_non_null(m);
                memcpy(m, out.data, out.len);
                int flips = 1 + (int)(xorshift(&seed) % 3);
                for (int k = 0; k < flips; k++) {
                    m[xorshift(&seed) % out.len] = (uint8_t)xorshift(&seed);
                }
                size_t len =
                    out.len - (size_t)(xorshift(&seed) % 4 == 0 ? xorshift(&seed) % out.len : 0);
                check_random(formats[f], m, len, (iter & 1) ? 16 : INT32_MAX);
                free(m);
            }
            tc_buf_deinit(&out);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_and_names), cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_skip_depth),     cmocka_unit_test(test_skip_invalid_types),
        cmocka_unit_test(test_skip_limits),    cmocka_unit_test(test_skip_message),
        cmocka_unit_test(test_random_bytes),   cmocka_unit_test(test_read_error_names_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
