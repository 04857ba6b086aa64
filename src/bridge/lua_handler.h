/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lua handlers: one Lua state with the service's IDL and handler module
 * loaded, and the call path from a whole request message to its reply.
 * One per handler thread; never shared between threads.
 */
#ifndef TC_BRIDGE_LUA_HANDLER_H
#define TC_BRIDGE_LUA_HANDLER_H

#include "config/config.h"
#include "core/err.h"
#include "protocol/protocol.h"

typedef struct tc_lua_handler tc_lua_handler_t;

/*
 * A new Lua state that loads the configured service: the IDL, then the
 * handler module, which must return a table with a function for every
 * method of the service (inherited ones included). NULL with 'err' filled
 * ("handler.lua: no function for method 'add'") on any problem.
 * Ownership: the caller frees it with tc_lua_handler_free().
 */
tc_lua_handler_t *tc_lua_handler_new(const tc_config_t *cfg, tc_err_t *err);

/* Close the state. NULL is a no-op. */
void tc_lua_handler_free(tc_lua_handler_t *h);

/* What tc_lua_handler_handle() did with a message, for the access log. */
typedef struct tc_call_info {
    const char *method; /* points into the request, not NUL-terminated */
    uint32_t method_len;
    int status;   /* 0 ok, else the TApplicationException type or -1 for a declared exception */
    bool replied; /* false for oneway calls */
} tc_call_info_t;

/*
 * Handle one whole request message read by 'in' and append the reply (if
 * any) to 'out'. Returns TC_OK when the message was handled: a reply, a
 * declared exception or a TApplicationException was written (or nothing for
 * a oneway call); 'err' is then set only for something the operator should
 * see (a handler error with its traceback). Returns a negative code when the
 * bytes are not a valid message (the caller closes the connection).
 */
int tc_lua_handler_handle(tc_lua_handler_t *h, tc_proto_t *in, tc_proto_t *out,
                          tc_call_info_t *info, tc_err_t *err) TC_NODISCARD;

#endif /* TC_BRIDGE_LUA_HANDLER_H */
