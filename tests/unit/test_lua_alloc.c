/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for bridge/lua_alloc.c: Lua states whose memory comes from a pool of their own. */
#include "tc_test.h"

#include "bridge/lua_alloc.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#endif

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

/* ---- AddressSanitizer ---- */

#ifdef TEST_ASAN

/* Whether each of the 'n' bytes at 'p' is poisoned (want 1) or addressable (want 0). */
static void
assert_poisoned(const void *p, size_t n, int want)
{
    for (size_t i = 0; i < n; i++) {
        if (__asan_address_is_poisoned((const char *)p + i) != want) {
            fail_msg("byte %zu of %zu at %p is %s", i, n, p, want ? "addressable" : "poisoned");
        }
    }
}

/*
 * A block is addressable for the bytes Lua asked for and no more: the rest
 * of its size class, the block once freed (also once moved by a resize to
 * another class or to malloc()) and the blocks of spare chunks are
 * poisoned, so that a bridge writing past a Lua string or userdata, or
 * reading a freed one, is reported. The chunk headers are not: they link
 * the chunks, and LeakSanitizer follows no pointer in poisoned memory.
 */
static void
test_asan_poisons_what_lua_does_not_own(void **state)
{
    (void)state;
    lua_State *L = tc_lua_alloc_newstate(0);
    assert_non_null(L);
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);

    char *b = f(ud, NULL, LUA_TSTRING, 20); /* in the class of 32 bytes */
    assert_non_null(b);
    assert_poisoned(b, 20, 0);
    assert_poisoned(b + 20, 12, 1);
    char *hdr = (char *)((uintptr_t)b & ~(uintptr_t)(TC_LUA_ALLOC_CHUNK - 1));
    assert_poisoned(hdr, 16, 0);
    /* resizes within the class: the same block, its addressable part follows */
    assert_ptr_equal(f(ud, b, 20, 30), b);
    assert_poisoned(b, 30, 0);
    assert_poisoned(b + 30, 2, 1);
    assert_ptr_equal(f(ud, b, 30, 17), b);
    assert_poisoned(b, 17, 0);
    assert_poisoned(b + 17, 15, 1);
    /* moves: to another class, to malloc() and back */
    char *m = f(ud, b, 17, 100);
    assert_non_null(m);
    assert_poisoned(b, 32, 1);
    assert_poisoned(m, 100, 0);
    assert_poisoned(m + 100, 12, 1);
    char *big = f(ud, m, 100, 1000);
    assert_non_null(big);
    assert_poisoned(m, 112, 1);
    assert_poisoned(big, 1000, 0);
    char *s = f(ud, big, 1000, 40);
    assert_non_null(s);
    assert_poisoned(s, 40, 0);
    assert_poisoned(s + 40, 8, 1);
    assert_null(f(ud, s, 40, 0));
    assert_poisoned(s, 48, 1);

    /*
     * Chunks of blocks of 256 bytes (63 to a chunk), all freed: the third
     * chunk holds only these blocks and is kept as a spare, poisoned but
     * for its header.
     */
    enum { NB = 150 };
    char *blocks[NB];
    for (size_t i = 0; i < NB; i++) {
        blocks[i] = f(ud, NULL, LUA_TUSERDATA, 256);
        assert_non_null(blocks[i]);
        assert_poisoned(blocks[i], 256, 0);
    }
    char *spare = (char *)((uintptr_t)blocks[NB - 1] & ~(uintptr_t)(TC_LUA_ALLOC_CHUNK - 1));
    char *first = blocks[NB - 1];
    for (size_t i = 0; i < NB; i++) {
        if (blocks[i] > spare && blocks[i] < first) {
            first = blocks[i];
        }
    }
    for (size_t i = 0; i < NB; i++) {
        assert_null(f(ud, blocks[i], 256, 0));
    }
    assert_poisoned(spare, 16, 0);
    assert_poisoned(first, (size_t)(spare + TC_LUA_ALLOC_CHUNK - first), 1);
    lua_close(L);
}

/* Run 'fn' in a child process: what it wrote to stderr into 'buf'; its wait status. */
static int
child_output(void (*fn)(void), char *buf, size_t cap)
{
    char path[] = "/tmp/tc_lua_alloc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd, STDERR_FILENO);
        fn();
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    ssize_t n = pread(fd, buf, cap - 1, 0);
    close(fd);
    assert_true(n >= 0);
    buf[n] = '\0';
    return status;
}

/* Run 'fn' in a child process: it must die with an AddressSanitizer report holding 'what'. */
static void
assert_asan_report(void (*fn)(void), const char *what)
{
    static char buf[16384];
    int status = child_output(fn, buf, sizeof(buf));
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* 0: no report */
    if (strstr(buf, what) == NULL) {
        fail_msg("no \"%s\" in the child's report:\n%s", what, buf);
    }
}

static void
write_past_userdata(void)
{
    lua_State *L = tc_lua_alloc_newstate(0);
    char *p = lua_newuserdatauv(L, 20, 0);
    ((volatile char *)p)[20] = 'x';
}

static void
read_freed_string(void)
{
    lua_State *L = tc_lua_alloc_newstate(0);
    lua_pushstring(L, "a string the collector frees at once");
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT);
    printf("%d\n", ((const volatile char *)s)[0]);
}

/* A state whose pool keeps spare chunks, linked by their headers: LeakSanitizer sees them. */
static void
keep_spares_then_check_leaks(void)
{
    lua_State *L = tc_lua_alloc_newstate(0);
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);
    enum { NB = 63 * 5 }; /* five chunks of blocks of 256 bytes */
    static void *blocks[NB];
    for (size_t i = 0; i < NB; i++) {
        blocks[i] = f(ud, NULL, LUA_TUSERDATA, 256);
    }
    for (size_t i = 0; i < NB; i++) {
        (void)f(ud, blocks[i], 256, 0);
    }
    /* the state lives on: its pool and spares are reachable from here */
    fprintf(stderr, "leaks: %d\n", __lsan_do_recoverable_leak_check());
    lua_close(L);
}

/* A leak on purpose: the check below must be able to see one. */
static void
leak_then_check_leaks(void)
{
    void *volatile p = malloc(4096);
    p = NULL;
    (void)p;
    fprintf(stderr, "leaks: %d\n", __lsan_do_recoverable_leak_check());
}

/*
 * The pool's spare chunks and the chunks behind the first on a list are
 * linked only through chunk headers: LeakSanitizer, which follows no
 * pointer held in poisoned memory, reported them as leaked while the
 * headers were poisoned.
 */
static void
test_asan_leak_check_sees_the_pool(void **state)
{
    (void)state;
    static char buf[16384];
    (void)child_output(leak_then_check_leaks, buf, sizeof(buf));
    if (strstr(buf, "leaks: 1") == NULL) {
        print_message("skipped: LeakSanitizer is off here (ASAN_OPTIONS detect_leaks=0?)\n");
        skip();
    }
    (void)child_output(keep_spares_then_check_leaks, buf, sizeof(buf));
    if (strstr(buf, "leaks: 0") == NULL) {
        fail_msg("the pool's chunks are reported as leaked:\n%s", buf);
    }
}

/* C code going past a Lua block, or into a freed one, is reported as it is for malloc(). */
static void
test_asan_reports_c_code_misusing_lua_memory(void **state)
{
    (void)state;
    assert_asan_report(write_past_userdata, "use-after-poison");
    assert_asan_report(read_freed_string, "use-after-poison");
}

#else

static void
test_asan_poisons_what_lua_does_not_own(void **state)
{
    (void)state;
    print_message("skipped: built without AddressSanitizer (-DTC_ASAN=ON)\n");
    skip();
}

static void
test_asan_reports_c_code_misusing_lua_memory(void **state)
{
    (void)state;
    print_message("skipped: built without AddressSanitizer (-DTC_ASAN=ON)\n");
    skip();
}

static void
test_asan_leak_check_sees_the_pool(void **state)
{
    (void)state;
    print_message("skipped: built without AddressSanitizer (-DTC_ASAN=ON)\n");
    skip();
}

#endif

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
    /*
     * A control message is one piece starting with '@': "@on" and "@off" as
     * pieces of a longer warning are text (shown once on), and lauxlib's
     * warnings, once off, take any last piece for a control message.
     */
    run(L, "warn('not shown') warn('@on', ' not shown') warn('@on') warn('hel', 'lo')\n"
           "warn('@off', ' is text') warn('@off') warn('not shown', '@on') warn('@on')\n"
           "warn('and ', '@on')");
    lua_close(L);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[256] = {0};
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    assert_true(n >= 0);
    assert_string_equal(buf,
                        "Lua warning: hello\nLua warning: @off is text\nLua warning: and @on\n");
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
        cmocka_unit_test(test_asan_poisons_what_lua_does_not_own),
        cmocka_unit_test(test_asan_reports_c_code_misusing_lua_memory),
        cmocka_unit_test(test_asan_leak_check_sees_the_pool),
        cmocka_unit_test(test_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
