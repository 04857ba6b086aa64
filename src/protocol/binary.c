/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TBinaryProtocol: big-endian fixed-width integers, i32-length-prefixed
 * strings, type bytes. Reads strict and old non-strict message headers,
 * writes strict ones, byte for byte as Apache Thrift does.
 */
#include "protocol/binary.h"

#include "core/buf.h"
#include "protocol/protocol.h"

#include <string.h>

/* Strict header: version in the top 16 bits, message type in the low byte. */
#define VERSION_1    0x80010000u
#define VERSION_MASK 0xffff0000u

/* ---- byte order ---- */

static inline uint16_t
load_be16(const uint8_t *s)
{
    uint16_t v;
    memcpy(&v, s, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    return v;
}

static inline uint64_t
load_be64(const uint8_t *s)
{
    uint64_t v;
    memcpy(&v, s, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* ---- read ---- */

/*
 * The fewest bytes a value of each type takes: bounds the element count a
 * container header may claim, so a decoder that holds the whole message
 * rejects a lying count before it allocates (CVE-2020-13949 shape).
 */
static const uint8_t min_size[TC_TTYPE_UUID + 1] = {
    [TC_TTYPE_BOOL] = 1, [TC_TTYPE_BYTE] = 1, [TC_TTYPE_DOUBLE] = 8, [TC_TTYPE_I16] = 2,
    [TC_TTYPE_I32] = 4,  [TC_TTYPE_I64] = 8,  [TC_TTYPE_STRING] = 4, [TC_TTYPE_STRUCT] = 1,
    [TC_TTYPE_MAP] = 6,  [TC_TTYPE_SET] = 5,  [TC_TTYPE_LIST] = 5,   [TC_TTYPE_UUID] = 16,
};

/* Check a container count read as 'n' ('per' bytes at least per element). */
static inline int
check_count(tc_proto_t *p, int32_t n, uint32_t per)
{
    if (TC_UNLIKELY(n < 0)) {
        return TC_EPROTO;
    }
    if (TC_UNLIKELY((uint32_t)n > p->max_string)) {
        p->_over = (uint32_t)n;
        return TC_ELIMIT;
    }
    if (TC_UNLIKELY((uint64_t)(uint32_t)n * per > tc_proto_left(p))) {
        return TC_AGAIN;
    }
    return TC_OK;
}

/* A string or binary of 'n' bytes at p->rp (the length prefix already read). */
static inline int
take_string(tc_proto_t *p, int32_t n, const uint8_t **s, uint32_t *len)
{
    if (TC_UNLIKELY(n < 0)) {
        return TC_EPROTO;
    }
    if (TC_UNLIKELY((uint32_t)n > p->max_string)) {
        p->_over = (uint32_t)n;
        return TC_ELIMIT;
    }
    if (TC_UNLIKELY((size_t)n > tc_proto_left(p))) {
        return TC_AGAIN;
    }
    *s = p->rp;
    *len = (uint32_t)n;
    p->rp += n;
    return TC_OK;
}

/*
 * With fewer than 4 bytes, say EPROTO as soon as the bytes seen cannot start
 * a strict header nor a non-strict one, so garbage on a buffered connection
 * is refused without waiting for more.
 */
static int
short_header(const tc_proto_t *p)
{
    size_t left = tc_proto_left(p);
    if (left >= 1 && p->rp[0] >= 0x80 && p->rp[0] != 0x80) {
        return TC_EPROTO;
    }
    if (left >= 2 && p->rp[0] == 0x80 && p->rp[1] != 0x01) {
        return TC_EPROTO;
    }
    return TC_AGAIN;
}

static int
read_message_begin(tc_proto_t *p, tc_msg_hdr_t *m)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 4)) {
        return short_header(p);
    }
    uint32_t v = tc_proto_binary_load_be32(p->rp);
    p->rp += 4;
    const uint8_t *name;
    int rc;
    if ((int32_t)v < 0) {
        if ((v & VERSION_MASK) != VERSION_1) {
            return TC_EPROTO; /* bad version */
        }
        if (TC_UNLIKELY(tc_proto_left(p) < 4)) {
            return TC_AGAIN;
        }
        int32_t len = (int32_t)tc_proto_binary_load_be32(p->rp);
        p->rp += 4;
        rc = take_string(p, len, &name, &m->name_len);
        if (rc != TC_OK) {
            return rc;
        }
        m->type = (uint8_t)(v & 0xffu);
    } else {
        /* old non-strict form: name length, name, type byte, seqid */
        rc = take_string(p, (int32_t)v, &name, &m->name_len);
        if (rc != TC_OK) {
            return rc;
        }
        if (TC_UNLIKELY(tc_proto_left(p) < 1)) {
            return TC_AGAIN;
        }
        m->type = *p->rp++;
    }
    if (TC_UNLIKELY(tc_proto_left(p) < 4)) {
        return TC_AGAIN;
    }
    m->seqid = (int32_t)tc_proto_binary_load_be32(p->rp);
    p->rp += 4;
    m->name = (const char *)name;
    return TC_OK;
}

static int
read_struct_begin(tc_proto_t *p)
{
    (void)p;
    return TC_OK;
}

static int
read_struct_end(tc_proto_t *p)
{
    (void)p;
    return TC_OK;
}

static int
read_field_begin(tc_proto_t *p, uint8_t *type, int16_t *id)
{
    size_t left = tc_proto_left(p);
    if (TC_UNLIKELY(left < 1)) {
        return TC_AGAIN;
    }
    uint8_t t = p->rp[0];
    if (t == TC_TTYPE_STOP) {
        p->rp++;
        *type = TC_TTYPE_STOP;
        *id = 0;
        return TC_OK;
    }
    if (TC_UNLIKELY(!tc_proto_type_is_value(t))) {
        return TC_EPROTO;
    }
    if (TC_UNLIKELY(left < 3)) {
        return TC_AGAIN;
    }
    *type = t;
    *id = (int16_t)load_be16(p->rp + 1);
    p->rp += 3;
    return TC_OK;
}

static int
read_list_begin(tc_proto_t *p, uint8_t *etype, uint32_t *n)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 5)) {
        if (tc_proto_left(p) >= 1 && !tc_proto_type_is_value(p->rp[0])) {
            return TC_EPROTO;
        }
        return TC_AGAIN;
    }
    uint8_t t = p->rp[0];
    if (TC_UNLIKELY(!tc_proto_type_is_value(t))) {
        return TC_EPROTO;
    }
    int32_t size = (int32_t)tc_proto_binary_load_be32(p->rp + 1);
    p->rp += 5;
    int rc = check_count(p, size, min_size[t]);
    if (rc != TC_OK) {
        return rc;
    }
    *etype = t;
    *n = (uint32_t)size;
    return TC_OK;
}

static int
read_map_begin(tc_proto_t *p, uint8_t *ktype, uint8_t *vtype, uint32_t *n)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 6)) {
        /* an invalid type is refused from its byte on, as in read_list_begin() */
        for (size_t i = 0; i < 2 && i < tc_proto_left(p); i++) {
            if (!tc_proto_type_is_value(p->rp[i])) {
                return TC_EPROTO;
            }
        }
        return TC_AGAIN;
    }
    uint8_t kt = p->rp[0];
    uint8_t vt = p->rp[1];
    if (TC_UNLIKELY(!tc_proto_type_is_value(kt) || !tc_proto_type_is_value(vt))) {
        return TC_EPROTO;
    }
    int32_t size = (int32_t)tc_proto_binary_load_be32(p->rp + 2);
    p->rp += 6;
    int rc = check_count(p, size, (uint32_t)min_size[kt] + min_size[vt]);
    if (rc != TC_OK) {
        return rc;
    }
    *ktype = kt;
    *vtype = vt;
    *n = (uint32_t)size;
    return TC_OK;
}

static int
read_bool(tc_proto_t *p, bool *v)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 1)) {
        return TC_AGAIN;
    }
    *v = *p->rp++ != 0;
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

static int
read_i16(tc_proto_t *p, int16_t *v)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 2)) {
        return TC_AGAIN;
    }
    *v = (int16_t)load_be16(p->rp);
    p->rp += 2;
    return TC_OK;
}

static int
read_i32(tc_proto_t *p, int32_t *v)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 4)) {
        return TC_AGAIN;
    }
    *v = (int32_t)tc_proto_binary_load_be32(p->rp);
    p->rp += 4;
    return TC_OK;
}

static int
read_i64(tc_proto_t *p, int64_t *v)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 8)) {
        return TC_AGAIN;
    }
    *v = (int64_t)load_be64(p->rp);
    p->rp += 8;
    return TC_OK;
}

static int
read_double(tc_proto_t *p, double *v)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 8)) {
        return TC_AGAIN;
    }
    uint64_t bits = load_be64(p->rp);
    memcpy(v, &bits, sizeof(*v));
    p->rp += 8;
    return TC_OK;
}

static int
read_binary(tc_proto_t *p, const uint8_t **s, uint32_t *len)
{
    if (TC_UNLIKELY(tc_proto_left(p) < 4)) {
        return TC_AGAIN;
    }
    int32_t n = (int32_t)tc_proto_binary_load_be32(p->rp);
    p->rp += 4;
    return take_string(p, n, s, len);
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
 * Room for 'n' bytes at the end of the output: the caller stores at tail(),
 * then commit(). False when the output's bound refuses it: the write is
 * dropped whole, and the output remembers (tc_buf_refused()).
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

static inline void
commit(tc_proto_t *p, size_t n)
{
    p->out->len += n;
}

static void
write_message_begin(tc_proto_t *p, const char *name, size_t len, uint8_t type, int32_t seqid)
{
    TC_ASSERT(len <= INT32_MAX);
    if (TC_UNLIKELY(!room(p, 12 + len))) {
        return;
    }
    uint8_t *d = tail(p);
    tc_proto_binary_store_be32(d, VERSION_1 | type);
    tc_proto_binary_store_be32(d + 4, (uint32_t)len);
    if (len > 0) {
        memcpy(d + 8, name, len);
    }
    tc_proto_binary_store_be32(d + 8 + len, (uint32_t)seqid);
    commit(p, 12 + len);
}

static void
write_struct_begin(tc_proto_t *p)
{
    (void)p;
}

static void
write_struct_end(tc_proto_t *p)
{
    (void)p;
}

static void
write_field_begin(tc_proto_t *p, uint8_t type, int16_t id)
{
    tc_proto_binary_write_field_begin(p->out, type, id);
}

static void
write_field_stop(tc_proto_t *p)
{
    tc_proto_binary_write_field_stop(p->out);
}

static void
write_list_begin(tc_proto_t *p, uint8_t etype, uint32_t n)
{
    tc_proto_binary_write_list_begin(p->out, etype, n);
}

static void
write_map_begin(tc_proto_t *p, uint8_t ktype, uint8_t vtype, uint32_t n)
{
    tc_proto_binary_write_map_begin(p->out, ktype, vtype, n);
}

static void
write_bool(tc_proto_t *p, bool v)
{
    tc_buf_append_u8(p->out, v ? 1 : 0);
}

static void
write_byte(tc_proto_t *p, int8_t v)
{
    tc_buf_append_u8(p->out, (uint8_t)v);
}

static void
write_i16(tc_proto_t *p, int16_t v)
{
    tc_proto_binary_write_i16(p->out, v);
}

static void
write_i32(tc_proto_t *p, int32_t v)
{
    tc_proto_binary_write_i32(p->out, v);
}

static void
write_i64(tc_proto_t *p, int64_t v)
{
    tc_proto_binary_write_i64(p->out, v);
}

static void
write_double(tc_proto_t *p, double v)
{
    tc_proto_binary_write_double(p->out, v);
}

static void
write_binary(tc_proto_t *p, const void *s, size_t len)
{
    tc_proto_binary_write_binary(p->out, s, len);
}

static void
write_uuid(tc_proto_t *p, const uint8_t uuid[16])
{
    tc_buf_append(p->out, uuid, 16);
}

const tc_proto_ops_t tc_proto_binary = {
    .name = "binary",
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
            [TC_TTYPE_I16] = 2,
            [TC_TTYPE_I32] = 4,
            [TC_TTYPE_I64] = 8,
            [TC_TTYPE_UUID] = 16,
        },
};
