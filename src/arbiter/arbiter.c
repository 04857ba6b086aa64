/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter (master process): binds the listeners, forks the workers, reaps
 * and replaces them, and turns the operator's signals into actions. One
 * thread, no event library: a poll() on the signal self-pipe is the loop.
 *
 * Workers belong to a generation: the config they were forked with and the
 * listeners of its binds. A reload (SIGHUP) checks the new config in a child,
 * starts a new generation beside the running one and, once every new worker
 * is ready, stops the old one gracefully.
 */
#include "arbiter/arbiter.h"

#include "arbiter/daemon.h"
#include "arbiter/inherit.h"
#include "arbiter/pidfile.h"
#include "arbiter/proctitle.h"
#include "arbiter/reload.h"
#include "arbiter/sdnotify.h"
#include "arbiter/signals.h"
#include "build_config.h"
#include "config/hooks.h"
#include "core/alloc.h"
#include "core/log.h"
#include "transport/listener.h"
#include "worker/accesslog.h"
#include "worker/heartbeat.h"
#include "worker/worker.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QUICK_TIMEOUT 1.0 /* seconds a worker gets after SIGQUIT */
#define KILL_WAIT     5.0 /* seconds to wait for the reaping after SIGKILL */
#define BOOT_WINDOW   1.0 /* a worker that dies younger than this died at boot */
#define BACKOFF_MIN   0.1 /* first delay after two deaths at boot in a row */
#define BACKOFF_MAX   5.0
#define ABORT_GRACE   2.0   /* seconds from SIGABRT (timeout) to SIGKILL */
#define CHECK_TIMEOUT 30.0  /* seconds the reload check may take */
#define READY_POLL    0.02  /* how often to look at booting workers, in seconds */
#define BEAT_POLL     1.0   /* how often to look at heartbeats */
#define MAX_SIGNALS   32    /* read from the pipe per wake-up */
#define POLL_MAX_MS   60000 /* longest wait in poll(): a far deadline is looked at again */

typedef struct sock {
    tc_listener_t l;
    int refs;     /* generations that use it */
    bool systemd; /* from LISTEN_FDS: its socket file is systemd's */
} sock_t;

typedef struct gen {
    tc_config_t *cfg;  /* owned */
    unsigned id;       /* 1, 2, ...: one per reload */
    sock_t **socks;    /* one per bind, in order */
    tc_listener_t *ls; /* copies of socks[i]->l, handed to the workers */
    size_t n;
    int target; /* workers a pending generation starts with */
    tc_ids_t ids;
} gen_t;

typedef struct worker {
    pid_t pid;       /* 0: a free slot */
    int index;       /* 0..workers-1 within its generation, reused by the replacement */
    unsigned gen;    /* generation id */
    double started;  /* monotonic seconds */
    double deadline; /* when a retiring worker gets SIGKILL */
    double timeout;  /* heartbeat timeout of its generation; 0: none */
    double graceful; /* graceful_timeout of its generation, by which it exits on its own */
    double abort_at; /* when it got SIGABRT for a missed heartbeat; 0: not */
    bool retiring;   /* sent SIGTERM: not to be replaced */
    bool draining;   /* stopping on its own (check_stopping()): replaced already */
    bool killed;     /* sent SIGKILL */
    bool ready;      /* seen ready on its heartbeat page (see seen_ready()) */
    tc_heartbeat_t *hb;
} worker_t;

typedef struct arbiter {
    const tc_arbiter_opts_t *opts;
    pid_t pid;
    gen_t *cur;  /* the serving generation */
    gen_t *pend; /* a reload's generation until all its workers are ready */
    unsigned last_gen;
    sock_t **socks; /* every open listening socket */
    size_t nsocks;
    tc_inherit_t inherit;
    worker_t *workers;
    size_t nslots;
    int target; /* workers wanted in 'cur'; SIGTTIN/SIGTTOU/SIGWINCH move it */
    int status; /* exit status of tc_arbiter_run() */

    bool stopping;
    bool quick;           /* stopping with SIGQUIT rather than SIGTERM */
    bool stop_killed;     /* the stragglers got SIGKILL */
    double stop_deadline; /* next escalation while stopping */

    double backoff;         /* delay after the next death at boot; 0: none yet */
    double next_spawn;      /* no fork before this time */
    double last_boot_death; /* when a worker last died at boot */

    tc_reload_t check; /* the reload check running, if check.pid != 0 */
    double check_deadline;
    bool check_killed;

    pid_t reexec_pid; /* the new arbiter SIGUSR2 started, while it runs */
    int winch_target; /* workers SIGWINCH stopped during an upgrade; 0: none */
    pid_t master_pid; /* the old arbiter that started us with SIGUSR2, 0 otherwise */
    bool detached;    /* started with 'daemon' (a reload that sets it does not detach) */
    char *pidfile;    /* its current name (".oldbin" during an upgrade); NULL: none */
    bool announced;   /* the first generation was ready: when_ready, READY=1 */
    mode_t umask0;    /* the umask the arbiter started with: the default of 'umask' */
    char exe[PATH_MAX];
    char cwd[PATH_MAX];
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

/* The file mode mask 'cfg' asks for: its 'umask', or the one thriftcorn started with. */
static mode_t
cfg_umask(const arbiter_t *a, const tc_config_t *cfg)
{
    return cfg->umask >= 0 ? (mode_t)cfg->umask : a->umask0;
}

/*
 * Whether the access log of 'cfg' opens, as its workers will open it (a
 * worker opens its own): one that cannot is refused at start and by a
 * reload alike, rather than leaving workers that log no call.
 */
static int
probe_accesslog(const tc_config_t *cfg, tc_err_t *err)
{
    if (cfg->accesslog == NULL) {
        return TC_OK;
    }
    int rc = tc_accesslog_open(cfg->accesslog, cfg->access_log_format);
    if (rc != TC_OK) {
        return tc_err_set(err, rc, "Cannot open the access log %s: %s", cfg->accesslog,
                          tc_strerror(rc));
    }
    if (tc_accesslog_fd > STDERR_FILENO) {
        (void)close(tc_accesslog_fd);
    }
    tc_accesslog_fd = -1;
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
    int fd = tc_log_open_file(cfg->errorlog);
    if (fd < 0) {
        return tc_err_set(err, fd, "Cannot open the error log %s: %s", cfg->errorlog,
                          tc_strerror(fd));
    }
    (void)close(fd);
    return TC_OK;
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

/* Live workers of generation 'gen' that are not on their way out. */
static int
count_active(const arbiter_t *a, unsigned gen)
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

/* Workers of 'gen' not retired by the arbiter that said they are ready (draining ones serve on). */
static int
count_ready(arbiter_t *a, unsigned gen)
{
    int n = 0;
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        n += w->pid > 0 && !w->retiring && w->gen == gen && (w->hb == NULL || seen_ready(w));
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

/*
 * SIGTERM and a deadline for SIGKILL: the one graceful path for every
 * reason. The worker drains as long as its own config says (an older
 * generation's, after a reload), and so long it is given.
 */
static void
retire(worker_t *w)
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
static void
server_hook(const arbiter_t *a, const gen_t *g, const char *name, const tc_hook_arg_t *extra,
            size_t nextra)
{
    if (!tc_hooks_has(g->cfg->hooks, name)) {
        return;
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
    tc_hooks_run(g->cfg->hooks, name, args, 1 + (nextra < 3 ? nextra : 3));
}

static void
set_target(arbiter_t *a, int n)
{
    int old = a->target;
    a->target = n;
    if (n != old) {
        const tc_hook_arg_t extra[] = {{NULL, 0, n}, {NULL, 0, old}};
        server_hook(a, a->cur, "nworkers_changed", extra, 2);
    }
}

/* ---- listeners ---- */

/*
 * Whether socket files may be removed: not while another arbiter shares
 * them (the one we started with SIGUSR2, or the one that started us).
 */
static bool
may_unlink(const arbiter_t *a)
{
    if (a->reexec_pid > 0) {
        return false;
    }
    return a->master_pid == 0 || getppid() != a->master_pid;
}

static void
sock_release(arbiter_t *a, sock_t *s)
{
    if (--s->refs > 0) {
        return;
    }
    for (size_t i = 0; i < a->nsocks; i++) {
        if (a->socks[i] == s) {
            a->socks[i] = a->socks[--a->nsocks];
            break;
        }
    }
    tc_listener_close(&s->l, !s->systemd && may_unlink(a));
    free(s);
}

/*
 * A full stop: the arbiter stops listening. Its descriptors close at once,
 * after the workers were told to stop, so that a socket refuses new clients
 * as soon as its workers close theirs too, rather than keep them in its
 * backlog, never accepted, until the last worker exits. The socket files
 * stay until the end (sock_release()), and may_unlink() decides there as
 * before. A new arbiter (SIGUSR2), the old one that started us, and
 * systemd each hold descriptors of their own: they listen on.
 */
static void
socks_stop(arbiter_t *a)
{
    for (size_t i = 0; i < a->nsocks; i++) {
        tc_listener_stop(&a->socks[i]->l);
    }
}

/*
 * Whether nobody will accept on the sockets once this server's workers
 * have stopped: no other arbiter shares them, and none is systemd's (which
 * starts the service again for a client waiting in its backlog).
 */
static bool
socks_end_with_us(const arbiter_t *a)
{
    if (!may_unlink(a)) {
        return false;
    }
    for (size_t i = 0; i < a->nsocks; i++) {
        if (a->socks[i]->systemd) {
            return false;
        }
    }
    return true;
}

static bool gen_has_sock(const gen_t *g, const sock_t *s);

/*
 * An open socket that bind 'spec' names another way ("localhost:9090" for
 * "127.0.0.1:9090"), which binding again would fail on (or, with
 * 'reuse_port', open a second socket at). Not one that generation 'g' took
 * for an earlier bind, nor one another bind of 'cfg' names by its text: two
 * binds of one config at one address fail at a reload as at start.
 */
static sock_t *
sock_same_address(const arbiter_t *a, const gen_t *g, const char *spec, const tc_config_t *cfg)
{
    for (size_t i = 0; i < a->nsocks; i++) {
        sock_t *s = a->socks[i];
        bool named = false;
        for (size_t j = 0; j < cfg->nbinds && !named; j++) {
            named = strcmp(cfg->binds[j], s->l.spec) == 0;
        }
        if (!named && !gen_has_sock(g, s) && tc_listener_serves(&s->l, spec)) {
            return s;
        }
    }
    return NULL;
}

/*
 * The listening socket of bind 'spec' of generation 'g' (its sockets so
 * far): the one already open, by its text or its address, an inherited
 * one, or a new one.
 */
static sock_t *
sock_get(arbiter_t *a, const gen_t *g, const char *spec, const tc_config_t *cfg, tc_err_t *err)
{
    for (size_t i = 0; i < a->nsocks; i++) {
        if (strcmp(a->socks[i]->l.spec, spec) == 0) {
            a->socks[i]->refs++;
            return a->socks[i];
        }
    }
    sock_t *same = sock_same_address(a, g, spec, cfg);
    if (same != NULL) {
        same->refs++;
        tc_log(TC_LOG_INFO, "Bind %s is %s, open already: kept", spec, same->l.name);
        return same;
    }
    sock_t *s = tc_xcalloc(1, sizeof(*s));
    tc_err_t lerr;
    tc_err_clear(&lerr);
    int fd = tc_inherit_take(&a->inherit, spec, &s->systemd);
    int rc;
    if (fd >= 0) {
        char fdspec[32];
        (void)snprintf(fdspec, sizeof(fdspec), "fd://%d", fd);
        rc = tc_listener_open(&s->l, fdspec, cfg->backlog, &lerr);
        if (rc == TC_OK) {
            /* known by its bind from now on; an upgrade's unix socket file is ours to remove */
            free(s->l.spec);
            s->l.spec = tc_xstrdup(spec);
            if (!s->systemd && strncmp(spec, "unix:", 5) == 0) {
                tc_listener_adopt_path(&s->l, spec + 5);
            }
        }
    } else {
        rc = tc_listener_open_ex(&s->l, spec, cfg->backlog, cfg->reuse_port, &lerr);
    }
    if (rc != TC_OK) {
        if (fd >= 0) {
            /* a descriptor we were given: say which bind, and who gave it */
            tc_err_set(err, rc, "Cannot listen: %s (%s): %s", spec,
                       s->systemd ? "systemd's LISTEN_FDS" : "inherited from the old arbiter",
                       lerr.msg);
        } else {
            tc_err_set(err, rc, "Cannot listen: %s", lerr.msg);
        }
        free(s);
        return NULL;
    }
    s->refs = 1;
    a->socks = tc_xrealloc(a->socks, (a->nsocks + 1) * sizeof(*a->socks));
    a->socks[a->nsocks++] = s;
    tc_log(TC_LOG_INFO, "Listening at: %s (%d)", s->l.name, (int)a->pid);
    return s;
}

/*
 * The bind 's' serves in the serving generation's config, which may name
 * it another way than the bind that opened it; its own text otherwise.
 */
static char *
sock_bind(const arbiter_t *a, const sock_t *s)
{
    const gen_t *g = a->cur;
    for (size_t i = 0; g != NULL && i < g->n; i++) {
        if (g->socks[i] == s) {
            return g->cfg->binds[i];
        }
    }
    return s->l.spec;
}

/* ---- generations ---- */

static void
gen_free(arbiter_t *a, gen_t *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->n; i++) {
        sock_release(a, g->socks[i]);
    }
    free(g->socks);
    free(g->ls);
    tc_ids_deinit(&g->ids);
    tc_config_free(g->cfg);
    free(g);
}

/* A generation for 'cfg' with its listeners open. NULL with 'err' filled; 'cfg' stays the caller's.
 */
static gen_t *
gen_new(arbiter_t *a, tc_config_t *cfg, tc_err_t *err)
{
    if (cfg->nbinds == 0) {
        tc_err_set(err, TC_EINVAL, "No address to listen on: 'bind' is empty");
        return NULL;
    }
    gen_t *g = tc_xcalloc(1, sizeof(*g));
    if (tc_ids_resolve(cfg->user, cfg->group, &g->ids, err) != TC_OK) {
        free(g);
        return NULL;
    }
    g->socks = tc_xcalloc(cfg->nbinds, sizeof(*g->socks));
    for (size_t i = 0; i < cfg->nbinds; i++) {
        g->socks[i] = sock_get(a, g, cfg->binds[i], cfg, err);
        if (g->socks[i] == NULL) {
            gen_free(a, g); /* releases the sockets taken so far; 'cfg' is not set yet */
            return NULL;
        }
        g->n++;
    }
    g->ls = tc_xcalloc(g->n, sizeof(*g->ls));
    for (size_t i = 0; i < g->n; i++) {
        g->ls[i] = g->socks[i]->l;
    }
    g->cfg = cfg;
    g->id = ++a->last_gen;
    return g;
}

static bool
gen_has_sock(const gen_t *g, const sock_t *s)
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
 * may neither create a file in its folder nor write to one of root's. Only
 * a regular file with one link, opened without following a symlink, that
 * the name still leads to once opened: a worker that can write to the
 * folder must not get another file given to it (a hard link made and
 * removed around the checks could still pass them, but the kernel lets
 * a user link only files it owns or may read and write, unless
 * fs.protected_hardlinks is 0).
 */
static void
give_log(const gen_t *g, const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0 || !g->ids.set_uid) {
        return;
    }
    const int flags =
        O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        return; /* the open that writes to it reports why */
    }
    struct stat st;
    struct stat ls;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 && lstat(path, &ls) == 0 &&
        ls.st_dev == st.st_dev && ls.st_ino == st.st_ino &&
        fchown(fd, g->ids.uid, g->ids.set_gid ? g->ids.gid : (gid_t)-1) < 0) {
        int rc = -errno;
        tc_log(TC_LOG_WARNING, "Cannot give the log %s to the workers' user: %s", path,
               tc_strerror(rc));
    }
    (void)close(fd);
}

static void
give_logs(const gen_t *g)
{
    give_log(g, g->cfg->errorlog);
    give_log(g, g->cfg->accesslog);
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

/* In the forked child: become a worker of 'g'. */
TC_NORETURN static void
worker_child(arbiter_t *a, gen_t *g, int index, tc_heartbeat_t *hb)
{
    if (!tc_worker_prepare(a->pid)) {
        _exit(0); /* the arbiter died between fork and here */
    }
    /* sockets of other generations stay with the arbiter: a removed bind must close */
    for (size_t i = 0; i < a->nsocks; i++) {
        if (!gen_has_sock(g, a->socks[i])) {
            (void)close(a->socks[i]->l.fd);
        }
    }
    if (a->check.fd >= 0) {
        (void)close(a->check.fd);
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
    server_hook(a, g, "post_fork", extra, 1);
    int rc = tc_accesslog_open(g->cfg->accesslog, g->cfg->access_log_format);
    if (rc != TC_OK) {
        tc_log(TC_LOG_ERROR, "Cannot open the access log %s: %s", g->cfg->accesslog,
               tc_strerror(rc));
    }
    tc_err_t err;
    tc_err_clear(&err);
    if (tc_daemon_setids(&g->ids, &err) != TC_OK) {
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
        .arbiter = a->pid,
    };
    _exit(tc_worker_main(&args));
}

/* Fork a worker of 'g'. Returns false when the fork failed. */
static bool
spawn_worker(arbiter_t *a, gen_t *g)
{
    int index = free_index(a, g->id);
    tc_heartbeat_t *hb = tc_heartbeat_new();
    if (hb == NULL) {
        tc_log(TC_LOG_WARNING, "Cannot map a heartbeat page; worker without timeout");
    }
    const tc_hook_field_t info[] = {{"index", NULL, index}, {"generation", NULL, (long long)g->id}};
    const tc_hook_arg_t extra[] = {{info, TC_ARRAY_LEN(info), 0}};
    server_hook(a, g, "pre_fork", extra, 1);
    /* held from the fork on: a SIGUSR1 sent to the new pid waits for the worker's loop */
    sigset_t held;
    tc_worker_signals(&held);
    pid_t pid = tc_signals_fork(&held);
    if (pid < 0) {
        tc_log(TC_LOG_ERROR, "Cannot fork a worker: %s", tc_strerror(pid));
        tc_heartbeat_free(hb);
        return false;
    }
    if (pid == 0) {
        worker_child(a, g, index, hb);
    }
    if (hb != NULL && tc_heartbeat_seal(hb) != TC_OK) {
        tc_log(TC_LOG_WARNING, "Cannot keep the heartbeat page of worker (pid:%d) from later forks",
               (int)pid);
    }
    worker_t *w = free_slot(a);
    memset(w, 0, sizeof(*w));
    w->pid = pid;
    w->index = index;
    w->gen = g->id;
    w->started = now();
    w->timeout = g->cfg->timeout;
    w->graceful = g->cfg->graceful_timeout;
    w->hb = hb;
    tc_log(TC_LOG_INFO, "Booting worker with pid: %d", (int)pid);
    return true;
}

/* SIGTERM to the highest-numbered active worker, so the indexes stay 0..n-1. */
static void
retire_last(arbiter_t *a)
{
    worker_t *last = NULL;
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->retiring && !w->draining && w->gen == a->cur->id &&
            (last == NULL || w->index > last->index)) {
            last = w;
        }
    }
    if (last != NULL) {
        tc_log(TC_LOG_INFO, "Stopping worker (pid:%d)", (int)last->pid);
        retire(last);
    }
}

/* Bring the number of active workers of the serving generation to the target. */
static void
manage_workers(arbiter_t *a)
{
    if (a->stopping) {
        return;
    }
    int active = count_active(a, a->cur->id);
    while (active > a->target) {
        retire_last(a);
        active--;
    }
    while (active < a->target && now() >= a->next_spawn) {
        if (!spawn_worker(a, a->cur)) {
            note_boot_death(a, now());
        }
        active++;
    }
}

/* ---- reload ---- */

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

/* The arbiter's process title: "(old)" while the arbiter it started for an upgrade runs. */
static void
set_title(const arbiter_t *a)
{
    tc_proctitle_set("thriftcorn: master%s [%s]", a->reexec_pid > 0 ? " (old)" : "",
                     a->cur->cfg->proc_name);
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

static void
begin_reload(arbiter_t *a)
{
    if (a->check.pid > 0 || a->pend != NULL) {
        tc_log(TC_LOG_WARNING, "Reload already in progress; ignored");
        return;
    }
    tc_log(TC_LOG_INFO, "Hang up: Master");
    tc_sdnotify("RELOADING=1");
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
        tc_sdnotify("READY=1");
        return;
    }
    a->check_deadline = now() + CHECK_TIMEOUT;
    a->check_killed = false;
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
    bool usable = cfg != NULL && probe_errorlog(cfg, a->cur->cfg, &err) == TC_OK &&
                  probe_accesslog(cfg, &err) == TC_OK;
    gen_t *g = usable ? gen_new(a, cfg, &err) : NULL;
    if (g == NULL) {
        (void)umask(cfg_umask(a, a->cur->cfg));
        log_reload_failure(a, err.msg);
        tc_config_free(cfg);
        tc_sdnotify("READY=1");
        return;
    }
    g->target = cfg->workers_set || a->target == 0 ? cfg->workers : a->target;
    apply_log(cfg, a->cur->cfg);
    give_logs(g);
    a->pend = g;
    tc_log(TC_LOG_INFO, "Reloading: starting generation %u with %d worker(s)", g->id, g->target);
    server_hook(a, g, "on_reload", NULL, 0);
    for (int i = 0; i < g->target && a->pend == g; i++) {
        if (!spawn_worker(a, g)) {
            /* handled like a worker that died before it was ready */
            break;
        }
    }
}

static void abort_reload(arbiter_t *a, const char *why);

static void
check_finished(arbiter_t *a, int status)
{
    tc_err_t err;
    tc_err_clear(&err);
    bool killed = a->check_killed;
    int rc = tc_reload_done(&a->check, status, &err);
    if (a->stopping) {
        tc_reload_release(&a->check);
        return; /* a stop ended the check: no failure to report, no READY=1 after STOPPING=1 */
    }
    if (rc != TC_OK) {
        tc_reload_release(&a->check);
        log_reload_failure(a, killed ? "the check of the new config did not finish within 30 s"
                                     : err.msg);
        tc_sdnotify("READY=1");
        return;
    }
    begin_generation(a);
    tc_reload_release(&a->check);
    if (a->pend != NULL && count_active(a, a->pend->id) < a->pend->target) {
        abort_reload(a, "cannot fork its workers");
    }
}

/* The pending generation is ready: it serves, the old one stops gracefully. */
static void
commit_reload(arbiter_t *a)
{
    gen_t *old = a->cur;
    gen_t *g = a->pend;
    a->cur = g;
    a->pend = NULL;
    tc_log(TC_LOG_INFO, "Generation %u is ready; stopping generation %u", g->id, old->id);
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->retiring && w->gen != g->id) {
            retire(w);
        }
    }
    set_target(a, g->cfg->workers_set || a->target == 0 ? g->cfg->workers : a->target);
    gen_free(a, old); /* closes the binds the new config dropped */
    set_title(a);
    tc_sdnotify("READY=1");
}

/* The pending generation failed: keep the serving one, as if nothing happened. */
static void
abort_reload(arbiter_t *a, const char *why)
{
    gen_t *g = a->pend;
    a->pend = NULL;
    tc_log(TC_LOG_ERROR, "Reload failed: generation %u %s; still serving generation %u", g->id, why,
           a->cur->id);
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && !w->retiring && w->gen == g->id) {
            retire(w);
        }
    }
    apply_log(a->cur->cfg, g->cfg);
    (void)umask(cfg_umask(a, a->cur->cfg));
    gen_free(a, g);
    tc_sdnotify("READY=1");
}

/* ---- upgrade (SIGUSR2) and SIGWINCH ---- */

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

/*
 * In the child about to exec the new arbiter: a stderr on /dev/null (a
 * daemon's) goes to error log 'path' instead, so that what the new arbiter
 * says before it opens its own log (a config it cannot load, a command line
 * it refuses) is kept where the operator looks.
 */
static void
stderr_to_log(const char *path)
{
    struct stat err;
    struct stat null;
    if (path == NULL || strcmp(path, "-") == 0 || fstat(STDERR_FILENO, &err) < 0 ||
        stat("/dev/null", &null) < 0 || !S_ISCHR(err.st_mode) || err.st_rdev != null.st_rdev) {
        return;
    }
    int fd = tc_log_open_file(path);
    if (fd >= 0) {
        (void)dup2(fd, STDERR_FILENO); /* without FD_CLOEXEC: it stays across exec */
        (void)close(fd);
    }
}

static void
reexec(arbiter_t *a)
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
    /* held until the new arbiter handles them: a SIGHUP meanwhile must not end it */
    sigset_t held;
    tc_signals_handled(&held);
    pid_t pid = tc_signals_fork(&held);
    if (pid < 0) {
        tc_log(TC_LOG_ERROR, "Cannot fork the new arbiter: %s", tc_strerror(pid));
        rename_pidfile(a, false);
        return;
    }
    if (pid == 0) {
        int *fds = tc_xcalloc(a->nsocks + 1, sizeof(int));
        char **specs = tc_xcalloc(a->nsocks + 1, sizeof(char *));
        bool *systemd = tc_xcalloc(a->nsocks + 1, sizeof(bool));
        for (size_t i = 0; i < a->nsocks; i++) {
            fds[i] = a->socks[i]->l.fd;
            specs[i] = sock_bind(a, a->socks[i]);
            systemd[i] = a->socks[i]->systemd;
        }
        tc_inherit_export(fds, specs, systemd, a->nsocks);
        tc_sdnotify_export();
        char pidbuf[32];
        (void)snprintf(pidbuf, sizeof(pidbuf), "%d", (int)a->pid);
        (void)setenv("THRIFTCORN_PID", pidbuf, 1); /* NOLINT(concurrency-mt-unsafe) */
        if (chdir(a->cwd) < 0) {
            tc_log(TC_LOG_WARNING, "new arbiter: cannot enter %s", a->cwd);
        }
        (void)setenv("PWD", a->cwd, 1); /* NOLINT(concurrency-mt-unsafe) */
        (void)umask(a->umask0);         /* the new arbiter starts as we did: same default */
        stderr_to_log((a->pend != NULL ? a->pend : a->cur)->cfg->errorlog);
        execv(a->exe, argv);
        int rc = -errno;
        tc_log(TC_LOG_CRITICAL, "Cannot execute %s: %s", a->exe, tc_strerror(rc));
        _exit(1);
    }
    a->reexec_pid = pid;
    /* systemd's main process from its READY=1 on: this one tells systemd nothing more */
    tc_sdnotify_main(pid);
    tc_log(TC_LOG_INFO, "Started a new arbiter (pid:%d)", (int)pid);
    set_title(a);
}

static void
reexec_exited(arbiter_t *a, int status)
{
    if (WIFEXITED(status)) {
        tc_log(WEXITSTATUS(status) == 0 ? TC_LOG_INFO : TC_LOG_ERROR,
               "New arbiter (pid:%d) exited with code %d", (int)a->reexec_pid, WEXITSTATUS(status));
    } else {
        tc_log(TC_LOG_ERROR, "New arbiter (pid:%d) was sent SIG%s!", (int)a->reexec_pid,
               signame(WTERMSIG(status)));
    }
    a->reexec_pid = 0;
    rename_pidfile(a, false);
    set_title(a);
    /* systemd's main process again (the new one hands it back as it stops, unless it was killed) */
    tc_sdnotify_mainpid(a->pid, NULL);
    if (!a->stopping && a->target == 0 && a->winch_target > 0) {
        /* nothing else serves: the workers SIGWINCH stopped start again */
        tc_log(TC_LOG_INFO, "The new arbiter is gone; starting %d worker(s) again",
               a->winch_target);
        set_target(a, a->winch_target);
    }
    a->winch_target = 0;
}

static void
winch(arbiter_t *a)
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
    set_target(a, 0);
}

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
    give_logs(a->cur);
    if (a->pend != NULL) {
        give_logs(a->pend);
    }
    signal_all(a, SIGUSR1);
}

/* ---- stopping ---- */

/*
 * Graceful: SIGTERM, graceful_timeout to finish. Quick: SIGQUIT, QUICK_TIMEOUT.
 * A quick stop cuts a graceful one short; a second quick stop kills at once.
 * Either way the server stops listening (socks_stop(); each worker closes
 * its own descriptors as it stops accepting).
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
    if (!a->stopping && a->master_pid > 0 && a->announced && getppid() == a->master_pid) {
        /* rolled back: the old arbiter serves on, and is systemd's main process again */
        tc_sdnotify_mainpid(a->master_pid, NULL);
    } else if (!a->stopping) {
        tc_sdnotify("STOPPING=1");
    }
    if (a->check.pid > 0) {
        (void)kill(a->check.pid, SIGKILL);
    }
    if (!a->stopping && !quick && socks_end_with_us(a)) {
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
    a->stop_deadline = t + (quick ? QUICK_TIMEOUT : a->cur->cfg->graceful_timeout);
    signal_all(a, quick ? SIGQUIT : SIGTERM);
    socks_stop(a);
}

/* SIGKILL whoever outlived its deadline. Returns false when giving up on them. */
static bool
enforce_deadlines(arbiter_t *a)
{
    double t = now();
    for (size_t i = 0; i < a->nslots; i++) {
        worker_t *w = &a->workers[i];
        if (w->pid > 0 && (w->retiring || w->draining) && !w->killed && t >= w->deadline) {
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) did not stop within %g s; killing it",
                   (int)w->pid, w->graceful);
            signal_worker(w, SIGKILL);
        }
    }
    if (a->check.pid > 0 && !a->check_killed && t >= a->check_deadline) {
        a->check_killed = true;
        (void)kill(a->check.pid, SIGKILL);
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
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) did not stop within %g s; killing it",
                   (int)w->pid, a->quick ? QUICK_TIMEOUT : a->cur->cfg->graceful_timeout);
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
        if (w->abort_at == 0 && t - tc_heartbeat_last(w->hb) > w->timeout) {
            tc_log(TC_LOG_CRITICAL, "WORKER TIMEOUT (pid:%d)%s", (int)w->pid,
                   ready ? "" : " while booting");
            signal_worker(w, SIGABRT);
            w->abort_at = t;
        } else if (w->abort_at > 0 && t - w->abort_at >= ABORT_GRACE) {
            tc_log(TC_LOG_WARNING, "Worker (pid:%d) still alive %g s after SIGABRT; killing it",
                   (int)w->pid, ABORT_GRACE);
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

/* ---- the binary and folder SIGUSR2 starts again ---- */

/* True when 'path' is the folder we are in (the same file, however named). */
static bool
is_this_folder(const char *path)
{
    struct stat ps;
    struct stat ds;
    return stat(path, &ps) == 0 && stat(".", &ds) == 0 && ps.st_dev == ds.st_dev &&
           ps.st_ino == ds.st_ino;
}

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
static void
find_start_paths(arbiter_t *a)
{
    const char *pwd = getenv("PWD"); /* NOLINT(concurrency-mt-unsafe) */
    if (pwd != NULL && pwd[0] == '/' && strlen(pwd) < sizeof(a->cwd) && is_this_folder(pwd)) {
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

/* ---- reaping ---- */

static void
log_exit(const arbiter_t *a, const worker_t *w, int status)
{
    bool asked = a->stopping || w->retiring || w->draining || w->abort_at > 0;
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
    bool asked = a->stopping || w->retiring || w->draining;
    bool ready = w->hb == NULL || seen_ready(w);
    bool timed_out = w->abort_at > 0;
    unsigned gen = w->gen;
    double started = w->started;
    /*
     * Status 3 is a boot failure only from a worker that is not ready: a
     * ready one has loaded its handlers and started its threads, and its 3
     * is a handler's os.exit(3), a later death like any other (without a
     * heartbeat page there is no telling: a boot failure, as it most often is)
     */
    bool booted = w->hb != NULL && seen_ready(w);
    bool boot_error = !booted && WIFEXITED(status) && WEXITSTATUS(status) == TC_WORKER_EXIT_BOOT;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    tc_heartbeat_free(w->hb);
    w->hb = NULL;
    w->pid = 0;
    if (asked) {
        return;
    }
    if (a->pend != NULL && gen == a->pend->id) {
        abort_reload(a, boot_error ? "failed to boot" : "lost a worker before it was ready");
        return;
    }
    if (gen != a->cur->id) {
        return; /* an old generation is not replaced */
    }
    if (boot_error && count_ready(a, gen) == 0) {
        /* handler code that cannot load will not load on the next try either */
        tc_log(TC_LOG_ERROR, "Worker failed to boot.");
        a->status = 1;
        begin_stop(a, false);
        return;
    }
    if ((clean && ready) || timed_out) {
        return; /* max_requests, a SIGTERM from elsewhere, a hang: replaced at once */
    }
    if (boot_error || !ready || t - started < BOOT_WINDOW) {
        note_boot_death(a, t);
    } else {
        a->backoff = 0;
    }
}

/* waitpid() every dead child, without blocking. */
static void
reap_children(arbiter_t *a)
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
        if (pid == a->check.pid) {
            check_finished(a, status);
            continue;
        }
        if (pid == a->reexec_pid) {
            reexec_exited(a, status);
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
        server_hook(a, a->cur, "when_ready", NULL, 0);
        if (a->master_pid > 0) {
            /* started by SIGUSR2: systemd's main process becomes this one */
            tc_sdnotify_mainpid(a->pid, "READY=1");
        } else {
            tc_sdnotify("READY=1");
        }
    }
    if (a->pend != NULL && count_ready(a, a->pend->id) >= a->pend->target) {
        commit_reload(a);
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
        begin_reload(a);
        break;
    case SIGTTIN:
        if (a->target < TC_CONFIG_WORKERS_MAX) {
            set_target(a, a->target + 1);
            tc_log(TC_LOG_INFO, "Number of workers: %d", a->target);
        } else {
            tc_log(TC_LOG_INFO, "Number of workers: %d, the maximum", a->target);
        }
        break;
    case SIGTTOU:
        if (a->target > 1) {
            set_target(a, a->target - 1);
            tc_log(TC_LOG_INFO, "Number of workers: %d", a->target);
        } else {
            tc_log(TC_LOG_INFO, "Number of workers: %d, the minimum", a->target);
        }
        break;
    case SIGUSR1:
        reopen_logs(a);
        break;
    case SIGUSR2:
        reexec(a);
        break;
    case SIGWINCH:
        winch(a);
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

/* Milliseconds until the next deadline, spawn, heartbeat or readiness check; -1: none. */
static int
next_timeout(const arbiter_t *a)
{
    double t = now();
    double next = -1;
    if (a->stopping) {
        consider(&next, a->stop_deadline);
    } else if (count_active(a, a->cur->id) < a->target) {
        consider(&next, a->next_spawn);
    }
    if (a->check.pid > 0 && !a->check_killed) {
        consider(&next, a->check_deadline);
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
            consider(&next, t + READY_POLL);
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
    if (!may_unlink(a)) {
        return;
    }
    for (size_t i = 0; i < a->nsocks; i++) {
        const sock_t *s = a->socks[i];
        if (!s->systemd) {
            tc_listener_unlink(&s->l);
        }
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
    tc_sdnotify_init();
    a->detached = cfg->daemon;
    if (cfg->daemon && a->master_pid == 0) {
        int rc = tc_daemon_detach();
        if (rc != TC_OK) {
            tc_log(TC_LOG_CRITICAL, "Cannot become a daemon: %s", tc_strerror(rc));
            goto fail;
        }
    }
    a->pid = getpid();
    running = a;
    static bool registered;
    if (!registered && atexit(exit_cleanup) == 0) {
        registered = true;
    }
    find_start_paths(a);
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
    if (probe_accesslog(cfg, &err) != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "%s", err.msg);
        goto fail;
    }
    a->target = cfg->workers > 0 ? cfg->workers : 1;
    gen_t probe = {.cfg = cfg, .id = 1};
    server_hook(a, &probe, "on_starting", NULL, 0);
    a->cur = gen_new(a, cfg, &err);
    tc_inherit_deinit(&a->inherit);
    if (a->cur == NULL) {
        tc_log(TC_LOG_ERROR, "%s", err.msg);
        return 1;
    }
    give_logs(a->cur);
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

    int status = start(&a, cfg);
    bool served = a.cur != NULL;
    if (!served) {
        tc_config_free(cfg);
    } else if (status == 0) {
        supervise(&a);
        server_hook(&a, a.cur, "on_exit", NULL, 0);
        status = a.status;
    }
    running = NULL; /* from here on, the normal end cleans up */
    tc_pidfile_remove(a.pidfile);
    free(a.pidfile);
    gen_free(&a, a.pend);
    gen_free(&a, a.cur);
    for (size_t i = 0; i < a.nslots; i++) {
        tc_heartbeat_free(a.workers[i].hb);
    }
    free(a.workers);
    free(a.socks);
    if (a.check.fd >= 0) {
        (void)close(a.check.fd);
    }
    tc_reload_release(&a.check);
    tc_signals_deinit();
    if (served) {
        tc_log(TC_LOG_INFO, "Shutting down: Master");
    }
    return status;
}
