/* SPDX-License-Identifier: Apache-2.0 */
/*
 * THeader (Apache Thrift's THeaderTransport, doc/specs/HeaderFormat.md): a
 * frame whose length is followed by the magic 0x0FFF, flags, a sequence id
 * and a header block (protocol id, transforms, info headers), then the
 * message. Reading a frame (undoing its ZLIB transforms), the request's
 * info headers, the reply's info headers and writing the reply frame.
 */
#ifndef TC_TRANSPORT_HEADER_H
#define TC_TRANSPORT_HEADER_H

#include "core/buf.h"
#include "protocol/protocol.h"
#include "transport/transport.h"

#include <stdbool.h>

/* Header protocol ids (THeaderSubprotocolID) and transform ids. */
enum {
    TC_HEADER_PROTO_BINARY = 0,
    TC_HEADER_PROTO_COMPACT = 2,
    TC_HEADER_TRANSFORM_ZLIB = 1,
    TC_HEADER_INFO_KEYVALUE = 1,
};

/*
 * Most bytes of reply info headers one call may set: with them the reply's
 * header block stays under 16384 words, the most Apache's C++
 * THeaderTransport reads ("Header size is unreasonable" beyond).
 */
#define TC_HEADER_REPLY_INFO_MAX 65520

/* The fixed part every frame starts with: magic, flags, sequence id, header size. */
#define TC_HEADER_FIXED 10u

/*
 * What tc_header_begin() puts before a reply's message: the length, the
 * fixed part and the smallest header block (protocol id, no transform,
 * padding: one word).
 */
#define TC_HEADER_LEAST (4u + TC_HEADER_FIXED + 4u)

/*
 * Most transforms a request may name (ZLIB each; Apache applies as many as
 * named). However many, their layers inflate to at most twice the cap.
 */
#define TC_HEADER_TRANSFORMS_MAX 16

/* One info header: bytes, not NUL-terminated; borrowed from the frame. */
typedef struct tc_header_kv {
    const uint8_t *key;
    uint32_t key_len;
    const uint8_t *value;
    uint32_t value_len;
} tc_header_kv_t;

/*
 * One request's THeader and its reply's. A THeader connection keeps one and
 * reuses it from message to message (see tc_header_shed()). The request
 * fields point into the frame given to tc_header_read() or into 'inflated'.
 * The reply's message is written where its frame goes (tc_header_begin(),
 * tc_header_end()), not into a buffer of its own.
 */
typedef struct tc_header {
    /* request, set by tc_header_read() */
    uint16_t flags;
    int32_t seqid;
    uint32_t proto_id;
    const tc_proto_ops_t *protocol;
    uint32_t ntransforms; /* ZLIB layers undone, at most TC_HEADER_TRANSFORMS_MAX */
    /*
     * what a refused frame named that the client is told of: 0, or
     * TC_APPEX_INVALID_PROTOCOL (its protocol id) or TC_APPEX_INVALID_TRANSFORM
     * (the first transform id that is not ZLIB), with the id in 'refused_id'
     */
    int32_t refused;
    uint32_t refused_id;
    const uint8_t *info; /* the info header sections, validated */
    size_t info_len;
    const uint8_t *payload; /* the message */
    size_t payload_len;
    /* reply: info headers set during the call, as varint-length strings */
    tc_buf_t reply_info;
    uint32_t nreply_info;
    /* scratch */
    tc_buf_t inflated; /* the message when the request was compressed */
    tc_buf_t spare;    /* the layer before it, with more than one transform */
} tc_header_t;

/* Storage provided by the caller; allocates nothing. */
void tc_header_init(tc_header_t *h);
/* Free the buffers. */
void tc_header_deinit(tc_header_t *h);
/*
 * Once the message is handled: empty the scratch buffers ('inflated',
 * 'spare'), freeing those grown past 'keep' bytes, so that a large
 * message's are not kept while its reply waits for the client; 'payload'
 * is invalid after it.
 */
void tc_header_shed(tc_header_t *h, size_t keep);

/*
 * Read the frame [frame, frame+len) (what follows the 4-byte length) into
 * 'h' and clear the reply's info headers. 'max_inflated' caps the size of
 * each ZLIB layer once inflated, and twice it the layers together. Returns
 * TC_OK, TC_EPROTO (not a valid THeader frame, an unknown protocol id or
 * transform, more than TC_HEADER_TRANSFORMS_MAX transforms) or TC_ELIMIT (an
 * inflated layer is over 'max_inflated', or the layers together over twice
 * it), with 'why' set to a static text. An unknown protocol id or transform
 * also sets h->refused (see tc_header_write_refusal()).
 * Ownership: 'h' borrows 'frame' until the next tc_header_read().
 */
int tc_header_read(tc_header_t *h, const uint8_t *frame, size_t len, size_t max_inflated,
                   const char **why) TC_NODISCARD;

/* A walk over the request's info headers. */
typedef struct tc_header_iter {
    const uint8_t *p;
    const uint8_t *end;
    uint32_t left; /* pairs left in the current section */
} tc_header_iter_t;

/* Start a walk over the info headers of the request read last. */
void tc_header_iter_init(const tc_header_t *h, tc_header_iter_t *it);
/* The next info header; false after the last one. */
bool tc_header_next(tc_header_iter_t *it, tc_header_kv_t *kv);

/*
 * Add an info header to the reply. Returns TC_OK, or TC_ELIMIT when the
 * reply's headers would exceed TC_HEADER_REPLY_INFO_MAX bytes.
 */
int tc_header_set_reply(tc_header_t *h, const void *key, size_t key_len, const void *value,
                        size_t value_len) TC_NODISCARD;

/*
 * Start a reply frame at the end of 'out': append TC_HEADER_LEAST bytes for
 * its start, which tc_header_end() fills in; the message is appended after
 * them. Returns where the frame starts (the 'mark' of tc_header_end()).
 */
size_t tc_header_begin(tc_buf_t *out);

/*
 * Finish the reply frame begun at 'mark': the message is what was appended
 * to 'out' after the TC_HEADER_LEAST bytes of tc_header_begin() (at most
 * tc_transport_header.max_body bytes). Written before it: the request's
 * flags, sequence id and protocol id, the reply's info headers, and no
 * transform; with info headers the message is moved on by the size of
 * their block. Apache's servers (C++, Python, Go) answer a compressed
 * request uncompressed too, and Apache's C++ client (0.17) overruns its
 * read buffer inflating a compressed reply larger than its compressed frame.
 */
void tc_header_end(tc_header_t *h, tc_buf_t *out, size_t mark);

/*
 * After tc_header_read() refused a frame and set h->refused: append to 'out'
 * a reply frame that tells the client, as Apache's C++ THeader server does
 * before it closes. It holds an EXCEPTION message named "" with the request's
 * sequence id (that of the frame: the message cannot be read), whose
 * TApplicationException is INVALID_PROTOCOL or INVALID_TRANSFORM; in binary
 * (protocol id 0) for an unknown protocol id, in the request's protocol for
 * an unknown transform; no transform, no info header.
 */
void tc_header_write_refusal(tc_header_t *h, tc_buf_t *out);

#endif /* TC_TRANSPORT_HEADER_H */
