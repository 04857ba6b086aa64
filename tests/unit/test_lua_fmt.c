/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for bridge/lua_fmt.c: integers to text, as the C library writes them, for Lua. */
#include "tc_test.h"

#include "bridge/lua_fmt.h"

#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

static const long long values[] = {
    0,
    1,
    -1,
    9,
    10,
    -10,
    99,
    100,
    12345,
    -12345,
    999999999,
    1000000000,
    2147483647,
    -2147483648LL,
    4294967296LL,
    999999999999999999LL,
    1000000000000000000LL,
    LLONG_MAX,
    LLONG_MIN,
    LLONG_MIN + 1,
    LLONG_MAX - 1,
};

/* Every value, into buffers of every size from 0 to past its length: text and count as libc's. */
static void
test_integer_as_libc_writes_it(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        for (size_t size = 0; size <= 24; size++) {
            char want[32];
            char got[32];
            memset(want, 'x', sizeof(want));
            memset(got, 'x', sizeof(got));
            int wn = tc_test_libc_format(want, size, "%lld", values[i]);
            int gn = tc_lua_fmt_integer(got, size, values[i]);
            assert_int_equal(gn, wn);
            assert_memory_equal(got, want, sizeof(got)); /* nothing written past 'size' either */
        }
    }
    assert_int_equal(tc_lua_fmt_integer(NULL, 0, LLONG_MIN), 20);
}

/* snprintf() of this program: "%lld" here, anything else as the C library writes it. */
static void
test_snprintf_other_formats_unchanged(void **state)
{
    (void)state;
    char buf[64];
    unsigned long before = tc_lua_fmt_count();
    assert_int_equal(snprintf(buf, sizeof(buf), "%lld", -42LL), 3);
    assert_string_equal(buf, "-42");
    assert_int_equal(tc_lua_fmt_count(), before + 1);
    assert_int_equal(snprintf(buf, sizeof(buf), "%.14g", 0.1), 3);
    assert_string_equal(buf, "0.1");
    assert_int_equal(snprintf(buf, sizeof(buf), "%5lld|%s|%lld!", 7LL, "a", 8LL), 10);
    assert_string_equal(buf, "    7|a|8!");
    volatile size_t four = 4; /* not a constant: the compiler would warn of the cut */
    assert_int_equal(snprintf(buf, four, "%lld", 123456LL), 6);
    assert_string_equal(buf, "123");
    assert_int_equal(tc_lua_fmt_count(), before + 2);
}

/*
 * Lua's own integer-to-text comes here: every way a handler turns an
 * integer into a string, with the text the C library would write.
 */
static void
test_lua_integers_come_here(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_openlibs(L);
    unsigned long before = tc_lua_fmt_count();
    const char *code =
        "local out = {}\n"
        "for _, v in ipairs({0, 7, -7, 1234567, math.maxinteger, math.mininteger}) do\n"
        "  out[#out + 1] = 'item-' .. v\n"
        "  out[#out + 1] = tostring(v)\n"
        "  out[#out + 1] = string.format('%d', v)\n"
        "end\n"
        "return table.concat(out, ',')\n";
    if (luaL_dostring(L, code) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    assert_string_equal(lua_tostring(L, -1),
                        "item-0,0,0,item-7,7,7,item--7,-7,-7,item-1234567,1234567,1234567,"
                        "item-9223372036854775807,9223372036854775807,9223372036854775807,"
                        "item--9223372036854775808,-9223372036854775808,-9223372036854775808");
    /* each of the 18 strings is one integer written here */
    assert_true(tc_lua_fmt_count() >= before + 18);
    lua_close(L);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_as_libc_writes_it),
        cmocka_unit_test(test_snprintf_other_formats_unchanged),
        cmocka_unit_test(test_lua_integers_come_here),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
