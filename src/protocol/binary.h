/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TBinaryProtocol's value writers, inline: binary.c's vtable calls them,
 * and a codec that writes many small values (bridge/lua_value_encode.c)
 * calls them directly when its output is binary, without a call per value.
 * Each behaves as the vtable's write of the same name (protocol.h): a
 * write the output's bound refuses is dropped whole.
 */
#ifndef TC_PROTOCOL_BINARY_H
#define TC_PROTOCOL_BINARY_H

#include "core/buf.h"
#include "protocol/protocol.h"

#include <string.h>

static inline void
tc_proto_binary_store_be16(uint8_t *d, uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    memcpy(d, &v, sizeof(v));
}

static inline void
tc_proto_binary_store_be32(uint8_t *d, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(d, &v, sizeof(v));
}

/* The big-endian u32 at 'd' (a frame length, a sequence id). */
static inline uint32_t
tc_proto_binary_load_be32(const uint8_t *d)
{
    uint32_t v;
    memcpy(&v, d, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline void
tc_proto_binary_store_be64(uint8_t *d, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(d, &v, sizeof(v));
}

static inline void
tc_proto_binary_write_field_begin(tc_buf_t *out, uint8_t type, int16_t id)
{
    if (TC_UNLIKELY(!tc_buf_reserve(out, 3))) {
        return;
    }
    uint8_t *d = out->data + out->len;
    d[0] = type;
    tc_proto_binary_store_be16(d + 1, (uint16_t)id);
    out->len += 3;
}

static inline void
tc_proto_binary_write_field_stop(tc_buf_t *out)
{
    tc_buf_append_u8(out, TC_TTYPE_STOP);
}

/* A list's header; a set's is the same. */
static inline void
tc_proto_binary_write_list_begin(tc_buf_t *out, uint8_t etype, uint32_t n)
{
    TC_ASSERT(n <= INT32_MAX);
    if (TC_UNLIKELY(!tc_buf_reserve(out, 5))) {
        return;
    }
    uint8_t *d = out->data + out->len;
    d[0] = etype;
    tc_proto_binary_store_be32(d + 1, n);
    out->len += 5;
}

static inline void
tc_proto_binary_write_map_begin(tc_buf_t *out, uint8_t ktype, uint8_t vtype, uint32_t n)
{
    TC_ASSERT(n <= INT32_MAX);
    if (TC_UNLIKELY(!tc_buf_reserve(out, 6))) {
        return;
    }
    uint8_t *d = out->data + out->len;
    d[0] = ktype;
    d[1] = vtype;
    tc_proto_binary_store_be32(d + 2, n);
    out->len += 6;
}

static inline void
tc_proto_binary_write_i16(tc_buf_t *out, int16_t v)
{
    if (TC_UNLIKELY(!tc_buf_reserve(out, 2))) {
        return;
    }
    tc_proto_binary_store_be16(out->data + out->len, (uint16_t)v);
    out->len += 2;
}

static inline void
tc_proto_binary_write_i32(tc_buf_t *out, int32_t v)
{
    if (TC_UNLIKELY(!tc_buf_reserve(out, 4))) {
        return;
    }
    tc_proto_binary_store_be32(out->data + out->len, (uint32_t)v);
    out->len += 4;
}

static inline void
tc_proto_binary_write_i64(tc_buf_t *out, int64_t v)
{
    if (TC_UNLIKELY(!tc_buf_reserve(out, 8))) {
        return;
    }
    tc_proto_binary_store_be64(out->data + out->len, (uint64_t)v);
    out->len += 8;
}

static inline void
tc_proto_binary_write_double(tc_buf_t *out, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    tc_proto_binary_write_i64(out, (int64_t)bits);
}

static inline void
tc_proto_binary_write_binary(tc_buf_t *out, const void *s, size_t len)
{
    TC_ASSERT(len <= INT32_MAX);
    if (TC_UNLIKELY(!tc_buf_reserve(out, 4 + len))) {
        return;
    }
    uint8_t *d = out->data + out->len;
    tc_proto_binary_store_be32(d, (uint32_t)len);
    if (len > 0) {
        memcpy(d + 4, s, len);
    }
    out->len += 4 + len;
}

#endif /* TC_PROTOCOL_BINARY_H */
