/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading C plugins and calling them. A library is opened once per worker
 * (after fork, never in the arbiter), checked against the ABI version and
 * the IDL, and released only after every handler thread has ended; it stays
 * mapped until its process ends, so no code of it can be running when it
 * goes.
 */
#include "plugin/host.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "plugin/libfile.h"
#include "protocol/message.h"
#include "schema/signature.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* TC_PLUGIN_SERIAL's lock: one per library, shared by the services it serves. */
typedef struct serial {
    pthread_mutex_t m;
    int refs; /* under registry_lock once shared */
} serial_t;

struct tc_host {
    char *path;
    char *service; /* as configured: hosts are shared per library and service */
    void *dl;
    const tc_plugin_t *desc;
    const tc_plugin_service_t *svc;
    const char **names; /* method names, NULL-terminated */
    size_t nmethods;
    serial_t *serial; /* TC_PLUGIN_SERIAL: one call at a time into the library */
    /* tc_host_acquire() sharing */
    int refs;
    tc_host_t *next;
};

struct tc_host_thread {
    tc_host_t *host;
    const tc_service_t *svc;
    const char *called;                 /* the name calls give the service (borrowed) */
    const tc_plugin_method_t **methods; /* by function index; NULL: not served */
    void *data;                         /* from init_thread() */
    bool started;
    bool expose_errors;
    tc_arena_t arena; /* the per-call arena, reset after each reply */
    struct tc_call call;
    /* the handles of its calls (see "handles" below) */
    unsigned id;              /* 1 and up, unique among the host threads alive */
    uintptr_t tag;            /* 'id' in place, and the low bit */
    uintptr_t seq;            /* calls so far, wrapping */
    atomic_uintptr_t running; /* the handle of the call in its handler, 0 between calls */
    pthread_t owner;          /* the handler thread, once 'owned' (under threads_lock) */
    bool owned;
    tc_host_thread_t *next; /* in 'threads' */
};

/*
 * ---- handles ----
 *
 * The tc_call_t a handler gets is not the address of the thread's call
 * struct, which every call of the thread reuses, but a handle made for
 * that one call: the id of its host thread, the index of its function and
 * the thread's count of calls, packed into a pointer-sized value that is
 * odd, so never NULL nor the address of a struct (and on 64 bits at least
 * 2^48, above user space). So a handle kept past its call differs from
 * every later call's, on its own thread too, until the thread's count
 * wraps (2^35 calls on 64 bits), and tells which call it was made for
 * without reading anything through it.
 */
#if UINTPTR_MAX > 0xffffffffu
#define HANDLE_ID_BITS 16
#define HANDLE_FN_BITS 12
#else
#define HANDLE_ID_BITS 8
#define HANDLE_FN_BITS 6
#endif
#define HANDLE_SEQ_BITS (sizeof(uintptr_t) * CHAR_BIT - HANDLE_ID_BITS - HANDLE_FN_BITS - 1)
#define HANDLE_FN_SHIFT (HANDLE_SEQ_BITS + 1)
#define HANDLE_ID_SHIFT (HANDLE_FN_SHIFT + HANDLE_FN_BITS)
#define HANDLE_ID_MAX   ((1u << HANDLE_ID_BITS) - 1)
#define HANDLE_FN_MAX   ((uintptr_t)(1u << HANDLE_FN_BITS) - 1) /* this or later: unknown */
#define HANDLE_SEQ_MASK (((uintptr_t)1 << HANDLE_SEQ_BITS) - 1)

/* Every host thread of the process, for tc_host_call_refused(); ids are given under the lock. */
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static tc_host_thread_t *threads;
static unsigned last_id;

/* True when no host thread in 'threads' has 'id'. Under threads_lock. */
static bool
id_free(unsigned id)
{
    for (const tc_host_thread_t *o = threads; o != NULL; o = o->next) {
        if (o->id == id) {
            return false;
        }
    }
    return true;
}

/* Give 't' the next free id and add it to 'threads'; TC_ELIMIT when every id is taken. */
static int
enroll(tc_host_thread_t *t)
{
    pthread_mutex_lock(&threads_lock);
    for (unsigned i = 0; i < HANDLE_ID_MAX && t->id == 0; i++) {
        last_id = last_id % HANDLE_ID_MAX + 1;
        t->id = id_free(last_id) ? last_id : 0;
    }
    if (t->id != 0) {
        t->tag = (uintptr_t)t->id << HANDLE_ID_SHIFT | 1;
        t->next = threads;
        threads = t;
    }
    pthread_mutex_unlock(&threads_lock);
    return t->id != 0 ? TC_OK : TC_ELIMIT;
}

/* ---- boot and exit hooks, for the watch of a worker's boot and stop ---- */

/*
 * The plugin hooks running now in the process that hook_cb is told about:
 * init_worker (one thread: the acquiring one, under registry_lock),
 * init_thread (each handler thread), and at the stop exit_thread and
 * exit_worker, so that a boot or a stop that hangs in one is named. Under
 * hook_lock, which is taken last.
 */
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static tc_host_hook_cb hook_cb;
static void *hook_arg;
static int in_init_worker;
static int in_init_thread;
static int in_exit_thread;
static int in_exit_worker;

void
tc_host_set_hook_cb(tc_host_hook_cb cb, void *arg)
{
    pthread_mutex_lock(&hook_lock);
    hook_cb = cb;
    hook_arg = arg;
    pthread_mutex_unlock(&hook_lock);
}

/*
 * One more (+1) or one fewer (-1) thread in the hook that 'count' counts;
 * the callback learns the hook running now, under the lock, so the last
 * it heard is the truth however the threads interleave.
 */
static void
hook_note(int *count, int delta)
{
    pthread_mutex_lock(&hook_lock);
    *count += delta;
    if (hook_cb != NULL) {
        hook_cb(in_init_worker > 0   ? "init_worker"
                : in_init_thread > 0 ? "init_thread"
                : in_exit_thread > 0 ? "exit_thread"
                : in_exit_worker > 0 ? "exit_worker"
                                     : NULL,
                hook_arg);
    }
    pthread_mutex_unlock(&hook_lock);
}

/*
 * The plugin hook running on this thread, for tc_host_running(): set
 * around every hook call (NULL: none).
 */
static _Thread_local const tc_host_t *hook_host;
static _Thread_local const char *hook_name;

static inline void
hook_begin(const tc_host_t *h, const char *name)
{
    hook_host = h;
    hook_name = name;
}

static inline void
hook_end(void)
{
    hook_host = NULL;
    hook_name = NULL;
}

/* ---- loading ---- */

static const char *
plugin_label(const tc_host_t *h)
{
    return h->desc != NULL && h->desc->name != NULL ? h->desc->name : "?";
}

static bool
service_matches(const char *mine, const char *want)
{
    if (strcmp(mine, want) == 0) {
        return true;
    }
    /* "Calculator" matches "tutorial.Calculator" either way round */
    const char *a = strrchr(mine, '.');
    const char *b = strrchr(want, '.');
    return strcmp(a != NULL ? a + 1 : mine, b != NULL ? b + 1 : want) == 0 &&
           (a == NULL || b == NULL);
}

static int
find_service(tc_host_t *h, const char *service, tc_err_t *err)
{
    const tc_plugin_service_t *s = h->desc->services;
    for (; s != NULL && s->name != NULL; s++) {
        if (!service_matches(s->name, service)) {
            continue;
        }
        if (h->svc != NULL) {
            /* which of its method tables the plugin meant, the host cannot tell */
            return tc_err_set(err, TC_EINVAL,
                              "plugin %s (%s): the service is listed twice, as '%s' and as '%s'",
                              h->path, plugin_label(h), h->svc->name, s->name);
        }
        h->svc = s;
    }
    if (h->svc == NULL) {
        return tc_err_set(err, TC_ENOTFOUND, "plugin %s (%s) lists no such service", h->path,
                          plugin_label(h));
    }
    for (const tc_plugin_method_t *m = h->svc->methods; m != NULL && m->name != NULL; m++) {
        if (m->handler == NULL) {
            return tc_err_set(err, TC_EINVAL, "plugin %s (%s): method '%s' has no handler", h->path,
                              plugin_label(h), m->name);
        }
        h->nmethods++;
    }
    h->names = tc_xcalloc(h->nmethods + 1, sizeof(char *));
    for (size_t i = 0; i < h->nmethods; i++) {
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): methods has nmethods entries */
        h->names[i] = h->svc->methods[i].name;
    }
    return TC_OK;
}

tc_host_t *
tc_host_open(const char *path, const char *service, tc_err_t *err)
{
    tc_host_t *h = tc_xcalloc(1, sizeof(*h));
    h->path = tc_xstrdup(path);
    h->service = tc_xstrdup(service);
    h->serial = tc_xcalloc(1, sizeof(*h->serial));
    pthread_mutex_init(&h->serial->m, NULL);
    h->serial->refs = 1;
    char cut[TC_ERR_MSG_MAX];
    if (tc_libfile_truncated(path, cut, sizeof(cut))) {
        /* dlopen() would map it and die of SIGBUS in the loader */
        tc_err_set(err, TC_EINVAL, "plugin %s: cannot load it: %s", path, cut);
        goto fail;
    }
    /*
     * RTLD_NODELETE: dlclose() never unmaps it. A thread the plugin started
     * itself (in init_worker, say) may still run its code after exit_worker;
     * unmapped under it, that thread would crash the worker's exit. A
     * process opens a library once in practice (a worker, a check), and a
     * new file at the path reaches the next process, which opens it anew.
     */
    h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h->dl == NULL) {
        const char *dlerr = dlerror(); /* NOLINT(concurrency-mt-unsafe): one loader at a time */
        char why[TC_ERR_MSG_MAX];
        tc_libfile_why(path, dlerr, why, sizeof(why));
        tc_err_set(err, TC_ENOTFOUND, "plugin %s: cannot load it: %s", path, why);
        goto fail;
    }
    tc_plugin_entry_fn entry;
    void *sym = dlsym(h->dl, "tc_plugin_entry");
    memcpy(&entry, &sym, sizeof(entry)); /* object pointer to function pointer, as POSIX allows */
    if (entry == NULL) {
        tc_err_set(err, TC_ENOTFOUND,
                   "plugin %s: no entry point 'tc_plugin_entry' (not a thriftcorn plugin, or the "
                   "symbol is hidden: declare it with thriftcorn/plugin.h)",
                   path);
        goto fail;
    }
    h->desc = entry(TC_PLUGIN_ABI_MAJOR, TC_PLUGIN_ABI_MINOR);
    if (h->desc == NULL) {
        tc_err_set(err, TC_EINVAL, "plugin %s: tc_plugin_entry() refused to load (returned NULL)",
                   path);
        goto fail;
    }
    if (h->desc->abi_major == 0) {
        /* no ABI has major 0: a zeroed descriptor, or one whose version was left out */
        tc_err_set(err, TC_EINVAL,
                   "plugin %s: tc_plugin_entry() returned a descriptor with abi_major 0: it is "
                   "not filled in; set .abi_major = TC_PLUGIN_ABI_MAJOR and .abi_minor = "
                   "TC_PLUGIN_ABI_MINOR (thriftcorn/plugin.h) in the tc_plugin_t it returns",
                   path);
        h->desc = NULL;
        goto fail;
    }
    if (h->desc->abi_major != TC_PLUGIN_ABI_MAJOR) {
        /* another major's descriptor: only its version is where this one has it, no name */
        tc_err_set(err, TC_EINVAL,
                   "plugin %s: built for plugin ABI %" PRIu32 ".%" PRIu32
                   ", this server speaks %d.%d; rebuild it against this thriftcorn's "
                   "thriftcorn/plugin.h",
                   path, h->desc->abi_major, h->desc->abi_minor, TC_PLUGIN_ABI_MAJOR,
                   TC_PLUGIN_ABI_MINOR);
        h->desc = NULL;
        goto fail;
    }
    if (find_service(h, service, err) != TC_OK) {
        goto fail;
    }
    return h;
fail:
    tc_host_close(h);
    return NULL;
}

void
tc_host_close(tc_host_t *h)
{
    if (h == NULL) {
        return;
    }
    if (h->dl != NULL) {
        dlclose(h->dl);
    }
    if (h->serial != NULL && --h->serial->refs == 0) {
        pthread_mutex_destroy(&h->serial->m);
        free(h->serial);
    }
    free(h->names);
    free(h->service);
    free(h->path);
    free(h);
}

/* ---- sharing within a worker ---- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static tc_host_t *registry;

/* A host in the registry for the library dlopen() gave as 'dl', or NULL. */
static tc_host_t *
same_library(const void *dl)
{
    tc_host_t *h = registry;
    while (h != NULL && h->dl != dl) {
        h = h->next;
    }
    return h;
}

bool
tc_host_same_library(const char *a, const char *b)
{
    /* (a name that does not stat, say a library dlopen() finds on its path, by its name) */
    return tc_file_same(a, b) || strcmp(a, b) == 0;
}

tc_host_t *
tc_host_acquire(const char *path, const char *service, tc_err_t *err)
{
    pthread_mutex_lock(&registry_lock);
    tc_host_t *h = registry;
    while (h != NULL && (strcmp(h->path, path) != 0 || strcmp(h->service, service) != 0)) {
        h = h->next;
    }
    if (h != NULL) {
        h->refs++;
        pthread_mutex_unlock(&registry_lock);
        return h;
    }
    /* a library that serves several services: one host each, one init_worker, one lock */
    h = tc_host_open(path, service, err);
    tc_host_t *sibling = h != NULL ? same_library(h->dl) : NULL;
    if (h != NULL && sibling != NULL) {
        pthread_mutex_destroy(&h->serial->m);
        free(h->serial);
        h->serial = sibling->serial;
        h->serial->refs++;
    } else if (h != NULL && h->desc->init_worker != NULL) {
        hook_note(&in_init_worker, 1);
        hook_begin(h, "init_worker");
        int rc = h->desc->init_worker(&tc_host_api);
        hook_end();
        hook_note(&in_init_worker, -1);
        if (rc != TC_PLUGIN_OK) {
            tc_err_set(err, TC_EINVAL, "plugin %s (%s): init_worker() failed (%d)", path,
                       plugin_label(h), rc);
            tc_host_close(h);
            h = NULL;
        }
    }
    if (h != NULL) {
        h->refs = 1;
        h->next = registry;
        registry = h;
    }
    pthread_mutex_unlock(&registry_lock);
    return h;
}

void
tc_host_release(tc_host_t *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&registry_lock);
    bool last = --h->refs == 0;
    bool last_of_library = false;
    if (last) {
        tc_host_t **pp = &registry;
        while (*pp != h) {
            pp = &(*pp)->next;
        }
        *pp = h->next;
        last_of_library = same_library(h->dl) == NULL;
        if (!last_of_library) {
            h->serial->refs--; /* the lock stays with the library's other hosts */
            h->serial = NULL;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (last) {
        if (last_of_library && h->desc->exit_worker != NULL) {
            hook_note(&in_exit_worker, 1);
            hook_begin(h, "exit_worker");
            h->desc->exit_worker(&tc_host_api);
            hook_end();
            hook_note(&in_exit_worker, -1);
        }
        tc_host_close(h);
    }
}

int
tc_host_init_arbiter(tc_host_t *h, tc_err_t *err)
{
    if (h->desc->init_arbiter == NULL) {
        return TC_OK;
    }
    hook_begin(h, "init_arbiter");
    int rc = h->desc->init_arbiter(&tc_host_api);
    hook_end();
    if (rc != TC_PLUGIN_OK) {
        return tc_err_set(err, TC_EINVAL, "plugin %s (%s): init_arbiter() refused (%d)", h->path,
                          plugin_label(h), rc);
    }
    return TC_OK;
}

const char *const *
tc_host_method_names(const tc_host_t *h)
{
    return h->names;
}

/* ---- binding to a service ---- */

static int
check_signature(const tc_host_t *h, const tc_plugin_method_t *pm, const tc_function_t *fn,
                tc_err_t *err)
{
    tc_buf_t sig;
    tc_buf_init(&sig);
    tc_signature_format(fn, &sig);
    uint64_t want = tc_signature_hash(sig.data, sig.len);
    int rc = TC_OK;
    if (pm->signature != want) {
        rc = tc_err_set(err, TC_ETYPE,
                        "plugin %s (%s): method '%s' was built against another signature: "
                        "the plugin has '%s' (0x%016" PRIx64 "), the IDL has '%.*s' (0x%016" PRIx64
                        "); rebuild it with a header from thriftcorn --plugin-header",
                        h->path, plugin_label(h), pm->name,
                        pm->signature_text != NULL ? pm->signature_text : "?", pm->signature,
                        (int)sig.len, (const char *)sig.data, want);
    }
    tc_buf_deinit(&sig);
    return rc;
}

tc_host_thread_t *
tc_host_thread_new(tc_host_t *h, const tc_service_t *svc, const char *called, bool expose_errors,
                   tc_err_t *err)
{
    tc_host_thread_t *t = tc_xcalloc(1, sizeof(*t));
    t->host = h;
    if (enroll(t) != TC_OK) {
        tc_err_set(err, TC_ELIMIT, "plugin %s (%s): more than %u handler threads in one process",
                   h->path, plugin_label(h), HANDLE_ID_MAX);
        goto fail;
    }
    t->call.plugin_minor = h->desc->abi_minor; /* the call struct is the thread's, reused */
    t->svc = svc;
    t->called = called;
    t->expose_errors = expose_errors;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    t->methods = tc_xcalloc(svc->nfunctions + 1, sizeof(*t->methods));
    tc_arena_init(&t->arena, 8192);
    for (size_t i = 0; i < h->nmethods; i++) {
        const tc_plugin_method_t *pm = &h->svc->methods[i];
        int idx = tc_schema_service_index(svc, pm->name, strlen(pm->name));
        if (idx < 0) {
            tc_err_set(err, TC_ENOTFOUND,
                       "plugin %s (%s): method '%s' is not a method of the service in the IDL",
                       h->path, plugin_label(h), pm->name);
            goto fail;
        }
        if (t->methods[idx] != NULL) {
            tc_err_set(err, TC_EINVAL, "plugin %s (%s): method '%s' is listed twice", h->path,
                       plugin_label(h), pm->name);
            goto fail;
        }
        if (check_signature(h, pm, svc->functions[idx], err) != TC_OK) {
            goto fail;
        }
        t->methods[idx] = pm;
    }
    return t;
fail:
    tc_host_thread_free(t);
    return NULL;
}

void
tc_host_thread_free(tc_host_thread_t *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&threads_lock);
    tc_host_thread_t **pp = &threads;
    while (*pp != NULL && *pp != t) {
        pp = &(*pp)->next;
    }
    if (*pp == t) {
        *pp = t->next;
    }
    pthread_mutex_unlock(&threads_lock);
    tc_arena_deinit(&t->arena);
    free(t->methods);
    free(t);
}

bool
tc_host_thread_serves(const tc_host_thread_t *t, int idx)
{
    return idx >= 0 && (size_t)idx < t->svc->nfunctions && t->methods[idx] != NULL;
}

/*
 * A TC_PLUGIN_SERIAL plugin is not thread-safe: its calls and its thread
 * hooks take turns on the library's lock. No-ops for any other plugin.
 */
static inline void
serial_enter(const tc_host_t *h)
{
    if (TC_UNLIKELY((h->desc->flags & TC_PLUGIN_SERIAL) != 0)) {
        pthread_mutex_lock(&h->serial->m);
    }
}

static inline void
serial_leave(const tc_host_t *h)
{
    if (TC_UNLIKELY((h->desc->flags & TC_PLUGIN_SERIAL) != 0)) {
        pthread_mutex_unlock(&h->serial->m);
    }
}

int
tc_host_thread_start(tc_host_thread_t *t, tc_err_t *err)
{
    const tc_plugin_t *d = t->host->desc;
    pthread_mutex_lock(&threads_lock);
    t->owner = pthread_self();
    t->owned = true;
    pthread_mutex_unlock(&threads_lock);
    if (t->started || d->init_thread == NULL) {
        t->started = true;
        return TC_OK;
    }
    hook_note(&in_init_thread, 1); /* its turn too: a wait on one that hangs is a hang */
    serial_enter(t->host);
    hook_begin(t->host, "init_thread");
    int rc = d->init_thread(&tc_host_api, &t->data);
    hook_end();
    serial_leave(t->host);
    hook_note(&in_init_thread, -1);
    if (rc != TC_PLUGIN_OK) {
        return tc_err_set(err, TC_EINVAL,
                          "plugin %s (%s): init_thread() for service %s failed (%d)", t->host->path,
                          plugin_label(t->host), t->svc->name, rc);
    }
    t->started = true;
    return TC_OK;
}

void
tc_host_thread_stop(tc_host_thread_t *t)
{
    const tc_plugin_t *d = t->host->desc;
    if (t->started && d->exit_thread != NULL) {
        hook_note(&in_exit_thread, 1); /* as init_thread: its turn is part of it */
        serial_enter(t->host);
        hook_begin(t->host, "exit_thread");
        d->exit_thread(&tc_host_api, t->data);
        hook_end();
        serial_leave(t->host);
        hook_note(&in_exit_thread, -1);
    }
    t->started = false;
    t->data = NULL;
}

/* ---- the call ---- */

void *
tc_host_call_thread_data(const tc_call_t *call)
{
    return call->thread->data;
}

void *
tc_host_call_alloc(tc_call_t *call, size_t size)
{
    if (TC_UNLIKELY(size > SIZE_MAX / 2)) {
        /* the arena aborts (a negative size, most likely): name the call its line cannot */
        tc_log(TC_LOG_CRITICAL,
               "plugin %s: call_alloc(%zu) in a call of %s.%s: over half the address space; the "
               "worker aborts",
               plugin_label(call->thread->host), size, call->thread->called, call->fn->name);
    }
    return tc_arena_alloc(&call->thread->arena, size);
}

/* " (during a call of S.m)" for the call running on this thread, if any. */
static void
during(const struct tc_call *running, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (running != NULL && running->fn != NULL) {
        (void)snprintf(buf, cap, " (during a call of %s.%s)", running->thread->called,
                       running->fn->name);
    }
}

/*
 * Refusals logged in the current second of the monotonic clock, and those
 * not logged since the last line said how many (under threads_lock). A
 * plugin that keeps a call and uses it in a loop must not flood the log.
 */
#define REFUSED_LINES_PER_S 50
static struct {
    long long sec;
    unsigned lines;
    unsigned long dropped;
} refused_log;

/* False when this second's lines are used up. Under threads_lock. */
static bool
refused_log_take(void)
{
    long long now = tc_clock_mono_ns() / TC_CLOCK_NS_PER_S;
    if (now != refused_log.sec) {
        if (refused_log.dropped > 0) {
            tc_log(TC_LOG_ERROR,
                   "plugin: %lu more refused uses of a tc_call_t were not logged (at most %d "
                   "lines a second)",
                   refused_log.dropped, REFUSED_LINES_PER_S);
            refused_log.dropped = 0;
        }
        refused_log.sec = now;
        refused_log.lines = 0;
    }
    if (refused_log.lines >= REFUSED_LINES_PER_S) {
        refused_log.dropped++;
        return false;
    }
    refused_log.lines++;
    return true;
}

void
tc_host_call_refused(const tc_call_t *handle, const struct tc_call *running, const char *what)
{
    uintptr_t v = (uintptr_t)handle;
    unsigned id = (v & 1) != 0 ? (unsigned)(v >> HANDLE_ID_SHIFT) : 0; /* 0: not a handle */
    uintptr_t fi = (v >> HANDLE_FN_SHIFT) & HANDLE_FN_MAX;
    char here[300];
    during(running, here, sizeof(here));
    /* the host thread that made it: alive while in 'threads', under the lock */
    pthread_mutex_lock(&threads_lock);
    if (!refused_log_take()) {
        pthread_mutex_unlock(&threads_lock);
        return;
    }
    const tc_host_thread_t *t = threads;
    while (t != NULL && (id == 0 || t->id != id)) {
        t = t->next;
    }
    if (t == NULL) {
        const char *plugin =
            running != NULL && running->thread != NULL ? plugin_label(running->thread->host) : "?";
        tc_log(TC_LOG_ERROR,
               "plugin %s: %s() refused a tc_call_t that is no call of a handler thread alive "
               "(kept past the end of its thread, or not a tc_call_t)%s",
               plugin, what, here);
    } else {
        const tc_function_t *fn =
            fi < HANDLE_FN_MAX && fi < t->svc->nfunctions ? t->svc->functions[fi] : NULL;
        const char *why = "used from another thread while its handler runs";
        if (atomic_load_explicit(&t->running, memory_order_relaxed) != v) {
            bool mine = t->owned && pthread_equal(t->owner, pthread_self());
            why = mine ? "used after its handler returned"
                       : "used after its handler returned, from another thread";
        }
        tc_log(TC_LOG_ERROR, "plugin %s: %s() refused the tc_call_t of %s.%s: %s%s",
               plugin_label(t->host), what, t->called, fn != NULL ? fn->name : "?", why, here);
    }
    pthread_mutex_unlock(&threads_lock);
}

bool
tc_host_running(char *buf, size_t cap)
{
    const struct tc_call *c = tc_host_live.call;
    if (cap > 0) {
        buf[0] = '\0';
    }
    if (c != NULL && c->thread != NULL && c->fn != NULL) {
        (void)snprintf(buf, cap, "plugin %s in a call of %s.%s", plugin_label(c->thread->host),
                       c->thread->called, c->fn->name);
        return true;
    }
    if (hook_host != NULL) {
        (void)snprintf(buf, cap, "plugin %s (%s) in its %s hook", plugin_label(hook_host),
                       hook_host->path, hook_name);
        return true;
    }
    return false;
}

/* The handler failed or misused the reply builder: INTERNAL_ERROR. */
static int
reply_failure(tc_host_thread_t *t, const tc_msg_hdr_t *m, bool oneway, int rc, tc_proto_t *out,
              size_t mark, tc_err_t *err)
{
    struct tc_call *c = &t->call;
    const tc_function_t *fn = c->fn;
    const char *kind = oneway ? " (oneway)" : "";
    /*
     * Formatted whole, then cut to fit 'err' between characters and made
     * UTF-8 (tc_log_utf8()): it may go to the client as a Thrift string.
     */
    char full[2 * TC_ERR_MSG_MAX];
    int code = TC_EINVAL;
    if (c->werr.code != TC_OK) {
        code = TC_ETYPE;
        (void)snprintf(full, sizeof(full), "%s.%s%s: plugin %s built a reply that does not fit: %s",
                       t->called, fn->name, kind, plugin_label(t->host), c->werr.msg);
    } else if (c->failmsg[0] != '\0') {
        (void)snprintf(full, sizeof(full), "%s.%s%s: %s", t->called, fn->name, kind, c->failmsg);
    } else {
        (void)snprintf(full, sizeof(full), "%s.%s%s: plugin %s handler failed (%d)", t->called,
                       fn->name, kind, plugin_label(t->host), rc);
    }
    char msg[TC_ERR_MSG_MAX];
    size_t len = tc_log_utf8(msg, sizeof(msg) - 1, full, strlen(full));
    msg[len] = '\0';
    tc_err_set(err, code, "%s", msg);
    if (!oneway) {
        out->out->len = mark;
        const char *text = t->expose_errors ? err->msg : "Internal error";
        tc_message_write_appex(out, m->name, m->name_len, m->seqid, TC_APPEX_INTERNAL_ERROR, text,
                               strlen(text));
    }
    return TC_APPEX_INTERNAL_ERROR;
}

void
tc_host_thread_set_header(tc_host_thread_t *t, tc_header_t *header)
{
    t->call.header = header;
}

int
tc_host_call(tc_host_thread_t *t, int idx, const tc_msg_hdr_t *m, bool oneway, tc_proto_t *in,
             tc_proto_t *out, tc_err_t *err)
{
    const tc_function_t *fn = t->svc->functions[idx];
    const tc_plugin_method_t *pm = t->methods[idx];
    struct tc_call *c = &t->call;
    const tc_view_t *args;
    if (tc_codec_decode_args(in, fn->args, &t->arena, &args, err) != TC_OK) {
        tc_arena_reset(&t->arena);
        /* as for a Lua handler: the call as named, then the argument or the innermost field */
        tc_err_prefix(err, "%s.%s%s: arguments: ", t->called, fn->name, oneway ? " (oneway)" : "");
        if (!oneway) {
            tc_message_write_appex(out, m->name, m->name_len, m->seqid, TC_APPEX_PROTOCOL_ERROR,
                                   err->msg, strlen(err->msg));
        }
        return TC_APPEX_PROTOCOL_ERROR;
    }
    size_t mark = out->out->len;
    c->thread = t;
    c->fn = fn;
    c->failmsg[0] = '\0';
    c->hdr_of = NULL; /* the connection's header object is reused by its next request */
    tc_err_clear(&c->werr);
    /*
     * A method the IDL declares two-way may come as a oneway message. Its
     * handler cannot tell, so it builds its reply as for a call, checked
     * as usual, and the reply is dropped below. A oneway method's writer
     * refuses every value.
     */
    bool build = !fn->oneway;
    if (build) {
        out->ops->write_message_begin(out, m->name, m->name_len, TC_MSG_REPLY, m->seqid);
    }
    tc_codec_writer_init(&c->w, build ? out : NULL, fn->result, &t->arena, &c->werr);

    t->seq = (t->seq + 1) & HANDLE_SEQ_MASK;
    uintptr_t fi = (uintptr_t)idx < HANDLE_FN_MAX ? (uintptr_t)idx : HANDLE_FN_MAX;
    /* NOLINTNEXTLINE(performance-no-int-to-ptr): a handle is a tag, never dereferenced */
    tc_call_t *handle = (tc_call_t *)(t->tag | fi << HANDLE_FN_SHIFT | t->seq << 1);

    serial_enter(t->host);
    atomic_store_explicit(&t->running, (uintptr_t)handle, memory_order_relaxed);
    tc_host_api_enter(handle, c);
    int rc = pm->handler(&tc_host_api, handle, args);
    tc_host_api_leave();
    atomic_store_explicit(&t->running, 0, memory_order_relaxed);
    serial_leave(t->host);

    int status = 0;
    if (rc != TC_PLUGIN_OK || (build && tc_codec_finish(&c->w) != TC_OK) || c->werr.code != TC_OK) {
        status = reply_failure(t, m, oneway, rc, out, mark, err);
    } else if (c->w.top_set && c->w.top_id != 0) {
        status = TC_HOST_DECLARED_EXCEPTION;
    }
    if (oneway) {
        out->out->len = mark; /* no reply */
    }
    tc_arena_reset(&t->arena);
    return status;
}
