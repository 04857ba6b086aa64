/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for bridge/lua_state.c: the protected call and its error text. */
#include "tc_test.h"

#include "bridge/lua_state.h"

#include <lauxlib.h>
#include <string.h>

/* The error text tc_lua_pcall() gives for running 'code', up to its traceback. */
static void
assert_error(lua_State *L, const char *code, const char *want)
{
    assert_int_equal(luaL_loadstring(L, code), LUA_OK);
    tc_err_t err;
    tc_err_clear(&err);
    int top = lua_gettop(L);
    assert_int_equal(tc_lua_pcall(L, 0, 0, &err), TC_EINVAL);
    assert_int_equal(lua_gettop(L), top - 1); /* the function is gone, nothing left */
    const char *tb = strstr(err.msg, "\nstack traceback:");
    size_t len = tb != NULL ? (size_t)(tb - err.msg) : strlen(err.msg);
    if (len != strlen(want) || memcmp(err.msg, want, len) != 0) {
        fail_msg("%s: got '%s', want '%s'", code, err.msg, want);
    }
}

/*
 * Whatever was raised, the text says what: an object's __tostring runs
 * protected, so one that raises is named as such, not reported in place of
 * the error.
 */
static void
test_error_objects(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    lua_State *L = tc_lua_state_new(&err);
    assert_non_null(L);
    assert_error(L, "error('plain', 0)", "plain");
    assert_error(L, "error(42)", "42");
    assert_error(L, "error({})", "(error object is a table value)");
    assert_error(L, "error()", "(error object is a nil value)");
    assert_error(L, "error(setmetatable({}, {__tostring = function() return 'mine' end}))", "mine");
    assert_error(L, "error(setmetatable({}, {__tostring = function() error('broke', 0) end}))",
                 "(error object is a table value whose tostring raised: broke)");
    assert_error(L, "error(setmetatable({}, {__tostring = function() return {} end}))",
                 "(error object is a table value whose tostring raised: '__tostring' must "
                 "return a string)");
    assert_error(L, "error(setmetatable({}, {__tostring = 'no function'}))",
                 "(error object is a table value whose tostring raised: attempt to call a "
                 "string value)");
    lua_close(L);
}

/*
 * A NUL in what was raised (a hook's or the config's error) shows as \0:
 * the text and the traceback after it are kept, not cut at the NUL.
 */
static void
test_error_with_nul(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    lua_State *L = tc_lua_state_new(&err);
    assert_non_null(L);
    assert_error(L, "error('a\\0b', 0)", "a\\0b");
    assert_int_equal(luaL_loadstring(L, "local function f() error('x\\0y') end f()"), LUA_OK);
    assert_int_equal(tc_lua_pcall(L, 0, 0, &err), TC_EINVAL);
    assert_non_null(strstr(err.msg, ": x\\0y\nstack traceback:\n"));
    lua_close(L);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_objects),
        cmocka_unit_test(test_error_with_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
