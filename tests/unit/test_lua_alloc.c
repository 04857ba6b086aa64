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
    lua_State *L = tc_lua_alloc_newstate(0);
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

/* ---- the limit ---- */

static size_t
in_use(lua_State *L)
{
    tc_lua_alloc_stats_t st;
    tc_lua_alloc_stats(L, &st);
    return st.small_used + st.large_used;
}

static size_t
refused(lua_State *L)
{
    tc_lua_alloc_stats_t st;
    tc_lua_alloc_stats(L, &st);
    return st.refused;
}

/*
 * Lua code past the limit gets "not enough memory" (after the emergency
 * collection Lua runs on a refusal), never more than the limit in use, and
 * the state stays usable: its garbage collected, it is back where it was.
 */
static void
test_limit_refuses_and_recovers(void **state)
{
    (void)state;
    const size_t limit = 1u << 20;
    lua_State *L = tc_lua_alloc_newstate(limit);
    assert_non_null(L);
    assert_int_equal(tc_lua_alloc_limit(L), limit);
    luaL_openlibs(L);
    run(L, "collectgarbage()");
    size_t base = in_use(L);
    assert_true(base < limit);
    assert_int_equal(refused(L), 0);

    /* small blocks: a table per element, as a list of empty structs decodes */
    run(L, "local ok, e = pcall(function()\n"
           "  local t = {}\n"
           "  for i = 1, 1000000 do t[i] = {} end\n"
           "end)\n"
           "assert(not ok and e == 'not enough memory', tostring(e))\n");
    assert_true(refused(L) > 0);
    assert_true(in_use(L) <= limit);
    /* large blocks: one string, and a table's array part growing */
    run(L, "local ok, e = pcall(string.rep, 'x', 2 * 1024 * 1024)\n"
           "assert(not ok and e == 'not enough memory', tostring(e))\n"
           "ok, e = pcall(function() local t = {} for i = 1, 1e7 do t[i] = i end end)\n"
           "assert(not ok and e == 'not enough memory', tostring(e))\n");
    assert_true(in_use(L) <= limit);
    run(L, "collectgarbage()");
    assert_true(in_use(L) <= base + 1024);
    /*
     * what fits still works, also what only fits once the garbage is collected
     * (string.rep() holds its buffer and the string it makes: 800 KiB each time)
     */
    run(L, "for i = 1, 20 do local s = string.rep('y', 400 * 1024) assert(#s == 400 * 1024) end");
    lua_close(L);
}

/*
 * The allocator itself, called as Lua calls it: at the limit a new block or
 * a growth gets NULL; a shrink, even one that moves a large block to a
 * small one, and a free always succeed; freeing everything brings the
 * count back.
 */
static void
test_limit_allows_frees_and_shrinks(void **state)
{
    (void)state;
    const size_t limit = 256 * 1024;
    lua_State *L = tc_lua_alloc_newstate(limit);
    assert_non_null(L);
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);
    size_t base = in_use(L);

    void *large = f(ud, NULL, LUA_TSTRING, 1000);
    void *small = f(ud, NULL, LUA_TTABLE, 200);
    assert_non_null(large);
    assert_non_null(small);
    /* fill up with blocks of 64 bytes, then of 16 (the smallest class) */
    enum { MAXB = 8192 };
    static void *blocks[MAXB];
    static size_t sizes[MAXB];
    size_t n = 0;
    for (size_t size = 64; size > 0; size = size == 64 ? 16 : 0) {
        while (n < MAXB && (blocks[n] = f(ud, NULL, LUA_TTABLE, size)) != NULL) {
            sizes[n++] = size;
        }
    }
    assert_true(n < MAXB); /* refused before the array ran out */
    assert_true(in_use(L) <= limit);
    assert_true(in_use(L) > limit - 16);
    size_t before = refused(L);
    assert_null(f(ud, NULL, LUA_TSTRING, 300));   /* a new large block */
    assert_null(f(ud, small, 200, 240));          /* small to a bigger class */
    assert_null(f(ud, large, 1000, 1000 + 4096)); /* large growing */
    assert_int_equal(refused(L), before + 3);

    /* shrinks at the limit: large to small (a new small block), small to a smaller class */
    large = f(ud, large, 1000, 100);
    assert_non_null(large);
    small = f(ud, small, 200, 20);
    assert_non_null(small);
    assert_true(in_use(L) <= limit);
    /* the room the shrinks made can be used again */
    void *again = f(ud, NULL, LUA_TTABLE, 64);
    assert_non_null(again);

    assert_null(f(ud, again, 64, 0));
    assert_null(f(ud, large, 100, 0));
    assert_null(f(ud, small, 20, 0));
    for (size_t i = 0; i < n; i++) {
        assert_null(f(ud, blocks[i], sizes[i], 0));
    }
    assert_int_equal(in_use(L), base);
    lua_close(L);
}

/*
 * The buffers in which Lua's libraries build strings (luaL_Buffer:
 * string.rep(), table.concat(), string.format()...) are taken by lauxlib
 * straight from the allocator, and a refusal there raises "not enough
 * memory" at once: no collection first, as Lua's own allocations get. So
 * garbage filling the limit fails them though the live data would fit
 * (docs/configuration.md, max_lua_memory, says so); after a collection
 * they succeed. The collector is stopped so that only a refusal collects.
 */
static void
test_limit_library_buffers_are_not_collected_for(void **state)
{
    (void)state;
    lua_State *L = tc_lua_alloc_newstate(1u << 20);
    assert_non_null(L);
    luaL_openlibs(L);
    run(L, "collectgarbage('stop')\n"
           "local function garbage()\n"
           "  local g = {}\n"
           "  for i = 1, 8 do g[i] = string.rep(i, 100000) end\n"
           "end\n"
           "garbage()\n"
           /* 300 KB of buffer past the 800 KB of garbage: refused, though 600 KB would do */
           "local ok, e = pcall(string.rep, 'x', 300000)\n"
           "assert(not ok and e == 'not enough memory', tostring(e))\n"
           /* an array part of 512 KB: Lua collects on the refusal and tries again */
           "local t = {}\n"
           "for i = 1, 30000 do t[i] = i end\n"
           "t = nil\n"
           "garbage()\n"
           "collectgarbage()\n"
           "assert(#string.rep('x', 300000) == 300000)\n");
    assert_true(refused(L) >= 2);
    lua_close(L);
}

/* A limit the empty state does not fit in: no state (and nothing leaked). */
static void
test_limit_too_small_for_a_state(void **state)
{
    (void)state;
    assert_null(tc_lua_alloc_newstate(100));
    lua_State *L = tc_lua_alloc_newstate(0);
    assert_non_null(L);
    luaL_openlibs(L);
    run(L, "local t = {} for i = 1, 100000 do t[i] = {} end");
    assert_int_equal(refused(L), 0); /* 0: no limit */
    assert_int_equal(tc_lua_alloc_limit(L), 0);
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
        cmocka_unit_test(test_limit_refuses_and_recovers),
        cmocka_unit_test(test_limit_allows_frees_and_shrinks),
        cmocka_unit_test(test_limit_library_buffers_are_not_collected_for),
        cmocka_unit_test(test_limit_too_small_for_a_state),
        cmocka_unit_test(test_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
