/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCompactProtocol: zigzag varints, field id deltas, bools folded into field
 * headers, little-endian doubles. Byte for byte what Apache Thrift writes
 * (doc/specs/thrift-compact-protocol.md, and the Python, C++ and Java
 * implementations where the spec and they disagree).
 */
#include "protocol/protocol.h"

#include "core/buf.h"

#include <string.h>

#define PROTOCOL_ID  0x82
#define VERSION      1
#define VERSION_MASK 0x1f
#define TYPE_SHIFT   5

/* Compact type ids (the low nibble of field, list and map headers). */
enum {
    CT_STOP = 0,
    CT_BOOLEAN_TRUE = 1,
    CT_BOOLEAN_FALSE = 2,
    CT_BYTE = 3,
    CT_I16 = 4,
    CT_I32 = 5,
    CT_I64 = 6,
    CT_DOUBLE = 7,
    CT_BINARY = 8,
    CT_LIST = 9,
    CT_SET = 10,
    CT_MAP = 11,
    CT_STRUCT = 12,
    CT_UUID = 13,
};

#define INVALID 0xff

/*
 * Compact type -> TType. Both bool ids mean BOOL: Apache's writers put 1
 * (BOOLEAN_TRUE) in list headers, the spec says 2, readers take either.
 */
static const uint8_t to_ttype[16] = {
    INVALID,         TC_TTYPE_BOOL,   TC_TTYPE_BOOL,   TC_TTYPE_BYTE, TC_TTYPE_I16, TC_TTYPE_I32,
    TC_TTYPE_I64,    TC_TTYPE_DOUBLE, TC_TTYPE_STRING, TC_TTYPE_LIST, TC_TTYPE_SET, TC_TTYPE_MAP,
    TC_TTYPE_STRUCT, TC_TTYPE_UUID,   INVALID,         INVALID,
};

/* TType -> compact type; BOOL is BOOLEAN_TRUE as in Apache's writers. */
static const uint8_t to_ctype[TC_TTYPE_UUID + 1] = {
    [TC_TTYPE_BOOL] = CT_BOOLEAN_TRUE, [TC_TTYPE_BYTE] = CT_BYTE,     [TC_TTYPE_DOUBLE] = CT_DOUBLE,
    [TC_TTYPE_I16] = CT_I16,           [TC_TTYPE_I32] = CT_I32,       [TC_TTYPE_I64] = CT_I64,
    [TC_TTYPE_STRING] = CT_BINARY,     [TC_TTYPE_STRUCT] = CT_STRUCT, [TC_TTYPE_MAP] = CT_MAP,
    [TC_TTYPE_SET] = CT_SET,           [TC_TTYPE_LIST] = CT_LIST,     [TC_TTYPE_UUID] = CT_UUID,
};

/* The fewest bytes an element of each type takes (see check_count()). */
static const uint8_t min_size[TC_TTYPE_UUID + 1] = {
    [TC_TTYPE_BOOL] = 1, [TC_TTYPE_BYTE] = 1, [TC_TTYPE_DOUBLE] = 8, [TC_TTYPE_I16] = 1,
    [TC_TTYPE_I32] = 1,  [TC_TTYPE_I64] = 1,  [TC_TTYPE_STRING] = 1, [TC_TTYPE_STRUCT] = 1,
    [TC_TTYPE_MAP] = 1,  [TC_TTYPE_SET] = 1,  [TC_TTYPE_LIST] = 1,   [TC_TTYPE_UUID] = 16,
};

static inline uint8_t
ctype_of(uint8_t ttype)
{
    TC_ASSERT(ttype <= TC_TTYPE_UUID && to_ctype[ttype] != 0);
    return to_ctype[ttype];
}

/* ---- varints ---- */

static inline int32_t
unzigzag32(uint32_t v)
{
    return (int32_t)(v >> 1) ^ -(int32_t)(v & 1);
}

static inline int64_t
unzigzag64(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline uint32_t
zigzag32(int32_t n)
{
    return ((uint32_t)n << 1) ^ (uint32_t)(n >> 31);
}

static inline uint64_t
zigzag64(int64_t n)
{
    return ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
}

/*
 * Near the end of the input: the same decoding, checking every byte. A
 * varint that has not ended within 'max' bytes is EPROTO; one cut short by
 * the end of the input is AGAIN.
 */
static int
varint_slow(tc_proto_t *p, uint64_t *out, size_t max)
{
    size_t left = tc_proto_left(p);
    size_t n = left < max ? left : max;
    uint64_t v = 0;
    *out = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = p->rp[i];
        v |= (b & 0x7f) << (7 * i);
        if (b < 0x80) {
            p->rp += i + 1;
            *out = v;
            return TC_OK;
        }
    }
    return n == max ? TC_EPROTO : TC_AGAIN;
}

/*
 * Unsigned LEB128 of at most 10 bytes, as Apache C++'s readVarint64():
 * the tenth byte's bits above bit 63 are dropped, an eleventh is EPROTO.
 * One bounds check when 10 bytes are there.
 */
static inline int
read_varint64(tc_proto_t *p, uint64_t *out)
{
    const uint8_t *s = p->rp;
    if (TC_LIKELY(tc_proto_left(p) >= 10)) {
        uint64_t v = 0;
        for (unsigned i = 0; i < 10; i++) {
            uint64_t b = s[i];
            v |= (b & 0x7f) << (7 * i);
            if (b < 0x80) {
                p->rp = s + i + 1;
                *out = v;
                return TC_OK;
            }
        }
        return TC_EPROTO;
    }
    return varint_slow(p, out, 10);
}

/*
 * A 32-bit varint (i16, i32, field id, seqid): the same 10 bytes at most,
 * truncated to the low 32 bits, as Apache C++'s readVarint32() reads it.
 * Writers send 5 bytes at most; a padded one is taken as C++ takes it.
 */
static inline int
read_varint32(tc_proto_t *p, uint32_t *out)
{
    uint64_t v = 0;
    int rc = read_varint64(p, &v);
    *out = (uint32_t)v;
    return rc;
}

/*
 * A size (string length, element count) must fit an i32. It is judged by
 * its whole 64-bit value, not by the low 32 bits Apache C++ keeps: there,
 * 2^32 + 5 would be a length of 5, where Python reads 4294967301, so two
 * readers could split the bytes into different messages. Over INT32_MAX is
 * EPROTO (every i32 C++ would call negative among them), then max_string.
 */
static inline int
read_size(tc_proto_t *p, uint32_t *n)
{
    uint64_t v = 0;
    int rc = read_varint64(p, &v);
    if (TC_UNLIKELY(rc != TC_OK)) {
        return rc;
    }
    if (TC_UNLIKELY(v > INT32_MAX)) {
        return TC_EPROTO;
    }
    if (TC_UNLIKELY(v > p->max_string)) {
        p->_over = (uint32_t)v;
        return TC_ELIMIT;
    }
    *n = (uint32_t)v;
    return TC_OK;
}

static inline size_t
put_varint32(uint8_t *d, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        d[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    d[n++] = (uint8_t)v;
    return n;
}

static inline size_t
put_varint64(uint8_t *d, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        d[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    d[n++] = (uint8_t)v;
    return n;
}

/* ---- read ---- */

/* n elements of at least 'per' bytes each must fit in what is left. */
static inline int
check_count(const tc_proto_t *p, uint32_t n, uint32_t per)
{
    if (TC_UNLIKELY((uint64_t)n * per > tc_proto_left(p))) {
        return TC_AGAIN;
    }
    return TC_OK;
}

static int
read_message_begin(tc_proto_t *p, tc_msg_hdr_t *m)
{
    size_t left = tc_proto_left(p);
    if (TC_UNLIKELY(left < 2)) {
        return left == 1 && p->rp[0] != PROTOCOL_ID ? TC_EPROTO : TC_AGAIN;
    }
    if (p->rp[0] != PROTOCOL_ID || (p->rp[1] & VERSION_MASK) != VERSION) {
        return TC_EPROTO;
    }
    uint8_t type = (uint8_t)(p->rp[1] >> TYPE_SHIFT);
    p->rp += 2;
    p->_last_fid = 0;
    p->_fid_top = 0;
    p->_bool_pending = 0;
    uint32_t seqid;
    uint32_t len;
    int rc = read_varint32(p, &seqid);
    if (rc != TC_OK || (rc = read_size(p, &len)) != TC_OK) {
        return rc;
    }
    if (TC_UNLIKELY(len > tc_proto_left(p))) {
        return TC_AGAIN;
    }
    m->name = (const char *)p->rp;
    m->name_len = len;
    m->type = type;
    m->seqid = (int32_t)seqid;
    p->rp += len;
    return TC_OK;
}

static int
read_struct_begin(tc_proto_t *p)
{
    if (TC_UNLIKELY(p->_fid_top >= TC_PROTO_DEPTH_MAX)) {
        p->_over = 0;
        return TC_ELIMIT;
    }
    p->_fid_stack[p->_fid_top++] = p->_last_fid;
    p->_last_fid = 0;
    return TC_OK;
}

static int
read_struct_end(tc_proto_t *p)
{
    if (TC_UNLIKELY(p->_fid_top == 0)) {
        return TC_EPROTO; /* unbalanced: a caller bug, not peer input */
    }
    p->_last_fid = p->_fid_stack[--p->_fid_top];
    return TC_OK;
}

static int
read_field_begin(tc_proto_t *p, uint8_t *type, int16_t *id)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 1)) {
        return TC_AGAIN;
    }
    uint8_t b = p->rp[0];
    uint8_t ct = b & 0x0f;
    /* Apache reads a zero type nibble as STOP whatever the delta nibble says */
    if (ct == CT_STOP) {
        p->rp++;
        p->_bool_pending = 0;
        *type = TC_TTYPE_STOP;
        *id = 0;
        return TC_OK;
    }
    uint8_t t = to_ttype[ct];
    if (TC_UNLIKELY(t == INVALID)) {
        return TC_EPROTO;
    }
    uint8_t delta = (uint8_t)(b >> 4);
    p->rp++;
    int16_t fid;
    if (delta != 0) {
        fid = (int16_t)(p->_last_fid + delta);
    } else {
        uint32_t v;
        int rc = read_varint32(p, &v);
        if (rc != TC_OK) {
            return rc;
        }
        fid = (int16_t)unzigzag32(v);
    }
    p->_last_fid = fid;
    /* read: 0 none, 1 false, 2 true (protocol.h) */
    p->_bool_pending = ct == CT_BOOLEAN_TRUE ? 2 : ct == CT_BOOLEAN_FALSE ? 1 : 0;
    *type = t;
    *id = fid;
    return TC_OK;
}

static int
read_list_begin(tc_proto_t *p, uint8_t *etype, uint32_t *n)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 1)) {
        return TC_AGAIN;
    }
    uint8_t b = p->rp[0];
    uint8_t t = to_ttype[b & 0x0f];
    if (TC_UNLIKELY(t == INVALID)) {
        return TC_EPROTO;
    }
    p->rp++;
    uint32_t size = (uint32_t)(b >> 4);
    if (size == 15) {
        int rc = read_size(p, &size);
        if (rc != TC_OK) {
            return rc;
        }
    } else if (TC_UNLIKELY(size > p->max_string)) {
        p->_over = size;
        return TC_ELIMIT;
    }
    int rc = check_count(p, size, min_size[t]);
    if (rc != TC_OK) {
        return rc;
    }
    *etype = t;
    *n = size;
    return TC_OK;
}

static int
read_map_begin(tc_proto_t *p, uint8_t *ktype, uint8_t *vtype, uint32_t *n)
{
    uint32_t size;
    int rc = read_size(p, &size);
    if (rc != TC_OK) {
        return rc;
    }
    if (size == 0) {
        /* an empty map is the single byte 0: no types on the wire */
        *ktype = TC_TTYPE_STOP;
        *vtype = TC_TTYPE_STOP;
        *n = 0;
        return TC_OK;
    }
    if (TC_UNLIKELY(tc_proto_left(p) < 1)) {
        return TC_AGAIN;
    }
    uint8_t b = p->rp[0];
    uint8_t kt = to_ttype[b >> 4];
    uint8_t vt = to_ttype[b & 0x0f];
    if (TC_UNLIKELY(kt == INVALID || vt == INVALID)) {
        return TC_EPROTO;
    }
    p->rp++;
    if ((rc = check_count(p, size, (uint32_t)min_size[kt] + min_size[vt])) != TC_OK) {
        return rc;
    }
    *ktype = kt;
    *vtype = vt;
    *n = size;
    return TC_OK;
}

/*
 * A bool field's value came in its header; inside containers a bool is one
 * byte, 1 for true and anything else false (Apache writes 2, the spec 0).
 */
static int
read_bool(tc_proto_t *p, bool *v)
{
    if (p->_bool_pending != 0) {
        *v = p->_bool_pending == 2;
        p->_bool_pending = 0;
        return TC_OK;
    }
    if (TC_UNLIKELY(tc_proto_left(p) < 1)) {
        return TC_AGAIN;
    }
    *v = *p->rp++ == CT_BOOLEAN_TRUE;
    return TC_OK;
}

static int
read_byte(tc_proto_t *p, int8_t *v)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 1)) {
        return TC_AGAIN;
    }
    *v = (int8_t)*p->rp++;
    return TC_OK;
}

/* i16 goes as a zigzag varint32; out-of-range values truncate as in C++/Java. */
static int
read_i16(tc_proto_t *p, int16_t *v)
{
    uint32_t u = 0;
    int rc = read_varint32(p, &u);
    *v = (int16_t)unzigzag32(u);
    return rc;
}

static int
read_i32(tc_proto_t *p, int32_t *v)
{
    uint32_t u = 0;
    int rc = read_varint32(p, &u);
    *v = unzigzag32(u);
    return rc;
}

static int
read_i64(tc_proto_t *p, int64_t *v)
{
    uint64_t u = 0;
    int rc = read_varint64(p, &u);
    *v = unzigzag64(u);
    return rc;
}

static int
read_double(tc_proto_t *p, double *v)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 8)) {
        return TC_AGAIN;
    }
    uint64_t bits;
    memcpy(&bits, p->rp, sizeof(bits));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    bits = __builtin_bswap64(bits);
#endif
    memcpy(v, &bits, sizeof(*v));
    p->rp += 8;
    return TC_OK;
}

static int
read_binary(tc_proto_t *p, const uint8_t **s, uint32_t *len)
{
    uint32_t n;
    int rc = read_size(p, &n);
    if (rc != TC_OK) {
        return rc;
    }
    if (TC_UNLIKELY(n > tc_proto_left(p))) {
        return TC_AGAIN;
    }
    *s = p->rp;
    *len = n;
    p->rp += n;
    return TC_OK;
}

static int
read_uuid(tc_proto_t *p, uint8_t uuid[16])
{
    if (TC_UNLIKELY(tc_proto_left(p) < 16)) {
        return TC_AGAIN;
    }
    memcpy(uuid, p->rp, 16);
    p->rp += 16;
    return TC_OK;
}

/* ---- write ---- */

/*
 * Room for 'n' bytes at the end of the output, as many as the longest
 * varints take (at most TC_PROTO_WRITE_SLACK more than are written): the
 * caller stores at tail(), then commit(). False when the output's bound
 * refuses it: the write is dropped whole, and the output remembers
 * (tc_buf_refused()).
 */
static inline bool
room(tc_proto_t *p, size_t n)
{
    return tc_buf_reserve(p->out, n);
}

static inline uint8_t *
tail(tc_proto_t *p)
{
    return p->out->data + p->out->len;
}

/* the most room() asks for beyond what is written: an i64 of one byte in 10 */
_Static_assert(10 - 1 <= TC_PROTO_WRITE_SLACK, "room() asks for at most the slack more");

static inline void
commit(tc_proto_t *p, size_t n)
{
    p->out->len += n;
}

static void
write_message_begin(tc_proto_t *p, const char *name, size_t len, uint8_t type, int32_t seqid)
{
    TC_ASSERT(len <= INT32_MAX);
    p->_last_fid = 0;
    p->_fid_top = 0;
    p->_bool_pending = 0;
    if (TC_UNLIKELY(!room(p, 2 + 5 + 5 + len))) {
        return;
    }
    uint8_t *d = tail(p);
    d[0] = PROTOCOL_ID;
    d[1] = (uint8_t)(VERSION | (type << TYPE_SHIFT));
    size_t n = 2;
    /* a negative seqid goes as its 32-bit two's complement, 5 bytes */
    n += put_varint32(d + n, (uint32_t)seqid);
    n += put_varint32(d + n, (uint32_t)len);
    if (len > 0) {
        memcpy(d + n, name, len);
    }
    commit(p, n + len);
}

static void
write_struct_begin(tc_proto_t *p)
{
    /* the codec bounds the depth, so the stack cannot fill */
    TC_ASSERT(p->_fid_top < TC_PROTO_DEPTH_MAX);
    if (p->_fid_top < TC_PROTO_DEPTH_MAX) {
        p->_fid_stack[p->_fid_top] = p->_last_fid;
    }
    p->_fid_top++;
    p->_last_fid = 0;
}

static void
write_struct_end(tc_proto_t *p)
{
    TC_ASSERT(p->_fid_top > 0);
    if (p->_fid_top > 0 && --p->_fid_top < TC_PROTO_DEPTH_MAX) {
        p->_last_fid = p->_fid_stack[p->_fid_top];
    }
}

/* Short form when the id is 1..15 above the last one, else type byte + zigzag id. */
static void
write_field_header(tc_proto_t *p, uint8_t ct, int16_t id)
{
    int delta = (int)id - (int)p->_last_fid;
    if (TC_UNLIKELY(!room(p, 1 + 5))) {
        return;
    }
    uint8_t *d = tail(p);
    if (delta > 0 && delta <= 15) {
        d[0] = (uint8_t)(delta << 4 | ct);
        commit(p, 1);
    } else {
        d[0] = ct;
        commit(p, 1 + put_varint32(d + 1, zigzag32(id)));
    }
    p->_last_fid = id;
}

static void
write_field_begin(tc_proto_t *p, uint8_t type, int16_t id)
{
    if (type == TC_TTYPE_BOOL) {
        /* the header carries the value: wait for write_bool() */
        p->_bool_pending = 1;
        p->_bool_fid = id;
        return;
    }
    write_field_header(p, ctype_of(type), id);
}

static void
write_field_stop(tc_proto_t *p)
{
    tc_buf_append_u8(p->out, CT_STOP);
}

static void
write_list_begin(tc_proto_t *p, uint8_t etype, uint32_t n)
{
    TC_ASSERT(n <= INT32_MAX);
    uint8_t ct = ctype_of(etype);
    if (TC_UNLIKELY(!room(p, 1 + 5))) {
        return;
    }
    uint8_t *d = tail(p);
    if (n <= 14) {
        d[0] = (uint8_t)(n << 4 | ct);
        commit(p, 1);
    } else {
        d[0] = (uint8_t)(0xf0 | ct);
        commit(p, 1 + put_varint32(d + 1, n));
    }
}

static void
write_map_begin(tc_proto_t *p, uint8_t ktype, uint8_t vtype, uint32_t n)
{
    TC_ASSERT(n <= INT32_MAX);
    if (n == 0) {
        tc_buf_append_u8(p->out, 0);
        return;
    }
    if (TC_UNLIKELY(!room(p, 5 + 1))) {
        return;
    }
    uint8_t *d = tail(p);
    size_t k = put_varint32(d, n);
    d[k] = (uint8_t)(ctype_of(ktype) << 4 | ctype_of(vtype));
    commit(p, k + 1);
}

/* A pending bool field gets its header now; in containers 1 is true, 2 false (Apache). */
static void
write_bool(tc_proto_t *p, bool v)
{
    uint8_t ct = v ? CT_BOOLEAN_TRUE : CT_BOOLEAN_FALSE;
    if (p->_bool_pending != 0) {
        p->_bool_pending = 0;
        write_field_header(p, ct, p->_bool_fid);
    } else {
        tc_buf_append_u8(p->out, ct);
    }
}

static void
write_byte(tc_proto_t *p, int8_t v)
{
    tc_buf_append_u8(p->out, (uint8_t)v);
}

static void
write_i32(tc_proto_t *p, int32_t v)
{
    if (TC_UNLIKELY(!room(p, 5))) {
        return;
    }
    uint8_t *d = tail(p);
    commit(p, put_varint32(d, zigzag32(v)));
}

static void
write_i16(tc_proto_t *p, int16_t v)
{
    write_i32(p, v);
}

static void
write_i64(tc_proto_t *p, int64_t v)
{
    if (TC_UNLIKELY(!room(p, 10))) {
        return;
    }
    uint8_t *d = tail(p);
    commit(p, put_varint64(d, zigzag64(v)));
}

static void
write_double(tc_proto_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    bits = __builtin_bswap64(bits);
#endif
    if (TC_UNLIKELY(!room(p, 8))) {
        return;
    }
    memcpy(tail(p), &bits, 8);
    commit(p, 8);
}

static void
write_binary(tc_proto_t *p, const void *s, size_t len)
{
    TC_ASSERT(len <= INT32_MAX);
    if (TC_UNLIKELY(!room(p, 5 + len))) {
        return;
    }
    uint8_t *d = tail(p);
    size_t n = put_varint32(d, (uint32_t)len);
    if (len > 0) {
        memcpy(d + n, s, len);
    }
    commit(p, n + len);
}

static void
write_uuid(tc_proto_t *p, const uint8_t uuid[16])
{
    tc_buf_append(p->out, uuid, 16);
}

const tc_proto_ops_t tc_proto_compact = {
    .name = "compact",
    .read_message_begin = read_message_begin,
    .read_struct_begin = read_struct_begin,
    .read_struct_end = read_struct_end,
    .read_field_begin = read_field_begin,
    .read_list_begin = read_list_begin,
    .read_map_begin = read_map_begin,
    .read_bool = read_bool,
    .read_byte = read_byte,
    .read_i16 = read_i16,
    .read_i32 = read_i32,
    .read_i64 = read_i64,
    .read_double = read_double,
    .read_binary = read_binary,
    .read_uuid = read_uuid,
    .write_message_begin = write_message_begin,
    .write_struct_begin = write_struct_begin,
    .write_struct_end = write_struct_end,
    .write_field_begin = write_field_begin,
    .write_field_stop = write_field_stop,
    .write_list_begin = write_list_begin,
    .write_set_begin = write_list_begin,
    .write_map_begin = write_map_begin,
    .write_bool = write_bool,
    .write_byte = write_byte,
    .write_i16 = write_i16,
    .write_i32 = write_i32,
    .write_i64 = write_i64,
    .write_double = write_double,
    .write_binary = write_binary,
    .write_uuid = write_uuid,
    .fixed_size =
        {
            [TC_TTYPE_BOOL] = 1,
            [TC_TTYPE_BYTE] = 1,
            [TC_TTYPE_DOUBLE] = 8,
            [TC_TTYPE_UUID] = 16,
        },
    .varint_max =
        {
            /* the readers' limit: a 32-bit varint may be padded to 10 bytes */
            [TC_TTYPE_I16] = 10,
            [TC_TTYPE_I32] = 10,
            [TC_TTYPE_I64] = 10,
        },
};
