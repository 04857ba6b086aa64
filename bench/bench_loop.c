/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A load thread of thriftcorn-bench: an epoll loop over its connections.
 * Closed loop, like redis-benchmark: each connection keeps 'pipeline' calls
 * in flight and sends the next one when a reply comes. Requests are encoded
 * once per connection; a call only writes the message header and copies the
 * arguments. Replies come back in order (Thrift answers calls on a
 * connection in the order they were sent), so a ring of send times per
 * connection gives each reply its latency and expected seqid.
 */
#include "bench_loop.h"

#include "bench_call.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "protocol/message.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define MAX_EVENTS 256
#define TICK_NS    20000000LL /* timeouts and the end of the run are checked this often */
#define CLAIM_MAX  1024       /* calls of -n a loop claims at once, at most (see claim()) */
#define CLAIM_PART 4          /* of its connections' share of those left, it claims a part */

typedef struct inflight {
    long long sent;
    int32_t seqid;
    bool measured;
} inflight_t;

typedef struct conn {
    int fd; /* -1 once closed */
    int id;
    bool want_out;     /* EPOLLOUT is registered */
    bool reopen;       /* closed, to be opened again (--reconnect) */
    struct dial *dial; /* being opened again (then 'fd' is its connect in progress, or -1) */
    tc_buf_t in;
    tc_proto_skip_state_t *skip; /* tc_transport_scan()'s state for 'in', or NULL */
    tc_buf_t out;
    size_t out_off;
    tc_proto_t wp; /* writes requests into 'out' */
    tc_bench_req_t req;
    inflight_t *ring; /* 'pipeline' slots */
    int head;
    int count;
    int unsent; /* the last 'unsent' calls of the ring are not written yet */
    int32_t next_seqid;
    uint64_t calls; /* measured calls answered correctly */
} conn_t;

struct tc_bench_loop {
    const tc_bench_opts_t *o;
    tc_bench_clock_t *clock;
    tc_bench_call_t *call;
    int ep;
    conn_t *conns;
    int nconns;
    int nopen;
    int nreopen;                    /* connections marked 'reopen' */
    int ndial;                      /* connections being opened again */
    const struct addrinfo *targets; /* o->addrs, or 'unix_ai' */
    struct addrinfo unix_ai;        /* --unix as the one address */
    struct sockaddr_un unix_sun;
    int inflight;
    bool stopping;
    /*
     * -n: none left to claim, but another loop holds some it may hand back;
     * no call is sent until the next tick claims some, or finds the run over
     */
    bool dry;
    uint64_t budget;   /* calls of -n claimed and not sent yet */
    bool holding;      /* counted in the clock's 'requests_holders' */
    long long idle_at; /* when the last call in flight ended with no call to send, or 0 */
    long long now;
    uint64_t answered;
    atomic_ullong progress;
    tc_bench_stats_t stats;
};

long long
tc_bench_loop_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- errors ---- */

static void report(tc_bench_loop_t *lp, const conn_t *c, const char *fmt, ...) TC_PRINTF(3, 4);

static void
report(tc_bench_loop_t *lp, const conn_t *c, const char *fmt, ...)
{
    /*
     * past the limit the count stops: at one a call, it wrapped to below 0
     * on a long run (2^31 errors) and every error after was shown
     */
    if (atomic_load_explicit(&lp->clock->errors_shown, memory_order_relaxed) >=
            lp->o->verbose_errors ||
        atomic_fetch_add(&lp->clock->errors_shown, 1) >= lp->o->verbose_errors) {
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    flockfile(stderr);
    if (atomic_load_explicit(&lp->clock->progress_shown, memory_order_relaxed)) {
        /* on a line of its own, not after the progress line's text */
        fputs("\r\033[K", stderr);
        atomic_store_explicit(&lp->clock->progress_shown, false, memory_order_relaxed);
    }
    fprintf(stderr, "thriftcorn-bench: error: connection %d: %s\n", c->id, msg);
    funlockfile(stderr);
}

static void dial_end(tc_bench_loop_t *lp, conn_t *c);

static void
close_conn(tc_bench_loop_t *lp, conn_t *c)
{
    if (c->dial != NULL) {
        dial_end(lp, c);
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
static void
fail_conn(tc_bench_loop_t *lp, conn_t *c, int kind, const char *why)
{
    if (c->fd < 0) {
        return;
    }
    bool ending = lp->stopping || lp->dry;
    if (c->count > 0 || !ending || kind != TC_BENCH_ERR_CLOSED) {
        lp->stats.errors[kind] += c->count > 0 ? (uint64_t)c->count : 1u;
        report(lp, c, "%s (%d calls in flight); connection %s", why, c->count,
               lp->o->reconnect && !ending ? "closed, to be opened again" : "closed");
    }
    close_conn(lp, c);
    if (lp->o->reconnect && !ending) {
        c->reopen = true; /* by the loop, once this round of events is done */
        lp->nreopen++;
    }
}

/* ---- the calls of -n ---- */

void
tc_bench_loop_clock_init(tc_bench_clock_t *clock, uint64_t requests)
{
    (void)pthread_mutex_init(&clock->requests_lock, NULL);
    clock->requests_left = requests;
    clock->requests_holders = 0;
    atomic_init(&clock->errors_shown, 0);
    atomic_init(&clock->progress_shown, false);
}

void
tc_bench_loop_clock_deinit(tc_bench_clock_t *clock)
{
    (void)pthread_mutex_destroy(&clock->requests_lock);
}

/*
 * Claim calls of -n, the loop's budget being spent: its connections' share
 * of those left, a part of it, so that the loops run out together (as
 * OpenMP's guided schedule does): a chunk as large at the end left the
 * connections of one loop calling alone while the others waited. Whether
 * it got some; if not, the loop is dry while another may still hand some
 * back, or stopping.
 */
static bool
claim(tc_bench_loop_t *lp)
{
    tc_bench_clock_t *k = lp->clock;
    uint64_t per = (uint64_t)CLAIM_PART * (uint64_t)lp->o->connections;
    (void)pthread_mutex_lock(&k->requests_lock);
    uint64_t left = k->requests_left;
    uint64_t n = left >= per * CLAIM_MAX ? CLAIM_MAX : left * (uint64_t)lp->nconns / per;
    if (n == 0 && left > 0) {
        n = 1;
    }
    k->requests_left = left - n;
    k->requests_holders -= lp->holding ? 1 : 0;
    k->requests_holders += n > 0 ? 1 : 0;
    bool others = k->requests_holders > 0;
    (void)pthread_mutex_unlock(&k->requests_lock);
    lp->budget = n;
    lp->holding = n > 0;
    lp->dry = n == 0 && others;
    if (n == 0 && !others) {
        lp->stopping = true;
    }
    return n > 0;
}

/* The calls claimed and not sent go back to the clock, for the loops still running. */
static void
hand_back(tc_bench_loop_t *lp)
{
    if (!lp->holding) {
        return;
    }
    (void)pthread_mutex_lock(&lp->clock->requests_lock);
    lp->clock->requests_left += lp->budget;
    lp->clock->requests_holders--;
    (void)pthread_mutex_unlock(&lp->clock->requests_lock);
    lp->budget = 0;
    lp->holding = false;
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

static void
flush(tc_bench_loop_t *lp, conn_t *c)
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
            fail_conn(lp, c, TC_BENCH_ERR_CLOSED, why);
            return;
        }
    }
    c->out.len = 0;
    c->out_off = 0;
    set_out_interest(lp, c, false);
}

/* Whether another call may be sent now, and whether it is measured. */
static bool
may_send(tc_bench_loop_t *lp, bool *measured)
{
    if (lp->stopping || lp->dry) {
        return false;
    }
    *measured = lp->now >= lp->clock->t0;
    if (!*measured) {
        return true;
    }
    if (lp->now >= lp->clock->t1) {
        lp->stopping = true;
        return false;
    }
    if (lp->o->requests > 0) {
        if (lp->budget == 0 && !claim(lp)) {
            return false;
        }
        lp->budget--;
    }
    return true;
}

static void
send_call(tc_bench_loop_t *lp, conn_t *c, bool measured)
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
    c->wp.ops->write_message_begin(&c->wp, lp->call->method, lp->call->method_len, TC_MSG_CALL,
                                   slot->seqid);
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
        report(lp, c, "a malformed reply: %s %s message header (first bytes %s)",
               rc == TC_AGAIN ? "a frame too short for its" : "no", call->proto->name, start);
        return rc;
    }
    if (h.type == TC_MSG_EXCEPTION) {
        tc_appex_t ex;
        bool ok = tc_message_read_appex(&p, &ex) == TC_OK && ex.message != NULL;
        lp->stats.errors[TC_BENCH_ERR_APPEX]++;
        report(lp, c, "TApplicationException %s: %.*s", tc_appex_type_name(ex.type),
               ok ? (int)ex.message_len : 0, ok ? ex.message : "");
        return TC_EINVAL;
    }
    if (h.type != TC_MSG_REPLY || h.name_len != call->method_len ||
        memcmp(h.name, call->method, h.name_len) != 0 || h.seqid != slot->seqid) {
        lp->stats.errors[TC_BENCH_ERR_REPLY]++;
        report(lp, c, "reply header: type %d, name '%.*s', seqid %d; expected REPLY, '%s', %d",
               h.type, (int)h.name_len, h.name, h.seqid, call->method, slot->seqid);
        return TC_EINVAL;
    }
    if (call->check(call, &c->req, msg, len, &p, why, sizeof(why)) != TC_OK) {
        lp->stats.errors[TC_BENCH_ERR_REPLY]++;
        report(lp, c, "%s", why);
        return TC_EINVAL;
    }
    return TC_OK;
}

/* The share of a call from 'sent' to 'now' that falls inside the window [t0, t1]. */
static double
window_share(const tc_bench_clock_t *clock, long long sent, long long now)
{
    long long from = sent > clock->t0 ? sent : clock->t0;
    long long to = now < clock->t1 ? now : clock->t1;
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
            lp->stats.work += window_share(lp->clock, slot.sent, lp->now);
        }
        if (slot.measured) {
            lp->stats.calls++;
            c->calls++;
            tc_bench_hist_record(&lp->stats.hist, (uint64_t)(lp->now - slot.sent));
        }
    }
    atomic_store_explicit(&lp->progress, lp->answered, memory_order_relaxed);
    bool measured;
    if (may_send(lp, &measured)) {
        send_call(lp, c, measured);
    }
}

static void
on_readable(tc_bench_loop_t *lp, conn_t *c)
{
    tc_buf_reserve(&c->in, READ_CHUNK);
    ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        char why[128];
        snprintf(why, sizeof(why), "%s", n == 0 ? "closed by the server" : tc_strerror(-errno));
        fail_conn(lp, c, TC_BENCH_ERR_CLOSED, why);
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
            fail_conn(lp, c, TC_BENCH_ERR_REPLY, why);
            return;
        }
        on_reply(lp, c, c->in.data + pos + off, mlen);
        pos += off + mlen;
    }
    tc_buf_consume(&c->in, pos);
    flush(lp, c);
}

/* ---- connections ---- */

#define CONNECT_LATE (-1) /* the deadline passed */

/*
 * connect() on a blocking socket, bounded by the deadline 'by': a blocking
 * connect gives up after SO_SNDTIMEO, TCP's (a server whose backlog is full
 * drops the handshake, a host that does not answer never finishes it) as a
 * unix socket's. 0, an errno, or CONNECT_LATE.
 */
static int
connect_by(int fd, const struct sockaddr *sa, socklen_t len, long long by)
{
    long long left = by - tc_bench_loop_now();
    if (left <= 0) {
        return CONNECT_LATE;
    }
    struct timeval tv = {(time_t)(left / 1000000000LL), (suseconds_t)(left % 1000000000LL / 1000)};
    if (tv.tv_sec == 0 && tv.tv_usec == 0) {
        tv.tv_usec = 1; /* 0 would be no limit */
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, sa, len) == 0) {
        return 0;
    }
    /* cut short by SO_SNDTIMEO: EINPROGRESS for TCP, EAGAIN for a unix socket */
    return errno == EINPROGRESS || errno == EAGAIN ? CONNECT_LATE : errno;
}

static const char *
connect_error(const tc_bench_opts_t *o, int failed, char *buf, size_t n)
{
    if (failed != CONNECT_LATE) {
        return tc_strerror(-failed);
    }
    snprintf(buf, n, "not open within --timeout (%.3g s)", o->timeout);
    return buf;
}

/*
 * The opening of a connection: each address in turn until one connects,
 * as a client does, the error of each one that failed kept for the
 * connect error. The first connect waits for each address (dial_walk()'s
 * 'blocking'); opening again does not block the loop.
 */
typedef struct dial {
    const struct addrinfo *ai; /* the address being tried */
    long long by;              /* a connect error from then on */
    int tried;                 /* addresses that failed before 'ai' */
    size_t len;                /* of 'why' */
    char why[256];             /* "connect HOST:PORT:" or "connect unix:PATH:", then the errors */
} dial_t;

#define DIAL_FAILED (-1) /* every address failed: 'why' says how */
#define DIAL_AGAIN  (-2) /* not open yet: dial_walk() goes on from 'ai' later */

static void
dial_init(const tc_bench_loop_t *lp, dial_t *d, long long by)
{
    const tc_bench_opts_t *o = lp->o;
    d->ai = lp->targets;
    d->by = by;
    d->tried = 0;
    int k = o->unix_path != NULL
                ? snprintf(d->why, sizeof(d->why), "connect unix:%s:", o->unix_path)
                : snprintf(d->why, sizeof(d->why), "connect %s:%d:", o->host, o->port);
    d->len = k > 0 ? (size_t)k : 0;
}

/*
 * Add the failure of address d->ai, the d->tried-th (from 0), to d->why:
 * its error ('failed', an errno or CONNECT_LATE; of socket() unless
 * 'made'), after the address when there are several ("localhost" is ::1
 * first, then 127.0.0.1).
 */
static void
why_add(const tc_bench_loop_t *lp, dial_t *d, bool made, int failed)
{
    if (d->len >= sizeof(d->why)) {
        return;
    }
    const struct addrinfo *ai = d->ai;
    bool several = lp->targets->ai_next != NULL;
    char addr[NI_MAXHOST] = "";
    if (several && getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0,
                               NI_NUMERICHOST) != 0) {
        snprintf(addr, sizeof(addr), "?");
    }
    char late[64];
    int k = snprintf(d->why + d->len, sizeof(d->why) - d->len, "%s%s%s%s%s",
                     d->tried > 0 ? ", " : " ", addr, several ? ": " : "",
                     made ? "" : "socket: ", connect_error(lp->o, failed, late, sizeof(late)));
    d->len += k > 0 ? (size_t)k : 0;
}

static void
set_nodelay(const struct addrinfo *ai, int fd)
{
    if (ai->ai_family != AF_UNIX) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

/*
 * Try the addresses from d->ai on: the first that connects gives its fd,
 * non-blocking; DIAL_FAILED when none is left. 'blocking' waits for each
 * connect until d->by. Otherwise a connect in progress is left in
 * '*pending' for its end to be watched, and a unix socket that refuses at
 * once (EAGAIN) while its listener's backlog is full sets '*pending' to -1,
 * to be tried again: DIAL_AGAIN both.
 */
static int
dial_walk(const tc_bench_loop_t *lp, dial_t *d, bool blocking, int *pending)
{
    for (; d->ai != NULL; d->ai = d->ai->ai_next, d->tried++) {
        const struct addrinfo *ai = d->ai;
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK),
                   ai->ai_protocol);
        if (fd < 0) {
            why_add(lp, d, false, errno);
            continue;
        }
        set_nodelay(ai, fd);
        int failed = 0;
        if (blocking) {
            failed = connect_by(fd, ai->ai_addr, ai->ai_addrlen, d->by);
        } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            failed = errno;
        }
        if (failed == 0) {
            if (blocking) {
                (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            }
            return fd;
        }
        if (!blocking && (failed == EINPROGRESS || failed == EINTR)) {
            *pending = fd;
            return DIAL_AGAIN;
        }
        close(fd);
        if (!blocking && failed == EAGAIN && ai->ai_family == AF_UNIX) {
            *pending = -1;
            return DIAL_AGAIN;
        }
        why_add(lp, d, true, failed);
    }
    return DIAL_FAILED;
}

/*
 * Whether no call is to be sent any more, as may_send() says, without
 * sending one: a connection is not opened again for no call.
 */
static bool
run_over(tc_bench_loop_t *lp)
{
    if (!lp->stopping && !lp->dry && lp->now >= lp->clock->t0) {
        if (lp->now >= lp->clock->t1) {
            lp->stopping = true;
        } else if (lp->o->requests > 0 && lp->budget == 0) {
            (void)claim(lp); /* dry or stopping when none is left */
        }
    }
    return lp->stopping || lp->dry;
}

/* ---- opening again (--reconnect) ---- */

/*
 * A connection opened again inside its loop, whose other connections are
 * served meanwhile: a blocking connect() to a server slow to accept held
 * their replies for up to --timeout, and their latencies held the wait.
 * A TCP connect in progress is watched for writability; a unix socket
 * refuses at once (EAGAIN) while its listener's backlog is full, and is
 * tried again at each tick. Each address in turn, all within one --timeout
 * from the start.
 */
static void
dial_end(tc_bench_loop_t *lp, conn_t *c)
{
    if (c->fd >= 0) {
        (void)epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    free(c->dial);
    c->dial = NULL;
    lp->ndial--;
}

/* It stays closed: a server that refuses connections ends the run rather than making it spin. */
static void
dial_fail(tc_bench_loop_t *lp, conn_t *c)
{
    lp->stats.errors[TC_BENCH_ERR_CONNECT]++;
    report(lp, c, "%s", c->dial->why);
    dial_end(lp, c);
}

/*
 * Open on 'fd' (c->fd, registered for its connect, or a new one): bytes of
 * the old connection are dropped, seqids go on, and its calls are sent at
 * once. It counts as a reconnect when a call is sent on it; when the run
 * ended while it was being opened, it is closed unused.
 */
static void
dial_done(tc_bench_loop_t *lp, conn_t *c, int fd)
{
    bool registered = c->fd >= 0;
    free(c->dial);
    c->dial = NULL;
    lp->ndial--;
    c->fd = fd;
    c->in.len = 0;
    free(c->skip);
    c->skip = NULL;
    c->out.len = 0;
    c->out_off = 0;
    c->head = 0;
    c->want_out = false;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    (void)epoll_ctl(lp->ep, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
    lp->nopen++;
    lp->now = tc_bench_loop_now();
    bool measured;
    int sent = 0;
    for (; sent < lp->o->pipeline && may_send(lp, &measured); sent++) {
        send_call(lp, c, measured);
    }
    if (sent == 0) {
        report(lp, c, "not opened again: the run has ended");
        close_conn(lp, c);
        return;
    }
    lp->stats.reconnects++;
    flush(lp, c);
}

/* Try the addresses from c->dial->ai on, until one connects, is in progress, or all failed. */
static void
dial_next(tc_bench_loop_t *lp, conn_t *c)
{
    int pending = -1;
    int fd = dial_walk(lp, c->dial, false, &pending);
    if (fd >= 0) {
        dial_done(lp, c, fd);
    } else if (fd == DIAL_FAILED) {
        dial_fail(lp, c);
    } else if (pending >= 0) { /* its end is on_dial()'s */
        c->fd = pending;
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        (void)epoll_ctl(lp->ep, EPOLL_CTL_ADD, pending, &ev);
    } /* else a full backlog: tried again at the next tick, by dial_tick() */
}

/* The connect in progress on c->fd has ended: open, or refused (then the next address). */
static void
on_dial(tc_bench_loop_t *lp, conn_t *c)
{
    int failed = 0;
    socklen_t len = sizeof(failed);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &failed, &len) != 0) {
        failed = errno;
    }
    if (failed == 0) {
        dial_done(lp, c, c->fd);
        return;
    }
    dial_t *d = c->dial;
    (void)epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    why_add(lp, d, true, failed);
    d->ai = d->ai->ai_next;
    d->tried++;
    dial_next(lp, c);
}

/* At each tick: past --timeout, a connect error; a unix socket refused for its backlog, again. */
static void
dial_tick(tc_bench_loop_t *lp, conn_t *c)
{
    dial_t *d = c->dial;
    if (lp->now >= d->by) {
        why_add(lp, d, true, CONNECT_LATE);
        dial_fail(lp, c);
    } else if (c->fd < 0) {
        dial_next(lp, c);
    }
}

/* --reconnect: a connection in place of the failed one 'c', within --timeout. */
static void
reopen(tc_bench_loop_t *lp, conn_t *c)
{
    c->reopen = false;
    lp->nreopen--;
    lp->now = tc_bench_loop_now();
    if (run_over(lp)) {
        /*
         * the run ended in the round that closed it (its last call was sent
         * meanwhile), or -n ran out
         */
        report(lp, c, "not opened again: the run has ended");
        return;
    }
    dial_t *d = tc_xcalloc(1, sizeof(*d));
    dial_init(lp, d, lp->now + (long long)(lp->o->timeout * 1e9));
    c->dial = d;
    lp->ndial++;
    dial_next(lp, c);
}

void
tc_bench_loop_connect(tc_bench_loop_t *lp)
{
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        dial_t d;
        dial_init(lp, &d, lp->clock->connect_by);
        int fd = dial_walk(lp, &d, true, NULL);
        if (fd < 0) {
            lp->stats.errors[TC_BENCH_ERR_CONNECT]++;
            report(lp, c, "%s", d.why);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        (void)epoll_ctl(lp->ep, EPOLL_CTL_ADD, c->fd, &ev);
        lp->nopen++;
    }
}

tc_bench_loop_t *
tc_bench_loop_new(const tc_bench_opts_t *o, tc_bench_clock_t *clock, int first, int n,
                  tc_err_t *err)
{
    tc_bench_call_t *call = o->call != NULL
                                ? tc_bench_call_new(o->call, o->proto, err)
                                : tc_bench_idl_new(o->idl, o->method, o->args, o->proto, err);
    if (call == NULL) {
        return NULL;
    }
    tc_bench_loop_t *lp = tc_xcalloc(1, sizeof(*lp));
    lp->o = o;
    lp->clock = clock;
    lp->call = call;
    lp->nconns = n;
    lp->targets = o->addrs;
    if (o->unix_path != NULL) {
        lp->unix_sun.sun_family = AF_UNIX;
        snprintf(lp->unix_sun.sun_path, sizeof(lp->unix_sun.sun_path), "%s", o->unix_path);
        lp->unix_ai.ai_family = AF_UNIX;
        lp->unix_ai.ai_socktype = SOCK_STREAM;
        lp->unix_ai.ai_addr = (struct sockaddr *)&lp->unix_sun;
        lp->unix_ai.ai_addrlen = sizeof(lp->unix_sun);
        lp->targets = &lp->unix_ai;
    }
    tc_bench_hist_init(&lp->stats.hist);
    atomic_init(&lp->progress, 0);
    lp->conns = tc_xcalloc((size_t)n, sizeof(conn_t));
    for (int i = 0; i < n; i++) {
        conn_t *c = &lp->conns[i];
        c->fd = -1;
        c->id = first + i;
        c->next_seqid = 1;
        tc_buf_init(&c->in);
        tc_buf_init(&c->out);
        tc_proto_init(&c->wp, o->proto, NULL, 0, &c->out);
        tc_bench_req_init(&c->req);
        c->ring = tc_xcalloc((size_t)o->pipeline, sizeof(inflight_t));
        if (call->request(call, first + i, &c->req, err) != TC_OK) {
            tc_bench_loop_free(lp);
            return NULL;
        }
    }
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    if (lp->ep < 0) {
        tc_err_set(err, -errno, "epoll_create1: %s", tc_strerror(-errno));
        tc_bench_loop_free(lp);
        return NULL;
    }
    return lp;
}

/* ---- the loop ---- */

static void
check_timeouts(tc_bench_loop_t *lp)
{
    long long limit = (long long)(lp->o->timeout * 1e9);
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        if (c->dial != NULL) {
            dial_tick(lp, c);
        } else if (c->fd >= 0 && c->count > 0 && lp->now - c->ring[c->head].sent > limit) {
            char why[128];
            snprintf(why, sizeof(why), "no reply within %.3g s", lp->o->timeout);
            fail_conn(lp, c, TC_BENCH_ERR_TIMEOUT, why);
        }
    }
}

/* Each open connection given calls up to 'pipeline' in flight, as long as may_send() allows. */
static void
fill(tc_bench_loop_t *lp)
{
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        if (c->fd < 0 || c->dial != NULL) {
            continue;
        }
        bool measured;
        while (c->count < lp->o->pipeline && may_send(lp, &measured)) {
            send_call(lp, c, measured);
        }
        flush(lp, c);
    }
}

void
tc_bench_loop_run(tc_bench_loop_t *lp)
{
    lp->now = tc_bench_loop_now();
    fill(lp);
    long long next_tick = lp->now + TICK_NS;
    struct epoll_event evs[MAX_EVENTS];
    while (lp->nopen > 0 || lp->nreopen > 0 || lp->ndial > 0) {
        lp->now = tc_bench_loop_now();
        if (!lp->stopping && lp->now >= lp->clock->t1) {
            lp->stopping = true;
        }
        if (lp->inflight == 0 && (lp->stopping || lp->dry)) {
            /* the run's end for this loop, unless calls of -n are handed back to a dry one */
            lp->idle_at = lp->idle_at != 0 ? lp->idle_at : lp->now;
            if (lp->stopping) {
                break;
            }
        }
        if (lp->now >= next_tick) {
            check_timeouts(lp);
            if (lp->dry && !lp->stopping && claim(lp)) {
                fill(lp);
            }
            next_tick = lp->now + TICK_NS;
        }
        int n = epoll_wait(lp->ep, evs, MAX_EVENTS, lp->nreopen > 0 ? 0 : (int)(TICK_NS / 1000000));
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->dial != NULL) {
                if (c->fd >= 0) {
                    on_dial(lp, c);
                }
                continue;
            }
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
                on_readable(lp, c);
            }
            if (c->fd >= 0 && (evs[i].events & EPOLLOUT) != 0) {
                flush(lp, c);
            }
        }
        /* after the round: a stale event of a closed fd must not reach its successor */
        for (int i = 0; lp->nreopen > 0 && i < lp->nconns; i++) {
            if (lp->conns[i].reopen) {
                reopen(lp, &lp->conns[i]);
            }
        }
    }
    /*
     * the run's end for this loop: its last call answered, or failed (a
     * timeout, a close), which a server that stops answering makes late;
     * for a dry loop, when it had none left in flight, not the tick it
     * found the run over at
     */
    lp->stats.end_ns = lp->idle_at != 0 ? lp->idle_at : tc_bench_loop_now();
    hand_back(lp);
    lp->stats.conn_min = UINT64_MAX;
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        if (c->dial != NULL) {
            report(lp, c, "not opened again: the run has ended");
        }
        close_conn(lp, c);
        lp->stats.conn_min = c->calls < lp->stats.conn_min ? c->calls : lp->stats.conn_min;
        lp->stats.conn_max = c->calls > lp->stats.conn_max ? c->calls : lp->stats.conn_max;
    }
}

uint64_t
tc_bench_loop_progress(const tc_bench_loop_t *lp)
{
    return atomic_load_explicit(&lp->progress, memory_order_relaxed);
}

const tc_bench_stats_t *
tc_bench_loop_stats(const tc_bench_loop_t *lp)
{
    return &lp->stats;
}

void
tc_bench_loop_free(tc_bench_loop_t *lp)
{
    if (lp == NULL) {
        return;
    }
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        close_conn(lp, c);
        tc_buf_deinit(&c->in);
        free(c->skip);
        tc_buf_deinit(&c->out);
        tc_bench_req_deinit(&c->req);
        free(c->ring);
    }
    free(lp->conns);
    if (lp->ep > 0) {
        close(lp->ep);
    }
    lp->call->free(lp->call);
    free(lp);
}
