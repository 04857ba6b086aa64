/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory allocator of thriftcorn's Lua states. Lua allocates every
 * table, array part, hash part, string and closure on its own, hundreds per
 * call of a handler that builds a result, and frees them as young garbage a
 * moment later. A state belongs to one thread at a time, so its small blocks
 * (up to TC_LUA_ALLOC_SMALL bytes) come from free lists of its own, per
 * size class, carved from 64 KiB chunks: no lock, no search, no header.
 * Larger blocks go to malloc().
 *
 * Freed small blocks stay in the state's free lists for its next objects;
 * the chunks go back to the system when the state is closed, or when the
 * state is idle and has more than TC_LUA_ALLOC_KEEP bytes free in them
 * (tc_lua_alloc_trim()).
 */
#ifndef TC_BRIDGE_LUA_ALLOC_H
#define TC_BRIDGE_LUA_ALLOC_H

#include <lua.h>
#include <stddef.h>

/* Blocks up to this size come from the state's free lists. */
#define TC_LUA_ALLOC_SMALL 256

typedef struct tc_lua_alloc tc_lua_alloc_t;

/* What a pool holds, for tests and statistics. */
typedef struct tc_lua_alloc_stats {
    size_t chunks;     /* chunks held */
    size_t small_used; /* bytes of small blocks in use (rounded up to their class) */
    size_t large_used; /* bytes of large blocks in use */
} tc_lua_alloc_stats_t;

/*
 * A new state whose memory comes from a pool of its own, with the panic
 * handler and warning function luaL_newstate() would set. NULL when out of
 * memory. lua_close() frees the state and then its pool.
 */
lua_State *tc_lua_alloc_newstate(void);

/* The allocation statistics of a state made by tc_lua_alloc_newstate(). */
void tc_lua_alloc_stats(lua_State *L, tc_lua_alloc_stats_t *out);

#endif /* TC_BRIDGE_LUA_ALLOC_H */
