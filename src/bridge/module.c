/* SPDX-License-Identifier: Apache-2.0 */
/* Entry point of thriftcorn.core as a loadable module for a plain lua5.4. */
#include <lauxlib.h>
#include <lua.h>

__attribute__((visibility("default"))) int luaopen_thriftcorn_core(lua_State *L);

int
luaopen_thriftcorn_core(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
