/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Auto-detection: which transport and protocol a client speaks, decided
 * once per connection from its first bytes. A pure function over a byte
 * range; the connection calls it until it answers.
 */
#ifndef TC_TRANSPORT_DETECT_H
#define TC_TRANSPORT_DETECT_H

#include "core/common.h"
#include "protocol/protocol.h"
#include "transport/transport.h"

/* The forms a connection's first bytes can take. */
typedef enum tc_detect_kind {
    TC_DETECT_BINARY_STRICT = 0, /* version word 0x8001 first */
    TC_DETECT_BINARY_OLD,        /* non-strict binary: the name length first */
    TC_DETECT_COMPACT,
    TC_DETECT_HEADER, /* THeader: the protocol comes with every message */
} tc_detect_kind_t;

/* What tc_detect() found. */
typedef struct tc_detected {
    const tc_transport_t *transport; /* framed, buffered or header */
    const tc_proto_ops_t *protocol;  /* binary or compact; NULL for header */
    tc_detect_kind_t kind;
    /* with TC_EPROTO: why, for the log line after "closed: "; static */
    const char *refused;
} tc_detected_t;

/*
 * Look at the first bytes of a connection, [data, data+len), on a port
 * whose transport setting is 'transport' (NULL: "auto"), which changes only
 * the words of a refusal: with buffered, bytes that would be a frame length
 * elsewhere are said to start no message. Returns TC_OK
 * with 'r' filled, TC_AGAIN while more bytes are needed (never more than 6)
 * or TC_EPROTO for bytes no known form starts with ('r->refused' says what
 * they look like: "an SSH banner"). Rules, after Apache
 * Thrift's THeaderTransport: byte 0 0x80 is unframed strict binary, 0x82
 * unframed compact; otherwise bytes 0-3 are a frame length (or an old
 * binary name length) and byte 4 decides: 0x80 or 0x00 framed binary, 0x82
 * framed compact, 0x0F 0xFF (bytes 4-5) THeader, a printable character an
 * unframed non-strict binary name if its length is under 16 MiB (byte 0
 * 0x00). A TLS ClientHello (16 03 0x, byte 5 01) is TC_EPROTO unless byte 4
 * is 0x80, and so is text (an HTTP request), whose byte 0 is printable, and
 * four zero bytes (a frame of 0 bytes, or a non-strict binary message with
 * no name) as soon as they are in.
 */
int tc_detect(const uint8_t *data, size_t len, const tc_transport_t *transport,
              tc_detected_t *r) TC_NODISCARD;

/* A short name for what was found ("framed compact", "header"), for logs. */
const char *tc_detect_name(const tc_detected_t *r);

#endif /* TC_TRANSPORT_DETECT_H */
