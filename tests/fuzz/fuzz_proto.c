/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The protocol fuzz body shared by fuzz_binary and fuzz_compact: the input
 * is one or more messages back to back. It is skipped message by message
 * as the buffered transport does, each type is skipped from the start, and
 * every primitive reader is run from the start; values that read back are
 * written and read again and must come back the same.
 */
#include "fuzz.h"

#include "core/buf.h"
#include "protocol/protocol.h"

#include <string.h>

/* Output of the round trips; reused across inputs (never freed, still reachable). */
static tc_buf_t out;

/* ---- checks ---- */

static void
check_rc(int rc, const char *what)
{
    TC_FUZZ_CHECK(rc == TC_OK || rc == TC_AGAIN || rc == TC_EPROTO || rc == TC_ELIMIT,
                  "%s returned %d", what, rc);
}

/* After any call, the cursor is still inside the input, at or after 'from'. */
static void
check_cursor(const tc_proto_t *p, const uint8_t *from, const uint8_t *end, const char *what)
{
    TC_FUZZ_CHECK(p->rp >= from && p->rp <= end, "%s left the cursor outside the input", what);
}

/* A reader that succeeded took bytes, at most what was there. */
static void
check_took(const tc_proto_t *p, const uint8_t *from, const char *what)
{
    TC_FUZZ_CHECK(p->rp > from, "%s succeeded without consuming input", what);
}

static tc_proto_t *
reader(tc_proto_t *p, const tc_proto_ops_t *ops, const uint8_t *data, size_t size)
{
    tc_proto_init(p, ops, data, size, NULL);
    return p;
}

static tc_proto_t *
writer(tc_proto_t *p, const tc_proto_ops_t *ops)
{
    out.len = 0;
    tc_proto_init(p, ops, NULL, 0, &out);
    return p;
}

/* ---- messages ---- */

/* Cut lengths below 'n' to try: all of them for short messages, a sample otherwise. */
static size_t
next_cut(size_t cut, size_t n)
{
    if (n <= 128 || cut < 16 || cut + 16 >= n) {
        return cut + 1;
    }
    size_t step = n / 16;
    return cut + step < n - 16 ? cut + step : n - 16;
}

/*
 * A message that skips to TC_OK over [data, data+n) must give TC_AGAIN on
 * every shorter prefix: the buffered transport would otherwise refuse (or
 * cut) a valid message that arrives in pieces.
 */
static void
check_prefixes(const tc_proto_ops_t *ops, const uint8_t *data, size_t n)
{
    for (size_t cut = 0; cut < n; cut = next_cut(cut, n)) {
        tc_proto_t p;
        int rc = tc_proto_skip_message(reader(&p, ops, data, cut));
        TC_FUZZ_CHECK(rc == TC_AGAIN, "%s: a %zu-byte message cut at %zu gives %d, not TC_AGAIN",
                      ops->name, n, cut, rc);
    }
}

/*
 * Tighter limits can only turn success into TC_ELIMIT, and a success under
 * them ends where the default one does.
 */
static void
check_limits(const tc_proto_ops_t *ops, const uint8_t *data, size_t size, size_t n)
{
    tc_proto_t p;
    reader(&p, ops, data, size);
    p.max_depth = 2;
    p.max_string = 8;
    int rc = tc_proto_skip_message(&p);
    check_rc(rc, "skip_message (tight limits)");
    TC_FUZZ_CHECK(rc == TC_OK || rc == TC_ELIMIT, "%s: tight limits give %d", ops->name, rc);
    if (rc == TC_OK) {
        TC_FUZZ_CHECK((size_t)(p.rp - data) == n, "%s: tight limits end elsewhere", ops->name);
    }
}

/* Skip messages back to back; 1 when the input is nothing but whole messages. */
static int
skip_messages(const tc_proto_ops_t *ops, const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size;
    const uint8_t *at = data;
    unsigned count = 0;
    while (at < end) {
        tc_proto_t p;
        reader(&p, ops, at, (size_t)(end - at));
        int rc = tc_proto_skip_message(&p);
        check_rc(rc, "skip_message");
        check_cursor(&p, at, end, "skip_message");
        TC_FUZZ_CHECK(p.depth == 0 || rc != TC_OK, "skip_message left depth %u", p.depth);
        if (rc != TC_OK) {
            return 0;
        }
        size_t n = (size_t)(p.rp - at);
        TC_FUZZ_CHECK(n > 0, "skip_message took no bytes");
        if (count == 0) {
            check_prefixes(ops, at, n);
            check_limits(ops, at, (size_t)(end - at), n);
        }
        at = p.rp;
        count++;
    }
    return count > 0;
}

/* ---- values ---- */

static void
skip_types(const tc_proto_ops_t *ops, const uint8_t *data, size_t size)
{
    for (unsigned t = 0; t <= TC_TTYPE_UUID + 1; t++) {
        tc_proto_t p;
        int rc = tc_proto_skip(reader(&p, ops, data, size), (uint8_t)t);
        check_rc(rc, "skip");
        check_cursor(&p, data, data + size, "skip");
        if (!tc_proto_type_is_value((uint8_t)t)) {
            TC_FUZZ_CHECK(rc == TC_EPROTO, "skipping type %u gives %d", t, rc);
        } else if (rc == TC_OK) {
            check_took(&p, data, "skip");
        }
    }
}

/* Write what read_message_begin read, read it back: the same header. */
static void
message_header(const tc_proto_ops_t *ops, const uint8_t *data, size_t size)
{
    tc_proto_t p;
    tc_msg_hdr_t m;
    int rc = ops->read_message_begin(reader(&p, ops, data, size), &m);
    check_rc(rc, "read_message_begin");
    check_cursor(&p, data, data + size, "read_message_begin");
    if (rc != TC_OK) {
        return;
    }
    check_took(&p, data, "read_message_begin");
    TC_FUZZ_CHECK(m.name_len <= size && (const uint8_t *)m.name >= data &&
                      (const uint8_t *)m.name + m.name_len <= p.rp,
                  "message name outside the header");
    if (m.type < TC_MSG_CALL || m.type > TC_MSG_ONEWAY) {
        return; /* compact has room for 3 bits of type only */
    }
    tc_proto_t w;
    ops->write_message_begin(writer(&w, ops), m.name, m.name_len, m.type, m.seqid);
    tc_msg_hdr_t m2;
    rc = ops->read_message_begin(reader(&p, ops, out.data, out.len), &m2);
    TC_FUZZ_CHECK(rc == TC_OK && p.rp == out.data + out.len, "%s: header does not read back (%d)",
                  ops->name, rc);
    TC_FUZZ_CHECK(m2.type == m.type && m2.seqid == m.seqid && m2.name_len == m.name_len &&
                      memcmp(m2.name, m.name, m.name_len) == 0,
                  "%s: header reads back different", ops->name);
}

/* A field header (and a bool field's value) written and read back. */
static void
field_header(const tc_proto_ops_t *ops, const uint8_t *data, size_t size)
{
    tc_proto_t p;
    uint8_t type;
    int16_t id;
    int rc = ops->read_field_begin(reader(&p, ops, data, size), &type, &id);
    check_rc(rc, "read_field_begin");
    check_cursor(&p, data, data + size, "read_field_begin");
    if (rc != TC_OK) {
        return;
    }
    check_took(&p, data, "read_field_begin");
    TC_FUZZ_CHECK(type == TC_TTYPE_STOP || tc_proto_type_is_value(type), "field type %u", type);
    if (type == TC_TTYPE_STOP) {
        return;
    }
    bool v = false;
    if (type == TC_TTYPE_BOOL && ops->read_bool(&p, &v) != TC_OK) {
        return;
    }
    tc_proto_t w;
    writer(&w, ops);
    ops->write_field_begin(&w, type, id);
    if (type == TC_TTYPE_BOOL) {
        ops->write_bool(&w, v);
    }
    uint8_t type2;
    int16_t id2;
    rc = ops->read_field_begin(reader(&p, ops, out.data, out.len), &type2, &id2);
    TC_FUZZ_CHECK(rc == TC_OK && type2 == type && id2 == id, "%s: field header reads back as %d",
                  ops->name, rc);
    bool v2 = false;
    if (type == TC_TTYPE_BOOL) {
        rc = ops->read_bool(&p, &v2);
        TC_FUZZ_CHECK(rc == TC_OK && v2 == v, "%s: bool field reads back different", ops->name);
    }
    TC_FUZZ_CHECK(p.rp == out.data + out.len, "%s: field header length", ops->name);
}

/*
 * List and map headers. Readers bound the count by the bytes left (at least
 * one per element), so read-back needs the elements' room after the header.
 */
static void
container_headers(const tc_proto_ops_t *ops, const uint8_t *data, size_t size)
{
    tc_proto_t p;
    tc_proto_t w;
    uint8_t et;
    uint8_t kt;
    uint8_t vt;
    uint32_t n;
    int rc = ops->read_list_begin(reader(&p, ops, data, size), &et, &n);
    check_rc(rc, "read_list_begin");
    check_cursor(&p, data, data + size, "read_list_begin");
    if (rc == TC_OK) {
        check_took(&p, data, "read_list_begin");
        TC_FUZZ_CHECK(tc_proto_type_is_value(et), "list element type %u", et);
        TC_FUZZ_CHECK(n <= tc_proto_left(&p), "list of %u with %zu bytes left", n,
                      tc_proto_left(&p));
        ops->write_list_begin(writer(&w, ops), et, n);
        size_t hdr = out.len;
        tc_buf_reserve(&out, (size_t)n * 16);
        memset(out.data + out.len, 0, (size_t)n * 16);
        out.len += (size_t)n * 16;
        uint8_t et2;
        uint32_t n2;
        rc = ops->read_list_begin(reader(&p, ops, out.data, out.len), &et2, &n2);
        TC_FUZZ_CHECK(rc == TC_OK && et2 == et && n2 == n && p.rp == out.data + hdr,
                      "%s: list header reads back different (%d)", ops->name, rc);
    }
    rc = ops->read_map_begin(reader(&p, ops, data, size), &kt, &vt, &n);
    check_rc(rc, "read_map_begin");
    check_cursor(&p, data, data + size, "read_map_begin");
    if (rc == TC_OK) {
        check_took(&p, data, "read_map_begin");
        TC_FUZZ_CHECK(n == 0 || (tc_proto_type_is_value(kt) && tc_proto_type_is_value(vt)),
                      "map types %u %u", kt, vt);
        TC_FUZZ_CHECK(n <= tc_proto_left(&p) / 2, "map of %u with %zu bytes left", n,
                      tc_proto_left(&p));
        if (n == 0) {
            return; /* an empty compact map has no types to write back */
        }
        ops->write_map_begin(writer(&w, ops), kt, vt, n);
        size_t hdr = out.len;
        tc_buf_reserve(&out, (size_t)n * 32);
        memset(out.data + out.len, 0, (size_t)n * 32);
        out.len += (size_t)n * 32;
        uint8_t kt2;
        uint8_t vt2;
        uint32_t n2;
        rc = ops->read_map_begin(reader(&p, ops, out.data, out.len), &kt2, &vt2, &n2);
        TC_FUZZ_CHECK(rc == TC_OK && kt2 == kt && vt2 == vt && n2 == n && p.rp == out.data + hdr,
                      "%s: map header reads back different (%d)", ops->name, rc);
    }
}

/* Read one scalar with 'read', write it with 'write', read it back: same bits. */
#define ROUND_TRIP(ops, data, size, type, read, write)                                             \
    do {                                                                                           \
        tc_proto_t p_;                                                                             \
        tc_proto_t w_;                                                                             \
        type v_;                                                                                   \
        type v2_;                                                                                  \
        int rc_ = (ops)->read(reader(&p_, (ops), (data), (size)), &v_);                            \
        check_rc(rc_, #read);                                                                      \
        check_cursor(&p_, (data), (data) + (size), #read);                                         \
        if (rc_ == TC_OK) {                                                                        \
            check_took(&p_, (data), #read);                                                        \
            (ops)->write(writer(&w_, (ops)), v_);                                                  \
            rc_ = (ops)->read(reader(&p_, (ops), out.data, out.len), &v2_);                        \
            TC_FUZZ_CHECK(rc_ == TC_OK && p_.rp == out.data + out.len &&                           \
                              memcmp(&v_, &v2_, sizeof(v_)) == 0,                                  \
                          "%s: " #read " does not read back (%d)", (ops)->name, rc_);              \
        }                                                                                          \
    } while (0)

static void
scalars(const tc_proto_ops_t *ops, const uint8_t *data, size_t size)
{
    ROUND_TRIP(ops, data, size, bool, read_bool, write_bool);
    ROUND_TRIP(ops, data, size, int8_t, read_byte, write_byte);
    ROUND_TRIP(ops, data, size, int16_t, read_i16, write_i16);
    ROUND_TRIP(ops, data, size, int32_t, read_i32, write_i32);
    ROUND_TRIP(ops, data, size, int64_t, read_i64, write_i64);
    ROUND_TRIP(ops, data, size, double, read_double, write_double);

    tc_proto_t p;
    tc_proto_t w;
    const uint8_t *s;
    uint32_t len;
    int rc = ops->read_binary(reader(&p, ops, data, size), &s, &len);
    check_rc(rc, "read_binary");
    check_cursor(&p, data, data + size, "read_binary");
    if (rc == TC_OK) {
        check_took(&p, data, "read_binary");
        TC_FUZZ_CHECK(s >= data && s + len == p.rp, "binary outside the input");
        ops->write_binary(writer(&w, ops), s, len);
        const uint8_t *s2;
        uint32_t len2;
        rc = ops->read_binary(reader(&p, ops, out.data, out.len), &s2, &len2);
        TC_FUZZ_CHECK(rc == TC_OK && len2 == len && memcmp(s, s2, len) == 0 &&
                          p.rp == out.data + out.len,
                      "%s: binary does not read back (%d)", ops->name, rc);
    }
    uint8_t u[16];
    rc = ops->read_uuid(reader(&p, ops, data, size), u);
    check_rc(rc, "read_uuid");
    TC_FUZZ_CHECK(rc == TC_OK ? p.rp == data + 16 : p.rp == data, "read_uuid cursor");
    if (rc == TC_OK) {
        uint8_t u2[16];
        ops->write_uuid(writer(&w, ops), u);
        rc = ops->read_uuid(reader(&p, ops, out.data, out.len), u2);
        TC_FUZZ_CHECK(rc == TC_OK && memcmp(u, u2, 16) == 0, "%s: uuid", ops->name);
    }
}

/* ---- entry ---- */

int
tc_fuzz_proto_run(const tc_proto_ops_t *ops, const uint8_t *data, size_t size)
{
    int verdict = skip_messages(ops, data, size);
    skip_types(ops, data, size);
    message_header(ops, data, size);
    field_header(ops, data, size);
    container_headers(ops, data, size);
    scalars(ops, data, size);
    return verdict;
}
