/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the schema-driven Lua codec (bridge/lua_value_decode.c
 * and lua_value_encode.c): one Lua state with the alltypes fixture IDL
 * loaded, made on the first input. The first byte picks a struct of that
 * IDL; the rest is decoded as that struct in binary and in compact. A value
 * that decodes is encoded again (in both protocols), decoded again, and
 * must equal the first value.
 * The same bytes decoded as handler arguments (tc_lua_value_decode_args, one
 * stack slot per field) must give the same status and the same fields.
 * Accepted: the rest is exactly one struct in at least one protocol.
 */
#include "fuzz.h"

#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "bridge/lua_value.h"
#include "core/buf.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#ifndef TC_FIXTURES_DIR
#error "TC_FIXTURES_DIR must name tests/fixtures"
#endif

int tc_fuzz_verdict;

/* The structs an input may pick: plain, recursive, unions, defaults, args and results. */
static const char init_chunk[] =
    "local m = require('thriftcorn').load(...)\n"
    "local f = m.AllTypes.by_name\n"
    "return m, {m.Everything, m.AllBase, m.Containers, m.Value, m.Tree, m.Defaults,\n"
    "  m.Requiredness, m.Point, m.Failure, f.echo.args, f.evaluate.args,\n"
    "  f.evaluate.result, f.add.result}\n";

#define NSTRUCTS 13

static lua_State *L;
static const tc_struct_t *structs[NSTRUCTS];
static tc_buf_t out; /* reused across inputs (never freed, still reachable) */

static const tc_proto_ops_t *const formats[] = {&tc_proto_binary, &tc_proto_compact};

/* ---- setup ---- */

static int
l_init(lua_State *S)
{
    if (luaL_loadstring(S, init_chunk) != LUA_OK) {
        return lua_error(S);
    }
    lua_pushstring(S, TC_FIXTURES_DIR "/idl/alltypes.thrift");
    lua_call(S, 1, 2);
    TC_FUZZ_CHECK(lua_rawlen(S, -1) == NSTRUCTS, "init_chunk lists %u structs",
                  (unsigned)lua_rawlen(S, -1));
    for (int i = 0; i < NSTRUCTS; i++) {
        lua_rawgeti(S, -1, i + 1);
        structs[i] = tc_lua_schema_check_struct(S, -1);
        lua_pop(S, 1);
    }
    lua_pop(S, 1);
    /* the module keeps the compiled schema alive */
    lua_setfield(S, LUA_REGISTRYINDEX, "tc_fuzz_module");
    return 0;
}

static void
init(void)
{
    tc_err_t err;
    tc_err_clear(&err);
    L = tc_lua_state_new(&err);
    TC_FUZZ_CHECK(L != NULL, "tc_lua_state_new: %s", err.msg);
    lua_pushcfunction(L, l_init);
    TC_FUZZ_CHECK(tc_lua_pcall(L, 0, 0, &err) == TC_OK, "loading alltypes.thrift: %s", err.msg);
}

/* ---- protected codec calls ---- */

typedef struct job {
    tc_proto_t *p;
    const tc_struct_t *st;
    tc_err_t err;
    int rc;
} job_t;

/* (job) -> value | nil */
static int
l_decode(lua_State *S)
{
    job_t *j = lua_touserdata(S, 1);
    j->rc = tc_lua_value_decode(S, j->p, j->st, &j->err);
    return j->rc == TC_OK ? 1 : 0;
}

/* (job) -> one value per field | nothing */
static int
l_decode_args(lua_State *S)
{
    job_t *j = lua_touserdata(S, 1);
    int top = lua_gettop(S);
    j->rc = tc_lua_value_decode_args(S, j->p, j->st, &j->err);
    return j->rc == TC_OK ? lua_gettop(S) - top : 0;
}

/* (job, value) */
static int
l_encode(lua_State *S)
{
    job_t *j = lua_touserdata(S, 1);
    j->rc = tc_lua_value_encode(S, 2, j->p, j->st, &j->err);
    return 0;
}

/* Decode [data, data+size) as 'st' and push the value (nil on failure); returns the status. */
static int
decode(const tc_proto_ops_t *ops, const tc_struct_t *st, const uint8_t *data, size_t size,
       size_t *used)
{
    tc_proto_t p;
    tc_proto_init(&p, ops, data, size, NULL);
    job_t j = {.p = &p, .st = st, .rc = TC_EINVAL};
    tc_err_clear(&j.err);
    int top = lua_gettop(L);
    lua_pushcfunction(L, l_decode);
    lua_pushlightuserdata(L, &j);
    int rc = lua_pcall(L, 1, 1, 0);
    TC_FUZZ_CHECK(rc == LUA_OK, "decode raised: %s", lua_tostring(L, -1));
    TC_FUZZ_CHECK(lua_gettop(L) == top + 1, "decode left %d values", lua_gettop(L) - top);
    TC_FUZZ_CHECK(p.depth == 0, "decode left depth %u", p.depth);
    TC_FUZZ_CHECK(p.rp >= data && p.rp <= data + size, "decode left the input");
    TC_FUZZ_CHECK(j.rc == TC_OK || j.rc == TC_EPROTO || j.rc == TC_ELIMIT || j.rc == TC_EMISSING,
                  "decode returned %d: %s", j.rc, j.err.msg);
    TC_FUZZ_CHECK((j.rc == TC_OK) == lua_istable(L, -1), "decode result and status disagree");
    TC_FUZZ_CHECK(j.rc == TC_OK || j.err.code == j.rc, "decode failed without a message");
    *used = (size_t)(p.rp - data);
    return j.rc;
}

/* Encode the value at the top of the stack into 'out'; returns the status. */
static int
encode(const tc_proto_ops_t *ops, const tc_struct_t *st, tc_err_t *err)
{
    tc_proto_t p;
    out.len = 0;
    tc_proto_init(&p, ops, NULL, 0, &out);
    job_t j = {.p = &p, .st = st, .rc = TC_EINVAL};
    tc_err_clear(&j.err);
    int top = lua_gettop(L);
    lua_pushcfunction(L, l_encode);
    lua_pushlightuserdata(L, &j);
    lua_pushvalue(L, top);
    int rc = lua_pcall(L, 2, 0, 0);
    TC_FUZZ_CHECK(rc == LUA_OK, "encode raised: %s", lua_tostring(L, -1));
    TC_FUZZ_CHECK(lua_gettop(L) == top, "encode changed the stack");
    TC_FUZZ_CHECK(p.depth == 0, "encode left depth %u", p.depth);
    *err = j.err;
    return j.rc;
}

/* ---- equality ---- */

static int same(int a, int b, int depth);

/* Is there a key in table 'b' equal to the key at 'k' (a table key: searched)? Pushes its value. */
static int
find_key(int b, int k, int depth)
{
    if (lua_type(L, k) != LUA_TTABLE) {
        lua_pushvalue(L, k);
        return lua_rawget(L, b) != LUA_TNIL;
    }
    lua_pushnil(L);
    while (lua_next(L, b) != 0) {
        if (same(k, lua_gettop(L) - 1, depth + 1)) {
            lua_remove(L, -2);
            return 1;
        }
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    return 0;
}

/* Deep equality of decoded values: NaN equals NaN, metatables must match. */
static int
same(int a, int b, int depth)
{
    a = lua_absindex(L, a);
    b = lua_absindex(L, b);
    int ta = lua_type(L, a);
    if (ta != lua_type(L, b)) {
        return 0;
    }
    if (ta == LUA_TNUMBER) {
        if (lua_isinteger(L, a) != lua_isinteger(L, b)) {
            return 0;
        }
        if (!lua_isinteger(L, a) && isnan(lua_tonumber(L, a))) {
            return isnan(lua_tonumber(L, b));
        }
        return lua_rawequal(L, a, b);
    }
    if (ta != LUA_TTABLE) {
        return lua_rawequal(L, a, b);
    }
    TC_FUZZ_CHECK(depth < 2 * TC_PROTO_DEPTH_MAX, "values nested deeper than the codec allows");
    luaL_checkstack(L, 8, "fuzz_decode: compare");
    int ma = lua_getmetatable(L, a);
    int mb = lua_getmetatable(L, b);
    int eq = ma == mb && (!ma || lua_rawequal(L, -1, -2));
    lua_pop(L, ma + mb);
    size_t na = 0;
    size_t nb = 0;
    lua_pushnil(L);
    while (eq && lua_next(L, a) != 0) {
        na++;
        eq = find_key(b, lua_gettop(L) - 1, depth) && same(-2, -1, depth + 1);
        lua_pop(L, eq ? 2 : 3);
    }
    lua_pushnil(L);
    while (eq && lua_next(L, b) != 0) {
        nb++;
        lua_pop(L, 1);
    }
    return eq && na == nb;
}

/* ---- one input ---- */

/*
 * Decode as arguments: the status of decode() ('rc', 'used' bytes), and
 * when it succeeded, field i of the table at 'tbl' in slot i. Unions with
 * defaults are left out: a union takes its default only when no member was
 * read, an argument list takes each default.
 */
static void
same_as_args(const tc_proto_ops_t *ops, const tc_struct_t *st, const uint8_t *data, size_t size,
             int rc, size_t used, int tbl)
{
    if (st->kind == TC_STRUCT_UNION && st->has_defaults) {
        return;
    }
    tc_proto_t p;
    tc_proto_init(&p, ops, data, size, NULL);
    job_t j = {.p = &p, .st = st, .rc = TC_EINVAL};
    tc_err_clear(&j.err);
    int top = lua_gettop(L);
    lua_pushcfunction(L, l_decode_args);
    lua_pushlightuserdata(L, &j);
    TC_FUZZ_CHECK(lua_pcall(L, 1, LUA_MULTRET, 0) == LUA_OK, "decode_args raised: %s",
                  lua_tostring(L, -1));
    TC_FUZZ_CHECK(j.rc == rc, "%s: %s decode_args gives %d, decode %d (%s)", st->name, ops->name,
                  j.rc, rc, j.err.msg);
    TC_FUZZ_CHECK(p.depth == 0, "decode_args left depth %u", p.depth);
    if (rc != TC_OK) {
        TC_FUZZ_CHECK(lua_gettop(L) == top, "decode_args failed and left values");
        return;
    }
    TC_FUZZ_CHECK((size_t)(p.rp - data) == used, "%s: decode_args ends elsewhere", st->name);
    TC_FUZZ_CHECK(lua_gettop(L) == top + st->nfields, "decode_args pushed %d values for %u fields",
                  lua_gettop(L) - top, st->nfields);
    for (uint16_t i = 0; i < st->nfields; i++) {
        lua_getfield(L, tbl, st->fields[i].name);
        TC_FUZZ_CHECK(same(-1, top + 1 + i, 0), "%s.%s: decode_args and decode differ", st->name,
                      st->fields[i].name);
        lua_pop(L, 1);
    }
    lua_settop(L, top);
}

/*
 * The value at the top was decoded with 'from'. Encoded with 'to' and
 * decoded again it must be the same value, and encoding that gives as many
 * bytes (maps and sets may come out in another order, never another size).
 */
static void
round_trip(const tc_proto_ops_t *from, const tc_proto_ops_t *to, const tc_struct_t *st)
{
    tc_err_t err;
    int rc = encode(to, st, &err);
    if (rc == TC_ETYPE && strstr(err.msg, "more than one field set") != NULL) {
        return; /* a union with two fields decodes (Apache too) but cannot be written */
    }
    TC_FUZZ_CHECK(rc == TC_OK, "%s: a value decoded from %s does not encode in %s: %s", st->name,
                  from->name, to->name, err.msg);
    size_t n = out.len;
    uint8_t *bytes = malloc(n > 0 ? n : 1);
    TC_FUZZ_CHECK(bytes != NULL, "out of memory");
    memcpy(bytes, out.data, n);
    size_t used = 0;
    rc = decode(to, st, bytes, n, &used);
    TC_FUZZ_CHECK(rc == TC_OK && used == n, "%s: %s bytes it wrote do not decode (%d)", st->name,
                  to->name, rc);
    TC_FUZZ_CHECK(same(-2, -1, 0), "%s: %s -> %s -> value differs", st->name, from->name, to->name);
    rc = encode(to, st, &err);
    TC_FUZZ_CHECK(rc == TC_OK && out.len == n, "%s: %s re-encodes to %zu bytes, not %zu", st->name,
                  to->name, out.len, n);
    lua_pop(L, 1);
    free(bytes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_fuzz_verdict = 0;
    if (L == NULL) {
        init();
    }
    if (size < 1) {
        return 0;
    }
    const tc_struct_t *st = structs[data[0] % NSTRUCTS];
    int top = lua_gettop(L);
    for (size_t f = 0; f < TC_ARRAY_LEN(formats); f++) {
        size_t used = 0;
        int rc = decode(formats[f], st, data + 1, size - 1, &used);
        same_as_args(formats[f], st, data + 1, size - 1, rc, used, lua_gettop(L));
        if (rc == TC_OK) {
            tc_fuzz_verdict |= used == size - 1;
            round_trip(formats[f], formats[0], st);
            round_trip(formats[f], formats[1], st);
        }
        lua_settop(L, top);
    }
    return 0;
}
