/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema/codec.c: the reply writer's IDL checks, and writer -> decoder
 * round trips of every kind over both protocols, with strings decoded in
 * place (tests/fixtures/codec_c.thrift).
 */
#include "tc_test.h"

#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "core/buf.h"
#include "schema/codec.h"

#include <lauxlib.h>

static lua_State *L;
static const tc_function_t *echo; /* All echo(1: All a) throws (1: Oops oops) */

static int
setup(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    L = tc_lua_state_new(&err);
    assert_non_null(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "load");
    lua_pushliteral(L, TC_FIXTURES_DIR "/codec_c.thrift");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "S");
    const tc_service_t *svc = tc_lua_schema_to_service(L, -1);
    assert_non_null(svc);
    echo = svc->functions[0];
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    lua_close(L);
    return 0;
}

typedef struct fixture {
    tc_buf_t out;
    tc_proto_t p;
    tc_arena_t arena;
    tc_err_t err;
    tc_codec_writer_t w;
} fixture_t;

static void
start(fixture_t *f, const tc_proto_ops_t *ops)
{
    tc_buf_init(&f->out);
    tc_proto_init(&f->p, ops, NULL, 0, &f->out);
    tc_arena_init(&f->arena, 0);
    tc_err_clear(&f->err);
    tc_codec_writer_init(&f->w, &f->p, echo->result, &f->arena, &f->err);
}

static void
stop(fixture_t *f)
{
    tc_buf_deinit(&f->out);
    tc_arena_deinit(&f->arena);
}

static tc_value_t
i32v(int32_t v)
{
    tc_value_t x = {.kind = TC_VAL_I32, .u.i = v};
    return x;
}

static tc_value_t
strv(const char *s)
{
    tc_value_t x = {.kind = TC_VAL_STRING, .u.bin = {s, strlen(s)}};
    return x;
}

static void
put(fixture_t *f, int16_t id, tc_value_t v)
{
    assert_int_equal(tc_codec_put(&f->w, id, &v), TC_OK);
}

static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* The success value: an All with every field set. */
static void
write_all(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    put(f, 1, (tc_value_t){.kind = TC_VAL_BOOL, .u.i = 1});
    put(f, 2, (tc_value_t){.kind = TC_VAL_BYTE, .u.i = -7});
    put(f, 3, (tc_value_t){.kind = TC_VAL_I16, .u.i = 300});
    put(f, 4, i32v(-70000));
    put(f, 5, (tc_value_t){.kind = TC_VAL_I64, .u.i = INT64_MIN});
    put(f, 6, (tc_value_t){.kind = TC_VAL_DOUBLE, .u.d = 2.5});
    put(f, 7, strv("hello"));
    put(f, 8, (tc_value_t){.kind = TC_VAL_BINARY, .u.bin = {"\0\1\2", 3}});
    put(f, 9, (tc_value_t){.kind = TC_VAL_UUID, .u.uuid = uuid});
    put(f, 10, i32v(2)); /* an enum takes an i32 */
    assert_int_equal(tc_codec_begin(&f->w, 11, TC_VAL_LIST, 3), TC_OK);
    put(f, 0, i32v(1));
    put(f, 0, i32v(2));
    put(f, 0, i32v(3));
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 12, TC_VAL_LIST, 1), TC_OK); /* a set */
    put(f, 0, strv("s"));
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 13, TC_VAL_MAP, 1), TC_OK);
    put(f, 0, strv("k"));
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    put(f, 1, i32v(5));
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 14, TC_VAL_STRUCT, 0), TC_OK);
    put(f, 1, i32v(10));
    put(f, 2, i32v(20));
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 15, TC_VAL_STRUCT, 0), TC_OK);
    put(f, 2, strv("union"));
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 16, TC_VAL_LIST, 2), TC_OK);
    put(f, 0, (tc_value_t){.kind = TC_VAL_BOOL, .u.i = 0});
    put(f, 0, (tc_value_t){.kind = TC_VAL_BOOL, .u.i = 1});
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_equal(tc_codec_finish(&f->w), TC_OK);
}

static void
check_all(const tc_view_t *all, const tc_buf_t *in)
{
    const tc_value_t *v = tc_codec_view_get(all, 1);
    assert_int_equal(v->kind, TC_VAL_BOOL);
    assert_int_equal(v->u.i, 1);
    assert_int_equal(tc_codec_view_get(all, 2)->u.i, -7);
    assert_int_equal(tc_codec_view_get(all, 3)->u.i, 300);
    assert_int_equal(tc_codec_view_get(all, 4)->u.i, -70000);
    assert_true(tc_codec_view_get(all, 5)->u.i == INT64_MIN);
    assert_true(tc_codec_view_get(all, 6)->u.d == 2.5);
    v = tc_codec_view_get(all, 7);
    assert_int_equal(v->kind, TC_VAL_STRING);
    assert_int_equal(v->u.bin.len, 5);
    assert_memory_equal(v->u.bin.ptr, "hello", 5);
    /* zero-copy: the string is in the input bytes */
    const uint8_t *p = v->u.bin.ptr;
    assert_true(p >= in->data && p + 5 <= in->data + in->len);
    v = tc_codec_view_get(all, 8);
    assert_int_equal(v->kind, TC_VAL_BINARY);
    assert_memory_equal(v->u.bin.ptr, "\0\1\2", 3);
    assert_memory_equal(tc_codec_view_get(all, 9)->u.uuid, uuid, 16);
    v = tc_codec_view_get(all, 10);
    assert_int_equal(v->kind, TC_VAL_ENUM);
    assert_int_equal(v->u.i, 2);
    const tc_seq_t *s = tc_codec_view_get(all, 11)->u.seq;
    assert_int_equal(s->n, 3);
    assert_int_equal(s->items[2].u.i, 3);
    s = tc_codec_view_get(all, 12)->u.seq;
    assert_int_equal(s->n, 1);
    assert_int_equal(s->items[0].kind, TC_VAL_STRING);
    s = tc_codec_view_get(all, 13)->u.seq;
    assert_int_equal(s->n, 1);
    assert_memory_equal(s->items[0].u.bin.ptr, "k", 1);
    assert_int_equal(s->items[1].kind, TC_VAL_STRUCT);
    assert_int_equal(tc_codec_view_get(s->items[1].u.view, 1)->u.i, 5);
    assert_int_equal(tc_codec_view_get(s->items[1].u.view, 2)->kind, TC_VAL_UNSET);
    const tc_view_t *pt = tc_codec_view_get(all, 14)->u.view;
    assert_int_equal(tc_codec_view_get(pt, 2)->u.i, 20);
    const tc_view_t *un = tc_codec_view_get(all, 15)->u.view;
    assert_int_equal(tc_codec_view_get(un, 1)->kind, TC_VAL_UNSET);
    assert_int_equal(tc_codec_view_get(un, 2)->u.bin.len, 5);
    s = tc_codec_view_get(all, 16)->u.seq;
    assert_int_equal(s->items[0].u.i, 0);
    assert_int_equal(s->items[1].u.i, 1);
    assert_null(tc_codec_view_get(all, 99));
}

static void
round_trip(const tc_proto_ops_t *ops)
{
    fixture_t f;
    start(&f, ops);
    write_all(&f);
    tc_proto_t r;
    tc_proto_init(&r, ops, f.out.data, f.out.len, NULL);
    tc_arena_t a;
    tc_arena_init(&a, 0);
    const tc_view_t *res;
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_codec_decode(&r, echo->result, &a, &res, &err), TC_OK);
    assert_int_equal(tc_proto_left(&r), 0);
    const tc_value_t *success = tc_codec_view_get(res, 0);
    assert_int_equal(success->kind, TC_VAL_STRUCT);
    check_all(success->u.view, &f.out);
    assert_int_equal(tc_codec_view_get(res, 1)->kind, TC_VAL_UNSET);

    /* every truncation of the bytes is an error, never a crash */
    for (size_t cut = 0; cut < f.out.len; cut++) {
        tc_proto_init(&r, ops, f.out.data, cut, NULL);
        tc_err_clear(&err);
        assert_int_not_equal(tc_codec_decode(&r, echo->result, &a, &res, &err), TC_OK);
        tc_arena_reset(&a);
    }
    tc_arena_deinit(&a);
    stop(&f);
}

static void
test_round_trip_binary(void **state)
{
    (void)state;
    round_trip(&tc_proto_binary);
}

static void
test_round_trip_compact(void **state)
{
    (void)state;
    round_trip(&tc_proto_compact);
}

/* Each case writes something the IDL refuses; 'want' is in the message. */
static void
refused(void (*body)(fixture_t *), const char *want)
{
    fixture_t f;
    start(&f, &tc_proto_compact);
    body(&f);
    assert_int_not_equal(tc_codec_finish(&f.w), TC_OK);
    if (strstr(f.err.msg, want) == NULL) {
        fail_msg("'%s' lacks '%s'", f.err.msg, want);
    }
    stop(&f);
}

static void
wrong_kind(fixture_t *f)
{
    tc_value_t v = strv("x");
    assert_int_not_equal(tc_codec_put(&f->w, 0, &v), TC_OK); /* result is a struct */
}

static void
unknown_id(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    tc_value_t v = i32v(1);
    assert_int_not_equal(tc_codec_put(&f->w, 77, &v), TC_OK);
}

static void
count_mismatch(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 11, TC_VAL_LIST, 2), TC_OK);
    tc_value_t v = i32v(1);
    assert_int_equal(tc_codec_put(&f->w, 0, &v), TC_OK);
    assert_int_not_equal(tc_codec_end(&f->w), TC_OK);
}

static void
too_many(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 11, TC_VAL_LIST, 0), TC_OK);
    tc_value_t v = i32v(1);
    assert_int_not_equal(tc_codec_put(&f->w, 0, &v), TC_OK);
}

static void
required_missing(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 14, TC_VAL_STRUCT, 0), TC_OK);
    tc_value_t v = i32v(2);
    assert_int_equal(tc_codec_put(&f->w, 2, &v), TC_OK);
    assert_int_not_equal(tc_codec_end(&f->w), TC_OK);
}

static void
union_two(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 15, TC_VAL_STRUCT, 0), TC_OK);
    tc_value_t v = i32v(2);
    assert_int_equal(tc_codec_put(&f->w, 1, &v), TC_OK);
    v = strv("s");
    assert_int_not_equal(tc_codec_put(&f->w, 2, &v), TC_OK);
}

static void
twice(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    tc_value_t v = i32v(2);
    assert_int_equal(tc_codec_put(&f->w, 4, &v), TC_OK);
    assert_int_not_equal(tc_codec_put(&f->w, 4, &v), TC_OK);
}

/* map<string, Point> at 13, list<i32> at 11: each slot checks its own type */
static void
map_key_kind(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 13, TC_VAL_MAP, 2), TC_OK);
    put(f, 0, strv("k"));
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_put_i32(&f->w, 1, 5), TC_OK);
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_not_equal(tc_codec_put_i32(&f->w, 0, 1), TC_OK);
}

static void
map_value_kind(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 13, TC_VAL_MAP, 1), TC_OK);
    put(f, 0, strv("k"));
    assert_int_not_equal(tc_codec_put_binary(&f->w, 0, "v", 1), TC_OK);
}

static void
element_kind(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_begin(&f->w, 11, TC_VAL_LIST, 2), TC_OK);
    assert_int_equal(tc_codec_put_i32(&f->w, 0, 1), TC_OK);
    assert_int_not_equal(tc_codec_put_i64(&f->w, 0, 2), TC_OK);
}

static void
typed_field_kind(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_put_binary(&f->w, 7, "s", 1), TC_OK); /* a string takes binary */
    assert_int_not_equal(tc_codec_put_double(&f->w, 5, 1.5), TC_OK);
}

static void
result_and_exception(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_end(&f->w), TC_OK);
    assert_int_not_equal(tc_codec_begin(&f->w, 1, TC_VAL_STRUCT, 0), TC_OK);
}

static void
unfinished(fixture_t *f)
{
    assert_int_equal(tc_codec_begin(&f->w, 0, TC_VAL_STRUCT, 0), TC_OK);
}

static void
test_writer_refusals(void **state)
{
    (void)state;
    refused(wrong_kind, "field 'success' is struct, not string");
    refused(unknown_id, "no field with id 77");
    refused(count_mismatch, "2 elements declared, 1 written");
    refused(too_many, "more than the 0 elements declared");
    refused(required_missing, "required field 'x' is not set");
    refused(union_two, "a union holds at most one field");
    refused(twice, "field 'i' written twice");
    refused(map_key_kind, "map key 1 is string, not i32");
    refused(map_value_kind, "map value 0 is struct, not binary");
    refused(element_kind, "element 1 is i32, not i64");
    refused(typed_field_kind, "field 'l' is i64, not double");
    refused(result_and_exception, "a reply holds one value");
    refused(unfinished, "begun and not ended");
}

/*
 * Into an output whose bound is below the reply (tc_buf_set_max(), as the
 * dispatcher bounds it to the frame): a put past it is dropped, the next
 * begin() fails saying why and so does every later call; with no begin()
 * after the refusal, finish() does. The output never grows past the bound.
 */
static void
test_output_bound(void **state)
{
    (void)state;
    static char big[4096];
    fixture_t f;
    start(&f, &tc_proto_compact);
    tc_buf_set_max(&f.out, 200);
    assert_int_equal(tc_codec_begin(&f.w, 0, TC_VAL_STRUCT, 0), TC_OK);
    put(&f, 7, (tc_value_t){.kind = TC_VAL_STRING, .u.bin = {big, sizeof(big)}});
    assert_true(tc_buf_refused(&f.out));
    assert_true(f.out.cap <= 200);
    assert_int_not_equal(tc_codec_begin(&f.w, 14, TC_VAL_STRUCT, 0), TC_OK);
    assert_string_equal(f.err.msg, "reply: too large for its frame");
    tc_value_t v = i32v(1);
    assert_int_not_equal(tc_codec_put(&f.w, 4, &v), TC_OK);
    assert_int_not_equal(tc_codec_end(&f.w), TC_OK);
    assert_int_not_equal(tc_codec_finish(&f.w), TC_OK);
    assert_string_equal(f.err.msg, "reply: too large for its frame");
    stop(&f);

    start(&f, &tc_proto_binary);
    tc_buf_set_max(&f.out, 100);
    assert_int_equal(tc_codec_begin(&f.w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_int_equal(tc_codec_begin(&f.w, 11, TC_VAL_LIST, 100), TC_OK);
    for (int i = 0; i < 100; i++) {
        put(&f, 0, i32v(i)); /* 400 bytes: those past the bound dropped */
    }
    assert_int_equal(tc_codec_end(&f.w), TC_OK);
    assert_int_equal(tc_codec_end(&f.w), TC_OK);
    assert_true(f.out.cap <= 100);
    assert_int_not_equal(tc_codec_finish(&f.w), TC_OK);
    assert_string_equal(f.err.msg, "reply: too large for its frame");
    stop(&f);
}

/* A oneway method's writer (no protocol): whatever is begun or put, the same refusal. */
static void
test_oneway_writer(void **state)
{
    (void)state;
    tc_arena_t a;
    tc_arena_init(&a, 0);
    tc_err_t err;
    tc_err_clear(&err);
    tc_codec_writer_t w;
    tc_codec_writer_init(&w, NULL, echo->result, &a, &err);
    assert_int_not_equal(tc_codec_begin(&w, 0, TC_VAL_STRUCT, 0), TC_OK);
    assert_non_null(strstr(err.msg, "a oneway method sends no reply"));
    tc_err_clear(&err);
    tc_codec_writer_init(&w, NULL, echo->result, &a, &err);
    tc_value_t v = {.kind = TC_VAL_I32};
    assert_int_not_equal(tc_codec_put(&w, 0, &v), TC_OK);
    assert_non_null(strstr(err.msg, "a oneway method sends no reply"));
    tc_arena_deinit(&a);
}

static void
test_exception(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, &tc_proto_binary);
    assert_int_equal(tc_codec_begin(&f.w, 1, TC_VAL_STRUCT, 0), TC_OK);
    put(&f, 1, strv("why"));
    assert_int_equal(tc_codec_end(&f.w), TC_OK);
    assert_int_equal(tc_codec_finish(&f.w), TC_OK);
    assert_true(f.w.top_set);
    assert_int_equal(f.w.top_id, 1);
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_binary, f.out.data, f.out.len, NULL);
    const tc_view_t *res;
    assert_int_equal(tc_codec_decode(&r, echo->result, &f.arena, &res, &f.err), TC_OK);
    const tc_view_t *ex = tc_codec_view_get(res, 1)->u.view;
    assert_memory_equal(tc_codec_view_get(ex, 1)->u.bin.ptr, "why", 3);
    stop(&f);
}

/* Wire input the decoder must refuse or skip. */
static void
test_decode_input(void **state)
{
    (void)state;
    tc_buf_t b;
    tc_buf_init(&b);
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, &b);
    /* Point: unknown field 9 and a wrong wire type for y are skipped; x is there */
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_STRING, 9);
    w.ops->write_binary(&w, "zz", 2);
    w.ops->write_field_begin(&w, TC_TTYPE_STRING, 2);
    w.ops->write_binary(&w, "no", 2);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
    w.ops->write_i32(&w, 4);
    w.ops->write_field_stop(&w);
    const tc_field_t *pf = tc_schema_field_by_id(echo->args, 1); /* a: All */
    const tc_struct_t *point = tc_schema_field_by_id(pf->type.st, 14)->type.st;
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_binary, b.data, b.len, NULL);
    tc_arena_t a;
    tc_arena_init(&a, 0);
    tc_err_t err;
    tc_err_clear(&err);
    const tc_view_t *v;
    assert_int_equal(tc_codec_decode(&r, point, &a, &v, &err), TC_OK);
    assert_int_equal(tc_codec_view_get(v, 1)->u.i, 4);
    assert_int_equal(tc_codec_view_get(v, 2)->kind, TC_VAL_UNSET);

    /* a field sent again (y, then x, then y): its last value; out of IDL order too */
    b.len = 0;
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
    w.ops->write_i32(&w, 5);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
    w.ops->write_i32(&w, 6);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
    w.ops->write_i32(&w, 7);
    w.ops->write_field_stop(&w);
    tc_proto_init(&r, &tc_proto_binary, b.data, b.len, NULL);
    assert_int_equal(tc_codec_decode(&r, point, &a, &v, &err), TC_OK);
    assert_int_equal(tc_codec_view_get(v, 1)->u.i, 6);
    assert_int_equal(tc_codec_view_get(v, 2)->u.i, 7);

    /* a Point without its required x */
    b.len = 0;
    w.ops->write_struct_begin(&w);
    w.ops->write_field_stop(&w);
    tc_proto_init(&r, &tc_proto_binary, b.data, b.len, NULL);
    assert_int_equal(tc_codec_decode(&r, point, &a, &v, &err), TC_EMISSING);
    assert_non_null(strstr(err.msg, "Point.x: required field is missing"));

    /* list<i32> sent as list<string> */
    b.len = 0;
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_LIST, 11);
    w.ops->write_list_begin(&w, TC_TTYPE_STRING, 1);
    w.ops->write_binary(&w, "x", 1);
    w.ops->write_field_stop(&w);
    tc_proto_init(&r, &tc_proto_binary, b.data, b.len, NULL);
    tc_err_clear(&err);
    assert_int_equal(tc_codec_decode(&r, pf->type.st, &a, &v, &err), TC_EPROTO);

    /* nesting over max_depth */
    tc_proto_init(&r, &tc_proto_binary, b.data, b.len, NULL);
    r.max_depth = 0;
    tc_err_clear(&err);
    assert_int_equal(tc_codec_decode(&r, pf->type.st, &a, &v, &err), TC_ELIMIT);
    tc_arena_deinit(&a);
    tc_buf_deinit(&b);
}

/* Decode 'b' as an All, which must fail with 'code' and the message 'msg'. */
static void
decode_fails(const tc_buf_t *b, const tc_proto_ops_t *ops, int code, const char *msg)
{
    const tc_struct_t *all = tc_schema_field_by_id(echo->args, 1)->type.st;
    tc_proto_t r;
    tc_proto_init(&r, ops, b->data, b->len, NULL);
    tc_arena_t a;
    tc_arena_init(&a, 0);
    tc_err_t err;
    tc_err_clear(&err);
    const tc_view_t *v;
    assert_int_equal(tc_codec_decode(&r, all, &a, &v, &err), code);
    assert_string_equal(err.msg, msg);
    tc_arena_deinit(&a);
}

/*
 * A refused argument names the innermost struct and field, and the types
 * that differ, as the Lua decoder says it: the PROTOCOL_ERROR a client
 * gets reads the same whether a plugin or Lua serves the method.
 */
static void
test_decode_errors_name_the_field(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        const tc_proto_ops_t *ops = i == 0 ? &tc_proto_binary : &tc_proto_compact;
        tc_buf_t b;
        tc_buf_init(&b);
        tc_proto_t w;
        tc_proto_init(&w, ops, NULL, 0, &b);

        /* map<string, Point> sent as map<string, i32>: the value type differs */
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_MAP, 13);
        w.ops->write_map_begin(&w, TC_TTYPE_STRING, TC_TTYPE_I32, 1);
        w.ops->write_binary(&w, "k", 1);
        w.ops->write_i32(&w, 1);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
        decode_fails(&b, ops, TC_EPROTO,
                     "codec_c.All.mp: map<string,i32> where the IDL has map<string,struct>");

        /* set<string> sent as set<i32> */
        b.len = 0;
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_SET, 12);
        w.ops->write_set_begin(&w, TC_TTYPE_I32, 1);
        w.ops->write_i32(&w, 1);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
        decode_fails(&b, ops, TC_EPROTO, "codec_c.All.ss: set of i32 where the IDL has string");

        /* list<i32> sent as list<i64> */
        b.len = 0;
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_LIST, 11);
        w.ops->write_list_begin(&w, TC_TTYPE_I64, 1);
        w.ops->write_i64(&w, 1);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
        decode_fails(&b, ops, TC_EPROTO, "codec_c.All.li: list of i64 where the IDL has i32");

        /* a string cut short in a struct in a map: the innermost field is named */
        b.len = 0;
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_STRING, 7);
        w.ops->write_binary(&w, "ok", 2);
        w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 14);
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
        w.ops->write_i32(&w, 1);
        w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
        decode_fails(&b, ops, TC_EPROTO, "codec_c.Point.y: message truncated");
        w.ops->write_i32(&w, 2);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_STRING, 7);
        decode_fails(&b, ops, TC_EPROTO, "codec_c.All.str: message truncated");

        /* nested deeper than max_depth: the field whose value is one level too many */
        b.len = 0;
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 14);
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
        w.ops->write_i32(&w, 1);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
        const tc_struct_t *all = tc_schema_field_by_id(echo->args, 1)->type.st;
        tc_proto_t r;
        tc_proto_init(&r, ops, b.data, b.len, NULL);
        r.max_depth = 1;
        tc_arena_t a;
        tc_arena_init(&a, 0);
        tc_err_t err;
        tc_err_clear(&err);
        const tc_view_t *v;
        assert_int_equal(tc_codec_decode(&r, all, &a, &v, &err), TC_ELIMIT);
        assert_string_equal(err.msg, "codec_c.All.p: nesting deeper than 1");
        tc_arena_deinit(&a);

        /* the same in a field being skipped: unknown (id 99), or known with another type (i: i32)
         */
        static const int16_t skipped_ids[] = {99, 4};
        for (size_t k = 0; k < TC_ARRAY_LEN(skipped_ids); k++) {
            int16_t id = skipped_ids[k];
            b.len = 0;
            w.ops->write_struct_begin(&w);
            w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, id);
            w.ops->write_struct_begin(&w);
            w.ops->write_field_stop(&w);
            w.ops->write_struct_end(&w);
            w.ops->write_field_stop(&w);
            w.ops->write_struct_end(&w);
            tc_proto_init(&r, ops, b.data, b.len, NULL);
            r.max_depth = 1;
            tc_arena_init(&a, 0);
            tc_err_clear(&err);
            assert_int_equal(tc_codec_decode(&r, all, &a, &v, &err), TC_ELIMIT);
            const tc_field_t *known = tc_schema_field_by_id(all, id);
            char want[TC_ERR_MSG_MAX];
            if (known == NULL) {
                (void)snprintf(want, sizeof(want),
                               "codec_c.All field %d (not in the IDL): nesting deeper than 1", id);
            } else {
                assert_int_not_equal(known->type.ttype, TC_TTYPE_STRUCT);
                (void)snprintf(want, sizeof(want),
                               "codec_c.All.%s, sent as struct: nesting deeper than 1",
                               known->name);
            }
            assert_string_equal(err.msg, want);
            tc_arena_deinit(&a);
        }

        /* a missing required field names itself once, not its parent too */
        b.len = 0;
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 14);
        w.ops->write_struct_begin(&w);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
        decode_fails(&b, ops, TC_EMISSING, "codec_c.Point.x: required field is missing");
        tc_buf_deinit(&b);
    }
}

/*
 * put(note, key, pair) of tests/fixtures/required_args.thrift in 'ops':
 * its required i32 argument 'key' with wire type 'key' (TC_TTYPE_STOP:
 * left out), and a Pair whose required i32 'left' has wire type 'left'
 * (TC_TTYPE_STOP: left out; TC_TTYPE_VOID: no Pair at all).
 */
static void
write_put(tc_buf_t *b, const tc_proto_ops_t *ops, uint8_t key, uint8_t left)
{
    b->len = 0;
    tc_proto_t w;
    tc_proto_init(&w, ops, NULL, 0, b);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_STRING, 1);
    w.ops->write_binary(&w, "n", 1);
    if (key == TC_TTYPE_I32) {
        w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
        w.ops->write_i32(&w, 7);
    } else if (key == TC_TTYPE_STRING) { /* a client of an IDL where 'key' is a string */
        w.ops->write_field_begin(&w, TC_TTYPE_STRING, 2);
        w.ops->write_binary(&w, "7", 1);
    }
    if (left != TC_TTYPE_VOID) {
        w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 3);
        w.ops->write_struct_begin(&w);
        if (left == TC_TTYPE_I64) {
            w.ops->write_field_begin(&w, TC_TTYPE_I64, 1);
            w.ops->write_i64(&w, 1);
        }
        w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
        w.ops->write_i32(&w, 1);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
    }
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
}

/*
 * A call that leaves out an argument declared required is refused naming
 * the argument by name and field id, as tc_codec_decode_args() names any
 * argument (the caller names the method); a required field missing in a
 * struct argument names that struct's field. One whose id came with
 * another wire type (skipped, as Apache skips it) is missing too, and the
 * text says what it came as. Both protocols.
 */
static void
test_required_argument_missing(void **state)
{
    (void)state;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "load");
    lua_pushliteral(L, TC_FIXTURES_DIR "/required_args.thrift");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "Keyed");
    const tc_service_t *svc = tc_lua_schema_to_service(L, -1);
    assert_non_null(svc);
    const tc_struct_t *args = svc->functions[0]->args;
    static const struct {
        uint8_t key;
        uint8_t left;
        int code;
        const char *want;
    } cases[] = {
        {TC_TTYPE_STOP, TC_TTYPE_VOID, TC_EMISSING, "key (field 2): required field is missing"},
        {TC_TTYPE_STRING, TC_TTYPE_VOID, TC_EMISSING,
         "key (field 2): required field is missing: sent as string, the IDL has i32"},
        {TC_TTYPE_I32, TC_TTYPE_STOP, TC_EMISSING,
         "required_args.Pair.left: required field is missing"},
        {TC_TTYPE_I32, TC_TTYPE_I64, TC_EMISSING,
         "required_args.Pair.left: required field is missing: sent as i64, the IDL has i32"},
        {TC_TTYPE_I32, TC_TTYPE_VOID, TC_OK, ""},
    };
    for (int k = 0; k < 2; k++) {
        const tc_proto_ops_t *ops = k == 0 ? &tc_proto_binary : &tc_proto_compact;
        for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
            tc_buf_t b;
            tc_buf_init(&b);
            write_put(&b, ops, cases[i].key, cases[i].left);
            tc_proto_t r;
            tc_proto_init(&r, ops, b.data, b.len, NULL);
            tc_arena_t a;
            tc_arena_init(&a, 0);
            tc_err_t err;
            tc_err_clear(&err);
            const tc_view_t *v;
            assert_int_equal(tc_codec_decode_args(&r, args, &a, &v, &err), cases[i].code);
            assert_string_equal(err.msg, cases[i].want);
            if (cases[i].code == TC_OK) {
                assert_int_equal(tc_codec_view_get(v, 2)->u.i, 7);
            }
            tc_arena_deinit(&a);
            tc_buf_deinit(&b);
        }
    }
    lua_pop(L, 3); /* the service, the module, thriftcorn: the schema stays with the state */
}

/*
 * The one choice both decoders make of how an error names a field: a
 * call's argument by name and field id, any other field as Struct.field;
 * the error is located only when set.
 */
static void
test_field_named_in_errors(void **state)
{
    (void)state;
    const tc_struct_t *args = echo->args;
    const tc_field_t *arg = tc_schema_field_by_id(args, 1);
    const tc_struct_t *all = arg->type.st;
    const tc_field_t *y = tc_schema_field_by_id(all, 2);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_codec_err_missing(&err, args, arg, args, TC_TTYPE_STOP), TC_EMISSING);
    assert_string_equal(err.msg, "a (field 1): required field is missing");
    tc_err_clear(&err);
    assert_int_equal(tc_codec_err_missing(&err, all, y, args, TC_TTYPE_STOP), TC_EMISSING);
    assert_string_equal(err.msg, "codec_c.All.y: required field is missing");
    tc_err_clear(&err);
    assert_int_equal(tc_codec_err_missing(&err, all, y, args, TC_TTYPE_LIST), TC_EMISSING);
    assert_string_equal(err.msg,
                        "codec_c.All.y: required field is missing: sent as list, the IDL has byte");

    tc_err_clear(&err);
    tc_codec_err_locate(&err, args, arg, args); /* nothing to locate */
    assert_int_equal(err.code, TC_OK);
    assert_string_equal(err.msg, "");
    tc_codec_err_locate(NULL, args, arg, args);
    (void)tc_err_set(&err, TC_EPROTO, "message truncated");
    tc_codec_err_locate(&err, args, arg, args);
    assert_string_equal(err.msg, "a (field 1): message truncated");
    tc_err_clear(&err);
    (void)tc_err_set(&err, TC_EPROTO, "message truncated");
    tc_codec_err_locate(&err, all, y, NULL);
    assert_string_equal(err.msg, "codec_c.All.y: message truncated");
}

/*
 * What a request costs to hold stays in proportion to its bytes: 10,000
 * empty structs of 17 fields (one byte each on the wire) take a view and a
 * list slot each, not a slot per field (400 bytes each before).
 */
static void
test_decode_memory_in_proportion(void **state)
{
    (void)state;
    const tc_struct_t *all = tc_schema_field_by_id(echo->args, 1)->type.st;
    enum { N = 10000 };
    tc_buf_t b;
    tc_buf_init(&b);
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_compact, NULL, 0, &b);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_LIST, 17);
    w.ops->write_list_begin(&w, TC_TTYPE_STRUCT, N);
    for (int i = 0; i < N; i++) {
        w.ops->write_struct_begin(&w);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
    }
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_compact, b.data, b.len, NULL);
    tc_arena_t a;
    tc_arena_init(&a, 0);
    tc_err_t err;
    tc_err_clear(&err);
    const tc_view_t *v;
    assert_int_equal(tc_codec_decode(&r, all, &a, &v, &err), TC_OK);
    assert_int_equal(tc_codec_view_get(v, 17)->u.seq->n, N);
    assert_true(a.total < 64 * b.len);
    tc_arena_deinit(&a);
    tc_buf_deinit(&b);
}

/*
 * Lists nested 20 deep that each claim 50,000 elements, more than the rest
 * of the message holds once the next level is in it, but each within the
 * bytes left when read: each level would reserve its claim (24 bytes an
 * element, 24 MB in all for a message of 60 KB). The decode stops at its
 * budget, 32 times the size limit plus 1 MiB, and names it; what the arena
 * took stays under it.
 */
static void
test_decode_budget_stops_nested_claims(void **state)
{
    (void)state;
    const tc_struct_t *all = tc_schema_field_by_id(echo->args, 1)->type.st;
    enum { LEVELS = 20, CLAIM = 50000, FILL = 60000, LIMIT = 65536 };
    tc_buf_t b;
    tc_buf_init(&b);
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_compact, NULL, 0, &b);
    for (int i = 0; i < LEVELS; i++) {
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_LIST, 17);
        w.ops->write_list_begin(&w, TC_TTYPE_STRUCT, i == LEVELS - 1 ? FILL : CLAIM);
    }
    for (int i = 0; i < FILL; i++) {
        w.ops->write_struct_begin(&w);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
    }
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_compact, b.data, b.len, NULL);
    r.max_string = LIMIT;
    tc_arena_t a;
    tc_arena_init(&a, 0);
    tc_err_t err;
    tc_err_clear(&err);
    const tc_view_t *v;
    assert_int_equal(tc_codec_decode(&r, all, &a, &v, &err), TC_ELIMIT);
    assert_non_null(strstr(err.msg, "codec_c.All.many: decoded values over 3145728 bytes of "
                                    "memory (32 times the size limit, plus 1 MiB)"));
    assert_true(a.total <= 32 * LIMIT + (1 << 20) + 65536); /* the budget and one chunk */
    tc_arena_deinit(&a);
    tc_buf_deinit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_binary),
        cmocka_unit_test(test_round_trip_compact),
        cmocka_unit_test(test_writer_refusals),
        cmocka_unit_test(test_output_bound),
        cmocka_unit_test(test_exception),
        cmocka_unit_test(test_decode_input),
        cmocka_unit_test(test_decode_errors_name_the_field),
        cmocka_unit_test(test_required_argument_missing),
        cmocka_unit_test(test_field_named_in_errors),
        cmocka_unit_test(test_oneway_writer),
        cmocka_unit_test(test_decode_memory_in_proportion),
        cmocka_unit_test(test_decode_budget_stops_nested_claims),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
