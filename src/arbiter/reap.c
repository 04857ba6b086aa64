/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter's reaping of its children: the reload's check, the new
 * arbiter of an upgrade and the workers. A worker's end is logged and
 * weighed: replaced at once, after a back-off (a death at boot), the end
 * of a reload that lost it, or the end of a start that cannot boot.
 */
#include "arbiter/arbiter_internal.h"
#include "arbiter/reload.h"
#include "core/log.h"
#include "worker/board.h"
#include "worker/heartbeat.h"
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

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

/* Worker 'w' ended with wait status 'status': whether and when it is replaced. */
static void
worker_exited(arbiter_t *a, worker_t *w, int status)
{
    double t = tc_clock_mono_s();
    log_exit(w, status);
    bool asked = a->stopping || w->retiring || w->draining;
    /* one aborted for its timeout while booting did not boot, ready since or not */
    bool boot_timeout = w->boot_timeout;
    bool ready = !boot_timeout && (w->hb == NULL || tc_watch_seen_ready(w));
    unsigned gen = w->gen;
    double started = w->started;
    double timeout = w->timeout;
    /*
     * Status 3 is a boot failure only from a worker that is not ready: a
     * ready one has loaded its handlers and started its threads, and its 3
     * is a handler's os.exit(3), a later death like any other (without a
     * heartbeat page there is no telling: a boot failure, as it most often is)
     */
    bool booted = !boot_timeout && w->hb != NULL && tc_watch_seen_ready(w);
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
    if ((boot_error || boot_timeout) && tc_watch_count_ready(a, gen) == 0 && !a->announced) {
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
        tc_arbiter_begin_stop(a, false);
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
 * being reaped (WNOWAIT), so that the signals that came before its end
 * are acted on before its end is (tc_arbiter_take_signals()), while its
 * pid cannot be another process's yet: a stop they begin signals it
 * harmlessly.
 */
void
tc_reap_children(arbiter_t *a)
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
        (void)tc_arbiter_take_signals(a); /* (this loop reaps what a SIGCHLD among them says) */
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
