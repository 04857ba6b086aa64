/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client connections on a libevent loop: read, find whole messages with the
 * transport's scanner, hand each to the owner, write the replies back. Under
 * load this is one read(2) and one write(2) per batch of pipelined calls.
 */
#include "transport/conn.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "protocol/binary.h"
#include "transport/conn_internal.h"
#include "transport/detect.h"
#include "transport/idle.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * read(2) and write(2) of a served call, without the C library's wrappers:
 * in a process of several threads those mark every call a cancellation
 * point, a bookkeeping that costs about 1% of a small call and that nothing
 * here needs, since no thread of a worker is ever cancelled.
 */
static inline ssize_t
sock_read(int fd, void *buf, size_t len)
{
    return syscall(SYS_read, fd, buf, len);
}

static inline ssize_t
sock_write(int fd, const void *buf, size_t len)
{
    return syscall(SYS_write, fd, buf, len);
}

/* Smallest free space offered to read(2). */
#define READ_MIN 16384
/*
 * Replies buffered beyond this stop reading, and handling the calls already
 * read, until the client takes them: a pipelining client that does not read
 * cannot make the server buffer more than this plus one reply.
 */
#define OUT_HIGH_WATER (4u << 20)

/* Written reply bytes at which flush() drops them from the output buffer. */
#define OUT_COMPACT (64u << 10)

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

/* From now on the connection speaks 't' and 'p' (NULL: THeader's, per message). */
static void
set_transport(tc_conn_t *c, const tc_transport_t *t, const tc_proto_ops_t *p)
{
    c->transport = t;
    c->protocol = p;
    c->_max = t == &tc_transport_buffered ? c->_s->max_message_size : c->_s->max_frame_size;
    if (t == &tc_transport_header) {
        c->protocol = NULL;
        c->header = tc_xmalloc(sizeof(*c->header));
        tc_header_init(c->header);
    }
}

/* ---- buffers between messages ---- */

/* The connection has no partial message and every reply is written. */
static inline void
went_idle(tc_conn_t *c)
{
    if (TC_UNLIKELY(holds_big(c))) {
        tc_idle_shed_later(c);
    }
}

tc_conn_t *
tc_conn_new(struct event_base *base, int fd, const char *peer, const tc_conn_settings_t *s,
            void *arg)
{
    tc_conn_t *c = tc_xcalloc(1, sizeof(*c));
    c->_fd = fd;
    c->_s = s;
    (void)snprintf(c->peer, sizeof(c->peer), "%s", peer);
    tc_buf_init(&c->_in);
    tc_buf_init(&c->_out);
    if (s->transport == &tc_transport_header) {
        set_transport(c, s->transport, s->protocol);
    }
    c->_rev = tc_xcalloc(1, event_get_struct_event_size());
    c->_wev = tc_xcalloc(1, event_get_struct_event_size());
    c->last_io = tc_clock_coarse_s(); /* client_timeout counts from the accept */
    tc_conn_attach(c, base, arg);
    return c;
}

static void
conn_free(tc_conn_t *c)
{
    tc_buf_deinit(&c->_in);
    tc_buf_deinit(&c->_out);
    if (c->header != NULL) {
        tc_header_deinit(c->header);
        free(c->header);
    }
    free(c->_skip);
    free(c->_rev);
    free(c->_wev);
    free(c->_tev);
    free(c);
}

void
tc_conn_close(tc_conn_t *c, const char *reason)
{
    if (c->_closed) {
        return;
    }
    if (reason != NULL) {
        tc_log(TC_LOG_INFO, "%s: closed: %s", c->peer, reason);
    }
    c->_closed = true;
    event_del(c->_rev);
    event_del(c->_wev);
    if (c->_tev != NULL) {
        event_del(c->_tev);
    }
    close(c->_fd);
    c->_fd = -1;
    c->_s->handler->closed(c, c->owner);
    if (!c->_in_cb) {
        conn_free(c);
    }
}

void
tc_conn_detach(tc_conn_t *c)
{
    event_del(c->_rev);
    event_del(c->_wev);
    if (c->_tev != NULL) {
        event_del(c->_tev);
    }
}

static void wait_writable(tc_conn_t *c);

void
tc_conn_attach(tc_conn_t *c, struct event_base *base, void *arg)
{
    c->owner = arg;
    event_assign(c->_rev, base, c->_fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(c->_wev, base, c->_fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (c->_tev != NULL) {
        evtimer_assign(c->_tev, base, tc_idle_on_shed, c);
    }
    /*
     * 'last_io' stays: a move to another loop is not the client's doing, and
     * a silent client whose connection the watchdog keeps moving between
     * blocked threads must still time out
     */
    if (c->_lingering) {
        tc_linger_wait(c, tc_clock_mono_s()); /* (closes on this loop if its time is over) */
        return;
    }
    if (c->_out.len > c->_out_off) {
        wait_writable(c); /* in a stop past its wait, bounded on this loop too */
    } else {
        c->_writing = false;
    }
    if (c->_out.len - c->_out_off < OUT_HIGH_WATER && !c->_last) {
        event_add(c->_rev, NULL);
    }
    if (c->_in.len > 0) {
        /* buffered input may hold whole messages: look at it on the new loop */
        event_active(c->_rev, EV_READ, 0);
    } else if (c->_out.len == c->_out_off) {
        went_idle(c); /* (its wait to free a large buffer starts again here) */
    }
}

bool
tc_conn_idle(const tc_conn_t *c)
{
    return !c->in_call && c->_in.len == 0 && c->_out.len == c->_out_off;
}

/*
 * A graceful stop reached the connection: it reads on up to the end of what
 * the kernel holds for it now (what a client sent later is dropped).
 */
static void
begin_stop(tc_conn_t *c)
{
    if (c->_stopping) {
        return;
    }
    int n = 0;
    c->_stopping = true;
    c->_stop_at = c->_nread + (ioctl(c->_fd, FIONREAD, &n) == 0 && n > 0 ? (unsigned)n : 0u);
}

/*
 * A stop: every message begun before it reached the connection is whole and
 * handled (and at least one, for a client that had sent nothing yet: it
 * connected to make a call). What is left in the input began after.
 */
static bool
stop_reached(const tc_conn_t *c)
{
    unsigned long long whole = c->_nread - c->_in.len;
    return c->_stopping && !c->_stalled && whole >= c->_stop_at && whole > 0;
}

/*
 * A stop whose wait is over (tc_conn_close_if_idle()): a message is begun
 * and its client has not sent the rest, the bytes the kernel held at the
 * stop read and no more held now. Whole messages held back by
 * backpressure are not this: they wait for the client to read.
 */
static bool
cut_short(const tc_conn_t *c)
{
    return c->_hurry && !c->_stalled && !c->_last && !c->in_call && c->_in.len > 0 &&
           c->_nread >= c->_stop_at && !unread(c);
}

static void close_when_written(tc_conn_t *c, const char *why);

/*
 * cut_short(): close once the replies owed are written, saying what came
 * of the message, as the close at client_timeout does (worker/loop_drain.c);
 * described before close_when_written() drops the input.
 */
static void
close_cut_short(tc_conn_t *c)
{
    char partial[256];
    char why[320];
    tc_idle_describe_partial(c, partial, sizeof(partial));
    (void)snprintf(why, sizeof(why), "message not finished within the stop's wait: %s", partial);
    close_when_written(c, why);
}

void
tc_conn_close_when_done(tc_conn_t *c)
{
    begin_stop(c);
    if (c->_lingering) {
        tc_linger_wait(c, tc_clock_mono_s()); /* (now it looks whether the client took all) */
    } else if (!c->_last && tc_conn_idle(c) && stop_reached(c)) {
        close_when_written(c, NULL);
    }
}

/*
 * Wait for room to write the replies owed. Once a stop's wait is over, for
 * '_grace' at a time: a client that takes none of them would otherwise
 * hold the stop (its calls held back by backpressure with it) until
 * client_timeout or the SIGKILL of graceful_timeout, which loses every call
 * still running. on_write() closes it when no room came for '_grace' and
 * the kernel holds as much of its replies as at its last look (SIOCOUTQ, as
 * client_timeout asks); a client taking them, however slowly, goes on.
 */
static void
wait_writable(tc_conn_t *c)
{
    struct timeval tv = tc_clock_timeval(c->_grace);
    c->_writing = true;
    event_add(c->_wev, c->_hurry ? &tv : NULL);
}

void
tc_conn_close_if_idle(tc_conn_t *c, double grace)
{
    begin_stop(c);
    c->_hurry = true;
    c->_grace = grace;
    if (!c->_lingering && c->_out.len > c->_out_off) {
        wait_writable(c);
    }
    if (c->_lingering) {
        double now = tc_clock_mono_s();
        if (c->_linger_until > now + grace) {
            c->_linger_until = now + grace;
        }
        if (held(c)) {
            tc_linger_wait(c, now);
        } else {
            tc_linger_close_dropping(c);
        }
    } else if (tc_conn_idle(c) && !unread(c)) {
        tc_conn_close(c, NULL); /* it never sent its first call */
    } else if (cut_short(c)) {
        close_cut_short(c); /* (the replies owed are written first) */
    }
}

/* ---- writing ---- */

static void stop_reading(tc_conn_t *c);

/* Write what is pending; returns false if the connection was closed or lingers. */
static bool
flush(tc_conn_t *c)
{
    while (c->_out_off < c->_out.len) {
        ssize_t n = sock_write(c->_fd, c->_out.data + c->_out_off, c->_out.len - c->_out_off);
        if (n > 0) {
            /* a client taking its reply slowly but steadily is not silent */
            c->_out_off += (size_t)n;
            c->last_io = tc_clock_coarse_s();
            c->_outq = 0;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->_out_off >= OUT_COMPACT && c->_out_off >= c->_out.len - c->_out_off) {
                /*
                 * drop what was written, or a client that pipelines on while
                 * reading slowly grows the buffer by all it was ever sent
                 * (moving at most as many bytes as were written)
                 */
                tc_buf_consume(&c->_out, c->_out_off);
                c->_out_off = 0;
            }
            if (!c->_writing) {
                wait_writable(c);
            }
            if (c->_out.len - c->_out_off >= OUT_HIGH_WATER) {
                event_del(c->_rev); /* backpressure: the client is not reading */
            }
            return true;
        }
        /* a last reply's connection was logged once already, with why it closes */
        tc_conn_close(c, c->_last ? NULL : n < 0 ? tc_strerror(-errno) : "write returned 0");
        return false;
    }
    c->_out.len = 0;
    c->_out_off = 0;
    if (c->_last) {
        tc_linger_start(c);
        return false;
    }
    if (c->_writing) {
        c->_writing = false;
        event_del(c->_wev);
        event_add(c->_rev, NULL);
    }
    if (c->_in.len == 0) {
        went_idle(c);
    }
    if (c->_close_when_done && tc_conn_idle(c)) {
        tc_conn_close(c, NULL); /* the client sent all it will, and has every reply */
        return false;
    }
    if (TC_UNLIKELY(c->_stopping) && tc_conn_idle(c) && stop_reached(c)) {
        c->_last = true;
        stop_reading(c);
        tc_linger_start(c);
        return false;
    }
    return true;
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    tc_conn_t *c = arg;
    c->_in_cb = true;
    if (what & EV_TIMEOUT) {
        /* wait_writable(): in a stop, no room to write for '_grace' */
        if (tc_idle_taking_replies(c)) {
            goto done; /* slowly taking what the kernel holds: another '_grace' */
        }
        char why[160];
        (void)snprintf(why, sizeof(why),
                       "replies not taken within the stop's wait: %zu bytes owed%s",
                       c->_out.len - c->_out_off,
                       c->_stalled ? ", the calls held back by backpressure not run" : "");
        tc_conn_close(c, why);
    } else if (flush(c) && c->_stalled && c->_out.len - c->_out_off < OUT_HIGH_WATER) {
        /* the calls left waiting in the input buffer: on_read handles them first */
        event_active(c->_rev, EV_READ, 0);
    }
done:
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _in_cb is set: nothing was freed */
    c->_in_cb = false;
    if (c->_closed) {
        conn_free(c);
    }
}

/* ---- reading ---- */

/*
 * Read nothing more and drop the input: what is left of it is never
 * handled (a message cut short, or calls after a last reply).
 */
static void
stop_reading(tc_conn_t *c)
{
    tc_buf_deinit(&c->_in); /* (nothing is read into it again) */
    c->msg_since = 0.0;
    event_del(c->_rev);
}

/*
 * After a message that ends the connection, with a last reply or for bad
 * input (logged, or 'why' to log): read nothing more, drop what was read,
 * write the replies owed to the calls before it; flush() then closes,
 * lingering.
 */
static void
close_when_written(tc_conn_t *c, const char *why)
{
    if (why != NULL) {
        tc_log(TC_LOG_INFO, "%s: closed: %s", c->peer, why);
    }
    c->_last = true;
    stop_reading(c);
    flush(c);
}

/* "binary" or "compact" when 'p' (2 bytes or more) starts a strict binary or a compact message. */
static const char *
message_start(const uint8_t *p)
{
    if (p[0] == 0x80 && p[1] == 0x01) {
        return "binary";
    }
    if (p[0] == 0x82 && (p[1] & 0x1F) == 1) {
        return "compact";
    }
    return NULL;
}

/*
 * Why a connection closes on the message at 'msg' ('len' bytes), when what
 * was detected from its first message, the protocol (protocol "auto") or,
 * with 'framing' ("buffered" on a framed connection), the transport
 * (transport "auto"), does not fit it: the message starts as the other
 * protocol's do, or as a buffered one, or (transport "auto", framed) it is
 * a THeader frame's; or, in a THeader frame, the message is not in the
 * protocol the frame names. False: no such misfit.
 */
static bool
misfit(const tc_conn_t *c, const char *framing, const uint8_t *msg, size_t len, char *why,
       size_t size)
{
    if (c->protocol == NULL || len < 2) {
        return false;
    }
    if (c->transport == &tc_transport_header) {
        /* 'protocol' is the one this frame names, whatever the settings */
        const char *came = framing == NULL ? message_start(msg) : NULL;
        if (came == NULL || strcmp(came, c->protocol->name) == 0) {
            return false;
        }
        (void)snprintf(why, size, "a %s message in a THeader frame whose protocol id says %s", came,
                       c->protocol->name);
        return true;
    }
    const char *speaks = c->transport->name;
    if (framing == NULL && c->transport == &tc_transport_framed && c->_s->transport == NULL &&
        msg[0] == 0x0F && msg[1] == 0xFF) {
        /* THeader's magic: the frame would be read as a name of about 268 MB */
        (void)snprintf(why, size,
                       "a THeader message on a connection that speaks %s %s (its first message "
                       "decided)",
                       speaks, c->protocol->name);
        return true;
    }
    const char *other = message_start(msg);
    if (other == NULL) {
        return false;
    }
    if (framing != NULL) {
        if (c->_s->transport != NULL) {
            return false;
        }
        (void)snprintf(why, size,
                       "a %s %s message on a connection that speaks %s %s (its first message "
                       "decided)",
                       framing, other, speaks, c->protocol->name);
        return true;
    }
    if (c->_s->protocol != NULL || strcmp(other, c->protocol->name) == 0) {
        return false;
    }
    (void)snprintf(why, size,
                   "a %s message on a connection that speaks %s %s (its first message decided)",
                   other, speaks, c->protocol->name);
    return true;
}

bool
tc_conn_misfit(const tc_conn_t *c, const uint8_t *msg, size_t len, char *why, size_t size)
{
    return misfit(c, NULL, msg, len, why, size);
}

/* Why a THeader connection closes on a 'framing' ("framed", "buffered") 'proto' message. */
static void
not_theader(const tc_conn_t *c, const char *framing, const char *proto, char *why, size_t len)
{
    if (c->_s->transport == &tc_transport_header) {
        (void)snprintf(why, len, "a %s %s client, but transport is header", framing, proto);
    } else {
        (void)snprintf(why, len, "a %s %s message on a THeader connection", framing, proto);
    }
}

/*
 * Close after the scanner refused the message at 'data' (once the calls
 * before it are answered): say what was wrong as closely as the transport
 * can tell (a framed or THeader scanner refuses only the frame's length,
 * THeader also a frame too short for its fixed part; a buffered one the
 * skip of the whole message).
 */
static void
close_scan_error(tc_conn_t *c, const uint8_t *data, size_t avail, int rc)
{
    char why[200];
    const char *proto = c->protocol != NULL ? c->protocol->name : "THeader";
    bool header = c->transport == &tc_transport_header;
    if (c->transport == &tc_transport_framed || header) {
        /* the scanner refuses nothing before the 4 bytes of the length are in */
        int32_t n = (int32_t)tc_proto_binary_load_be32(data);
        const char *other = NULL;
        if (header && n <= 0) {
            other = message_start(data);
        } else if (header && rc == TC_EPROTO && n >= 2) {
            other = message_start(data + 4); /* a whole frame, shorter than THeader's least */
        }
        if (rc == TC_ELIMIT) {
            (void)snprintf(why, sizeof(why), "frame of %" PRId32 " bytes over max_frame_size (%zu)",
                           n, c->_max);
        } else if (!header && n <= 0 && misfit(c, "buffered", data, avail, why, sizeof(why))) {
            /* a buffered message on a connection that detected framed */
        } else if (other != NULL) {
            not_theader(c, n <= 0 ? "buffered" : "framed", other, why, sizeof(why));
        } else if (n <= 0) {
            (void)snprintf(why, sizeof(why), "frame length %" PRId32 " (must be 1 or more)", n);
        } else {
            (void)snprintf(why, sizeof(why),
                           "THeader frame of %" PRId32 " bytes (must be %u or more)", n,
                           TC_HEADER_FIXED);
        }
    } else if (rc == TC_ELIMIT) {
        (void)snprintf(why, sizeof(why),
                       "%s message, or a size in it, over max_message_size (%zu), or nested deeper "
                       "than %d",
                       proto, c->_max, TC_PROTO_DEPTH_MAX);
    } else if (rc == TC_EPROTO && misfit(c, NULL, data, avail, why, sizeof(why))) {
        /* the other protocol's message on a connection that detected one */
    } else if (rc == TC_EPROTO) {
        (void)snprintf(why, sizeof(why),
                       "invalid %s %s message (version, message type, type id, size or varint)",
                       c->transport->name, proto);
    } else {
        (void)snprintf(why, sizeof(why), "%s", tc_strerror(rc));
    }
    close_when_written(c, why);
}

/* Transport and protocol both fixed: the bytes so far are refused by them already. */
static bool
fixed_refuses(const tc_conn_t *c)
{
    const tc_conn_settings_t *s = c->_s;
    size_t max = s->transport == &tc_transport_buffered ? s->max_message_size : s->max_frame_size;
    size_t off;
    size_t len;
    int rc = s->transport->scan(s->protocol, c->_in.data, c->_in.len, max, &off, &len);
    return rc == TC_EPROTO || rc == TC_ELIMIT;
}

/*
 * Decide the transport and protocol from the first bytes (transport =
 * "auto" or protocol = "auto"). TC_AGAIN until enough bytes are in; on an
 * error the connection is closed. With both fixed (framed or buffered) the
 * first bytes are only looked at for a THeader client, which would
 * otherwise be read as a message with a header that makes no sense
 * ("invalid message header (over a configured limit)" framed, a wait for
 * bytes that never come buffered); the fixed ones read all others, and
 * refuse what they refuse (a frame length over the limit) as soon as they
 * would without the look.
 */
static int
detect(tc_conn_t *c)
{
    const tc_conn_settings_t *s = c->_s;
    tc_detected_t r;
    int rc = tc_detect(c->_in.data, c->_in.len, s->transport, &r);
    if (s->transport != NULL && s->protocol != NULL &&
        (rc == TC_AGAIN ? fixed_refuses(c) : rc != TC_OK || r.transport != &tc_transport_header)) {
        set_transport(c, s->transport, s->protocol);
        return TC_OK;
    }
    if (rc == TC_AGAIN) {
        return rc;
    }
    if (rc != TC_OK) {
        tc_conn_close(c, r.refused);
        return rc;
    }
    if ((s->transport != NULL && s->transport != r.transport) ||
        (s->protocol != NULL && r.protocol != NULL && s->protocol != r.protocol)) {
        char why[160];
        (void)snprintf(why, sizeof(why), "a %s client, but transport is %s and protocol %s",
                       tc_detect_name(&r), s->transport != NULL ? s->transport->name : "auto",
                       s->protocol != NULL ? s->protocol->name : "auto");
        tc_conn_close(c, why);
        return TC_EPROTO;
    }
    tc_log(TC_LOG_DEBUG, "%s: %s", c->peer, tc_detect_name(&r));
    set_transport(c, r.transport, r.protocol);
    return TC_OK;
}

/*
 * One THeader frame: unwrap it, let the owner handle the message inside
 * with its protocol, wrap the reply the same way. The reply is written
 * into the output buffer where its frame goes, and the inflated message
 * is freed once handled if it is over TC_CONN_BUF_KEEP, not at the idle
 * sweep: a connection whose client does not read its reply holds that
 * reply and nothing more of the call (a frame of 16 KB may inflate to
 * 16 MB). Large compressed calls in a row inflate into a fresh buffer
 * each, which costs less than the inflating, and no more than the copy of
 * the reply that writing it in place saves (docs/reliability.md).
 */
static int
header_message(tc_conn_t *c, const uint8_t *frame, size_t len)
{
    tc_header_t *h = c->header;
    const char *why = NULL;
    int rc = tc_header_read(h, frame, len, c->_s->max_message_size, &why);
    if (rc != TC_OK) {
        const char *other = message_start(frame);
        if (other != NULL) {
            char text[100];
            not_theader(c, "framed", other, text, sizeof(text));
            tc_log(TC_LOG_INFO, "%s: closed: %s", c->peer, text);
        } else if (h->refused != 0) {
            tc_log(TC_LOG_WARNING, "%s: invalid THeader frame: %s %" PRIu32, c->peer, why,
                   h->refused_id);
        } else {
            tc_log(TC_LOG_WARNING, "%s: invalid THeader frame: %s", c->peer, why);
        }
        if (h->refused != 0) {
            /* tell the client, then close, as Apache's C++ server does */
            tc_header_write_refusal(h, &c->_out);
            c->_last = true;
        }
        tc_header_shed(h, TC_CONN_BUF_KEEP); /* (a layer over the cap is inflated up to it) */
        return rc;
    }
    if (TC_UNLIKELY(c->protocol != h->protocol)) {
        /* each frame names its protocol: say which, once, and again if it changes */
        tc_log(TC_LOG_DEBUG, "%s: THeader carries %s", c->peer, h->protocol->name);
    }
    c->protocol = h->protocol;
    size_t mark = tc_header_begin(&c->_out);
    rc = c->_s->handler->message(c, h->payload, h->payload_len, &c->_out, c->owner);
    tc_header_shed(h, TC_CONN_BUF_KEEP);
    if (rc == TC_OK && c->_out.len > mark + TC_HEADER_LEAST) {
        tc_header_end(h, &c->_out, mark);
    } else {
        c->_out.len = mark; /* no reply (oneway), or the connection closes */
    }
    return rc;
}

/* Hand every whole message in the input buffer to the owner. */
static void
process(tc_conn_t *c)
{
    const tc_conn_settings_t *s = c->_s;
    /* the read that called us, or the write that made room after backpressure */
    double since = c->last_io;
    size_t pos = 0;
    while (!c->_closed && pos < c->_in.len) {
        if (TC_UNLIKELY(c->_out.len - c->_out_off >= OUT_HIGH_WATER)) {
            /* backpressure: no more calls until the client takes its replies */
            if (!flush(c)) {
                return;
            }
            if (c->_out.len - c->_out_off >= OUT_HIGH_WATER) {
                c->_stalled = true;
                break;
            }
        }
        if (TC_UNLIKELY(c->transport == NULL)) {
            int drc = detect(c);
            if (drc == TC_AGAIN) {
                break;
            }
            if (drc != TC_OK) {
                return;
            }
        }
        size_t off;
        size_t len;
        /*
         * buffered: a partial message is not walked again from its start on
         * every read; its state is made the first time one comes in pieces
         */
        int rc = tc_transport_scan(c->transport, c->protocol, &c->_skip, c->_in.data + pos,
                                   c->_in.len - pos, c->_max, &off, &len);
        if (rc == TC_AGAIN) {
            break;
        }
        if (rc != TC_OK) {
            close_scan_error(c, c->_in.data + pos, c->_in.len - pos, rc);
            return;
        }
        c->in_call = true;
        if (TC_UNLIKELY(c->header != NULL)) {
            rc = header_message(c, c->_in.data + pos + off, len);
        } else {
            rc = s->handler->message(c, c->_in.data + pos + off, len, &c->_out, c->owner);
        }
        c->in_call = false;
        pos += off + len;
        if (rc != TC_OK) {
            close_when_written(c, NULL); /* (why is logged) */
            return;
        }
    }
    if (c->_closed) {
        return;
    }
    tc_buf_consume(&c->_in, pos);
    /*
     * a partial message left over started arriving no later than this read
     * (replies written since do not make it younger), or, after calls were
     * handled, when they were done: while they ran, the client waited for
     * the server (a client may send the rest of a message only once it has
     * the replies before it); calls held back by backpressure wait for the
     * client, not the reverse
     */
    if (c->_in.len == 0 || c->_stalled) {
        c->msg_since = 0.0;
    } else if (pos > 0) {
        c->msg_since = tc_clock_coarse_s();
    } else if (c->msg_since == 0.0) {
        c->msg_since = since;
    }
    if (TC_UNLIKELY(c->_stopping) && stop_reached(c)) {
        /* (a message begun after the stop reached the connection is dropped) */
        close_when_written(c, NULL);
    } else if (TC_UNLIKELY(c->_hurry) && cut_short(c)) {
        /* read after the stop's wait, still not whole: the client is not sending the rest */
        close_cut_short(c);
    } else if (c->_out.len > c->_out_off) {
        flush(c);
    } else if (c->_close_when_done && tc_conn_idle(c)) {
        tc_conn_close(c, NULL);
    } else if (c->_in.len == 0) {
        went_idle(c);
    }
}

/* ---- the end of the client's input ---- */

/*
 * The client shut its sending side. A partial message will never be whole;
 * the calls it sent whole are answered: replies still on their way out are
 * written (the client may read on), then the connection closes.
 */
static void
end_of_input(tc_conn_t *c)
{
    if (c->_in.len > 0) {
        tc_log(TC_LOG_INFO, "%s: closed: peer closed in the middle of a message", c->peer);
    }
    /* (the end of input stays readable: do not wake for it again) */
    stop_reading(c);
    if (c->_out.len == c->_out_off) {
        tc_conn_close(c, NULL);
        return;
    }
    c->_close_when_done = true;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    tc_conn_t *c = arg;
    c->_in_cb = true;
    if (c->_lingering) {
        tc_linger_read(c, what);
        goto done;
    }
    if (c->_stalled) {
        /*
         * Woken by on_write: the calls held back are whole in the input
         * buffer. Handle them before reading, so that a client that sent them
         * and then shut its side is not taken for one cut mid-message.
         */
        c->_stalled = false;
        process(c);
        /* (after bad input or a last reply nothing more is read: it lingers, or will) */
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _in_cb is set: nothing was freed */
        if (c->_closed || c->_stalled || c->_last) {
            goto done;
        }
    }
    tc_buf_reserve(&c->_in, READ_MIN);
    ssize_t n = sock_read(fd, c->_in.data + c->_in.len, c->_in.cap - c->_in.len);
    if (n > 0) {
        c->_in.len += (size_t)n;
        c->_nread += (unsigned long long)n;
        c->last_io = tc_clock_coarse_s();
        process(c);
    } else if (n == 0) {
        end_of_input(c);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        tc_conn_close(c, tc_strerror(-errno));
    } else if (c->_in.len > 0) {
        process(c); /* activated by tc_conn_attach() with input already buffered */
    }
done:
    c->_in_cb = false;
    if (c->_closed) {
        conn_free(c);
    }
}
