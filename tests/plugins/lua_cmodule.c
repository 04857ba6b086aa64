/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tc_cmodule: a Lua C module as Debian builds them, with no liblua
 * dependency: every Lua API function it calls is found in the process
 * that loads it. A handler requires it (test_lua_api.py), so it shows that
 * the server exports the Lua API, from a static link too: lauxlib's buffer
 * and argument checks, userdata with a metatable, a call back into Lua,
 * and errors raised from C.
 */
#include <lauxlib.h>
#include <lua.h>

#define COUNTER "tc_cmodule.counter"

/* what require() calls: exported, the build hiding everything else */
__attribute__((visibility("default"))) int luaopen_tc_cmodule(lua_State *L);

/* join(sep, ...): the arguments' text joined by 'sep', through a luaL_Buffer */
static int
join(lua_State *L)
{
    size_t seplen;
    const char *sep = luaL_checklstring(L, 1, &seplen);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= n; i++) {
        if (i > 2) {
            luaL_addlstring(&b, sep, seplen);
        }
        (void)luaL_tolstring(L, i, NULL); /* the text of any value, through __tostring */
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return 1;
}

/* fold(f, init, ...): f(f(init, a1), a2) ..., calling Lua from C */
static int
fold(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int n = lua_gettop(L);
    lua_pushvalue(L, 2);
    for (int i = 3; i <= n; i++) {
        lua_pushvalue(L, 1);
        lua_insert(L, -2);
        lua_pushvalue(L, i);
        lua_call(L, 2, 1);
    }
    return 1;
}

/* counter(start): a userdata whose :add(k) adds k and returns the total */
static int
counter(lua_State *L)
{
    lua_Integer start = luaL_checkinteger(L, 1);
    lua_Integer *c = lua_newuserdatauv(L, sizeof(*c), 0);
    *c = start;
    luaL_setmetatable(L, COUNTER);
    return 1;
}

static int
counter_add(lua_State *L)
{
    lua_Integer *c = luaL_checkudata(L, 1, COUNTER);
    *c += luaL_checkinteger(L, 2);
    lua_pushinteger(L, *c);
    return 1;
}

/* fail(what): raises "tc_cmodule: <what>" with lua_pushfstring's formatting */
static int
fail(lua_State *L)
{
    return luaL_error(L, "tc_cmodule: %s (%d)", luaL_checkstring(L, 1), 42);
}

int
luaopen_tc_cmodule(lua_State *L)
{
    static const luaL_Reg methods[] = {{"add", counter_add}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {
        {"join", join}, {"fold", fold}, {"counter", counter}, {"fail", fail}, {NULL, NULL}};
    if (luaL_newmetatable(L, COUNTER)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    lua_pushstring(L, LUA_VERSION);
    lua_setfield(L, -2, "built_for");
    return 1;
}
