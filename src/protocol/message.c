/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TApplicationException, the error reply every Thrift client understands:
 * struct {1: string message, 2: i32 type}, written as Apache Thrift's
 * TApplicationException.write() does (message field, then type field).
 */
#include "protocol/message.h"

const char *
tc_appex_type_name(int32_t type)
{
    static const char *const names[] = {
        [TC_APPEX_UNKNOWN] = "UNKNOWN",
        [TC_APPEX_UNKNOWN_METHOD] = "UNKNOWN_METHOD",
        [TC_APPEX_INVALID_MESSAGE_TYPE] = "INVALID_MESSAGE_TYPE",
        [TC_APPEX_WRONG_METHOD_NAME] = "WRONG_METHOD_NAME",
        [TC_APPEX_BAD_SEQUENCE_ID] = "BAD_SEQUENCE_ID",
        [TC_APPEX_MISSING_RESULT] = "MISSING_RESULT",
        [TC_APPEX_INTERNAL_ERROR] = "INTERNAL_ERROR",
        [TC_APPEX_PROTOCOL_ERROR] = "PROTOCOL_ERROR",
        [TC_APPEX_INVALID_TRANSFORM] = "INVALID_TRANSFORM",
        [TC_APPEX_INVALID_PROTOCOL] = "INVALID_PROTOCOL",
        [TC_APPEX_UNSUPPORTED_CLIENT_TYPE] = "UNSUPPORTED_CLIENT_TYPE",
    };
    if (type < 0 || (size_t)type >= TC_ARRAY_LEN(names)) {
        return "UNKNOWN";
    }
    return names[type];
}

void
tc_message_write_appex(tc_proto_t *p, const char *name, size_t name_len, int32_t seqid,
                       int32_t type, const char *message, size_t message_len)
{
    const tc_proto_ops_t *ops = p->ops;
    ops->write_message_begin(p, name, name_len, TC_MSG_EXCEPTION, seqid);
    ops->write_struct_begin(p);
    /* Apache leaves the field out when the message is None */
    if (message != NULL) {
        ops->write_field_begin(p, TC_TTYPE_STRING, 1);
        ops->write_binary(p, message, message_len);
    }
    ops->write_field_begin(p, TC_TTYPE_I32, 2);
    ops->write_i32(p, type);
    ops->write_field_stop(p);
    ops->write_struct_end(p);
}

int
tc_message_read_appex(tc_proto_t *p, tc_appex_t *ex)
{
    const tc_proto_ops_t *ops = p->ops;
    ex->type = TC_APPEX_UNKNOWN;
    ex->message = NULL;
    ex->message_len = 0;
    int rc = ops->read_struct_begin(p);
    while (rc == TC_OK) {
        uint8_t type;
        int16_t id;
        if ((rc = ops->read_field_begin(p, &type, &id)) != TC_OK) {
            break;
        }
        if (type == TC_TTYPE_STOP) {
            rc = ops->read_struct_end(p);
            break;
        }
        if (id == 1 && type == TC_TTYPE_STRING) {
            const uint8_t *s;
            uint32_t len;
            if ((rc = ops->read_binary(p, &s, &len)) == TC_OK) {
                ex->message = (const char *)s;
                ex->message_len = len;
            }
        } else if (id == 2 && type == TC_TTYPE_I32) {
            rc = ops->read_i32(p, &ex->type);
        } else {
            /* unknown field, or a known id with another type: Apache skips both */
            rc = tc_proto_skip(p, type);
        }
    }
    return rc;
}
