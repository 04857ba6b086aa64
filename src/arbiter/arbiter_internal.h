/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter's private state, shared by the files that make up the arbiter
 * process: arbiter.c (the loop, signals, stopping), watch.c, reap.c,
 * socks.c, generation.c, spawn.c and upgrade.c. No other layer includes it.
 */
#ifndef TC_ARBITER_ARBITER_INTERNAL_H
#define TC_ARBITER_ARBITER_INTERNAL_H

#include "arbiter/arbiter.h"
#include "arbiter/inherit.h"
#include "arbiter/reload.h"
#include "config/config.h"
#include "config/hooks.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/ids.h"
#include "transport/listener.h"
#include "worker/board.h"
#include "worker/heartbeat.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#define BOOT_WINDOW 1.0 /* a worker that dies younger than this died at boot */

typedef struct sock {
    tc_listener_t l;
    int refs;      /* generations that use it */
    bool systemd;  /* from LISTEN_FDS: its socket file is systemd's */
    bool from_old; /* inherited from the old arbiter (SIGUSR2), which may listen on it yet */
    bool handed;   /* handed to the new arbiter that SIGUSR2 started, while that one runs */
} sock_t;

typedef struct gen {
    tc_config_t *cfg;  /* owned */
    unsigned id;       /* 1, 2, ...: one per reload */
    sock_t **socks;    /* one per bind, in order (NULL while tc_socks_take() fills it) */
    tc_listener_t *ls; /* copies of socks[i]->l, handed to the workers */
    size_t n;
    int target; /* workers a pending generation starts with */
    tc_ids_t ids;
    int fifo; /* the arbiter's writer on a FIFO accesslog while 'g' lives, or -1 */
} gen_t;

typedef struct worker {
    pid_t pid;         /* 0: a free slot */
    int index;         /* 0..workers-1 within its generation, reused by the replacement */
    unsigned gen;      /* generation id */
    double started;    /* monotonic seconds */
    double deadline;   /* when a retiring worker gets SIGKILL */
    double timeout;    /* heartbeat timeout of its generation; 0: none */
    double graceful;   /* graceful_timeout of its generation, by which it exits on its own */
    double abort_at;   /* when it got SIGABRT for a missed heartbeat; 0: not */
    bool boot_timeout; /* that SIGABRT came before it was ready: a failed boot */
    bool boot_judged;  /* its boot time was read once it was ready (tc_watch_check_heartbeats()) */
    bool retiring;     /* sent SIGTERM: not to be replaced */
    bool draining;     /* stopping on its own (tc_watch_check_stopping()): replaced already */
    bool killed;       /* sent SIGKILL */
    bool ready;        /* seen ready on its heartbeat page (see tc_watch_seen_ready()) */
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
    /*
     * Socket files of sockets from the old arbiter that started us
     * (SIGUSR2), closed while it still ran and listened on them: removed
     * once it is gone (tc_socks_tidy()). Only their path, device and
     * inode are set.
     */
    tc_listener_t *leftover;
    size_t nleftover;
    tc_inherit_t inherit;
    worker_t *workers;
    size_t nslots;
    /* slot i is workers[i]'s; NULL: the workers do not balance (worker/board.h) */
    tc_board_t *board;
    int target; /* workers wanted in 'cur'; SIGTTIN/SIGTTOU/SIGWINCH move it */
    int status; /* exit status of tc_arbiter_run() */

    bool stopping;
    bool quick;           /* stopping with SIGQUIT rather than SIGTERM */
    bool stop_killed;     /* the stragglers got SIGKILL */
    double stop_deadline; /* next escalation while stopping */

    double backoff;         /* delay after the next death at boot; 0: none yet */
    double next_spawn;      /* no fork before this time */
    double last_boot_death; /* when a worker last died at boot */

    tc_reload_t check;      /* the reload check running, if check.pid != 0 */
    double check_started;   /* its deadline: check_started + check_limit */
    double check_limit;     /* seconds the check is given ('timeout', else 30) */
    bool check_by_timeout;  /* ... which is a 'timeout' (not the check's own limit) */
    bool check_limit_known; /* ... of the config it checks, which it has evaluated */
    bool check_killed;
    bool reload_again; /* a SIGHUP came while a reload ran: another follows it */
    int reload_delta;  /* SIGTTIN less SIGTTOU taken while the running reload runs */
    bool reload_winch; /* a SIGWINCH came since that reload's SIGHUP: its generation has none */
    bool winch_queued; /* ... and after the SIGHUP 'reload_again' holds: that reload's has none */

    pid_t reexec_pid; /* the new arbiter SIGUSR2 started, while it runs */
    int winch_target; /* workers SIGWINCH stopped during an upgrade; 0: none */
    pid_t master_pid; /* the old arbiter that started us with SIGUSR2, 0 otherwise */
    bool detached;    /* started with 'daemon' (a reload that sets it does not detach) */
    char *pidfile;    /* its current name (".oldbin" during an upgrade); NULL: none */
    bool announced;   /* the first generation was ready: when_ready, READY=1 */
    /*
     * systemd's main process again after a roll back while the serving
     * generation's workers were not all ready (those SIGWINCH stopped start
     * again): READY=1 is said once they are
     */
    bool ready_owed;
    mode_t umask0; /* the umask the arbiter started with: the default of 'umask' */
    char exe[PATH_MAX];
    char cwd[PATH_MAX];
} arbiter_t;

/* The file mode mask 'cfg' asks for: its 'umask', or the one thriftcorn started with. */
static inline mode_t
cfg_umask(const arbiter_t *a, const tc_config_t *cfg)
{
    return cfg->umask >= 0 ? (mode_t)cfg->umask : a->umask0;
}

/* "TERM" for SIGTERM; sigabbrev_np() is thread-safe, unlike strsignal(). */
static inline const char *
signame(int sig)
{
    const char *name = sigabbrev_np(sig);
    return name != NULL ? name : "?";
}

/* ---- arbiter.c: the loop, signals, stopping ---- */

/* Live workers of generation 'gen' that are not on their way out. */
int tc_arbiter_count_active(const arbiter_t *a, unsigned gen);

/* Send 'sig' to 'w' (logged when it fails, unless 'w' is dead already); SIGKILL marks it killed. */
void tc_arbiter_signal_worker(worker_t *w, int sig);

/*
 * Act on the signals received so far, without waiting. True when there
 * were any (SIGCHLD too): the caller looks again for children to reap.
 */
bool tc_arbiter_take_signals(arbiter_t *a);

/*
 * Stop the server: gracefully (SIGTERM, each worker its graceful_timeout)
 * or 'quick' (SIGQUIT); a quick stop during a quick one kills the workers.
 */
void tc_arbiter_begin_stop(arbiter_t *a, bool quick);

/* SIGTERM to 'w' and a deadline for SIGKILL: its own graceful_timeout. */
void tc_arbiter_retire(worker_t *w);

/*
 * Run arbiter-side hook 'name' of 'g' with the server table, then up to 3 of
 * 'extra'; a failure is logged at 'level', as tc_hooks_run() does. False
 * when it raised.
 */
bool tc_arbiter_server_hook(const arbiter_t *a, const gen_t *g, tc_log_level_t level,
                            const char *name, const tc_hook_arg_t *extra, size_t nextra);

/*
 * "Ready: generation N, W workers" of the serving generation ("Starting:"
 * while 'ready_owed'), or "Stopping: graceful" ("quick") once a stop began,
 * into 'buf', for STATUS=; 'buf'.
 */
const char *tc_arbiter_status(const arbiter_t *a, char *buf, size_t len);

/* Workers wanted in the serving generation; a change runs its nworkers_changed hook. */
void tc_arbiter_set_target(arbiter_t *a, int n);

/* ---- watch.c: the workers' heartbeat pages, and when to look next ---- */

/* Whether 'w' has said it is ready, at this look or any before (noted in 'w'). */
bool tc_watch_seen_ready(worker_t *w);

/* Workers of 'gen' counted as ready: not retired, not aborted for their timeout (watch.c). */
int tc_watch_count_ready(arbiter_t *a, unsigned gen);

/*
 * The first generation ready: when_ready and READY=1. A reload's: it
 * serves. The serving one's, with 'ready_owed': that READY=1.
 */
void tc_watch_check_ready(arbiter_t *a);

/* " (in its NAME hook)" while 'w' runs a hook, into 'buf', else "": for a log line. */
const char *tc_watch_in_hook(const worker_t *w, char *buf, size_t len);

/* SIGABRT to a worker whose heartbeat stopped for its timeout, SIGKILL a while after. */
void tc_watch_check_heartbeats(arbiter_t *a);

/* A worker of the serving generation that began a graceful stop of its own drains. */
void tc_watch_check_stopping(arbiter_t *a);

/* Milliseconds until the next deadline, spawn, heartbeat or readiness look; -1: none. */
int tc_watch_next_timeout(const arbiter_t *a);

/* ---- reap.c: the children's ends ---- */

/* Reap every dead child, without blocking, and act on each end. */
void tc_reap_children(arbiter_t *a);

/* ---- socks.c: the listening sockets ---- */

/* Whether socket files may be removed: no other arbiter shares them. */
bool tc_socks_may_unlink(const arbiter_t *a);

/*
 * The sockets of the binds of 'cfg' into 'g->socks' ('g->n' is the number
 * of binds, every entry NULL): for each, one open already or inherited
 * that it names (a bind that names an address first, a port-0 bind by its
 * text after), or a new one. Returns TC_OK, or an error with 'err' filled
 * and the entries taken so far set. Ownership: a reference each, given
 * back with tc_socks_release().
 */
int tc_socks_take(arbiter_t *a, gen_t *g, const tc_config_t *cfg, tc_err_t *err) TC_NODISCARD;

/*
 * Give back a reference to 's'; the last one closes it (and may remove its
 * file), and logs `Closed NAME: WHY` unless 'why' is NULL (the arbiter's
 * own end, which `Shutting down` says).
 */
void tc_socks_release(arbiter_t *a, sock_t *s, const char *why);

/*
 * The socket files of the inherited sockets no bind of the first config
 * took (their descriptors about to close): kept for tc_socks_tidy().
 */
void tc_socks_keep_untaken(arbiter_t *a);

/*
 * Remove the socket files of sockets closed while the old arbiter still
 * ran, once it is gone; at the end ('end'), forget those it still shares.
 */
void tc_socks_tidy(arbiter_t *a, bool end);

/*
 * A generation that ends lets go of 's': stop its listening for every
 * process that holds it, if that generation alone has it and it is a TCP
 * socket no other arbiter, systemd or fd://N shares.
 */
void tc_socks_unlisten(const arbiter_t *a, const sock_t *s);

/*
 * A reload's generation 'g' failed: the sockets it kept from the serving
 * generation take that one's backlog again, which 'g' had set.
 */
void tc_socks_restore_backlog(const arbiter_t *a, const gen_t *g);

/* A full stop: close the arbiter's descriptors of every socket, keeping their files. */
void tc_socks_stop(arbiter_t *a);

/* Whether nobody accepts on the sockets once this server's workers have stopped. */
bool tc_socks_end_with_us(const arbiter_t *a);

/* The bind 's' serves in the serving generation's config. Ownership: borrowed. */
char *tc_socks_bind(const arbiter_t *a, const sock_t *s);

/* ---- generation.c: generations and reload (SIGHUP) ---- */

/*
 * A generation for 'cfg' with its listeners open, which then owns 'cfg'.
 * NULL with 'err' filled; 'cfg' stays the caller's.
 */
gen_t *tc_generation_new(arbiter_t *a, tc_config_t *cfg, tc_err_t *err);

/*
 * Release the sockets of 'g' and free it with its config. NULL: no-op.
 * 'why' the log gives for each socket this closes (tc_socks_release()).
 */
void tc_generation_free(arbiter_t *a, gen_t *g, const char *why);

/* Whether 's' is one of the sockets of 'g'. */
bool tc_generation_has_sock(const gen_t *g, const sock_t *s);

/* Create the error and access logs of 'g' if need be and give them to its workers' user. */
void tc_generation_give_logs(const gen_t *g);

/*
 * Whether the access log of 'cfg' opens. Returns TC_OK or an error with
 * 'err' filled. '*fifo' is the descriptor when the log is a FIFO (for the
 * generation's 'fifo', which takes ownership), else -1.
 */
int tc_generation_probe_accesslog(const tc_config_t *cfg, int *fifo, tc_err_t *err) TC_NODISCARD;

/* SIGHUP: start the check of the config file in a child (reaped as a->check.pid). */
void tc_generation_begin_reload(arbiter_t *a);

/*
 * The limit of the running check: the 'timeout' of the config it checks
 * once it has evaluated that config, the running config's before.
 */
void tc_generation_check_limit(arbiter_t *a);

/* The check ended with wait status 'status': start its generation, or log why not. */
void tc_generation_check_finished(arbiter_t *a, int status);

/* The pending generation is ready: it serves, the old one stops gracefully. */
void tc_generation_commit_reload(arbiter_t *a);

/*
 * Make the arbiter's pidfile the one the serving config names: the new
 * one written, the old one removed (a failure is logged, the old one
 * kept). Nothing while an upgrade runs, whose new arbiter has PIDFILE.
 */
void tc_generation_sync_pidfile(arbiter_t *a);

/* The pending generation failed ('why'): it stops, the serving one serves on. */
void tc_generation_abort_reload(arbiter_t *a, const char *why);

/*
 * SIGTTIN ('step' 1) or SIGTTOU (-1) while a reload runs: one worker more
 * or fewer for the generation it starts (at once when it is starting);
 * the serving generation takes the change only if the reload fails.
 */
void tc_generation_reload_resize(arbiter_t *a, int step);

/*
 * SIGWINCH while a reload runs: the generation it starts has no worker
 * (at once when it is starting), as the serving one has none now; the
 * SIGTTINs after it add one each.
 */
void tc_generation_reload_winch(arbiter_t *a);

/* ---- spawn.c: forking workers ---- */

/* Fork a worker of 'g'. Returns false when the fork failed. */
bool tc_spawn_worker(arbiter_t *a, gen_t *g);

/* Bring the number of active workers of the serving generation to the target. */
void tc_spawn_manage_workers(arbiter_t *a);

/* A worker died at boot (or could not be forked) at time 't': back off. */
void tc_spawn_note_boot_death(arbiter_t *a, double t);

/* Stop gracefully the active worker of generation 'gen' with the highest index, if any. */
void tc_spawn_retire_last(arbiter_t *a, unsigned gen);

/* ---- upgrade.c: SIGUSR2 and SIGWINCH ---- */

/* The arbiter's process title, with "(old)" while the arbiter it started runs. */
void tc_upgrade_set_title(const arbiter_t *a);

/* SIGUSR2: start a new arbiter with the same command line and the listening sockets. */
void tc_upgrade_reexec(arbiter_t *a);

/* The new arbiter exited with wait status 'status': start what SIGWINCH stopped, if anything. */
void tc_upgrade_reexec_exited(arbiter_t *a, int status);

/* SIGWINCH: stop every worker, the arbiter keeps running (daemon or upgrade only). */
void tc_upgrade_winch(arbiter_t *a);

/* The folder and binary as named at start, into a->cwd and a->exe, for SIGUSR2. */
void tc_upgrade_find_start_paths(arbiter_t *a);

#endif /* TC_ARBITER_ARBITER_INTERNAL_H */
