/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory allocator of thriftcorn's Lua states. Lua allocates every
 * table, array part, hash part, string and closure on its own, hundreds per
 * call of a handler that builds a result, and frees them as young garbage a
 * moment later. A state belongs to one thread at a time, so its small blocks
 * (up to TC_LUA_ALLOC_SMALL bytes) come from free lists of its own, per
 * size class, carved from 16 KiB chunks that each serve one class: no lock,
 * no search, no header per block (a chunk's header is at its start, found
 * by rounding a block's address down). Larger blocks go to malloc().
 *
 * Freed small blocks go back to their chunk's free list for the state's
 * next objects. A chunk that empties is kept as a spare (up to 16 per
 * state) or given back to the system, so a state's memory follows its live
 * data, not its peak; lua_close() gives back everything.
 *
 * A state may have a limit: the most bytes of blocks it may have in use at
 * once (small ones counted at the size of their class). An allocation or a
 * growth past it fails, and Lua answers that as it would a full heap: a
 * full collection, one more try, then the error "not enough memory". Frees
 * always succeed, and shrinks are never refused for the limit. The spare
 * chunks, and the free room in chunks partly used, are not counted.
 *
 * Under AddressSanitizer a small block is addressable for the bytes Lua
 * asked for only; the rest of the chunks is poisoned (lua_alloc.c).
 */
#ifndef TC_BRIDGE_LUA_ALLOC_H
#define TC_BRIDGE_LUA_ALLOC_H

#include <lua.h>
#include <stddef.h>

/* Blocks up to this size come from the state's free lists. */
#define TC_LUA_ALLOC_SMALL 256

/* The size (and alignment) of the chunks the small blocks are carved from. */
#define TC_LUA_ALLOC_CHUNK 16384

typedef struct tc_lua_alloc tc_lua_alloc_t;

/* What a pool holds, for tests and statistics. */
typedef struct tc_lua_alloc_stats {
    size_t chunks;     /* chunks held */
    size_t small_used; /* bytes of small blocks in use (rounded up to their class) */
    size_t large_used; /* bytes of large blocks in use */
    size_t refused;    /* allocations and growths refused for the limit */
} tc_lua_alloc_stats_t;

/*
 * A new state whose memory comes from a pool of its own, with the panic
 * handler and warning function luaL_newstate() would set, holding at most
 * 'limit' bytes in use from its first block on (0: no limit). NULL when out
 * of memory, or when 'limit' cannot hold even the empty state. lua_close()
 * frees the state and then its pool.
 */
lua_State *tc_lua_alloc_newstate(size_t limit);

/* The limit of a state made by tc_lua_alloc_newstate() (0: none). */
size_t tc_lua_alloc_limit(lua_State *L);

/* The allocation statistics of a state made by tc_lua_alloc_newstate(). */
void tc_lua_alloc_stats(lua_State *L, tc_lua_alloc_stats_t *out);

#endif /* TC_BRIDGE_LUA_ALLOC_H */
