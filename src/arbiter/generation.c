/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Generations: a config with the listening sockets of its binds, and the
 * reload (SIGHUP) that checks a new config in a child, starts its generation
 * beside the serving one, then commits or aborts it.
 */
#include "arbiter/arbiter_internal.h"

#include "arbiter/pidfile.h"
#include "arbiter/reload.h"
#include "arbiter/sdnotify.h"
#include "arbiter/trust.h"
#include "core/alloc.h"
#include "core/log.h"
#include "worker/accesslog.h"
#include "worker/dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- generations ---- */

void
tc_generation_free(arbiter_t *a, gen_t *g, const char *why)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->n; i++) {
        if (g->socks[i] != NULL) {
            tc_socks_release(a, g->socks[i], why);
        }
    }
    free(g->socks);
    free(g->ls);
    if (g->fifo >= 0) {
        (void)close(g->fifo);
    }
    tc_ids_deinit(&g->ids);
    tc_config_free(g->cfg);
    free(g);
}

/* A generation for 'cfg' with its listeners open. NULL with 'err' filled; 'cfg' stays the caller's.
 */
gen_t *
tc_generation_new(arbiter_t *a, tc_config_t *cfg, tc_err_t *err)
{
    if (cfg->nbinds == 0) {
        tc_err_set(err, TC_EINVAL, "No address to listen on: 'bind' is empty");
        return NULL;
    }
    gen_t *g = tc_xcalloc(1, sizeof(*g));
    g->fifo = -1;
    if (tc_ids_resolve(cfg->user, cfg->group, &g->ids, err) != TC_OK) {
        free(g);
        return NULL;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    g->socks = tc_xcalloc(cfg->nbinds, sizeof(*g->socks));
    g->n = cfg->nbinds;
    if (tc_socks_take(a, g, cfg, err) != TC_OK) {
        tc_socks_restore_backlog(a, g);
        /* releases the sockets taken so far; 'cfg' is not set yet */
        tc_generation_free(a, g, a->cur != NULL ? "the reload failed" : "the start failed");
        return NULL;
    }
    g->ls = tc_xcalloc(g->n, sizeof(*g->ls));
    for (size_t i = 0; i < g->n; i++) {
        g->ls[i] = g->socks[i]->l;
    }
    g->cfg = cfg;
    g->id = ++a->last_gen;
    return g;
}

bool
tc_generation_has_sock(const gen_t *g, const sock_t *s)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->socks[i] == s) {
            return true;
        }
    }
    return false;
}

/*
 * Log file 'path' of 'g', created if need be and given to the workers'
 * 'user', as gunicorn does: after SIGUSR1 they reopen it as that user, who
 * may neither create a file in its folder nor write to one of root's. It is
 * opened as the arbiter opens its logs (tc_log_open_file()): a symlink at
 * 'path' is followed only when root owns it (the operator's link to a log
 * kept elsewhere, whose file the workers reopen through it), so a link the
 * workers' user planted gets nothing given. Only a regular file with one
 * link that the name still leads to once opened: a worker that can write
 * to the folder must not get another file given to it (a hard link made
 * and removed around the checks could still pass them, but the kernel lets
 * a user link only files it owns or may read and write, unless
 * fs.protected_hardlinks is 0). The standard streams are the workers' as
 * inherited: never reopened by name, never given.
 */
static void
give_log(const gen_t *g, const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0 || tc_log_std_stream(path) >= 0 || !g->ids.set_uid) {
        return;
    }
    int fd = tc_log_open_file(path);
    if (fd < 0) {
        return; /* the open that writes to it reports why */
    }
    struct stat st;
    struct stat ns;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 && stat(path, &ns) == 0 &&
        ns.st_dev == st.st_dev && ns.st_ino == st.st_ino &&
        fchown(fd, g->ids.uid, g->ids.set_gid ? g->ids.gid : (gid_t)-1) < 0) {
        int rc = -errno;
        tc_log(TC_LOG_WARNING, "Cannot give the log %s to the workers' user: %s", path,
               tc_strerror(rc));
    }
    (void)close(fd);
}

void
tc_generation_give_logs(const gen_t *g)
{
    give_log(g, g->cfg->errorlog);
    give_log(g, g->cfg->accesslog);
}

/* ---- reload ---- */

/*
 * Whether the access log of 'cfg' opens, as its workers will open it (a
 * worker opens its own): one that cannot is refused at start and by a
 * reload alike, rather than leaving workers that log no call. A FIFO is
 * not closed again: its reader would see the end of its input when the
 * last writer closes (`cat FIFO` ends), here or at any moment no worker
 * holds it (between a worker's death and its replacement's open). The
 * generation holds it instead, for as long as it lives.
 */
int
tc_generation_probe_accesslog(const tc_config_t *cfg, int *fifo, tc_err_t *err)
{
    *fifo = -1;
    if (cfg->accesslog == NULL) {
        return TC_OK;
    }
    int rc = tc_accesslog_open(cfg->accesslog, cfg->access_log_format);
    if (rc != TC_OK) {
        return tc_err_set(err, rc, "Cannot open the access log %s: %s", cfg->accesslog,
                          tc_strerror(rc));
    }
    int fd = tc_accesslog_fd;
    tc_accesslog_fd = -1;
    struct stat st;
    if (fd > STDERR_FILENO && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
        *fifo = fd;
    } else if (fd > STDERR_FILENO) {
        (void)close(fd);
    }
    return TC_OK;
}

/*
 * Whether a reload's error log opens, where it names another file than the
 * serving config's: one that cannot is refused, as at start, rather than
 * leave the new generation logging to the old file.
 */
static int
probe_errorlog(const tc_config_t *cfg, const tc_config_t *old, tc_err_t *err)
{
    if (strcmp(cfg->errorlog, "-") == 0 || strcmp(cfg->errorlog, old->errorlog) == 0) {
        return TC_OK;
    }
    int fd = tc_log_open_error_file(cfg->errorlog);
    if (fd < 0) {
        return tc_err_set(err, fd, "Cannot open the error log %s: %s", cfg->errorlog,
                          tc_strerror(fd));
    }
    (void)close(fd);
    return TC_OK;
}

static void
log_reload_failure(const arbiter_t *a, const char *why)
{
    /* one log line per line of the reason: each names its file and line */
    const char *p = why;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);
        tc_log(TC_LOG_ERROR, "Reload failed: %.*s", len, p);
        p += len + (nl != NULL);
    }
    tc_log(TC_LOG_ERROR, "Reload failed; still serving generation %u", a->cur->id);
}

/* The length of the first line of 'why', cut to 'max' bytes at a UTF-8 character's start. */
static int
first_line(const char *why, size_t max)
{
    return (int)tc_utf8_prefix(why, strcspn(why, "\n"), max);
}

/*
 * READY=1 after RELOADING=1 whatever the outcome, as sd_notify(3) asks; a
 * failure says so in STATUS=, or it would look like a success. The first
 * line of 'why' only, short enough that the serving generation still fits.
 */
static void
notify_reload_failed(const arbiter_t *a, const char *why)
{
    char status[TC_SDNOTIFY_STATUS_MAX + 1];
    int len = first_line(why, TC_SDNOTIFY_STATUS_MAX - 48);
    (void)snprintf(status, sizeof(status), "Reload failed: %.*s%s; serving generation %u", len, why,
                   why[len] != '\0' && why[len] != '\n' ? "..." : "", a->cur->id);
    tc_sdnotify_status("READY=1", status);
}

/* Switch the arbiter's own log to 'cfg' (errorlog, loglevel). */
static void
apply_log(const tc_config_t *cfg, const tc_config_t *old)
{
    if (old == NULL || strcmp(cfg->errorlog, old->errorlog) != 0) {
        int rc = tc_log_open(cfg->errorlog);
        if (rc != TC_OK) {
            tc_log(TC_LOG_ERROR, "Cannot open the error log %s: %s", cfg->errorlog,
                   tc_strerror(rc));
        }
    }
    tc_log_set_level((tc_log_level_t)cfg->loglevel);
}

static int
clamp_workers(int n)
{
    return n < 1 ? 1 : n > TC_CONFIG_WORKERS_MAX ? TC_CONFIG_WORKERS_MAX : n;
}

/*
 * The workers of a reload's generation: its config's 'workers', or, where
 * the config leaves it out, the number the serving one has now (which
 * SIGTTIN and SIGTTOU moved before the reload), plus the SIGTTINs less the
 * SIGTTOUs sent since the SIGHUP, which count for this generation. After
 * SIGWINCH (none), the config's: a reload brings them back. A SIGWINCH
 * since the SIGHUP counts for this generation too: none, but for the
 * SIGTTINs after it; a roll back of the upgrade starts the config's.
 */
static int
reload_target(const arbiter_t *a, const tc_config_t *cfg)
{
    if (a->reload_winch) {
        return a->reload_delta > 0 ? clamp_workers(a->reload_delta) : 0;
    }
    int base = a->target == 0 || cfg->workers_set ? cfg->workers : a->target;
    return clamp_workers(base + a->reload_delta);
}

/*
 * The reload failed: the SIGTTINs and SIGTTOUs sent while it ran are for
 * the generation that serves on, which takes them now.
 */
static void
settle_delta(arbiter_t *a)
{
    int d = a->reload_delta;
    a->reload_delta = 0;
    if (d == 0 || (a->target == 0 && d < 0)) {
        return;
    }
    tc_arbiter_set_target(a, clamp_workers(a->target + d));
    tc_log(TC_LOG_INFO, "Number of workers: %d", a->target);
}

void
tc_generation_reload_resize(arbiter_t *a, int step)
{
    gen_t *g = a->pend;
    if (step < 0 && a->reload_winch && (g != NULL ? g->target == 0 : a->reload_delta <= 0)) {
        tc_log(TC_LOG_INFO, "Number of workers: 0 (SIGWINCH stopped them); SIGTTOU ignored");
        return;
    }
    if (g == NULL) {
        /* the check runs: the new config's number is not known yet */
        int d = a->reload_delta + step;
        if (d > TC_CONFIG_WORKERS_MAX || d < -TC_CONFIG_WORKERS_MAX) {
            tc_log(TC_LOG_INFO,
                   "Number of workers: %+d for the generation the reload starts, the limit",
                   a->reload_delta);
            return;
        }
        a->reload_delta = d;
        tc_log(TC_LOG_INFO, "Number of workers: %+d for the generation the reload starts", d);
        return;
    }
    if (step > 0 ? g->target >= TC_CONFIG_WORKERS_MAX : g->target <= 1) {
        tc_log(TC_LOG_INFO, "Number of workers: %d, the %s", g->target,
               step > 0 ? "maximum" : "minimum");
        return;
    }
    g->target += step;
    a->reload_delta += step;
    tc_log(TC_LOG_INFO, "Number of workers: %d for generation %u, which is starting", g->target,
           g->id);
    if (step < 0) {
        tc_spawn_retire_last(a, g->id);
    } else if (!tc_spawn_worker(a, g)) {
        tc_generation_abort_reload(a, "cannot fork its workers");
    }
}

void
tc_generation_reload_winch(arbiter_t *a)
{
    a->reload_winch = true;
    a->winch_queued = a->reload_again; /* a SIGHUP since the running reload's waits for it */
    a->reload_delta = 0;
    gen_t *g = a->pend;
    if (g == NULL) {
        return; /* the check runs: reload_target() gives its generation none */
    }
    if (a->winch_target > 0 && g->target > 0) {
        a->winch_target = g->target; /* what a roll back starts again: the reload's number */
    }
    g->target = 0;
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->retiring && w->gen == g->id) {
            tc_log(TC_LOG_INFO, "Stopping worker (pid:%d)", (int)w->pid);
            tc_arbiter_retire(w);
        }
    }
}

void
tc_generation_begin_reload(arbiter_t *a)
{
    if (a->check.pid > 0 || a->pend != NULL) {
        /*
         * The running reload read the config before this SIGHUP: what was
         * changed since is applied by one more reload once it ends, as
         * gunicorn and nginx apply every SIGHUP (several coalesce into one)
         */
        tc_log(TC_LOG_INFO, "Reload already in progress; another follows once it ends");
        a->reload_again = true;
        a->winch_queued = false; /* this SIGHUP came after any SIGWINCH: workers again */
        return;
    }
    /* the reload of a SIGHUP that a SIGWINCH followed starts none either */
    a->reload_winch = a->reload_again && a->winch_queued;
    a->winch_queued = false;
    a->reload_again = false;
    a->reload_delta = 0;
    tc_log(TC_LOG_INFO, "Hang up: Master");
    char status[TC_SDNOTIFY_STATUS_MAX];
    (void)snprintf(status, sizeof(status), "Reloading; serving generation %u", a->cur->id);
    tc_sdnotify_status("RELOADING=1", status);
    a->ready_owed = false; /* the reload's end says READY=1 */
    int *fds = tc_xcalloc(a->nsocks + 1, sizeof(int));
    for (size_t i = 0; i < a->nsocks; i++) {
        fds[i] = a->socks[i]->l.fd;
    }
    tc_err_t err;
    tc_err_clear(&err);
    int rc = tc_reload_start(&a->check, a->opts->config_path, a->opts->overrides,
                             a->opts->noverrides, a->umask0, fds, a->nsocks, &err);
    free(fds);
    if (rc != TC_OK) {
        log_reload_failure(a, err.msg);
        notify_reload_failed(a, err.msg);
        return;
    }
    a->check_started = tc_clock_mono_s();
    a->check_limit_known = false;
    a->check_killed = false;
    tc_generation_check_limit(a);
}

/*
 * As long as a worker's boot may take, the check loads what a worker
 * loads: the 'timeout' of the config checked, which its workers will be
 * given, so that a reload that raises it for slower handlers is not
 * refused by the old one (nor one that lowers it given longer); until the
 * check has evaluated that config, the running one's.
 */
void
tc_generation_check_limit(arbiter_t *a)
{
    if (a->check_limit_known) {
        return;
    }
    double timeout = a->cur->cfg->timeout;
    a->check_limit_known = tc_reload_timeout(&a->check, &timeout);
    a->check_by_timeout = timeout > 0;
    a->check_limit = timeout > 0 ? timeout : TC_DISPATCH_CHECK_TIMEOUT;
}

/*
 * The reload check passed: load the config here, from the text the check
 * was given (not the file again: it may have changed since), and start its
 * generation.
 */
static void
begin_generation(arbiter_t *a)
{
    tc_err_t err;
    tc_err_clear(&err);
    tc_config_t *cfg = tc_config_load_text(a->check.path, a->check.text, a->check.len,
                                           a->opts->overrides, a->opts->noverrides, &err);
    if (cfg != NULL) {
        /* the unix sockets of its new binds, the logs and the workers get its umask */
        (void)umask(cfg_umask(a, cfg));
    }
    int fifo = -1;
    bool usable = cfg != NULL && probe_errorlog(cfg, a->cur->cfg, &err) == TC_OK &&
                  tc_generation_probe_accesslog(cfg, &fifo, &err) == TC_OK;
    gen_t *g = usable ? tc_generation_new(a, cfg, &err) : NULL;
    if (g == NULL) {
        if (fifo >= 0) {
            (void)close(fifo);
        }
        (void)umask(cfg_umask(a, a->cur->cfg));
        if (cfg != NULL) {
            tc_config_log_warnings(cfg);
        }
        log_reload_failure(a, err.msg);
        settle_delta(a);
        tc_config_free(cfg);
        notify_reload_failed(a, err.msg);
        return;
    }
    g->fifo = fifo;
    g->target = reload_target(a, cfg);
    if (a->reload_winch && a->winch_target > 0 && cfg->workers_set) {
        a->winch_target = cfg->workers; /* what a roll back starts again: this config's */
    }
    apply_log(cfg, a->cur->cfg);
    tc_config_log_warnings(cfg); /* (the reload's check logged none: they would be twice) */
    tc_generation_give_logs(g);
    tc_trust_warn(cfg, &g->ids, a->exe);
    a->pend = g;
    tc_log(TC_LOG_INFO, "Reloading: starting generation %u with %d worker(s)", g->id, g->target);
    tc_arbiter_server_hook(a, g, TC_LOG_ERROR, "on_reload", NULL, 0);
    for (int i = 0; i < g->target && a->pend == g; i++) {
        if (!tc_spawn_worker(a, g)) {
            /* handled like a worker that died before it was ready */
            break;
        }
    }
}

void
tc_generation_check_finished(arbiter_t *a, int status)
{
    tc_err_t err;
    tc_err_clear(&err);
    bool killed = a->check_killed;
    int rc = tc_reload_done(&a->check, status, &err);
    if (a->stopping) {
        tc_reload_release(&a->check);
        return; /* a stop ended the check: no failure to report, no READY=1 after STOPPING=1 */
    }
    if (rc != TC_OK && killed) {
        char step[TC_ERR_MSG_MAX];
        tc_reload_step(&a->check, step, sizeof(step));
        tc_err_clear(&err); /* not 'crashed (signal 9)': the arbiter killed it */
        tc_err_set(&err, TC_EINVAL, "%s did not finish within %g s (%s)", step, a->check_limit,
                   a->check_by_timeout ? "timeout" : "the check's limit");
    }
    if (rc != TC_OK) {
        tc_reload_release(&a->check);
        log_reload_failure(a, err.msg);
        settle_delta(a);
        notify_reload_failed(a, err.msg);
        return;
    }
    begin_generation(a);
    tc_reload_release(&a->check);
    if (a->pend != NULL && tc_arbiter_count_active(a, a->pend->id) < a->pend->target) {
        tc_generation_abort_reload(a, "cannot fork its workers");
    }
}

/* ---- the settings of the arbiter itself ---- */

static bool
same_name(const char *x, const char *y)
{
    return x == NULL ? y == NULL : y != NULL && strcmp(x, y) == 0;
}

void
tc_generation_sync_pidfile(arbiter_t *a)
{
    const char *want = a->cur->cfg->pidfile;
    if (a->reexec_pid > 0 || same_name(a->pidfile, want)) {
        return; /* during an upgrade, PIDFILE is the new arbiter's and ours is '.oldbin' */
    }
    tc_err_t err;
    tc_err_clear(&err);
    if (tc_pidfile_move(a->pidfile, want, &err) != TC_OK) {
        /* the reload stands: only the pidfile stays as it was, and a later reload tries again */
        if (a->pidfile != NULL) {
            tc_log(TC_LOG_ERROR, "%s; the pidfile stays %s", err.msg, a->pidfile);
        } else {
            tc_log(TC_LOG_ERROR, "%s; no pidfile is written", err.msg);
        }
        return;
    }
    if (want == NULL) {
        tc_log(TC_LOG_INFO, "No pidfile: the config sets none (was %s)", a->pidfile);
    } else if (a->pidfile == NULL) {
        tc_log(TC_LOG_INFO, "Pidfile: %s", want);
    } else {
        tc_log(TC_LOG_INFO, "Pidfile: %s (was %s)", want, a->pidfile);
    }
    free(a->pidfile);
    a->pidfile = want != NULL ? tc_xstrdup(want) : NULL;
}

/*
 * The settings of the config 'g' brings that act on the arbiter: the
 * pidfile follows it, as gunicorn's does at a reload ('old' is the config
 * it replaces); 'daemon' applies at the next start only, which is said
 * while the config asks for what the arbiter is not.
 */
static void
apply_arbiter_settings(arbiter_t *a, const gen_t *g, const tc_config_t *old)
{
    if (g->cfg->daemon != a->detached) {
        tc_log(TC_LOG_WARNING,
               "daemon: the config sets it to %s, which applies at the next start; "
               "the arbiter stays %s",
               g->cfg->daemon ? "true" : "false", a->detached ? "a daemon" : "in the foreground");
    }
    if (a->reexec_pid > 0 && !same_name(old->pidfile, g->cfg->pidfile)) {
        tc_log(TC_LOG_WARNING,
               "pidfile: the config sets it to %s, which waits for the upgrade to end: "
               "this arbiter's stays %s while the new arbiter (pid:%d) runs, and follows the "
               "config if that one exits first",
               g->cfg->pidfile != NULL ? g->cfg->pidfile : "none",
               a->pidfile != NULL ? a->pidfile : "none", (int)a->reexec_pid);
    }
    tc_generation_sync_pidfile(a);
}

/* ---- commit and abort ---- */

/* The pending generation is ready: it serves, the old one stops gracefully. */
void
tc_generation_commit_reload(arbiter_t *a)
{
    gen_t *old = a->cur;
    gen_t *g = a->pend;
    a->cur = g;
    a->pend = NULL;
    tc_log(TC_LOG_INFO, "Generation %u is ready; stopping generation %u", g->id, old->id);
    apply_arbiter_settings(a, g, old->cfg);
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->retiring && w->gen != g->id) {
            tc_arbiter_retire(w);
        }
    }
    a->reload_delta = 0;
    tc_arbiter_set_target(a, g->target);
    /*
     * the binds the new config dropped close, and stop listening now: an
     * old worker still booting would hold them until it exits
     */
    for (size_t i = 0; i < old->n; i++) {
        tc_socks_unlisten(a, old->socks[i]);
    }
    tc_generation_free(a, old, "no longer bound");
    tc_upgrade_set_title(a);
    char status[TC_SDNOTIFY_STATUS_MAX];
    tc_sdnotify_status("READY=1", tc_arbiter_status(a, status, sizeof(status)));
}

/* The pending generation failed: keep the serving one, as if nothing happened. */
void
tc_generation_abort_reload(arbiter_t *a, const char *why)
{
    gen_t *g = a->pend;
    a->pend = NULL;
    tc_log(TC_LOG_ERROR, "Reload failed: generation %u %s; still serving generation %u", g->id, why,
           a->cur->id);
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->retiring && w->gen == g->id) {
            tc_arbiter_retire(w);
        }
    }
    apply_log(a->cur->cfg, g->cfg);
    (void)umask(cfg_umask(a, a->cur->cfg));
    char why_gen[TC_SDNOTIFY_STATUS_MAX];
    (void)snprintf(why_gen, sizeof(why_gen), "generation %u %s", g->id, why);
    tc_socks_restore_backlog(a, g);
    /* the sockets it opened close now, not when its last worker has exited */
    for (size_t i = 0; i < g->n; i++) {
        tc_socks_unlisten(a, g->socks[i]);
    }
    tc_generation_free(a, g, "the reload failed");
    settle_delta(a);
    notify_reload_failed(a, why_gen);
}
