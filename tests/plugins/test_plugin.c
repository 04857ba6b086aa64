/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small plugins of the tutorial Calculator for the host's tests, one
 * MODULE target per variant (tests/plugins/CMakeLists.txt):
 *   TP_GOOD      add and calculate in C (calculate crashes on logid -1,
 *                leaks 100 bytes on logid -2 and calls exit(7) on -3; add keeps its call past
 *                its handler for num1 3000 and uses it in num1 4000, and
 *                fails with a long UTF-8 text after num2 bytes of ASCII
 *                for num1 5000, with bytes that are not UTF-8 for 6000,
 *                and asks call_alloc() for num2 - 8 bytes, as a size_t,
 *                for 7000),
 *                lifecycle hooks that count, serial (init_thread and
 *                exit_thread wait while tp_hold(1) is in force); the rest
 *                is Lua's;
 *                and SharedService.getStruct (a value over the largest
 *                frame for key 7000)
 *   TP_BAD_ABI   built for ABI major 999, whose descriptor has only its
 *                version where this major has it
 *   TP_NO_ENTRY  exports no tc_plugin_entry
 *   TP_UNKNOWN   registers a method the IDL does not have
 *   TP_WRONG_SIG registers add with another signature
 *   TP_CRASH_INIT like TP_GOOD's Calculator, but init_worker and
 *                init_arbiter die of SIGSEGV
 *   TP_HANG_INIT like TP_GOOD's Calculator, but init_worker and
 *                init_arbiter never return
 *   TP_EXIT_INIT like TP_GOOD's Calculator, but init_worker and
 *                init_arbiter call exit(9)
 *   TP_HANG_EXIT like TP_GOOD's Calculator, but exit_worker never returns
 *   TP_HANG_EXIT_THREAD like TP_GOOD's Calculator, but exit_thread never
 *                returns
 *   TP_TWICE     lists its Calculator twice, by its full and short name
 *   TP_THREAD_FAIL like TP_GOOD's Calculator, but init_thread returns 42
 *   TP_HANG_THREAD like TP_GOOD's Calculator, but init_thread never returns
 *   TP_BG_THREAD like TP_GOOD's Calculator, and init_worker starts a thread
 *                of its own that exit_worker does not stop: from then on
 *                it runs the library's code until the process ends
 *   TP_ZERO_ABI  returns a descriptor left zeroed (abi_major 0)
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include "calculator_sig.h"
#if defined(TP_GOOD)
#include "shared_sig.h"
#endif

#include "plugin_test_util.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * init_worker, exit_worker, init_thread, exit_thread, init_arbiter; then
 * the thread hooks running now, and the most that ever ran at once.
 */
static atomic_int counts[7];
static atomic_int hold; /* tp_hold() */

/* For test_host.c (found with dlsym on the same library). */
TC_PLUGIN_EXPORT int tp_count(int which);
TC_PLUGIN_EXPORT void tp_hold(int on);

int
tp_count(int which)
{
    return atomic_load(&counts[which]);
}

/* While 'on', init_thread and exit_thread wait (up to 5 s) before they return. */
void
tp_hold(int on)
{
    atomic_store(&hold, on);
}

/* A thread hook begins: count it, and wait while held, so others may overlap it. */
static void
hook_enter(void)
{
    int now = atomic_fetch_add(&counts[5], 1) + 1;
    int most = atomic_load(&counts[6]);
    while (now > most && !atomic_compare_exchange_weak(&counts[6], &most, now)) {
    }
    for (int ms = 0; ms < 5000 && atomic_load(&hold) != 0; ms++) {
        (void)usleep(1000);
    }
}

static void
hook_leave(void)
{
    atomic_fetch_sub(&counts[5], 1);
}

/*
 * A plugin that keeps its tc_call_t past the handler (test_host.c):
 * add(3000, _) keeps it in 'kept' and, while it runs, has a thread of its
 * own write the result through it; add(4000, _) writes through 'kept' in
 * its own call. The host refuses each use; the return codes are kept here.
 */
static tc_call_t *kept;
static int rc_other_thread = 1; /* 1: not tried */
static int rc_next_call = 1;

TC_PLUGIN_EXPORT tc_call_t *tp_kept(void);
TC_PLUGIN_EXPORT int tp_kept_rc(int which);

tc_call_t *
tp_kept(void)
{
    return kept;
}

int
tp_kept_rc(int which)
{
    return which == 0 ? rc_other_thread : rc_next_call;
}

typedef struct put_job {
    const tc_host_api_t *api;
    tc_call_t *call;
    int rc;
} put_job_t;

static void *
put_from_thread(void *arg)
{
    put_job_t *job = arg;
    job->rc = job->api->put_i32(job->call, TC_RESULT, 666);
    return NULL;
}

/* put_i32(call, TC_RESULT, 666) on a thread of the plugin's own; its return code. */
static int
put_on_other_thread(const tc_host_api_t *api, tc_call_t *call)
{
    put_job_t job = {api, call, 1};
    pthread_t th;
    if (pthread_create(&th, NULL, put_from_thread, &job) != 0) {
        return 2;
    }
    pthread_join(th, NULL);
    return job.rc;
}

/*
 * TP_CRASH_INIT's hooks: death by SIGSEGV, the same in every build (a
 * sanitizer's handler would turn a bad pointer into a report and exit 1).
 * TP_HANG_INIT's: no return, until a signal ends the process. TP_EXIT_INIT's:
 * exit(9).
 */
static void
crash_init(void)
{
#if defined(TP_CRASH_INIT)
    (void)signal(SIGSEGV, SIG_DFL);
    (void)raise(SIGSEGV);
#elif defined(TP_HANG_INIT)
    for (;;) {
        (void)pause();
    }
#elif defined(TP_EXIT_INIT)
    exit(9);
#endif
}

#if defined(TP_BG_THREAD)
/*
 * TP_BG_THREAD's own thread, started by init_worker and never joined, as
 * a plugin's timer or flusher thread that exit_worker only asks to stop.
 * It waits for exit_worker, then spins in the library's code until the
 * process ends; exit_worker returns once it spins, so the host's exit
 * path from there on runs while the library's code does.
 */
static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static int bg_exiting;      /* under bg_lock */
static atomic_int bg_spins; /* 1 once it spins */

static void *
bg_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&bg_lock);
    while (bg_exiting == 0) {
        pthread_cond_wait(&bg_cond, &bg_lock);
    }
    pthread_mutex_unlock(&bg_lock);
    atomic_store(&bg_spins, 1);
    for (volatile unsigned long n = 0;; n++) {
    }
    return NULL;
}

static int
bg_start(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, bg_main, NULL) != 0) {
        return -1;
    }
    (void)pthread_detach(th);
    return TC_PLUGIN_OK;
}

static void
bg_stop_without_join(void)
{
    pthread_mutex_lock(&bg_lock);
    bg_exiting = 1;
    pthread_cond_signal(&bg_cond);
    pthread_mutex_unlock(&bg_lock);
    for (int ms = 0; ms < 5000 && atomic_load(&bg_spins) == 0; ms++) {
        (void)usleep(1000);
    }
}
#endif

static int
init_worker(const tc_host_api_t *api)
{
    crash_init();
    api->log(TC_PLUGIN_LOG_INFO, "test plugin: init_worker");
    atomic_fetch_add(&counts[0], 1);
#if defined(TP_BG_THREAD)
    return bg_start();
#else
    return TC_PLUGIN_OK;
#endif
}

static void
exit_worker(const tc_host_api_t *api)
{
    (void)api;
#if defined(TP_HANG_EXIT)
    for (;;) {
        (void)pause();
    }
#endif
    atomic_fetch_add(&counts[1], 1);
#if defined(TP_BG_THREAD)
    bg_stop_without_join();
#endif
}

static int
init_thread(const tc_host_api_t *api, void **data)
{
    (void)api;
#if defined(TP_THREAD_FAIL)
    (void)data;
    return 42; /* neither TC_PLUGIN_OK nor negative */
#else
#if defined(TP_HANG_THREAD)
    for (;;) {
        (void)pause();
    }
#endif
    static int marker;
    hook_enter();
    *data = &marker;
    atomic_fetch_add(&counts[2], 1);
    hook_leave();
    return TC_PLUGIN_OK;
#endif
}

static void
exit_thread(const tc_host_api_t *api, void *data)
{
    (void)api;
    (void)data;
#if defined(TP_HANG_EXIT_THREAD)
    for (;;) {
        (void)pause();
    }
#endif
    hook_enter();
    atomic_fetch_add(&counts[3], 1);
    hook_leave();
}

static int
init_arbiter(const tc_host_api_t *api)
{
    crash_init();
    api->log(TC_PLUGIN_LOG_INFO, "test plugin: init_arbiter");
    atomic_fetch_add(&counts[4], 1);
    return TC_PLUGIN_OK;
}

static int
add(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t a = 0;
    int32_t b = 0;
    if (api->thread_data(call) == NULL) {
        return api->fail(call, "init_thread() did not run on this thread");
    }
    (void)api->get_i32(args, TC_ARG_Calculator_add_num1, &a);
    (void)api->get_i32(args, TC_ARG_Calculator_add_num2, &b);
    /* scratch from the call's arena */
    int32_t *sum = api->call_alloc(call, sizeof(*sum));
    *sum = a + b;
    if (a == 1000) {
        return api->fail(call, "add refuses 1000");
    }
    if (a == 2000) {
        return api->put_string(call, TC_RESULT, "not an i32"); /* misuse: INTERNAL_ERROR */
    }
    if (a == 5000 && b >= 0 && b < 100) {
        /* b bytes of ASCII, then 2-byte characters past where fail() cuts its text */
        char text[512];
        size_t n = 0;
        for (; n < (size_t)b; n++) {
            text[n] = 'a';
        }
        while (n + 2 < sizeof(text)) {
            text[n++] = (char)0xc3; /* U+00E9 */
            text[n++] = (char)0xa9;
        }
        text[n] = '\0';
        return api->fail(call, "%s", text);
    }
    if (a == 6000) {
        return api->fail(call, "bad \xff\xfe bytes \xc3"); /* not UTF-8 */
    }
    if (a == 8000) {
        /* that it ran shows in the log, also called as a oneway message, which has no reply */
        api->log(TC_PLUGIN_LOG_INFO, "test plugin: add(8000, %d) ran", (int)b);
    }
    if (a == 7000) {
        (void)api->call_alloc(call, (size_t)b - 8); /* a negative size: the worker aborts */
    }
    if (a == 3000) {
        kept = call;
        rc_other_thread = put_on_other_thread(api, call);
    }
    if (a == 4000) {
        rc_next_call = api->put_i32(kept, TC_RESULT, 666);
    }
    return api->put_i32(call, TC_RESULT, *sum + 1000000); /* tells C from Lua in the tests */
}

static int
calculate(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t logid = 0;
    (void)api->get_i32(args, TC_ARG_Calculator_calculate_logid, &logid);
    if (logid == -1) {
        volatile int *null = NULL;
        return *null; /* a crash: it takes down only this worker */
    }
    if (logid == -3) {
        exit(7); /* the worker ends, and its log says which plugin and call did it */
    }
    if (logid == -2) {
        /* a leak, for the test that LeakSanitizer checks a worker at exit */
        char *lost = malloc(100);
        if (lost != NULL) {
            memset(lost, 'x', 100);
            logid = lost[0];
        }
    }
    return api->put_i32(call, TC_RESULT, logid);
}

static const tc_plugin_method_t methods[] = {
#if defined(TP_UNKNOWN)
    {"nosuch", 0x1234, "void nosuch()", tp_nothing},
#elif defined(TP_WRONG_SIG)
    {"add", 0x0123456789abcdefULL, "i64 add(1:i64,2:i64)", tp_nothing},
#else
    TC_METHOD_Calculator_add(add),
    TC_METHOD_Calculator_calculate(calculate),
#endif
    {NULL, 0, NULL, NULL},
};

#if defined(TP_GOOD)
/*
 * SharedService.getStruct(key): {key, "plugin SharedService"}; for key
 * 7000 the value is 2^31 - 2 bytes, a reply over the largest frame, from
 * pages never written (they take no memory unless the host copies them:
 * test_limits.py watches the worker's peak).
 */
static int
shared_get_struct(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t key = 0;
    (void)api->get_i32(args, TC_ARG_SharedService_getStruct_key, &key);
    api->begin_struct(call, TC_RESULT);
    api->put_i32(call, TC_FIELD_shared_SharedStruct_key, key);
    if (key == 7000) {
        size_t len = 2147483646;
        void *huge = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (huge == MAP_FAILED) {
            return api->fail(call, "mmap of %zu bytes failed", len);
        }
        api->put_binary(call, TC_FIELD_shared_SharedStruct_value, huge, len);
        munmap(huge, len);
    } else {
        api->put_string(call, TC_FIELD_shared_SharedStruct_value, "plugin SharedService");
    }
    return api->end(call);
}

static const tc_plugin_method_t shared_methods[] = {
    TC_METHOD_SharedService_getStruct(shared_get_struct),
    {NULL, 0, NULL, NULL},
};
#endif

static const tc_plugin_service_t services[] = {
    {"tutorial.Calculator", methods},
#if defined(TP_TWICE)
    {"Calculator", methods},
#endif
#if defined(TP_GOOD)
    {"shared.SharedService", shared_methods},
#endif
    {NULL, NULL},
};

static const tc_plugin_t plugin = {
#ifdef TP_BAD_ABI
    .abi_major = 999,
#else
    .abi_major = TC_PLUGIN_ABI_MAJOR,
#endif
    .abi_minor = TC_PLUGIN_ABI_MINOR,
    .name = "test",
    .version = "0",
    .flags = TC_PLUGIN_SERIAL,
    .init_arbiter = init_arbiter,
    .init_worker = init_worker,
    .init_thread = init_thread,
    .exit_thread = exit_thread,
    .exit_worker = exit_worker,
    .services = services,
};

#ifdef TP_ZERO_ABI
/* A descriptor never filled in: zeroed static storage, as a forgotten initializer leaves it. */
static tc_plugin_t zeroed;
#endif

#ifdef TP_BAD_ABI
/*
 * A descriptor of another ABI major: only its first two fields, the
 * version, are where this major has them; what follows is not a name.
 */
static const struct {
    uint32_t abi_major;
    uint32_t abi_minor;
    uintptr_t not_a_name;
} other_major = {999, TC_PLUGIN_ABI_MINOR, 1};
#endif

#ifndef TP_NO_ENTRY
const tc_plugin_t *
tc_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    (void)add;
    (void)calculate;
#if defined(TP_BAD_ABI)
    (void)plugin;
    return (const tc_plugin_t *)(const void *)&other_major;
#elif defined(TP_ZERO_ABI)
    (void)plugin;
    return &zeroed;
#else
    return &plugin;
#endif
}
#else
TC_PLUGIN_EXPORT const tc_plugin_t *tc_plugin_entry_v0(void);

const tc_plugin_t *
tc_plugin_entry_v0(void)
{
    (void)add;
    (void)calculate;
    return &plugin;
}
#endif
