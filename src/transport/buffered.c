/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TBufferedTransport: messages back to back with no length. Where one ends
 * is found by skipping it with the protocol; until the skip gets through,
 * more bytes are needed. The connection keeps the skip's state between
 * reads (scan_resume), so a message is walked once however it is cut.
 */
#include "transport/transport.h"

#include "core/buf.h"

static int
scan_resume(const tc_proto_ops_t *ops, tc_proto_skip_state_t *st, const uint8_t *data, size_t len,
            size_t max, size_t *off, size_t *msg_len)
{
    tc_proto_t p;
    tc_proto_init(&p, ops, data, len, NULL);
    /*
     * No string or container may claim more than the whole message may
     * hold: such a message is refused now, not after buffering 'max' bytes.
     * Depth goes to the hard ceiling; the codec applies the configured one.
     */
    if (max < p.max_string) {
        p.max_string = (uint32_t)max;
    }
    p.max_depth = TC_PROTO_DEPTH_MAX;
    int rc = tc_proto_skip_message_resume(&p, st);
    if (rc == TC_AGAIN) {
        return len >= max ? TC_ELIMIT : TC_AGAIN;
    }
    if (rc != TC_OK) {
        return rc;
    }
    size_t n = (size_t)(p.rp - data);
    if (n > max) {
        return TC_ELIMIT;
    }
    *off = 0;
    *msg_len = n;
    return TC_OK;
}

static int
scan(const tc_proto_ops_t *ops, const uint8_t *data, size_t len, size_t max, size_t *off,
     size_t *msg_len)
{
    tc_proto_skip_state_t st;
    tc_proto_skip_state_init(&st);
    return scan_resume(ops, &st, data, len, max, off, msg_len);
}

static size_t
begin(tc_buf_t *out)
{
    return out->len;
}

static void
end(tc_buf_t *out, size_t mark)
{
    (void)out;
    (void)mark;
}

const tc_transport_t tc_transport_buffered = {
    .name = "buffered",
    .scan = scan,
    .scan_resume = scan_resume,
    .begin = begin,
    .end = end,
    .max_body = SIZE_MAX, /* no length: each string and container bounds its own */
};
