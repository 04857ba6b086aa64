/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for THeader frames (transport/header.c): the input is
 * a stream of frames, each behind its 4-byte length, read one after the
 * other into one tc_header_t as a connection does. A frame read is walked
 * (protocol, transforms, info headers inside the header block, the message
 * inside the frame or the inflated layer), answered with reply headers
 * (some the request's own) around its own message, and the reply is read
 * back: the same headers in the same order, the message, the request's
 * flags, sequence id and protocol, no transform, a header block of at most
 * 16383 words. A frame refused for an unknown protocol id or transform is
 * answered as transport/conn.c answers it (tc_header_write_refusal()), and
 * that reads back as the TApplicationException it must be. Accepted: the
 * input is one or more whole frames, each read with TC_OK.
 */
#include "fuzz.h"

#include "core/buf.h"
#include "protocol/message.h"
#include "protocol/protocol.h"
#include "transport/header.h"

#include <string.h>

int tc_fuzz_verdict;

/* Each ZLIB layer inflates to at most this (max_message_size in a server). */
#define MAX_INFLATED 4096
/* Request headers copied into the reply. */
#define COPIED_MAX 8
/* The header block of a frame may have at most this many 4-byte words. */
#define WORDS_MAX 16383

/* Reused across inputs as a handler thread reuses its own (never freed, still reachable). */
static tc_header_t h;
static tc_header_t back;
static tc_buf_t out;
static uint8_t filler[TC_HEADER_REPLY_INFO_MAX];

typedef struct kv_set {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} kv_set_t;

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- the request ---- */

/* What tc_header_read() made of [frame, frame+len): consistent, and inside its buffers. */
static void
check_request(const uint8_t *frame, size_t len)
{
    TC_FUZZ_CHECK((h.proto_id == TC_HEADER_PROTO_BINARY && h.protocol == &tc_proto_binary) ||
                      (h.proto_id == TC_HEADER_PROTO_COMPACT && h.protocol == &tc_proto_compact),
                  "protocol id %u read as %s", h.proto_id, h.protocol ? h.protocol->name : "none");
    TC_FUZZ_CHECK(h.ntransforms <= TC_HEADER_TRANSFORMS_MAX, "%u transforms", h.ntransforms);
    TC_FUZZ_CHECK(h.refused == 0, "a frame read has 'refused' %d", h.refused);
    TC_FUZZ_CHECK(h.seqid == (int32_t)get_u32(frame + 4), "sequence id");
    size_t hlen = (size_t)(frame[8] << 8 | frame[9]) * 4;
    const uint8_t *block = frame + TC_HEADER_FIXED;
    TC_FUZZ_CHECK(TC_HEADER_FIXED + hlen <= len, "header block of %zu bytes in %zu", hlen, len);
    TC_FUZZ_CHECK(h.info >= block && h.info + h.info_len <= block + hlen,
                  "info headers outside the header block");
    if (h.ntransforms == 0) {
        TC_FUZZ_CHECK(h.payload == block + hlen && h.payload_len == len - TC_HEADER_FIXED - hlen,
                      "the message is not the rest of the frame");
    } else {
        TC_FUZZ_CHECK(h.payload == h.inflated.data && h.payload_len == h.inflated.len &&
                          h.payload_len <= MAX_INFLATED,
                      "an inflated message of %zu bytes (cap %d)", h.payload_len, MAX_INFLATED);
    }
}

/*
 * Walk the info headers (every one inside the info sections, the same
 * count twice) and choose the reply's: up to COPIED_MAX of the request's,
 * then "fz" = "1"; and, when the sequence id is odd, one that fills the
 * reply's headers up to their limit. Returns how many went into 'set'.
 */
static size_t
set_reply(kv_set_t *set)
{
    const uint8_t *lo = h.info;
    const uint8_t *hi = h.info + h.info_len;
    tc_header_iter_t it;
    tc_header_kv_t kv;
    size_t n = 0;
    size_t total = 0;
    tc_header_iter_init(&h, &it);
    while (tc_header_next(&it, &kv)) {
        TC_FUZZ_CHECK(kv.key >= lo && kv.key + kv.key_len <= hi && kv.value >= lo &&
                          kv.value + kv.value_len <= hi,
                      "an info header outside the info sections");
        if (n < COPIED_MAX) {
            TC_FUZZ_CHECK(
                tc_header_set_reply(&h, kv.key, kv.key_len, kv.value, kv.value_len) == TC_OK,
                "a request header (%u + %u bytes) refused in the reply", kv.key_len, kv.value_len);
            set[n++] = (kv_set_t){kv.key, kv.key_len, kv.value, kv.value_len};
        }
        total++;
        TC_FUZZ_CHECK(total <= h.info_len / 2, "%zu info headers in %zu bytes", total, h.info_len);
    }
    size_t again = 0;
    tc_header_iter_init(&h, &it);
    while (tc_header_next(&it, &kv)) {
        again++;
    }
    TC_FUZZ_CHECK(again == total, "the info headers walked twice: %zu, then %zu", total, again);
    TC_FUZZ_CHECK(tc_header_set_reply(&h, "fz", 2, "1", 1) == TC_OK, "fz refused");
    set[n++] = (kv_set_t){(const uint8_t *)"fz", 2, (const uint8_t *)"1", 1};
    /* over the limit, whatever is there: refused, and nothing added */
    size_t before = h.reply_info.len;
    TC_FUZZ_CHECK(tc_header_set_reply(&h, "k", 1, filler, sizeof(filler)) == TC_ELIMIT,
                  "a header over the limit taken");
    TC_FUZZ_CHECK(h.reply_info.len == before, "a refused header added bytes");
    if (h.seqid & 1) {
        size_t room = TC_HEADER_REPLY_INFO_MAX - h.reply_info.len;
        if (room > 2 + 10) {
            size_t fill = room - 2 - 10;
            TC_FUZZ_CHECK(tc_header_set_reply(&h, "fi", 2, filler, fill) == TC_OK,
                          "%zu bytes refused with %zu of room", fill, room);
            set[n++] = (kv_set_t){(const uint8_t *)"fi", 2, filler, fill};
        }
    }
    TC_FUZZ_CHECK(h.reply_info.len <= TC_HEADER_REPLY_INFO_MAX, "reply headers of %zu bytes",
                  h.reply_info.len);
    return n;
}

/* ---- the reply ---- */

/* The frame just written in 'out' reads back; 'back' holds it. */
static void
read_back(void)
{
    size_t off = 0;
    size_t len = 0;
    int rc = tc_transport_header.scan(NULL, out.data, out.len, SIZE_MAX, &off, &len);
    TC_FUZZ_CHECK(rc == TC_OK && off == 4 && off + len == out.len, "a reply scans to %d", rc);
    size_t words = (size_t)(out.data[12] << 8 | out.data[13]);
    TC_FUZZ_CHECK(words <= WORDS_MAX, "a reply header block of %zu words", words);
    const char *why = NULL;
    rc = tc_header_read(&back, out.data + 4, len, SIZE_MAX, &why);
    TC_FUZZ_CHECK(rc == TC_OK, "a reply reads back as %d (%s)", rc, why);
    TC_FUZZ_CHECK(back.ntransforms == 0, "a reply with %u transforms", back.ntransforms);
    TC_FUZZ_CHECK(back.flags == h.flags && back.seqid == h.seqid, "flags or sequence id changed");
}

static void
check_reply(const kv_set_t *set, size_t n)
{
    out.len = 0;
    size_t mark = tc_header_begin(&out);
    TC_FUZZ_CHECK(mark == 0 && out.len == TC_HEADER_LEAST, "a frame begun in %zu bytes", out.len);
    tc_buf_append(&out, h.payload, h.payload_len);
    tc_header_end(&h, &out, mark);
    read_back();
    TC_FUZZ_CHECK(back.proto_id == h.proto_id, "protocol id changed");
    TC_FUZZ_CHECK(back.payload_len == h.payload_len &&
                      (h.payload_len == 0 || memcmp(back.payload, h.payload, h.payload_len) == 0),
                  "the reply's message is not the one written");
    tc_header_iter_t it;
    tc_header_kv_t kv;
    tc_header_iter_init(&back, &it);
    for (size_t i = 0; i < n; i++) {
        TC_FUZZ_CHECK(tc_header_next(&it, &kv), "reply header %zu of %zu missing", i, n);
        TC_FUZZ_CHECK(kv.key_len == set[i].key_len && kv.value_len == set[i].value_len &&
                          memcmp(kv.key, set[i].key, kv.key_len) == 0 &&
                          memcmp(kv.value, set[i].value, kv.value_len) == 0,
                      "reply header %zu is not the one set", i);
    }
    TC_FUZZ_CHECK(!tc_header_next(&it, &kv), "more reply headers than set");
}

/* A frame refused for its protocol id or a transform: the answer conn.c sends. */
static void
check_refusal(int32_t seqid)
{
    int32_t type = h.refused;
    const tc_proto_ops_t *ops = type == TC_APPEX_INVALID_PROTOCOL ? &tc_proto_binary : h.protocol;
    out.len = 0;
    tc_header_write_refusal(&h, &out);
    read_back();
    TC_FUZZ_CHECK(back.seqid == seqid && back.protocol == ops, "a refusal's frame");
    TC_FUZZ_CHECK(back.info_len == 0, "a refusal with info headers");
    tc_proto_t p;
    tc_msg_hdr_t m;
    tc_appex_t ex;
    tc_proto_init(&p, ops, back.payload, back.payload_len, NULL);
    TC_FUZZ_CHECK(ops->read_message_begin(&p, &m) == TC_OK && m.type == TC_MSG_EXCEPTION &&
                      m.name_len == 0 && m.seqid == seqid,
                  "a refusal's message header");
    TC_FUZZ_CHECK(tc_message_read_appex(&p, &ex) == TC_OK && ex.type == type &&
                      ex.message != NULL && tc_proto_left(&p) == 0,
                  "a refusal's exception");
}

/* ---- entry ---- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_fuzz_verdict = 0;
    size_t pos = 0;
    unsigned count = 0;
    int whole = 1;
    while (pos < size) {
        size_t off = 0;
        size_t len = 0;
        int rc = tc_transport_header.scan(NULL, data + pos, size - pos, 1u << 20, &off, &len);
        TC_FUZZ_CHECK(rc == TC_OK || rc == TC_AGAIN || rc == TC_EPROTO || rc == TC_ELIMIT,
                      "scan returned %d", rc);
        if (rc != TC_OK) {
            whole = 0;
            break;
        }
        TC_FUZZ_CHECK(off == 4 && len >= TC_HEADER_FIXED && len <= size - pos - off,
                      "scan gives off %zu len %zu of %zu", off, len, size - pos);
        const uint8_t *frame = data + pos + off;
        const char *why = NULL;
        rc = tc_header_read(&h, frame, len, MAX_INFLATED, &why);
        TC_FUZZ_CHECK((rc == TC_OK) == (why == NULL), "status %d, why %s", rc, why);
        TC_FUZZ_CHECK(h.reply_info.len == 0 && h.nreply_info == 0, "reply headers not cleared");
        if (rc == TC_OK) {
            kv_set_t set[COPIED_MAX + 2];
            check_request(frame, len);
            size_t n = set_reply(set);
            check_reply(set, n);
        } else {
            TC_FUZZ_CHECK(rc == TC_EPROTO || rc == TC_ELIMIT, "tc_header_read returned %d", rc);
            TC_FUZZ_CHECK(h.refused == 0 || rc == TC_EPROTO, "refused with %d", rc);
            if (h.refused != 0) {
                check_refusal((int32_t)get_u32(frame + 4));
            }
            whole = 0;
        }
        pos += off + len;
        count++;
    }
    tc_fuzz_verdict = whole && count > 0;
    return 0;
}
