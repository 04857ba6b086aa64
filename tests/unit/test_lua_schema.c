/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for bridge/lua_schema.c: what the compiler makes of a loaded
 * IDL must not depend on the order it meets the structs in (the order of a
 * Lua table's keys, which changes from one process to the next).
 */
#include "tc_test.h"

#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "schema/codec.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Pairs of structs below: enough that every order of compiling a pair comes up. */
#define PAIRS 24

/* Load 'path' with thriftcorn.load() into 'L'; the module is left on the stack. */
static void
load_module(lua_State *L, const char *path)
{
    if (luaL_loadstring(L, "return require('thriftcorn').load(...)") != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
    lua_pushstring(L, path);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fail_msg("%s", lua_tostring(L, -1));
    }
}

/* The compiled struct 'name' of the module on top of the stack. */
static const tc_struct_t *
module_struct(lua_State *L, const char *name)
{
    lua_getfield(L, -1, name);
    const tc_struct_t *st = tc_lua_schema_check_struct(L, -1);
    lua_pop(L, 1);
    return st;
}

/*
 * A default of a struct type whose struct is still being compiled when the
 * field holding the default is (A<i> holds B<i>, whose default holds an
 * A<i>): the C default must have every field the IDL gives it. It used to
 * be compiled from A<i>'s fields as far as they were compiled then, which
 * dropped 'x' and read the struct of 'b' as NULL (a crash).
 */
static void
test_defaults_of_structs_compiled_in_any_order(void **state)
{
    (void)state;
    char path[128];
    int fd = tc_test_temp_file(path, sizeof(path), "lua_schema");
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    for (int i = 0; i < PAIRS; i++) {
        fprintf(f,
                "struct A%d { 1: B%d b, 2: i32 x }\n"
                "struct B%d { 1: optional A%d a = {\"x\": 5, \"b\": {\"a\": {}}} }\n",
                i, i, i, i);
    }
    assert_int_equal(fclose(f), 0);

    tc_err_t err;
    tc_err_clear(&err);
    lua_State *L = tc_lua_state_new(&err);
    assert_non_null(L);
    load_module(L, path);
    for (int i = 0; i < PAIRS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "B%d", i);
        const tc_struct_t *b = module_struct(L, name);
        snprintf(name, sizeof(name), "A%d", i);
        const tc_struct_t *a = module_struct(L, name);
        const tc_value_t *d = b->fields[0].dflt;
        assert_non_null(d);
        assert_int_equal(d->kind, TC_VAL_STRUCT);
        assert_ptr_equal(d->u.view->st, a);
        assert_int_equal(d->u.view->n, 2);
        const tc_value_t *x = tc_codec_view_get(d->u.view, 2);
        assert_non_null(x);
        assert_int_equal(x->kind, TC_VAL_I32);
        assert_int_equal(x->u.i, 5);
        const tc_value_t *inner = tc_codec_view_get(d->u.view, 1);
        assert_non_null(inner);
        assert_int_equal(inner->kind, TC_VAL_STRUCT);
        assert_ptr_equal(inner->u.view->st, b);
    }
    lua_close(L);
    (void)unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_of_structs_compiled_in_any_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
