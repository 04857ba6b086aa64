/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter's watch over its workers' heartbeat pages (worker/heartbeat.h):
 * who is ready, who missed its heartbeat and is aborted, who began a stop
 * of its own, and when the arbiter's loop (arbiter.c) must look again.
 */
#include "arbiter/arbiter_internal.h"
#include "arbiter/sdnotify.h"
#include "core/log.h"
#include "worker/heartbeat.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#define ABORT_GRACE 2.0   /* seconds from SIGABRT (timeout) to SIGKILL */
#define READY_POLL  0.02  /* how often to look at a young boot, in seconds (ready_look()) */
#define READY_SHARE 5     /* ... then every fifth of the boot's age */
#define READY_MAX   0.5   /* ... but at least this often, in seconds */
#define BEAT_POLL   1.0   /* how often to look at heartbeats */
#define POLL_MAX_MS 60000 /* longest wait in poll(): a far deadline is looked at again */

/* ---- readiness ---- */

/*
 * Whether 'w' has said on its heartbeat page that it is ready, at any look
 * since its fork: the page is the worker's to write, and one that takes it
 * back must not have its exit taken for a failed boot, which stops the
 * server (a worker running someone else's code could do that).
 */
bool
tc_watch_seen_ready(worker_t *w)
{
    w->ready = w->ready || (w->hb != NULL && tc_heartbeat_ready(w->hb));
    return w->ready;
}

/*
 * Workers of 'gen' not retired by the arbiter that said they are ready
 * (draining ones serve on). One aborted for its timeout is not counted: it
 * is being killed, even if it became ready since (SIGABRT waits for its
 * loop, which runs once it is), and "Ready" is never said of it.
 */
int
tc_watch_count_ready(arbiter_t *a, unsigned gen)
{
    int n = 0;
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        n += w->pid > 0 && !w->retiring && w->abort_at == 0 && w->gen == gen &&
             (w->hb == NULL || tc_watch_seen_ready(w));
    }
    return n;
}

/*
 * The first generation ready: when_ready and READY=1. A reload's: switch to
 * it. The workers a roll back started again: the READY=1 owed to systemd.
 */
void
tc_watch_check_ready(arbiter_t *a)
{
    if (a->stopping) {
        return;
    }
    if (a->ready_owed && a->target > 0 && tc_watch_count_ready(a, a->cur->id) >= a->target) {
        a->ready_owed = false;
        char status[TC_SDNOTIFY_STATUS_MAX];
        tc_sdnotify_status("READY=1", tc_arbiter_status(a, status, sizeof(status)));
    }
    if (!a->announced && a->target > 0 && tc_watch_count_ready(a, a->cur->id) >= a->target) {
        a->announced = true;
        tc_log(TC_LOG_INFO, "Ready: generation %u with %d worker(s)", a->cur->id, a->target);
        tc_arbiter_server_hook(a, a->cur, TC_LOG_ERROR, "when_ready", NULL, 0);
        char status[TC_SDNOTIFY_STATUS_MAX];
        if (a->master_pid > 0) {
            /* started by SIGUSR2: systemd's main process becomes this one */
            tc_sdnotify_mainpid(a->pid, "READY=1", tc_arbiter_status(a, status, sizeof(status)));
        } else {
            tc_sdnotify_status("READY=1", tc_arbiter_status(a, status, sizeof(status)));
        }
    }
    if (a->pend != NULL && tc_watch_count_ready(a, a->pend->id) >= a->pend->target) {
        tc_generation_commit_reload(a);
    }
}

/* ---- heartbeats ---- */

/*
 * What a worker that does not end does, for the log line: " (in its NAME
 * hook)" while its main thread runs a hook, which then cannot log why.
 */
const char *
tc_watch_in_hook(const worker_t *w, char *buf, size_t len)
{
    const char *name = w->hb != NULL ? tc_heartbeat_hook(w->hb) : NULL;
    if (name == NULL) {
        return "";
    }
    (void)snprintf(buf, len, " (in its %s hook)", name);
    return buf;
}

/*
 * A worker whose heartbeat stopped for its timeout (a handler call stuck
 * that long, or a boot that long) gets SIGABRT, then SIGKILL ABORT_GRACE
 * later. Idle workers keep beating, so idle connections never count.
 * Each page is read here once a wake-up, which also notes the workers that
 * became ready (tc_watch_seen_ready()).
 */
void
tc_watch_check_heartbeats(arbiter_t *a)
{
    double t = tc_clock_mono_s();
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        /* at every wake-up: a worker that said it is ready cannot take it back */
        bool ready = w->pid > 0 && tc_watch_seen_ready(w);
        if (w->pid <= 0 || w->hb == NULL || w->timeout <= 0 || w->killed) {
            continue;
        }
        /*
         * a boot that took longer than 'timeout' is one even when the
         * worker was ready before this look (every 20 to 500 ms while it
         * boots, ready_look()): the verdict does not hang on when the
         * arbiter looked.
         * Read once, at the first look that sees it ready: what the worker
         * writes on its page later cannot make a boot of a served worker.
         */
        bool late = ready && !w->boot_judged && tc_heartbeat_boot_time(w->hb) > w->timeout;
        w->boot_judged = w->boot_judged || ready;
        if (w->abort_at == 0 && (late || t - tc_heartbeat_last(w->hb) > w->timeout)) {
            char hook[64];
            tc_log(TC_LOG_CRITICAL, "WORKER TIMEOUT (pid:%d)%s%s", (int)w->pid,
                   ready && !late ? "" : " while booting", tc_watch_in_hook(w, hook, sizeof(hook)));
            tc_heartbeat_set_timed_out(w->hb); /* (before the signal: what the worker reads) */
            tc_arbiter_signal_worker(w, SIGABRT);
            w->abort_at = t;
            w->boot_timeout = !ready || late;
        } else if (w->abort_at > 0 && t - w->abort_at >= ABORT_GRACE) {
            char hook[64];
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) still alive %g s after SIGABRT%s; killing it",
                   (int)w->pid, ABORT_GRACE, tc_watch_in_hook(w, hook, sizeof(hook)));
            tc_arbiter_signal_worker(w, SIGKILL);
        }
    }
}

/*
 * A worker of the serving generation that began a graceful stop of its own
 * (max_requests, a SIGTERM sent by someone else) drains: its replacement
 * starts meanwhile (with another index), it still counts as ready, and
 * graceful_timeout bounds the drain as for a stop the arbiter asked for. A
 * worker of a pending generation is left to the reload's rules.
 */
void
tc_watch_check_stopping(arbiter_t *a)
{
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && w->hb != NULL && !w->retiring && !w->draining && w->gen == a->cur->id &&
            tc_heartbeat_stopping(w->hb)) {
            w->draining = true;
            w->deadline = tc_clock_mono_s() + w->graceful;
        }
    }
}

/* ---- when to look next ---- */

static void
consider(double *next, double when)
{
    if (*next < 0 || when < *next) {
        *next = when;
    }
}

/*
 * When to look next, at 't', whether a worker that is not ready yet has
 * become so. While its boot is young, every READY_POLL: a quick boot, and
 * the "Ready" line or the reload waiting on it, is seen within 20 ms. Then
 * every fifth of the boot's age, up to READY_MAX: a slow boot is seen
 * at most a fifth of its length (and 0.5 s) late, and one that hangs, which
 * nothing ends with 'timeout' 0, wakes the arbiter twice a second rather
 * than 50 times. No verdict hangs on when the arbiter looked: the worker
 * measures its own boot (tc_watch_check_heartbeats()).
 */
static double
ready_look(const worker_t *w, double t)
{
    double every = (t - w->started) / READY_SHARE;
    if (every < READY_POLL) {
        every = READY_POLL;
    } else if (every > READY_MAX) {
        every = READY_MAX;
    }
    return t + every;
}

/* Milliseconds until the next deadline, spawn, heartbeat or readiness check; -1: none. */
int
tc_watch_next_timeout(const arbiter_t *a)
{
    double t = tc_clock_mono_s();
    double next = -1;
    if (a->stopping) {
        consider(&next, a->stop_deadline);
    } else if (tc_arbiter_count_active(a, a->cur->id) < a->target) {
        consider(&next, a->next_spawn);
    }
    if (a->check.pid > 0 && !a->check_killed) {
        consider(&next, a->check_started + a->check_limit);
    }
    for (size_t i = 0; i < a->nslots; i++) {
        const worker_t *w = &a->workers[i];
        if (w->pid <= 0) {
            continue;
        }
        if ((w->retiring || w->draining) && !w->killed) {
            consider(&next, w->deadline);
        }
        if (w->hb != NULL && !w->retiring && !tc_heartbeat_ready(w->hb)) {
            consider(&next, ready_look(w, t));
        }
        if (w->hb != NULL && w->timeout > 0 && !w->killed) {
            consider(&next, w->abort_at > 0 ? w->abort_at + ABORT_GRACE : t + BEAT_POLL);
        }
        if (w->hb != NULL && !w->retiring && !w->draining) {
            consider(&next, t + BEAT_POLL); /* tc_watch_check_stopping() */
        }
    }
    if (next < 0) {
        return -1;
    }
    if (next <= t) {
        return 0;
    }
    /* a deadline days away (graceful_timeout may be up to a year) is looked at again */
    double ms = (next - t) * 1000.0;
    return ms < POLL_MAX_MS ? (int)ms + 1 : POLL_MAX_MS;
}
