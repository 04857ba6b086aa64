/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the transport tests (test_buffered.c, test_conn.c) share: the call
 * they cut, scan and send in pieces, nested enough for the buffered scanner
 * to have state to keep (a struct inside the arguments, a list, a bool), in
 * both formats; and protocol readers that count their calls.
 */
#ifndef TC_TEST_SAMPLE_CALL_H
#define TC_TEST_SAMPLE_CALL_H

#include "protocol/protocol.h"

#include <stdint.h>

/* echo(1: {1: "hello", 2: [1, -1, INT64_MAX] (i64), 3: true}) */
static inline void
write_sample_call(tc_proto_t *p, int32_t seqid)
{
    const tc_proto_ops_t *ops = p->ops;
    ops->write_message_begin(p, "echo", 4, TC_MSG_CALL, seqid);
    ops->write_struct_begin(p);
    ops->write_field_begin(p, TC_TTYPE_STRUCT, 1);
    ops->write_struct_begin(p);
    ops->write_field_begin(p, TC_TTYPE_STRING, 1);
    ops->write_binary(p, "hello", 5);
    ops->write_field_begin(p, TC_TTYPE_LIST, 2);
    ops->write_list_begin(p, TC_TTYPE_I64, 3);
    ops->write_i64(p, 1);
    ops->write_i64(p, -1);
    ops->write_i64(p, INT64_MAX);
    ops->write_field_begin(p, TC_TTYPE_BOOL, 3);
    ops->write_bool(p, true);
    ops->write_field_stop(p);
    ops->write_struct_end(p);
    ops->write_field_stop(p);
    ops->write_struct_end(p);
}

static const tc_proto_ops_t *const sample_formats[] = {&tc_proto_binary, &tc_proto_compact};

/* Readers that count their calls: the work a scan does, whatever the clock says. */
static unsigned long reads;
static const tc_proto_ops_t *counted;

static inline int
count_field_begin(tc_proto_t *p, uint8_t *type, int16_t *id)
{
    reads++;
    return counted->read_field_begin(p, type, id);
}

static inline int
count_binary(tc_proto_t *p, const uint8_t **s, uint32_t *len)
{
    reads++;
    return counted->read_binary(p, s, len);
}

static inline int
count_list_begin(tc_proto_t *p, uint8_t *etype, uint32_t *n)
{
    reads++;
    return counted->read_list_begin(p, etype, n);
}

static inline int
count_map_begin(tc_proto_t *p, uint8_t *kt, uint8_t *vt, uint32_t *n)
{
    reads++;
    return counted->read_map_begin(p, kt, vt, n);
}

static inline int
count_i64(tc_proto_t *p, int64_t *v)
{
    reads++;
    return counted->read_i64(p, v);
}

static inline tc_proto_ops_t
counting(const tc_proto_ops_t *ops)
{
    tc_proto_ops_t c = *ops;
    counted = ops;
    c.read_field_begin = count_field_begin;
    c.read_binary = count_binary;
    c.read_list_begin = count_list_begin;
    c.read_map_begin = count_map_begin;
    c.read_i64 = count_i64;
    return c;
}

#endif /* TC_TEST_SAMPLE_CALL_H */
