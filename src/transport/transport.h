/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Framing: where one whole message starts and ends in the bytes received so
 * far, and how a reply is wrapped. Pure functions over byte ranges; the
 * connection code owns the sockets and buffers.
 */
#ifndef TC_TRANSPORT_TRANSPORT_H
#define TC_TRANSPORT_TRANSPORT_H

#include "core/common.h"
#include "protocol/protocol.h"

typedef struct tc_transport tc_transport_t;

/*
 * One transport. scan() looks at [data, data+len) and, on TC_OK,
 * sets *off to where the message starts and *msg_len to its length; the
 * bytes consumed are *off + *msg_len. It returns TC_AGAIN when more bytes are
 * needed, TC_ELIMIT when the message would exceed 'max' bytes, TC_EPROTO for
 * bytes that cannot start a message. 'ops' is the protocol to skip with
 * (buffered needs it; framed ignores it).
 */
struct tc_transport {
    const char *name; /* "framed", "buffered", "header" */
    int (*scan)(const tc_proto_ops_t *ops, const uint8_t *data, size_t len, size_t max, size_t *off,
                size_t *msg_len);
    /*
     * scan() that goes on where the last TC_AGAIN on 'st' stopped, for a
     * transport that finds a message's end by skipping it (buffered); NULL
     * for the others, whose scan() reads only a header. 'data' starts at the
     * message; 'st' comes from tc_proto_skip_state_init() and is initialized
     * again after any result but TC_AGAIN.
     */
    int (*scan_resume)(const tc_proto_ops_t *ops, tc_proto_skip_state_t *st, const uint8_t *data,
                       size_t len, size_t max, size_t *off, size_t *msg_len);
    /* begin a reply in 'out'; returns a mark to pass to end() */
    size_t (*begin)(tc_buf_t *out);
    /*
     * finish the reply begun at 'mark' (framed writes its length there); the
     * message written since begin() is at most 'max_body' bytes
     */
    void (*end)(tc_buf_t *out, size_t mark);
    /*
     * The largest reply message this transport can frame: what its length
     * field carries, less what the frame holds besides the message (SIZE_MAX:
     * no length). A larger reply is refused before end() (worker/dispatch.h).
     */
    size_t max_body;
};

extern const tc_transport_t tc_transport_framed;
extern const tc_transport_t tc_transport_buffered;
/* THeader: scan() finds frames as framed does; the frame is read and the reply written by
 * transport/header.h, not by begin()/end(). */
extern const tc_transport_t tc_transport_header;

/* Find a transport by name ("framed", "buffered", "header"); NULL if unknown. */
const tc_transport_t *tc_transport_find(const char *name);

/*
 * t->scan() for a stream whose bytes come in pieces: one whole message at
 * 'data', with the same results and the same 'max'. A transport with
 * scan_resume (buffered) goes on where the last TC_AGAIN on '*skip' stopped,
 * so a message is walked once however it is cut; for the others '*skip' is
 * not touched. After TC_AGAIN, call again with 'data' at the same message
 * and more bytes; after any other result '*skip' starts the next message.
 * Ownership: '*skip' is the caller's, one per stream, NULL at first. It is
 * allocated here the first time a message comes in pieces (so a stream of
 * whole messages never has one), reused from then on, and freed by the
 * caller with free() when the stream ends. Any thread, one per stream.
 */
int tc_transport_scan(const tc_transport_t *t, const tc_proto_ops_t *ops,
                      tc_proto_skip_state_t **skip, const uint8_t *data, size_t len, size_t max,
                      size_t *off, size_t *msg_len) TC_NODISCARD;

#endif /* TC_TRANSPORT_TRANSPORT_H */
