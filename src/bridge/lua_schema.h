/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From the resolved IDL (the Lua tables of thriftcorn.idl) to compiled C
 * descriptors, and from Lua handles back to those descriptors.
 */
#ifndef TC_BRIDGE_LUA_SCHEMA_H
#define TC_BRIDGE_LUA_SCHEMA_H

#include "schema/schema.h"

#include <lua.h>

/*
 * core.compile(doc): compile every struct, union, exception and service of
 * 'doc' and of the files it includes. Each structdef gets '_c' (its
 * descriptor as light userdata) and '_schema' (the owning userdata); each
 * servicedef gets '_csvc' (and '_schema'), each funcdef '_cfunc': a key per
 * kind, so that no definition can be taken for another kind. A registry
 * with weak keys keeps each definition's schema alive while the table
 * lives, whatever Lua code does to its fields; a second compile of the
 * same tables gives them new descriptors, and a C holder of the old ones
 * keeps them with tc_schema_ref().
 * Returns the schema userdata. Raises a Lua error on a malformed doc.
 */
int tc_lua_schema_compile(lua_State *L);

/* The struct descriptor of the structdef at 'idx'; raises an argument error if there is none. */
const tc_struct_t *tc_lua_schema_check_struct(lua_State *L, int idx);

/* The service descriptor of the servicedef at 'idx', or NULL. */
const tc_service_t *tc_lua_schema_to_service(lua_State *L, int idx);

/* The function descriptor of the funcdef at 'idx', or NULL. */
const tc_function_t *tc_lua_schema_to_function(lua_State *L, int idx);

/* The schema that owns the definition at 'idx', or NULL. Borrowed: tc_schema_ref() keeps it. */
tc_schema_t *tc_lua_schema_owner(lua_State *L, int idx);

#endif /* TC_BRIDGE_LUA_SCHEMA_H */
