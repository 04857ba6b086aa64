/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for framing: the transports' scan() over a stream of
 * bytes, message after message, the way transport/conn.c calls it. The
 * first byte picks the setup: bit 0 the protocol (binary, compact), bit 1
 * the transport (framed, buffered), bits 2-3 the message size limit. Each
 * message found is read as the handler would, and a reply to it is framed
 * and scanned back; a buffered message is also scanned in pieces through
 * one resumable state (scan_resume), which must agree with scan(). Accepted:
 * the rest of the input is one or more whole messages whose bodies skip to
 * exactly their length.
 */
#include "fuzz.h"

#include "core/buf.h"
#include "protocol/protocol.h"
#include "transport/transport.h"

#include <string.h>

int tc_fuzz_verdict;

static const size_t limits[4] = {32, 256, 4096, 1u << 20};

/* Replies; reused across inputs (never freed, still reachable). */
static tc_buf_t out;

typedef struct setup {
    const tc_proto_ops_t *ops;
    const tc_transport_t *t;
    size_t max;
} setup_t;

/* ---- checks ---- */

/*
 * Every prefix of a message the scanner found must be TC_AGAIN: the bytes
 * of one message arrive in any number of reads. All cuts for short ones, a
 * sample of cuts for long ones.
 */
static void
check_prefixes(const setup_t *s, const uint8_t *data, size_t n)
{
    /* the same cuts in order through one resumable state, as a connection reads them */
    tc_proto_skip_state_t st;
    tc_proto_skip_state_init(&st);
    for (size_t cut = 0; cut < n;) {
        size_t off = 0;
        size_t len = 0;
        int rc = s->t->scan(s->ops, data, cut, s->max, &off, &len);
        TC_FUZZ_CHECK(rc == TC_AGAIN, "%s/%s: a %zu-byte message cut at %zu gives %d", s->t->name,
                      s->ops->name, n, cut, rc);
        if (s->t->scan_resume != NULL) {
            rc = s->t->scan_resume(s->ops, &st, data, cut, s->max, &off, &len);
            TC_FUZZ_CHECK(rc == TC_AGAIN, "%s/%s: a %zu-byte message cut at %zu resumes to %d",
                          s->t->name, s->ops->name, n, cut, rc);
        }
        if (n <= 96 || cut < 16 || cut + 16 >= n) {
            cut++;
        } else {
            cut = cut + n / 16 < n - 16 ? cut + n / 16 : n - 16;
        }
    }
    if (s->t->scan_resume != NULL) {
        size_t off = 0;
        size_t len = 0;
        int rc = s->t->scan_resume(s->ops, &st, data, n, s->max, &off, &len);
        TC_FUZZ_CHECK(rc == TC_OK && off + len == n,
                      "%s/%s: a %zu-byte message scanned in pieces gives %d (%zu + %zu)",
                      s->t->name, s->ops->name, n, rc, off, len);
    }
}

/* What the handler does with one message; 1 when its body is exactly one message. */
static int
read_message(const setup_t *s, const uint8_t *msg, size_t len)
{
    tc_proto_t p;
    tc_proto_init(&p, s->ops, msg, len, NULL);
    p.max_depth = TC_PROTO_DEPTH_DEFAULT;
    p.max_string = (uint32_t)s->max;
    int rc = tc_proto_skip_message(&p);
    TC_FUZZ_CHECK(rc == TC_OK || rc == TC_AGAIN || rc == TC_EPROTO || rc == TC_ELIMIT,
                  "skip_message returned %d", rc);
    TC_FUZZ_CHECK(p.rp >= msg && p.rp <= msg + len, "skip_message left the message");
    int whole = rc == TC_OK && p.rp == msg + len;
    if (s->t == &tc_transport_buffered) {
        /* the scanner skipped it with the hard depth ceiling: it must skip again */
        tc_proto_init(&p, s->ops, msg, len, NULL);
        p.max_depth = TC_PROTO_DEPTH_MAX;
        p.max_string = (uint32_t)s->max;
        rc = tc_proto_skip_message(&p);
        TC_FUZZ_CHECK(rc == TC_OK && p.rp == msg + len,
                      "buffered/%s: a scanned message does not skip to its length (%d)",
                      s->ops->name, rc);
    }
    return whole;
}

/* Frame a reply to the message at 'msg' and scan it back: one whole message. */
static void
reply(const setup_t *s, const uint8_t *msg, size_t len)
{
    tc_proto_t p;
    tc_msg_hdr_t m;
    tc_proto_init(&p, s->ops, msg, len, NULL);
    if (s->ops->read_message_begin(&p, &m) != TC_OK) {
        return;
    }
    out.len = 0;
    size_t mark = s->t->begin(&out);
    tc_proto_init(&p, s->ops, NULL, 0, &out);
    s->ops->write_message_begin(&p, m.name, m.name_len, TC_MSG_REPLY, m.seqid);
    s->ops->write_struct_begin(&p);
    s->ops->write_field_begin(&p, TC_TTYPE_STRING, 0);
    s->ops->write_binary(&p, msg, len);
    s->ops->write_field_stop(&p);
    s->ops->write_struct_end(&p);
    s->t->end(&out, mark);
    size_t off = 0;
    size_t n = 0;
    int rc = s->t->scan(s->ops, out.data, out.len, SIZE_MAX, &off, &n);
    TC_FUZZ_CHECK(rc == TC_OK && off + n == out.len, "%s/%s: a reply does not scan back (%d)",
                  s->t->name, s->ops->name, rc);
}

/* ---- entry ---- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_fuzz_verdict = 0;
    if (size < 1) {
        return 0;
    }
    setup_t s = {
        .ops = data[0] & 1 ? &tc_proto_compact : &tc_proto_binary,
        .t = data[0] & 2 ? &tc_transport_buffered : &tc_transport_framed,
        .max = limits[(data[0] >> 2) & 3],
    };
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    size_t pos = 0;
    unsigned count = 0;
    int whole = 1;
    while (pos < n) {
        size_t off = SIZE_MAX;
        size_t len = SIZE_MAX;
        int rc = s.t->scan(s.ops, in + pos, n - pos, s.max, &off, &len);
        TC_FUZZ_CHECK(rc == TC_OK || rc == TC_AGAIN || rc == TC_EPROTO || rc == TC_ELIMIT,
                      "scan returned %d", rc);
        if (rc != TC_OK) {
            whole = 0;
            break;
        }
        TC_FUZZ_CHECK(len > 0 && len <= s.max && off <= n - pos && len <= n - pos - off,
                      "%s/%s: scan gives off %zu len %zu of %zu (max %zu)", s.t->name, s.ops->name,
                      off, len, n - pos, s.max);
        check_prefixes(&s, in + pos, off + len);
        size_t off2 = 0;
        size_t len2 = 0;
        rc = s.t->scan(s.ops, in + pos, off + len, s.max, &off2, &len2);
        TC_FUZZ_CHECK(rc == TC_OK && off2 == off && len2 == len,
                      "%s/%s: the message alone scans differently", s.t->name, s.ops->name);
        whole &= read_message(&s, in + pos + off, len);
        reply(&s, in + pos + off, len);
        pos += off + len;
        count++;
    }
    tc_fuzz_verdict = whole && count > 0;
    return 0;
}
