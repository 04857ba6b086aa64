/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema-driven C codec behind C plugins: decode a struct into
 * arena-allocated tc_value_t trees whose strings point into the request
 * bytes, and a reply writer that checks each value against the IDL as it
 * writes it straight to the output through the protocol vtable. Library
 * layer: returns errors, never logs.
 */
#ifndef TC_SCHEMA_CODEC_H
#define TC_SCHEMA_CODEC_H

#include "core/arena.h"
#include "core/err.h"
#include "protocol/protocol.h"
#include "schema/schema.h"
#include "thriftcorn/plugin.h"

/* A field of a decoded struct: the index of its tc_field_t in st->fields, its value. */
typedef struct tc_view_field {
    uint16_t idx;
    tc_value_t val;
} tc_view_field_t;

/*
 * A decoded struct: only the fields present (a field sent twice: its last
 * value), in the order they came. Sparse, so that what a request costs to
 * hold stays in proportion to its bytes: a struct of many fields that
 * arrives empty costs a view, not a slot per field.
 */
struct tc_view {
    const tc_struct_t *st;
    uint16_t n;   /* fields present */
    uint16_t cap; /* room in 'fields' */
    tc_view_field_t *fields;
};

/* A decoded list or set (n items) or map (2n items: key, value, ...). */
struct tc_seq {
    const tc_type_t *type;
    size_t n;
    tc_value_t *items;
};

/*
 * What one decode may take from its arena: TC_CODEC_DECODE_FACTOR times
 * p->max_string (max_message_size in the server) plus TC_CODEC_DECODE_FLOOR.
 * The protocol bounds each container's count by the bytes left, but nested
 * containers may each claim the same rest of the message, and a byte on the
 * wire can become a value of 24 bytes or a view of a struct: the decoder
 * counts what it takes and stops with TC_ELIMIT before it would pass this.
 */
#define TC_CODEC_DECODE_FACTOR 32
#define TC_CODEC_DECODE_FLOOR  (1u << 20)

/*
 * Decode one struct of type 'st' that 'p' reads next. Fields with an
 * unknown id or another wire type are skipped (as Apache Thrift does); a
 * container whose element types differ from the IDL, or a missing required
 * field, is an error. Fields left out stay unset in the view (readers get
 * IDL defaults from tc_codec_view_value()). Returns TC_OK with
 * '*out' set, or TC_EPROTO / TC_ELIMIT (also past the arena budget above) /
 * TC_EMISSING with 'err' filled
 * (naming the innermost struct and field: "mod.Point.y: message truncated").
 * Ownership: everything comes from 'a'; strings and binaries point into
 * the input of 'p', so both must outlive '*out'.
 */
int tc_codec_decode(tc_proto_t *p, const tc_struct_t *st, tc_arena_t *a, const tc_view_t **out,
                    tc_err_t *err) TC_NODISCARD;

/*
 * tc_codec_decode() of a call's arguments, 'args' being its function's
 * argument struct: an error in an argument itself names it by name and
 * field id ("logid (field 1): message truncated", tc_codec_err_locate()),
 * not as a field of the method's struct, which the caller names with the
 * call.
 */
int tc_codec_decode_args(tc_proto_t *p, const tc_struct_t *args, tc_arena_t *a,
                         const tc_view_t **out, tc_err_t *err) TC_NODISCARD;

/*
 * Put where field 'f' of struct 'st' is before the text of 'err' (already
 * set; NULL or clear: a no-op): "Struct.field: ", or "name (field N): "
 * when 'st' is 'args', the argument struct of the call being decoded (NULL:
 * none), whose struct the caller names with the call. The one place both
 * decoders (this one and bridge/lua_value_decode.c) choose how an error names a
 * field, so that a PROTOCOL_ERROR reads the same whichever handler the
 * method has.
 */
void tc_codec_err_locate(tc_err_t *err, const tc_struct_t *st, const tc_field_t *f,
                         const tc_struct_t *args);

/*
 * Set 'err' to TC_EMISSING for required field 'f' of 'st', missing from
 * the input, the field named as tc_codec_err_locate() names it
 * ("mod.Point.y: required field is missing"). 'sent' is the wire type
 * the field's id came with when it came with another than the IDL's
 * (then skipped, as Apache skips it), else TC_TTYPE_STOP: the text says
 * so ("...: required field is missing: sent as string, the IDL has i32"),
 * for a client built from another version of the IDL. Returns
 * TC_EMISSING.
 */
/*
 * tc_codec_err_locate() for a field that was being skipped (tc_proto_skip())
 * when its error came: id 'id', sent as wire type 'sent', either not in
 * 'st' ("mod.Point field 9 (not in the IDL): ", "field 9 (not in the IDL): "
 * in 'args') or in it with another type ("mod.Point.y, sent as list: ").
 */
void tc_codec_err_locate_skipped(tc_err_t *err, const tc_struct_t *st, int16_t id, uint8_t sent,
                                 const tc_struct_t *args);

int tc_codec_err_missing(tc_err_t *err, const tc_struct_t *st, const tc_field_t *f,
                         const tc_struct_t *args, uint8_t sent);

/* The field of 'v' with id 'id' and its value as sent, or NULL (no such field). */
const tc_value_t *tc_codec_view_get(const tc_view_t *v, int16_t id);

/*
 * tc_codec_view_get(), with the IDL default of a field that was not sent
 * (a union's only when no member was sent): what C handlers read. The
 * default lives as long as the schema. Kind TC_VAL_UNSET when there is
 * neither; NULL when there is no such field.
 */
const tc_value_t *tc_codec_view_value(const tc_view_t *v, int16_t id);

/* ---- the reply writer ---- */

typedef struct tc_codec_frame {
    uint8_t kind;    /* TC_KIND_STRUCT, _LIST, _SET or _MAP */
    bool one;        /* struct: holds at most one field (a union) */
    uint16_t fit[2]; /* container: a bit per value kind that fits slot[0], slot[1] */
    const tc_struct_t *st;
    const tc_type_t *slot[2]; /* container: an even, odd value's type (map: key, value) */
    size_t n;                 /* elements declared (map: entries) */
    size_t want;              /* container: values to write (map: 2 n) */
    size_t written;           /* values written (struct: fields) */
    uint8_t *seen;            /* struct: a bit per field index */
    uint8_t seen_small[8];    /* where 'seen' points for up to 64 fields */
} tc_codec_frame_t;

typedef struct tc_codec_writer {
    tc_proto_t *p;
    tc_arena_t *arena;
    tc_err_t *err;
    bool failed;
    bool top_set;   /* a field of the result struct was written */
    int16_t top_id; /* which one */
    uint32_t depth; /* frames above the result struct */
    uint32_t max_depth;
    tc_codec_frame_t frames[TC_PROTO_DEPTH_MAX + 1];
} tc_codec_writer_t;

/*
 * Start writing the struct 'st' (a function's result struct) to 'p': writes
 * its struct header. 'p' == NULL makes a writer that refuses every value
 * (oneway methods). Ownership: borrows everything until finished.
 */
void tc_codec_writer_init(tc_codec_writer_t *w, tc_proto_t *p, const tc_struct_t *st, tc_arena_t *a,
                          tc_err_t *err);

/*
 * Write the scalar 'v' (kind TC_VAL_BOOL ... TC_VAL_UUID; TC_VAL_I32 also
 * fits enums, TC_VAL_BINARY and TC_VAL_STRING fit both) to field 'id' of the
 * current struct, or as the next element of the current container. Returns
 * TC_OK, or TC_ETYPE with 'err' filled (and every later call fails).
 */
int tc_codec_put(tc_codec_writer_t *w, int16_t id, const tc_value_t *v) TC_NODISCARD;

/* tc_codec_put() of an i32, i64, double or binary: the C plugins' most written kinds. */
int tc_codec_put_i32(tc_codec_writer_t *w, int16_t id, int32_t v) TC_NODISCARD;
int tc_codec_put_i64(tc_codec_writer_t *w, int16_t id, int64_t v) TC_NODISCARD;
int tc_codec_put_double(tc_codec_writer_t *w, int16_t id, double v) TC_NODISCARD;
int tc_codec_put_binary(tc_codec_writer_t *w, int16_t id, const void *ptr, size_t len) TC_NODISCARD;

/*
 * Open a struct (kind TC_VAL_STRUCT), list or set (TC_VAL_LIST, n elements)
 * or map (TC_VAL_MAP). Fails (and every later call) once the output's bound
 * has refused a write (tc_buf_set_max()); so does tc_codec_finish().
 */
int tc_codec_begin(tc_codec_writer_t *w, int16_t id, int kind, size_t n) TC_NODISCARD;
/* tc_codec_begin() of one kind, as a C plugin's begin_struct, begin_list and begin_map ask. */
int tc_codec_begin_struct(tc_codec_writer_t *w, int16_t id) TC_NODISCARD;
int tc_codec_begin_list(tc_codec_writer_t *w, int16_t id, size_t n) TC_NODISCARD;
int tc_codec_begin_map(tc_codec_writer_t *w, int16_t id, size_t n) TC_NODISCARD;

/* Close the innermost open value: checks required fields, union arity and counts. */
int tc_codec_end(tc_codec_writer_t *w) TC_NODISCARD;

/* Close the top struct (every value must be closed). TC_OK or the first error. */
int tc_codec_finish(tc_codec_writer_t *w) TC_NODISCARD;

#endif /* TC_SCHEMA_CODEC_H */
