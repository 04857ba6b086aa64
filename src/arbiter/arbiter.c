/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter (master process): binds the listeners, forks the workers, reaps
 * and replaces them, and turns the operator's signals into actions. One
 * thread, no event library: a poll() on the signal self-pipe (and on the
 * pipe a reload's check wakes it on, reload.c) is the loop.
 *
 * Workers belong to a generation: the config they were forked with and the
 * listeners of its binds. A reload (SIGHUP) checks the new config in a child,
 * starts a new generation beside the running one and, once every new worker
 * is ready, stops the old one gracefully.
 *
 * This file is the loop: start, signals, reaping, stopping and the end. The
 * listening sockets are in socks.c, generations and reload in generation.c,
 * forking in spawn.c, SIGUSR2 and SIGWINCH in upgrade.c.
 */
#include "arbiter/arbiter.h"

#include "arbiter/arbiter_internal.h"
#include "arbiter/daemon.h"
#include "arbiter/inherit.h"
#include "arbiter/pidfile.h"
#include "arbiter/proctitle.h"
#include "arbiter/reload.h"
#include "arbiter/sdnotify.h"
#include "arbiter/signals.h"
#include "arbiter/trust.h"
#include "build_config.h"
#include "config/hooks.h"
#include "core/alloc.h"
#include "core/log.h"
#include "transport/listener.h"
#include "worker/heartbeat.h"
#include "worker/worker.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define QUICK_TIMEOUT 1.0   /* seconds a worker gets after SIGQUIT */
#define KILL_WAIT     5.0   /* seconds to wait for the reaping after SIGKILL */
#define ABORT_GRACE   2.0   /* seconds from SIGABRT (timeout) to SIGKILL */
#define READY_POLL    0.02  /* how often to look at a young boot, in seconds (ready_look()) */
#define READY_SHARE   5     /* ... then every fifth of the boot's age */
#define READY_MAX     0.5   /* ... but at least this often, in seconds */
#define BEAT_POLL     1.0   /* how often to look at heartbeats */
#define MAX_SIGNALS   32    /* read from the pipe per wake-up */
#define POLL_MAX_MS   60000 /* longest wait in poll(): a far deadline is looked at again */

/* ---- helpers ---- */

static size_t
count_live(const arbiter_t *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nslots; i++) {
        n += a->workers[i].pid > 0;
    }
    return n;
}

/* Live workers of generation 'gen' that are not on their way out. */
int
tc_arbiter_count_active(const arbiter_t *a, unsigned gen)
{
    int n = 0;
    for (size_t i = 0; i < a->nslots; i++) {
        const worker_t *w = &a->workers[i];
        n += w->pid > 0 && !w->retiring && !w->draining && w->gen == gen;
    }
    return n;
}

/*
 * Whether 'w' has said on its heartbeat page that it is ready, at any look
 * since its fork: the page is the worker's to write, and one that takes it
 * back must not have its exit taken for a failed boot, which stops the
 * server (a worker running someone else's code could do that).
 */
static bool
seen_ready(worker_t *w)
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
static int
count_ready(arbiter_t *a, unsigned gen)
{
    int n = 0;
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        n += w->pid > 0 && !w->retiring && w->abort_at == 0 && w->gen == gen &&
             (w->hb == NULL || seen_ready(w));
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

static void handle_signal(arbiter_t *a, int sig);

/*
 * Act on the signals already received, without waiting: before a worker's
 * end is acted on, and before workers are forked. ^C (SIGINT) and
 * systemd's KillMode=control-group (SIGTERM) signal the arbiter and its
 * workers at once, and a worker that ended, or began a stop, on that
 * signal while the arbiter was busy (a hook) must not be replaced: a
 * signal sent before a worker ended is in the pipe by the time the
 * arbiter can reap it. Returns true when it took any (a SIGCHLD too: a
 * child may wait to be reaped, which no later byte in the pipe will say).
 */
static bool
take_signals(arbiter_t *a)
{
    int sigs[MAX_SIGNALS];
    int n;
    bool took = false;
    while ((n = tc_signals_wait(sigs, MAX_SIGNALS, 0, -1)) > 0) {
        for (int i = 0; i < n; i++) {
            handle_signal(a, sigs[i]);
        }
        took = true;
    }
    return took;
}

/*
 * SIGTERM and a deadline for SIGKILL: the one graceful path for every
 * reason. The worker drains as long as its own config says (an older
 * generation's, after a reload), and so long it is given.
 */
void
tc_arbiter_retire(worker_t *w)
{
    w->retiring = true;
    w->deadline = now() + w->graceful;
    signal_worker(w, SIGTERM);
}

/* ---- hooks ---- */

/*
 * Call arbiter-side hook 'name' of generation 'g' with the server table
 * first, then 'extra'.
 */
bool
tc_arbiter_server_hook(const arbiter_t *a, const gen_t *g, tc_log_level_t level, const char *name,
                       const tc_hook_arg_t *extra, size_t nextra)
{
    if (!tc_hooks_has(g->cfg->hooks, name)) {
        return true;
    }
    const tc_hook_field_t server[] = {
        {"pid", NULL, (long long)a->pid},
        {"generation", NULL, (long long)g->id},
        {"workers", NULL, g == a->pend ? g->target : a->target},
        {"config", g->cfg->path, 0},
        {"proc_name", g->cfg->proc_name, 0},
    };
    tc_hook_arg_t args[4] = {{server, TC_ARRAY_LEN(server), 0}};
    for (size_t i = 0; i < nextra && i < 3; i++) {
        args[i + 1] = extra[i];
    }
    return tc_hooks_run(g->cfg->hooks, level, name, args, 1 + (nextra < 3 ? nextra : 3));
}

/* "Ready: generation N, W workers", of the serving generation. */
const char *
tc_arbiter_status(const arbiter_t *a, char *buf, size_t len)
{
    if (a->stopping) {
        (void)snprintf(buf, len, "Stopping: %s", a->quick ? "quick" : "graceful");
        return buf;
    }
    (void)snprintf(buf, len, "Ready: generation %u, %d worker%s", a->cur->id, a->target,
                   a->target == 1 ? "" : "s");
    return buf;
}

void
tc_arbiter_set_target(arbiter_t *a, int n)
{
    int old = a->target;
    a->target = n;
    if (n != old) {
        const tc_hook_arg_t extra[] = {{NULL, 0, n}, {NULL, 0, old}};
        tc_arbiter_server_hook(a, a->cur, TC_LOG_ERROR, "nworkers_changed", extra, 2);
    }
}

/* ---- stopping ---- */

/*
 * Every live worker of a graceful stop begun at 't' on its way out with its
 * own deadline (begin_stop()). Returns the time from 't' to the last
 * deadline, after which the stop kills what is left.
 */
static double
stop_drains(arbiter_t *a, double t)
{
    double last = t;
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid <= 0 || w->killed) {
            continue;
        }
        if (!w->retiring && !w->draining) {
            w->retiring = true;
            w->deadline = t + w->graceful;
        }
        if (w->deadline > last) {
            last = w->deadline;
        }
    }
    return last - t;
}

/*
 * Graceful: SIGTERM, and each worker the graceful_timeout of its own config
 * to finish, as tc_arbiter_retire() gives it; one already stopping (an
 * older generation's after a reload, one past max_requests) keeps the
 * deadline its stop began with: the stop neither cuts a drain short nor
 * lengthens it. Quick: SIGQUIT, QUICK_TIMEOUT. A quick stop cuts a
 * graceful one short; a second quick stop kills at once. Either way the
 * server stops listening (tc_socks_stop(); each worker closes its own
 * descriptors as it stops accepting).
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
    bool rolled_back = false;
    if (!a->stopping && a->master_pid > 0 && a->announced && getppid() == a->master_pid) {
        /* rolled back: the old arbiter serves on, and is systemd's main process again */
        char status[TC_SDNOTIFY_STATUS_MAX];
        (void)snprintf(status, sizeof(status),
                       "Stopping: upgrade rolled back; the old arbiter (pid %d) serves on",
                       (int)a->master_pid);
        tc_sdnotify_mainpid(a->master_pid, NULL, status);
        rolled_back = true;
    }
    bool was_stopping = a->stopping;
    tc_reload_kill(&a->check);
    if (!a->stopping && !quick && tc_socks_end_with_us(a)) {
        /* the workers take the clients already waiting in the backlogs, or they are reset */
        for (size_t i = 0; i < a->nslots; i++) {
            if (a->workers[i].pid > 0 && a->workers[i].hb != NULL) {
                tc_heartbeat_set_shutdown(a->workers[i].hb);
            }
        }
    }
    a->stopping = true;
    a->quick = quick;
    a->stop_killed = false;
    a->stop_deadline = t + (quick ? QUICK_TIMEOUT : stop_drains(a, t));
    if (!rolled_back) {
        /* a quick stop that cuts a graceful one short changes the status alone */
        char status[TC_SDNOTIFY_STATUS_MAX];
        tc_sdnotify_status(was_stopping ? NULL : "STOPPING=1",
                           tc_arbiter_status(a, status, sizeof(status)));
    }
    signal_all(a, quick ? SIGQUIT : SIGTERM);
    tc_socks_stop(a);
}

/*
 * What a worker that does not end does, for the log line: " (in its NAME
 * hook)" while its main thread runs a hook, which then cannot log why.
 */
static const char *
in_hook(const worker_t *w, char *buf, size_t len)
{
    const char *name = w->hb != NULL ? tc_heartbeat_hook(w->hb) : NULL;
    if (name == NULL) {
        return "";
    }
    (void)snprintf(buf, len, " (in its %s hook)", name);
    return buf;
}

/* SIGKILL whoever outlived its deadline. Returns false when giving up on them. */
static bool
enforce_deadlines(arbiter_t *a)
{
    double t = now();
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && (w->retiring || w->draining) && !w->killed && t >= w->deadline) {
            char hook[64];
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) did not stop within %g s%s; killing it",
                   (int)w->pid, w->graceful, in_hook(w, hook, sizeof(hook)));
            signal_worker(w, SIGKILL);
        }
    }
    if (a->check.pid > 0 && !a->check_killed) {
        tc_generation_check_limit(a);
    }
    if (a->check.pid > 0 && !a->check_killed && t >= a->check_started + a->check_limit) {
        a->check_killed = true;
        tc_reload_kill(&a->check);
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
            char hook[64];
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) did not stop within %g s%s; killing it",
                   (int)w->pid, a->quick ? QUICK_TIMEOUT : w->graceful,
                   in_hook(w, hook, sizeof(hook)));
            signal_worker(w, SIGKILL);
        }
    }
    a->stop_killed = true;
    a->stop_deadline = t + KILL_WAIT;
    return true;
}

/*
 * A worker whose heartbeat stopped for its timeout (a handler call stuck
 * that long, or a boot that long) gets SIGABRT, then SIGKILL ABORT_GRACE
 * later. Idle workers keep beating, so idle connections never count.
 * Each page is read here once a wake-up, which also notes the workers that
 * became ready (seen_ready()).
 */
static void
check_heartbeats(arbiter_t *a)
{
    double t = now();
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        /* at every wake-up: a worker that said it is ready cannot take it back */
        bool ready = w->pid > 0 && seen_ready(w);
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
                   ready && !late ? "" : " while booting", in_hook(w, hook, sizeof(hook)));
            tc_heartbeat_set_timed_out(w->hb); /* (before the signal: what the worker reads) */
            signal_worker(w, SIGABRT);
            w->abort_at = t;
            w->boot_timeout = !ready || late;
        } else if (w->abort_at > 0 && t - w->abort_at >= ABORT_GRACE) {
            char hook[64];
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) still alive %g s after SIGABRT%s; killing it",
                   (int)w->pid, ABORT_GRACE, in_hook(w, hook, sizeof(hook)));
            signal_worker(w, SIGKILL);
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
static void
check_stopping(arbiter_t *a)
{
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && w->hb != NULL && !w->retiring && !w->draining && w->gen == a->cur->id &&
            tc_heartbeat_stopping(w->hb)) {
            w->draining = true;
            w->deadline = now() + w->graceful;
        }
    }
}

/* ---- reaping ---- */

static void
log_exit(const worker_t *w, int status)
{
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
            /*
             * the arbiter's SIGKILL of a worker past its deadline; any other
             * signal is none it sent (the worker catches TERM, QUIT and
             * ABRT): a crash, also in a stop
             */
            tc_log(sig == SIGKILL ? TC_LOG_WARNING : TC_LOG_ERROR,
                   "Worker (pid:%d) was sent SIG%s!", pid, signame(sig));
        }
    }
}

static void
worker_exited(arbiter_t *a, worker_t *w, int status)
{
    double t = now();
    log_exit(w, status);
    bool asked = a->stopping || w->retiring || w->draining;
    /* one aborted for its timeout while booting did not boot, ready since or not */
    bool boot_timeout = w->boot_timeout;
    bool ready = !boot_timeout && (w->hb == NULL || seen_ready(w));
    unsigned gen = w->gen;
    double started = w->started;
    double timeout = w->timeout;
    /*
     * Status 3 is a boot failure only from a worker that is not ready: a
     * ready one has loaded its handlers and started its threads, and its 3
     * is a handler's os.exit(3), a later death like any other (without a
     * heartbeat page there is no telling: a boot failure, as it most often is)
     */
    bool booted = !boot_timeout && w->hb != NULL && seen_ready(w);
    bool boot_error = !booted && WIFEXITED(status) && WEXITSTATUS(status) == TC_WORKER_EXIT_BOOT;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    /*
     * A graceful stop of its own (max_requests, a SIGTERM from elsewhere)
     * says so on the page before it exits 0; an exit(0) that did not (a
     * hook's or a handler's os.exit(0)) is a death like any other, or a
     * worker whose post_worker_init exits would be forked again at once,
     * forever. Without a page there is no telling.
     */
    bool stopped = w->hb == NULL || tc_heartbeat_stopping(w->hb);
    tc_heartbeat_free(w->hb);
    w->hb = NULL;
    w->pid = 0;
    if (a->board != NULL) {
        tc_board_clear(a->board, (int)(w - a->workers));
    }
    if (asked) {
        return;
    }
    if (a->pend != NULL && gen == a->pend->id) {
        /*
         * A ready worker that ended a graceful stop of its own (max_requests,
         * a SIGTERM from elsewhere) is no failure of its generation, and is
         * replaced in it: under load its first workers may reach
         * max_requests before the last one is ready, every time
         */
        if (clean && booted && stopped) {
            if (!tc_spawn_worker(a, a->pend)) {
                tc_generation_abort_reload(a, "cannot fork its workers");
            }
            return;
        }
        char why[64];
        (void)snprintf(why, sizeof(why), "did not boot within %g s (timeout)", timeout);
        tc_generation_abort_reload(a, boot_error     ? "failed to boot"
                                      : boot_timeout ? why
                                                     : "lost a worker before it was ready");
        return;
    }
    if (gen != a->cur->id) {
        return; /* an old generation is not replaced */
    }
    if ((boot_error || boot_timeout) && count_ready(a, gen) == 0 && !a->announced) {
        /*
         * handler code that cannot load will not load on the next try
         * either, nor load faster than 'timeout' allows (a timeout too
         * short for any boot would fork workers forever); once the
         * generation has served, though, its files changed on disk without
         * a reload (a plugin replaced before its SIGHUP), or the machine is
         * slower now: a death at boot, retried, not a reason to stop serving
         */
        if (boot_timeout) {
            tc_log(TC_LOG_CRITICAL, "Worker failed to boot: not ready within %g s (timeout).",
                   timeout);
        } else {
            tc_log(TC_LOG_CRITICAL, "Worker failed to boot.");
        }
        a->status = 1;
        begin_stop(a, false);
        return;
    }
    if (clean && ready && stopped) {
        return; /* max_requests, a SIGTERM from elsewhere: replaced at once */
    }
    /*
     * a hang of a ready worker is replaced at once too: it lived 'timeout'
     * at least, more than BOOT_WINDOW unless 'timeout' is shorter
     */
    if (boot_error || !ready || t - started < BOOT_WINDOW) {
        tc_spawn_note_boot_death(a, t);
    } else {
        a->backoff = 0;
    }
}

/*
 * Reap every dead child, without blocking. Each is seen first without
 * being reaped (WNOWAIT), so that the signals that came before its end are
 * acted on before its end is (take_signals()), while its pid cannot be
 * another process's yet: a stop they begin signals it harmlessly.
 */
static void
reap_children(arbiter_t *a)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != ECHILD) {
                int rc = -errno;
                tc_log(TC_LOG_ERROR, "waitid: %s", tc_strerror(rc));
            }
            return;
        }
        if (si.si_pid == 0) {
            return;
        }
        (void)take_signals(a); /* (this loop reaps what a SIGCHLD among them says) */
        if (si.si_pid == a->check.pid) {
            /* what the checked code started ends with the check (reload.c) */
            tc_reload_kill(&a->check);
        }
        int status;
        pid_t pid = waitpid(si.si_pid, &status, WNOHANG);
        if (pid <= 0) {
            if (pid < 0 && errno != EINTR) {
                int rc = -errno;
                tc_log(TC_LOG_ERROR, "waitpid: %s", tc_strerror(rc));
                return;
            }
            continue;
        }
        if (pid == a->check.pid) {
            tc_generation_check_finished(a, status);
            continue;
        }
        if (pid == a->reexec_pid) {
            tc_upgrade_reexec_exited(a, status);
            continue;
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

/* The first generation ready: when_ready and READY=1. A reload's: switch to it. */
static void
check_ready(arbiter_t *a)
{
    if (a->stopping) {
        return;
    }
    if (!a->announced && a->target > 0 && count_ready(a, a->cur->id) >= a->target) {
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
    if (a->pend != NULL && count_ready(a, a->pend->id) >= a->pend->target) {
        tc_generation_commit_reload(a);
    }
}

/* ---- signals ---- */

static void
reopen_logs(arbiter_t *a)
{
    /* while a reload's generation boots, the arbiter already logs to its errorlog */
    const char *path = (a->pend != NULL ? a->pend : a->cur)->cfg->errorlog;
    int rc = tc_log_open(path);
    if (rc != TC_OK) {
        tc_log(TC_LOG_ERROR, "Cannot reopen the error log %s: %s", path, tc_strerror(rc));
    }
    /* the new files, for workers that run as another user */
    tc_generation_give_logs(a->cur);
    if (a->pend != NULL) {
        tc_generation_give_logs(a->pend);
    }
    signal_all(a, SIGUSR1);
}

/*
 * SIGTTIN (+1) or SIGTTOU (-1). While a reload runs, it is for the
 * generation that reload starts: the serving one keeps its workers until
 * it is replaced, rather than fork one only to stop it then.
 */
static void
resize(arbiter_t *a, int step)
{
    if (a->check.pid > 0 || a->pend != NULL) {
        tc_generation_reload_resize(a, step);
        return;
    }
    if (step > 0 ? a->target >= TC_CONFIG_WORKERS_MAX : a->target <= 1) {
        tc_log(TC_LOG_INFO, "Number of workers: %d, the %s", a->target,
               step > 0 ? "maximum" : "minimum");
        return;
    }
    tc_arbiter_set_target(a, a->target + step);
    tc_log(TC_LOG_INFO, "Number of workers: %d", a->target);
    if (a->announced) {
        char status[TC_SDNOTIFY_STATUS_MAX];
        tc_sdnotify_status(NULL, tc_arbiter_status(a, status, sizeof(status)));
    }
}

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
    if (a->stopping && sig != SIGTERM && sig != SIGINT && sig != SIGQUIT && sig != SIGUSR1) {
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
        tc_generation_begin_reload(a);
        break;
    case SIGTTIN:
    case SIGTTOU:
        resize(a, sig == SIGTTIN ? 1 : -1);
        break;
    case SIGUSR1:
        reopen_logs(a);
        break;
    case SIGUSR2:
        tc_upgrade_reexec(a);
        break;
    case SIGWINCH:
        tc_upgrade_winch(a);
        break;
    default:
        break;
    }
}

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
 * measures its own boot (check_heartbeats()).
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
static int
next_timeout(const arbiter_t *a)
{
    double t = now();
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
            consider(&next, t + BEAT_POLL); /* check_stopping() */
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

/*
 * The pipe on which a reload's check says that its config's 'timeout' is
 * known, while the arbiter has yet to learn it; -1: none. The loop wakes
 * on it once, rather than look at intervals (tc_generation_check_limit()
 * takes the byte, and stops watching the pipe when it has the number).
 */
static int
check_wake_fd(const arbiter_t *a)
{
    return a->check.pid > 0 && !a->check_killed && !a->check_limit_known ? a->check.wake : -1;
}

static void
supervise(arbiter_t *a)
{
    for (;;) {
        reap_children(a);
        if (a->stopping && count_live(a) == 0) {
            return;
        }
        if (!enforce_deadlines(a)) {
            return;
        }
        check_heartbeats(a);
        check_stopping(a);
        check_ready(a);
        tc_socks_tidy(a, false);
        if (a->reload_again && a->check.pid == 0 && a->pend == NULL && !a->stopping) {
            tc_generation_begin_reload(a); /* for a SIGHUP that came during the last one */
        }
        /*
         * signals that came while the arbiter was busy (a hook): acted on
         * before it forks, and the loop comes round at once, as after the
         * wait below (a stop may be over, a child wait to be reaped)
         */
        if (take_signals(a)) {
            continue;
        }
        tc_spawn_manage_workers(a);

        int sigs[MAX_SIGNALS];
        int n = tc_signals_wait(sigs, MAX_SIGNALS, next_timeout(a), check_wake_fd(a));
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

/* ---- start and end ---- */

/* The arbiter while tc_arbiter_run() runs, for exit_cleanup(); NULL otherwise. */
static arbiter_t *running;

/*
 * At exit() of the arbiter from inside tc_arbiter_run(): a hook that called
 * os.exit(). Remove what a normal end removes, the pidfile and the unix
 * socket files, so that nothing stale names this process; its workers get
 * SIGTERM from the kernel (PR_SET_PDEATHSIG) and drain. A forked worker or
 * reload checker that calls exit() inherits the handler, and is no arbiter.
 */
static void
exit_cleanup(void)
{
    arbiter_t *a = running;
    if (a == NULL || getpid() != a->pid) {
        return;
    }
    running = NULL;
    tc_log(TC_LOG_WARNING, "Exiting from inside a hook (os.exit): removing the pidfile and "
                           "socket files");
    tc_pidfile_remove(a->pidfile);
    if (!tc_socks_may_unlink(a)) {
        return;
    }
    for (size_t i = 0; i < a->nsocks; i++) {
        const sock_t *s = a->socks[i];
        if (!s->systemd) {
            tc_listener_unlink(&s->l);
        }
    }
}

/*
 * What a daemon is about to lose, said while its log still reaches the
 * terminal that started it: an error log on stderr, which becomes
 * /dev/null (a start that fails from here on would exit 0 without a
 * word), and systemd's notification socket, whose Type=notify unit takes
 * the first process, which exits at once, for its main process.
 */
static void
warn_daemon(const tc_config_t *cfg)
{
    if (strcmp(cfg->errorlog, "-") == 0) {
        tc_log(TC_LOG_WARNING, "daemon: errorlog is '-' (stderr), which a daemon points to "
                               "/dev/null: nothing will be logged; set errorlog to a file");
    }
    if (getenv("NOTIFY_SOCKET") != NULL) { /* NOLINT(concurrency-mt-unsafe) */
        tc_log(TC_LOG_WARNING, "daemon: NOTIFY_SOCKET is set: under systemd, leave daemon unset "
                               "(Type=notify follows the process it started, which a daemon's "
                               "is not)");
    }
}

/* Everything before the first fork of a worker. Returns 0 or an exit status. */
static int
start(arbiter_t *a, tc_config_t *cfg)
{
    /* an arbiter started by SIGUSR2 knows its predecessor, and is detached already */
    const char *old = getenv("THRIFTCORN_PID"); /* NOLINT(concurrency-mt-unsafe) */
    if (old != NULL) {
        a->master_pid = (pid_t)strtol(old, NULL, 10);
        (void)unsetenv("THRIFTCORN_PID"); /* NOLINT(concurrency-mt-unsafe) */
        /* systemd's main process is the old one until this one is ready and says MAINPID= */
        tc_sdnotify_main(a->master_pid);
    }
    /* before detaching: systemd's LISTEN_PID names the process it started */
    tc_inherit_load(&a->inherit, cfg->binds, cfg->nbinds);
    if (cfg->daemon && a->master_pid == 0) {
        warn_daemon(cfg);
    }
    tc_sdnotify_init();
    a->detached = cfg->daemon;
    if (cfg->daemon && a->master_pid == 0) {
        int rc = tc_daemon_detach();
        if (rc != TC_OK) {
            tc_log(TC_LOG_CRITICAL, "Cannot become a daemon: %s", tc_strerror(rc));
            goto fail;
        }
    }
    /*
     * a stderr on /dev/null (a daemon's) or on the error log (an upgraded
     * daemon's) is the error log from here on, through every reopen, in
     * the arbiter and in the workers (tc_log_open())
     */
    (void)tc_log_take_stderr();
    a->pid = getpid();
    running = a;
    static bool registered;
    if (!registered && atexit(exit_cleanup) == 0) {
        registered = true;
    }
    tc_upgrade_find_start_paths(a);
    tc_proctitle_set("thriftcorn: master [%s]", cfg->proc_name);
    int rc = tc_signals_init();
    if (rc != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "Cannot set up signal handling: %s", tc_strerror(rc));
        goto fail;
    }
    tc_err_t err;
    tc_err_clear(&err);
    if (cfg->pidfile != NULL) {
        if (tc_pidfile_create(cfg->pidfile, &err) != TC_OK) {
            tc_log(TC_LOG_CRITICAL, "%s", err.msg);
            goto fail;
        }
        a->pidfile = tc_xstrdup(cfg->pidfile);
    }
    int fifo = -1;
    if (tc_generation_probe_accesslog(cfg, &fifo, &err) != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "%s", err.msg);
        goto fail;
    }
    a->target = cfg->workers > 0 ? cfg->workers : 1;
    gen_t probe = {.cfg = cfg, .id = 1, .fifo = -1};
    /*
     * as in gunicorn: the hook that prepares the start failed, so does the
     * start; critical, as every other failure that stops it, so that
     * 'loglevel = "critical"' still says why
     */
    if (!tc_arbiter_server_hook(a, &probe, TC_LOG_CRITICAL, "on_starting", NULL, 0)) {
        tc_log(TC_LOG_CRITICAL, "Not starting: the on_starting hook failed");
        if (fifo >= 0) {
            (void)close(fifo);
        }
        goto fail;
    }
    a->cur = tc_generation_new(a, cfg, &err);
    if (a->cur != NULL) {
        tc_socks_keep_untaken(a);
    }
    tc_inherit_deinit(&a->inherit);
    if (a->cur == NULL) {
        /* critical: it stops the start (a bind that cannot be opened) */
        tc_log(TC_LOG_CRITICAL, "%s", err.msg);
        if (fifo >= 0) {
            (void)close(fifo);
        }
        return 1;
    }
    a->cur->fifo = fifo; /* from here until the generation is freed */
    tc_generation_give_logs(a->cur);
    tc_trust_warn(cfg, &a->cur->ids, a->exe);
    return 0;
fail:
    tc_inherit_deinit(&a->inherit);
    return 1;
}

int
tc_arbiter_run(tc_config_t *cfg, const tc_arbiter_opts_t *opts)
{
    arbiter_t a;
    memset(&a, 0, sizeof(a));
    a.opts = opts;
    a.check.fd = -1;
    a.check.wake = -1;
    /* before the first file is created: the error log is one that 'umask' covers */
    a.umask0 = umask(0);
    (void)umask(cfg_umask(&a, cfg));
    int rc = tc_log_open(cfg->errorlog);
    if (rc != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "Cannot open the error log %s: %s", cfg->errorlog, tc_strerror(rc));
        tc_config_free(cfg);
        return 1;
    }
    tc_log_set_level((tc_log_level_t)cfg->loglevel);
    tc_log(TC_LOG_INFO, "Starting thriftcorn %s", TC_VERSION_STRING);
    a.board = tc_board_new();
    if (a.board == NULL) {
        tc_log(TC_LOG_WARNING, "Cannot map the balance board; workers accept as they are woken");
    }

    int status = start(&a, cfg);
    bool served = a.cur != NULL;
    if (!served) {
        tc_config_free(cfg);
    } else if (status == 0) {
        supervise(&a);
        tc_arbiter_server_hook(&a, a.cur, TC_LOG_ERROR, "on_exit", NULL, 0);
        status = a.status;
    }
    running = NULL; /* from here on, the normal end cleans up */
    tc_pidfile_remove(a.pidfile);
    free(a.pidfile);
    tc_generation_free(&a, a.pend);
    tc_generation_free(&a, a.cur);
    for (size_t i = 0; i < a.nslots; i++) {
        tc_heartbeat_free(a.workers[i].hb);
    }
    free(a.workers);
    tc_board_free(a.board);
    free(a.socks);
    tc_socks_tidy(&a, true);
    if (a.check.fd >= 0) {
        (void)close(a.check.fd);
    }
    if (a.check.wake >= 0) {
        (void)close(a.check.wake);
    }
    tc_reload_release(&a.check);
    tc_signals_deinit();
    if (served) {
        tc_log(TC_LOG_INFO, "Shutting down: Master");
    }
    return status;
}
