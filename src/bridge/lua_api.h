/* SPDX-License-Identifier: Apache-2.0 */
/* thriftcorn.core: the Lua API implemented in C, one registrar per area. */
#ifndef TC_BRIDGE_LUA_API_H
#define TC_BRIDGE_LUA_API_H

#include <lua.h>

/* Add the codec functions and constants to the table on top of the stack. */
void tc_lua_api_open_codec(lua_State *L);

/* Add realpath() and the status code constants to the table on top of the stack. */
void tc_lua_api_open_sys(lua_State *L);

/*
 * Registry key (its address) of a light userdata pointing to a
 * 'tc_header_t *' slot: the THeader of the handler call running, or NULL.
 * Handler states set it; request_headers() reads it.
 */
extern const char tc_lua_api_header_key;

/*
 * Registry key (its address) of a list of paths: when the state has one,
 * core.read_file() appends to it the path of each file it reads whole (as
 * given: it may be relative). The config's state notes so what root reads.
 */
extern const char tc_lua_api_reads_key;

/* lua_CFunction that pushes the whole thriftcorn.core table (luaopen_ shape). */
int tc_lua_api_open(lua_State *L);

#endif /* TC_BRIDGE_LUA_API_H */
