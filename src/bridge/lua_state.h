/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lua states: one per thread that runs Lua (the config state, each handler
 * thread). Every C->Lua call goes through tc_lua_pcall().
 */
#ifndef TC_BRIDGE_LUA_STATE_H
#define TC_BRIDGE_LUA_STATE_H

#include "core/err.h"

#include <lua.h>
#include <stddef.h>

/*
 * A new state with the standard libraries, lpeg, thriftcorn.core and the
 * thriftcorn Lua modules preloaded: the copies built into the binary, or
 * the files under $THRIFTCORN_LUA_DIR when it is set. NULL on failure, with
 * 'err' filled. Ownership: the caller closes it with lua_close().
 */
lua_State *tc_lua_state_new(tc_err_t *err);

/*
 * As tc_lua_state_new(), with the state holding at most 'max_bytes' of
 * memory from its first block on (0: no limit; see bridge/lua_alloc.h).
 */
lua_State *tc_lua_state_new_limited(size_t max_bytes, tc_err_t *err);

/*
 * Message handler (lua_CFunction) that turns the error at index 1 into its
 * text (or its __tostring) followed by a traceback, without the unnamed C
 * frames at its bottom (none at all when no other frame is left).
 */
int tc_lua_state_traceback(lua_State *L);

/*
 * 'err' (code TC_EINVAL) gets the 'len' bytes of Lua string 'text', each
 * NUL written as \0 rather than ending the C string there, cut to fit.
 */
void tc_lua_state_set_err(tc_err_t *err, const char *text, size_t len);

/*
 * lua_pcall() with a traceback handler. On error the stack is restored to
 * below the function, 'err' holds the message with its traceback and the
 * code is TC_EINVAL. With 'nres' LUA_MULTRET, results are as lua_pcall's.
 */
int tc_lua_pcall(lua_State *L, int nargs, int nres, tc_err_t *err) TC_NODISCARD;

#endif /* TC_BRIDGE_LUA_STATE_H */
