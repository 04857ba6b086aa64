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
 * This file is the loop: start, signals, stopping and the end. What the
 * workers' heartbeat pages say and when to look next is in watch.c, their
 * ends in reap.c, the listening sockets in socks.c, generations and reload
 * in generation.c, forking in spawn.c, SIGUSR2 and SIGWINCH in upgrade.c.
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

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUICK_TIMEOUT 1.0 /* seconds a worker gets after SIGQUIT */
#define KILL_WAIT     5.0 /* seconds to wait for the reaping after SIGKILL */
#define MAX_SIGNALS   32  /* read from the pipe per wake-up */

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

void
tc_arbiter_signal_worker(worker_t *w, int sig)
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
            tc_arbiter_signal_worker(&a->workers[i], sig);
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
bool
tc_arbiter_take_signals(arbiter_t *a)
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
    w->deadline = tc_clock_mono_s() + w->graceful;
    tc_arbiter_signal_worker(w, SIGTERM);
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

/*
 * "Ready: generation N, W workers", of the serving generation ("Starting:"
 * while the READY=1 of a roll back is owed).
 */
const char *
tc_arbiter_status(const arbiter_t *a, char *buf, size_t len)
{
    if (a->stopping) {
        (void)snprintf(buf, len, "Stopping: %s", a->quick ? "quick" : "graceful");
        return buf;
    }
    (void)snprintf(buf, len, "%s: generation %u, %d worker%s", a->ready_owed ? "Starting" : "Ready",
                   a->cur->id, a->target, a->target == 1 ? "" : "s");
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
 * Every live worker of a graceful stop begun at 't' on its way out with
 * its own deadline (tc_arbiter_begin_stop()). Returns the time from 't'
 * to the last deadline, after which the stop kills what is left.
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
void
tc_arbiter_begin_stop(arbiter_t *a, bool quick)
{
    double t = tc_clock_mono_s();
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

/* SIGKILL whoever outlived its deadline. Returns false when giving up on them. */
static bool
enforce_deadlines(arbiter_t *a)
{
    double t = tc_clock_mono_s();
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && (w->retiring || w->draining) && !w->killed && t >= w->deadline) {
            char hook[64];
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) did not stop within %g s%s; killing it",
                   (int)w->pid, w->graceful, tc_watch_in_hook(w, hook, sizeof(hook)));
            tc_arbiter_signal_worker(w, SIGKILL);
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
                   tc_watch_in_hook(w, hook, sizeof(hook)));
            tc_arbiter_signal_worker(w, SIGKILL);
        }
    }
    a->stop_killed = true;
    a->stop_deadline = t + KILL_WAIT;
    return true;
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
    if (step < 0 && a->target == 0) {
        /* (none but SIGWINCH leaves none: TTOU's own minimum is one) */
        tc_log(TC_LOG_INFO, "Number of workers: 0 (SIGWINCH stopped them); SIGTTOU ignored");
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
        tc_arbiter_begin_stop(a, false);
        break;
    case SIGINT:
    case SIGQUIT:
        tc_arbiter_begin_stop(a, true);
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

/* ---- the loop ---- */

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
        tc_reap_children(a);
        if (a->stopping && count_live(a) == 0) {
            return;
        }
        if (!enforce_deadlines(a)) {
            return;
        }
        tc_watch_check_heartbeats(a);
        tc_watch_check_stopping(a);
        tc_watch_check_ready(a);
        tc_socks_tidy(a, false);
        if (a->reload_again && a->check.pid == 0 && a->pend == NULL && !a->stopping) {
            tc_generation_begin_reload(a); /* for a SIGHUP that came during the last one */
        }
        /*
         * signals that came while the arbiter was busy (a hook): acted on
         * before it forks, and the loop comes round at once, as after the
         * wait below (a stop may be over, a child wait to be reaped)
         */
        if (tc_arbiter_take_signals(a)) {
            continue;
        }
        tc_spawn_manage_workers(a);

        int sigs[MAX_SIGNALS];
        int n = tc_signals_wait(sigs, MAX_SIGNALS, tc_watch_next_timeout(a), check_wake_fd(a));
        if (n < 0) {
            tc_log(TC_LOG_CRITICAL, "Cannot wait for signals: %s", tc_strerror(n));
            a->status = 1;
            tc_arbiter_begin_stop(a, false);
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
    tc_config_log_warnings(cfg); /* in the error log, at its level */
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
    tc_generation_free(&a, a.pend, NULL); /* `Shutting down: Master` says it */
    tc_generation_free(&a, a.cur, NULL);
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
