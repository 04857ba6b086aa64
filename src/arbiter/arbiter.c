/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter (master process): binds the listeners, forks the workers, reaps
 * and replaces them, and turns the operator's signals into actions. One
 * thread, no event library: a poll() on the signal self-pipe is the loop.
 */
#include "arbiter/arbiter.h"

#include "arbiter/signals.h"
#include "build_config.h"
#include "core/alloc.h"
#include "core/log.h"
#include "transport/listener.h"
#include "worker/worker.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_BACKLOG   2048
#define GRACEFUL_TIMEOUT 30.0 /* seconds a worker gets to finish after SIGTERM */
#define QUICK_TIMEOUT    1.0  /* seconds a worker gets after SIGQUIT */
#define KILL_WAIT        5.0  /* seconds to wait for the reaping after SIGKILL */
#define BOOT_WINDOW      1.0  /* a worker that dies younger than this died at boot */
#define BACKOFF_MIN      0.1  /* first delay after two deaths at boot in a row */
#define BACKOFF_MAX      5.0
#define MAX_SIGNALS      32 /* read from the pipe per wake-up */

typedef struct worker {
    pid_t pid;       /* 0: a free slot */
    int index;       /* 0..workers-1, reused by the replacement; for logs */
    double started;  /* monotonic seconds */
    double deadline; /* when a retiring worker gets SIGKILL */
    bool retiring;   /* sent SIGTERM because the pool shrank */
    bool killed;     /* sent SIGKILL */
} worker_t;

typedef struct arbiter {
    const tc_config_t *cfg;
    tc_listener_t *listeners;
    size_t nlisteners; /* opened so far */
    worker_t *workers;
    size_t nslots;
    int target; /* workers wanted; SIGTTIN/SIGTTOU move it */
    int status; /* exit status of tc_arbiter_run() */

    bool stopping;
    bool quick;           /* stopping with SIGQUIT rather than SIGTERM */
    bool stop_killed;     /* the stragglers got SIGKILL */
    double stop_deadline; /* next escalation while stopping */

    double backoff;         /* delay after the next death at boot; 0: none yet */
    double next_spawn;      /* no fork before this time */
    double last_boot_death; /* when a worker last died at boot */
} arbiter_t;

/* ---- helpers ---- */

static double
now(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "TERM" for SIGTERM; sigabbrev_np() is thread-safe, unlike strsignal(). */
static const char *
signame(int sig)
{
    const char *name = sigabbrev_np(sig);
    return name != NULL ? name : "?";
}

static size_t
count_live(const arbiter_t *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nslots; i++) {
        n += a->workers[i].pid > 0;
    }
    return n;
}

/* Live workers that are not on their way out. */
static int
count_active(const arbiter_t *a)
{
    int n = 0;
    for (size_t i = 0; i < a->nslots; i++) {
        n += a->workers[i].pid > 0 && !a->workers[i].retiring;
    }
    return n;
}

static void
signal_worker(worker_t *w, int sig)
{
    /* ESRCH: it died already and SIGCHLD is on its way */
    if (kill(w->pid, sig) < 0 && errno != ESRCH) {
        int rc = -errno;
        tc_log(TC_LOG_ERROR, "Cannot send SIG%s to worker (pid:%d): %s", signame(sig), (int)w->pid,
               tc_strerror(rc));
    }
    if (sig == SIGKILL) {
        w->killed = true;
    }
}

static void
signal_all(arbiter_t *a, int sig)
{
    for (size_t i = 0; i < a->nslots; i++) {
        if (a->workers[i].pid > 0) {
            signal_worker(&a->workers[i], sig);
        }
    }
}

/* ---- listeners ---- */

static int
open_listeners(arbiter_t *a)
{
    const tc_config_t *cfg = a->cfg;
    if (cfg->nbinds == 0) {
        tc_log(TC_LOG_ERROR, "No address to listen on: 'bind' is empty");
        return TC_EINVAL;
    }
    a->listeners = tc_xcalloc(cfg->nbinds, sizeof(*a->listeners));
    for (size_t i = 0; i < cfg->nbinds; i++) {
        tc_err_t err;
        tc_err_clear(&err);
        int rc = tc_listener_open(&a->listeners[i], cfg->binds[i], LISTEN_BACKLOG, &err);
        if (rc != TC_OK) {
            tc_log(TC_LOG_ERROR, "Cannot listen: %s", err.msg);
            return rc;
        }
        a->nlisteners++;
        tc_log(TC_LOG_INFO, "Listening at: %s (%d)", a->listeners[i].name, (int)getpid());
    }
    return TC_OK;
}

static void
close_listeners(arbiter_t *a)
{
    for (size_t i = 0; i < a->nlisteners; i++) {
        tc_listener_close(&a->listeners[i], true);
    }
    free(a->listeners);
    a->listeners = NULL;
    a->nlisteners = 0;
}

/* ---- spawning ---- */

static worker_t *
free_slot(arbiter_t *a)
{
    for (size_t i = 0; i < a->nslots; i++) {
        if (a->workers[i].pid == 0) {
            return &a->workers[i];
        }
    }
    size_t n = a->nslots ? a->nslots * 2 : 4;
    a->workers = tc_xrealloc(a->workers, n * sizeof(*a->workers));
    memset(a->workers + a->nslots, 0, (n - a->nslots) * sizeof(*a->workers));
    worker_t *w = &a->workers[a->nslots];
    a->nslots = n;
    return w;
}

/* The smallest index no live worker uses: a replacement takes its predecessor's. */
static int
free_index(const arbiter_t *a)
{
    for (int index = 0;; index++) {
        bool used = false;
        for (size_t i = 0; i < a->nslots && !used; i++) {
            used = a->workers[i].pid > 0 && a->workers[i].index == index;
        }
        if (!used) {
            return index;
        }
    }
}

/*
 * A worker died at boot (or could not be forked). The first such death
 * respawns at once; each further one doubles the delay before the next fork,
 * from BACKOFF_MIN up to BACKOFF_MAX. A worker that has stayed up for
 * BOOT_WINDOW since the last death at boot ends the streak.
 */
static void
note_boot_death(arbiter_t *a, double t)
{
    for (size_t i = 0; i < a->nslots; i++) {
        const worker_t *w = &a->workers[i];
        if (w->pid > 0 && w->started > a->last_boot_death && t - w->started >= BOOT_WINDOW) {
            a->backoff = 0;
        }
    }
    if (a->backoff > 0) {
        a->next_spawn = t + a->backoff;
        tc_log(TC_LOG_WARNING, "Workers keep dying at boot; next start in %.1f s", a->backoff);
    }
    a->backoff = a->backoff > 0 ? a->backoff * 2 : BACKOFF_MIN;
    a->backoff = a->backoff > BACKOFF_MAX ? BACKOFF_MAX : a->backoff;
    a->last_boot_death = t;
}

static void
spawn_worker(arbiter_t *a)
{
    int index = free_index(a);
    pid_t pid = tc_signals_fork();
    if (pid < 0) {
        tc_log(TC_LOG_ERROR, "Cannot fork a worker: %s", tc_strerror(pid));
        note_boot_death(a, now());
        return;
    }
    if (pid == 0) {
        _exit(tc_worker_main(a->cfg, a->listeners, a->nlisteners, index));
    }
    worker_t *w = free_slot(a);
    memset(w, 0, sizeof(*w));
    w->pid = pid;
    w->index = index;
    w->started = now();
    tc_log(TC_LOG_INFO, "Booting worker with pid: %d", (int)pid);
}

/* SIGTERM to the highest-numbered active worker, so the indexes stay 0..n-1. */
static void
retire_worker(arbiter_t *a)
{
    worker_t *last = NULL;
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->retiring && (last == NULL || w->index > last->index)) {
            last = w;
        }
    }
    if (last != NULL) {
        tc_log(TC_LOG_INFO, "Stopping worker (pid:%d)", (int)last->pid);
        last->retiring = true;
        last->deadline = now() + GRACEFUL_TIMEOUT;
        signal_worker(last, SIGTERM);
    }
}

/* Bring the number of active workers to the target. */
static void
manage_workers(arbiter_t *a)
{
    if (a->stopping) {
        return;
    }
    int active = count_active(a);
    while (active > a->target) {
        retire_worker(a);
        active--;
    }
    while (active < a->target && now() >= a->next_spawn) {
        spawn_worker(a);
        active++;
    }
}

/* ---- stopping ---- */

/*
 * Graceful: SIGTERM, GRACEFUL_TIMEOUT to finish. Quick: SIGQUIT, QUICK_TIMEOUT.
 * A quick stop cuts a graceful one short; a second quick stop kills at once.
 */
static void
begin_stop(arbiter_t *a, bool quick)
{
    double t = now();
    if (a->stopping && quick && a->quick) {
        signal_all(a, SIGKILL);
        a->stop_killed = true;
        a->stop_deadline = t + KILL_WAIT;
        return;
    }
    if (a->stopping && !quick) {
        return;
    }
    a->stopping = true;
    a->quick = quick;
    a->stop_killed = false;
    a->stop_deadline = t + (quick ? QUICK_TIMEOUT : GRACEFUL_TIMEOUT);
    signal_all(a, quick ? SIGQUIT : SIGTERM);
}

/* SIGKILL whoever outlived its deadline. Returns false when giving up on them. */
static bool
enforce_deadlines(arbiter_t *a)
{
    double t = now();
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && w->retiring && !w->killed && t >= w->deadline) {
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) did not stop within %.0f s; killing it",
                   (int)w->pid, GRACEFUL_TIMEOUT);
            signal_worker(w, SIGKILL);
        }
    }
    if (!a->stopping || t < a->stop_deadline) {
        return true;
    }
    if (a->stop_killed) {
        tc_log(TC_LOG_ERROR, "%zu worker(s) did not exit after SIGKILL; leaving them",
               count_live(a));
        return false;
    }
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->killed) {
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) did not stop within %.0f s; killing it",
                   (int)w->pid, a->quick ? QUICK_TIMEOUT : GRACEFUL_TIMEOUT);
            signal_worker(w, SIGKILL);
        }
    }
    a->stop_killed = true;
    a->stop_deadline = t + KILL_WAIT;
    return true;
}

/* ---- reaping ---- */

static void
log_exit(const arbiter_t *a, const worker_t *w, int status)
{
    bool asked = a->stopping || w->retiring;
    int pid = (int)w->pid;
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        tc_log(code == 0 ? TC_LOG_INFO : TC_LOG_ERROR, "Worker (pid:%d) exited with code %d", pid,
               code);
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGKILL && !w->killed) {
            tc_log(TC_LOG_ERROR, "Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?", pid);
        } else {
            tc_log(asked ? TC_LOG_WARNING : TC_LOG_ERROR, "Worker (pid:%d) was sent SIG%s!", pid,
                   signame(sig));
        }
    }
}

static void
worker_exited(arbiter_t *a, worker_t *w, int status)
{
    double t = now();
    log_exit(a, w, status);
    bool asked = a->stopping || w->retiring;
    bool boot_error = WIFEXITED(status) && WEXITSTATUS(status) == TC_WORKER_EXIT_BOOT;
    w->pid = 0;
    if (asked) {
        return;
    }
    if (boot_error) {
        /* handler code that cannot load will not load on the next try either */
        tc_log(TC_LOG_ERROR, "Worker failed to boot.");
        a->status = 1;
        begin_stop(a, false);
        return;
    }
    if (t - w->started < BOOT_WINDOW) {
        note_boot_death(a, t);
    } else {
        a->backoff = 0;
    }
}

/* waitpid() every dead child, without blocking. */
static void
reap_workers(arbiter_t *a)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) {
            return;
        }
        if (pid < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != ECHILD) {
                int rc = -errno;
                tc_log(TC_LOG_ERROR, "waitpid: %s", tc_strerror(rc));
            }
            return;
        }
        worker_t *w = NULL;
        for (size_t i = 0; i < a->nslots && w == NULL; i++) {
            w = a->workers[i].pid == pid ? &a->workers[i] : NULL;
        }
        if (w != NULL) {
            worker_exited(a, w, status);
        }
    }
}

/* ---- signals ---- */

static void
handle_signal(arbiter_t *a, int sig)
{
    if (sig == SIGCHLD) {
        return; /* every wake-up reaps */
    }
    char name[16];
    size_t i = 0;
    for (const char *p = signame(sig); *p != '\0' && i < sizeof(name) - 1; p++) {
        name[i++] = (char)tolower((unsigned char)*p); /* as gunicorn logs it */
    }
    name[i] = '\0';
    tc_log(TC_LOG_INFO, "Handling signal: %s", name);
    if (a->stopping && sig != SIGTERM && sig != SIGINT && sig != SIGQUIT) {
        tc_log(TC_LOG_INFO, "Ignored: shutting down");
        return;
    }
    switch (sig) {
    case SIGTERM:
        begin_stop(a, false);
        break;
    case SIGINT:
    case SIGQUIT:
        begin_stop(a, true);
        break;
    case SIGHUP:
        tc_log(TC_LOG_INFO, "Hang up: reload is not implemented yet");
        break;
    case SIGTTIN:
        a->target++;
        tc_log(TC_LOG_INFO, "Number of workers: %d", a->target);
        break;
    case SIGTTOU:
        if (a->target > 1) {
            a->target--;
            tc_log(TC_LOG_INFO, "Number of workers: %d", a->target);
        } else {
            tc_log(TC_LOG_INFO, "Number of workers: 1, the minimum");
        }
        break;
    default:
        break;
    }
}

/* Milliseconds until the next deadline or allowed spawn; -1: none. */
static int
next_timeout(const arbiter_t *a)
{
    double t = now();
    double next = -1;
    if (a->stopping) {
        next = a->stop_deadline;
    } else if (count_active(a) < a->target) {
        next = a->next_spawn;
    }
    for (size_t i = 0; i < a->nslots; i++) {
        const worker_t *w = &a->workers[i];
        if (w->pid > 0 && w->retiring && !w->killed && (next < 0 || w->deadline < next)) {
            next = w->deadline;
        }
    }
    if (next < 0) {
        return -1;
    }
    if (next <= t) {
        return 0;
    }
    return (int)((next - t) * 1000.0) + 1;
}

static void
supervise(arbiter_t *a)
{
    for (;;) {
        reap_workers(a);
        if (a->stopping && count_live(a) == 0) {
            return;
        }
        if (!enforce_deadlines(a)) {
            return;
        }
        manage_workers(a);

        int sigs[MAX_SIGNALS];
        int n = tc_signals_wait(sigs, MAX_SIGNALS, next_timeout(a));
        if (n < 0) {
            tc_log(TC_LOG_CRITICAL, "Cannot wait for signals: %s", tc_strerror(n));
            a->status = 1;
            begin_stop(a, false);
            (void)usleep(100 * 1000); /* do not spin while the workers stop */
            n = 0;
        }
        /* signals before reaping: a worker killed by the terminal's ^C is not respawned */
        for (int i = 0; i < n; i++) {
            handle_signal(a, sigs[i]);
        }
    }
}

/* ---- public ---- */

int
tc_arbiter_run(const tc_config_t *cfg)
{
    int rc = tc_log_open(cfg->errorlog);
    if (rc != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "Cannot open the error log %s: %s", cfg->errorlog, tc_strerror(rc));
        return 1;
    }
    tc_log_set_level((tc_log_level_t)cfg->loglevel);
    tc_log(TC_LOG_INFO, "Starting thriftcorn %s", TC_VERSION_STRING);

    arbiter_t a;
    memset(&a, 0, sizeof(a));
    a.cfg = cfg;
    a.target = cfg->workers > 0 ? cfg->workers : 1;
    rc = tc_signals_init();
    if (rc != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "Cannot set up signal handling: %s", tc_strerror(rc));
        return 1;
    }
    if (open_listeners(&a) != TC_OK) {
        close_listeners(&a);
        tc_signals_deinit();
        return 1;
    }
    supervise(&a);
    close_listeners(&a);
    tc_signals_deinit();
    free(a.workers);
    tc_log(TC_LOG_INFO, "Shutting down: Master");
    return a.status;
}
