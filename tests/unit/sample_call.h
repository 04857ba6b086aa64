/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The call the transport tests (test_buffered.c, test_conn.c) cut, scan and
 * send in pieces: nested enough for the buffered scanner to have state to
 * keep (a struct inside the arguments, a list, a bool), in both formats.
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

#endif /* TC_TEST_SAMPLE_CALL_H */
