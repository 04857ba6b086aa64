/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker process: handler threads, each with an event loop and a Lua
 * state, serving connections accepted from the inherited listeners.
 */
#ifndef TC_WORKER_WORKER_H
#define TC_WORKER_WORKER_H

#include "config/config.h"
#include "transport/listener.h"
#include "worker/board.h"
#include "worker/heartbeat.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* What the arbiter hands a worker it forked. All borrowed. */
typedef struct tc_worker_args {
    const tc_config_t *cfg;
    const tc_listener_t *listeners;
    size_t nlisteners;
    int index;                 /* numbers the worker in logs and hooks */
    unsigned generation;       /* 1 at start, +1 per reload */
    tc_heartbeat_t *heartbeat; /* shared with the arbiter; may be NULL */
    tc_board_t *board;         /* shared with the arbiter and the other workers; may be NULL */
    int board_slot;            /* this worker's slot of 'board'; -1: none */
    pid_t arbiter;             /* the parent; 0: none to follow */
} tc_worker_args_t;

/*
 * Run a worker in the current (freshly forked) process until it is told to
 * stop: SIGTERM stops gracefully (stop accepting, finish every request
 * already read, send its reply, then exit), as does reaching max_requests;
 * SIGINT and SIGQUIT stop at once; SIGABRT (the arbiter's timeout) runs
 * worker_abort and exits 1; SIGUSR1 reopens the logs. Returns the process
 * exit status: 0 after a normal stop, 3 when the handler code cannot be
 * loaded (the arbiter must not respawn in a loop).
 */
int tc_worker_main(const tc_worker_args_t *args);

/*
 * The signals a worker handles in its loop. The arbiter forks a worker with
 * them blocked (the child mask of tc_signals_fork()), so that one sent while
 * the worker starts waits, pending, instead of killing it;
 * tc_worker_prepare() then gives them a handler that passes them on to the
 * loop, and unblocks them: a program a hook or handler starts does not
 * inherit them blocked.
 */
void tc_worker_signals(sigset_t *set);

/*
 * First thing in a freshly forked worker, before any hook runs: die with
 * the arbiter 'arbiter' (PR_SET_PDEATHSIG; false when it is already gone),
 * pass the signals of tc_worker_signals() on to the loop from now on, and
 * ignore SIGPIPE and SIGXFSZ (by a handler: a program the worker executes gets it back
 * at its default). Exits with status 1 when it cannot.
 */
bool tc_worker_prepare(pid_t arbiter);

/* Exit status of a worker whose handler code could not be loaded. */
#define TC_WORKER_EXIT_BOOT 3

#endif /* TC_WORKER_WORKER_H */
