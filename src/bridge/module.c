/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entry point of thriftcorn.core as a loadable module, so that a plain
 * lua5.4 can require("thriftcorn.core") (see docs/lua-api.md).
 */
#include "bridge/lua_api.h"

/* NOLINTNEXTLINE(readability-identifier-naming): the name require() looks up */
__attribute__((visibility("default"))) int luaopen_thriftcorn_core(lua_State *L);

int
luaopen_thriftcorn_core(lua_State *L)
{
    return tc_lua_api_open(L);
}
