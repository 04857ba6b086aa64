/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A handler thread's loop, private to the files that make it up: loop.c
 * (the event loop, connections and their calls, the stop), loop_drain.c
 * (client_timeout's sweep, the stop's drain), loop_watch.c (the watchdog's
 * side) and accept.c (accepting on the listeners, worker_connections, the
 * end of listening). No other file includes it.
 */
#ifndef TC_WORKER_LOOP_INTERNAL_H
#define TC_WORKER_LOOP_INTERNAL_H

#include "worker/loop.h"

#include "config/hooks.h"
#include "core/clock.h"
#include "core/log.h"
#include "worker/accesslog.h"
#include "worker/dispatch.h"

#include <event2/util.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): one per thread */
struct tc_loop {
    tc_loop_shared_t *shared;
    int index;
    struct event_base *base;
    tc_dispatch_t *dispatch;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;    /* held by the loop thread except inside handler calls */
    atomic_llong busy_since; /* ns (monotonic) when the current call began; 0 when idle */
    /*
     * What the current handler call is, for the line of an abort
     * (tc_loop_watch_busy_with()): its connection and the message as read, set
     * before 'lock' is given up for the call. Guarded by 'lock': read by a
     * thread that holds it while 'busy_since' is not 0, when the loop is
     * inside that call. Left as they are after it.
     */
    const tc_conn_t *call_conn;
    const uint8_t *call_msg;
    size_t call_len;
    /*
     * The same of a connection hook, which keeps 'lock' while it runs: a
     * seqlock on 'busy_since', 'hook_since' the value the hook set it to
     * (run_conn_hook() in loop.c). 'hook_peer' is a copy of its peer.
     */
    atomic_llong hook_since;
    _Atomic(const char *) hook;
    atomic_char hook_peer[64];  /* tc_conn_t 'peer' */
    atomic_int nconns;          /* 'conns', 'incoming' and 'accepted' */
    atomic_bool done;           /* the thread has left its loop */
    atomic_int tid;             /* the loop thread's kernel id, 0 before it starts */
    atomic_bool up;             /* the thread passed its start (plugins' init_thread) */
    struct tc_conn_list conns;  /* guarded by 'lock' */
    bool accepting;             /* accept events are added; guarded by 'lock' */
    atomic_bool accept_on;      /* a copy of 'accepting' for the watchdog */
    struct event **accept_evs;  /* one per listener */
    struct event *accept_retry; /* re-enables accepting after EMFILE */
    struct event *defer;        /* re-enables accepting after leaving clients to a sibling */
    double defer_end;           /* when that wait ended, 0 once a client is accepted (accept.c) */
    struct event *resume;       /* re-enables accepting after worker_connections (any thread) */
    atomic_bool full;           /* accepting paused at worker_connections */
    struct event *sweep;        /* client_timeout */
    struct event *wake;         /* incoming connections or accept turn from the watchdog */
    struct event *stop;
    struct event *first_call; /* graceful stop: ends the wait for first calls */
    bool quit_listening;      /* accepts no more, counted off 'listening'; guarded by 'lock' */
    bool in_stop;             /* on_stop() runs: it leaves the loop itself; guarded by 'lock' */
    pthread_mutex_t inq_lock;
    /*
     * Connections the watchdog handed to this loop, counted in 'nconns'
     * already: the watchdog weighs a loop by that count, and moves them on
     * when the loop entered a long call before it took them. Guarded by
     * 'inq_lock'.
     */
    struct tc_conn_list incoming;
    /*
     * A turn to accept handed to this loop, not taken yet. Written under
     * 'inq_lock'; tc_loop_accepting() reads it without: the loop has that
     * turn already for the watchdog, which hands it on when the loop entered
     * a long call before it took it.
     */
    atomic_bool take_accept;
    bool gone; /* has left its loop, or is leaving it: takes no hand-over; guarded by 'inq_lock' */
    /*
     * Clients another loop accepted and handed to this one, counted in
     * 'nconns' already; on_connected runs as they are taken. Guarded by
     * 'inq_lock'.
     */
    struct tc_conn_list accepted;
    double emfile_logged;
    tc_log_ratelimit_t warn_limit; /* client warnings (client_warning_rate) */
    struct event *warn_report;     /* reports the client warnings not logged */
    tc_hooks_t *hooks; /* on_connected/post_connect_closed in a state of its own, or NULL */
    tc_accesslog_buf_t *log_buf; /* this thread's access log lines (access_log_buffer), or NULL */
    struct event *log_flush;     /* writes them out 'access_log_flush' after the first */
};

/* ---- loop.c: connections ---- */

/*
 * A client 'lp' has just accepted (its thread; takes ownership of 'c',
 * attached to 'lp'): kept, or handed to the accepting loop that holds the
 * fewest connections if that is fewer than 'lp' holds.
 */
void tc_loop_accepted(tc_loop_t *lp, tc_conn_t *c);

/*
 * A client accepted for 'lp' by another thread while 'lp' is inside a
 * handler call ('c' detached): queued for 'lp', counted there at once, and
 * taken (on_connected run) on its thread once the call ends.
 */
void tc_loop_hand_accepted(tc_loop_t *lp, tc_conn_t *c);

/* ---- loop_drain.c: closing connections once done with ---- */

/* Event callback (arg: the loop): client_timeout's sweep over the loop's connections. */
void tc_loop_drain_on_sweep(evutil_socket_t fd, short what, void *arg);

/*
 * Graceful stop: every connection of 'lp' answers what it has read and
 * closes, and the wait for first calls starts ('lock' held).
 */
void tc_loop_drain_conns(tc_loop_t *lp);

/* Event callback (arg: the loop): the stop's wait for first calls is over. */
void tc_loop_drain_on_first_call_wait(evutil_socket_t fd, short what, void *arg);

/* ---- accept.c: accepting on the listeners ---- */

/* Add ('on') or remove the loop's accept events ('lock' held). */
void tc_accept_set_accepting(tc_loop_t *lp, bool on);

/* Give back a worker_connections slot (any loop's thread); wakes the loops paused at the limit. */
void tc_accept_slot_give(tc_loop_shared_t *sh);

/* Event callback (arg: the loop): accept again after EMFILE or a slot come free. */
void tc_accept_retry(evutil_socket_t fd, short what, void *arg);

/* Event callback (arg: the loop): the wait of a loop that left clients to a sibling worker ends. */
void tc_accept_defer_end(evutil_socket_t fd, short what, void *arg);

/* Event callback (arg: the loop): clients wait on listener 'lfd'. */
void tc_accept_on_accept(evutil_socket_t lfd, short what, void *arg);

/* A graceful stop of the whole server: accept the clients waiting in the backlogs. */
bool tc_accept_take_backlog(tc_loop_t *lp);

/*
 * The same, by the worker's main thread for 'lp', the last loop listening,
 * while it is inside a handler call ('lock' held for it): the clients go
 * to 'lp' (tc_loop_hand_accepted()), answered once its call ends.
 */
void tc_accept_hand_backlog(tc_loop_t *lp);

/* The loop accepts no more, for good ('lock' held); the last one closes the listeners. */
void tc_accept_quit_listening(tc_loop_t *lp);

#endif /* TC_WORKER_LOOP_INTERNAL_H */
