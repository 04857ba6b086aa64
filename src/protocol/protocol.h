/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The protocol layer: one vtable per wire format (binary, compact) over a
 * read cursor and an output buffer. Codecs, framing and the server call the
 * vtable; they never see the bytes of a format directly.
 *
 * Reads are zero-copy and bounds-checked: running past the end of the input
 * returns TC_AGAIN ("need more bytes"). Callers that hold a whole message
 * (framed input, a decoder) treat TC_AGAIN as a truncated message; the
 * buffered transport's scanner treats it as "wait for more". Sizes read from
 * the wire are checked against the limits here before anyone allocates.
 */
#ifndef TC_PROTOCOL_PROTOCOL_H
#define TC_PROTOCOL_PROTOCOL_H

#include "core/common.h"
#include "core/err.h"

#include <stdbool.h>

/* Thrift type ids, as the binary protocol writes them (TType). */
enum {
    TC_TTYPE_STOP = 0,
    TC_TTYPE_VOID = 1,
    TC_TTYPE_BOOL = 2,
    TC_TTYPE_BYTE = 3, /* also i8 */
    TC_TTYPE_DOUBLE = 4,
    TC_TTYPE_I16 = 6,
    TC_TTYPE_I32 = 8,
    TC_TTYPE_I64 = 10,
    TC_TTYPE_STRING = 11, /* also binary */
    TC_TTYPE_STRUCT = 12,
    TC_TTYPE_MAP = 13,
    TC_TTYPE_SET = 14,
    TC_TTYPE_LIST = 15,
    TC_TTYPE_UUID = 16,
};

/* Bit i set when type id i is a value type (anything but STOP, VOID and unused ids). */
#define TC_TTYPE_VALUE_MASK                                                                        \
    ((1u << TC_TTYPE_BOOL) | (1u << TC_TTYPE_BYTE) | (1u << TC_TTYPE_DOUBLE) |                     \
     (1u << TC_TTYPE_I16) | (1u << TC_TTYPE_I32) | (1u << TC_TTYPE_I64) |                          \
     (1u << TC_TTYPE_STRING) | (1u << TC_TTYPE_STRUCT) | (1u << TC_TTYPE_MAP) |                    \
     (1u << TC_TTYPE_SET) | (1u << TC_TTYPE_LIST) | (1u << TC_TTYPE_UUID))

/* True when 'type' can be the type of a field or element on the wire. */
static inline bool
tc_proto_type_is_value(uint8_t type)
{
    return type < 32 && ((TC_TTYPE_VALUE_MASK >> type) & 1u) != 0;
}

/* Message types (TMessageType). */
enum {
    TC_MSG_CALL = 1,
    TC_MSG_REPLY = 2,
    TC_MSG_EXCEPTION = 3,
    TC_MSG_ONEWAY = 4,
};

/* Hard ceiling for the nesting depth limit; the configured limit is below it. */
#define TC_PROTO_DEPTH_MAX 256
/* Default nesting depth limit (structs and containers together). */
#define TC_PROTO_DEPTH_DEFAULT 64
/* The most room a write asks of the output beyond the bytes it writes (compact's varints). */
#define TC_PROTO_WRITE_SLACK 16

typedef struct tc_proto tc_proto_t;
typedef struct tc_proto_ops tc_proto_ops_t;

/* A message header as read: 'name' points into the input (not NUL-terminated). */
typedef struct tc_msg_hdr {
    const char *name;
    uint32_t name_len;
    uint8_t type; /* TC_MSG_* */
    int32_t seqid;
} tc_msg_hdr_t;

/*
 * The state of one protocol instance: a read cursor, an output buffer and
 * what compact needs to remember between calls. Fields starting with '_'
 * belong to the protocol implementation.
 */
struct tc_proto {
    const tc_proto_ops_t *ops;
    /* input: [rp, rend) is what is left; owned by the caller */
    const uint8_t *rp;
    const uint8_t *rend;
    /* output: appended to; owned by the caller, may be NULL for read-only use */
    tc_buf_t *out;
    /* limits */
    uint32_t max_depth;  /* structs and containers nested; <= TC_PROTO_DEPTH_MAX */
    uint32_t max_string; /* largest string/binary, and largest container count */
    uint32_t depth;      /* current nesting, maintained by tc_proto_skip and codecs */
    /* what the last TC_ELIMIT of a read was: the size over max_string; 0: nesting */
    uint32_t _over;
    /* compact state */
    int16_t _last_fid;
    uint8_t _bool_pending; /* read: 0 none, 1 false, 2 true; write: 1 pending */
    int16_t _bool_fid;     /* write: field id of a pending bool field */
    uint32_t _fid_top;
    int16_t _fid_stack[TC_PROTO_DEPTH_MAX];
};

/*
 * One wire format. Every read returns TC_OK, TC_AGAIN (input ends early),
 * TC_EPROTO (bytes that are not this protocol) or TC_ELIMIT (a size over
 * 'max_string'). Writes append to p->out (memory exhaustion aborts); an
 * output with a bound (tc_buf_set_max()) drops whole any write that needs
 * room past it and remembers (tc_buf_refused()): what was written is then
 * not a whole message, and the caller discards it. A write may ask for up
 * to TC_PROTO_WRITE_SLACK bytes more room than it fills. Struct, field,
 * list, set and map "end" calls that do nothing in both formats are
 * omitted; read_struct_begin/end and write_struct_begin/end exist because
 * compact keeps the last field id per struct.
 *
 * The readers check every type id they return (a field type, element type,
 * key or value type that is not a value type is TC_EPROTO, even in an empty
 * container) and bound every count by the bytes left, each element taking at
 * least its smallest encoding (TC_AGAIN otherwise), so a decoder holding a
 * whole message may size its result from the count. An empty compact map
 * carries no types: read_map_begin then reports TC_TTYPE_STOP for both.
 * Values are left unspecified when a read fails. A tc_proto_t reads or writes
 * one message at a time: compact's field-id stack and pending bool are shared,
 * and read_message_begin / write_message_begin reset them.
 */
struct tc_proto_ops {
    const char *name; /* "binary", "compact" */

    int (*read_message_begin)(tc_proto_t *p, tc_msg_hdr_t *m);
    int (*read_struct_begin)(tc_proto_t *p);
    int (*read_struct_end)(tc_proto_t *p);
    /* *type is TC_TTYPE_STOP at the end of a struct (then *id is 0) */
    int (*read_field_begin)(tc_proto_t *p, uint8_t *type, int16_t *id);
    /* lists and sets share one header format */
    int (*read_list_begin)(tc_proto_t *p, uint8_t *etype, uint32_t *n);
    int (*read_map_begin)(tc_proto_t *p, uint8_t *ktype, uint8_t *vtype, uint32_t *n);
    int (*read_bool)(tc_proto_t *p, bool *v);
    int (*read_byte)(tc_proto_t *p, int8_t *v);
    int (*read_i16)(tc_proto_t *p, int16_t *v);
    int (*read_i32)(tc_proto_t *p, int32_t *v);
    int (*read_i64)(tc_proto_t *p, int64_t *v);
    int (*read_double)(tc_proto_t *p, double *v);
    /* zero-copy: *s points into the input */
    int (*read_binary)(tc_proto_t *p, const uint8_t **s, uint32_t *len);
    int (*read_uuid)(tc_proto_t *p, uint8_t uuid[16]);

    void (*write_message_begin)(tc_proto_t *p, const char *name, size_t len, uint8_t type,
                                int32_t seqid);
    void (*write_struct_begin)(tc_proto_t *p);
    void (*write_struct_end)(tc_proto_t *p);
    void (*write_field_begin)(tc_proto_t *p, uint8_t type, int16_t id);
    void (*write_field_stop)(tc_proto_t *p);
    void (*write_list_begin)(tc_proto_t *p, uint8_t etype, uint32_t n);
    void (*write_set_begin)(tc_proto_t *p, uint8_t etype, uint32_t n);
    void (*write_map_begin)(tc_proto_t *p, uint8_t ktype, uint8_t vtype, uint32_t n);
    void (*write_bool)(tc_proto_t *p, bool v);
    void (*write_byte)(tc_proto_t *p, int8_t v);
    void (*write_i16)(tc_proto_t *p, int16_t v);
    void (*write_i32)(tc_proto_t *p, int32_t v);
    void (*write_i64)(tc_proto_t *p, int64_t v);
    void (*write_double)(tc_proto_t *p, double v);
    void (*write_binary)(tc_proto_t *p, const void *s, size_t len);
    void (*write_uuid)(tc_proto_t *p, const uint8_t uuid[16]);

    /*
     * Bytes one value of each TC_TTYPE_* takes as a list, set or map element
     * when that size is fixed in this format (binary i32: 4), else 0. Lets
     * skip and codecs step over fixed-size elements in one move.
     */
    uint8_t fixed_size[TC_TTYPE_UUID + 1];
    /*
     * For types this format writes as one unsigned LEB128 varint (compact
     * i16, i32, i64), the most bytes that varint may take, else 0.
     */
    uint8_t varint_max[TC_TTYPE_UUID + 1];
};

/* The two formats. Binary reads strict and old non-strict headers, writes strict. */
extern const tc_proto_ops_t tc_proto_binary;
extern const tc_proto_ops_t tc_proto_compact;

/* Find a protocol by name ("binary", "compact"); NULL if unknown. */
const tc_proto_ops_t *tc_proto_find(const char *name);

/*
 * Prepare 'p' for 'ops': reset the compact state, set the default limits
 * (max_depth TC_PROTO_DEPTH_DEFAULT, max_string UINT32_MAX>>1), point the
 * reader at [data, data+len) and the writer at 'out'. 'data' and 'out' may
 * be NULL. Ownership: borrows 'data' and 'out' for the life of 'p'.
 */
void tc_proto_init(tc_proto_t *p, const tc_proto_ops_t *ops, const void *data, size_t len,
                   tc_buf_t *out);

/* Point the reader at new input and reset the read-side state. */
void tc_proto_reset_input(tc_proto_t *p, const void *data, size_t len);

/* Bytes left to read. */
static inline size_t
tc_proto_left(const tc_proto_t *p)
{
    return (size_t)(p->rend - p->rp);
}

/*
 * Skip one value of 'type' (any type, nested to any depth up to max_depth).
 * Returns TC_OK, TC_AGAIN, TC_EPROTO (an invalid type id anywhere) or
 * TC_ELIMIT (too deep, or a size over max_string). Never loops without
 * consuming input.
 */
int tc_proto_skip(tc_proto_t *p, uint8_t type) TC_NODISCARD;

/*
 * Skip one whole message (header and its struct). On TC_OK, the message
 * spans from where the reader was to p->rp. Used by the buffered transport
 * to find where a message ends.
 */
int tc_proto_skip_message(tc_proto_t *p) TC_NODISCARD;

/* One struct or container open in a resumable skip (tc_proto_skip_state_t). */
typedef struct tc_proto_skip_frame {
    uint32_t left;    /* list/set: elements left; map: keys and values left, 2 per entry */
    int16_t last_fid; /* struct: id of the last field header read (compact's deltas) */
    uint8_t kind;     /* TC_TTYPE_STRUCT, TC_TTYPE_LIST (sets too) or TC_TTYPE_MAP */
    uint8_t et;       /* list/set: element type; map: key type */
    uint8_t vt;       /* map: value type */
} tc_proto_skip_frame_t;

/*
 * How far a skip of one message got before the input ran out: the bytes of
 * whole values from the message start ('pos') and the structs and
 * containers still open. About 3 KB; owned by the caller.
 */
typedef struct tc_proto_skip_state {
    size_t pos;   /* 0: the message has not begun */
    uint32_t top; /* frames open */
    tc_proto_skip_frame_t stack[TC_PROTO_DEPTH_MAX];
} tc_proto_skip_state_t;

/* Start 'st' on a new message. */
void tc_proto_skip_state_init(tc_proto_skip_state_t *st);

/*
 * tc_proto_skip_message() that can resume: 'p' reads from the message start
 * to the end of the bytes received so far, with the same limits on every
 * call; 'st' comes from tc_proto_skip_state_init() or from the TC_AGAIN of
 * the previous call on the same message with fewer bytes. The bytes before
 * st->pos are not read again, so a message arriving in k pieces costs its
 * length plus k small steps, not k times its length. Returns what
 * tc_proto_skip_message() returns on the same bytes (same rp on TC_OK).
 * After anything but TC_AGAIN, 'st' must be initialized again.
 */
int tc_proto_skip_message_resume(tc_proto_t *p, tc_proto_skip_state_t *st) TC_NODISCARD;

/* A short name for a type id ("i32", "struct", ...) or "invalid". */
const char *tc_proto_type_name(uint8_t type);

/*
 * Fill 'err' for a read of 'p' that returned 'rc' (not TC_OK) while decoding
 * a whole message: TC_AGAIN means the message was cut short (TC_EPROTO),
 * TC_ELIMIT a limit, named with the size that passed it ("a size of
 * 2147483632, over max_message_size (65536)": max_string is that setting
 * in the server) or as nesting ("nesting deeper than 64"), anything else
 * invalid bytes. Returns the code set. The value decoders of the C and Lua
 * sides share it.
 */
int tc_proto_read_error(const tc_proto_t *p, int rc, tc_err_t *err);

#endif /* TC_PROTOCOL_PROTOCOL_H */
