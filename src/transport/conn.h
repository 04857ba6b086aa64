/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client connection: non-blocking reads into an input buffer, framing
 * into whole messages, replies gathered in an output buffer and written
 * with one write(2) per batch. A connection belongs to one event loop at a
 * time; tc_conn_detach()/tc_conn_attach() move it to another.
 */
#ifndef TC_TRANSPORT_CONN_H
#define TC_TRANSPORT_CONN_H

#include "core/buf.h"
#include "protocol/protocol.h"
#include "transport/header.h"
#include "transport/transport.h"

#include <stdbool.h>
#include <sys/queue.h>

struct event_base;
struct event;
typedef struct tc_conn tc_conn_t;

/*
 * Capacity a connection's buffer keeps between messages. A buffer that a
 * large message grew past this is freed about a second after the
 * connection went idle (no partial message, every reply written) if it is
 * idle then, and the next message allocates afresh: an idle connection
 * holds what a typical call needs, not the largest message it ever
 * carried. 64 KiB is four reads (16 KiB each): pipelined calls and a batch
 * of their replies keep their buffers, and an idle connection holds at
 * most that much of input and as much of output. A THeader connection's
 * inflated message is freed at once past this (transport/conn.c).
 */
#define TC_CONN_BUF_KEEP (64u << 10)

/* What the owner of a connection does with it. 'arg' is the owner's. */
typedef struct tc_conn_handler {
    /*
     * One whole message [msg, msg+len): append the framed reply, if any, to
     * 'out'. Return TC_OK to go on, a negative code to close the connection
     * (the callback has logged why).
     */
    int (*message)(tc_conn_t *c, const uint8_t *msg, size_t len, tc_buf_t *out, void *arg);
    /* The connection is closed and about to be freed: forget it. */
    void (*closed)(tc_conn_t *c, void *arg);
} tc_conn_handler_t;

/*
 * Settings shared by the connections of a worker (borrowed, immutable). A
 * NULL transport or protocol ("auto") is detected per connection from its
 * first bytes (transport/detect.h); a fixed one then must match. With both
 * fixed (framed or buffered), the first bytes of a THeader client close
 * the connection too; any others are read with the fixed ones.
 */
typedef struct tc_conn_settings {
    const tc_transport_t *transport; /* NULL: auto */
    const tc_proto_ops_t *protocol;  /* NULL: auto; ignored for THeader, which names its own */
    size_t max_frame_size;           /* framed and THeader: largest frame */
    size_t max_message_size;         /* buffered: largest message; THeader: once inflated */
    const tc_conn_handler_t *handler;
} tc_conn_settings_t;

/*
 * The connection. 'link' belongs to the owner loop (its list of
 * connections); every field starting with '_' belongs to conn.c.
 */
struct tc_conn {
    TAILQ_ENTRY(tc_conn) link;
    void *owner;      /* the 'arg' of the handler callbacks */
    bool in_call;     /* a message is being handled: the connection must not move */
    double last_io;   /* tc_clock_coarse_s() of the last read or write that moved bytes, or
                         of the client seen taking reply bytes the kernel held */
    double msg_since; /* tc_clock_coarse_s() when the partial message now buffered began
                         arriving; 0: none */
    char peer[64];    /* for logs */
    /* how this connection talks: NULL until detected; THeader sets 'protocol' per message */
    const tc_transport_t *transport;
    const tc_proto_ops_t *protocol;
    tc_header_t *header; /* THeader connections: the message being handled, else NULL */
    int _fd;
    bool _in_cb;  /* inside one of our callbacks: defer the free */
    bool _closed; /* closed, free pending */
    /* the client shut its sending side: close once all is written */
    bool _close_when_done;
    /* a graceful stop reached the connection (tc_conn_close_when_done()) */
    bool _stopping;
    bool _writing; /* EV_WRITE is armed */
    bool _stalled; /* whole messages wait in _in until the replies owed drain */
    bool _last;    /* reads nothing more: closes, lingering, once the replies owed (the last
                      tells the client why, if any) are written */
    int _outq;     /* reply bytes the kernel held when client_timeout looked; 0: not looked */
    /*
     * all written, sending side shut: the client's bytes are dropped until it
     * closes, or '_linger_until', or '_linger_left' of them are dropped
     */
    bool _lingering;
    bool _hurry;   /* the stop's wait is over: lingering is cut to '_grace' */
    double _grace; /* seconds a connection may still linger, or wait to write, once hurried */
    double _linger_until;
    size_t _linger_left;
    unsigned long long _nread;   /* bytes read from the client since it connected */
    unsigned long long _stop_at; /* a stop: '_nread' plus what the kernel held then */
    const tc_conn_settings_t *_s;
    size_t _max;                  /* the scanner's limit for this connection's transport */
    tc_proto_skip_state_t *_skip; /* buffered: how far the partial message was skipped, or NULL */
    struct event *_rev;
    struct event *_wev;
    struct event *_tev; /* frees large buffers once idle; made the first time one is held */
    tc_buf_t _in;
    tc_buf_t _out;
    size_t _out_off; /* bytes of _out already written */
};

TAILQ_HEAD(tc_conn_list, tc_conn);

/*
 * Wrap the accepted socket 'fd' (takes ownership) with the peer name 'peer'
 * for logs, attach it to 'base' and start reading.
 */
tc_conn_t *tc_conn_new(struct event_base *base, int fd, const char *peer,
                       const tc_conn_settings_t *s, void *arg);

/*
 * Close and free the connection, logging 'reason' at info level if not
 * NULL. Inside one of the connection's own callbacks the free is deferred
 * to the end of that callback.
 */
void tc_conn_close(tc_conn_t *c, const char *reason);

/* Stop all I/O on the current loop (any thread, while the owner loop is parked). */
void tc_conn_detach(tc_conn_t *c);
/* Resume I/O on 'base' with owner 'arg' (the new owner loop's thread only). */
void tc_conn_attach(tc_conn_t *c, struct event_base *base, void *arg);

/*
 * True when no partial message is buffered and no reply is waiting to be
 * written (also while lingering: see tc_conn_close_when_done()).
 */
bool tc_conn_idle(const tc_conn_t *c);
/*
 * For a message 'msg' ('len' bytes, without its frame) that the connection's
 * protocol refused: true, with 'why' saying what came and what the
 * connection speaks, when that protocol was detected from the connection's
 * first message (protocol "auto") and 'msg' starts a message of the other
 * one (a compact call after framed binary ones); else false.
 */
bool tc_conn_misfit(const tc_conn_t *c, const uint8_t *msg, size_t len, char *why, size_t size);
/*
 * Graceful stop: the connection answers the calls it has read and the ones
 * the kernel holds for it now (a message begun before now is read to its
 * end, if the client sends the rest), and reads nothing sent after them;
 * one that has sent nothing yet connected to make a call, and has its
 * first call answered. Then it closes: at once if the client has taken
 * every reply byte, else with its sending side shut, dropping what the
 * client sends, until the client has them all (its kernel acknowledged
 * them), closes, or 2 s pass: closing with the client's bytes unread would
 * reset the connection, and a reset destroys the replies the client has
 * not received yet. To stop waiting for a first call or the rest of a
 * message, tc_conn_close_if_idle().
 */
void tc_conn_close_when_done(tc_conn_t *c);
/*
 * The end of the stop's wait for first calls and for the rest of messages
 * begun: close now if idle, however new, unless the kernel holds bytes not
 * read yet. A message begun whose rest the client has not sent (the kernel
 * holds none of it) is dropped, now or at the first read that leaves it
 * unfinished, and the connection closes as after a last reply (the
 * replies owed are written first). A connection still handing its last
 * replies to the client (lingering, now or later) waits for it at most
 * 'grace' seconds more, then closes, dropping first what it has not read.
 */
void tc_conn_close_if_idle(tc_conn_t *c, double grace);

#endif /* TC_TRANSPORT_CONN_H */
