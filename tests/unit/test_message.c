/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for protocol/message.c: TApplicationException read and write. */
#include "proto_script.h"

#include "protocol/message.h"

typedef struct appex_case {
    const char *name;
    int32_t seqid;
    int32_t type;
    const char *message;
    const char *binary; /* hex */
    const char *compact;
} appex_case_t;

/*
 * The bytes of Apache Thrift 0.17 Python: writeMessageBegin(name, EXCEPTION,
 * seqid), TApplicationException(type, message).write(), writeMessageEnd(),
 * with TBinaryProtocol and TCompactProtocol.
 */
static const appex_case_t cases[] = {
    {"foo", 7, TC_APPEX_UNKNOWN_METHOD, "Unknown method foo",
     "8001000300000003666f6f000000070b000100000012556e6b6e6f776e206d6574686f6420666f6f08000200"
     "00000100",
     "82610703666f6f1812556e6b6e6f776e206d6574686f6420666f6f150200"},
    {"ping", -5, TC_APPEX_INTERNAL_ERROR, NULL, "800100030000000470696e67fffffffb0800020000000600",
     "8261fbffffff0f0470696e67250c00"},
    {"", 0, TC_APPEX_PROTOCOL_ERROR, "", "8001000300000000000000000b0001000000000800020000000700",
     "826100001800150e00"},
};

static int
read_appex_msg(tc_proto_t *p, tc_appex_t *ex, tc_msg_hdr_t *m)
{
    int rc = p->ops->read_message_begin(p, m);
    if (rc != TC_OK) {
        return rc;
    }
    return tc_message_read_appex(p, ex);
}

static void
test_write_and_read(void **state)
{
    (void)state;
    for (size_t c = 0; c < TC_ARRAY_LEN(cases); c++) {
        const appex_case_t *k = &cases[c];
        for (int f = 0; f < 2; f++) {
            const tc_proto_ops_t *ops = f == 0 ? &tc_proto_binary : &tc_proto_compact;
            tc_buf_t out;
            tc_buf_init(&out);
            tc_proto_t p;
            tc_proto_init(&p, ops, NULL, 0, &out);
            tc_message_write_appex(&p, k->name, strlen(k->name), k->seqid, k->type, k->message,
                                   k->message != NULL ? strlen(k->message) : 0);
            assert_hex(out.data, out.len, f == 0 ? k->binary : k->compact, k->name);

            tc_proto_reset_input(&p, out.data, out.len);
            tc_msg_hdr_t m;
            tc_appex_t ex;
            assert_int_equal(read_appex_msg(&p, &ex, &m), TC_OK);
            assert_int_equal(tc_proto_left(&p), 0);
            assert_int_equal(m.type, TC_MSG_EXCEPTION);
            assert_int_equal(m.seqid, k->seqid);
            assert_int_equal(m.name_len, strlen(k->name));
            assert_int_equal(ex.type, k->type);
            if (k->message == NULL) {
                assert_null(ex.message);
            } else {
                assert_int_equal(ex.message_len, strlen(k->message));
                assert_memory_equal(ex.message, k->message, ex.message_len);
            }
            /* every cut is AGAIN */
            for (size_t cut = 0; cut < out.len; cut++) {
                tc_proto_reset_input(&p, out.data, cut);
                assert_int_equal(read_appex_msg(&p, &ex, &m), TC_AGAIN);
            }
            tc_buf_deinit(&out);
        }
    }
}

static int
read_appex(const tc_proto_ops_t *ops, const char *hex, tc_appex_t *ex)
{
    size_t len;
    uint8_t *in = hex_decode(hex, &len);
    tc_proto_t p;
    tc_proto_init(&p, ops, in, len, NULL);
    int rc = tc_message_read_appex(&p, ex);
    if (rc == TC_OK) {
        assert_int_equal(tc_proto_left(&p), 0);
    }
    /* 'message' points into the input: check it before freeing */
    if (rc == TC_OK && ex->message != NULL) {
        assert_int_equal(ex->message_len, 2);
        assert_memory_equal(ex->message, "hi", 2);
    }
    free(in);
    return rc;
}

/* Unknown fields are skipped, a known id with another type too, missing fields default. */
static void
test_read_tolerant(void **state)
{
    (void)state;
    tc_appex_t ex;
    /* binary: {3: list<i32> [9], 1: "hi", 2: 4, 4: {1: "x"}} */
    assert_int_equal(read_appex(&tc_proto_binary,
                                "0f0003080000000100000009"
                                "0b0001000000026869"
                                "08000200000004"
                                "0c00040b000100000001780000",
                                &ex),
                     TC_OK);
    assert_int_equal(ex.type, TC_APPEX_BAD_SEQUENCE_ID);
    assert_non_null(ex.message);
    /* binary: {1: i32 5, 2: string "x"}: wrong types, both skipped */
    assert_int_equal(read_appex(&tc_proto_binary,
                                "08000100000005"
                                "0b00020000000178"
                                "00",
                                &ex),
                     TC_OK);
    assert_int_equal(ex.type, TC_APPEX_UNKNOWN);
    assert_null(ex.message);
    /* empty struct */
    assert_int_equal(read_appex(&tc_proto_binary, "00", &ex), TC_OK);
    assert_int_equal(ex.type, TC_APPEX_UNKNOWN);
    assert_null(ex.message);
    /* compact: {2: 6, 7: true, 1: "hi"} */
    assert_int_equal(read_appex(&tc_proto_compact,
                                "250c"
                                "51"
                                "0802"
                                "026869"
                                "00",
                                &ex),
                     TC_OK);
    assert_int_equal(ex.type, TC_APPEX_INTERNAL_ERROR);
    assert_non_null(ex.message);
    /* bad input is reported, not skipped over */
    assert_int_equal(read_appex(&tc_proto_binary, "0500010000", &ex), TC_EPROTO);
    assert_int_equal(read_appex(&tc_proto_binary, "0b0001ffffffff", &ex), TC_EPROTO);
    assert_int_equal(read_appex(&tc_proto_compact, "18", &ex), TC_AGAIN);
}

/* The message is written with its length: a NUL inside (a Lua error's text) does not cut it. */
static void
test_write_message_with_nul(void **state)
{
    (void)state;
    static const char text[] = "before\0after";
    for (int f = 0; f < 2; f++) {
        const tc_proto_ops_t *ops = f == 0 ? &tc_proto_binary : &tc_proto_compact;
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, ops, NULL, 0, &out);
        tc_message_write_appex(&p, "m", 1, 3, TC_APPEX_INTERNAL_ERROR, text, sizeof(text) - 1);
        tc_proto_reset_input(&p, out.data, out.len);
        tc_msg_hdr_t m;
        tc_appex_t ex;
        assert_int_equal(read_appex_msg(&p, &ex, &m), TC_OK);
        assert_int_equal(tc_proto_left(&p), 0);
        assert_int_equal(ex.type, TC_APPEX_INTERNAL_ERROR);
        assert_int_equal(ex.message_len, sizeof(text) - 1);
        assert_memory_equal(ex.message, text, sizeof(text) - 1);
        tc_buf_deinit(&out);
    }
}

static void
test_type_names(void **state)
{
    (void)state;
    assert_string_equal(tc_appex_type_name(TC_APPEX_UNKNOWN), "UNKNOWN");
    assert_string_equal(tc_appex_type_name(TC_APPEX_UNKNOWN_METHOD), "UNKNOWN_METHOD");
    assert_string_equal(tc_appex_type_name(TC_APPEX_INTERNAL_ERROR), "INTERNAL_ERROR");
    assert_string_equal(tc_appex_type_name(TC_APPEX_UNSUPPORTED_CLIENT_TYPE),
                        "UNSUPPORTED_CLIENT_TYPE");
    assert_string_equal(tc_appex_type_name(11), "UNKNOWN");
    assert_string_equal(tc_appex_type_name(-1), "UNKNOWN");
    assert_string_equal(tc_appex_type_name(INT32_MAX), "UNKNOWN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_and_read),
        cmocka_unit_test(test_read_tolerant),
        cmocka_unit_test(test_write_message_with_nul),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
