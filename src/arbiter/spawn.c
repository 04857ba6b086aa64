/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forking the workers: slots and indexes, the child's setup before
 * tc_worker_main(), the back-off after deaths at boot, and keeping the
 * serving generation at its target.
 */
#include "arbiter/arbiter_internal.h"

#include "arbiter/daemon.h"
#include "arbiter/proctitle.h"
#include "arbiter/signals.h"
#include "config/hooks.h"
#include "core/alloc.h"
#include "core/log.h"
#include "worker/accesslog.h"
#include "worker/board.h"
#include "worker/heartbeat.h"
#include "worker/worker.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BACKOFF_MIN 0.1 /* first delay after two deaths at boot in a row */
#define BACKOFF_MAX 5.0

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

/*
 * The smallest index no live worker of 'gen' uses: a replacement takes its
 * predecessor's, or another while its predecessor drains (no two share one).
 */
static int
free_index(const arbiter_t *a, unsigned gen)
{
    for (int index = 0;; index++) {
        bool used = false;
        for (size_t i = 0; i < a->nslots && !used; i++) {
            const worker_t *w = &a->workers[i];
            used = w->pid > 0 && !w->retiring && w->gen == gen && w->index == index;
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
void
tc_spawn_note_boot_death(arbiter_t *a, double t)
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

/* In the forked child: become a worker of 'g'. */
TC_NORETURN static void
worker_child(arbiter_t *a, gen_t *g, int index, tc_heartbeat_t *hb, int board_slot)
{
    if (!tc_worker_prepare(a->pid)) {
        _exit(0); /* the arbiter died between fork and here */
    }
    /* sockets of other generations stay with the arbiter: a removed bind must close */
    for (size_t i = 0; i < a->nsocks; i++) {
        if (!tc_generation_has_sock(g, a->socks[i])) {
            (void)close(a->socks[i]->l.fd);
        }
    }
    if (a->check.fd >= 0) {
        (void)close(a->check.fd);
    }
    if (a->check.wake >= 0) {
        (void)close(a->check.wake);
    }
    /* the arbiter's hold on a FIFO access log stays the arbiter's: the worker opens its own */
    const gen_t *const gens[] = {a->cur, a->pend};
    for (size_t i = 0; i < TC_ARRAY_LEN(gens); i++) {
        if (gens[i] != NULL && gens[i]->fifo >= 0) {
            (void)close(gens[i]->fifo);
        }
    }
    /* a worker of the old generation forked during a reload keeps the old umask */
    (void)umask(cfg_umask(a, g->cfg));
    tc_proctitle_set("thriftcorn: worker [%s] gen %u", g->cfg->proc_name, g->id);
    const tc_hook_field_t info[] = {
        {"pid", NULL, (long long)getpid()},
        {"index", NULL, index},
        {"generation", NULL, (long long)g->id},
    };
    const tc_hook_arg_t extra[] = {{info, TC_ARRAY_LEN(info), 0}};
    bool named = hb != NULL && tc_hooks_has(g->cfg->hooks, "post_fork");
    if (named) {
        tc_heartbeat_set_hook(hb, "post_fork"); /* a WORKER TIMEOUT then names it */
    }
    tc_arbiter_server_hook(a, g, TC_LOG_ERROR, "post_fork", extra, 1);
    if (named) {
        tc_heartbeat_set_hook(hb, NULL);
    }
    int rc = tc_accesslog_open(g->cfg->accesslog, g->cfg->access_log_format);
    if (rc != TC_OK) {
        tc_log(TC_LOG_ERROR, "Cannot open the access log %s: %s", g->cfg->accesslog,
               tc_strerror(rc));
    }
    tc_err_t err;
    tc_err_clear(&err);
    char buf[1024];
    if (tc_daemon_setids(&g->ids, tc_config_named_ids(g->cfg, buf, sizeof(buf)), &err) != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "worker %d: %s", index, err.msg);
        _exit(TC_WORKER_EXIT_BOOT);
    }
    if (getppid() != a->pid) {
        _exit(0); /* the arbiter died before the parent-death signal was set again */
    }
    const tc_worker_args_t args = {
        .cfg = g->cfg,
        .listeners = g->ls,
        .nlisteners = g->n,
        .index = index,
        .generation = g->id,
        .heartbeat = hb,
        .board = a->board,
        .board_slot = board_slot,
        .arbiter = a->pid,
    };
    _exit(tc_worker_main(&args));
}

/* Fork a worker of 'g'. Returns false when the fork failed. */
bool
tc_spawn_worker(arbiter_t *a, gen_t *g)
{
    int index = free_index(a, g->id);
    const tc_hook_field_t info[] = {{"index", NULL, index}, {"generation", NULL, (long long)g->id}};
    const tc_hook_arg_t extra[] = {{info, TC_ARRAY_LEN(info), 0}};
    tc_arbiter_server_hook(a, g, TC_LOG_ERROR, "pre_fork", extra, 1);
    /* after the hook: 'timeout' counts the worker's boot, not the arbiter's pre_fork */
    tc_heartbeat_t *hb = tc_heartbeat_new();
    if (hb == NULL) {
        tc_log(TC_LOG_WARNING, "Cannot map a heartbeat page; worker without timeout");
    }
    /* the worker's slot of the table is its slot of the balance board too */
    worker_t *w = free_slot(a);
    int board_slot =
        a->board != NULL && w - a->workers < TC_BOARD_SLOTS ? (int)(w - a->workers) : -1;
    if (board_slot >= 0) {
        tc_board_assign(a->board, board_slot, g->id);
    }
    /* held from the fork on: a SIGUSR1 sent to the new pid waits for the worker's loop */
    sigset_t held;
    tc_worker_signals(&held);
    /*
     * what the hooks wrote to stdout or to a file the config opened and
     * not flushed yet goes out now, once: a copy of the buffer forked into
     * the worker would be written again when it exits
     */
    (void)fflush(NULL);
    pid_t pid = tc_signals_fork(&held);
    if (pid < 0) {
        tc_log(TC_LOG_ERROR, "Cannot fork a worker: %s", tc_strerror(pid));
        tc_heartbeat_free(hb);
        return false;
    }
    if (pid == 0) {
        worker_child(a, g, index, hb, board_slot);
    }
    if (hb != NULL && tc_heartbeat_seal(hb) != TC_OK) {
        tc_log(TC_LOG_WARNING, "Cannot keep the heartbeat page of worker (pid:%d) from later forks",
               (int)pid);
    }
    memset(w, 0, sizeof(*w));
    w->pid = pid;
    w->index = index;
    w->gen = g->id;
    w->started = tc_clock_mono_s();
    w->timeout = g->cfg->timeout;
    w->graceful = g->cfg->graceful_timeout;
    w->hb = hb;
    tc_log(TC_LOG_INFO, "Booting worker with pid: %d", (int)pid);
    return true;
}

/* SIGTERM to the highest-numbered active worker, so the indexes stay 0..n-1. */
void
tc_spawn_retire_last(arbiter_t *a, unsigned gen)
{
    worker_t *last = NULL;
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->retiring && !w->draining && w->gen == gen &&
            (last == NULL || w->index > last->index)) {
            last = w;
        }
    }
    if (last != NULL) {
        tc_log(TC_LOG_INFO, "Stopping worker (pid:%d)", (int)last->pid);
        tc_arbiter_retire(last);
    }
}

/* Bring the number of active workers of the serving generation to the target. */
void
tc_spawn_manage_workers(arbiter_t *a)
{
    if (a->stopping) {
        return;
    }
    int active = tc_arbiter_count_active(a, a->cur->id);
    while (active > a->target) {
        tc_spawn_retire_last(a, a->cur->id);
        active--;
    }
    while (active < a->target && tc_clock_mono_s() >= a->next_spawn) {
        if (!tc_spawn_worker(a, a->cur)) {
            tc_spawn_note_boot_death(a, tc_clock_mono_s());
        }
        active++;
    }
}
