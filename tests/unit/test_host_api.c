/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for plugin/host_api.c: the THeader info header accessors,
 * readers that see IDL defaults (tests/fixtures/defaults_c.thrift), and
 * NULL arguments refused instead of crashing (ABI minor 3). Calls made here
 * run as tc_host_call() runs them: entered with tc_host_api_enter() (their
 * address as the handle); test_host.c has the handles of a real plugin.
 */
#include "tc_test.h"

#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "core/buf.h"
#include "core/log.h"
#include "plugin/host.h"
#include "transport/header.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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
    tc_host_api_enter(&call, &call);
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
    tc_host_api_leave();
    tc_header_deinit(&h);
}

/*
 * A THeader request frame (without its length) whose info block holds 'n'
 * headers, then a binary ping: header i has key "k<i>" and value "<i>" when
 * 'keyed', else an empty key and value (the most headers a block holds).
 * Returns its length; 'frame' must hold 65600 bytes.
 */
static size_t
header_frame(uint8_t *frame, unsigned n, bool keyed)
{
    static const uint8_t ping[] = {0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x70,
                                   0x69, 0x6e, 0x67, 0x00, 0x00, 0x00, 0x07, 0x00};
    size_t len = 10;     /* magic, flags, seqid, then the block's length in words */
    frame[len++] = 0x00; /* binary */
    frame[len++] = 0x00; /* no transforms */
    frame[len++] = 0x01; /* info key-value */
    unsigned count = n;  /* a varint */
    while (count >= 0x80) {
        frame[len++] = (uint8_t)(count | 0x80);
        count >>= 7;
    }
    frame[len++] = (uint8_t)count;
    for (unsigned i = 0; i < n; i++) {
        char k[16];
        char v[16];
        int kl = keyed ? snprintf(k, sizeof(k), "k%u", i) : 0;
        int vl = keyed ? snprintf(v, sizeof(v), "%u", i) : 0;
        frame[len++] = (uint8_t)kl;
        memcpy(frame + len, k, (size_t)kl);
        len += (size_t)kl;
        frame[len++] = (uint8_t)vl;
        memcpy(frame + len, v, (size_t)vl);
        len += (size_t)vl;
    }
    while ((len - 10) % 4 != 0) {
        frame[len++] = 0x00;
    }
    size_t words = (len - 10) / 4;
    static const uint8_t fixed[8] = {0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07};
    memcpy(frame, fixed, sizeof(fixed));
    frame[8] = (uint8_t)(words >> 8);
    frame[9] = (uint8_t)words;
    memcpy(frame + len, ping, sizeof(ping));
    return len + sizeof(ping);
}

/*
 * request_header() in any order: each index gives its header. Read in
 * order, as plugins loop over them, the headers cost one walk in all, not
 * one walk each: a client that sends the most headers a block holds (about
 * 32,000) must not make a handler that reads them spend seconds.
 */
static void
test_request_headers_in_any_order(void **state)
{
    (void)state;
    const tc_host_api_t *api = &tc_host_api;
    static uint8_t frame[65600];
    tc_header_t h;
    tc_header_init(&h);
    const char *why;
    assert_int_equal(tc_header_read(&h, frame, header_frame(frame, 300, true), 1024, &why), TC_OK);
    struct tc_call call;
    memset(&call, 0, sizeof(call));
    call.header = &h;
    tc_host_api_enter(&call, &call);
    const char *k;
    const char *v;
    size_t kl;
    size_t vl;
    static const size_t order[] = {0, 1, 2, 299, 3, 3, 150, 10, 151, 0, 298, 299};
    for (size_t j = 0; j < TC_ARRAY_LEN(order); j++) {
        char want[16];
        assert_int_equal(api->request_header(&call, order[j], &k, &kl, &v, &vl), TC_PLUGIN_OK);
        int n = snprintf(want, sizeof(want), "k%zu", order[j]);
        assert_int_equal(kl, (size_t)n);
        assert_memory_equal(k, want, kl);
        n = snprintf(want, sizeof(want), "%zu", order[j]);
        assert_int_equal(vl, (size_t)n);
        assert_memory_equal(v, want, vl);
    }
    assert_int_equal(api->request_header(&call, 300, &k, &kl, &v, &vl), TC_PLUGIN_ERANGE);
    assert_int_equal(api->request_header(&call, 301, &k, &kl, &v, &vl), TC_PLUGIN_ERANGE);
    assert_int_equal(api->request_header(&call, 5, &k, &kl, &v, &vl), TC_PLUGIN_OK);
    assert_memory_equal(k, "k5", 2);

    /* the next request on the connection reuses 'h': its headers, not the last one's */
    assert_int_equal(tc_header_read(&h, frame, header_frame(frame, 2, true), 1024, &why), TC_OK);
    tc_host_api_leave();
    memset(&call, 0, sizeof(call)); /* tc_host_call() starts each call so */
    call.header = &h;
    tc_host_api_enter(&call, &call);
    assert_int_equal(api->request_header(&call, 1, &k, &kl, &v, &vl), TC_PLUGIN_OK);
    assert_memory_equal(k, "k1", 2);
    assert_int_equal(api->request_header(&call, 2, &k, &kl, &v, &vl), TC_PLUGIN_ERANGE);

    /* the most headers a block holds, read in order: far below a second (a walk each: many) */
    unsigned most = 32000;
    assert_int_equal(tc_header_read(&h, frame, header_frame(frame, most, false), 1024, &why),
                     TC_OK);
    struct timespec t0;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t i = 0;
    while (api->request_header(&call, i, &k, &kl, &v, &vl) == TC_PLUGIN_OK) {
        assert_int_equal(kl + vl, 0);
        i++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(i, most);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (took > 1.0) {
        fail_msg("reading %u headers in order took %.2f s", most, took);
    }
    tc_host_api_leave();
    tc_header_deinit(&h);
}

/* ---- IDL defaults ---- */

/* The first function of 'service' in fixture IDL 'file', compiled by a new Lua state (*Lp). */
static const tc_function_t *
load_function(lua_State **Lp, const char *file, const char *service)
{
    tc_err_t err;
    tc_err_clear(&err);
    lua_State *L = tc_lua_state_new(&err);
    assert_non_null(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "load");
    lua_pushfstring(L, "%s/%s", TC_FIXTURES_DIR, file);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, service);
    const tc_service_t *svc = tc_lua_schema_to_service(L, -1);
    assert_non_null(svc);
    *Lp = L;
    return svc->functions[0];
}

/* Defaults.show() of tests/fixtures/defaults_c.thrift. */
static const tc_function_t *
load_show(lua_State **Lp)
{
    return load_function(Lp, "defaults_c.thrift", "Defaults");
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

/* show() with write_some_args() decoded: what a handler of show() gets. */
typedef struct show_call {
    lua_State *L;
    const tc_function_t *show;
    tc_buf_t b;
    tc_arena_t a;
    const tc_view_t *args;
} show_call_t;

static void
show_call_init(show_call_t *f)
{
    f->show = load_show(&f->L);
    tc_buf_init(&f->b);
    write_some_args(&f->b);
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_binary, f->b.data, f->b.len, NULL);
    tc_arena_init(&f->a, 0);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_codec_decode(&r, f->show->args, &f->a, &f->args, &err), TC_OK);
}

static void
show_call_deinit(show_call_t *f)
{
    tc_arena_deinit(&f->a);
    tc_buf_deinit(&f->b);
    lua_close(f->L);
}

static void
test_readers_see_idl_defaults(void **state)
{
    (void)state;
    show_call_t f;
    show_call_init(&f);
    const tc_host_api_t *api = &tc_host_api;
    const tc_view_t *args = f.args;

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
    show_call_deinit(&f);
}

/* ---- NULL arguments (ABI minor 3) ---- */

/* Sentinels: what an output holds when the host must not have written it. */
#define SENT_INT 0x5a
static const char sentinel_bytes[] = "untouched";

static void
check_typed_readers_refuse_null(const tc_host_api_t *api, const tc_view_t *args)
{
    int b = SENT_INT;
    int8_t y = SENT_INT;
    int16_t s16 = SENT_INT;
    int32_t i = SENT_INT;
    int64_t l = SENT_INT;
    double d = SENT_INT;
    const void *bin = sentinel_bytes;
    const char *str = sentinel_bytes;
    size_t len = SENT_INT;
    const uint8_t *u = (const uint8_t *)sentinel_bytes;
    const tc_view_t *st = (const tc_view_t *)sentinel_bytes;
    /* a NULL view: refused, the output untouched (field 4 is an i32 that was sent) */
    assert_int_equal(api->get_bool(NULL, 1, &b), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_byte(NULL, 2, &y), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_i16(NULL, 3, &s16), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_i32(NULL, 4, &i), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_i64(NULL, 5, &l), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_double(NULL, 6, &d), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_string(NULL, 7, &str, &len), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_binary(NULL, 8, &bin, &len), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_uuid(NULL, 14, &u), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_struct(NULL, 13, &st), TC_PLUGIN_EINVAL);
    assert_false(api->has(NULL, 4));
    /* a NULL output: refused; of two outputs, the other one is untouched */
    assert_int_equal(api->get_bool(args, 1, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_byte(args, 2, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_i16(args, 3, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_i32(args, 4, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_i64(args, 5, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_double(args, 6, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_string(args, 7, NULL, &len), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_string(args, 7, &str, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_binary(args, 8, NULL, &len), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_binary(args, 8, &bin, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_uuid(args, 14, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_struct(args, 13, NULL), TC_PLUGIN_EINVAL);
    /* even where the field would be refused anyway: the pointer is checked first */
    assert_int_equal(api->get_i32(args, 99, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(b, SENT_INT);
    assert_int_equal(y, SENT_INT);
    assert_int_equal(s16, SENT_INT);
    assert_int_equal(i, SENT_INT);
    assert_int_equal(l, SENT_INT);
    assert_true(d == SENT_INT);
    assert_ptr_equal(bin, sentinel_bytes);
    assert_ptr_equal(str, sentinel_bytes);
    assert_int_equal(len, SENT_INT);
    assert_ptr_equal(u, sentinel_bytes);
    assert_ptr_equal(st, sentinel_bytes);
}

static void
check_seq_readers_refuse_null(const tc_host_api_t *api, const tc_view_t *args)
{
    const tc_seq_t *s = (const tc_seq_t *)sentinel_bytes;
    tc_value_t e = {.kind = SENT_INT};
    tc_value_t v = {.kind = SENT_INT};
    assert_int_equal(api->get(NULL, 10, &v), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get(args, 10, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->get_seq(NULL, 10, &s), TC_PLUGIN_EINVAL);
    assert_ptr_equal(s, sentinel_bytes);
    assert_int_equal(api->get_seq(args, 10, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->seq_len(NULL), 0);
    assert_int_equal(api->seq_kind(NULL), TC_VAL_UNSET);
    assert_int_equal(api->seq_get(NULL, 0, &e, &v), TC_PLUGIN_EINVAL);
    /* a list: 'elem' is needed (checked before the index), 'value' is not */
    assert_int_equal(api->get_seq(args, 10, &s), TC_PLUGIN_OK);
    assert_int_equal(api->seq_get(s, 0, NULL, &v), TC_PLUGIN_EINVAL);
    assert_int_equal(api->seq_get(s, 99, NULL, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(e.kind, SENT_INT);
    assert_int_equal(v.kind, SENT_INT);
    /* a map: no 'elem' is refused; no 'value' reads the key alone */
    assert_int_equal(api->get_seq(args, 12, &s), TC_PLUGIN_OK);
    assert_int_equal(api->seq_get(s, 0, NULL, &v), TC_PLUGIN_EINVAL);
    assert_int_equal(v.kind, SENT_INT);
    assert_int_equal(api->seq_get(s, 0, &e, NULL), TC_PLUGIN_OK);
    assert_int_equal(e.kind, TC_VAL_STRING);
    assert_memory_equal(e.u.bin.ptr, "k", 1);
}

static void
test_readers_refuse_null(void **state)
{
    (void)state;
    show_call_t f;
    show_call_init(&f);
    const tc_host_api_t *api = &tc_host_api;
    assert_true(api->abi_minor >= 3);
    assert_int_equal(TC_PLUGIN_EINVAL, -2006);
    check_typed_readers_refuse_null(api, f.args);
    check_seq_readers_refuse_null(api, f.args);
    show_call_deinit(&f);
}

/* The call functions' types without the printf attribute: a NULL format is the point here. */
typedef void (*raw_log_fn)(int level, const char *fmt, ...);
typedef int (*raw_fail_fn)(tc_call_t *call, const char *fmt, ...);

static void
test_call_functions_refuse_null(void **state)
{
    (void)state;
    const tc_host_api_t *api = &tc_host_api;
    assert_null(api->call_alloc(NULL, 8));
    assert_string_equal(api->call_method(NULL), "");
    assert_null(api->thread_data(NULL));
    raw_fail_fn plugin_fail = api->fail; /* cmocka's fail() macro hides api->fail() */
    assert_int_equal(plugin_fail(NULL, "lost %d", 1), TC_PLUGIN_EFAIL);
    struct tc_call call;
    memset(&call, 0, sizeof(call));
    tc_host_api_enter(&call, &call);
    assert_int_equal(plugin_fail(&call, NULL), TC_PLUGIN_EFAIL);
    tc_host_api_leave();
    assert_string_equal(call.failmsg, "the plugin called fail() with a NULL format");

    /* log(): a line that says so, at WARNING or above even when asked for DEBUG */
    char path[64];
    int fd = tc_test_temp_file(path, sizeof(path), "host-api");
    assert_int_equal(tc_log_open(path), TC_OK);
    raw_log_fn plugin_log = api->log;
    plugin_log(TC_PLUGIN_LOG_DEBUG, NULL);
    plugin_log(TC_PLUGIN_LOG_CRITICAL, NULL);
    assert_int_equal(tc_log_open("-"), TC_OK);
    char text[1024];
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    text[n] = '\0';
    assert_non_null(strstr(text, "[warning] a plugin called log() with a NULL format\n"));
    assert_non_null(strstr(text, "[critical] a plugin called log() with a NULL format\n"));
}

/*
 * log() writes one line, whatever the text: a newline or a control byte in
 * it (a client's string a plugin logs, say) is escaped as \xHH, as the
 * server writes what clients send, so that it cannot start a line of its own.
 */
static void
test_log_writes_one_line(void **state)
{
    (void)state;
    char path[64];
    int fd = tc_test_temp_file(path, sizeof(path), "host-api");
    assert_int_equal(tc_log_open(path), TC_OK);
    tc_host_api.log(TC_PLUGIN_LOG_ERROR, "got %s",
                    "a\n[2026-01-01 00:00:00.000 +0000] [1] [info] b\x1b[0m\xff");
    tc_host_api.log(TC_PLUGIN_LOG_ERROR, "caf\xc3\xa9 %d%%", 100);
    assert_int_equal(tc_log_open("-"), TC_OK);
    char text[1024];
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    text[n] = '\0';
    assert_non_null(strstr(text, "] [error] got a\\x0a[2026-01-01 00:00:00.000 +0000] [1] [info] "
                                 "b\\x1b[0m\\xff\n"));
    assert_non_null(strstr(text, "] [error] caf\xc3\xa9 100%\n")); /* UTF-8 stays as it is */
    const char *second = strchr(text, '\n') + 1;
    assert_int_equal(strncmp(second, "[20", 3), 0); /* two lines, each the log's own */
    assert_ptr_equal(strchr(second, '\n'), text + n - 1);
}

static void
test_builder_refuses_null_call(void **state)
{
    (void)state;
    const tc_host_api_t *api = &tc_host_api;
    static const uint8_t uuid[16];
    assert_int_equal(api->put_bool(NULL, 1, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_byte(NULL, 1, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_i16(NULL, 1, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_i32(NULL, 1, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_i64(NULL, 1, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_double(NULL, 1, 1.0), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_binary(NULL, 1, "ab", 2), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_binary(NULL, 1, NULL, 2), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_string(NULL, 1, "ab"), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_string(NULL, 1, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_uuid(NULL, 1, uuid), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_uuid(NULL, 1, NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->begin_struct(NULL, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->begin_list(NULL, 1, 2), TC_PLUGIN_EINVAL);
    assert_int_equal(api->begin_map(NULL, 1, 2), TC_PLUGIN_EINVAL);
    assert_int_equal(api->end(NULL), TC_PLUGIN_EINVAL);
    assert_int_equal(api->raise(NULL, 1), TC_PLUGIN_EINVAL);
}

/* A reply to show() being built, as tc_host_call() sets one up. */
typedef struct reply {
    struct tc_call call;
    tc_buf_t out;
    tc_proto_t p;
} reply_t;

static void
reply_start(reply_t *r, const show_call_t *f, tc_arena_t *a)
{
    memset(&r->call, 0, sizeof(r->call));
    r->call.fn = f->show;
    r->call.plugin_minor = TC_PLUGIN_ABI_MINOR;
    tc_err_clear(&r->call.werr);
    tc_buf_init(&r->out);
    tc_proto_init(&r->p, &tc_proto_binary, NULL, 0, &r->out);
    tc_codec_writer_init(&r->call.w, &r->p, f->show->result, a, &r->call.werr);
}

/*
 * What makes tc_host_call() answer INTERNAL_ERROR with the writer's text:
 * the reply failed with 'want', every later write fails too and keeps it.
 */
static void
reply_check_failed(reply_t *r, const char *want)
{
    assert_true(r->call.w.failed);
    assert_int_not_equal(r->call.werr.code, TC_OK);
    assert_string_equal(r->call.werr.msg, want);
    assert_int_equal(tc_host_api.put_string(&r->call, TC_RESULT, "late"), TC_PLUGIN_ESTATE);
    assert_int_not_equal(tc_codec_finish(&r->call.w), TC_OK);
    assert_string_equal(r->call.werr.msg, want);
    tc_buf_deinit(&r->out);
}

static void
test_builder_refuses_null_data(void **state)
{
    (void)state;
    show_call_t f;
    show_call_init(&f);
    const tc_host_api_t *api = &tc_host_api;
    reply_t r;
    tc_host_api_enter(&r.call, &r.call); /* reply_start() refills it */
    reply_start(&r, &f, &f.a);
    assert_int_equal(api->put_binary(&r.call, 3, NULL, 5), TC_PLUGIN_ESTATE);
    reply_check_failed(&r, "put_binary(3): NULL bytes with length 5");
    reply_start(&r, &f, &f.a);
    assert_int_equal(api->put_string(&r.call, TC_RESULT, NULL), TC_PLUGIN_ESTATE);
    reply_check_failed(&r, "put_string(0): NULL string");
    reply_start(&r, &f, &f.a);
    assert_int_equal(api->put_uuid(&r.call, 7, NULL), TC_PLUGIN_ESTATE);
    reply_check_failed(&r, "put_uuid(7): NULL uuid");
    /* an earlier error stays the one reported */
    reply_start(&r, &f, &f.a);
    assert_int_equal(api->end(&r.call), TC_PLUGIN_ESTATE);
    char first[TC_ERR_MSG_MAX];
    snprintf(first, sizeof(first), "%s", r.call.werr.msg);
    assert_int_equal(api->put_string(&r.call, TC_RESULT, NULL), TC_PLUGIN_ESTATE);
    reply_check_failed(&r, first);

    /* a plugin built before minor 3 gets the empty string put_string(NULL) always sent */
    reply_start(&r, &f, &f.a);
    r.call.plugin_minor = 2;
    assert_int_equal(api->put_string(&r.call, TC_RESULT, NULL), TC_PLUGIN_OK);
    assert_int_equal(tc_codec_finish(&r.call.w), TC_OK);
    assert_false(r.call.w.failed);
    tc_buf_deinit(&r.out);

    /* NULL with length 0 is an empty binary: the reply is fine */
    reply_start(&r, &f, &f.a);
    assert_int_equal(api->put_binary(&r.call, TC_RESULT, NULL, 0), TC_PLUGIN_OK);
    assert_int_equal(tc_codec_finish(&r.call.w), TC_OK);
    assert_false(r.call.w.failed);
    tc_buf_deinit(&r.out);
    tc_host_api_leave();
    show_call_deinit(&f);
}

/* raise() refused: the message says which of its two rules was broken. */
static void
test_raise_refusals_say_why(void **state)
{
    (void)state;
    lua_State *L;
    /* All echo(1: All a) throws (1: Oops oops) */
    show_call_t f = {.show = load_function(&L, "codec_c.thrift", "S")};
    tc_arena_init(&f.a, 0);
    const tc_host_api_t *api = &tc_host_api;
    reply_t r;
    tc_host_api_enter(&r.call, &r.call);

    reply_start(&r, &f, &f.a);
    assert_int_equal(api->raise(&r.call, 2), TC_PLUGIN_ESTATE);
    reply_check_failed(&r, "raise(2): echo declares no exception with that id");
    reply_start(&r, &f, &f.a);
    assert_int_equal(api->begin_struct(&r.call, TC_RESULT), TC_PLUGIN_OK);
    assert_int_equal(api->raise(&r.call, 1), TC_PLUGIN_ESTATE);
    reply_check_failed(&r, "raise(1): a value of the result is still open (end() it first)");
    /* raised where it may be, it is the reply */
    reply_start(&r, &f, &f.a);
    assert_int_equal(api->raise(&r.call, 1), TC_PLUGIN_OK);
    assert_int_equal(api->end(&r.call), TC_PLUGIN_OK);
    assert_int_equal(tc_codec_finish(&r.call.w), TC_OK);
    tc_buf_deinit(&r.out);

    tc_host_api_leave();
    tc_arena_deinit(&f.a);
    lua_close(L);
}

static void
test_headers_refuse_null(void **state)
{
    (void)state;
    const tc_host_api_t *api = &tc_host_api;
    tc_header_t h;
    tc_header_init(&h);
    const char *why;
    assert_int_equal(tc_header_read(&h, kv, sizeof(kv), 1024, &why), TC_OK);
    struct tc_call call;
    memset(&call, 0, sizeof(call));
    call.header = &h;
    tc_host_api_enter(&call, &call);
    const char *k = sentinel_bytes;
    const char *v = sentinel_bytes;
    size_t kl = SENT_INT;
    size_t vl = SENT_INT;
    assert_int_equal(api->request_header(NULL, 0, &k, &kl, &v, &vl), TC_PLUGIN_EINVAL);
    assert_int_equal(api->request_header(&call, 0, NULL, &kl, &v, &vl), TC_PLUGIN_EINVAL);
    assert_int_equal(api->request_header(&call, 0, &k, NULL, &v, &vl), TC_PLUGIN_EINVAL);
    assert_int_equal(api->request_header(&call, 0, &k, &kl, NULL, &vl), TC_PLUGIN_EINVAL);
    assert_int_equal(api->request_header(&call, 0, &k, &kl, &v, NULL), TC_PLUGIN_EINVAL);
    assert_ptr_equal(k, sentinel_bytes);
    assert_ptr_equal(v, sentinel_bytes);
    assert_int_equal(kl, SENT_INT);
    assert_int_equal(vl, SENT_INT);
    assert_int_equal(api->set_response_header(NULL, "k", 1, "v", 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->set_response_header(&call, NULL, 3, "v", 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->set_response_header(&call, "k", 1, NULL, 3), TC_PLUGIN_EINVAL);
    assert_int_equal(h.nreply_info, 0);
    /* NULL with length 0: an empty key or value */
    assert_int_equal(api->set_response_header(&call, "k", 1, NULL, 0), TC_PLUGIN_OK);
    assert_int_equal(api->set_response_header(&call, NULL, 0, "v", 1), TC_PLUGIN_OK);
    assert_int_equal(h.nreply_info, 2);
    /* the pointers are checked before the transport */
    call.header = NULL;
    assert_int_equal(api->request_header(&call, 0, NULL, &kl, &v, &vl), TC_PLUGIN_EINVAL);
    assert_int_equal(api->set_response_header(&call, NULL, 3, "v", 1), TC_PLUGIN_EINVAL);
    tc_host_api_leave();
    tc_header_deinit(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_and_response_headers),
        cmocka_unit_test(test_request_headers_in_any_order),
        cmocka_unit_test(test_readers_see_idl_defaults),
        cmocka_unit_test(test_readers_refuse_null),
        cmocka_unit_test(test_call_functions_refuse_null),
        cmocka_unit_test(test_log_writes_one_line),
        cmocka_unit_test(test_builder_refuses_null_call),
        cmocka_unit_test(test_builder_refuses_null_data),
        cmocka_unit_test(test_raise_refusals_say_why),
        cmocka_unit_test(test_headers_refuse_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
