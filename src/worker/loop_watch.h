/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watchdog's side of the handler threads' loops, for the worker's main
 * thread: what a loop is inside, whether its thread runs, and moving a
 * blocked loop's connections to idle loops. The loop itself is
 * worker/loop.h.
 */
#ifndef TC_WORKER_LOOP_WATCH_H
#define TC_WORKER_LOOP_WATCH_H

#include "worker/loop.h"

#include <stdbool.h>
#include <stddef.h>

/* The most loops one rebalance deals connections out to. */
#define TC_LOOP_WATCH_SPREAD_MAX 64

/*
 * Watchdog side (any thread): if 'from' has been inside one handler call
 * for at least 'after' seconds, deal its other connections (and the
 * clients and connections handed to it that it has not taken yet) out to
 * the loops of 'targets' (the first TC_LOOP_WATCH_SPREAD_MAX of the 'ntargets'
 * that have not left their loop), one by one, and hand its turn to accept
 * (its own, or one handed to it) to the first of them that has none (if
 * each has one, 'from' takes it back once its call ends).
 * Also in a graceful stop: a stopping loop stays in its loop while the
 * worker has a connection, and the stop reaches a connection when it
 * arrives. Returns the number of connections moved, or -1 if 'from' was
 * not blocked or no target takes them.
 */
int tc_loop_watch_rebalance(tc_loop_t *from, tc_loop_t *const *targets, int ntargets, double after,
                            double now);

/*
 * True when the loop's thread is running or waiting for a CPU (state R),
 * false when it sleeps in a system call (a handler blocked on I/O or a
 * timer) or its state cannot be read.
 */
bool tc_loop_watch_runnable(const tc_loop_t *lp);

/*
 * What the loop is inside, for the line of an abort (the worker's main
 * thread): "'NAME' from PEER" for a handler call, NAME the method as the
 * client sent it ("Service:method" when multiplexed; escaped, at most 100
 * bytes of it), "the HOOK hook for PEER" for a connection hook; "" when
 * it is in none (the call ended meanwhile). Writes a NUL-terminated text
 * of at most 'size' bytes into 'buf' and returns its length. Never blocks.
 */
size_t tc_loop_watch_busy_with(tc_loop_t *lp, char *buf, size_t size);

#endif /* TC_WORKER_LOOP_WATCH_H */
