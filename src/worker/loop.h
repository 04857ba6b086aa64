/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One handler thread: an event loop, a Lua state and the connections it
 * serves. The thread that reads a request runs its handler and writes the
 * reply; when a handler blocks, the worker's watchdog moves the thread's
 * other connections (and its turn to accept) to an idle thread, also while
 * the worker stops (worker/loop_watch.h).
 */
#ifndef TC_WORKER_LOOP_H
#define TC_WORKER_LOOP_H

#include "config/config.h"
#include "transport/conn.h"
#include "transport/listener.h"
#include "worker/board.h"
#include "worker/dispatch.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct tc_loop tc_loop_t;

/* What every loop of a worker shares (borrowed; immutable but for the atomics and 'listeners'). */
typedef struct tc_loop_shared {
    const tc_config_t *cfg;
    /* the worker's copies: closed (fd -1) by the last loop to stop accepting, see 'listening' */
    tc_listener_t *listeners;
    size_t nlisteners;
    tc_conn_settings_t conn;
    const tc_proto_ops_t *protocol;
    atomic_int stopping; /* graceful stop requested */
    /*
     * A graceful stop of the whole server (tc_heartbeat_shutdown(), set
     * before 'stopping'): each loop accepts the clients waiting in the
     * backlogs before it stops accepting, as nobody will after us.
     */
    atomic_bool shutdown;
    /*
     * Loops that may still accept (set to 'nloops' before the threads
     * start). A stop takes each loop off once; the one that brings it to 0
     * closes the listeners, when no accept event is left to see their
     * descriptor numbers reused.
     */
    atomic_int listening;
    /*
     * worker_connections: 'nconns' counts the connections of every loop; a
     * loop takes a slot before accept() and gives it back when the
     * connection closes. 'loops' lets the closing loop wake the loops that
     * stopped accepting at the limit (set before the threads start).
     */
    atomic_int nconns;
    int max_conns;
    tc_loop_t *const *loops;
    int nloops;
    atomic_llong full_logged; /* ns (monotonic) of the last "limit reached" log line */
    /*
     * max_requests: the worker's call limit (0: none, and 'calls' is not
     * counted), and the calls its loops have handled. The call that reaches
     * the limit wakes the worker's main thread at once, which begins the
     * graceful stop: a worker that looked every few ms served hundreds of
     * calls past it under load, thousands before its first look.
     */
    long long call_limit;
    atomic_llong calls;
    /* The main thread is in the watchdog's long wait: a call's start wakes it (pace.h). */
    atomic_bool watch_idle;
    /*
     * The balance board and this worker's slot (NULL or -1: none): the
     * count 'nconns' is posted there, and a loop woken for a client leaves
     * it for a moment to a worker that holds fewer (accept.c).
     */
    tc_board_t *board;
    int board_slot;
} tc_loop_shared_t;

/* The connection callbacks of every loop: set as tc_conn_settings_t.handler. */
extern const tc_conn_handler_t tc_loop_conn_handler;

/*
 * Create a loop: its event base, its Lua handler state, its accept events.
 * NULL with 'err' filled if the handler code cannot be loaded.
 */
tc_loop_t *tc_loop_new(tc_loop_shared_t *shared, int index, bool accepting, tc_err_t *err);
/* Free a loop whose thread has ended. NULL is a no-op. */
void tc_loop_free(tc_loop_t *lp);

/* Start the loop's thread. Returns TC_OK or -errno. */
int tc_loop_start(tc_loop_t *lp) TC_NODISCARD;
/* True once the loop's thread has started its plugins' threads and serves (any thread). */
bool tc_loop_up(tc_loop_t *lp);
/* Wait for the loop's thread to end. */
void tc_loop_join(tc_loop_t *lp);

/*
 * Ask the loop to stop gracefully (any thread). It leaves its loop once the
 * worker has no connection left, on any loop (until then it takes what the
 * watchdog moves to it).
 */
void tc_loop_stop(tc_loop_t *lp);

/*
 * Graceful stop, worker's main thread, after 'stopping' is set: a loop
 * whose thread is inside a handler call (or has left its loop) stops
 * accepting for good now, as its stop would do once the call returns, so
 * that a long call does not keep the listeners open. Returns false when
 * the loop's thread is running its loop: the stop reaches it there.
 */
bool tc_loop_quit_listening(tc_loop_t *lp);

/*
 * True when the loop has its turn to accept, or one handed to it that it
 * has not taken yet (a hint for the watchdog: it may change).
 */
bool tc_loop_accepting(const tc_loop_t *lp);

/* Monotonic seconds since 'lp' entered its current handler call, or 0 when idle. */
double tc_loop_busy_for(const tc_loop_t *lp, double now);
/* Whether the loop's thread is inside a handler call: a seq_cst load (pace.h). */
bool tc_loop_in_call(const tc_loop_t *lp);
/* True once the loop's thread has left its loop (after a stop). */
bool tc_loop_done(const tc_loop_t *lp);
/* Connections the loop owns, and those handed to it that it has not taken yet. */
int tc_loop_nconns(const tc_loop_t *lp);
/* Call on_connected/post_connect_closed in 'hooks' (before the thread starts; takes ownership). */
struct tc_hooks;
void tc_loop_set_hooks(tc_loop_t *lp, struct tc_hooks *hooks);

#endif /* TC_WORKER_LOOP_H */
