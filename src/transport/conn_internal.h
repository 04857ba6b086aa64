/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client connection's private side, shared by the files that make it up:
 * conn.c (reading, framing, handing messages over, writing, backpressure,
 * the stop), linger.c (the lingering close) and idle.c (the buffers freed
 * once idle, what client_timeout asks). No other file includes it.
 */
#ifndef TC_TRANSPORT_CONN_INTERNAL_H
#define TC_TRANSPORT_CONN_INTERNAL_H

#include "transport/conn.h"

#include <event2/util.h>
#include <linux/sockios.h>
#include <stdbool.h>
#include <sys/ioctl.h>

/* The kernel holds bytes of the client's not read yet: a call may be in them. */
static inline bool
unread(const tc_conn_t *c)
{
    int n = 0;
    return ioctl(c->_fd, FIONREAD, &n) == 0 && n > 0;
}

/*
 * The kernel holds bytes written to the client that the client has not
 * taken yet (TCP: not acknowledged; a unix socket: not read); when it
 * cannot tell, it may.
 */
static inline bool
held(const tc_conn_t *c)
{
    int n = 0;
    return ioctl(c->_fd, SIOCOUTQ, &n) != 0 || n > 0;
}

/*
 * A buffer of the connection is over TC_CONN_BUF_KEEP. (A THeader
 * connection's scratch is not looked at: header_message() frees a large
 * one as soon as the call is done.)
 */
static inline bool
holds_big(const tc_conn_t *c)
{
    return c->_in.cap > TC_CONN_BUF_KEEP || c->_out.cap > TC_CONN_BUF_KEEP;
}

/* ---- linger.c: the lingering close ---- */

/*
 * Every reply owed is written (after a last reply or bad input): shut the
 * sending side and linger, or close at once when nothing is in flight.
 */
void tc_linger_start(tc_conn_t *c);

/* Wait (again) for the client's bytes, its close, or the end of the linger. */
void tc_linger_wait(tc_conn_t *c, double now);

/* The read event of a lingering connection ('what' as libevent gives it). */
void tc_linger_read(tc_conn_t *c, short what);

/* Close, reading first what the kernel holds of the client's (within the linger's bound). */
void tc_linger_close_dropping(tc_conn_t *c);

/* ---- idle.c: buffers between messages ---- */

/* Timer callback (arg: the connection): frees its large buffers if it is idle now. */
void tc_idle_on_shed(evutil_socket_t fd, short what, void *arg);

/* Idle with a large buffer, maybe: free it a while from now, unless a wait runs already. */
void tc_idle_shed_later(tc_conn_t *c);

#endif /* TC_TRANSPORT_CONN_INTERNAL_H */
