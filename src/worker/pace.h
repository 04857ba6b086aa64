/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watchdog's pace: how long a worker's main thread waits between two
 * looks at its loops (worker.c), and the wake-up that cuts its long wait
 * short when a call starts.
 *
 * While a call runs it looks every TC_PACE_BUSY_NS: a call stuck for
 * STEAL_AFTER then gives its loop's other connections away within a few
 * ms. Once no call runs it keeps looking every TC_PACE_QUIET_NS for
 * TC_PACE_QUIET_LOOKS looks, and only then waits TC_PACE_IDLE_NS: a server
 * under load never waits that long between two of its short calls. During
 * that long wait the first call to start wakes it (tc_pace_call_started()):
 * without that, a burst of clients on a worker idle until then waited up
 * to TC_PACE_IDLE_NS for the look that spreads them over its threads.
 */
#ifndef TC_WORKER_PACE_H
#define TC_WORKER_PACE_H

#include "core/common.h"

#include <stdatomic.h>
#include <stdbool.h>

#define TC_PACE_BUSY_NS     2000000L /* while a call runs */
#define TC_PACE_QUIET_NS    5000000L /* after the last call seen, TC_PACE_QUIET_LOOKS times */
#define TC_PACE_QUIET_LOOKS 10
#define TC_PACE_IDLE_NS     50000000L /* then, until a call starts */
#define TC_PACE_STOP_NS     10000000L /* in a graceful stop with no call running */

typedef struct tc_pace {
    int quiet;  /* looks in a row that found no call running */
    bool armed; /* in the long wait, or about to be */
} tc_pace_t;

/* A worker that has seen no call yet: the long wait from its first look. */
void tc_pace_init(tc_pace_t *p);

/*
 * The wait before the next look, given what this one found: a call running
 * (or listeners still to close in a stop), and whether the worker is
 * stopping. TC_PACE_IDLE_NS is the long wait, to arm first.
 */
long tc_pace_next(tc_pace_t *p, bool busy, bool stopping);

/*
 * The main thread, before the long wait: 'idle' tells the loops. It then
 * looks at every loop once more (a seq_cst load of each one's call start)
 * and disarms at once if a call runs: with a loop's seq_cst store of its
 * call's start before tc_pace_call_started(), one side sees the other, so
 * no call starts unseen during the long wait.
 */
void tc_pace_arm(tc_pace_t *p, atomic_bool *idle);

/*
 * The main thread, after a wait (any): the loops need not wake it. If a
 * call woke it, the looks are quick again for a while: the next calls do
 * not each wake it once more.
 */
void tc_pace_disarm(tc_pace_t *p, atomic_bool *idle);

/*
 * A loop, as a call starts, after its seq_cst store of the call's start:
 * wake the main thread if it is in the long wait (once: the first call to
 * see it disarms it). Only a load while it is not.
 */
void tc_pace_call_started(atomic_bool *idle);

#endif /* TC_WORKER_PACE_H */
