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
 * descriptor as light userdata) and '_schema' (the owning userdata, which
 * keeps the descriptors alive); each servicedef gets '_csvc' (and
 * '_schema'), each funcdef '_cfunc': a key per kind, so that no definition
 * can be taken for another kind.
 * Returns the schema userdata. Raises a Lua error on a malformed doc.
 */
int tc_lua_schema_compile(lua_State *L);

/* The struct descriptor of the structdef at 'idx'; raises an argument error if there is none. */
const tc_struct_t *tc_lua_schema_check_struct(lua_State *L, int idx);

/* The service descriptor of the servicedef at 'idx', or NULL. */
const tc_service_t *tc_lua_schema_to_service(lua_State *L, int idx);

/* The function descriptor of the funcdef at 'idx', or NULL. */
const tc_function_t *tc_lua_schema_to_function(lua_State *L, int idx);

/* The schema that owns the structdef or servicedef at 'idx', or NULL. */
tc_schema_t *tc_lua_schema_owner(lua_State *L, int idx);

#endif /* TC_BRIDGE_LUA_SCHEMA_H */
