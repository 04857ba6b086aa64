/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lingering close of a client connection (transport/conn.c): once the
 * replies owed after a last reply or bad input are written, the sending
 * side is shut and the client's bytes are dropped until it closes, within
 * bounds of time and bytes. Off the path of a call.
 */
#include "transport/conn_internal.h"

#include "core/buf.h"
#include "core/clock.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Lingering close, after a last reply or bad input, once the replies owed
 * are written: the client may still be sending (calls it pipelined), and a
 * close(2) with its bytes unread makes the kernel answer with a reset, which
 * destroys replies not yet delivered and fails the client's recv() with
 * ECONNRESET before it reads what it was told. So the sending side is shut
 * (the client reads its replies, then the end of the stream) and the
 * client's bytes are read and dropped until it closes, for at most
 * LINGER_S seconds (many round trips, even across the world, for a client
 * to read a reply and close; short enough that a descriptor is not held
 * for long) and LINGER_BYTES bytes (more than the client can have in flight
 * when the error is found: its send buffer and our receive buffer, a few
 * MiB each at most; past that it is sending on, not reacting).
 */
#define LINGER_S     2.0
#define LINGER_BYTES (16u << 20)
/* Bytes dropped per read while lingering. */
#define LINGER_READ 16384
/*
 * How often a connection lingering in a graceful stop looks whether the
 * client has taken every reply byte (then it may close without waiting for
 * the client, which may not look at an idle connection for long).
 */
#define LINGER_POLL_S 0.05

/*
 * Wake for the client's bytes, its close, or at the end of the linger; in a
 * stop, also every LINGER_POLL_S to see whether the client took all.
 */
void
tc_linger_wait(tc_conn_t *c, double now)
{
    double left = c->_linger_until - now;
    left = left > 0.0 ? left : 0.0;
    if (c->_stopping && left > LINGER_POLL_S) {
        left = LINGER_POLL_S;
    }
    struct timeval tv = tc_clock_timeval(left);
    /* (the read event's own timeout: no timer of its own, none while not lingering) */
    event_add(c->_rev, &tv);
}

/*
 * Close, reading first what the kernel holds of the client's (within the
 * linger's bound): a close with bytes unread sends a reset, which destroys
 * what the client has not received yet of what was written before.
 */
void
tc_linger_close_dropping(tc_conn_t *c)
{
    uint8_t sink[LINGER_READ];
    while (c->_linger_left > 0) {
        ssize_t n = read(c->_fd, sink, sizeof(sink));
        if (n <= 0) {
            break;
        }
        c->_linger_left -= (size_t)n < c->_linger_left ? (size_t)n : c->_linger_left;
    }
    tc_conn_close(c, NULL);
}

/*
 * Every reply owed is written: shut the sending side, so that the client
 * reads them and then the end of the stream, and wait for it to close. In a
 * stop, a client that has taken every reply byte and sent nothing unread
 * has nothing to wait for: closed at once.
 */
void
tc_linger_start(tc_conn_t *c)
{
    if ((c->_stopping && !held(c) && !unread(c)) || shutdown(c->_fd, SHUT_WR) != 0) {
        tc_conn_close(c, NULL); /* nothing in flight, or the client is gone */
        return;
    }
    if (c->_writing) {
        c->_writing = false;
        event_del(c->_wev);
    }
    /* nothing is kept for the rest of its life but the socket */
    if (c->_tev != NULL) {
        event_del(c->_tev);
    }
    tc_buf_deinit(&c->_in);
    tc_buf_deinit(&c->_out);
    c->_out_off = 0;
    if (c->header != NULL) {
        tc_header_deinit(c->header);
        free(c->header);
        c->header = NULL;
    }
    free(c->_skip);
    c->_skip = NULL;
    c->_lingering = true;
    double now = tc_clock_mono_s();
    /* (the stop's wait is over: it waits no longer than 'grace' for the client) */
    c->_linger_until = now + (c->_hurry && c->_grace < LINGER_S ? c->_grace : LINGER_S);
    c->_linger_left = LINGER_BYTES;
    tc_linger_wait(c, now);
}

/*
 * Lingering: drop the client's bytes; close at their end, an error, a
 * bound, or, in a stop, once the client has taken every reply byte.
 */
void
tc_linger_read(tc_conn_t *c, short what)
{
    if (!(what & EV_TIMEOUT)) {
        uint8_t sink[LINGER_READ];
        ssize_t n = read(c->_fd, sink, sizeof(sink));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
            (n > 0 && (size_t)n >= c->_linger_left)) {
            tc_conn_close(c, NULL);
            return;
        }
        c->_linger_left -= n > 0 ? (size_t)n : 0;
    }
    double now = tc_clock_mono_s();
    if (now >= c->_linger_until || (c->_stopping && !held(c))) {
        tc_linger_close_dropping(c);
        return;
    }
    tc_linger_wait(c, now);
}
