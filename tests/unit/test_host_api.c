/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for plugin/host_api.c: the THeader info header accessors, and
 * readers that see IDL defaults (tests/fixtures/defaults_c.thrift).
 */
#include "tc_test.h"

#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "core/buf.h"
#include "plugin/host.h"
#include "transport/header.h"

#include <lauxlib.h>
#include <stdlib.h>

/* Python THeaderTransport: set_header(b"k", b"v"), set_header(b"user", b"ann"), binary ping. */
static const uint8_t kv[] = {
    0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x05, 0x00, 0x00, 0x01, 0x02, 0x01, 0x6b,
    0x01, 0x76, 0x04, 0x75, 0x73, 0x65, 0x72, 0x03, 0x61, 0x6e, 0x6e, 0x00, 0x00, 0x00, 0x80, 0x01,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x70, 0x69, 0x6e, 0x67, 0x00, 0x00, 0x00, 0x07, 0x00,
};

static void
test_request_and_response_headers(void **state)
{
    (void)state;
    const tc_host_api_t *api = &tc_host_api;
    assert_true(TC_HOST_HAS(api, request_header));
    assert_true(TC_HOST_HAS(api, set_response_header));
    tc_header_t h;
    tc_header_init(&h);
    const char *why;
    assert_int_equal(tc_header_read(&h, kv, sizeof(kv), 1024, &why), TC_OK);
    struct tc_call call;
    memset(&call, 0, sizeof(call));
    call.header = &h;
    const char *k;
    const char *v;
    size_t kl;
    size_t vl;
    assert_int_equal(api->request_header(&call, 1, &k, &kl, &v, &vl), TC_PLUGIN_OK);
    assert_int_equal(kl, 4);
    assert_memory_equal(k, "user", 4);
    assert_int_equal(vl, 3);
    assert_memory_equal(v, "ann", 3);
    assert_int_equal(api->request_header(&call, 0, &k, &kl, &v, &vl), TC_PLUGIN_OK);
    assert_memory_equal(k, "k", 1);
    assert_int_equal(api->request_header(&call, 2, &k, &kl, &v, &vl), TC_PLUGIN_ERANGE);
    assert_int_equal(api->set_response_header(&call, "r", 1, "x", 1), TC_PLUGIN_OK);
    assert_int_equal(h.nreply_info, 1);
    static char big[70000];
    assert_int_equal(api->set_response_header(&call, "big", 3, big, sizeof(big)), TC_PLUGIN_ERANGE);
    /* a call that did not come over THeader */
    call.header = NULL;
    assert_int_equal(api->request_header(&call, 0, &k, &kl, &v, &vl), TC_PLUGIN_ERANGE);
    assert_int_equal(api->set_response_header(&call, "r", 1, "x", 1), TC_PLUGIN_ESTATE);
    tc_header_deinit(&h);
}

/* ---- IDL defaults ---- */

/* Defaults.show() of tests/fixtures/defaults_c.thrift, compiled by a Lua state. */
static const tc_function_t *
load_show(lua_State **Lp)
{
    tc_err_t err;
    tc_err_clear(&err);
    lua_State *L = tc_lua_state_new(&err);
    assert_non_null(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "load");
    lua_pushliteral(L, TC_FIXTURES_DIR "/defaults_c.thrift");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "Defaults");
    const tc_service_t *svc = tc_lua_schema_to_service(L, -1);
    assert_non_null(svc);
    *Lp = L;
    return svc->functions[0];
}

/* show()'s arguments with i = 11, p = {y = 8} and c2 = {s = "z"} sent, the rest left out. */
static void
write_some_args(tc_buf_t *b)
{
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, b);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 4);
    w.ops->write_i32(&w, 11);
    w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 13);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
    w.ops->write_i32(&w, 8);
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 16);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_STRING, 2);
    w.ops->write_binary(&w, "z", 1);
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
}

static void
check_scalar_defaults(const tc_host_api_t *api, const tc_view_t *args)
{
    int b = 0;
    int8_t y = 0;
    int16_t s16 = 0;
    int32_t m = 0;
    int64_t l = 0;
    double d = 0;
    const char *str;
    const void *bin;
    size_t len;
    const uint8_t *u;
    assert_int_equal(api->get_bool(args, 1, &b), TC_PLUGIN_OK);
    assert_int_equal(b, 1);
    assert_false(api->has(args, 1));
    assert_int_equal(api->get_byte(args, 2, &y), TC_PLUGIN_OK);
    assert_int_equal(y, -5);
    assert_int_equal(api->get_i16(args, 3, &s16), TC_PLUGIN_OK);
    assert_int_equal(s16, 300);
    assert_int_equal(api->get_i64(args, 5, &l), TC_PLUGIN_OK);
    assert_true(l == 5000000000LL);
    assert_int_equal(api->get_double(args, 6, &d), TC_PLUGIN_OK);
    assert_true(d == 2.5);
    assert_int_equal(api->get_string(args, 7, &str, &len), TC_PLUGIN_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(str, "hi", 2);
    assert_int_equal(api->get_binary(args, 8, &bin, &len), TC_PLUGIN_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(bin, "bytes", 5);
    assert_int_equal(api->get_i32(args, 9, &m), TC_PLUGIN_OK); /* enum Mode.FAST */
    assert_int_equal(m, 2);
    assert_int_equal(api->get_uuid(args, 14, &u), TC_PLUGIN_OK);
    static const uint8_t want[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                     0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    assert_memory_equal(u, want, 16);
    /* no default, not sent; a wrong type is still refused */
    assert_int_equal(api->get_i32(args, 17, &m), TC_PLUGIN_ENOTSET);
    assert_int_equal(api->get_i64(args, 4, &l), TC_PLUGIN_ETYPE);
}

static void
check_container_defaults(const tc_host_api_t *api, const tc_view_t *args)
{
    const tc_seq_t *s;
    tc_value_t e;
    tc_value_t v;
    assert_int_equal(api->get_seq(args, 10, &s), TC_PLUGIN_OK);
    assert_int_equal(api->seq_kind(s), TC_VAL_LIST);
    assert_int_equal(api->seq_len(s), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(api->seq_get(s, i, &e, NULL), TC_PLUGIN_OK);
        assert_int_equal(e.kind, TC_VAL_I32);
        assert_int_equal(e.u.i, (int64_t)i + 1);
    }
    assert_int_equal(api->get_seq(args, 11, &s), TC_PLUGIN_OK);
    assert_int_equal(api->seq_kind(s), TC_VAL_SET);
    assert_int_equal(api->seq_len(s), 1);
    assert_int_equal(api->seq_get(s, 0, &e, NULL), TC_PLUGIN_OK);
    assert_int_equal(e.kind, TC_VAL_STRING);
    assert_memory_equal(e.u.bin.ptr, "a", 1);
    assert_int_equal(api->get_seq(args, 12, &s), TC_PLUGIN_OK);
    assert_int_equal(api->seq_len(s), 1);
    assert_int_equal(api->seq_get(s, 0, &e, &v), TC_PLUGIN_OK);
    assert_int_equal(e.u.bin.len, 1);
    assert_memory_equal(e.u.bin.ptr, "k", 1);
    assert_int_equal(v.kind, TC_VAL_I32);
    assert_int_equal(v.u.i, 9);
    /* the generic reader sees the default too */
    assert_int_equal(api->get(args, 10, &v), TC_PLUGIN_OK);
    assert_int_equal(v.kind, TC_VAL_LIST);
}

static void
test_readers_see_idl_defaults(void **state)
{
    (void)state;
    lua_State *L;
    const tc_function_t *show = load_show(&L);
    const tc_host_api_t *api = &tc_host_api;
    tc_buf_t b;
    tc_buf_init(&b);
    write_some_args(&b);
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_binary, b.data, b.len, NULL);
    tc_arena_t a;
    tc_arena_init(&a, 0);
    tc_err_t err;
    tc_err_clear(&err);
    const tc_view_t *args;
    assert_int_equal(tc_codec_decode(&r, show->args, &a, &args, &err), TC_OK);

    check_scalar_defaults(api, args);
    check_container_defaults(api, args);
    /* what was sent wins, and has() tells it apart */
    int32_t i = 0;
    assert_int_equal(api->get_i32(args, 4, &i), TC_PLUGIN_OK);
    assert_int_equal(i, 11);
    assert_true(api->has(args, 4));
    /* a sent struct: the field left out in it reads as Point's own default */
    const tc_view_t *p;
    assert_int_equal(api->get_struct(args, 13, &p), TC_PLUGIN_OK);
    assert_int_equal(api->get_i32(p, 1, &i), TC_PLUGIN_OK);
    assert_int_equal(i, 3);
    assert_false(api->has(p, 1));
    assert_int_equal(api->get_i32(p, 2, &i), TC_PLUGIN_OK);
    assert_int_equal(i, 8);
    /* a union's member default stands in only when no member is set */
    const tc_view_t *c;
    const char *str;
    size_t len;
    assert_int_equal(api->get_struct(args, 15, &c), TC_PLUGIN_OK); /* the default {s = "x"} */
    assert_int_equal(api->get_string(c, 2, &str, &len), TC_PLUGIN_OK);
    assert_memory_equal(str, "x", 1);
    assert_int_equal(api->get_i32(c, 1, &i), TC_PLUGIN_ENOTSET);
    assert_int_equal(api->get_struct(args, 16, &c), TC_PLUGIN_OK); /* sent {s = "z"} */
    assert_int_equal(api->get_i32(c, 1, &i), TC_PLUGIN_ENOTSET);

    /* an empty union: its member default applies */
    tc_view_t empty = {.st = c->st, .n = 0, .cap = 0, .fields = NULL};
    assert_int_equal(api->get_i32(&empty, 1, &i), TC_PLUGIN_OK);
    assert_int_equal(i, 7);
    tc_arena_deinit(&a);
    tc_buf_deinit(&b);
    lua_close(L);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_and_response_headers),
        cmocka_unit_test(test_readers_see_idl_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
