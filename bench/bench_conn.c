/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The calls on one open connection of a load thread: requests written from
 * the ring of calls in flight, replies read, framed and checked against the
 * oldest call, and the connection closed on an error. Replies come back in
 * order (Thrift answers calls on a connection in the order they were
 * sent), so the ring gives each reply its latency and expected seqid.
 */
#include "bench_loop_internal.h"

#include "core/log.h"
#include "protocol/message.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536

/* ---- closing ---- */

void
tc_bench_conn_close(tc_bench_loop_t *lp, conn_t *c)
{
    if (c->dial != NULL) {
        tc_bench_dial_end(lp, c);
        return;
    }
    if (c->fd < 0) {
        return;
    }
    (void)epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    lp->nopen--;
    lp->inflight -= c->count;
    c->count = 0;
    c->unsent = 0;
}

/*
 * Close a connection after an error, which counts once for each call in
 * flight, or once with none. The server closing a connection with nothing
 * in flight when the run is ending is no error; bytes that are no reply to
 * a call always are.
 */
void
tc_bench_conn_fail(tc_bench_loop_t *lp, conn_t *c, int kind, const char *why)
{
    if (c->fd < 0) {
        return;
    }
    bool ending = lp->stopping || lp->dry;
    if (c->count > 0 || !ending || kind != TC_BENCH_ERR_CLOSED) {
        lp->stats.errors[kind] += c->count > 0 ? (uint64_t)c->count : 1u;
        tc_bench_loop_report(lp, c, "%s (%d calls in flight); connection %s", why, c->count,
                             lp->o->reconnect && !ending ? "closed, to be opened again" : "closed");
    }
    tc_bench_conn_close(lp, c);
    if (lp->o->reconnect && !ending) {
        c->reopen = true; /* by the loop, once this round of events is done */
        lp->nreopen++;
    }
}

/* ---- sending ---- */

static void
set_out_interest(tc_bench_loop_t *lp, conn_t *c, bool on)
{
    if (c->want_out == on) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = c};
    (void)epoll_ctl(lp->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = on;
}

void
tc_bench_conn_flush(tc_bench_loop_t *lp, conn_t *c)
{
    /*
     * A call's time starts when it is written, not when a reply made room
     * for it: checking the rest of the replies read (a batch or a large echo
     * takes a while) is the generator's time, not the server's
     */
    if (c->unsent > 0) {
        long long now = tc_bench_loop_now();
        for (int i = c->count - c->unsent; i < c->count; i++) {
            c->ring[(c->head + i) % lp->o->pipeline].sent = now;
        }
        c->unsent = 0;
    }
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out_interest(lp, c, true);
            return;
        } else {
            char why[128];
            snprintf(why, sizeof(why), "send: %s", tc_strerror(-errno));
            tc_bench_conn_fail(lp, c, TC_BENCH_ERR_CLOSED, why);
            return;
        }
    }
    c->out.len = 0;
    c->out_off = 0;
    set_out_interest(lp, c, false);
}

void
tc_bench_conn_send(tc_bench_loop_t *lp, conn_t *c, bool measured)
{
    const tc_transport_t *t = lp->o->transport;
    inflight_t *slot = &c->ring[(c->head + c->count) % lp->o->pipeline];
    slot->sent = lp->now;
    slot->seqid = c->next_seqid;
    slot->measured = measured;
    c->next_seqid = c->next_seqid == INT32_MAX ? 1 : c->next_seqid + 1;
    c->count++;
    c->unsent++;
    lp->inflight++;
    lp->idle_at = 0;
    size_t mark = t->begin(&c->out);
    c->wp.ops->write_message_begin(&c->wp, lp->wire_name, lp->wire_len, TC_MSG_CALL, slot->seqid);
    tc_buf_append(&c->out, c->req.args.data, c->req.args.len);
    t->end(&c->out, mark);
}

/* ---- receiving ---- */

#define SHOWN_BYTES    16   /* of a malformed reply, shown in its error */
#define REPLY_NAME_MAX 4096 /* bytes of the method name in a reply's header, at most */

/* The first bytes of 'data' for an error, quoted and escaped ("HTTP/1.1 400 Bad"...). */
static void
show_start(char *dst, size_t cap, const uint8_t *data, size_t len)
{
    size_t k = len < SHOWN_BYTES ? len : SHOWN_BYTES;
    char esc[TC_LOG_ESCAPED_MAX(SHOWN_BYTES)];
    size_t n = tc_log_escape(esc, sizeof(esc), (const char *)data, k);
    snprintf(dst, cap, "\"%.*s\"%s", (int)n, esc, len > k ? "..." : "");
}

/*
 * The message header at 'p': bytes that claim a name longer than any
 * method's are no header (TC_ELIMIT), rather than the start of one that
 * needs more bytes.
 */
static int
read_header(tc_proto_t *p, tc_msg_hdr_t *h)
{
    uint32_t max = p->max_string;
    p->max_string = REPLY_NAME_MAX;
    int rc = p->ops->read_message_begin(p, h);
    p->max_string = max;
    return rc;
}

/*
 * Why the bytes where a reply should start make none: 'rc' is what
 * tc_transport_scan() said of them, TC_ELIMIT or TC_EPROTO. Bytes that
 * are no reply at all (an HTTP server's answer, another protocol's
 * message) read as a frame length or a size of any value, so a reply is
 * said to be over --max-reply only when its first bytes read as a message
 * header, or as the start of one; anything else is a malformed reply,
 * shown with its first bytes.
 */
static void
why_unframed(const tc_bench_loop_t *lp, const uint8_t *data, size_t len, int rc, char *why,
             size_t n)
{
    const tc_proto_ops_t *ops = lp->call->proto;
    char start[8 + TC_LOG_ESCAPED_MAX(SHOWN_BYTES)];
    show_start(start, sizeof(start), data, len);
    char frame[48] = "";
    size_t off = 0;
    if (lp->o->transport == &tc_transport_framed) {
        /* framed refuses a frame only once its 4-byte length is in */
        int32_t flen = (int32_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                                 (uint32_t)data[2] << 8 | data[3]);
        if (flen <= 0) {
            snprintf(why, n, "a malformed reply: frame length %d (first bytes %s)", (int)flen,
                     start);
            return;
        }
        snprintf(frame, sizeof(frame), "frame length %d, then ", (int)flen);
        off = 4;
    }
    tc_proto_t p;
    tc_msg_hdr_t h;
    tc_proto_init(&p, ops, data + off, len - off, NULL);
    int hrc = read_header(&p, &h);
    if (hrc == TC_OK || (hrc == TC_AGAIN && rc == TC_ELIMIT)) {
        /* a header, or the start of one: its size may be right */
        if (rc == TC_ELIMIT) {
            snprintf(why, n, "a reply over --max-reply (%zu bytes)", lp->o->max_reply);
        } else {
            snprintf(why, n,
                     "a malformed reply: bytes that are no %s value (an unknown type id or a "
                     "negative size) after its message header (first bytes %s)",
                     ops->name, start);
        }
        return;
    }
    snprintf(why, n, "a malformed reply: %sno %s message header (first bytes %s)", frame, ops->name,
             start);
}

/* Check one reply against the oldest call in flight; TC_OK when it is right. */
static int
check_reply(tc_bench_loop_t *lp, conn_t *c, const inflight_t *slot, const uint8_t *msg, size_t len)
{
    tc_bench_call_t *call = lp->call;
    tc_proto_t p;
    tc_msg_hdr_t h;
    char why[512];
    tc_proto_init(&p, call->proto, msg, len, NULL);
    int rc = read_header(&p, &h);
    if (rc != TC_OK) {
        char start[8 + TC_LOG_ESCAPED_MAX(SHOWN_BYTES)];
        show_start(start, sizeof(start), msg, len);
        lp->stats.errors[TC_BENCH_ERR_REPLY]++;
        tc_bench_loop_report(lp, c, "a malformed reply: %s %s message header (first bytes %s)",
                             rc == TC_AGAIN ? "a frame too short for its" : "no", call->proto->name,
                             start);
        return rc;
    }
    if (h.type == TC_MSG_EXCEPTION) {
        tc_appex_t ex;
        bool ok = tc_message_read_appex(&p, &ex) == TC_OK && ex.message != NULL;
        lp->stats.errors[TC_BENCH_ERR_APPEX]++;
        tc_bench_loop_report(lp, c, "TApplicationException %s: %.*s", tc_appex_type_name(ex.type),
                             ok ? (int)ex.message_len : 0, ok ? ex.message : "");
        return TC_EINVAL;
    }
    if (h.type != TC_MSG_REPLY || h.name_len != call->method_len ||
        memcmp(h.name, call->method, h.name_len) != 0 || h.seqid != slot->seqid) {
        lp->stats.errors[TC_BENCH_ERR_REPLY]++;
        tc_bench_loop_report(
            lp, c, "reply header: type %d, name '%.*s', seqid %d; expected REPLY, '%s', %d", h.type,
            (int)h.name_len, h.name, h.seqid, call->method, slot->seqid);
        return TC_EINVAL;
    }
    if (call->check(call, &c->req, msg, len, &p, why, sizeof(why)) != TC_OK) {
        lp->stats.errors[TC_BENCH_ERR_REPLY]++;
        tc_bench_loop_report(lp, c, "%s", why);
        return TC_EINVAL;
    }
    return TC_OK;
}

/* The share of a call from 'sent' to 'now' that falls inside the window [t0, t1]. */
static double
window_share(const tc_bench_loop_t *lp, long long sent, long long now)
{
    long long from = sent > lp->clock->t0 ? sent : lp->clock->t0;
    long long to = now < lp->t1 ? now : lp->t1;
    if (to <= from) {
        return 0.0;
    }
    return now > sent ? (double)(to - from) / (double)(now - sent) : 1.0;
}

static void
on_reply(tc_bench_loop_t *lp, conn_t *c, const uint8_t *msg, size_t len)
{
    inflight_t slot = c->ring[c->head];
    c->head = (c->head + 1) % lp->o->pipeline;
    c->count--;
    lp->inflight--;
    if (check_reply(lp, c, &slot, msg, len) == TC_OK) {
        lp->answered++;
        if (lp->now > lp->clock->t0) {
            lp->stats.work += window_share(lp, slot.sent, lp->now);
        }
        if (slot.measured) {
            lp->stats.calls++;
            c->calls++;
            tc_bench_hist_record(&lp->stats.hist, (uint64_t)(lp->now - slot.sent));
        }
    }
    atomic_store_explicit(&lp->progress, lp->answered, memory_order_relaxed);
    bool measured;
    if (tc_bench_loop_may_send(lp, &measured)) {
        tc_bench_conn_send(lp, c, measured);
    }
}

void
tc_bench_conn_read(tc_bench_loop_t *lp, conn_t *c)
{
    tc_buf_reserve(&c->in, READ_CHUNK);
    ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        char why[128];
        snprintf(why, sizeof(why), "%s", n == 0 ? "closed by the server" : tc_strerror(-errno));
        tc_bench_conn_fail(lp, c, TC_BENCH_ERR_CLOSED, why);
        return;
    }
    c->in.len += (size_t)n;
    lp->now = tc_bench_loop_now();
    size_t pos = 0;
    for (;;) {
        size_t off;
        size_t mlen;
        /*
         * buffered: a big reply arriving in many reads is walked once, not
         * once per read, which would make the loop, not the server, the
         * bottleneck
         */
        int rc = tc_transport_scan(lp->o->transport, lp->call->proto, &c->skip, c->in.data + pos,
                                   c->in.len - pos, lp->o->max_reply, &off, &mlen);
        if (rc == TC_AGAIN) {
            break;
        }
        /*
         * the oldest call in flight not written yet (calls sent by the
         * replies before this one are written after the read): a server
         * that guesses seqids answers calls it never read
         */
        if (rc != TC_OK || c->count == 0 || c->unsent == c->count) {
            char why[256];
            if (rc != TC_OK) {
                why_unframed(lp, c->in.data + pos, c->in.len - pos, rc, why, sizeof(why));
            } else {
                snprintf(why, sizeof(why), "%s",
                         c->count == 0 ? "a reply to no call" : "a reply to a call not sent yet");
            }
            tc_bench_conn_fail(lp, c, TC_BENCH_ERR_REPLY, why);
            return;
        }
        on_reply(lp, c, c->in.data + pos + off, mlen);
        pos += off + mlen;
    }
    tc_buf_consume(&c->in, pos);
    tc_bench_conn_flush(lp, c);
}
