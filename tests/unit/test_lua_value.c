/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the Lua value codec (bridge/lua_value.c and the decoder and
 * encoder beside it): the Lua memory a message decodes into.
 * Every shape that costs Lua far more than its bytes (tables per byte,
 * duplicates in sets and maps, structs with many slots, defaults copied per
 * value, containers that each claim the rest of the message) is sent at the
 * size limit in binary and compact, and the state's allocator
 * (bridge/lua_alloc.h) must show the decode within its budget:
 * TC_LUA_VALUE_DECODE_FACTOR times the limit plus TC_LUA_VALUE_DECODE_FLOOR
 * (TC_LUA_VALUE_DECODE_INPUT_FACTOR times the input's size for a decode
 * called from Lua).
 * Ordinary values at the limit must still decode. Then what handler code
 * can do wrong to the codec's values: a default changed to hold itself,
 * floats given for integers.
 */
#include "tc_test.h"

#include "bridge/lua_alloc.h"
#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "bridge/lua_value.h"
#include "core/buf.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef TC_FIXTURES_DIR
#error "TC_FIXTURES_DIR must name tests/fixtures"
#endif

/* The size limit of the shapes below (max_message_size, p->max_string). */
#define LIMIT 65536u
#define BUDGET                                                                                     \
    ((uint64_t)LIMIT * TC_LUA_VALUE_DECODE_FACTOR + TC_LUA_VALUE_DECODE_FLOOR) /* 3 MiB */
/* Lua's own growth during a decode that no value holds: its stack, call frames */
#define SLACK 65536u
#define OVER                                                                                       \
    ": decoded values over 3145728 bytes of Lua memory (32 times the size limit, plus 1 MiB)"

static const tc_proto_ops_t *const formats[] = {&tc_proto_binary, &tc_proto_compact};

typedef struct fixture {
    lua_State *L;
    const tc_struct_t *shapes;
    const tc_struct_t *count_args;
} fixture_t;

static const char init_chunk[] = "local m = require('thriftcorn').load(...)\n"
                                 "return m, m.Shapes, m.Budget.by_name.count.args\n";

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    tc_err_t err;
    tc_err_clear(&err);
    f->L = tc_lua_state_new(&err);
    assert_non_null(f->L);
    lua_State *L = f->L;
    if (luaL_loadstring(L, init_chunk) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    lua_pushstring(L, TC_FIXTURES_DIR "/decode_budget.thrift");
    if (lua_pcall(L, 1, 3, 0) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    f->shapes = tc_lua_schema_check_struct(L, -2);
    f->count_args = tc_lua_schema_check_struct(L, -1);
    lua_pop(L, 2);
    lua_setfield(L, LUA_REGISTRYINDEX, "test_module"); /* keeps the schema alive */
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    lua_close(f->L);
    free(f);
    return 0;
}

/* ---- messages ---- */

typedef void (*put_fn)(tc_proto_t *p);

static void
put_empty(tc_proto_t *p)
{
    p->ops->write_struct_begin(p);
    p->ops->write_field_stop(p);
    p->ops->write_struct_end(p);
}

static void
put_zero(tc_proto_t *p)
{
    p->ops->write_i64(p, 0);
}

static void
put_empty_string(tc_proto_t *p)
{
    p->ops->write_binary(p, "", 0);
}

static void
put_string(tc_proto_t *p)
{
    p->ops->write_binary(p, "s", 1);
}

static void
put_empty_pair(tc_proto_t *p)
{
    put_empty_string(p);
    put_empty_string(p);
}

static void
put_empty_structs(tc_proto_t *p)
{
    put_empty(p);
    put_empty(p);
}

static void
put_empty_list(tc_proto_t *p)
{
    p->ops->write_list_begin(p, TC_TTYPE_I32, 0);
}

static void
put_point(tc_proto_t *p)
{
    p->ops->write_struct_begin(p);
    p->ops->write_field_begin(p, TC_TTYPE_I32, 1);
    p->ops->write_i32(p, 1);
    p->ops->write_field_begin(p, TC_TTYPE_I32, 2);
    p->ops->write_i32(p, 2);
    p->ops->write_field_stop(p);
    p->ops->write_struct_end(p);
}

/* One field of Shapes: a container of copies of one element, as many as fit in LIMIT. */
typedef struct shape {
    const char *name; /* the field's name */
    int16_t id;
    uint8_t ttype;          /* TC_TTYPE_LIST, _SET or _MAP */
    uint8_t et;             /* element or key type */
    uint8_t vt;             /* value type of a map */
    put_fn put;             /* one element (a map: key and value) */
    bool dups;              /* the copies are one key: the set or map holds one entry */
    const char *refused[2]; /* binary, compact: the error's path; NULL: it decodes */
    const char *or_refused; /* the path when the budget runs out elsewhere, or NULL */
} shape_t;

#define SHAPES_PATH(field) "decode_budget.Shapes." field
/* name, id, ttype, et, vt, put, dups, refused in binary, in compact, or_refused */
#define SHAPE(n, id, tt, et, vt, put, dups, rb, rc, other)                                         \
    {                                                                                              \
        n, id, tt, et, vt, put, dups, {rb, rc}, other                                              \
    }

static const shape_t shape_list[] = {
    SHAPE("empties", 1, TC_TTYPE_LIST, TC_TTYPE_STRUCT, 0, put_empty, false, SHAPES_PATH("empties"),
          SHAPES_PATH("empties"), NULL),
    SHAPE("choices", 2, TC_TTYPE_LIST, TC_TTYPE_STRUCT, 0, put_empty, false, SHAPES_PATH("choices"),
          SHAPES_PATH("choices"), NULL),
    SHAPE("ids", 3, TC_TTYPE_SET, TC_TTYPE_I64, 0, put_zero, true, NULL, NULL, NULL),
    SHAPE("names", 4, TC_TTYPE_MAP, TC_TTYPE_STRING, TC_TTYPE_STRING, put_empty_pair, true, NULL,
          NULL, NULL),
    SHAPE("lists", 5, TC_TTYPE_LIST, TC_TTYPE_LIST, 0, put_empty_list, false, NULL,
          SHAPES_PATH("lists"), NULL),
    SHAPE("empty_set", 6, TC_TTYPE_SET, TC_TTYPE_STRUCT, 0, put_empty, false,
          SHAPES_PATH("empty_set"), SHAPES_PATH("empty_set"), NULL),
    SHAPE("empty_map", 7, TC_TTYPE_MAP, TC_TTYPE_STRUCT, TC_TTYPE_STRUCT, put_empty_structs, false,
          SHAPES_PATH("empty_map"), SHAPES_PATH("empty_map"), NULL),
    SHAPE("numbers", 8, TC_TTYPE_LIST, TC_TTYPE_I64, 0, put_zero, false, NULL, NULL, NULL),
    SHAPE("points", 9, TC_TTYPE_LIST, TC_TTYPE_STRUCT, 0, put_point, false, NULL, NULL, NULL),
    /* the budget runs out in a copy of the default, or in the struct's own table */
    SHAPE("defaulted", 10, TC_TTYPE_LIST, TC_TTYPE_STRUCT, 0, put_empty, false,
          "decode_budget.Defaulted.d", "decode_budget.Defaulted.d", SHAPES_PATH("defaulted")),
    SHAPE("strings", 11, TC_TTYPE_LIST, TC_TTYPE_STRING, 0, put_string, false, NULL, NULL, NULL),
};

/* The shape of field 'name' of Shapes. */
static const shape_t *
shape_named(const char *name)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(shape_list); i++) {
        if (strcmp(shape_list[i].name, name) == 0) {
            return &shape_list[i];
        }
    }
    fail_msg("no shape %s", name);
    return NULL;
}

/* Bytes of one element in 'ops'. */
static size_t
elem_size(const tc_proto_ops_t *ops, put_fn put)
{
    tc_buf_t b;
    tc_proto_t p;
    tc_buf_init(&b);
    tc_proto_init(&p, ops, NULL, 0, &b);
    put(&p);
    size_t n = b.len;
    tc_buf_deinit(&b);
    return n;
}

static void
container_begin(tc_proto_t *p, uint8_t ttype, uint8_t et, uint8_t vt, uint32_t n)
{
    if (ttype == TC_TTYPE_MAP) {
        p->ops->write_map_begin(p, et, vt, n);
    } else if (ttype == TC_TTYPE_SET) {
        p->ops->write_set_begin(p, et, n);
    } else {
        p->ops->write_list_begin(p, et, n);
    }
}

/* Shapes{s: as many elements as fit in 'size' bytes} into 'b'; returns the count. */
static uint32_t
build_shape(const tc_proto_ops_t *ops, tc_buf_t *b, const shape_t *s, size_t size)
{
    uint32_t n = (uint32_t)((size - 16) / elem_size(ops, s->put));
    tc_proto_t p;
    tc_proto_init(&p, ops, NULL, 0, b);
    ops->write_struct_begin(&p);
    ops->write_field_begin(&p, s->ttype, s->id);
    container_begin(&p, s->ttype, s->et, s->vt, n);
    for (uint32_t i = 0; i < n; i++) {
        s->put(&p);
    }
    ops->write_field_stop(&p);
    ops->write_struct_end(&p);
    assert_true(b->len <= size);
    return n;
}

/*
 * Shapes{choice: Choice{more: [Choice{more: [...]}]}}, 'levels' deep, each
 * list claiming half the message (the protocol allows it: at least that
 * many bytes are left), the innermost one's empty Choices filling the rest;
 * then the message ends, the outer lists short of their claims. With
 * 'map', Choice.named instead: maps of "" to the next level.
 */
static void
build_claims(const tc_proto_ops_t *ops, tc_buf_t *b, bool map, int levels)
{
    size_t pair = map ? elem_size(ops, put_empty_string) + 1 : 1;
    uint32_t claim = (uint32_t)(LIMIT / 2 / pair);
    uint32_t fill = (uint32_t)((LIMIT - 600) / pair);
    tc_proto_t p;
    tc_proto_init(&p, ops, NULL, 0, b);
    ops->write_struct_begin(&p);
    ops->write_field_begin(&p, TC_TTYPE_STRUCT, 12);
    for (int i = 0; i < levels; i++) {
        uint32_t n = i == levels - 1 ? fill : claim;
        ops->write_struct_begin(&p);
        if (map) {
            ops->write_field_begin(&p, TC_TTYPE_MAP, 4);
            ops->write_map_begin(&p, TC_TTYPE_STRING, TC_TTYPE_STRUCT, n);
            put_empty_string(&p);
        } else {
            ops->write_field_begin(&p, TC_TTYPE_LIST, 3);
            ops->write_list_begin(&p, TC_TTYPE_STRUCT, n);
        }
    }
    for (uint32_t i = 0; i < fill; i++) {
        if (map && i > 0) {
            put_empty_string(&p);
        }
        put_empty(&p);
    }
    assert_true(b->len <= LIMIT);
}

/* ---- decoding, measured ---- */

/* What a job decodes with: a struct, the arguments, or a struct budgeted by its input. */
enum { AS_STRUCT, AS_ARGS, AS_INPUT };

typedef struct job {
    tc_proto_t *p;
    const tc_struct_t *st;
    int as;
    tc_err_t err;
    int rc;
} job_t;

/* (job) -> the value (a struct's table, or the arguments) | nothing */
static int
l_decode(lua_State *L)
{
    job_t *j = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (j->as == AS_ARGS) {
        j->rc = tc_lua_value_decode_args(L, j->p, j->st, &j->err);
    } else if (j->as == AS_INPUT) {
        j->rc = tc_lua_value_decode_input(L, j->p, j->st, &j->err);
    } else {
        j->rc = tc_lua_value_decode(L, j->p, j->st, &j->err);
    }
    return j->rc == TC_OK ? lua_gettop(L) : 0;
}

static size_t
in_use(lua_State *L)
{
    tc_lua_alloc_stats_t s;
    tc_lua_alloc_stats(L, &s);
    return s.small_used + s.large_used;
}

/*
 * Decode 'b' as 'st' ('as' says how) with the size limit 'limit', the
 * collector stopped, and return the bytes of Lua memory it took, garbage
 * included: with the collector stopped, all it allocated. Leaves the value
 * (the first argument for AS_ARGS), or nil on failure, on the stack, the
 * collector running again.
 */
static size_t
decode_measured_as(lua_State *L, const tc_proto_ops_t *ops, const tc_struct_t *st, int as,
                   const tc_buf_t *b, uint32_t limit, job_t *j)
{
    tc_proto_t p;
    tc_proto_init(&p, ops, b->data, b->len, NULL);
    p.max_string = limit;
    j->p = &p;
    j->st = st;
    j->as = as;
    j->rc = TC_OK;
    tc_err_clear(&j->err);
    lua_gc(L, LUA_GCCOLLECT);
    lua_gc(L, LUA_GCSTOP);
    size_t before = in_use(L);
    lua_pushcfunction(L, l_decode);
    lua_pushlightuserdata(L, j);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fail_msg("decoding raised: %s", lua_tostring(L, -1));
    }
    size_t used = in_use(L) - before;
    lua_gc(L, LUA_GCRESTART);
    if (j->rc == TC_OK) {
        assert_true(p.rp == p.rend);
    }
    return used;
}

static size_t
decode_measured(lua_State *L, const tc_proto_ops_t *ops, const tc_struct_t *st, bool args,
                const tc_buf_t *b, uint32_t limit, job_t *j)
{
    return decode_measured_as(L, ops, st, args ? AS_ARGS : AS_STRUCT, b, limit, j);
}

/* Entries of the table at 'idx' (lua_next: a set's or map's keys too). */
static size_t
entries(lua_State *L, int idx)
{
    size_t n = 0;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        n++;
    }
    return n;
}

/* Refused for the budget, naming 'path' (or 'other', when not NULL). */
static void
assert_refused2(const job_t *j, const char *path, const char *other)
{
    char want[TC_ERR_MSG_MAX];
    assert_int_equal(j->rc, TC_ELIMIT);
    if (other != NULL) {
        snprintf(want, sizeof(want), "%s%s", other, OVER);
        if (strcmp(j->err.msg, want) == 0) {
            return;
        }
    }
    snprintf(want, sizeof(want), "%s%s", path, OVER);
    assert_string_equal(j->err.msg, want);
}

static void
assert_refused(const job_t *j, const char *path)
{
    assert_refused2(j, path, NULL);
}

/* ---- tests ---- */

/*
 * Each shape at the size limit, in both protocols: within the budget,
 * refused past it naming the field, and the ordinary ones decoded whole
 * (a set or map of duplicates holding one entry).
 */
static void
test_every_shape_within_the_budget(void **state)
{
    fixture_t *f = *state;
    lua_State *L = f->L;
    for (size_t i = 0; i < TC_ARRAY_LEN(shape_list); i++) {
        const shape_t *s = &shape_list[i];
        for (int k = 0; k < 2; k++) {
            tc_buf_t b;
            tc_buf_init(&b);
            uint32_t n = build_shape(formats[k], &b, s, LIMIT);
            job_t j;
            size_t used = decode_measured(L, formats[k], f->shapes, false, &b, LIMIT, &j);
            print_message("%-10s %-7s %6u elements, %7zu bytes: %9zu bytes of Lua (%.1f times)\n",
                          s->name, formats[k]->name, n, b.len, used, (double)used / b.len);
            assert_true(used <= BUDGET + SLACK);
            if (s->refused[k] != NULL) {
                assert_refused2(&j, s->refused[k], s->or_refused);
                lua_pop(L, 1);
            } else {
                assert_int_equal(j.rc, TC_OK);
                lua_getfield(L, -1, s->name);
                assert_int_equal(entries(L, -1), s->dups ? 1 : n);
                lua_pop(L, 2);
            }
            tc_buf_deinit(&b);
        }
    }
}

/*
 * Nested lists (and maps) that each claim half the message: each would be
 * made for its claim before the message turned out short of it. The claims
 * are charged when made, and refused past the budget.
 */
static void
test_nested_claims(void **state)
{
    fixture_t *f = *state;
    lua_State *L = f->L;
    for (int map = 0; map < 2; map++) {
        for (int k = 0; k < 2; k++) {
            tc_buf_t b;
            tc_buf_init(&b);
            build_claims(formats[k], &b, map, 20);
            job_t j;
            size_t used = decode_measured(L, formats[k], f->shapes, false, &b, LIMIT, &j);
            print_message("claims (%s) %-7s %7zu bytes: %9zu bytes of Lua\n",
                          map ? "maps" : "lists", formats[k]->name, b.len, used);
            assert_true(used <= BUDGET + SLACK);
            assert_refused(&j, map ? "decode_budget.Choice.named" : "decode_budget.Choice.more");
            lua_pop(L, 1);
            tc_buf_deinit(&b);
        }
    }
}

/*
 * Handler arguments (decode_args: no table for the arguments) are charged
 * the same; a refusal names the argument, as the server names one (the
 * call, which it prefixes, names the method).
 */
static void
test_arguments(void **state)
{
    fixture_t *f = *state;
    lua_State *L = f->L;
    const shape_t items =
        SHAPE("items", 1, TC_TTYPE_LIST, TC_TTYPE_STRUCT, 0, put_empty, false, NULL, NULL, NULL);
    for (int k = 0; k < 2; k++) {
        tc_buf_t b;
        tc_buf_init(&b);
        build_shape(formats[k], &b, &items, LIMIT);
        job_t j;
        size_t used = decode_measured(L, formats[k], f->count_args, true, &b, LIMIT, &j);
        assert_true(used <= BUDGET + SLACK);
        assert_refused(&j, "items (field 1)");
        lua_pop(L, 1);
        tc_buf_deinit(&b);

        /* 1000 empty structs: about 80 KB of Lua */
        tc_buf_init(&b);
        build_shape(formats[k], &b, &items, 1016);
        decode_measured(L, formats[k], f->count_args, true, &b, LIMIT, &j);
        assert_int_equal(j.rc, TC_OK);
        assert_int_equal(lua_rawlen(L, -1), 1000);
        lua_pop(L, 1);
        tc_buf_deinit(&b);
    }
}

/*
 * A call that leaves out an argument declared required
 * (tests/fixtures/required_args.thrift: put(1: note, 2: required key, 3:
 * pair)) is refused naming the argument, as the C codec names it; a
 * required field missing in a struct argument names that struct's field.
 * One whose id came with another wire type, skipped, is missing too, and
 * the text says what it came as.
 */
static void
test_required_argument_missing(void **state)
{
    fixture_t *f = *state;
    lua_State *L = f->L;
    if (luaL_loadstring(L, "return require('thriftcorn').load(...).Keyed.by_name.put.args") !=
        LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    lua_pushstring(L, TC_FIXTURES_DIR "/required_args.thrift");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    const tc_struct_t *args = tc_lua_schema_check_struct(L, -1); /* kept on the stack */
    for (int k = 0; k < 2; k++) {
        const tc_proto_ops_t *ops = formats[k];
        static const char *const want[] = {
            "key (field 2): required field is missing",
            "required_args.Pair.left: required field is missing",
            "key (field 2): required field is missing: sent as string, the IDL has i32",
            "required_args.Pair.left: required field is missing: sent as i64, the IDL has i32",
        };
        for (int c = 0; c < 4; c++) {
            bool pair = c % 2 == 1;
            bool mistyped = c >= 2; /* the field's id sent with another wire type: skipped */
            tc_buf_t b;
            tc_buf_init(&b);
            tc_proto_t w;
            tc_proto_init(&w, ops, NULL, 0, &b);
            w.ops->write_struct_begin(&w);
            w.ops->write_field_begin(&w, TC_TTYPE_STRING, 1);
            w.ops->write_binary(&w, "n", 1);
            if (!pair && mistyped) {
                w.ops->write_field_begin(&w, TC_TTYPE_STRING, 2);
                w.ops->write_binary(&w, "7", 1);
            }
            if (pair) { /* key given, and a Pair without its required 'left' */
                w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
                w.ops->write_i32(&w, 7);
                w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 3);
                w.ops->write_struct_begin(&w);
                if (mistyped) {
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
            job_t j;
            decode_measured(L, ops, args, true, &b, LIMIT, &j);
            assert_int_equal(j.rc, TC_EMISSING);
            assert_string_equal(j.err.msg, want[c]);
            lua_pop(L, 1);
            tc_buf_deinit(&b);
        }
    }
    lua_pop(L, 1);
}

/*
 * The budget is one decode's: two values of over half of it each decode in
 * a row, the first kept. A small size limit leaves the floor: 16 points
 * take more than 32 times 16 bytes.
 */
static void
test_each_decode_has_its_budget(void **state)
{
    fixture_t *f = *state;
    lua_State *L = f->L;
    const shape_t *points = shape_named("points");
    tc_buf_t b;
    tc_buf_init(&b);
    /* compact: 5 bytes a point, 128 of Lua (a table, two Nodes, an array slot): 1.6 MiB */
    uint32_t n = build_shape(&tc_proto_compact, &b, points, LIMIT);
    job_t j;
    for (int i = 0; i < 2; i++) {
        size_t used = decode_measured(L, &tc_proto_compact, f->shapes, false, &b, LIMIT, &j);
        assert_int_equal(j.rc, TC_OK);
        assert_true(used > BUDGET / 2 && used <= BUDGET);
    }
    lua_getfield(L, -1, "points");
    assert_int_equal(lua_rawlen(L, -1), n);
    lua_getfield(L, -3, "points");
    assert_int_equal(lua_rawlen(L, -1), n);
    lua_pop(L, 4);
    tc_buf_deinit(&b);

    for (int k = 0; k < 2; k++) {
        tc_buf_init(&b);
        n = build_shape(formats[k], &b, points, 16 * elem_size(formats[k], put_point) + 16);
        assert_int_equal(n, 16);
        size_t used = decode_measured(L, formats[k], f->shapes, false, &b, 16, &j);
        assert_int_equal(j.rc, TC_OK);
        assert_true(used > 16 * TC_LUA_VALUE_DECODE_FACTOR);
        lua_pop(L, 1);
        tc_buf_deinit(&b);
    }
}

/*
 * A decode called from Lua has no size limit that bounds anything (2^31 - 1):
 * its budget is 1024 times its input plus 1 MiB instead. 16 KB of empty
 * Defaulted structs, each one byte given a copy of its 32-integer default
 * (charged about 1,200 bytes a copy, which the budget counts), are refused
 * there within that budget, whatever the size limit, and still decode at
 * the largest size limit's budget, which the server's path keeps.
 */
static void
test_a_decode_from_lua_is_budgeted_by_its_input(void **state)
{
    fixture_t *f = *state;
    lua_State *L = f->L;
    const shape_t *defaulted = shape_named("defaulted");
    static const uint32_t limits[] = {LIMIT, UINT32_MAX >> 1};
    for (int k = 0; k < 2; k++) {
        tc_buf_t b;
        tc_buf_init(&b);
        uint32_t n = build_shape(formats[k], &b, defaulted, 16384);
        uint64_t budget =
            (uint64_t)b.len * TC_LUA_VALUE_DECODE_INPUT_FACTOR + TC_LUA_VALUE_DECODE_FLOOR;
        char want[TC_ERR_MSG_MAX];
        snprintf(want, sizeof(want),
                 "decode_budget.Defaulted.d: decoded values over %llu bytes of Lua memory "
                 "(1024 times the %zu bytes of input, plus 1 MiB)",
                 (unsigned long long)budget, b.len);
        job_t j;
        for (size_t i = 0; i < TC_ARRAY_LEN(limits); i++) {
            size_t used = decode_measured_as(L, formats[k], f->shapes, AS_INPUT, &b, limits[i], &j);
            assert_true(used <= budget + SLACK);
            assert_int_equal(j.rc, TC_ELIMIT);
            assert_string_equal(j.err.msg, want);
            lua_pop(L, 1);
        }
        (void)decode_measured(L, formats[k], f->shapes, false, &b, limits[1], &j);
        assert_int_equal(j.rc, TC_OK);
        lua_getfield(L, -1, "defaulted");
        assert_int_equal(lua_rawlen(L, -1), n);
        lua_pop(L, 2);
        tc_buf_deinit(&b);
    }
}

/* The struct 'name' of the fixture's module, pushed, and its descriptor. */
static const tc_struct_t *
push_struct(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "test_module");
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    return tc_lua_schema_check_struct(L, -1);
}

/* Run 'chunk' with the fixture's module as its argument; leaves its one result. */
static void
run_chunk(lua_State *L, const char *chunk)
{
    if (luaL_loadstring(L, chunk) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "test_module");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
}

/*
 * A default is copied into each value that lacks its field, and the copy is
 * charged: a default that handler code made to hold one table many times
 * over (2^60 paths through 60 tables), or itself twice, is refused once
 * the copy outgrows the budget, within it. Before, the whole copy was made
 * first, and took for ever. The default as the IDL has it decodes again.
 */
static void
test_a_default_holding_itself_is_refused_within_the_budget(void **state)
{
    fixture_t *f = *state;
    lua_State *L = f->L;
    static const char *const changes[] = {
        "local x = {}\n"
        "for _ = 1, 60 do x = { x, x } end\n"
        "d[1] = x\n",
        "d[1] = d\n"
        "d[2] = d\n",
    };
    const tc_struct_t *defaulted = push_struct(L, "Defaulted");
    lua_pop(L, 1);
    tc_buf_t b;
    tc_buf_init(&b);
    tc_proto_t p;
    tc_proto_init(&p, &tc_proto_binary, NULL, 0, &b);
    put_empty(&p);
    job_t j;
    for (size_t i = 0; i < TC_ARRAY_LEN(changes); i++) {
        char chunk[512];
        snprintf(chunk, sizeof(chunk),
                 "local d = (...).Defaulted.fields[1].default\n"
                 "local saved = table.move(d, 1, #d, 1, {})\n"
                 "%s"
                 "return function() table.move(saved, 1, #saved, 1, d) end\n",
                 changes[i]);
        run_chunk(L, chunk);
        size_t used = decode_measured(L, &tc_proto_binary, defaulted, false, &b, LIMIT, &j);
        assert_true(used <= BUDGET + SLACK);
        assert_refused(&j, "decode_budget.Defaulted.d");
        lua_pop(L, 1);
        if (lua_pcall(L, 0, 0, 0) != LUA_OK) { /* the default as it was */
            fail_msg("%s", lua_tostring(L, -1));
        }
        decode_measured(L, &tc_proto_binary, defaulted, false, &b, LIMIT, &j);
        assert_int_equal(j.rc, TC_OK);
        lua_getfield(L, -1, "d");
        assert_int_equal(lua_rawlen(L, -1), 32);
        lua_pop(L, 2);
    }
    tc_buf_deinit(&b);
}

/*
 * A float for an integer field: one with a fraction is no integer, and one
 * with none past 2^63 (which no Lua integer holds) is out of range, not
 * "not an integer" as before; either written as Lua's tostring() writes
 * it, not cut to 6 digits ("%g" made 123456.5 "123456").
 */
static void
test_floats_for_integers_say_why_they_do_not_fit(void **state)
{
    fixture_t *f = *state;
    lua_State *L = f->L;
    static const struct {
        const char *value;
        const char *why;
    } cases[] = {
        {"2^63", "expected an integer (i64), got 9.2233720368548e+18 (out of range)"},
        {"-2^64", "expected an integer (i64), got -1.844674407371e+19 (out of range)"},
        {"123456.5", "expected an integer (i64), got 123456.5 (not an integer)"},
        {"math.huge", "expected an integer (i64), got inf (not an integer)"},
    };
    const tc_struct_t *choice = push_struct(L, "Choice");
    lua_pop(L, 1);
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        char chunk[128];
        snprintf(chunk, sizeof(chunk), "return { number = %s }", cases[i].value);
        run_chunk(L, chunk);
        tc_buf_t b;
        tc_buf_init(&b);
        tc_proto_t p;
        tc_proto_init(&p, &tc_proto_binary, NULL, 0, &b);
        tc_err_t err;
        tc_err_clear(&err);
        assert_int_equal(tc_lua_value_encode(L, -1, &p, choice, &err), TC_ETYPE);
        char want[TC_ERR_MSG_MAX];
        snprintf(want, sizeof(want), "decode_budget.Choice.number: %s", cases[i].why);
        assert_string_equal(err.msg, want);
        lua_pop(L, 1);
        tc_buf_deinit(&b);
    }
    /* an integral float within the range is taken */
    run_chunk(L, "return { number = -2^63 }");
    tc_buf_t b;
    tc_buf_init(&b);
    tc_proto_t p;
    tc_proto_init(&p, &tc_proto_binary, NULL, 0, &b);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_lua_value_encode(L, -1, &p, choice, &err), TC_OK);
    lua_pop(L, 1);
    tc_buf_deinit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shape_within_the_budget),
        cmocka_unit_test(test_nested_claims),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_required_argument_missing),
        cmocka_unit_test(test_each_decode_has_its_budget),
        cmocka_unit_test(test_a_decode_from_lua_is_budgeted_by_its_input),
        cmocka_unit_test(test_a_default_holding_itself_is_refused_within_the_budget),
        cmocka_unit_test(test_floats_for_integers_say_why_they_do_not_fit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
