/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reload checker: a child of the arbiter that runs tc_config_load_text()
 * on the config text the arbiter read and, as the configured user and
 * group, tc_dispatch_new() (what --check-config and a worker's boot do), and
 * writes the error text, if any, to a pipe before it exits. A report is
 * shorter than PIPE_BUF, so the child never blocks on the pipe. Before each
 * step it writes what it starts into a page shared with the arbiter, which
 * holds only the step running, however many services there are.
 *
 * The checker runs in a session of its own, so that what the checked code
 * started (io.popen(), a plugin's fork()) ends with it: the arbiter kills
 * the whole process group when the check ends or is killed. Those
 * processes may hold the pipe's write end (a fork() without exec()), so the
 * arbiter reads the pipe without blocking, once the checker has exited and
 * its report is whole in the pipe. A process the checked code started
 * ends with the checker when the arbiter dies, too: the checker then
 * kills its process group, which no arbiter is left to kill.
 *
 * The checked config's 'timeout' bounds the check: the checker writes it
 * into a page of its own, says so with a byte on a pipe the arbiter's loop
 * waits on, and unmaps the page and closes the pipe before any handler
 * code loads. The number is on the page alone: a byte on the pipe, from
 * whoever reaches it, only makes the arbiter look at the page sooner.
 */
#include "arbiter/reload.h"

#include "arbiter/daemon.h"
#include "arbiter/proctitle.h"
#include "arbiter/signals.h"
#include "core/selfpipe.h"
#include "worker/dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct tc_reload_stage {
    int done;                  /* 1: every step passed, the checker exits 0 next */
    char what[TC_ERR_MSG_MAX]; /* the step running, "" before the first */
};

/*
 * Seconds the checked config gives a boot ('timeout'), or 0 when it sets
 * none, with 'known' set after it: written once that config is evaluated,
 * in a page of its own that the checker unmaps before any handler code
 * loads, so that the code checked cannot change how long the arbiter
 * waits for the check (the stage page stays in its reach).
 */
struct tc_reload_limit {
    double timeout;
    atomic_int known;
};

/*
 * In the checker: itself (a process it forks without exec() inherits the
 * handler below, and is not it) and the arbiter that forked it.
 */
static pid_t checker_pid;
static pid_t checker_parent;

/*
 * The arbiter is gone: end the checker with its process group (what the
 * checked code started). The handler of the checker's parent-death
 * signal, and a check after each time that signal is set.
 */
static void
end_if_orphaned(void)
{
    if (getpid() == checker_pid && getppid() != checker_parent) {
        (void)kill(-checker_pid, SIGKILL);
        _exit(1);
    }
}

static void
on_parent_death(int sig)
{
    (void)sig;
    int saved = errno;
    end_if_orphaned();
    errno = saved;
}

/*
 * The checker's parent-death signal: SIGKILL would end the checker alone,
 * and the processes of its group would run on. A real-time signal that
 * nothing here sends, caught by a handler that kills the group: one
 * taken over by the checked code (a plugin that catches or blocks it) is
 * as a process that left the group, not followed.
 */
static int
parent_death_signal(void)
{
    return SIGRTMIN;
}

static void
follow_parent(pid_t parent)
{
    checker_pid = getpid();
    checker_parent = parent;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_parent_death;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    (void)sigaction(parent_death_signal(), &sa, NULL);
    (void)prctl(PR_SET_PDEATHSIG, parent_death_signal());
    /* the arbiter died before the signal was set */
    end_if_orphaned();
}

/* The checker starts 'what' (a tc_dispatch_stage_cb). */
static void
set_stage(const char *what, void *arg)
{
    tc_reload_stage_t *st = arg;
    (void)snprintf(st->what, sizeof(st->what), "%s", what);
}

static void
report(int fd, const char *msg)
{
    size_t len = strlen(msg);
    while (len > 0) {
        ssize_t w = write(fd, msg, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        msg += w;
        len -= (size_t)w;
    }
}

/*
 * The signals the arbiter handles that stop nothing: `pkill -HUP thriftcorn`
 * and `killall -USR1 thriftcorn` send them to the check too, which must
 * neither end on one (SIGHUP, SIGUSR1, SIGUSR2) nor stop (SIGTTIN,
 * SIGTTOU), failing a reload that nothing was wrong with. Held from the
 * fork until a handler that does nothing takes them, which a program the
 * checked code executes does not inherit. A stop (SIGTERM, SIGINT,
 * SIGQUIT) still ends the check, as the arbiter's stop ends it anyway.
 */
static const int stray_signals[] = {SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH};

static void
stray_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < TC_ARRAY_LEN(stray_signals); i++) {
        sigaddset(set, stray_signals[i]);
    }
}

static void
ignore_strays(void)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(stray_signals); i++) {
        tc_selfpipe_ignore(stray_signals[i]);
    }
    sigset_t set;
    stray_set(&set);
    (void)pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

TC_NORETURN static void
check_child(int fd, int wake, const tc_reload_t *r, const tc_config_override_t *ov, size_t n,
            mode_t umask0, pid_t parent)
{
    /*
     * a process group (and session: no controlling terminal, whose job
     * control would stop a background group that writes to it) that
     * tc_reload_kill() ends with everything the checked code started
     */
    (void)setsid();
    /* it dies with the arbiter, and its group too: a check left behind would run on for nothing */
    follow_parent(parent);
    ignore_strays();
    /*
     * as a worker does: a write to a pipe whose reader has gone fails with
     * EPIPE, and ends neither the handler code loading nor the byte on
     * 'wake', whose read end the arbiter closes once it has read the page
     * (it may, woken by a signal, before the byte comes)
     */
    tc_selfpipe_ignore(SIGPIPE);
    tc_selfpipe_ignore(SIGXFSZ);
    tc_proctitle_set("thriftcorn: reload check [%s]", r->path);
    tc_err_t err;
    tc_err_clear(&err);
    (void)snprintf(r->stage->what, sizeof(r->stage->what), "evaluating the config %s", r->path);
    tc_config_t *cfg = tc_config_load_text(r->path, r->text, r->len, ov, n, &err);
    if (cfg == NULL) {
        report(fd, err.msg);
        _exit(1);
    }
    /* the boot of its workers, and so this check, is bounded by its 'timeout' */
    r->limit->timeout = cfg->timeout;
    atomic_store(&r->limit->known, 1);
    (void)munmap(r->limit, sizeof(*r->limit));
    /* the arbiter looks at the page on this byte (a full pipe: it is awake already) */
    ssize_t w = write(wake, "", 1);
    (void)w;
    (void)close(wake);
    /*
     * the handlers are loaded as a worker of the new generation loads them:
     * as its 'user' and 'group', with its 'umask'
     */
    (void)umask(cfg->umask >= 0 ? (mode_t)cfg->umask : umask0);
    char buf[1024];
    if (tc_daemon_become(cfg->user, cfg->group, tc_config_named_ids(cfg, buf, sizeof(buf)), &err) !=
        TC_OK) {
        report(fd, err.msg);
        _exit(1);
    }
    end_if_orphaned(); /* the arbiter died before the parent-death signal was set again */
    tc_dispatch_t *d = tc_dispatch_new_staged(cfg, set_stage, r->stage, &err);
    if (d == NULL) {
        report(fd, err.msg);
        _exit(1);
    }
    /* what --check-config calls the time after the last service loaded (exit_worker(), __gc) */
    set_stage("the check of the handlers", r->stage);
    /* freed although the process ends here: a leak checker on the arbiter stays quiet */
    tc_dispatch_free(d);
    tc_config_free(cfg);
    r->stage->done = 1;
    _exit(0);
}

static void
close_pair(int p[2])
{
    for (int i = 0; i < 2; i++) {
        if (p[i] >= 0) {
            (void)close(p[i]);
        }
    }
}

/*
 * The report pipe 'p', whose read end alone is non-blocking (the checker
 * writes its report whole), and 'wake', both ends non-blocking: a byte is
 * all it carries. Returns TC_OK or -errno.
 */
static int
open_pipes(int p[2], int wake[2])
{
    if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 ||
        pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        return -errno;
    }
    return TC_OK;
}

static void
close_wake(tc_reload_t *r)
{
    if (r->wake >= 0) {
        (void)close(r->wake);
        r->wake = -1;
    }
}

void
tc_reload_release(tc_reload_t *r)
{
    free(r->path);
    free(r->text);
    if (r->stage != NULL) {
        (void)munmap(r->stage, sizeof(*r->stage));
    }
    if (r->limit != NULL) {
        (void)munmap(r->limit, sizeof(*r->limit));
    }
    r->path = NULL;
    r->text = NULL;
    r->stage = NULL;
    r->limit = NULL;
    r->len = 0;
}

int
tc_reload_start(tc_reload_t *r, const char *path, const tc_config_override_t *overrides, size_t n,
                mode_t umask0, const int *close_fds, size_t nclose, tc_err_t *err)
{
    tc_reload_release(r);
    r->text = tc_config_read(path, &r->len, &r->path, err);
    if (r->text == NULL) {
        return err->code;
    }
    void *page =
        mmap(NULL, sizeof(*r->stage), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    void *limit = page == MAP_FAILED ? MAP_FAILED
                                     : mmap(NULL, sizeof(*r->limit), PROT_READ | PROT_WRITE,
                                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (limit == MAP_FAILED) {
        int rc = tc_err_set(err, TC_EINVAL, "cannot start the check: %s", tc_strerror(-errno));
        if (page != MAP_FAILED) {
            (void)munmap(page, sizeof(*r->stage));
        }
        tc_reload_release(r);
        return rc;
    }
    r->stage = page;  /* zero-filled: not done, no step yet */
    r->limit = limit; /* zero-filled: not known yet */
    int p[2] = {-1, -1};
    int wake[2] = {-1, -1};
    int rc = open_pipes(p, wake);
    pid_t parent = getpid();
    sigset_t held;
    stray_set(&held);
    pid_t pid = rc == TC_OK ? tc_signals_fork(&held) : rc;
    if (pid < 0) {
        close_pair(p);
        close_pair(wake);
        tc_reload_release(r);
        return tc_err_set(err, TC_EINVAL, "cannot start the check: %s", tc_strerror(pid));
    }
    if (pid == 0) {
        (void)close(p[0]);
        (void)close(wake[0]);
        /* the listeners are the arbiter's: the check must not hold a port open */
        for (size_t i = 0; i < nclose; i++) {
            (void)close(close_fds[i]);
        }
        check_child(p[1], wake[1], r, overrides, n, umask0, parent);
    }
    (void)close(p[1]);
    (void)close(wake[1]);
    /* the workers forked while the check runs do without them */
    (void)madvise(r->stage, sizeof(*r->stage), MADV_DONTFORK);
    (void)madvise(r->limit, sizeof(*r->limit), MADV_DONTFORK);
    r->pid = pid;
    r->fd = p[0];
    r->wake = wake[0];
    return TC_OK;
}

void
tc_reload_kill(const tc_reload_t *r)
{
    if (r->pid <= 0) {
        return;
    }
    /* the group once the checker has called setsid(), the checker alone before */
    (void)kill(-r->pid, SIGKILL);
    (void)kill(r->pid, SIGKILL);
}

int
tc_reload_done(tc_reload_t *r, int status, tc_err_t *err)
{
    /*
     * The checker has exited: its report is all in the pipe, and a
     * process it left behind that holds the write end (forked without
     * exec()) must not hold the arbiter here. EAGAIN ends the report as
     * the end of the file does.
     */
    char msg[TC_ERR_MSG_MAX];
    size_t len = 0;
    for (;;) {
        ssize_t k = read(r->fd, msg + len, sizeof(msg) - 1 - len);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0 || (len += (size_t)k) >= sizeof(msg) - 1) {
            break;
        }
    }
    msg[len] = '\0';
    (void)close(r->fd);
    r->fd = -1;
    close_wake(r);
    r->pid = 0;
    /* exit(0) from code being checked (os.exit()) passes no check: no worker would boot */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && r->stage->done == 1) {
        return TC_OK;
    }
    if (len > 0) {
        return tc_err_set(err, TC_EINVAL, "%s", msg);
    }
    char what[sizeof(r->stage->what)];
    tc_reload_step(r, what, sizeof(what));
    if (WIFSIGNALED(status)) {
        return tc_err_set(err, TC_EINVAL, "%s crashed (signal %d)", what, WTERMSIG(status));
    }
    return tc_err_set(err, TC_EINVAL, "%s exited with status %d, giving no reason", what,
                      WEXITSTATUS(status));
}

bool
tc_reload_timeout(tc_reload_t *r, double *timeout)
{
    /*
     * What came on 'wake' is taken first, and the page read after: the
     * checker writes the page before its byte. Bytes before the page is
     * written came from elsewhere (the config's code reaches the pipe
     * while it is evaluated); the pipe is watched on until the checker's.
     */
    bool ended = false;
    while (r->wake >= 0) {
        char buf[64];
        ssize_t k = read(r->wake, buf, sizeof(buf));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        ended = k == 0 || (k < 0 && errno != EAGAIN);
        if (k <= 0) {
            break;
        }
    }
    bool known = r->limit != NULL && atomic_load(&r->limit->known) == 1;
    if (known || ended) {
        close_wake(r);
    }
    if (!known) {
        return false;
    }
    double t = r->limit->timeout;
    /* a 'timeout' a config could hold, whatever wrote the page */
    if (!isfinite(t) || t < 0 || t > TC_RELOAD_TIMEOUT_MAX) {
        return false;
    }
    *timeout = t;
    return true;
}

void
tc_reload_step(const tc_reload_t *r, char *buf, size_t size)
{
    /* the page was the checked code's to write: no further than its end, and a copy */
    size_t len = r->stage != NULL ? strnlen(r->stage->what, sizeof(r->stage->what)) : 0;
    if (len == 0 || len == sizeof(r->stage->what)) {
        (void)snprintf(buf, size, "the check");
        return;
    }
    (void)snprintf(buf, size, "%.*s", (int)len, r->stage->what);
}
