/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for bridge/lua_alloc.c: Lua states whose memory comes from a pool of their own. */
#include "tc_test.h"

#include "bridge/lua_alloc.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static lua_State *
new_state(void)
{
    lua_State *L = tc_lua_alloc_newstate();
    assert_non_null(L);
    luaL_openlibs(L);
    return L;
}

static void
run(lua_State *L, const char *code)
{
    if (luaL_dostring(L, code) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
}

/*
 * Objects of every size class and beyond, arrays that grow from a small
 * block through every class into malloc'd ones, strings of 0 to 600 bytes:
 * what they hold must come back unchanged.
 */
static void
test_values_survive_every_size(void **state)
{
    (void)state;
    lua_State *L = new_state();
    run(L, "local t, s = {}, {}\n"
           "for i = 1, 20000 do t[i] = i * 3 end\n"
           "for n = 0, 600 do s[#s + 1] = string.rep(string.char(65 + n % 26), n) end\n"
           "local h = {}\n"
           "for i = 1, 5000 do h['k' .. i] = {i, tostring(i), {x = i}} end\n"
           "collectgarbage()\n"
           "local sum = 0\n"
           "for i = 1, 20000 do sum = sum + t[i] end\n"
           "for n = 0, 600 do\n"
           "  assert(#s[n + 1] == n and s[n + 1] == string.rep(string.char(65 + n % 26), n))\n"
           "end\n"
           "for i = 1, 5000 do\n"
           "  local v = h['k' .. i]\n"
           "  assert(v[1] == i and v[2] == tostring(i) and v[3].x == i)\n"
           "end\n"
           "return sum\n");
    assert_int_equal(lua_tointeger(L, -1), 3 * 20000 * 20001 / 2);
    tc_lua_alloc_stats_t st;
    tc_lua_alloc_stats(L, &st);
    assert_true(st.small_used > 0);
    assert_true(st.large_used >= 20000 * 16); /* the array part of t */
    assert_true(st.chunks > 0);
    lua_close(L); /* and the pool with it: LeakSanitizer (ASan builds) checks that */
}

/* Garbage gives its chunks back: what is kept is bounded, not the peak. */
static void
test_chunks_given_back(void **state)
{
    (void)state;
    lua_State *L = new_state();
    run(L, "collectgarbage()");
    tc_lua_alloc_stats_t before;
    tc_lua_alloc_stats(L, &before);
    run(L, "big = {}\n"
           "for i = 1, 200000 do big[i] = {i} end\n");
    tc_lua_alloc_stats_t peak;
    tc_lua_alloc_stats(L, &peak);
    /* 200,000 small tables of 56 bytes or more: over 700 chunks of 16 KiB */
    assert_true(peak.chunks > before.chunks + 500);
    run(L, "big = nil\ncollectgarbage()\ncollectgarbage()\n");
    tc_lua_alloc_stats_t after;
    tc_lua_alloc_stats(L, &after);
    /*
     * The chunks in use before, plus at most the 16 spares kept for reuse
     * and one partly used chunk per size class (16): not the peak's.
     */
    assert_true(after.chunks <= before.chunks + 32);
    assert_true(after.small_used <= before.small_used + 4096);
    lua_close(L);
}

/* Warnings behave as luaL_newstate()'s: off until "@on", one line for a warning in pieces. */
static void
test_warnings(void **state)
{
    (void)state;
    char path[] = "/tmp/tc_lua_alloc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    lua_State *L = new_state();
    run(L, "warn('not shown') warn('@on') warn('hel', 'lo') warn('@off') warn('not shown')");
    lua_close(L);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[256] = {0};
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    assert_true(n >= 0);
    assert_string_equal(buf, "Lua warning: hello\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_survive_every_size),
        cmocka_unit_test(test_chunks_given_back),
        cmocka_unit_test(test_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
