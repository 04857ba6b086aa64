/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SIGUSR2 starts a new arbiter from the same command line with the listening
 * sockets inherited (the pidfile is ".oldbin" while it runs); SIGWINCH then
 * stops the old arbiter's workers.
 */
#include "arbiter/arbiter_internal.h"

#include "arbiter/inherit.h"
#include "arbiter/proctitle.h"
#include "arbiter/sdnotify.h"
#include "arbiter/signals.h"
#include "core/alloc.h"
#include "core/file.h"
#include "core/log.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- upgrade (SIGUSR2) and SIGWINCH ---- */

/* The arbiter's process title: "(old)" while the arbiter it started for an upgrade runs. */
void
tc_upgrade_set_title(const arbiter_t *a)
{
    tc_proctitle_set("thriftcorn: master%s [%s]", a->reexec_pid > 0 ? " (old)" : "",
                     a->cur->cfg->proc_name);
}

static void
rename_pidfile(arbiter_t *a, bool to_oldbin)
{
    if (a->pidfile == NULL) {
        return;
    }
    size_t len = strlen(a->pidfile);
    bool is_old = len > 7 && strcmp(a->pidfile + len - 7, ".oldbin") == 0;
    if (to_oldbin == is_old) {
        return;
    }
    char *name = tc_xcalloc(len + 8, 1);
    if (to_oldbin) {
        (void)snprintf(name, len + 8, "%s.oldbin", a->pidfile);
    } else {
        memcpy(name, a->pidfile, len - 7);
    }
    if (rename(a->pidfile, name) < 0) {
        int rc = -errno;
        tc_log(TC_LOG_ERROR, "Cannot rename the pidfile %s: %s", a->pidfile, tc_strerror(rc));
        free(name);
        return;
    }
    free(a->pidfile);
    a->pidfile = name;
}

void
tc_upgrade_reexec(arbiter_t *a)
{
    if (a->reexec_pid > 0) {
        tc_log(TC_LOG_WARNING, "USR2 ignored: a new arbiter (pid:%d) is running already",
               (int)a->reexec_pid);
        return;
    }
    if (a->master_pid > 0 && getppid() == a->master_pid) {
        tc_log(TC_LOG_WARNING, "USR2 ignored: the old arbiter (pid:%d) is still running",
               (int)a->master_pid);
        return;
    }
    char **argv = a->opts->argv;
    if (argv == NULL || argv[0] == NULL || a->exe[0] == '\0') {
        tc_log(TC_LOG_ERROR, "USR2 ignored: the command line is unknown");
        return;
    }
    rename_pidfile(a, true);
    /*
     * held until the new arbiter handles them: a SIGHUP meanwhile must not
     * end it. Not the stops: SIGTERM ends a new arbiter whose boot hangs
     * (a config that waits forever), as a roll back asks.
     */
    sigset_t held;
    tc_signals_handled(&held);
    sigdelset(&held, SIGTERM);
    sigdelset(&held, SIGINT);
    sigdelset(&held, SIGQUIT);
    pid_t pid = tc_signals_fork(&held);
    if (pid < 0) {
        tc_log(TC_LOG_ERROR, "Cannot fork the new arbiter: %s", tc_strerror(pid));
        rename_pidfile(a, false);
        return;
    }
    if (pid == 0) {
        tc_inherit_out_t *out = tc_xcalloc(a->nsocks + 1, sizeof(*out));
        for (size_t i = 0; i < a->nsocks; i++) {
            const sock_t *s = a->socks[i];
            /* the socket file goes with the descriptor: the new arbiter removes it when done */
            out[i] = (tc_inherit_out_t){.fd = s->l.fd,
                                        .spec = tc_socks_bind(a, s),
                                        .systemd = s->systemd,
                                        .unix_path = s->l.unix_path,
                                        .unix_dev = s->l.unix_dev,
                                        .unix_ino = s->l.unix_ino};
        }
        tc_inherit_export(out, a->nsocks);
        tc_sdnotify_export();
        char pidbuf[32];
        (void)snprintf(pidbuf, sizeof(pidbuf), "%d", (int)a->pid);
        (void)setenv("THRIFTCORN_PID", pidbuf, 1); /* NOLINT(concurrency-mt-unsafe) */
        if (chdir(a->cwd) < 0) {
            tc_log(TC_LOG_WARNING, "new arbiter: cannot enter %s", a->cwd);
        }
        (void)setenv("PWD", a->cwd, 1); /* NOLINT(concurrency-mt-unsafe) */
        (void)umask(a->umask0);         /* the new arbiter starts as we did: same default */
        execv(a->exe, argv);
        int rc = -errno;
        tc_log(TC_LOG_CRITICAL, "Cannot execute %s: %s", a->exe, tc_strerror(rc));
        _exit(1);
    }
    a->reexec_pid = pid;
    for (size_t i = 0; i < a->nsocks; i++) {
        a->socks[i]->handed = true; /* (one bound from now on is ours alone) */
    }
    /* systemd's main process from its READY=1 on: this one tells systemd nothing more */
    tc_sdnotify_main(pid);
    tc_log(TC_LOG_INFO, "Started a new arbiter (pid:%d)", (int)pid);
    tc_upgrade_set_title(a);
}

void
tc_upgrade_reexec_exited(arbiter_t *a, int status)
{
    if (WIFEXITED(status)) {
        tc_log(WEXITSTATUS(status) == 0 ? TC_LOG_INFO : TC_LOG_ERROR,
               "New arbiter (pid:%d) exited with code %d", (int)a->reexec_pid, WEXITSTATUS(status));
    } else {
        tc_log(TC_LOG_ERROR, "New arbiter (pid:%d) was sent SIG%s!", (int)a->reexec_pid,
               signame(WTERMSIG(status)));
    }
    a->reexec_pid = 0;
    for (size_t i = 0; i < a->nsocks; i++) {
        a->socks[i]->handed = false;
    }
    rename_pidfile(a, false);
    tc_generation_sync_pidfile(a); /* a reload during the upgrade may have named another */
    tc_upgrade_set_title(a);
    if (!a->stopping && a->target == 0 && a->winch_target > 0) {
        /* nothing else serves: the workers SIGWINCH stopped start again */
        tc_log(TC_LOG_INFO, "The new arbiter is gone; starting %d worker(s) again",
               a->winch_target);
        tc_arbiter_set_target(a, a->winch_target);
        a->reload_winch = false; /* a reload running (or queued) starts its number again too */
        a->winch_queued = false;
    }
    a->winch_target = 0;
    /*
     * systemd's main process again (the new one hands it back as it stops,
     * unless it was killed), with what this one does now. Its state too:
     * what it said since SIGUSR2 was kept from systemd, which may wait yet
     * for the READY=1 that ends a reload (one the new arbiter began, or
     * ours) and would fail it at its timeout; and a stop of ours is the
     * service's now. Not ready yet (the first generation, or the workers
     * SIGWINCH stopped starting again), or a reload of ours running: that
     * READY=1 comes when it is (tc_watch_check_ready(), the reload's end).
     */
    char now[TC_SDNOTIFY_STATUS_MAX];
    bool settled = a->announced && a->check.pid == 0 && a->pend == NULL;
    a->ready_owed = settled && !a->stopping && tc_watch_count_ready(a, a->cur->id) < a->target;
    const char *state = a->stopping ? "STOPPING=1" : settled && !a->ready_owed ? "READY=1" : NULL;
    tc_sdnotify_mainpid(a->pid, state, tc_arbiter_status(a, now, sizeof(now)));
}

void
tc_upgrade_winch(arbiter_t *a)
{
    /* a terminal sends SIGWINCH when its window changes size */
    if (!a->detached && a->reexec_pid == 0) {
        tc_log(TC_LOG_INFO, "SIGWINCH ignored: not daemonized and no upgrade running");
        return;
    }
    tc_log(TC_LOG_INFO, "Stopping all workers; the arbiter keeps running");
    if (a->reexec_pid > 0 && a->target > 0) {
        a->winch_target = a->target; /* started again if the new arbiter exits */
    }
    tc_arbiter_set_target(a, 0);
    if (a->check.pid > 0 || a->pend != NULL) {
        tc_generation_reload_winch(a); /* and the generation a reload starts has none either */
    }
}

/* ---- the binary and folder SIGUSR2 starts again ---- */

/* 'name' (no slash) as the shell found it in PATH, into 'out'; false if not found. */
static bool
search_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH"); /* NOLINT(concurrency-mt-unsafe) */
    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        size_t len = end != NULL ? (size_t)(end - path) : strlen(path);
        int n = snprintf(out, cap, "%.*s/%s", (int)len, len > 0 ? path : ".", name);
        if (n > 0 && (size_t)n < cap && access(out, X_OK) == 0) {
            return true;
        }
        path = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/*
 * The folder and binary as they were named at start, not resolved: $PWD
 * when it is this folder, argv[0] (or where PATH found it). So an upgrade
 * follows a symlink switched to a new release, as gunicorn's does; when a
 * name cannot be trusted, the resolved path serves.
 */
void
tc_upgrade_find_start_paths(arbiter_t *a)
{
    const char *pwd = getenv("PWD"); /* NOLINT(concurrency-mt-unsafe) */
    if (pwd != NULL && pwd[0] == '/' && strlen(pwd) < sizeof(a->cwd) && tc_file_same(pwd, ".")) {
        (void)snprintf(a->cwd, sizeof(a->cwd), "%s", pwd);
    } else if (getcwd(a->cwd, sizeof(a->cwd)) == NULL) {
        (void)snprintf(a->cwd, sizeof(a->cwd), "/");
    }
    const char *argv0 = a->opts->argv != NULL ? a->opts->argv[0] : NULL;
    int n = -1;
    if (argv0 != NULL && argv0[0] == '/') {
        n = snprintf(a->exe, sizeof(a->exe), "%s", argv0);
    } else if (argv0 != NULL && strchr(argv0, '/') != NULL) {
        n = snprintf(a->exe, sizeof(a->exe), "%s/%s", a->cwd, argv0);
    } else if (argv0 != NULL && search_path(argv0, a->exe, sizeof(a->exe))) {
        return;
    }
    if (n > 0 && (size_t)n < sizeof(a->exe) && access(a->exe, X_OK) == 0) {
        return;
    }
    ssize_t len = readlink("/proc/self/exe", a->exe, sizeof(a->exe) - 1);
    a->exe[len > 0 ? len : 0] = '\0';
}
