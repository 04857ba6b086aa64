/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transport and protocol auto-detection from a connection's first bytes.
 * The forms cannot be confused: a strict binary or compact message starts
 * with a byte of 0x80 or more, which no positive frame length or name
 * length does, and after a frame length comes a message (0x80 binary,
 * 0x82 compact, 0x00 an old binary name length) or THeader's 0x0FFF magic,
 * none of which is a printable name character. What clients of other
 * protocols send first to a Thrift port is refused here, not read as a
 * length of hundreds of MB that a limit refuses later (or a large limit
 * waits for while the client waits for an answer): text (an HTTP request,
 * an SSH banner) would be an old binary name of over 16 MiB, a TLS
 * ClientHello a frame of 369 MB. Nor is anything served that starts with
 * four zero bytes: a frame of 0 bytes, or an old binary message named ""
 * (whose byte 4, its type, is none of the above), so they are refused as
 * soon as they are in, not after a fifth byte a client may never send.
 * A refusal says what the bytes look like, for the log line; on a port
 * whose transport is buffered, which has no frames, without a frame length.
 */
#include "transport/detect.h"

#include <string.h>

enum {
    BINARY_VERSION_BYTE = 0x80, /* first byte of TBinaryProtocol's VERSION_1 */
    COMPACT_PROTOCOL_ID = 0x82, /* first byte of every TCompactProtocol message */
    HEADER_MAGIC_0 = 0x0F,      /* THeaderTransport's magic 0x0FFF, big-endian */
    HEADER_MAGIC_1 = 0xFF,
    TLS_HANDSHAKE = 0x16,    /* a TLS record's content type, then version 3.0-3.4 */
    TLS_CLIENT_HELLO = 0x01, /* byte 5: the handshake message's type */
};

/* The reasons a connection is closed for (after "closed: "). */
#define NO_FORM "the first bytes fit no Thrift transport and protocol: "
static const char WHY_EMPTY[] = "frame length 0 (must be 1 or more)"; /* as framed.c's scan */
static const char WHY_NEGATIVE[] = NO_FORM "a negative frame length, and byte 0 is neither "
                                           "0x80 (binary) nor 0x82 (compact)";
/* buffered: the first bytes can only be a message */
#define NO_MESSAGE "the first bytes start no binary or compact message: "
static const char WHY_EMPTY_BUFFERED[] = NO_MESSAGE "four zero bytes (a non-strict binary "
                                                    "message with no name)";
static const char WHY_HIGH_BUFFERED[] = NO_MESSAGE "byte 0 is over 0x7F but neither 0x80 "
                                                   "(binary) nor 0x82 (compact)";
static const char WHY_TLS[] = NO_FORM "a TLS ClientHello";
static const char WHY_MAGIC[] = NO_FORM "a length, then 0x0F but not THeader's magic 0x0FFF";
static const char WHY_HTTP[] = NO_FORM "text that starts like an HTTP request";
static const char WHY_SSH[] = NO_FORM "an SSH banner";
static const char WHY_TEXT[] = NO_FORM "text";
static const char WHY_NAME[] = NO_FORM "a non-strict binary name of 16 MiB or more";
static const char WHY_BYTE4[] = NO_FORM "a length, then a byte that starts no binary, compact "
                                        "or THeader message";

static int
refused(tc_detected_t *r, const char *why)
{
    r->refused = why;
    return TC_EPROTO;
}

static bool
is_text(uint8_t b)
{
    return (b >= 0x20 && b < 0x7f) || b == '\t' || b == '\r' || b == '\n';
}

/* What 5 bytes that fit no form look like: another protocol's text, or just bytes. */
static int
refused_5(tc_detected_t *r, const uint8_t *data)
{
    size_t upper = 0;
    size_t text = 0;
    while (text < 5 && is_text(data[text])) {
        text++;
    }
    while (upper < 5 && data[upper] >= 'A' && data[upper] <= 'Z') {
        upper++;
    }
    if (text < 5) {
        return refused(r, data[4] >= 0x20 && data[4] < 0x7f ? WHY_NAME : WHY_BYTE4);
    }
    if (memcmp(data, "SSH-", 4) == 0) {
        return refused(r, WHY_SSH);
    }
    /* an HTTP method (GET, POST, OPTIONS, HTTP/2's PRI) and its space */
    if (upper == 5 || (upper >= 3 && data[upper] == ' ')) {
        return refused(r, WHY_HTTP);
    }
    return refused(r, WHY_TEXT);
}

static int
found(tc_detected_t *r, const tc_transport_t *t, const tc_proto_ops_t *p, tc_detect_kind_t kind)
{
    r->transport = t;
    r->protocol = p;
    r->kind = kind;
    r->refused = NULL;
    return TC_OK;
}

int
tc_detect(const uint8_t *data, size_t len, const tc_transport_t *transport, tc_detected_t *r)
{
    bool buffered = transport == &tc_transport_buffered;
    if (len < 1) {
        return TC_AGAIN;
    }
    if (data[0] == BINARY_VERSION_BYTE) {
        return found(r, &tc_transport_buffered, &tc_proto_binary, TC_DETECT_BINARY_STRICT);
    }
    if (data[0] == COMPACT_PROTOCOL_ID) {
        return found(r, &tc_transport_buffered, &tc_proto_compact, TC_DETECT_COMPACT);
    }
    if (data[0] >= 0x80) {
        return refused(r, buffered ? WHY_HIGH_BUFFERED : WHY_NEGATIVE); /* no frame, no name */
    }
    if (len >= 4 && (data[0] | data[1] | data[2] | data[3]) == 0) {
        return refused(r, buffered ? WHY_EMPTY_BUFFERED : WHY_EMPTY);
    }
    if (len < 5) {
        return TC_AGAIN;
    }
    uint8_t b = data[4];
    /*
     * A TLS ClientHello: record header 16 03 0x LL LL, handshake type 01.
     * With byte 4 0x80 the same bytes start a framed strict binary message
     * of about 369 MB, left to max_frame_size.
     */
    if (data[0] == TLS_HANDSHAKE && data[1] == 0x03 && data[2] <= 0x04 &&
        b != BINARY_VERSION_BYTE) {
        if (len < 6) {
            return TC_AGAIN;
        }
        if (data[5] == TLS_CLIENT_HELLO) {
            return refused(r, WHY_TLS);
        }
    }
    if (b == BINARY_VERSION_BYTE) {
        return found(r, &tc_transport_framed, &tc_proto_binary, TC_DETECT_BINARY_STRICT);
    }
    if (b == 0x00) {
        /* a framed old binary message: its name length comes first */
        return found(r, &tc_transport_framed, &tc_proto_binary, TC_DETECT_BINARY_OLD);
    }
    if (b == COMPACT_PROTOCOL_ID) {
        return found(r, &tc_transport_framed, &tc_proto_compact, TC_DETECT_COMPACT);
    }
    if (b == HEADER_MAGIC_0) {
        if (len < 6) {
            return TC_AGAIN;
        }
        if (data[5] == HEADER_MAGIC_1) {
            return found(r, &tc_transport_header, NULL, TC_DETECT_HEADER);
        }
        return refused(r, WHY_MAGIC);
    }
    /* a name under 16 MiB: text's first bytes are no name length */
    if (b >= 0x20 && b < 0x7f && data[0] == 0x00) {
        return found(r, &tc_transport_buffered, &tc_proto_binary, TC_DETECT_BINARY_OLD);
    }
    return refused_5(r, data);
}

const char *
tc_detect_name(const tc_detected_t *r)
{
    if (r->kind == TC_DETECT_HEADER) {
        return "header";
    }
    bool framed = r->transport == &tc_transport_framed;
    switch (r->kind) {
    case TC_DETECT_BINARY_STRICT:
        return framed ? "framed binary" : "buffered binary";
    case TC_DETECT_BINARY_OLD:
        return framed ? "framed binary (non-strict)" : "buffered binary (non-strict)";
    default:
        return framed ? "framed compact" : "buffered compact";
    }
}
