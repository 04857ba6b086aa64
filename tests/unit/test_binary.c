/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for protocol/binary.c: TBinaryProtocol, byte for byte. */
#include "proto_cases.h"

/*
 * Apache Thrift 0.17 Python TBinaryProtocol (strict write) output for each
 * script of proto_cases.h, in the same order.
 */
static const golden_t golden[] = {
    {"msg_call", "800100010000000470696e670000000000"},
    {"msg_reply_neg_seqid", "800100020000000178ffffffff00"},
    {"msg_exception_max_seqid", "80010003000000046563686f7fffffff00"},
    {"msg_oneway_min_seqid_empty_name", "80010004000000008000000000"},
    {"byte_0", "0300010000"},
    {"byte_m1", "030001ff00"},
    {"byte_1", "0300010100"},
    {"byte_m128", "0300018000"},
    {"byte_127", "0300017f00"},
    {"i16_0", "060001000000"},
    {"i16_m1", "060001ffff00"},
    {"i16_1", "060001000100"},
    {"i16_m32768", "060001800000"},
    {"i16_32767", "0600017fff00"},
    {"i32_0", "0800010000000000"},
    {"i32_m1", "080001ffffffff00"},
    {"i32_1", "0800010000000100"},
    {"i32_63", "0800010000003f00"},
    {"i32_m64", "080001ffffffc000"},
    {"i32_64", "0800010000004000"},
    {"i32_m2147483648", "0800018000000000"},
    {"i32_2147483647", "0800017fffffff00"},
    {"i64_0", "0a0001000000000000000000"},
    {"i64_m1", "0a0001ffffffffffffffff00"},
    {"i64_1", "0a0001000000000000000100"},
    {"i64_1099511627776", "0a0001000001000000000000"},
    {"i64_m9223372036854775808", "0a0001800000000000000000"},
    {"i64_9223372036854775807", "0a00017fffffffffffffff00"},
    {"double_zero", "040001000000000000000000"},
    {"double_negzero", "040001800000000000000000"},
    {"double_one_half", "0400013ff800000000000000"},
    {"double_inf", "0400017ff000000000000000"},
    {"double_neginf", "040001fff000000000000000"},
    {"double_nan", "0400017ff800000000000000"},
    {"double_pi", "040001400921fb54442d1800"},
    {"string_empty", "0b00010000000000"},
    {"string_hello", "0b00010000000568656c6c6f00"},
    {"binary_zeros", "0b000100000004000100ff00"},
    {"string_200", "0b0001000000c861616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616161616161616161616161616161616161616161616161616161"
                   "616161616161616161616161616161616100"},
    {"bool_fields", "02000101020002000200140102fffd0000"},
    {"field_deltas", "08000100000001080010000000020800200000000308ffff0000000408000500000005080005"
                     "00000006087fff000000070880000000000800"},
    {"nested_struct_fid_restore",
     "080003000000010c00040800140000000208001500000003000800050000000400"},
    {"list_empty", "0f0001080000000000"},
    {"list_14", "0f0001080000000e000000000000000100000002000000030000000400000005000000060000"
                "000700000008000000090000000a0000000b0000000c0000000d00"},
    {"list_15", "0f0001080000000ffffffff9fffffffafffffffbfffffffcfffffffdfffffffeffffffff0000"
                "00000000000100000002000000030000000400000005000000060000000700"},
    {"list_bool", "0f0001020000000301000100"},
    {"set_string", "0e00020b00000002000000016100000002626300"},
    {"list_of_lists", "0f00010f00000002030000000107030000000000"},
    {"list_of_structs", "0f00010c000000020800010000000100020001010000"},
    {"map_empty", "0d00010b080000000000"},
    {"map_string_i32", "0d00010b0800000002000000016b000000010000000176ffffffff00"},
    {"map_bool_double", "0d000102040000000100400400000000000000"},
    {"map_16", "0d0001030a00000010f80000000000000000f9fffffffffffffffffafffffffffffffffefbff"
               "fffffffffffffdfcfffffffffffffffcfdfffffffffffffffbfefffffffffffffffaffffffff"
               "fffffffff900fffffffffffffff801fffffffffffffff702fffffffffffffff603ffffffffff"
               "fffff504fffffffffffffff405fffffffffffffff306fffffffffffffff207ffffffffffffff"
               "f100"},
};

static void
test_golden(void **state)
{
    (void)state;
    assert_int_equal(TC_ARRAY_LEN(golden), TC_ARRAY_LEN(scripts));
    run_golden(&tc_proto_binary, scripts, golden, TC_ARRAY_LEN(scripts));
}

/* uuid is newer than the Python library: 16 raw bytes, as the Thrift spec says */
static void
test_uuid(void **state)
{
    (void)state;
    static const op_t s_uuid[] = {
        {.k = OP_SB},
        {.k = OP_FB, .t1 = TC_TTYPE_UUID, .i = 1},
        {.k = OP_UUID, .s = "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"},
        {.k = OP_FB, .t1 = TC_TTYPE_LIST, .i = 2},
        {.k = OP_LB, .t1 = TC_TTYPE_UUID, .i = 1},
        {.k = OP_UUID, .s = "0123456789abcdef"},
        {.k = OP_STOP},
        {.k = OP_SE},
    };
    static const script_t s = {"uuid", s_uuid, TC_ARRAY_LEN(s_uuid)};
    static const golden_t g = {"uuid", "100001"
                                       "00112233445566778899aabbccddeeff"
                                       "0f0002"
                                       "1000000001"
                                       "30313233343536373839616263646566"
                                       "00"};
    run_golden(&tc_proto_binary, &s, &g, 1);
}

static int
read_msg(tc_proto_t *p)
{
    tc_msg_hdr_t m;
    int rc = p->ops->read_message_begin(p, &m);
    if (rc == TC_OK) {
        assert_int_equal(m.name_len, 4);
        assert_memory_equal(m.name, "ping", 4);
        assert_int_equal(m.type, TC_MSG_CALL);
        assert_int_equal(m.seqid, 7);
    }
    return rc;
}

static int
read_msg_limited(tc_proto_t *p)
{
    p->max_string = 1000;
    return read_msg(p);
}

/* The old header: i32 name length >= 0, name, type byte, seqid. */
static void
test_non_strict_header(void **state)
{
    (void)state;
    size_t left;
    assert_int_equal(read_hex(&tc_proto_binary,
                              "0000000470696e67"
                              "01"
                              "00000007"
                              "00",
                              read_msg, &left),
                     TC_OK);
    assert_int_equal(left, 1);
    for (size_t cut = 0; cut < 13; cut++) {
        char hex[64];
        snprintf(hex, sizeof(hex), "%.*s", (int)(2 * cut), "0000000470696e670100000007");
        assert_int_equal(read_hex(&tc_proto_binary, hex, read_msg, NULL), TC_AGAIN);
    }
}

static void
test_bad_headers(void **state)
{
    (void)state;
    /* wrong version in the top 16 bits */
    assert_int_equal(
        read_hex(&tc_proto_binary, "800200010000000470696e670000000700", read_msg, NULL),
        TC_EPROTO);
    /* negative and not a version at all */
    assert_int_equal(read_hex(&tc_proto_binary, "ffffffff", read_msg, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "8000000100000000", read_msg, NULL), TC_EPROTO);
    /* refused from the first bytes that cannot start a header */
    assert_int_equal(read_hex(&tc_proto_binary, "81", read_msg, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "8002", read_msg, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "80", read_msg, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_binary, "800100", read_msg, NULL), TC_AGAIN);
    /* the name length obeys the string rules */
    assert_int_equal(read_hex(&tc_proto_binary, "80010001ffffffff", read_msg, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "800100017fffffff", read_msg, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_binary, "80010001000003e9", read_msg_limited, NULL),
                     TC_ELIMIT);
    /* non-strict: a huge name length ("GET " as an i32) is over the limit at once */
    assert_int_equal(read_hex(&tc_proto_binary, "47455420", read_msg_limited, NULL), TC_ELIMIT);
}

static int
read_string(tc_proto_t *p)
{
    const uint8_t *s;
    uint32_t len;
    p->max_string = 16;
    return p->ops->read_binary(p, &s, &len);
}

static void
test_string_limits(void **state)
{
    (void)state;
    size_t left;
    assert_int_equal(read_hex(&tc_proto_binary,
                              "00000010"
                              "00112233445566778899aabbccddeeff",
                              read_string, &left),
                     TC_OK);
    assert_int_equal(left, 0);
    assert_int_equal(read_hex(&tc_proto_binary, "80000000", read_string, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "ffffffff", read_string, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "00000011", read_string, NULL), TC_ELIMIT);
    assert_int_equal(read_hex(&tc_proto_binary, "0000000f00", read_string, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_binary, "000000", read_string, NULL), TC_AGAIN);
}

static int
read_list(tc_proto_t *p)
{
    uint8_t et;
    uint32_t n;
    p->max_string = 1000;
    return p->ops->read_list_begin(p, &et, &n);
}

static int
read_map(tc_proto_t *p)
{
    uint8_t kt;
    uint8_t vt;
    uint32_t n;
    p->max_string = 1000;
    return p->ops->read_map_begin(p, &kt, &vt, &n);
}

static void
test_container_limits(void **state)
{
    (void)state;
    /* negative, over the limit, and more elements than bytes left */
    assert_int_equal(read_hex(&tc_proto_binary, "03ffffffff", read_list, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "03000003e9", read_list, NULL), TC_ELIMIT);
    assert_int_equal(read_hex(&tc_proto_binary,
                              "0300000003"
                              "0000",
                              read_list, NULL),
                     TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_binary,
                              "0300000003"
                              "000000",
                              read_list, NULL),
                     TC_OK);
    /* a list of i32 needs 4 bytes an element, of i64 8 */
    assert_int_equal(read_hex(&tc_proto_binary,
                              "0800000002"
                              "00000000000000",
                              read_list, NULL),
                     TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_binary,
                              "0a00000001"
                              "00000000000000",
                              read_list, NULL),
                     TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_binary,
                              "0a00000001"
                              "0000000000000000",
                              read_list, NULL),
                     TC_OK);
    /* invalid element types, even with no elements */
    assert_int_equal(read_hex(&tc_proto_binary, "0000000000", read_list, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "0100000000", read_list, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "1100000000", read_list, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "05", read_list, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "0b08ffffffff", read_map, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "0b08000003e9", read_map, NULL), TC_ELIMIT);
    /* a map pair of byte, byte takes 2 bytes */
    assert_int_equal(read_hex(&tc_proto_binary,
                              "030300000002"
                              "000000",
                              read_map, NULL),
                     TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_binary,
                              "030300000002"
                              "00000000",
                              read_map, NULL),
                     TC_OK);
    assert_int_equal(read_hex(&tc_proto_binary, "000800000000", read_map, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "0b0700000000", read_map, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "0b08000000", read_map, NULL), TC_AGAIN);
    /* an invalid key or value type is refused from its own byte on, not once the size is in */
    assert_int_equal(read_hex(&tc_proto_binary, "00", read_map, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "0b07", read_map, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "1108000000", read_map, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_binary, "0b", read_map, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_binary, "0b08", read_map, NULL), TC_AGAIN);
}

static int
read_field(tc_proto_t *p)
{
    uint8_t t;
    int16_t id;
    return p->ops->read_field_begin(p, &t, &id);
}

static void
test_field_types(void **state)
{
    (void)state;
    assert_int_equal(read_hex(&tc_proto_binary, "00", read_field, NULL), TC_OK);
    assert_int_equal(read_hex(&tc_proto_binary, "0a0001", read_field, NULL), TC_OK);
    assert_int_equal(read_hex(&tc_proto_binary, "100001", read_field, NULL), TC_OK);
    assert_int_equal(read_hex(&tc_proto_binary, "0a00", read_field, NULL), TC_AGAIN);
    static const char *const bad[] = {"010001", "050001", "070001", "090001", "110001", "ff0001"};
    for (size_t i = 0; i < TC_ARRAY_LEN(bad); i++) {
        assert_int_equal(read_hex(&tc_proto_binary, bad[i], read_field, NULL), TC_EPROTO);
    }
}

static int
read_bools(tc_proto_t *p)
{
    bool v;
    for (int i = 0; i < 3; i++) {
        int rc = p->ops->read_bool(p, &v);
        if (rc != TC_OK) {
            return rc;
        }
        assert_int_equal(v, i != 0);
    }
    return TC_OK;
}

/* Any nonzero byte is true on read, as in Apache (Python readBool: byte != 0). */
static void
test_bool_nonzero(void **state)
{
    (void)state;
    assert_int_equal(read_hex(&tc_proto_binary, "0002ff", read_bools, NULL), TC_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_non_strict_header),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_container_limits),
        cmocka_unit_test(test_field_types),
        cmocka_unit_test(test_bool_nonzero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
