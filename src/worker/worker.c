/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker process: builds one loop per handler thread after fork, then its
 * main thread waits for signals and acts as the watchdog that moves
 * connections away from a thread stuck in a handler.
 */
#include "worker/worker.h"

#include "config/hooks.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/selfpipe.h"
#include "plugin/host.h"
#include "worker/accesslog.h"
#include "worker/loop.h"
#include "worker/loop_watch.h"
#include "worker/pace.h"

#include <event2/thread.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define TC_LEAK_CHECK 1
#endif

/* A handler call longer than this lets other threads take its connections. */
#define STEAL_AFTER 0.005
/*
 * ... but one that computes while every CPU is taken keeps them this long:
 * longer than the kernel makes a runnable thread wait for its turn, so a
 * short call merely preempted is not mistaken for a long one.
 */
#define STEAL_RUNNING_AFTER 0.05
/* The shortest watchdog period a small 'timeout' asks for (the others: pace.h). */
#define WATCH_MIN_NS 1000000L
/*
 * The main thread writes the access log lines a loop thread has held for
 * access_log_flush and this much more: those of a thread inside a long
 * handler call, which cannot run its own timer (that one writes the others
 * first: it is due this much earlier than the main thread's longest wait).
 * It looks every LOG_LOOK_S at most: under load it wakes every few ms, and
 * each look reads every loop's buffer.
 */
#define LOG_LATE_NS TC_PACE_IDLE_NS
#define LOG_LOOK_S  0.025

typedef struct worker {
    tc_loop_shared_t shared;
    tc_listener_t *listeners; /* copies of the arbiter's, descriptors and all (names borrowed) */
    tc_loop_t **loops;
    int nloops;
    const tc_worker_args_t *args;
    bool stopping;
    double stop_since; /* when the graceful stop began */
    double log_look;   /* when the main thread last looked at the access log buffers */
    int ncpus;         /* CPUs the worker may run on */
    struct idle_loop {
        tc_loop_t *loop;
        int nconns;
    } * idle;     /* the watchdog's scratch: one per loop */
    double *busy; /* the watchdog's scratch: each loop's time in its call, read once a tick */
} worker_t;

static int
by_nconns(const void *a, const void *b)
{
    const struct idle_loop *x = a;
    const struct idle_loop *y = b;
    return (x->nconns > y->nconns) - (x->nconns < y->nconns);
}

/* The CPUs this process may run on (taskset, cgroups), not all the machine's. */
static int
allowed_cpus(void)
{
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                          : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* A connection waits in the backlog of one of the worker's listeners. */
static bool
connections_waiting(const worker_t *w)
{
    struct pollfd fds[16];
    size_t n = w->shared.nlisteners < 16 ? w->shared.nlisteners : 16;
    for (size_t i = 0; i < n; i++) {
        fds[i].fd = w->shared.listeners[i].fd;
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    /* more listeners than that: say yes, as if it were unknown */
    return w->shared.nlisteners > n || poll(fds, (nfds_t)n, 0) > 0;
}

/*
 * Move connections off threads stuck in a handler; true if any thread is
 * busy. A thread is stuck when one call has taken STEAL_AFTER and it is
 * blocked (sleeping in a system call: its other connections would wait for
 * nothing), or it is running while fewer calls run than the worker has
 * CPUs (an idle CPU can serve them). A thread that computes while every
 * CPU is taken keeps its connections until STEAL_RUNNING_AFTER: moving them
 * sooner would only add threads that take turns on the same CPUs (a short
 * call preempted looks stuck for a few milliseconds). The connections are
 * dealt out to every idle thread, fewest connections first, so a worker
 * spreads in one step. Also in a graceful stop: the thread they move to
 * closes the idle ones at once and answers the calls sent on them, where
 * the stuck thread would have done so only once its call ended.
 */
static bool
watch(worker_t *w)
{
    double now = tc_clock_mono_s();
    int nbusy = 0;
    for (int i = 0; i < w->nloops; i++) {
        w->busy[i] = tc_loop_busy_for(w->loops[i], now);
        nbusy += w->busy[i] > 0.0;
    }
    for (int i = 0; i < w->nloops; i++) {
        tc_loop_t *from = w->loops[i];
        double busy = w->busy[i];
        if (busy == 0.0) {
            continue;
        }
        if (busy < STEAL_AFTER) {
            continue;
        }
        /*
         * Something to move: connections besides the one in the call, or the
         * turn to accept while a client waits for it (handing the turn on
         * when none does only wakes threads for nothing; in a stop no
         * thread accepts any more, and the listeners are being closed).
         */
        if (tc_loop_nconns(from) <= 1 &&
            (w->stopping || !tc_loop_accepting(from) || !connections_waiting(w))) {
            continue;
        }
        if (busy < STEAL_RUNNING_AFTER && nbusy >= w->ncpus && tc_loop_watch_runnable(from)) {
            continue;
        }
        /* the idle loops, fewest connections first */
        int nidle = 0;
        for (int k = 0; k < w->nloops; k++) {
            tc_loop_t *c = w->loops[k];
            if (k != i && w->busy[k] == 0.0 && !tc_loop_done(c)) {
                w->idle[nidle].loop = c;
                w->idle[nidle].nconns = tc_loop_nconns(c);
                nidle++;
            }
        }
        qsort(w->idle, (size_t)nidle, sizeof(w->idle[0]), by_nconns);
        tc_loop_t *to[TC_LOOP_WATCH_SPREAD_MAX];
        int nto = nidle < TC_LOOP_WATCH_SPREAD_MAX ? nidle : TC_LOOP_WATCH_SPREAD_MAX;
        for (int k = 0; k < nto; k++) {
            to[k] = w->idle[k].loop;
        }
        (void)tc_loop_watch_rebalance(from, to, nto, STEAL_AFTER, now);
    }
    return nbusy > 0;
}

/* A loop is inside a call (after tc_pace_arm(): see pace.h). */
static bool
any_call(const worker_t *w)
{
    for (int i = 0; i < w->nloops; i++) {
        if (tc_loop_in_call(w->loops[i])) {
            return true;
        }
    }
    return false;
}

/* max_requests plus up to max_requests_jitter, drawn once per worker; 0: no limit. */
static long long
call_limit(const tc_config_t *cfg)
{
    if (cfg->max_requests <= 0) {
        return 0;
    }
    long long limit = cfg->max_requests;
    if (cfg->max_requests_jitter > 0) {
        unsigned seed = (unsigned)getpid() ^ (unsigned)(tc_clock_mono_ns() % TC_CLOCK_NS_PER_S);
        /* in long long: the jitter may be INT_MAX, where 'int' + 1 overflows */
        limit += rand_r(&seed) % ((long long)cfg->max_requests_jitter + 1);
    }
    return limit;
}

static int
boot(worker_t *w, const tc_worker_args_t *args)
{
    const tc_config_t *cfg = args->cfg;
    memset(w, 0, sizeof(*w));
    w->args = args;
    w->shared.cfg = cfg;
    w->listeners = tc_xcalloc(args->nlisteners + 1, sizeof(*w->listeners));
    memcpy(w->listeners, args->listeners, args->nlisteners * sizeof(*w->listeners));
    w->shared.listeners = w->listeners;
    w->shared.nlisteners = args->nlisteners;
    w->shared.protocol = tc_proto_find(cfg->protocol);
    w->shared.conn.transport = tc_transport_find(cfg->transport);
    w->shared.conn.protocol = w->shared.protocol;
    w->shared.conn.handler = &tc_loop_conn_handler;
    w->shared.conn.max_frame_size = cfg->max_frame_size;
    w->shared.conn.max_message_size = cfg->max_message_size;
    atomic_init(&w->shared.stopping, 0);
    atomic_init(&w->shared.shutdown, false);
    atomic_init(&w->shared.listening, 0);
    atomic_init(&w->shared.nconns, 0);
    atomic_init(&w->shared.full_logged, 0);
    w->shared.call_limit = call_limit(cfg);
    atomic_init(&w->shared.calls, 0);
    atomic_init(&w->shared.watch_idle, false);
    w->shared.max_conns = cfg->worker_connections > 0 ? cfg->worker_connections : INT_MAX;
    w->shared.board = args->board;
    w->shared.board_slot = args->board != NULL ? args->board_slot : -1;
    /* "auto": NULL, detected per connection */
    if ((w->shared.protocol == NULL && strcmp(cfg->protocol, "auto") != 0) ||
        (w->shared.conn.transport == NULL && strcmp(cfg->transport, "auto") != 0)) {
        tc_log(TC_LOG_CRITICAL, "unknown transport '%s' or protocol '%s'", cfg->transport,
               cfg->protocol);
        return TC_WORKER_EXIT_BOOT;
    }
    w->loops = tc_xcalloc((size_t)cfg->threads, sizeof(tc_loop_t *));
    w->idle = tc_xcalloc((size_t)cfg->threads, sizeof(*w->idle));
    w->busy = tc_xcalloc((size_t)cfg->threads, sizeof(*w->busy));
    w->shared.loops = w->loops;
    w->ncpus = allowed_cpus();
    int naccept = cfg->threads < w->ncpus ? cfg->threads : w->ncpus;
    for (int i = 0; i < cfg->threads; i++) {
        tc_err_t err;
        tc_err_clear(&err);
        w->loops[i] = tc_loop_new(&w->shared, i, i < naccept, &err);
        if (w->loops[i] == NULL) {
            tc_log(TC_LOG_CRITICAL, "worker failed to load the handler: %s", err.msg);
            return TC_WORKER_EXIT_BOOT;
        }
        w->nloops++;
        w->shared.nloops = w->nloops;
        if (cfg->conn_hooks) {
            /* connection hooks run on this loop's thread, in a Lua state of its own */
            tc_hooks_t *h = tc_hooks_new(cfg->path, cfg->source, cfg->source_len, &err);
            if (h == NULL && err.code != TC_OK) {
                tc_log(TC_LOG_ERROR, "connection hooks not loaded: %s", err.msg);
            }
            tc_loop_set_hooks(w->loops[i], h);
        }
    }
    atomic_store(&w->shared.listening, w->nloops);
    return 0;
}

static void
shutdown_loops(worker_t *w)
{
    for (int i = 0; i < w->nloops; i++) {
        tc_loop_join(w->loops[i]);
    }
    w->shared.nloops = 0; /* closing what is left wakes no loop */
    for (int i = 0; i < w->nloops; i++) {
        tc_loop_free(w->loops[i]);
    }
    free(w->loops);
    free(w->idle);
    free(w->busy);
    free(w->listeners);
}

/*
 * A worker ends with _exit(), which skips LeakSanitizer's check at exit. In
 * ASan builds with THRIFTCORN_LEAK_CHECK=1 in the environment, a graceful
 * stop runs that check here, after every loop has been joined and freed; a
 * leak is reported on stderr (the error log). It is not on by default: on a
 * large heap it takes a good part of a second, out of graceful_timeout.
 */
static void
check_leaks(void)
{
#ifdef TC_LEAK_CHECK
    const char *on = getenv("THRIFTCORN_LEAK_CHECK"); /* NOLINT(concurrency-mt-unsafe) */
    if (on != NULL && strcmp(on, "1") == 0) {
        (void)__lsan_do_recoverable_leak_check();
    }
#endif
}

/* ---- hooks, heartbeat, recycling ---- */

/* Run a worker-side hook with the worker table. */
static void
run_hook(const worker_t *w, const char *name)
{
    if (!tc_hooks_has(w->args->cfg->hooks, name)) {
        return;
    }
    const tc_hook_field_t info[] = {
        {"pid", NULL, (long long)getpid()},
        {"index", NULL, w->args->index},
        {"generation", NULL, (long long)w->args->generation},
        {"threads", NULL, w->nloops},
    };
    const tc_hook_arg_t args[] = {{info, TC_ARRAY_LEN(info), 0}};
    /* one that hangs is named by the arbiter, as this thread cannot say it */
    tc_heartbeat_t *hb = w->args->heartbeat;
    if (hb != NULL) {
        tc_heartbeat_set_hook(hb, name);
    }
    tc_hooks_run(w->args->cfg->hooks, TC_LOG_ERROR, name, args, 1);
    if (hb != NULL) {
        tc_heartbeat_set_hook(hb, NULL);
    }
}

/*
 * A hook the worker runs just before it leaves with _exit(), which drops
 * what stdio holds: what the hook wrote to stdout or to a file the config
 * opened and did not flush is flushed once it returns. Only when the hook
 * is set: a handler thread inside a write of its own holds that stream,
 * and the exit with it, until the arbiter's SIGKILL.
 */
static void
run_last_hook(const worker_t *w, const char *name)
{
    if (tc_hooks_has(w->args->cfg->hooks, name)) {
        run_hook(w, name);
        (void)fflush(NULL);
    }
}

/*
 * A plugin's init_worker, init_thread, exit_thread or exit_worker begins or
 * ends (tc_host_set_hook_cb()): named on the page as the main thread's
 * hooks are, so that a boot or a stop hanging in one is named too. init_thread runs on the handler
 * threads, which the main thread waits for before the worker is ready.
 */
static void
note_plugin_hook(const char *hook, void *arg)
{
    char name[32];
    if (hook != NULL) {
        (void)snprintf(name, sizeof(name), "plugin %s", hook);
    }
    tc_heartbeat_set_hook(arg, hook != NULL ? name : NULL);
}

/*
 * The loop whose handler call (or connection hook) has run longest, and for
 * how long; -1 when none runs. What the heartbeat was dated back to: the
 * reason of an abort, which the log gives.
 */
static int
longest_call(const worker_t *w, double *longest)
{
    double now = tc_clock_mono_s();
    int which = -1;
    *longest = 0.0;
    for (int i = 0; i < w->nloops; i++) {
        double busy = tc_loop_busy_for(w->loops[i], now);
        if (busy > *longest) {
            *longest = busy;
            which = i;
        }
    }
    return which;
}

/*
 * Beat, dated back to the start of the longest handler call still running:
 * once a call has run for 'timeout' seconds, the arbiter sees a heartbeat
 * that old and replaces us, 'timeout' after the call began. Idle loops do
 * not count, so idle connections never look like a hang.
 */
static void
beat(const worker_t *w)
{
    if (w->args->heartbeat == NULL) {
        return;
    }
    double stuck = 0.0;
    if (w->args->cfg->timeout > 0) {
        (void)longest_call(w, &stuck);
    }
    tc_heartbeat_beat_since(w->args->heartbeat, stuck);
}

static long long
calls(const worker_t *w)
{
    return atomic_load_explicit(&w->shared.calls, memory_order_relaxed);
}

/*
 * A stopping worker closes its listeners once no loop accepts any more
 * (loop.c): each loop stops accepting as the stop reaches it, and one
 * inside a handler call is taken off here meanwhile, so that a long call
 * does not keep new clients connecting to a worker that will never accept
 * them. Looked at until they are closed.
 */
static void
quit_listening(worker_t *w)
{
    for (int i = 0; i < w->nloops && atomic_load(&w->shared.listening) > 0; i++) {
        (void)tc_loop_quit_listening(w->loops[i]);
    }
}

/*
 * The one graceful path: SIGTERM (reload, TTOU, stop) and max_requests.
 * Closing this worker's listeners is harmless where other processes hold
 * them (the arbiter, other workers, a new arbiter, systemd): they go on
 * listening. At a stop of the whole server the arbiter has closed its own,
 * and the last worker to close them ends the listening.
 */
static void
begin_graceful(worker_t *w)
{
    w->stopping = true;
    w->stop_since = tc_clock_mono_s();
    const tc_heartbeat_t *hb = w->args->heartbeat;
    atomic_store(&w->shared.shutdown, hb != NULL && tc_heartbeat_shutdown(hb));
    atomic_store(&w->shared.stopping, 1);
    if (w->args->board != NULL) {
        tc_board_set_open(w->args->board, w->args->board_slot, false);
    }
    if (w->args->heartbeat != NULL) {
        tc_heartbeat_set_stopping(w->args->heartbeat); /* the arbiter replaces us meanwhile */
    }
    quit_listening(w);
    for (int i = 0; i < w->nloops; i++) {
        tc_loop_stop(w->loops[i]);
    }
}

static void
reopen_logs(const tc_config_t *cfg)
{
    int rc = tc_log_open(cfg->errorlog);
    if (rc != TC_OK) {
        tc_log(TC_LOG_ERROR, "Cannot reopen the error log %s: %s", cfg->errorlog, tc_strerror(rc));
    }
    rc = tc_accesslog_reopen();
    if (rc != TC_OK) {
        tc_log(TC_LOG_ERROR, "Cannot reopen the access log %s: %s", cfg->accesslog,
               tc_strerror(rc));
    }
}

/* ---- signals ---- */

/*
 * The worker's signals go through the self-pipe of core/selfpipe.c to its
 * main thread, as the arbiter's do, rather than staying blocked for
 * sigtimedwait(): a program that a hook or a handler starts (os.execute,
 * io.popen) inherits the mask, and SIGTERM could not end one started with
 * it blocked. A handler thread's system call that a signal interrupts is
 * restarted (SA_RESTART) where the kernel can.
 *
 * wait_signal(): the next signal the handler passed on, waiting up to 'ns'
 * nanoseconds; 0: none came.
 */
static int
wait_signal(long ns)
{
    int sig = 0;
    int n = tc_selfpipe_wait(&sig, 1, ns);
    if (n < 0) {
        /* interrupted, most often by the handler that has just written its byte */
        n = tc_selfpipe_read(&sig, 1);
    }
    return n == 1 ? sig : 0;
}

void
tc_worker_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGABRT);
    sigaddset(set, SIGWINCH);
    /*
     * the arbiter's, which `killall -USR2 thriftcorn` sends to every worker
     * too: taken and dropped, rather than end the worker in the middle of
     * its calls (SIGUSR2) or suspend it (SIGTTIN, SIGTTOU)
     */
    sigaddset(set, SIGUSR2);
    sigaddset(set, SIGTTIN);
    sigaddset(set, SIGTTOU);
}

bool
tc_worker_prepare(pid_t arbiter)
{
    /* follow the arbiter: if it dies, so do we (and if it died already, now) */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int rc = tc_selfpipe_open();
    if (rc != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "worker: cannot make its signal pipe: %s", tc_strerror(rc));
        _exit(1); /* a death at boot */
    }
    /* the handlers first: what the fork held, pending, goes into the pipe as it is unblocked */
    sigset_t set;
    tc_worker_signals(&set);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(&set, sig) == 1) {
            tc_selfpipe_catch(sig);
        }
    }
    /* a log over a file size limit loses lines, not the worker */
    tc_selfpipe_ignore(SIGPIPE);
    tc_selfpipe_ignore(SIGXFSZ);
    (void)pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return getppid() == arbiter;
}

/* Whether the worker's parent is no longer its arbiter (killed, crashed). */
static bool
arbiter_gone(const worker_t *w)
{
    return w->args->arbiter > 0 && getppid() != w->args->arbiter;
}

/*
 * As the worker ends: the access log lines its loop threads hold, then the
 * count of the lines lost since the last report, which would end with it.
 */
static void
last_lines(void)
{
    tc_accesslog_flush_older(0);
    tc_accesslog_report_lost(true);
}

/*
 * The arbiter is gone (killed; its parent-death SIGTERM may be on its way):
 * nothing enforces graceful_timeout or timeout but the worker itself. It
 * stops gracefully, and exits once the stop has taken graceful_timeout.
 */
static void
orphaned(worker_t *w)
{
    if (!w->stopping) {
        tc_log(TC_LOG_WARNING, "worker %d: the arbiter is gone: graceful stop", w->args->index);
        begin_graceful(w);
    } else if (tc_clock_mono_s() - w->stop_since >= w->args->cfg->graceful_timeout) {
        tc_log(TC_LOG_ERROR,
               "worker %d: the arbiter is gone and calls still run after %g s "
               "(graceful_timeout): exiting",
               w->args->index, w->args->cfg->graceful_timeout);
        last_lines();
        _exit(1);
    }
}

/* The worker's index, for exit_note(). */
static int exit_index;

/*
 * A worker ends with _exit(): exit() comes from code that is not the
 * worker's, os.exit() in a handler or hook most often, or a C plugin's
 * handler or hook, which this thread then runs. The arbiter's log line gives only
 * the status; this one says where it came from.
 */
static void
exit_note(void)
{
    char plugin[512];
    if (tc_host_running(plugin, sizeof(plugin))) {
        tc_log(TC_LOG_ERROR, "worker %d: exit() called by %s: the worker ends", exit_index, plugin);
    } else {
        tc_log(TC_LOG_ERROR,
               "worker %d: exit() called from Lua code (os.exit) or a library: the "
               "worker ends",
               exit_index);
    }
    last_lines();
}

/* ---- the worker's life ---- */

/*
 * The process-wide part of the boot, before any loop: libevent's locking,
 * the hooks' view of this worker, the exit note, and the naming of a
 * plugin's hook that hangs.
 */
static void
init_process(const tc_worker_args_t *args)
{
    evthread_use_pthreads();
    tc_hooks_set_worker(args->index, args->generation, args->cfg->threads);
    exit_index = args->index;
    if (atexit(exit_note) != 0) {
        tc_log(TC_LOG_WARNING, "worker %d: cannot register the exit note", args->index);
    }

    if (args->heartbeat != NULL) {
        tc_host_set_hook_cb(note_plugin_hook, args->heartbeat);
    }
}

/*
 * Start every handler thread and wait until each is past its start, which
 * may still fail (a plugin's init_thread: exit status 3): a worker that
 * says it is ready has booted, and a status 3 from it later is no boot
 * failure. A start that hangs is a boot that hangs (the arbiter's 'timeout').
 */
static void
start_threads(const worker_t *w)
{
    for (int i = 0; i < w->nloops; i++) {
        if (tc_loop_start(w->loops[i]) != TC_OK) {
            tc_log(TC_LOG_CRITICAL, "cannot start handler thread %d", i);
            _exit(TC_WORKER_EXIT_BOOT);
        }
    }
    for (int i = 0; i < w->nloops; i++) {
        while (!tc_loop_up(w->loops[i])) {
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

/* Tell the board, the arbiter and the post_worker_init hook that the worker is ready. */
static void
set_ready(const worker_t *w)
{
    const tc_worker_args_t *args = w->args;
    if (args->board != NULL) {
        /*
         * from now on the other workers may leave clients to this one; before
         * the ready flag, so that a worker the arbiter counts as ready (its
         * "Ready:" line) is one the others already weigh
         */
        tc_board_set_open(args->board, args->board_slot, true);
    }
    if (args->heartbeat != NULL) {
        tc_heartbeat_set_ready(args->heartbeat);
    }
    tc_log(TC_LOG_DEBUG, "worker %d ready with %d thread(s)", args->index, w->nloops);
    run_hook(w, "post_worker_init");
}

/*
 * The longest the main thread waits: a beat at least every quarter of
 * 'timeout', so that an idle worker's beat is never near as old as that
 * (every 50 ms was, for a 'timeout' of 0.05).
 */
static long
beat_period(const tc_config_t *cfg)
{
    long beat_ns = TC_PACE_IDLE_NS;
    if (cfg->timeout > 0 && cfg->timeout < 4 * (double)TC_PACE_IDLE_NS / 1e9) {
        beat_ns = (long)(cfg->timeout / 4 * 1e9);
        beat_ns = beat_ns > WATCH_MIN_NS ? beat_ns : WATCH_MIN_NS;
    }
    return beat_ns;
}

/*
 * SIGINT, SIGQUIT: the quick stop the arbiter asked for. The lines of the
 * calls answered are written before the hook (the arbiter kills a worker
 * still alive 1 s from now, in a hook or not), those of the calls that end
 * meanwhile after it.
 */
static TC_NORETURN void
quick_stop(const worker_t *w)
{
    last_lines();
    run_last_hook(w, "worker_int");
    last_lines();
    _exit(0);
}

/*
 * SIGABRT: the arbiter saw a heartbeat 'timeout' seconds old. Why goes to
 * the log before the hook, and so do the access log lines held: one that
 * hangs is SIGKILLed 2 s from now.
 */
static TC_NORETURN void
aborted(const worker_t *w)
{
    const tc_worker_args_t *args = w->args;
    const tc_config_t *cfg = args->cfg;
    double longest = 0.0;
    int which = longest_call(w, &longest);
    double boot = args->heartbeat != NULL ? tc_heartbeat_boot_time(args->heartbeat) : 0;
    if (args->heartbeat == NULL || !tc_heartbeat_timed_out(args->heartbeat)) {
        /*
         * `kill -ABRT`, or an abort() whose thread has not ended the
         * process yet (without a page, the arbiter times nothing out)
         */
        tc_log(TC_LOG_ERROR, "worker %d: aborted: a SIGABRT the arbiter did not send (no timeout)",
               args->index);
    } else if (boot > cfg->timeout) {
        tc_log(TC_LOG_ERROR, "worker %d: aborted: its boot took %.3f s (timeout %g s)", args->index,
               boot, cfg->timeout);
    } else if (which >= 0) {
        char what[512];
        size_t n = tc_loop_watch_busy_with(w->loops[which], what, sizeof(what));
        tc_log(TC_LOG_ERROR,
               "worker %d: aborted: a call on thread %d has run for %.1f s "
               "(timeout %g s)%s%s",
               args->index, which, longest, cfg->timeout, n > 0 ? ": " : "", what);
    } else {
        tc_log(TC_LOG_ERROR, "worker %d: aborted: no heartbeat for %g s (timeout)", args->index,
               cfg->timeout);
    }
    last_lines();
    run_last_hook(w, "worker_abort");
    last_lines();
    _exit(1);
}

/* Act on 'sig' from wait_signal() (0: none came). */
static void
take_signal(worker_t *w, int sig)
{
    if (sig == SIGINT || sig == SIGQUIT) {
        quick_stop(w);
    }
    if (sig == SIGABRT) {
        aborted(w);
    }
    if (sig == SIGUSR1) {
        reopen_logs(w->args->cfg);
    }
    if (sig == SIGTERM && !w->stopping) {
        if (arbiter_gone(w)) {
            orphaned(w); /* the kernel's parent-death SIGTERM: say why */
            return;
        }
        tc_log(TC_LOG_INFO, "worker %d: graceful stop", w->args->index);
        begin_graceful(w);
    }
}

/*
 * What the main thread does at each wake-up, signal or not: max_requests,
 * the beat, the access log lines held too long, and the arbiter's death.
 */
static void
tick(worker_t *w)
{
    const tc_config_t *cfg = w->args->cfg;
    long long limit = w->shared.call_limit;
    if (limit > 0 && !w->stopping && calls(w) >= limit) {
        tc_log(TC_LOG_INFO, "Autorestarting worker after current request (max_requests %lld)",
               limit);
        begin_graceful(w);
    }
    beat(w);
    if (cfg->access_log_buffer > 0 && tc_clock_mono_s() - w->log_look >= LOG_LOOK_S) {
        w->log_look = tc_clock_mono_s();
        tc_accesslog_flush_older((long long)(cfg->access_log_flush * 1e9) + LOG_LATE_NS);
    }
    tc_accesslog_report_lost(false);
    if (TC_UNLIKELY(arbiter_gone(w))) {
        orphaned(w);
    }
}

/* Every loop has finished its calls and left. */
static bool
all_done(const worker_t *w)
{
    for (int i = 0; i < w->nloops; i++) {
        if (!tc_loop_done(w->loops[i])) {
            return false;
        }
    }
    return true;
}

/*
 * How long to wait for the next signal: the watchdog's pace (pace.h),
 * never longer than 'beat_ns'. 'busy': a loop is inside a call, or the
 * listeners of a stop are still open.
 */
static long
next_period(worker_t *w, tc_pace_t *pace, bool busy, long beat_ns)
{
    long period = tc_pace_next(pace, busy, w->stopping);
    if (period == TC_PACE_IDLE_NS && w->nloops > 1) {
        /* with one loop there is nothing to move: no call need wake us */
        tc_pace_arm(pace, &w->shared.watch_idle);
        if (any_call(w)) {
            tc_pace_disarm(pace, &w->shared.watch_idle);
            period = TC_PACE_BUSY_NS;
        }
    }
    return period < beat_ns ? period : beat_ns;
}

/*
 * The main thread once the worker is ready: signals, the watchdog and the
 * beat, until a graceful stop is over (SIGINT, SIGQUIT and SIGABRT end the
 * process from here).
 */
static void
serve(worker_t *w)
{
    long beat_ns = beat_period(w->args->cfg);
    long period = beat_ns;
    tc_pace_t pace;
    tc_pace_init(&pace);
    for (;;) {
        int sig = wait_signal(period);
        tc_pace_disarm(&pace, &w->shared.watch_idle);
        take_signal(w, sig);
        tick(w);
        bool listening = false;
        if (w->stopping) {
            listening = atomic_load(&w->shared.listening) > 0;
            if (listening) {
                quit_listening(w);
            }
            /* wait for every loop to finish its calls; INT/QUIT still cut it short */
            if (all_done(w)) {
                break;
            }
        }
        period = next_period(w, &pace, watch(w) || listening, beat_ns);
    }
}

int
tc_worker_main(const tc_worker_args_t *args)
{
    init_process(args);
    worker_t w;
    int rc = boot(&w, args);
    if (rc != 0) {
        shutdown_loops(&w);
        return rc;
    }
    start_threads(&w);
    set_ready(&w);
    serve(&w);
    shutdown_loops(&w);
    tc_accesslog_report_lost(true); /* after the loops' last lines */
    run_hook(&w, "worker_exit");
    /*
     * _exit() skips stdio's buffers: what handlers and plugins printed
     * (print, io.write, printf) to a stdout that is a file or a pipe would
     * lose its last few KiB. Every thread is joined, so no lock is held.
     */
    (void)fflush(NULL);
    tc_log(TC_LOG_INFO, "worker %d exiting", args->index);
    check_leaks();
    return 0;
}
