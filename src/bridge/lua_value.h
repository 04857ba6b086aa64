/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thrift values to and from Lua values, walking the compiled schema: the
 * schema-driven codec of the Lua side. Value mapping (DESIGN.md): integers
 * for i8..i64 and enums, floats for double, booleans, strings for string and
 * binary, sequences for lists, {v = true} for sets, tables for maps, and
 * tables keyed by field name (with the struct's metatable) for structs.
 *
 * Both directions may raise Lua errors only for memory exhaustion; call them
 * inside a protected call.
 */
#ifndef TC_BRIDGE_LUA_VALUE_H
#define TC_BRIDGE_LUA_VALUE_H

#include "core/err.h"
#include "protocol/protocol.h"
#include "schema/codec.h"
#include "schema/schema.h"

#include <lua.h>

/*
 * Registry tables (weak values) that map a struct descriptor to what the Lua
 * module made for it: the instance metatable, the defaults of its fields as
 * {[field index] = value}, and its field names as a sequence of Lua strings
 * in declaration order (interned once, not on every field of every call),
 * with the instance metatable again at [0] (one lookup per decoded struct).
 * Set by bridge/lua_schema.c; the module's own tables keep them alive.
 */
extern const char tc_lua_value_mt_key;
extern const char tc_lua_value_defaults_key;
extern const char tc_lua_value_names_key;

/*
 * The stack slots of the three registries above. A caller that codes many
 * values in one state (a handler thread) pushes them once with
 * tc_lua_value_codec_push(), keeps them where they are, and uses the _k
 * functions, which then look nothing up per call. The others push and
 * remove them on every call.
 */
typedef struct tc_lua_codec {
    int mts;
    int defs;
    int names;
} tc_lua_codec_t;

/* Push the three registries and fill 'k' with their (absolute) stack indices. */
void tc_lua_value_codec_push(lua_State *L, tc_lua_codec_t *k);

/*
 * The decoders count what the values they make cost in Lua memory (tables
 * with the slots they are made with, strings, copies of defaults) against
 * TC_LUA_VALUE_DECODE_FACTOR times p->max_string (max_message_size in the
 * server; TC_LUA_VALUE_DECODE_INPUT_FACTOR times the input's size for
 * tc_lua_value_decode_input()) plus TC_LUA_VALUE_DECODE_FLOOR, and stop
 * with TC_ELIMIT before a
 * table or string would take them past it: one message decodes into at
 * most that much, whatever its shape. The floor keeps a small size limit
 * from refusing a small message of a struct with many fields.
 */
/* the budget of a C plugin's arguments (schema/codec.h): one figure for both */
#define TC_LUA_VALUE_DECODE_FACTOR TC_CODEC_DECODE_FACTOR
#define TC_LUA_VALUE_DECODE_FLOOR  TC_CODEC_DECODE_FLOOR
/*
 * Per byte of the input itself: ordinary values can cost hundreds of times
 * their bytes (a struct of 32 optional fields, none sent, is one byte and
 * a table made with 32 slots, some 850 bytes), so this is well above that;
 * what it stops is a few bytes that ask for gigabytes (empty structs each
 * given a copy of a large default).
 */
#define TC_LUA_VALUE_DECODE_INPUT_FACTOR 1024

/*
 * Read one 'st' struct from 'p' and push it as a Lua table. Unknown field
 * ids and fields whose wire type differs from the IDL are skipped; absent
 * fields with a default get a copy of the default; a missing required field
 * is TC_EMISSING; values over the budget above are TC_ELIMIT. On error
 * nothing is pushed and 'err' says what and where.
 */
int tc_lua_value_decode(lua_State *L, tc_proto_t *p, const tc_struct_t *st,
                        tc_err_t *err) TC_NODISCARD;

/*
 * tc_lua_value_decode() for a caller whose p->max_string bounds nothing (a
 * decode called from Lua, whose strings and counts may be 2^31 - 1 long):
 * the budget is TC_LUA_VALUE_DECODE_INPUT_FACTOR times the bytes of input left
 * when it is called (p->rend - p->rp) plus TC_LUA_VALUE_DECODE_FLOOR, so
 * that a few bytes cannot ask for gigabytes (empty structs each given a
 * copy of a large default). The size limits are p's, as before.
 */
int tc_lua_value_decode_input(lua_State *L, tc_proto_t *p, const tc_struct_t *st,
                              tc_err_t *err) TC_NODISCARD;

/*
 * Read an argument struct and push its fields in declaration order, one
 * stack slot each (nil, or the default, when absent): the arguments of a
 * handler call without a table in between. Errors as tc_lua_value_decode(),
 * but one in an argument itself names it as tc_codec_decode_args() does
 * ("logid (field 1): message truncated").
 */
/*
 * When the value at 'idx' is a struct class (a table thriftcorn.load()
 * compiled, its descriptor under "_c"), not a value of it: its full name,
 * read raw (its metatable's fields are user code), pushed on the stack
 * ("?" when it has none). NULL otherwise, with nothing pushed.
 */
const char *tc_lua_value_class_name(lua_State *L, int idx);

int tc_lua_value_decode_args(lua_State *L, tc_proto_t *p, const tc_struct_t *st,
                             tc_err_t *err) TC_NODISCARD;
/*
 * The same with the registries at 'k', setting *cost (unless NULL) to the
 * Lua memory its values were charged (the budget above), those made
 * before an error included, unless it raised.
 */
int tc_lua_value_decode_args_k(lua_State *L, const tc_lua_codec_t *k, tc_proto_t *p,
                               const tc_struct_t *st, uint64_t *cost, tc_err_t *err) TC_NODISCARD;

/*
 * Write the Lua value at 'idx' as an 'st' struct to 'p'. A missing required
 * field (TC_EMISSING) or a value of the wrong Lua type (TC_ETYPE) is an
 * error naming the struct and the field; p->out then holds partial bytes
 * that the caller discards. When p->out's bound refuses a write
 * (tc_buf_set_max()), the walk stops at the next struct or within 8
 * elements of a list, with TC_ELIMIT (a walk that ends sooner returns as
 * usual): either way the caller, who set the bound, drops the bytes.
 */
int tc_lua_value_encode(lua_State *L, int idx, tc_proto_t *p, const tc_struct_t *st,
                        tc_err_t *err) TC_NODISCARD;

/*
 * Write one field of a struct: its header and the Lua value at 'idx' (a
 * result's "success" or one of its exceptions). Errors as tc_lua_value_encode().
 */
int tc_lua_value_encode_field_k(lua_State *L, const tc_lua_codec_t *k, int idx, tc_proto_t *p,
                                const tc_struct_t *st, const tc_field_t *f,
                                tc_err_t *err) TC_NODISCARD;

/* Push the registry tables used by the codec, creating them on first use. */
void tc_lua_value_registry(lua_State *L, const char *key);

/*
 * Push the table of the Lua registry at 'key' (a static's address), made
 * on first use with weak keys or values as '__mode' says ("k", "v").
 */
void tc_lua_weak_registry(lua_State *L, const char *key, const char *mode);

#endif /* TC_BRIDGE_LUA_VALUE_H */
