/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dispatch table of a handler thread: from a whole request message to
 * the handler of its method, and the replies that need no handler
 * (UNKNOWN_METHOD, INVALID_MESSAGE_TYPE). One per handler thread.
 */
#ifndef TC_WORKER_DISPATCH_H
#define TC_WORKER_DISPATCH_H

#include "config/config.h"
#include "core/err.h"
#include "protocol/protocol.h"
#include "transport/header.h"

#include <stdbool.h>

typedef struct tc_dispatch tc_dispatch_t;

/* What tc_dispatch_handle() did with a message, for the access log. */
typedef struct tc_call_info {
    /*
     * The service that took the call (the config's, NUL-terminated), or NULL
     * when none did: an unknown "Service:method" keeps its whole name in
     * 'method'.
     */
    const char *service;
    const char *method; /* points into the request, not NUL-terminated */
    uint32_t method_len;
    int status;   /* 0 ok, -1 a declared exception, else the TApplicationException type */
    bool replied; /* false for oneway calls */
    /* in: the request's THeader, whose reply headers the handler may set; NULL otherwise */
    tc_header_t *header;
    /*
     * The length of the text in 'err' when it quotes a name the client sent,
     * which may hold NULs (the text goes on past them); 0: it ends at its NUL.
     */
    uint32_t err_len;
    /*
     * How many bytes of the input came after the message (the rest of its
     * frame), ignored as Apache Thrift's servers ignore them; 0 also when
     * the message's end is unknown (its bytes are not valid)
     */
    size_t rest;
} tc_call_info_t;

/*
 * Load the configured service's handlers for the calling thread (with
 * services = { ... }, every service's). NULL with 'err' filled if the
 * handler code cannot be loaded; with several services the text starts
 * with "service NAME: ".
 * Ownership: the caller frees it with tc_dispatch_free(); 'cfg' is
 * borrowed and must outlive it (the names its calls give the services
 * point into it).
 */
tc_dispatch_t *tc_dispatch_new(const tc_config_t *cfg, tc_err_t *err);

/*
 * Told what tc_dispatch_new_staged() loads next: 'what' is "loading the
 * handlers of service NAME (handler PATH, plugin PATH)", the text
 * tc_dispatch_check() names a service by. Borrowed for the call.
 */
/* NOLINTNEXTLINE(readability-identifier-naming): callback types are tc_<name>_cb */
typedef void (*tc_dispatch_stage_cb)(const char *what, void *arg);

/*
 * tc_dispatch_new(), calling 'stage' (with 'arg') before it loads each
 * service: so that a process that loads handlers to check them can tell
 * its parent which service it was loading if that code crashes or ends
 * the process. Ownership as tc_dispatch_new().
 */
tc_dispatch_t *tc_dispatch_new_staged(const tc_config_t *cfg, tc_dispatch_stage_cb stage, void *arg,
                                      tc_err_t *err);

/* Free it. NULL is a no-op. */
void tc_dispatch_free(tc_dispatch_t *d);

/*
 * On the handler thread itself, before its first call and after its last:
 * the C plugin's init_thread() and exit_thread(). TC_OK, or an error in
 * 'err' (the worker cannot serve).
 */
int tc_dispatch_thread_start(tc_dispatch_t *d, tc_err_t *err) TC_NODISCARD;
void tc_dispatch_thread_stop(tc_dispatch_t *d);

/*
 * Check that the configured service's handlers load as a worker would load
 * them (the IDL, the C plugin with its ABI and signature checks, the Lua
 * handler, and that every method has a handler), running each plugin
 * library's init_arbiter() once, after the checks of the first service it
 * serves, in a process forked for the purpose: no plugin code runs in the
 * caller, and code that crashes or ends that process while it loads
 * (exit(), even with status 0) fails the check, naming the service it was
 * loading and its files. A process still loading after 'limit' seconds
 * (0: no limit) is killed: "STEP did not finish within N s (WHY)", with
 * 'why' saying which setting gave the limit. TC_OK, or an error in 'err'.
 */
/* The limit of a check when 'timeout' sets none (--check-config, a reload's check). */
#define TC_DISPATCH_CHECK_TIMEOUT 30.0

int tc_dispatch_check(const tc_config_t *cfg, double limit, const char *why,
                      tc_err_t *err) TC_NODISCARD;

/*
 * Handle one whole request message read by 'in' and append the reply (if
 * any) to 'out'. Returns TC_OK when the message was handled, with 'err' set
 * only for something the operator should see; a negative code when the
 * bytes are not a valid message (the caller closes the connection). A
 * reply over 'max_reply' bytes (the transport's max_body: more than its
 * frame can carry) is dropped for a TApplicationException INTERNAL_ERROR
 * that names the limit, with the call's name and seqid, and 'err' set to
 * TC_ELIMIT naming the method; while the call runs, 'out' is bounded
 * (tc_buf_set_max()) so that such a reply is stopped where it crosses the
 * limit instead of being encoded whole. The text of an error the client
 * caused (a negative code, TC_ENOTFOUND, a PROTOCOL_ERROR or
 * INVALID_MESSAGE_TYPE status) is what the client was told and may quote
 * its bytes as sent, NULs included ('info->err_len' bytes then): the
 * caller escapes it for the log (tc_log_escape()). 'info->rest' says how
 * many bytes of 'in' follow a message handled (TC_OK).
 */
int tc_dispatch_handle(tc_dispatch_t *d, tc_proto_t *in, tc_proto_t *out, size_t max_reply,
                       tc_call_info_t *info, tc_err_t *err) TC_NODISCARD;

#endif /* TC_WORKER_DISPATCH_H */
