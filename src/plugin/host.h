/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C plugin host: dlopen, the entry point and ABI checks, the signature
 * check against the compiled service, the lifecycle hooks, and the call
 * path from a whole request to its reply for methods a plugin serves.
 * A tc_host_t is one loaded library (shared by a worker's threads); a
 * tc_host_thread_t is one handler thread's view of it (arena, handlers).
 */
#ifndef TC_PLUGIN_HOST_H
#define TC_PLUGIN_HOST_H

#include "core/arena.h"
#include "core/err.h"
#include "protocol/protocol.h"
#include "schema/codec.h"
#include "schema/schema.h"
#include "thriftcorn/plugin.h"
#include "transport/header.h"

/* Status of a call that raised a declared exception (TC_CALL_DECLARED_EXCEPTION). */
#define TC_HOST_DECLARED_EXCEPTION (-1)

typedef struct tc_host tc_host_t;
typedef struct tc_host_thread tc_host_thread_t;

/* The host functions every plugin gets (plugin/host_api.c). */
extern const tc_host_api_t tc_host_api;

/*
 * One call in progress. A plugin never gets its address: its tc_call_t is
 * a handle made for that one call (see tc_host_api_enter()).
 */
struct tc_call {
    tc_host_thread_t *thread;
    const tc_function_t *fn;
    tc_codec_writer_t w;
    tc_err_t werr;     /* the reply writer's first error */
    char failmsg[256]; /* api->fail(); "" while unset */
    /* the request's THeader, or NULL */
    tc_header_t *header;
    /*
     * request_header(): the walk over the info headers so far ('hdr_it' of
     * 'hdr_of', which reads index 'hdr_next' next), so that reading them in
     * order walks them once. 'hdr_of' NULL: no walk yet in this call.
     */
    const tc_header_t *hdr_of;
    tc_header_iter_t hdr_it;
    size_t hdr_next;
    uint32_t plugin_minor; /* the TC_PLUGIN_ABI_MINOR the plugin was built with */
};

/*
 * The call running on this thread. Just before a handler runs,
 * tc_host_api_enter() makes 'call' the one running on the calling thread,
 * under 'handle', the tc_call_t the handler gets; tc_host_api_leave() ends
 * it right after the handler (calls do not nest). Every host function that
 * takes a tc_call_t refuses any other handle (used after its handler
 * returned, or from another thread): it returns its error value, logs the
 * misuse with tc_host_call_refused() and touches no call. Any value but
 * NULL that no other call has serves as 'handle' (tests use the address of
 * their call). Ownership: 'call' is borrowed until the leave.
 *
 * The variable is visible here so that the two are inline: tc_host_call()
 * runs them for every call. It is initial-exec because in
 * position-independent code the default model calls __tls_get_addr(), and
 * though the linker takes that call out of an executable, the registers the
 * compiler saved around it stay, in every host function.
 */
typedef struct tc_host_live {
    const tc_call_t *handle; /* &tc_host_no_call outside a handler */
    struct tc_call *call;    /* NULL outside a handler */
} tc_host_live_t;

extern struct tc_call tc_host_no_call;
extern _Thread_local tc_host_live_t tc_host_live __attribute__((tls_model("initial-exec")));

static inline void
tc_host_api_enter(const tc_call_t *handle, struct tc_call *call)
{
    tc_host_live.handle = handle;
    tc_host_live.call = call;
}

static inline void
tc_host_api_leave(void)
{
    tc_host_live.handle = &tc_host_no_call;
    tc_host_live.call = NULL;
}

/*
 * For plugin/host_api.c: log that host function 'what' refused 'handle',
 * which is not the call running on this thread ('running', or NULL when
 * none is): which plugin and method it was made for, if a handler thread
 * of this process made it, and whether its handler has returned or it
 * came from another thread. Never reads through 'handle'. Any thread.
 */
void tc_host_call_refused(const tc_call_t *handle, const struct tc_call *running, const char *what);

/*
 * Into 'buf' ('cap' bytes, NUL-terminated, cut to fit): the plugin code
 * running on the calling thread, as "plugin NAME in a call of
 * Service.method" (the service as the call named it) for a handler, or
 * "plugin NAME (PATH) in its init_worker hook" for a hook. Returns false,
 * with 'buf' empty, when the thread runs neither. For a worker's last
 * words (an exit() in a plugin); reads only this thread's state.
 */
bool tc_host_running(char *buf, size_t cap);

/* The THeader of the calls to come on this thread (NULL: none); borrowed until the next. */
void tc_host_thread_set_header(tc_host_thread_t *t, tc_header_t *header);

/* For plugin/host_api.c: the calling thread's init_thread() data, and the call's arena. */
void *tc_host_call_thread_data(const tc_call_t *call);
void *tc_host_call_alloc(tc_call_t *call, size_t size);

/*
 * Load the plugin at 'path' for the service named 'service' (short or
 * fully qualified name): dlopen (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE), look up
 * tc_plugin_entry, check the ABI major version and find the plugin's
 * methods for the service. Runs no hook. NULL with 'err' filled ("plugin
 * PATH: ...") otherwise; the errors of this and of tc_host_acquire(),
 * tc_host_init_arbiter() and tc_host_thread_new() do not name the service:
 * the caller, which knows it by its configured name, does. Ownership: the
 * caller closes it with tc_host_close(), after every call into it has
 * returned.
 */
tc_host_t *tc_host_open(const char *path, const char *service, tc_err_t *err);
/*
 * dlclose, which leaves the library mapped until the process ends
 * (RTLD_NODELETE: threads the plugin started may still run its code), and
 * free 'h'. NULL is a no-op.
 */
void tc_host_close(tc_host_t *h);

/*
 * Per-process sharing for workers: the first acquire of a library opens it
 * and runs init_worker(); later ones take a reference. A library is one
 * file, whatever path names it ("lib/x.so", "./lib/x.so", a symlink): the
 * one dlopen() returns. The last release runs exit_worker() and closes it.
 * Worker main thread only.
 */
tc_host_t *tc_host_acquire(const char *path, const char *service, tc_err_t *err);

/*
 * Told the plugin hook the process runs now, for the watch of a boot or a
 * stop that hangs: "init_worker", "init_thread", "exit_thread" or
 * "exit_worker" as one begins (on any thread; a library's init_worker and
 * exit_worker, named first while they run, run on the acquiring or
 * releasing thread, init_thread and exit_thread on each handler thread),
 * NULL once none runs. 'hook' is static.
 */
/* NOLINTNEXTLINE(readability-identifier-naming): callback types are tc_<name>_cb */
typedef void (*tc_host_hook_cb)(const char *hook, void *arg);
/*
 * Call 'cb' (NULL: none) with 'arg' about those hooks from now on. It runs
 * on the thread of the hook, under a lock of the host's: it must be short
 * and call nothing of the host.
 */
void tc_host_set_hook_cb(tc_host_hook_cb cb, void *arg);

/*
 * Whether paths 'a' and 'b' name the same library file (tc_file_same():
 * the same device and inode), or are the same text (when either cannot be
 * read).
 */
bool tc_host_same_library(const char *a, const char *b);
void tc_host_release(tc_host_t *h);

/* Run init_arbiter() (configuration checks only). TC_OK or TC_EINVAL with 'err'. */
int tc_host_init_arbiter(tc_host_t *h, tc_err_t *err) TC_NODISCARD;

/* The names of the methods the plugin serves, NULL-terminated (owned by 'h'). */
const char *const *tc_host_method_names(const tc_host_t *h);

/*
 * Check every method the plugin registers against 'svc' (it exists, and its
 * signature hash matches) and bind them: a thread's handler table. NULL
 * with 'err' filled naming the method and both signatures otherwise.
 * 'called' is the name the errors of its calls (arguments that do not
 * decode, fail(), a reply built wrongly, a tc_call_t misused) give the
 * service, as the calls name it: the dispatcher decides it (dispatch.c).
 * Ownership: the caller frees it with tc_host_thread_free(); 'svc' and
 * 'called' are borrowed and must outlive it (a misused tc_call_t is
 * reported with 'called' from any thread while the host thread lives).
 */
tc_host_thread_t *tc_host_thread_new(tc_host_t *h, const tc_service_t *svc, const char *called,
                                     bool expose_errors, tc_err_t *err);
void tc_host_thread_free(tc_host_thread_t *t);

/* True when the plugin serves function 'idx' of the service. */
bool tc_host_thread_serves(const tc_host_thread_t *t, int idx);

/* init_thread() / exit_thread(), on the handler thread itself. */
int tc_host_thread_start(tc_host_thread_t *t, tc_err_t *err) TC_NODISCARD;
void tc_host_thread_stop(tc_host_thread_t *t);

/*
 * Serve function 'idx' (one the plugin serves) with the arguments 'in'
 * reads next, 'm' being the header already read; unless 'oneway', append
 * the reply to 'out'. Returns the status, and sets 'err', as
 * tc_lua_handler_call() does.
 */
int tc_host_call(tc_host_thread_t *t, int idx, const tc_msg_hdr_t *m, bool oneway, tc_proto_t *in,
                 tc_proto_t *out, tc_err_t *err);

#endif /* TC_PLUGIN_HOST_H */
