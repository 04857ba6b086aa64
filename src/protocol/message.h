/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message-level helpers shared by server and clients: TApplicationException
 * (the standard error reply) read and write.
 */
#ifndef TC_PROTOCOL_MESSAGE_H
#define TC_PROTOCOL_MESSAGE_H

#include "protocol/protocol.h"

/* TApplicationException type codes, as Apache Thrift defines them. */
enum {
    TC_APPEX_UNKNOWN = 0,
    TC_APPEX_UNKNOWN_METHOD = 1,
    TC_APPEX_INVALID_MESSAGE_TYPE = 2,
    TC_APPEX_WRONG_METHOD_NAME = 3,
    TC_APPEX_BAD_SEQUENCE_ID = 4,
    TC_APPEX_MISSING_RESULT = 5,
    TC_APPEX_INTERNAL_ERROR = 6,
    TC_APPEX_PROTOCOL_ERROR = 7,
    TC_APPEX_INVALID_TRANSFORM = 8,
    TC_APPEX_INVALID_PROTOCOL = 9,
    TC_APPEX_UNSUPPORTED_CLIENT_TYPE = 10,
};

/* A decoded TApplicationException; 'message' points into the input. */
typedef struct tc_appex {
    int32_t type;
    const char *message; /* NULL when the field is absent */
    uint32_t message_len;
} tc_appex_t;

/* Name of an exception type code ("UNKNOWN_METHOD"), or "UNKNOWN". */
const char *tc_appex_type_name(int32_t type);

/*
 * Write a whole EXCEPTION message: header (name, seqid) and the
 * TApplicationException struct {1: string message, 2: i32 type}. The
 * message is 'message_len' bytes and may hold NULs (a Lua error's text);
 * NULL leaves the field out.
 */
void tc_message_write_appex(tc_proto_t *p, const char *name, size_t name_len, int32_t seqid,
                            int32_t type, const char *message, size_t message_len);

/* Read the TApplicationException struct (after the message header). */
int tc_message_read_appex(tc_proto_t *p, tc_appex_t *ex) TC_NODISCARD;

#endif /* TC_PROTOCOL_MESSAGE_H */
