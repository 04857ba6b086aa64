/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C plugin ABI: what a shared library needs to serve the methods of a
 * thriftcorn service in C. Self-contained C99 (only <stddef.h> and
 * <stdint.h>); a plugin includes this header and never links against
 * thriftcorn: every host function it calls comes through the tc_host_api_t
 * table it is handed. See docs/plugins.md for a walk-through.
 *
 * Versioning: TC_PLUGIN_ABI_MAJOR changes only when something here changes
 * incompatibly; the host refuses a plugin built for another major version.
 * TC_PLUGIN_ABI_MINOR grows when functions are appended to tc_host_api_t or
 * fields to the end of a descriptor, or when the host starts doing more for
 * a plugin (minor 1: THeader info headers; minor 2: readers return IDL
 * defaults; minor 3: NULL arguments are refused instead of crashing); a
 * plugin tests for a function with TC_HOST_HAS(api, member) before calling
 * it, so old plugins keep working with newer servers and new plugins can
 * degrade on older ones.
 */
#ifndef THRIFTCORN_PLUGIN_H
#define THRIFTCORN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI major version: a host loads only plugins built with the same major. */
#define TC_PLUGIN_ABI_MAJOR 1
/** ABI minor version: grows when the host API or descriptors grow at the end. */
#define TC_PLUGIN_ABI_MINOR 3

/** Mark the entry point exported even under -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define TC_PLUGIN_EXPORT       __attribute__((visibility("default")))
#define TC_PLUGIN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TC_PLUGIN_EXPORT
#define TC_PLUGIN_PRINTF(a, b)
#endif

/**
 * Status codes of host functions. 0 is success; everything else is
 * negative. A plugin's handler and hooks return TC_PLUGIN_OK or any
 * negative value (which the host reports as a failure).
 */
enum {
    TC_PLUGIN_OK = 0,
    /** The client did not send the field, and the IDL gives it no default. */
    TC_PLUGIN_ENOTSET = -2001,
    /** No field with that id, or the accessor does not match the field's type. */
    TC_PLUGIN_ETYPE = -2002,
    /**
     * An element index past the end of a list, set or map; an info header
     * index past the last (request_header); reply info headers over their
     * limit (set_response_header).
     */
    TC_PLUGIN_ERANGE = -2003,
    /**
     * The reply builder was misused: a write where none may go, a count that
     * does not match, a missing required field, a reply that is not finished,
     * a NULL string, binary or uuid. The call's reply becomes
     * TApplicationException INTERNAL_ERROR. Also set_response_header() for
     * a client not on the header transport (which fails nothing).
     */
    TC_PLUGIN_ESTATE = -2004,
    /** A generic failure a plugin may return from a handler or hook. */
    TC_PLUGIN_EFAIL = -2005,
    /**
     * A NULL pointer where the function needs one (a view, a sequence, an
     * output pointer, the call). Nothing is read or written. Since ABI
     * minor 3; older hosts crash instead. Also a tc_call_t that is not the
     * call running on the calling thread (see tc_call_t).
     */
    TC_PLUGIN_EINVAL = -2006,
};

/** Log levels of tc_host_api_t.log, as the server's loglevel setting names them. */
enum {
    TC_PLUGIN_LOG_DEBUG = 0,
    TC_PLUGIN_LOG_INFO = 1,
    TC_PLUGIN_LOG_WARNING = 2,
    TC_PLUGIN_LOG_ERROR = 3,
    TC_PLUGIN_LOG_CRITICAL = 4,
};

/**
 * What a decoded value is (tc_value_t.kind). Strings and binaries are the
 * same bytes on the wire; the IDL decides which kind a value reports. An
 * enum is an i32 on the wire.
 */
enum {
    TC_VAL_UNSET = 0,
    TC_VAL_BOOL = 1,
    TC_VAL_BYTE = 2,
    TC_VAL_I16 = 3,
    TC_VAL_I32 = 4,
    TC_VAL_I64 = 5,
    TC_VAL_DOUBLE = 6,
    TC_VAL_STRING = 7,
    TC_VAL_BINARY = 8,
    TC_VAL_UUID = 9,
    TC_VAL_ENUM = 10,
    TC_VAL_LIST = 11,
    TC_VAL_SET = 12,
    TC_VAL_MAP = 13,
    TC_VAL_STRUCT = 14, /* struct, union or exception */
};

/** Field id of a function's result inside its reply (the "success" field). */
#define TC_RESULT 0

/**
 * One RPC in progress. Opaque; valid only during the handler call it is
 * passed to, on the thread running that handler. It is a handle, not an
 * address: every call gets another one. A host function given one used
 * after its handler returned, or from another thread, refuses it as it
 * refuses a NULL 'call' (TC_PLUGIN_EINVAL, NULL or "", touching no call)
 * and logs an error naming the plugin and the call.
 */
typedef struct tc_call tc_call_t;
/** A decoded struct, union or exception (the arguments are one). Opaque, read-only. */
typedef struct tc_view tc_view_t;
/** A decoded list, set or map. Opaque, read-only. */
typedef struct tc_seq tc_seq_t;

/**
 * One decoded value, as tc_host_api_t.get() and seq_get() fill it. Every
 * pointer in it points into the request or the call's arena: valid until the
 * handler returns, never to be freed by the plugin.
 */
typedef struct tc_value {
    int kind; /**< TC_VAL_* */
    union {
        int64_t i; /**< bool (0/1), byte, i16, i32, i64, enum */
        double d;  /**< double */
        struct {
            const void *ptr; /**< not NUL-terminated */
            size_t len;
        } bin;                 /**< string, binary */
        const uint8_t *uuid;   /**< 16 bytes */
        const tc_view_t *view; /**< struct, union, exception */
        const tc_seq_t *seq;   /**< list, set, map */
    } u;
} tc_value_t;

typedef struct tc_host_api tc_host_api_t;

/**
 * A C handler: serve one call of its method.
 * @param api   the host functions (the same table for the life of the worker)
 * @param call  this call: pass it to the reply builder and call_alloc(), on
 *              this thread, until the handler returns
 * @param args  the decoded argument struct: read it by argument field id
 * @return TC_PLUGIN_OK when the reply is built (or, for a void or oneway
 *         method, nothing is to be sent); any negative value (any value
 *         but TC_PLUGIN_OK, in fact) makes the reply TApplicationException
 *         INTERNAL_ERROR (with the text given to api->fail(), if any) and
 *         logs the failure.
 * Thread: any handler thread of a worker, concurrently with other calls
 * unless the plugin is TC_PLUGIN_SERIAL. It may block; the worker moves the
 * thread's other connections to idle threads while it does.
 */
/* NOLINTNEXTLINE(readability-identifier-naming): public plugin API, kept for plugins */
typedef int (*tc_handler_fn)(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args);

/** One method a plugin serves. A table of them ends with an entry whose name is NULL. */
typedef struct tc_plugin_method {
    /** The method's name in the IDL ("add"); inherited methods are listed too. */
    const char *name;
    /**
     * The hash of the method's signature the plugin was written against:
     * TC_SIG_<Service>_<method> from `thriftcorn --plugin-header`. The host
     * refuses to load a plugin whose hash differs from the IDL's.
     */
    uint64_t signature;
    /** The signature text behind the hash (TC_SIGTEXT_...), for messages; may be NULL. */
    const char *signature_text;
    /** The handler. */
    tc_handler_fn handler;
} tc_plugin_method_t;

/** The methods of one service. A table of them ends with an entry whose name is NULL. */
typedef struct tc_plugin_service {
    /** The service name as configured ("Calculator") or fully qualified ("tutorial.Calculator"). */
    const char *name;
    /** Its methods, ending with {NULL}. Methods left out go to the Lua handler. */
    const tc_plugin_method_t *methods;
} tc_plugin_service_t;

/**
 * Flag: the plugin is not thread-safe; the host runs its calls, and its
 * init_thread and exit_thread hooks, one at a time per worker.
 */
#define TC_PLUGIN_SERIAL 0x1u

/**
 * The descriptor tc_plugin_entry() returns. Static, constant data of the
 * plugin; the host only reads it. Every hook may be NULL.
 */
typedef struct tc_plugin {
    /**
     * TC_PLUGIN_ABI_MAJOR and TC_PLUGIN_ABI_MINOR as the plugin was built.
     * They stay the first two fields in every major version: a host reads
     * nothing else of a descriptor built for another major. No major is 0:
     * a descriptor with abi_major 0 is refused as one not filled in.
     */
    uint32_t abi_major;
    uint32_t abi_minor;
    /** A short name for logs ("calculator"). */
    const char *name;
    /** The plugin's own version, for logs; may be NULL. */
    const char *version;
    /** TC_PLUGIN_SERIAL or 0. */
    uint32_t flags;
    /**
     * Called by `thriftcorn --check-config`, in a short-lived process forked
     * for the check, after the plugin passed the ABI and signature checks:
     * a place to validate the plugin's own environment. Once per library,
     * as init_worker, however many services it serves. No plugin code ever
     * runs in the arbiter itself, and no call is served in that process. A
     * negative return fails the check (exit status 1). Thread: the check
     * process's only thread.
     */
    int (*init_arbiter)(const tc_host_api_t *api);
    /**
     * Called once in each worker process after fork, before any handler
     * thread starts: after the ABI check, but before the methods are
     * checked against the IDL (a plugin refused then gets exit_worker and
     * the worker stops). A negative return stops the worker from booting
     * (which stops a starting server with exit status 1). Thread: the
     * worker's main thread.
     */
    int (*init_worker)(const tc_host_api_t *api);
    /**
     * Called on each handler thread before it serves its first call.
     * '*thread_data' starts NULL; what the hook stores there is returned by
     * api->thread_data() during that thread's calls. A library configured
     * for several services gets the hook (and exit_thread) once per service
     * on each thread, each with its own '*thread_data'. A negative return
     * stops the worker at once (no exit_thread or exit_worker runs, on any
     * thread). Thread: the handler thread itself.
     */
    int (*init_thread)(const tc_host_api_t *api, void **thread_data);
    /** Called on each handler thread after its last call. Thread: that handler thread. */
    void (*exit_thread)(const tc_host_api_t *api, void *thread_data);
    /**
     * Called once when the worker exits after every handler thread has
     * ended (not after a crash or a quick stop). The place to stop the
     * threads the plugin started and to clean up: the library stays mapped
     * until the process ends (a thread left running does not crash the
     * exit, it ends with the process), and its destructor functions do not
     * run. Thread: the worker's main thread.
     */
    void (*exit_worker)(const tc_host_api_t *api);
    /**
     * The services the plugin serves, ending with {NULL}. Each at most once:
     * the host refuses a plugin that lists the configured service twice (by
     * its full and its short name, say), or a method of it twice.
     */
    const tc_plugin_service_t *services;
} tc_plugin_t;

/**
 * The one symbol a plugin exports. The host passes its own ABI version;
 * the plugin returns its descriptor (normally a pointer to a static const
 * tc_plugin_t), or NULL to refuse to load. Ownership: the descriptor stays
 * the plugin's and must live as long as the library is loaded.
 * Thread: the worker's main thread (or the check process), once per load.
 */
TC_PLUGIN_EXPORT const tc_plugin_t *tc_plugin_entry(uint32_t host_abi_major,
                                                    uint32_t host_abi_minor);
/** The type of tc_plugin_entry(), for hosts that look it up. */
/* NOLINTNEXTLINE(readability-identifier-naming): public plugin API, kept for plugins */
typedef const tc_plugin_t *(*tc_plugin_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor);

/** True when 'api' has the function 'member' (it was appended before this host was built). */
#define TC_HOST_HAS(api, member)                                                                   \
    ((api)->size >= offsetof(tc_host_api_t, member) + sizeof((api)->member))

/**
 * The host functions. The struct only ever grows by appending members;
 * 'size' is the host's sizeof(tc_host_api_t). Ownership: the table belongs
 * to the host and lives as long as the plugin is loaded.
 *
 * Readers (get_*, seq_*) take a view or sequence of the current call and may
 * be called from the handler thread running that call. Their results point
 * into the request bytes or the call's arena: valid until the handler
 * returns, never freed by the plugin. They return TC_PLUGIN_OK,
 * TC_PLUGIN_ENOTSET (the client did not send that field and the IDL gives
 * it no default), TC_PLUGIN_ETYPE (no such field id, or another type) or
 * TC_PLUGIN_ERANGE. A field the client left out reads as its IDL default,
 * as in a Lua handler (since ABI minor 2; a union's default only when no
 * member was sent); has() still tells whether it was sent. A NULL view,
 * sequence or output pointer gets TC_PLUGIN_EINVAL and nothing is written
 * (since ABI minor 3).
 *
 * The reply builder (put_*, begin_*, end, raise) writes straight into the
 * connection's output buffer, checked against the IDL as it goes. The
 * reply starts inside the function's result struct, whose field TC_RESULT
 * (0) is the return value and whose other fields are the declared
 * exceptions: put_i32(call, TC_RESULT, 42) returns 42, raise(call, id)
 * starts the exception with field id 'id'. At most one of them is written.
 * Inside a struct 'id' names the field; inside a list, set or map 'id' is
 * ignored (pass 0) and the values are the elements in order (for a map:
 * key, value, key, value...). Each returns TC_PLUGIN_OK or TC_PLUGIN_ESTATE;
 * after the first error every later call fails too and the client gets
 * INTERNAL_ERROR. A reply that grows past the largest frame its transport
 * can carry is not written past it: such a put_*() writes nothing yet
 * returns TC_PLUGIN_OK, and the next begin_*() fails as above (so does the
 * reply's end). A NULL data pointer (put_binary() with a nonzero length,
 * put_string(), put_uuid()) is such an error: the log names the function
 * and the field id. A NULL 'call', or one that is not running on the
 * calling thread, gets TC_PLUGIN_EINVAL and changes nothing (there is no
 * reply to mark). A void method writes nothing. Thread: the handler thread
 * running 'call', during the handler.
 */
struct tc_host_api {
    /** sizeof(tc_host_api_t) in the host: test it with TC_HOST_HAS(). */
    size_t size;
    /** The host's TC_PLUGIN_ABI_MAJOR and TC_PLUGIN_ABI_MINOR. */
    uint32_t abi_major;
    uint32_t abi_minor;

    /* ---- anywhere ---- */

    /**
     * Write one line to the server's log at 'level' (TC_PLUGIN_LOG_*). Any
     * thread. The text is cut at 1023 bytes (at 2047 once escaped), and
     * each byte of it that is not printable (a newline or another control
     * byte, a backslash, a byte that is not well-formed UTF-8) is written
     * as \xHH, as the server writes bytes a client sent, so that it stays
     * one line. A NULL 'fmt' logs, at WARNING or above, a line saying that
     * a plugin logged a NULL format.
     */
    void (*log)(int level, const char *fmt, ...) TC_PLUGIN_PRINTF(2, 3);

    /* ---- the call ---- */

    /**
     * 'size' bytes aligned for any type from the call's arena, released all
     * at once after the reply is written. NULL only when 'call' is NULL or
     * not running on the calling thread (the worker aborts when memory runs
     * out, and for a size over half the address space, a negative size
     * most likely, after a critical log line naming the plugin and the
     * call). The plugin never frees it.
     */
    void *(*call_alloc)(tc_call_t *call, size_t size);
    /**
     * The called method's name, NUL-terminated (owned by the host); "" for a
     * NULL 'call' or one not running on the calling thread.
     */
    const char *(*call_method)(const tc_call_t *call);
    /**
     * What init_thread() stored for the thread running 'call' (or NULL, as
     * for a NULL 'call' or one not running on the calling thread).
     */
    void *(*thread_data)(const tc_call_t *call);
    /**
     * Record why the call failed: with a negative return from the handler,
     * the client gets INTERNAL_ERROR with this text when the server has
     * expose_errors set ("Internal error" otherwise), and the log gets it.
     * The text is kept as UTF-8, up to 255 bytes cut between characters;
     * a byte that is not well-formed UTF-8 becomes \xHH.
     * Returns TC_PLUGIN_EFAIL, so `return api->fail(call, "...")` reads well,
     * also for a NULL 'call' or one not running on the calling thread (which
     * records nothing). A NULL 'fmt' records a fixed text saying that fail()
     * got no format.
     */
    int (*fail)(tc_call_t *call, const char *fmt, ...) TC_PLUGIN_PRINTF(2, 3);

    /* ---- reading a struct's fields by id ---- */

    /** 1 if field 'id' was sent, else 0 (an IDL default does not count as sent; a NULL 'v': 0). */
    int (*has)(const tc_view_t *v, int16_t id);
    int (*get_bool)(const tc_view_t *v, int16_t id, int *out);
    int (*get_byte)(const tc_view_t *v, int16_t id, int8_t *out);
    int (*get_i16)(const tc_view_t *v, int16_t id, int16_t *out);
    /** An i32 or an enum field. */
    int (*get_i32)(const tc_view_t *v, int16_t id, int32_t *out);
    int (*get_i64)(const tc_view_t *v, int16_t id, int64_t *out);
    int (*get_double)(const tc_view_t *v, int16_t id, double *out);
    /** A string or binary field: '*ptr' points into the request (no copy, no NUL). */
    int (*get_binary)(const tc_view_t *v, int16_t id, const void **ptr, size_t *len);
    /** get_binary() for strings: the same bytes, typed for text. */
    int (*get_string)(const tc_view_t *v, int16_t id, const char **ptr, size_t *len);
    /** A uuid field: '*out' points to its 16 bytes. */
    int (*get_uuid)(const tc_view_t *v, int16_t id, const uint8_t **out);
    /** A struct, union or exception field. */
    int (*get_struct)(const tc_view_t *v, int16_t id, const tc_view_t **out);
    /** A list, set or map field. */
    int (*get_seq)(const tc_view_t *v, int16_t id, const tc_seq_t **out);
    /** Any field, as a tagged value. */
    int (*get)(const tc_view_t *v, int16_t id, tc_value_t *out);

    /* ---- reading a list, set or map ---- */

    /** Elements of a list or set, entries of a map (0 for a NULL 's'). */
    size_t (*seq_len)(const tc_seq_t *s);
    /** TC_VAL_LIST, TC_VAL_SET or TC_VAL_MAP (TC_VAL_UNSET for a NULL 's'). */
    int (*seq_kind)(const tc_seq_t *s);
    /**
     * Element 'i' (0-based) of a list or set into 'elem'; for a map, the key
     * of entry 'i' into 'elem' and its value into 'value'. 'value' may be
     * NULL: lists and sets ignore it, and a map then gives only the key.
     * 'elem' must not be NULL. Sets keep the order they were sent in.
     */
    int (*seq_get)(const tc_seq_t *s, size_t i, tc_value_t *elem, tc_value_t *value);

    /* ---- the reply builder ---- */

    int (*put_bool)(tc_call_t *call, int16_t id, int v);
    int (*put_byte)(tc_call_t *call, int16_t id, int8_t v);
    int (*put_i16)(tc_call_t *call, int16_t id, int16_t v);
    /** An i32 or an enum. */
    int (*put_i32)(tc_call_t *call, int16_t id, int32_t v);
    int (*put_i64)(tc_call_t *call, int16_t id, int64_t v);
    int (*put_double)(tc_call_t *call, int16_t id, double v);
    /**
     * A string or binary: 'len' bytes copied from 'ptr' into the reply.
     * 'ptr' may be NULL when 'len' is 0 (an empty value).
     */
    int (*put_binary)(tc_call_t *call, int16_t id, const void *ptr, size_t len);
    /**
     * put_binary() of a NUL-terminated string. A NULL 's' is an error
     * (TC_PLUGIN_ESTATE) for a plugin built with ABI minor 3 or later; for
     * one built earlier it sends an empty string, as hosts before minor 3 did.
     */
    int (*put_string)(tc_call_t *call, int16_t id, const char *s);
    int (*put_uuid)(tc_call_t *call, int16_t id, const uint8_t uuid[16]);
    /** Start a struct, union or exception value; its fields follow, then end(). */
    int (*begin_struct)(tc_call_t *call, int16_t id);
    /** Start a list or set of exactly 'n' elements; they follow, then end(). */
    int (*begin_list)(tc_call_t *call, int16_t id, size_t n);
    /** Start a map of exactly 'n' entries (2n values: key, value...), then end(). */
    int (*begin_map)(tc_call_t *call, int16_t id, size_t n);
    /** Finish the innermost struct, list, set or map (checks required fields and counts). */
    int (*end)(tc_call_t *call);
    /**
     * Start the declared exception whose field id in the method's 'throws'
     * is 'id' (as begin_struct at the top of the reply); fill its fields,
     * then end(), then return TC_PLUGIN_OK: the client gets the exception.
     */
    int (*raise)(tc_call_t *call, int16_t id);

    /* ---- THeader info headers (ABI minor 1: test with TC_HOST_HAS) ---- */

    /**
     * Info header 'i' (0-based) of the request: '*key' and '*value' point
     * into the request (no copy, no NUL), valid until the handler returns.
     * @return TC_PLUGIN_OK; TC_PLUGIN_ERANGE past the last one (at once
     *         when the client did not use the header transport);
     *         TC_PLUGIN_EINVAL when 'call' or an output pointer is NULL,
     *         or 'call' is not running on the calling thread.
     */
    int (*request_header)(tc_call_t *call, size_t i, const char **key, size_t *key_len,
                          const char **value, size_t *value_len);
    /**
     * Add an info header to the reply; the bytes are copied. 'key' or
     * 'value' may be NULL when its length is 0.
     * @return TC_PLUGIN_OK; TC_PLUGIN_ESTATE when the client did not use the
     *         header transport; TC_PLUGIN_ERANGE when the reply's headers
     *         would exceed 65,520 bytes as written (keys, values and their
     *         length prefixes, with 10 bytes kept for the prefixes of the
     *         one being added: what Apache's C++ client reads);
     *         TC_PLUGIN_EINVAL when 'call' is NULL or not running on the
     *         calling thread, or 'key' or 'value' is NULL with a nonzero
     *         length.
     */
    int (*set_response_header)(tc_call_t *call, const char *key, size_t key_len, const char *value,
                               size_t value_len);
};

#ifdef __cplusplus
}
#endif

#endif /* THRIFTCORN_PLUGIN_H */
