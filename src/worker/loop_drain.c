/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Closing a loop's connections once they are done with: client_timeout's
 * sweep over silent clients and messages that do not arrive whole, and the
 * graceful stop's drain with its wait for first calls. Off the path of a
 * call, which is loop.c's.
 */
#include "worker/loop_internal.h"

#include "core/clock.h"
#include "core/log.h"
#include "transport/idle.h"

#include <event2/event.h>

/*
 * Graceful stop: how long a connection that has sent nothing yet is kept
 * for its first call (it was accepted just before the stop), and one that
 * has sent part of a message for the rest of it; at most half of
 * graceful_timeout, so that the wait never ends in a SIGKILL. After it, a
 * connection still handing its last replies to a slow client waits for it
 * at most half as long again.
 */
#define FIRST_CALL_WAIT_S 1.0

static double
first_call_wait(const tc_loop_t *lp)
{
    double wait = lp->shared->cfg->graceful_timeout / 2;
    return wait < FIRST_CALL_WAIT_S ? wait : FIRST_CALL_WAIT_S;
}

/* ---- client_timeout ---- */

/*
 * Timer, every 0.5 s (every quarter of client_timeout when that is
 * shorter): close the connections whose client has been silent, or has
 * not sent the rest of a message, for client_timeout.
 */
void
tc_loop_drain_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_loop_t *lp = arg;
    double timeout = lp->shared->cfg->client_timeout;
    double now = tc_clock_coarse_s();
    tc_conn_t *c = TAILQ_FIRST(&lp->conns);
    while (c != NULL) {
        tc_conn_t *next = TAILQ_NEXT(c, link);
        if (c->in_call) {
            c = next;
            continue;
        }
        /*
         * A message must arrive whole within the timeout, however slowly it
         * trickles. A sweep that comes due while a call runs runs right after
         * it, before the loop reads again: bytes the kernel holds unread mean
         * that the thread was busy, not the client (asked only before a close).
         */
        if (c->msg_since != 0.0 && now - c->msg_since >= timeout) {
            if (!tc_idle_input_waiting(c)) {
                char partial[256];
                tc_idle_describe_partial(c, partial, sizeof(partial));
                tc_log(TC_LOG_WARNING,
                       "%s: closed: message not finished within %g s (client_timeout): %s", c->peer,
                       timeout, partial);
                tc_conn_close(c, NULL);
            }
        } else if (now - c->last_io >= timeout) {
            if (tc_idle_taking_replies(c)) {
                c->last_io = now; /* slowly taking a reply the kernel already holds */
            } else if (!tc_idle_input_waiting(c)) {
                tc_log(TC_LOG_DEBUG, "%s: closed: silent for %g s (client_timeout)", c->peer,
                       timeout);
                tc_conn_close(c, NULL);
            }
        }
        c = next;
    }
}

/* ---- the graceful stop ---- */

/*
 * Graceful stop: every connection answers what it has read and what the
 * kernel holds for it now, and closes once the client has the replies. One
 * accepted just now that has not sent its first call yet is waiting to (a
 * reset would fail that call), so it gets FIRST_CALL_WAIT_S for it (or
 * half of graceful_timeout); so does one whose client has sent part of a
 * message, for the rest.
 */
void
tc_loop_drain_conns(tc_loop_t *lp)
{
    tc_conn_t *c = TAILQ_FIRST(&lp->conns);
    while (c != NULL) {
        tc_conn_t *next = TAILQ_NEXT(c, link);
        tc_conn_close_when_done(c);
        c = next;
    }
    if (atomic_load(&lp->nconns) > 0 && !evtimer_pending(lp->first_call, NULL)) {
        struct timeval tv = tc_clock_timeval(first_call_wait(lp));
        evtimer_add(lp->first_call, &tv);
    }
}

/*
 * The wait for first calls is over: close every connection still idle or
 * still waiting for the rest of a message, and cut short the wait of those
 * lingering for a slow client.
 */
void
tc_loop_drain_on_first_call_wait(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_loop_t *lp = arg;
    double grace = first_call_wait(lp) / 2;
    tc_conn_t *c = TAILQ_FIRST(&lp->conns);
    while (c != NULL) {
        tc_conn_t *next = TAILQ_NEXT(c, link);
        tc_conn_close_if_idle(c, grace);
        c = next;
    }
}
