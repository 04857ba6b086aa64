/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the connection layer (transport/conn.c): a client
 * over a socketpair sends the input's stream, in pieces, to a connection
 * on an event loop of its own, then shuts its sending side and reads all
 * it is sent, until the connection closes. Byte 0 picks the setup: bits 0-1
 * the transport (auto, framed, buffered, header), bits 2-3 the protocol
 * (auto, binary, compact; 3: auto, and the connection moves to a second
 * loop and back every third turn, as worker/loop_watch.c moves connections
 * between loops), bit 4 small limits (max_frame_size and
 * max_message_size 64, else 1 MiB), bits 5-6 the pieces (the whole stream
 * at once; 1 byte; 1-8 bytes, or 1-256 bytes, as the byte where the piece
 * starts says; after 128 pieces the rest at once), bit 7 a client that
 * reads lazily (only once it has sent all and the loop has turned 8 times)
 * and 256 KiB replies to the first 18 messages, so that more than
 * OUT_HIGH_WATER of replies wait and the connection stops reading. The
 * rest is the stream.
 *
 * The same stream scanned whole, with the transport that tc_detect() finds
 * in it (or the configured one; with transport and protocol both fixed, a
 * THeader stream, or one too short to tell, gets no message), is the
 * model. Each message handed to the
 * owner is the model's next one (framed: the frame's body; buffered: the
 * bytes the scanner finds; THeader: the message tc_header_read() finds in
 * the frame), already sent, within the limits, with the transport and
 * protocol of the model. The owner answers each with an echo of its first
 * bytes framed by the transport's begin()/end() (THeader: with an info
 * header; THeader writes no frame for an empty echo, as for a oneway
 * call), gives no reply to a message ending in 0xFE and refuses one
 * ending in 0xFF; after a message ending in 0xFD the turn of the loop ends
 * with tc_conn_close_when_done() (a graceful stop), after one ending in
 * 0xFC with tc_conn_close_if_idle() (the end of its wait). At the end: the
 * connection closed exactly once; if the stream was usable and the owner
 * refused nothing, no whole message owed was left unhandled (a whole
 * THeader frame left is one tc_header_read() refuses): with no stop, any;
 * with one, each begun before the first stop reached the connection (what
 * was sent by then), and once the wait ended only those sent whole by
 * then; the client was sent exactly the replies, in order, and the refusal
 * of a frame naming an unknown protocol id or transform, stop or not, when
 * that frame was owed (sent whole but not owed: the refusal or nothing); no
 * event is left on either loop, and no descriptor is left open. Accepted:
 * the stream is one or more whole messages, all handled.
 */
#include "fuzz.h"

#include "core/buf.h"
#include "core/log.h"
#include "transport/conn.h"
#include "transport/detect.h"
#include "transport/header.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int tc_fuzz_verdict;

#define LIMIT_SMALL  64u
#define LIMIT_NORMAL (1u << 20)
/* Pieces sent one by one; the rest goes at once. */
#define PIECES_MAX 128
/* A lazy client's replies, and how many get them. */
#define BIG_REPLY   (256u << 10)
#define BIG_REPLIES 18
/* Turns of the loop a lazy client lets pass before it reads. */
#define LAZY_TURNS 8
/* Turns of the loop after which the connection is taken to hang. */
#define TURNS_MAX 100000
/* Bytes of a message an ordinary reply echoes. */
#define ECHO_MAX 16

/* Reused across inputs (never freed, still reachable). */
static tc_header_t model_h; /* the model's THeader frame */
static tc_buf_t expect;     /* the replies the client must be sent */
static tc_buf_t got;        /* what it was sent */

static const tc_transport_t *const transports[4] = {NULL, &tc_transport_framed,
                                                    &tc_transport_buffered, &tc_transport_header};
static const tc_proto_ops_t *const protocols[4] = {NULL, &tc_proto_binary, &tc_proto_compact, NULL};

typedef struct run {
    const uint8_t *in; /* the client's stream */
    size_t n;
    size_t sent;
    unsigned pieces;
    int mode; /* how the stream is cut */
    bool lazy;
    bool moves; /* between the two loops */
    struct event_base *base[2];
    int cur; /* the loop the connection is on */
    unsigned turns;
    tc_conn_settings_t s;
    tc_conn_t *c; /* NULL once closed */
    /* the model: how the whole stream reads */
    bool usable; /* the transport and protocol are known and agree with the settings */
    const tc_transport_t *t;
    const tc_proto_ops_t *p;
    size_t max;  /* the scanner's limit */
    size_t cons; /* where the next message starts */
    bool told;   /* THeader: the frame there is one the client is told it refused */
    /* what happened */
    unsigned messages;
    unsigned closes;
    bool refused;   /* the owner refused a message */
    int stop;       /* after this turn: 1 tc_conn_close_when_done(), 2 tc_conn_close_if_idle() */
    bool stopping;  /* one of them was called */
    bool hurry;     /* tc_conn_close_if_idle() was */
    size_t stop_at; /* the bytes sent when the first was: what the stop answers */
} run_t;

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- the model ---- */

/* How the connection must take the whole stream: its transport and protocol, or not at all. */
static void
model_start(run_t *r)
{
    const tc_conn_settings_t *s = &r->s;
    r->usable = true;
    if (s->transport == &tc_transport_header) {
        r->t = s->transport;
        r->p = NULL;
    } else if (s->transport != NULL && s->protocol != NULL) {
        /*
         * Both fixed: the first bytes of a THeader client close, and until
         * they are told apart (at most 6 bytes) only bytes the fixed
         * transport refuses go to it; a shorter stream gets no message.
         */
        r->t = s->transport;
        r->p = s->protocol;
        tc_detected_t d;
        int rc = tc_detect(r->in, r->n, s->transport, &d);
        r->usable = rc == TC_EPROTO || (rc == TC_OK && d.transport != &tc_transport_header);
    } else {
        tc_detected_t d;
        int rc = tc_detect(r->in, r->n, s->transport, &d);
        TC_FUZZ_CHECK(rc == TC_OK || rc == TC_AGAIN || rc == TC_EPROTO, "tc_detect gave %d", rc);
        TC_FUZZ_CHECK(rc != TC_AGAIN || r->n < 6, "tc_detect wants more than %zu bytes", r->n);
        /* (THeader names its protocol per frame: a configured protocol does not apply) */
        r->usable = rc == TC_OK && (s->transport == NULL || s->transport == d.transport) &&
                    (s->protocol == NULL || d.protocol == NULL || s->protocol == d.protocol);
        r->t = rc == TC_OK ? d.transport : NULL;
        r->p = rc == TC_OK ? d.protocol : NULL;
    }
    r->max = r->t == &tc_transport_buffered ? s->max_message_size : s->max_frame_size;
}

/*
 * The model's next message, at r->cons: TC_OK with the bytes consumed in
 * '*used' and the message in [*msg, *msg+*len), or the scanner's status (or
 * tc_header_read()'s, for a THeader frame it refuses).
 */
static int
model_next(run_t *r, size_t *used, const uint8_t **msg, size_t *len)
{
    size_t off = 0;
    size_t n = 0;
    int rc = r->t->scan(r->p, r->in + r->cons, r->n - r->cons, r->max, &off, &n);
    TC_FUZZ_CHECK(rc == TC_OK || rc == TC_AGAIN || rc == TC_EPROTO || rc == TC_ELIMIT,
                  "scan gave %d", rc);
    if (rc != TC_OK) {
        return rc;
    }
    TC_FUZZ_CHECK(n <= r->max && off <= r->n - r->cons && n <= r->n - r->cons - off,
                  "%s: off %zu len %zu of %zu (max %zu)", r->t->name, off, n, r->n - r->cons,
                  r->max);
    const uint8_t *at = r->in + r->cons;
    *used = off + n;
    if (r->t == &tc_transport_framed) {
        TC_FUZZ_CHECK(off == 4 && get_u32(at) == n, "a frame of %zu bytes scans to %zu",
                      (size_t)get_u32(at), n);
    }
    if (r->t != &tc_transport_header) {
        *msg = at + off;
        *len = n;
        return TC_OK;
    }
    const char *why = NULL;
    rc = tc_header_read(&model_h, at + off, n, r->s.max_message_size, &why);
    if (rc != TC_OK) {
        r->told = model_h.refused != 0;
        return rc;
    }
    TC_FUZZ_CHECK(
        model_h.ntransforms > 0 ||
            (model_h.payload >= at + off && model_h.payload + model_h.payload_len == at + off + n),
        "a THeader message outside its frame");
    TC_FUZZ_CHECK(model_h.payload_len <= r->s.max_message_size || model_h.ntransforms == 0,
                  "an inflated THeader message of %zu bytes", model_h.payload_len);
    *msg = model_h.payload;
    *len = model_h.payload_len;
    return TC_OK;
}

/* ---- the owner ---- */

static int
on_message(tc_conn_t *c, const uint8_t *msg, size_t len, tc_buf_t *out, void *arg)
{
    run_t *r = arg;
    TC_FUZZ_CHECK(c == r->c && r->closes == 0, "a message on a closed connection");
    TC_FUZZ_CHECK(!r->refused, "a message after the owner refused one");
    TC_FUZZ_CHECK(r->usable, "a message on a stream that is not %s%s%s",
                  r->s.transport ? r->s.transport->name : "any transport",
                  r->s.protocol ? " and " : "", r->s.protocol ? r->s.protocol->name : "");
    TC_FUZZ_CHECK(c->in_call, "in_call not set");
    TC_FUZZ_CHECK(c->transport == r->t, "transport %s, the stream is %s", c->transport->name,
                  r->t->name);
    size_t used = 0;
    const uint8_t *want = NULL;
    size_t want_len = 0;
    int rc = model_next(r, &used, &want, &want_len);
    TC_FUZZ_CHECK(rc == TC_OK, "message %u at %zu: the whole stream reads %d there", r->messages,
                  r->cons, rc);
    TC_FUZZ_CHECK(r->cons + used <= r->sent, "message %u ends at %zu, %zu bytes sent", r->messages,
                  r->cons + used, r->sent);
    TC_FUZZ_CHECK(len == want_len && (len == 0 || memcmp(msg, want, len) == 0),
                  "message %u at %zu: %zu bytes, not the %zu of the stream", r->messages, r->cons,
                  len, want_len);
    if (r->t == &tc_transport_header) {
        TC_FUZZ_CHECK(c->header != NULL && c->protocol == model_h.protocol &&
                          c->header->seqid == model_h.seqid,
                      "the THeader frame's protocol or sequence id");
    } else {
        TC_FUZZ_CHECK(c->header == NULL && c->protocol == r->p, "protocol %s, the stream is %s",
                      c->protocol ? c->protocol->name : "none", r->p->name);
    }
    r->cons += used;
    r->messages++;

    uint8_t last = len > 0 ? msg[len - 1] : 0;
    if (last == 0xFF) {
        r->refused = true;
        return TC_EPROTO;
    }
    if (last == 0xFE) {
        return TC_OK; /* oneway */
    }
    if (last == 0xFD || last == 0xFC) {
        r->stop = last == 0xFD ? 1 : 2; /* a graceful stop begins, or its wait ends */
    }
    size_t before = out->len;
    size_t mark = c->transport->begin(out);
    size_t echo = len < ECHO_MAX ? len : ECHO_MAX;
    tc_buf_append(out, msg, echo);
    if (r->lazy && r->messages <= BIG_REPLIES) {
        /* room for them all at once: the buffer is not copied as it grows (time, not coverage) */
        tc_buf_reserve(out, r->messages == 1 ? BIG_REPLIES * (BIG_REPLY + 64) : BIG_REPLY - echo);
        memset(out->data + out->len, (int)r->messages, BIG_REPLY - echo);
        out->len += BIG_REPLY - echo;
    }
    c->transport->end(out, mark);
    if (c->header != NULL) {
        TC_FUZZ_CHECK(tc_header_set_reply(c->header, "fz", 2, "1", 1) == TC_OK, "fz refused");
        /*
         * what the connection will write: a frame around the reply, none
         * for an empty one (the echo of an empty message), which it takes
         * for a oneway call's (header_message() in transport/conn.c)
         */
        if (out->len > before) {
            size_t m = tc_header_begin(&expect);
            tc_buf_append(&expect, out->data + before, out->len - before);
            tc_header_end(c->header, &expect, m);
        }
    } else {
        tc_buf_append(&expect, out->data + before, out->len - before);
    }
    return TC_OK;
}

static void
on_closed(tc_conn_t *c, void *arg)
{
    run_t *r = arg;
    TC_FUZZ_CHECK(c == r->c && r->closes == 0, "closed twice");
    r->closes++;
    r->c = NULL;
}

static const tc_conn_handler_t handler = {on_message, on_closed};

/* ---- the client ---- */

static size_t
piece_len(run_t *r)
{
    size_t left = r->n - r->sent;
    size_t k = left;
    if (r->pieces++ < PIECES_MAX) {
        switch (r->mode) {
        case 1:
            k = 1;
            break;
        case 2:
            k = 1 + (r->in[r->sent] & 7u);
            break;
        case 3:
            k = 1 + (size_t)r->in[r->sent];
            break;
        default:
            break;
        }
    }
    return k < left ? k : left;
}

/* Read what the client was sent into 'got'; true at the end of the stream. */
static bool
client_read(int fd)
{
    for (;;) {
        tc_buf_reserve(&got, 65536);
        ssize_t n = read(fd, got.data + got.len, got.cap - got.len);
        if (n > 0) {
            got.len += (size_t)n;
            continue;
        }
        /* (a connection closed with the client's bytes unread: a reset, after its replies) */
        if (n == 0 || errno == ECONNRESET) {
            return true;
        }
        TC_FUZZ_CHECK(errno == EAGAIN || errno == EINTR, "client read: %s", strerror(errno));
        if (errno == EAGAIN) {
            return false;
        }
    }
}

/* One turn of the loop (moving to the other one first, every third turn if it moves). */
static void
turn(run_t *r, int fd, bool reads)
{
    if (r->moves && r->c != NULL && r->turns % 3 == 2) {
        TC_FUZZ_CHECK(!r->c->in_call, "in_call between calls");
        tc_conn_detach(r->c);
        TC_FUZZ_CHECK(event_base_get_num_events(r->base[r->cur], EVENT_BASE_COUNT_ADDED) == 0,
                      "events left on the loop a connection left");
        r->cur ^= 1;
        tc_conn_attach(r->c, r->base[r->cur], r);
    }
    int rc = event_base_loop(r->base[r->cur], EVLOOP_NONBLOCK);
    TC_FUZZ_CHECK(rc == 0 || rc == 1, "event_base_loop gave %d", rc);
    if (r->stop != 0 && r->c != NULL) {
        if (!r->stopping) {
            /* (what the connection has read and what the kernel holds for it) */
            r->stop_at = r->sent;
        }
        /* as the worker's loop does, between events (these may close, and free, at once) */
        if (r->stop == 1) {
            tc_conn_close_when_done(r->c);
        } else {
            tc_conn_close_if_idle(r->c, 0.5);
            r->hurry = true;
        }
        r->stopping = true;
    }
    r->stop = 0;
    if (reads) {
        (void)client_read(fd);
    }
    TC_FUZZ_CHECK(++r->turns < TURNS_MAX, "the connection hangs");
}

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    TC_FUZZ_CHECK(d != NULL, "/proc/self/fd: %s", strerror(errno));
    int n = 0;
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    return n;
}

/* ---- the end ---- */

/* After the close: whatever the stream held whole was handled, and the replies sent. */
static void
check_end(run_t *r)
{
    TC_FUZZ_CHECK(r->closes == 1, "closed %u times", r->closes);
    if (!r->usable) {
        TC_FUZZ_CHECK(r->messages == 0, "messages on a stream that is not usable");
    } else if (!r->stopping) {
        TC_FUZZ_CHECK(r->sent == r->n, "%zu of %zu bytes sent to a usable connection", r->sent,
                      r->n);
    }
    if (r->usable && !r->refused) {
        size_t used = 0;
        const uint8_t *msg = NULL;
        size_t len = 0;
        int rc = model_next(r, &used, &msg, &len);
        /*
         * A stop answers every message begun before it reached the connection
         * ('stop_at'), waiting for the rest of one in pieces; after the end of
         * its wait, only those whole by then. It may answer more (what came in
         * the reads that finished them), and a stop closes a connection with
         * nothing to do, whatever the client may send later.
         */
        bool owed =
            !r->stopping || (r->cons < r->stop_at && (!r->hurry || r->cons + used <= r->stop_at));
        TC_FUZZ_CHECK(rc != TC_OK || !owed, "the message at %zu (after %u) was never handled",
                      r->cons, r->messages);
        /*
         * a frame naming what thriftcorn lacks: the client is told, stop or
         * not, as it would be answered (a frame sent whole after the stop may
         * be, and then exactly so)
         */
        if (r->told && (owed || (r->cons + used <= r->sent && got.len > expect.len))) {
            tc_header_write_refusal(&model_h, &expect);
        }
    }
    TC_FUZZ_CHECK(got.len == expect.len &&
                      (got.len == 0 || memcmp(got.data, expect.data, got.len) == 0),
                  "the client was sent %zu bytes, not the %zu of the replies", got.len, expect.len);
}

/* ---- entry ---- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        ready = true;
        signal(SIGPIPE, SIG_IGN); /* as a worker does */
        tc_log_set_level(TC_LOG_CRITICAL);
        tc_header_init(&model_h);
        tc_buf_init(&expect);
        tc_buf_init(&got);
    }
    tc_fuzz_verdict = 0;
    if (size < 1) {
        return 0;
    }
    expect.len = 0;
    got.len = 0;
    size_t limit = data[0] & 0x10 ? LIMIT_SMALL : LIMIT_NORMAL;
    run_t r = {
        .in = data + 1,
        .n = size - 1,
        .mode = (data[0] >> 5) & 3,
        .lazy = (data[0] & 0x80) != 0,
        .moves = ((data[0] >> 2) & 3) == 3,
        .s =
            {
                .transport = transports[data[0] & 3],
                .protocol = protocols[(data[0] >> 2) & 3],
                .max_frame_size = limit,
                .max_message_size = limit,
                .handler = &handler,
            },
    };
    model_start(&r);
    int fds = count_fds();
    int sv[2];
    TC_FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
                  "socketpair: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
        r.base[i] = event_base_new();
        TC_FUZZ_CHECK(r.base[i] != NULL, "event_base_new");
    }
    r.c = tc_conn_new(r.base[0], sv[0], "fuzz", &r.s, &r);

    /* the stream, piece after piece, each read before the next is sent */
    unsigned waits = 0;
    while (r.sent < r.n && r.closes == 0) {
        ssize_t k = send(sv[1], r.in + r.sent, piece_len(&r), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            r.sent += (size_t)k;
            waits = 0;
        } else {
            TC_FUZZ_CHECK(k < 0 && errno == EAGAIN, "client send: %s", strerror(errno));
            waits++;
        }
        turn(&r, sv[1], !r.lazy || waits > LAZY_TURNS);
    }
    /* the end of the stream; read until the connection closes, and what it sent before */
    TC_FUZZ_CHECK(shutdown(sv[1], SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    for (unsigned i = 0; r.closes == 0; i++) {
        turn(&r, sv[1], !r.lazy || i > LAZY_TURNS);
    }
    TC_FUZZ_CHECK(client_read(sv[1]), "the stream to the client does not end");
    check_end(&r);

    for (int i = 0; i < 2; i++) {
        TC_FUZZ_CHECK(event_base_get_num_events(r.base[i], EVENT_BASE_COUNT_ADDED |
                                                               EVENT_BASE_COUNT_ACTIVE) == 0,
                      "events left on loop %d", i);
    }
    TC_FUZZ_CHECK(fcntl(sv[0], F_GETFD) == -1 && errno == EBADF,
                  "the connection's descriptor is open");
    close(sv[1]);
    event_base_free(r.base[0]);
    event_base_free(r.base[1]);
    TC_FUZZ_CHECK(count_fds() == fds, "%d descriptors open, %d before", count_fds(), fds);
    tc_fuzz_verdict = r.usable && !r.refused && r.messages > 0 && r.cons == r.n && r.sent == r.n;
    return 0;
}
