/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TFramedTransport: every message is preceded by its length as a 4-byte
 * big-endian i32. The length alone says where a message ends.
 */
#include "transport/transport.h"

#include "core/buf.h"

#include <string.h>

#define HEADER 4

static int
scan(const tc_proto_ops_t *ops, const uint8_t *data, size_t len, size_t max, size_t *off,
     size_t *msg_len)
{
    (void)ops;
    if (len < HEADER) {
        return TC_AGAIN;
    }
    uint32_t v;
    memcpy(&v, data, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    int32_t n = (int32_t)v;
    if (n <= 0) {
        return TC_EPROTO; /* Apache refuses negative and empty frames too */
    }
    /* refused as soon as the header is in: a big frame is never buffered */
    if ((size_t)n > max) {
        return TC_ELIMIT;
    }
    if (len - HEADER < (size_t)n) {
        return TC_AGAIN;
    }
    *off = HEADER;
    *msg_len = (size_t)n;
    return TC_OK;
}

static size_t
begin(tc_buf_t *out)
{
    size_t mark = out->len;
    tc_buf_reserve(out, HEADER);
    memset(out->data + out->len, 0, HEADER);
    out->len += HEADER;
    return mark;
}

static void
end(tc_buf_t *out, size_t mark)
{
    TC_ASSERT(mark + HEADER <= out->len);
    size_t n = out->len - mark - HEADER;
    TC_ASSERT(n <= INT32_MAX);
    uint32_t v = (uint32_t)n;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(out->data + mark, &v, sizeof(v));
}

const tc_transport_t tc_transport_framed = {
    .name = "framed",
    .scan = scan,
    .begin = begin,
    .end = end,
    .max_body = INT32_MAX, /* the length is an i32 */
};
