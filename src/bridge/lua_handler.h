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
#include "schema/schema.h"
#include "transport/header.h"

typedef struct tc_lua_handler tc_lua_handler_t;

/*
 * A new Lua state that loads the configured service: the IDL, then the
 * handler module, which must return a table with a function for every
 * method of the service (inherited ones included) except those named in
 * 'provided' (a NULL-terminated list, or NULL: the methods a C plugin
 * serves). With no service.handler configured, 'provided' must name every
 * method. NULL with 'err' filled ("handler.lua: no function for method
 * 'add'", the service left for the caller to name) on any problem.
 * Ownership: the caller frees it with tc_lua_handler_free(); 'provided' is
 * only read during the call.
 */
tc_lua_handler_t *tc_lua_handler_new(const tc_config_t *cfg, const char *const *provided,
                                     tc_err_t *err);

/* Close the state. NULL is a no-op. */
void tc_lua_handler_free(tc_lua_handler_t *h);

/* The service the handler serves (owned by the handler's state). */
const tc_service_t *tc_lua_handler_service(const tc_lua_handler_t *h);

/*
 * The THeader of the call about to be made (NULL: none), for
 * thriftcorn.request_headers() and set_response_header(). Borrowed until
 * the next call. A NULL 'h' is a no-op.
 */
void tc_lua_handler_set_header(tc_lua_handler_t *h, tc_header_t *header);

/*
 * A call whose decoded arguments (the Lua memory the decoder charged them)
 * and reply (its bytes) come to this many bytes or more, or to as many as
 * the state held alive after its last full collection if that is more, is
 * followed by a full collection of the state once the reply is made: its
 * values are garbage then, and the generational collector, whose pace
 * such a call stretched, could keep them for a long time on a thread that
 * serves small calls after it.
 */
#define TC_LUA_HANDLER_COLLECT ((size_t)1 << 20)

/* Status of a call that raised one of its declared exceptions (else 0 or a TApplicationException
 * type). */
#define TC_CALL_DECLARED_EXCEPTION (-1)

/*
 * Call function 'idx' of the service (an index into its functions) with the
 * arguments that 'in' reads next, 'm' being the message header already
 * read. Unless 'oneway', append the whole reply message to 'out': the
 * result, a declared exception or a TApplicationException. Returns the
 * call's status: 0, TC_CALL_DECLARED_EXCEPTION, or the TApplicationException
 * type sent. 'err' is set only for what the operator should see: a handler
 * error with its traceback ("Service.method: ..."), a result that does
 * not encode, or arguments that do not decode, as "Service.method:
 * arguments: Struct.field: why", or "...: arguments: name (field N): why"
 * for an argument itself (the PROTOCOL_ERROR's text too). Service is
 * 'called', the service as the call named it, which the dispatcher decides
 * (dispatch.c); borrowed for the call. A large call
 * (TC_LUA_HANDLER_COLLECT) ends with a full collection of the state.
 */
int tc_lua_handler_call(tc_lua_handler_t *h, const char *called, int idx, const tc_msg_hdr_t *m,
                        bool oneway, tc_proto_t *in, tc_proto_t *out, tc_err_t *err);

#endif /* TC_BRIDGE_LUA_HANDLER_H */
