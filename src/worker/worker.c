/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker process: builds one loop per handler thread after fork, then its
 * main thread waits for signals and acts as the watchdog that moves
 * connections away from a thread stuck in a handler.
 */
#include "worker/worker.h"

#include "core/alloc.h"
#include "core/log.h"
#include "worker/loop.h"

#include <errno.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* A handler call longer than this lets other threads take its connections. */
#define STEAL_AFTER 0.005
/* Watchdog period while handlers run, and while all is quiet. */
#define WATCH_BUSY_NS 2000000L
#define WATCH_IDLE_NS 50000000L

typedef struct worker {
    tc_loop_shared_t shared;
    tc_loop_t **loops;
    int nloops;
} worker_t;

static int
accepting_loops(int threads)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    n = n < 1 ? 1 : n;
    return threads < n ? threads : (int)n;
}

/* Move connections off threads stuck in a handler; true if any thread is busy. */
static bool
watch(worker_t *w)
{
    double now = tc_conn_now();
    bool any_busy = false;
    for (int i = 0; i < w->nloops; i++) {
        double busy = tc_loop_busy_for(w->loops[i], now);
        if (busy == 0.0) {
            continue;
        }
        any_busy = true;
        if (busy < STEAL_AFTER) {
            continue;
        }
        /* the idle loop with the fewest connections takes them */
        tc_loop_t *to = NULL;
        for (int k = 0; k < w->nloops; k++) {
            tc_loop_t *c = w->loops[k];
            if (k != i && tc_loop_busy_for(c, now) == 0.0 &&
                (to == NULL || tc_loop_nconns(c) < tc_loop_nconns(to))) {
                to = c;
            }
        }
        if (to != NULL) {
            (void)tc_loop_rebalance(w->loops[i], to, STEAL_AFTER, now);
        }
    }
    return any_busy;
}

static int
boot(worker_t *w, const tc_config_t *cfg, const tc_listener_t *ls, size_t n)
{
    memset(w, 0, sizeof(*w));
    w->shared.cfg = cfg;
    w->shared.listeners = ls;
    w->shared.nlisteners = n;
    w->shared.protocol = tc_proto_find(cfg->protocol);
    w->shared.conn.transport = tc_transport_find(cfg->transport);
    w->shared.conn.protocol = w->shared.protocol;
    w->shared.conn.handler = &tc_loop_conn_handler;
    w->shared.conn.max_frame_size = cfg->max_frame_size;
    w->shared.conn.max_message_size = cfg->max_message_size;
    atomic_init(&w->shared.stopping, 0);
    /* "auto": NULL, detected per connection */
    if ((w->shared.protocol == NULL && strcmp(cfg->protocol, "auto") != 0) ||
        (w->shared.conn.transport == NULL && strcmp(cfg->transport, "auto") != 0)) {
        tc_log(TC_LOG_CRITICAL, "unknown transport '%s' or protocol '%s'", cfg->transport,
               cfg->protocol);
        return TC_WORKER_EXIT_BOOT;
    }
    w->loops = tc_xcalloc((size_t)cfg->threads, sizeof(tc_loop_t *));
    int naccept = accepting_loops(cfg->threads);
    for (int i = 0; i < cfg->threads; i++) {
        tc_err_t err;
        tc_err_clear(&err);
        w->loops[i] = tc_loop_new(&w->shared, i, i < naccept, &err);
        if (w->loops[i] == NULL) {
            tc_log(TC_LOG_CRITICAL, "worker failed to load the handler: %s", err.msg);
            return TC_WORKER_EXIT_BOOT;
        }
        w->nloops++;
    }
    return 0;
}

static void
shutdown_loops(worker_t *w)
{
    for (int i = 0; i < w->nloops; i++) {
        tc_loop_join(w->loops[i]);
    }
    for (int i = 0; i < w->nloops; i++) {
        tc_loop_free(w->loops[i]);
    }
    free(w->loops);
}

int
tc_worker_main(const tc_config_t *cfg, const tc_listener_t *listeners, size_t n, int index)
{
    /* follow the arbiter: if it dies, so do we */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* loop threads inherit the mask */
    evthread_use_pthreads();

    worker_t w;
    int rc = boot(&w, cfg, listeners, n);
    if (rc != 0) {
        shutdown_loops(&w);
        return rc;
    }
    for (int i = 0; i < w.nloops; i++) {
        if (tc_loop_start(w.loops[i]) != TC_OK) {
            tc_log(TC_LOG_CRITICAL, "cannot start handler thread %d", i);
            _exit(TC_WORKER_EXIT_BOOT);
        }
    }
    tc_log(TC_LOG_DEBUG, "worker %d ready with %d thread(s)", index, w.nloops);

    bool stopping = false;
    long period = WATCH_IDLE_NS;
    for (;;) {
        struct timespec ts = {0, period};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGQUIT) {
            _exit(0); /* quick stop: the arbiter asked for it */
        }
        if (sig == SIGTERM && !stopping) {
            stopping = true;
            atomic_store(&w.shared.stopping, 1);
            tc_log(TC_LOG_INFO, "worker %d: graceful stop", index);
            for (int i = 0; i < w.nloops; i++) {
                tc_loop_stop(w.loops[i]);
            }
        }
        if (stopping) {
            /* wait for every loop to finish its calls; INT/QUIT still cut it short */
            bool all = true;
            for (int i = 0; i < w.nloops; i++) {
                all = all && tc_loop_done(w.loops[i]);
            }
            if (all) {
                break;
            }
            period = WATCH_BUSY_NS * 5;
            continue;
        }
        period = watch(&w) ? WATCH_BUSY_NS : WATCH_IDLE_NS;
    }
    shutdown_loops(&w);
    tc_log(TC_LOG_INFO, "worker %d exiting", index);
    return 0;
}
