/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for protocol/compact.c: TCompactProtocol, byte for byte. */
#include "proto_cases.h"

/*
 * Apache Thrift 0.17 Python TCompactProtocol output for each script of
 * proto_cases.h, in the same order. Note what it shows: bools in containers
 * are 1 (true) and 2 (false), a list<bool> header carries type 1, an empty
 * map is the single byte 00, and a field id that goes back or jumps more
 * than 15 takes the long form (type byte + zigzag varint id).
 */
static const golden_t golden[] = {
    {"msg_call", "8221000470696e6700"},
    {"msg_reply_neg_seqid", "8241ffffffff0f017800"},
    {"msg_exception_max_seqid", "8261ffffffff07046563686f00"},
    {"msg_oneway_min_seqid_empty_name", "828180808080080000"},
    {"byte_0", "130000"},
    {"byte_m1", "13ff00"},
    {"byte_1", "130100"},
    {"byte_m128", "138000"},
    {"byte_127", "137f00"},
    {"i16_0", "140000"},
    {"i16_m1", "140100"},
    {"i16_1", "140200"},
    {"i16_m32768", "14ffff0300"},
    {"i16_32767", "14feff0300"},
    {"i32_0", "150000"},
    {"i32_m1", "150100"},
    {"i32_1", "150200"},
    {"i32_63", "157e00"},
    {"i32_m64", "157f00"},
    {"i32_64", "15800100"},
    {"i32_m2147483648", "15ffffffff0f00"},
    {"i32_2147483647", "15feffffff0f00"},
    {"i64_0", "160000"},
    {"i64_m1", "160100"},
    {"i64_1", "160200"},
    {"i64_1099511627776", "1680808080804000"},
    {"i64_m9223372036854775808", "16ffffffffffffffffff0100"},
    {"i64_9223372036854775807", "16feffffffffffffffff0100"},
    {"double_zero", "17000000000000000000"},
    {"double_negzero", "17000000000000008000"},
    {"double_one_half", "17000000000000f83f00"},
    {"double_inf", "17000000000000f07f00"},
    {"double_neginf", "17000000000000f0ff00"},
    {"double_nan", "17000000000000f87f00"},
    {"double_pi", "17182d4454fb21094000"},
    {"string_empty", "180000"},
    {"string_hello", "180568656c6c6f00"},
    {"binary_zeros", "1804000100ff00"},
    {"string_200", "18c8016161616161616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616161616161616161616161616161616161616161616161616161"
                   "6161616161616161616161616100"},
    {"bool_fields", "11120128020500"},
    {"field_deltas", "1502f504054006050108650a050a0c05feff030e05ffff031000"},
    {"nested_struct_fid_restore", "35021c052804150600150800"},
    {"list_empty", "190500"},
    {"list_14", "19e500020406080a0c0e10121416181a00"},
    {"list_15", "19f50f0d0b090705030100020406080a0c0e00"},
    {"list_bool", "193101020100"},
    {"set_string", "2a28016102626300"},
    {"list_of_lists", "192913070300"},
    {"list_of_structs", "192c150200110000"},
    {"map_empty", "1b0000"},
    {"map_string_i32", "1b0285016b0201760100"},
    {"map_bool_double", "1b011702000000000000044000"},
    {"map_16", "1b1036f800f901fa03fb05fc07fd09fe0bff0d000f01110213031504170519061b071d00"},
};

static void
test_golden(void **state)
{
    (void)state;
    assert_int_equal(TC_ARRAY_LEN(golden), TC_ARRAY_LEN(scripts));
    run_golden(&tc_proto_compact, scripts, golden, TC_ARRAY_LEN(scripts));
}

/* uuid (type 13) is newer than the Python library: 16 raw bytes, big-endian */
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
    static const golden_t g = {"uuid", "1d"
                                       "00112233445566778899aabbccddeeff"
                                       "19"
                                       "1d"
                                       "30313233343536373839616263646566"
                                       "00"};
    run_golden(&tc_proto_compact, &s, &g, 1);
}

static int
read_msg(tc_proto_t *p)
{
    tc_msg_hdr_t m;
    return p->ops->read_message_begin(p, &m);
}

static void
test_bad_headers(void **state)
{
    (void)state;
    assert_int_equal(read_hex(&tc_proto_compact, "8221000470696e67", read_msg, NULL), TC_OK);
    /* wrong protocol id, refused from the first byte */
    assert_int_equal(read_hex(&tc_proto_compact, "80", read_msg, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "8001000470696e67", read_msg, NULL), TC_EPROTO);
    /* wrong version (2, 0) */
    assert_int_equal(read_hex(&tc_proto_compact, "8222000470696e67", read_msg, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "8220000470696e67", read_msg, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "82", read_msg, NULL), TC_AGAIN);
    /* seqid varint of 11 bytes (6 to 10 are taken: test_padded_varints) */
    assert_int_equal(read_hex(&tc_proto_compact, "8221ffffffffffffffffffff0100", read_msg, NULL),
                     TC_EPROTO);
    /* name length: negative as an i32, and more than is there */
    assert_int_equal(read_hex(&tc_proto_compact, "822100ffffffff0f", read_msg, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "82210005706e67", read_msg, NULL), TC_AGAIN);
}

static int
read_i32(tc_proto_t *p)
{
    int32_t v;
    return p->ops->read_i32(p, &v);
}

static int
read_i64(tc_proto_t *p)
{
    int64_t v;
    return p->ops->read_i64(p, &v);
}

static int
read_i64_max(tc_proto_t *p)
{
    int64_t v;
    int rc = p->ops->read_i64(p, &v);
    if (rc == TC_OK) {
        assert_true(v == INT64_MIN);
    }
    return rc;
}

static int
read_i16_trunc(tc_proto_t *p)
{
    int16_t v;
    int rc = p->ops->read_i16(p, &v);
    if (rc == TC_OK) {
        /* zigzag 65536 is 32768: truncated to 16 bits as C++ and Java do */
        assert_int_equal(v, INT16_MIN);
    }
    return rc;
}

static void
test_varint_limits(void **state)
{
    (void)state;
    size_t left;
    /* 10 bytes is the longest varint, for 32-bit values too (as Apache C++) */
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffff0f", read_i32, &left), TC_OK);
    assert_int_equal(left, 0);
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffffff", read_i32, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffff", read_i32, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "", read_i32, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffffffffffffff01", read_i64_max, &left),
                     TC_OK);
    assert_int_equal(left, 0);
    /* 11 bytes: refused whether or not more bytes follow */
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffffffffffffff8101", read_i64, NULL),
                     TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffffffffffffffff", read_i64, NULL),
                     TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffffffffffffff", read_i64, NULL), TC_AGAIN);
    /* the same near the end of the input and away from it (fast and slow paths) */
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffffffffffffffff0000000000", read_i64, NULL),
                     TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffffffffffffffff0000000000", read_i32, NULL),
                     TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffffffffffffffff", read_i32, NULL),
                     TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "80800400", read_i16_trunc, NULL), TC_OK);
}

static int
read_field(tc_proto_t *p)
{
    uint8_t t;
    int16_t id;
    return p->ops->read_field_begin(p, &t, &id);
}

static int
read_field_stop(tc_proto_t *p)
{
    uint8_t t;
    int16_t id;
    int rc = p->ops->read_field_begin(p, &t, &id);
    if (rc == TC_OK) {
        assert_int_equal(t, TC_TTYPE_STOP);
        assert_int_equal(id, 0);
    }
    return rc;
}

static void
test_field_headers(void **state)
{
    (void)state;
    /* a zero type nibble is STOP whatever the delta says, as in Apache */
    assert_int_equal(read_hex(&tc_proto_compact, "00", read_field_stop, NULL), TC_OK);
    assert_int_equal(read_hex(&tc_proto_compact, "f0", read_field_stop, NULL), TC_OK);
    /* type nibbles 14 and 15 do not exist */
    assert_int_equal(read_hex(&tc_proto_compact, "1e", read_field, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "1f", read_field, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "0e02", read_field, NULL), TC_EPROTO);
    /* long form: id varint cut short, and too long */
    assert_int_equal(read_hex(&tc_proto_compact, "05", read_field, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "0580", read_field, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "05ffffffffffffffffffff01", read_field, NULL),
                     TC_EPROTO);
}

static int
read_bool_fields(tc_proto_t *p)
{
    const tc_proto_ops_t *ops = p->ops;
    uint8_t t;
    int16_t id;
    bool v;
    assert_int_equal(ops->read_struct_begin(p), TC_OK);
    assert_int_equal(ops->read_field_begin(p, &t, &id), TC_OK);
    assert_int_equal(t, TC_TTYPE_BOOL);
    assert_int_equal(id, 1);
    assert_int_equal(ops->read_bool(p, &v), TC_OK);
    assert_true(v);
    assert_int_equal(ops->read_field_begin(p, &t, &id), TC_OK);
    assert_int_equal(t, TC_TTYPE_BOOL);
    assert_int_equal(id, 3);
    /* the header said false: no byte is read for the value */
    size_t before = tc_proto_left(p);
    assert_int_equal(ops->read_bool(p, &v), TC_OK);
    assert_false(v);
    assert_int_equal(tc_proto_left(p), before);
    /* a list<bool> with the spec's element type 2, values 1, 2 and 0 */
    assert_int_equal(ops->read_field_begin(p, &t, &id), TC_OK);
    assert_int_equal(t, TC_TTYPE_LIST);
    uint8_t et;
    uint32_t n;
    assert_int_equal(ops->read_list_begin(p, &et, &n), TC_OK);
    assert_int_equal(et, TC_TTYPE_BOOL);
    assert_int_equal(n, 3);
    static const bool want[] = {true, false, false};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ops->read_bool(p, &v), TC_OK);
        assert_int_equal(v, want[i]);
    }
    return read_field_stop(p);
}

static void
test_bools_read(void **state)
{
    (void)state;
    size_t left;
    assert_int_equal(read_hex(&tc_proto_compact,
                              "11"
                              "22"
                              "19"
                              "32010200"
                              "00",
                              read_bool_fields, &left),
                     TC_OK);
    assert_int_equal(left, 0);
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

static int
read_string(tc_proto_t *p)
{
    const uint8_t *s;
    uint32_t len;
    p->max_string = 4;
    return p->ops->read_binary(p, &s, &len);
}

static void
test_container_limits(void **state)
{
    (void)state;
    /* invalid element types, with and without elements */
    static const char *const bad_lists[] = {"00", "0e", "0f", "10", "1e", "f0e807"};
    for (size_t i = 0; i < TC_ARRAY_LEN(bad_lists); i++) {
        assert_int_equal(read_hex(&tc_proto_compact, bad_lists[i], read_list, NULL), TC_EPROTO);
    }
    /* long form: negative as an i32, over the limit, more than is left */
    assert_int_equal(read_hex(&tc_proto_compact, "f5ffffffff0f", read_list, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "f5e907", read_list, NULL), TC_ELIMIT);
    assert_int_equal(read_hex(&tc_proto_compact, "f5e807", read_list, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "f5", read_list, NULL), TC_AGAIN);
    /* short form: 3 elements of one byte at least */
    assert_int_equal(read_hex(&tc_proto_compact, "350000", read_list, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "35000000", read_list, NULL), TC_OK);
    /* doubles take 8 bytes each */
    assert_int_equal(read_hex(&tc_proto_compact,
                              "17"
                              "00000000000000",
                              read_list, NULL),
                     TC_AGAIN);
    /* maps: empty is one byte, types are checked, sizes as for lists */
    assert_int_equal(read_hex(&tc_proto_compact, "00", read_map, NULL), TC_OK);
    assert_int_equal(read_hex(&tc_proto_compact,
                              "01e5"
                              "0000",
                              read_map, NULL),
                     TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact,
                              "015f"
                              "0000",
                              read_map, NULL),
                     TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact,
                              "010f"
                              "0000",
                              read_map, NULL),
                     TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact,
                              "0155"
                              "0000",
                              read_map, NULL),
                     TC_OK);
    assert_int_equal(read_hex(&tc_proto_compact,
                              "0255"
                              "000000",
                              read_map, NULL),
                     TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "01", read_map, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "ffffffff0f", read_map, NULL), TC_EPROTO);
    assert_int_equal(read_hex(&tc_proto_compact, "e907", read_map, NULL), TC_ELIMIT);
    /* strings */
    assert_int_equal(read_hex(&tc_proto_compact, "0461626364", read_string, NULL), TC_OK);
    assert_int_equal(read_hex(&tc_proto_compact, "05", read_string, NULL), TC_ELIMIT);
    assert_int_equal(read_hex(&tc_proto_compact, "04616263", read_string, NULL), TC_AGAIN);
    assert_int_equal(read_hex(&tc_proto_compact, "8080808008", read_string, NULL), TC_EPROTO);
}

/* ---- padded varints: what Apache C++ takes ---- */

/* The value the last of the readers below read. */
static int64_t got;

static int
got_i16(tc_proto_t *p)
{
    int16_t v = 0;
    int rc = p->ops->read_i16(p, &v);
    got = v;
    return rc;
}

static int
got_i32(tc_proto_t *p)
{
    int32_t v = 0;
    int rc = p->ops->read_i32(p, &v);
    got = v;
    return rc;
}

static int
got_i64(tc_proto_t *p)
{
    int64_t v = 0;
    int rc = p->ops->read_i64(p, &v);
    got = v;
    return rc;
}

/* A long-form field header of an i32 field: its id. */
static int
got_fid(tc_proto_t *p)
{
    uint8_t t = 0;
    int16_t id = 0;
    int rc = p->ops->read_field_begin(p, &t, &id);
    if (rc == TC_OK) {
        assert_int_equal(t, TC_TTYPE_I32);
    }
    got = id;
    return rc;
}

/* A CALL named "ping": its seqid. */
static int
got_seqid(tc_proto_t *p)
{
    tc_msg_hdr_t m;
    int rc = p->ops->read_message_begin(p, &m);
    got = 0;
    if (rc == TC_OK) {
        assert_int_equal(m.type, TC_MSG_CALL);
        assert_int_equal(m.name_len, 4);
        assert_memory_equal(m.name, "ping", 4);
        got = m.seqid;
    }
    return rc;
}

/* A string (max_string 4): its length, after checking its bytes are "abcd"'s first. */
static int
got_string(tc_proto_t *p)
{
    const uint8_t *s = NULL;
    uint32_t len = 0;
    p->max_string = 4;
    int rc = p->ops->read_binary(p, &s, &len);
    got = len;
    if (rc == TC_OK) {
        assert_memory_equal(s, "abcd", len);
    }
    return rc;
}

static int
got_list(tc_proto_t *p)
{
    uint8_t et = 0;
    uint32_t n = 0;
    int rc = p->ops->read_list_begin(p, &et, &n);
    got = n;
    return rc;
}

static int
got_map(tc_proto_t *p)
{
    uint8_t kt = 0;
    uint8_t vt = 0;
    uint32_t n = 0;
    int rc = p->ops->read_map_begin(p, &kt, &vt, &n);
    got = n;
    return rc;
}

typedef struct varint_case {
    const char *hex; /* spaces between the parts */
    hex_read_fn fn;
    int rc;
    int64_t want; /* when TC_OK */
    size_t left;  /* when TC_OK */
} varint_case_t;

/*
 * Apache C++ reads every varint with readVarint64() (10 bytes at most, the
 * tenth byte's bits above bit 63 dropped) and a 32-bit one as its low 32
 * bits. thriftcorn takes the same, on the fast path (10 bytes or more left)
 * and the slow one, except a size whose 64-bit value is over INT32_MAX.
 */
static const varint_case_t varint_cases[] = {
    /* zigzag 2 (1) in 6, 9 and 10 bytes; with bytes after it (fast path) and without */
    {"828080808000", got_i32, TC_OK, 1, 0},
    {"828080808000 0000000000", got_i32, TC_OK, 1, 5},
    {"82808080808080808000", got_i32, TC_OK, 1, 0},
    {"82808080808080808000 00", got_i32, TC_OK, 1, 1},
    {"feff83808080808000", got_i16, TC_OK, INT16_MAX, 0},
    {"828080808000", got_i64, TC_OK, 1, 0},
    /* bits above 32 are dropped: 2^40 + 2, 2^64 - 1, 0xffffffff in 6 bytes */
    {"828080808020", got_i32, TC_OK, 1, 0},
    {"ffffffffffffffffff01", got_i32, TC_OK, INT32_MIN, 0},
    {"ffffffff8f00", got_i32, TC_OK, INT32_MIN, 0},
    /* 65536 + 2^39: zigzag 32768 + 2^38, of which 16 bits are kept (as for "80800400") */
    {"808084808010", got_i16, TC_OK, INT16_MIN, 0},
    /* the tenth byte: bits above bit 63 dropped, 2^64 - 1 and 2^64 - 2 */
    {"ffffffffffffffffff7f", got_i64, TC_OK, INT64_MIN, 0},
    {"feffffffffffffffff7f", got_i64, TC_OK, INT64_MAX, 0},
    /* 11 bytes: refused for every width; 9 continuation bytes and the end: AGAIN */
    {"8080808080808080808001", got_i16, TC_EPROTO, 0, 0},
    {"8080808080808080808001", got_i32, TC_EPROTO, 0, 0},
    {"8080808080808080808001", got_i64, TC_EPROTO, 0, 0},
    {"80808080808080808080", got_i32, TC_EPROTO, 0, 0},
    {"808080808080808080", got_i32, TC_AGAIN, 0, 0},
    {"808080808080808080", got_i16, TC_AGAIN, 0, 0},
    /* field ids (i16) and seqids (i32) */
    {"05 828080808000", got_fid, TC_OK, 1, 0},
    {"05 fcff83808080808000", got_fid, TC_OK, 32766, 0},
    {"05 8080808080808080808001", got_fid, TC_EPROTO, 0, 0},
    {"8221 ffffffffffffffffff01 0470696e67", got_seqid, TC_OK, -1, 0},
    {"8221 8e8080808000 0470696e67", got_seqid, TC_OK, 14, 0},
    {"8221 8080808080808080808001 0470696e67", got_seqid, TC_EPROTO, 0, 0},
    /* sizes: padded, they are their value */
    {"8221 07 848080808000 70696e67", got_seqid, TC_OK, 7, 0},
    {"848080808000 61626364", got_string, TC_OK, 4, 0},
    {"83808080808080808000 616263", got_string, TC_OK, 3, 0},
    {"858080808000 6162636465", got_string, TC_ELIMIT, 0, 0},
    {"f5 838080808000 000000", got_list, TC_OK, 3, 3},
    {"838080808000 55 000000000000", got_map, TC_OK, 3, 6},
    /*
     * and a size of 2^32 + n is not n, as it would be in Apache C++ (where
     * Python reads 4294967296 + n): refused like a negative one, in 5 bytes
     * too; so is one with bit 63 set, negative as an i64
     */
    {"8221 07 8480808010 70696e67", got_seqid, TC_EPROTO, 0, 0},
    {"8480808010 61626364", got_string, TC_EPROTO, 0, 0},
    {"848080808010 61626364", got_string, TC_EPROTO, 0, 0},
    {"84808080808080808001 61626364", got_string, TC_EPROTO, 0, 0},
    {"8080808080808080808001 61626364", got_string, TC_EPROTO, 0, 0},
    {"f5 8380808010 000000", got_list, TC_EPROTO, 0, 0},
    {"8380808010 55 000000000000", got_map, TC_EPROTO, 0, 0},
    {"ffffffffffffffffff01 55 000000000000", got_map, TC_EPROTO, 0, 0},
};

static void
test_padded_varints(void **state)
{
    (void)state;
    for (size_t i = 0; i < TC_ARRAY_LEN(varint_cases); i++) {
        const varint_case_t *c = &varint_cases[i];
        char hex[80];
        size_t n = 0;
        for (const char *h = c->hex; *h != '\0'; h++) {
            if (*h != ' ') {
                assert_true(n < sizeof(hex) - 1);
                hex[n++] = *h;
            }
        }
        hex[n] = '\0';
        size_t left = 0;
        got = 0;
        int rc = read_hex(&tc_proto_compact, hex, c->fn, &left);
        if (rc != c->rc || (rc == TC_OK && (got != c->want || left != c->left))) {
            fail_msg("case %zu (%s): rc %d, value %lld, %zu left; want rc %d, value %lld, %zu left",
                     i, c->hex, rc, (long long)got, left, c->rc, (long long)c->want, c->left);
        }
    }
}

/*
 * The skips (a list of i32 stepped over as a run of varints, the resumable
 * skip of the buffered transport) take what the readers take: a message
 * with padded varints everywhere, whole and in every shorter prefix.
 */
static void
test_skip_padded(void **state)
{
    (void)state;
    static const char hex[] = "8221"
                              "8780808000"           /* seqid 7 */
                              "84808080808080808000" /* name length 4 */
                              "70696e67"
                              "15"
                              "828080808000" /* field 1, i32 */
                              "16"
                              "82808080808080808000" /* field 2, i64 */
                              "19"
                              "f5"
                              "828080808000" /* field 3, list of 2 i32 */
                              "8280808080808000"
                              "81808080808080808000"
                              "05"
                              "888080808000" /* field 4 (long form), i32 */
                              "00"
                              "00";
    size_t len;
    uint8_t *in = hex_decode(hex, &len);
    tc_proto_t p;
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *part = malloc(cut > 0 ? cut : 1);
        assert_non_null(part);
        memcpy(part, in, cut);
        int want = cut == len ? TC_OK : TC_AGAIN;
        tc_proto_init(&p, &tc_proto_compact, part, cut, NULL);
        assert_int_equal(tc_proto_skip_message(&p), want);
        assert_true(want != TC_OK || tc_proto_left(&p) == 0);
        tc_proto_skip_state_t st;
        tc_proto_skip_state_init(&st);
        tc_proto_init(&p, &tc_proto_compact, part, cut, NULL);
        assert_int_equal(tc_proto_skip_message_resume(&p, &st), want);
        assert_true(want != TC_OK || tc_proto_left(&p) == 0);
        free(part);
    }
    /* one more continuation byte in a list element: 11 bytes, refused by both */
    static const char bad[] = "8221000470696e67"
                              "19"
                              "25"
                              "00"
                              "8080808080808080808001"
                              "00";
    free(in);
    in = hex_decode(bad, &len);
    tc_proto_init(&p, &tc_proto_compact, in, len, NULL);
    assert_int_equal(tc_proto_skip_message(&p), TC_EPROTO);
    tc_proto_skip_state_t st;
    tc_proto_skip_state_init(&st);
    tc_proto_init(&p, &tc_proto_compact, in, len, NULL);
    assert_int_equal(tc_proto_skip_message_resume(&p, &st), TC_EPROTO);
    free(in);
}

static int
push_structs(tc_proto_t *p)
{
    for (int i = 0; i < TC_PROTO_DEPTH_MAX; i++) {
        assert_int_equal(p->ops->read_struct_begin(p), TC_OK);
    }
    int rc = p->ops->read_struct_begin(p);
    for (int i = 0; i < TC_PROTO_DEPTH_MAX; i++) {
        assert_int_equal(p->ops->read_struct_end(p), TC_OK);
    }
    assert_int_equal(p->ops->read_struct_end(p), TC_EPROTO);
    return rc;
}

/* The field id stack never overflows, whatever the caller's depth limit. */
static void
test_fid_stack_bounded(void **state)
{
    (void)state;
    assert_int_equal(read_hex(&tc_proto_compact, "", push_structs, NULL), TC_ELIMIT);
}

/* A reply after a failed read starts clean: no pending bool, no stale field id. */
static void
test_write_resets_state(void **state)
{
    (void)state;
    tc_buf_t out;
    tc_buf_init(&out);
    tc_proto_t p;
    static const uint8_t in[] = {0x11}; /* bool field 1 = true, left pending */
    tc_proto_init(&p, &tc_proto_compact, in, sizeof(in), &out);
    uint8_t t;
    int16_t id;
    assert_int_equal(tc_proto_compact.read_struct_begin(&p), TC_OK);
    assert_int_equal(tc_proto_compact.read_field_begin(&p, &t, &id), TC_OK);
    assert_int_equal(p._bool_pending, 2);
    tc_proto_compact.write_message_begin(&p, "a", 1, TC_MSG_REPLY, 1);
    tc_proto_compact.write_struct_begin(&p);
    tc_proto_compact.write_field_begin(&p, TC_TTYPE_LIST, 1);
    tc_proto_compact.write_list_begin(&p, TC_TTYPE_BOOL, 1);
    tc_proto_compact.write_bool(&p, true);
    tc_proto_compact.write_field_stop(&p);
    tc_proto_compact.write_struct_end(&p);
    assert_hex(out.data, out.len, "824101016119110100", "reply");
    tc_buf_deinit(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_varint_limits),
        cmocka_unit_test(test_field_headers),
        cmocka_unit_test(test_bools_read),
        cmocka_unit_test(test_container_limits),
        cmocka_unit_test(test_padded_varints),
        cmocka_unit_test(test_skip_padded),
        cmocka_unit_test(test_fid_stack_bounded),
        cmocka_unit_test(test_write_resets_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
