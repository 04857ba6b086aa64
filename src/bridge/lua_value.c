/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema-driven codec between Thrift bytes and Lua values, its shared
 * parts: the registries of what the Lua module made for each struct, class
 * names, and the messages for a Lua value of the wrong type (cold paths, out
 * of the walks). The walks are lua_value_decode.c and lua_value_encode.c;
 * what the three share is lua_value_internal.h.
 */
#include "bridge/lua_value.h"

#include "bridge/lua_value_internal.h"

#include <math.h>

const char tc_lua_value_mt_key = 'm';
const char tc_lua_value_defaults_key = 'd';
const char tc_lua_value_names_key = 'n';

void
tc_lua_weak_registry(lua_State *L, const char *key, const char *mode)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) {
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

void
tc_lua_value_registry(lua_State *L, const char *key)
{
    /* keys are light userdata (descriptors); the values are owned by the module's tables */
    tc_lua_weak_registry(L, key, "v");
}

void
tc_lua_value_codec_push(lua_State *L, tc_lua_codec_t *k)
{
    tc_lua_value_registry(L, &tc_lua_value_mt_key);
    k->mts = lua_gettop(L);
    tc_lua_value_registry(L, &tc_lua_value_defaults_key);
    k->defs = lua_gettop(L);
    tc_lua_value_registry(L, &tc_lua_value_names_key);
    k->names = lua_gettop(L);
}

/* ---- class names ---- */

const char *
tc_lua_value_class_name(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE) {
        return NULL;
    }
    lua_pushliteral(L, "_c");
    int t = lua_rawget(L, idx);
    lua_pop(L, 1);
    if (t != LUA_TLIGHTUSERDATA) {
        return NULL;
    }
    lua_pushliteral(L, "fullname");
    if (lua_rawget(L, idx) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushliteral(L, "?");
    }
    return lua_tostring(L, -1);
}

/*
 * The table at 'idx', given for a value of 'st', has a metatable that is not
 * the struct's: a struct class (mod.Work, which thriftcorn.load() compiled,
 * so it holds its descriptor under '_c') is refused, as its own keys
 * ('name', 'kind', 'fullname', 'doc', ...) would be written as the fields of
 * those names. Any other table passes. Returns TC_OK or TC_ETYPE.
 */
int
tc_lua_value_check_class(ctx_t *c, int idx, const tc_struct_t *st)
{
    lua_State *L = c->L;
    const char *name = tc_lua_value_class_name(L, idx);
    if (name == NULL) {
        return TC_OK;
    }
    int rc = tc_err_set(c->err, TC_ETYPE,
                        "expected a table (%s), got the class %s, not a value of it (make one "
                        "with %s{...})",
                        st->name, name, name);
    lua_pop(L, 1);
    return rc;
}

/* ---- type errors ---- */

static const char *const kind_names[] = {
    [TC_KIND_BOOL] = "a boolean",       [TC_KIND_BYTE] = "an integer (byte)",
    [TC_KIND_I16] = "an integer (i16)", [TC_KIND_I32] = "an integer (i32)",
    [TC_KIND_I64] = "an integer (i64)", [TC_KIND_DOUBLE] = "a number (double)",
    [TC_KIND_STRING] = "a string",      [TC_KIND_BINARY] = "a string (binary)",
    [TC_KIND_UUID] = "a uuid string",   [TC_KIND_ENUM] = "an integer (enum)",
    [TC_KIND_LIST] = "a table (list)",  [TC_KIND_SET] = "a table (set)",
    [TC_KIND_MAP] = "a table (map)",    [TC_KIND_STRUCT] = "a table (struct)",
};

int
tc_lua_value_type_error(ctx_t *c, int idx, const tc_type_t *t)
{
    lua_State *L = c->L;
    const char *got = luaL_typename(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        got = lua_isinteger(L, idx) ? "integer" : "float";
    }
    if (t->kind == TC_KIND_STRUCT) {
        return tc_err_set(c->err, TC_ETYPE, "expected a table (%s), got %s", t->st->name, got);
    }
    return tc_err_set(c->err, TC_ETYPE, "expected %s, got %s", kind_names[t->kind], got);
}

/* Why the value at 'idx' is not an integer of 't' in [lo, hi] ('v' read when 'isnum'). */
int
tc_lua_value_integer_error(ctx_t *c, int idx, int lt, const tc_type_t *t, int isnum, lua_Integer v)
{
    if (lt != LUA_TNUMBER) {
        return tc_lua_value_type_error(c, idx, t);
    }
    if (!isnum) {
        double d = (double)lua_tonumber(c->L, idx);
        if (d != d) { /* "%g" writes a NaN as "-nan" or "nan" after its sign bit */
            return tc_err_set(c->err, TC_ETYPE, "expected %s, got nan", kind_names[t->kind]);
        }
        /*
         * as Lua's tostring() writes a float ("%.14g"), not cut to "%g"'s 6
         * digits; one without a fraction is past what a Lua integer holds
         * (2^63 and beyond), not "not an integer"
         */
        return tc_err_set(c->err, TC_ETYPE, "expected %s, got %.14g (%s)", kind_names[t->kind], d,
                          isfinite(d) && d == floor(d) ? "out of range" : "not an integer");
    }
    return tc_err_set(c->err, TC_ETYPE, "%lld is out of range for %s", (long long)v,
                      kind_names[t->kind]);
}
