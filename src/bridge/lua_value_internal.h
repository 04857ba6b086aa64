/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Lua value codec's private parts, shared by the files that make it up:
 * lua_value.c (registries, class names, the messages for a value of the
 * wrong type), lua_value_decode.c (Thrift to Lua) and lua_value_encode.c
 * (Lua to Thrift). No other file includes it. The helpers both walks call
 * per value or per level are static inline here, so that each walk keeps
 * them inlined; the cold paths are functions of lua_value.c.
 */
#ifndef TC_BRIDGE_LUA_VALUE_INTERNAL_H
#define TC_BRIDGE_LUA_VALUE_INTERNAL_H

#include "bridge/lua_value.h"

#include "core/err.h"
#include "schema/codec.h"
#include "schema/schema.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

/* Struct types per encode whose names tables stay at hand (a list of items: one). */
#define NAMES_CACHE 4

/* The state of one walk, either way, on its entry point's stack. */
typedef struct ctx {
    lua_State *L;
    tc_proto_t *p;
    tc_err_t *err;
    int mt_idx;    /* stack index of the metatable registry */
    int def_idx;   /* stack index of the defaults registry */
    int names_idx; /* stack index of the field names registry */
    int located;   /* the error message already names its struct and field */
    /* decode: the argument struct of a call (tc_lua_value_decode_args_k()), or NULL */
    const tc_struct_t *args;
    bool binary;   /* encode: 'p' writes binary, whose writers are called inline (put_*()) */
    int room;      /* stack slots up to this index are checked (lua_checkstack()) */
    uint64_t left; /* decode: bytes of Lua memory the values may still take (charge()) */
    /* decode: the whole budget (lua_value.h); the input size it is from (SIZE_MAX: the limit) */
    uint64_t budget;
    size_t input;
    /* encode: the names tables of the first structs met, in stack slots from 'cache' (0: none) */
    int cache;
    int ncached;
    const tc_struct_t *cached[NAMES_CACHE];
    /* encode: the field names of 'xst' one per stack slot from 'xbase' (a list of them) */
    const tc_struct_t *xst;
    int xbase;
} ctx_t;

/*
 * One level of nesting (a struct or container) entered with the stack's top
 * at 'top'. A level pushes at most LEVEL_SLOTS values before the next one
 * is entered (KEEP values kept, a names table, a protected lookup's
 * three); the stack is grown for several levels at a time, as
 * lua_checkstack() costs more than the comparison that skips it.
 */
#define KEEP        8
#define LEVEL_SLOTS (KEEP + 8)

/* What one decode's values may take in Lua memory: 'factor' per byte of 'n' (lua_value.h). */
static inline uint64_t
budget(uint64_t n, uint64_t factor)
{
    if (n > (UINT64_MAX - TC_LUA_VALUE_DECODE_FLOOR) / factor) {
        return UINT64_MAX;
    }
    return n * factor + TC_LUA_VALUE_DECODE_FLOOR;
}

static inline void
ctx_init(ctx_t *c, lua_State *L, tc_proto_t *p, tc_err_t *err, const tc_lua_codec_t *k)
{
    c->L = L;
    c->p = p;
    c->err = err;
    c->located = 0;
    c->args = NULL;
    c->binary = p->ops == &tc_proto_binary;
    c->room = 0;
    c->budget = budget(p->max_string, TC_LUA_VALUE_DECODE_FACTOR);
    c->left = c->budget;
    c->input = SIZE_MAX;
    c->cache = 0;
    c->ncached = 0;
    c->xst = NULL;
    c->xbase = 0;
    c->mt_idx = k->mts;
    c->def_idx = k->defs;
    c->names_idx = k->names;
}

/* Without the caller's slots: the registries pushed for this call, then removed. */
static inline void
ctx_open(ctx_t *c, lua_State *L, tc_proto_t *p, tc_err_t *err, tc_lua_codec_t *k)
{
    tc_lua_value_codec_push(L, k);
    ctx_init(c, L, p, err, k);
}

/*
 * Push the field names of 'st' (a sequence in declaration order) and return
 * its stack index, or 0 with nothing pushed for a struct that has none
 * registered: the caller then pushes each name with lua_pushlstring().
 */
static inline int
push_names(ctx_t *c, const tc_struct_t *st)
{
    if (lua_rawgetp(c->L, c->names_idx, st) == LUA_TTABLE) {
        return lua_gettop(c->L);
    }
    lua_pop(c->L, 1);
    return 0;
}

/* Push the name of field 'f' of the struct whose names are at 'names' (0: none). */
static inline void
push_name(lua_State *L, int names, const tc_struct_t *st, const tc_field_t *f)
{
    if (names != 0) {
        lua_rawgeti(L, names, (lua_Integer)(f - st->fields) + 1);
    } else {
        lua_pushlstring(L, f->name, f->name_len);
    }
}

/*
 * Prefix the error with the innermost struct and field it happened in, as
 * the C codec names it (tc_codec_err_locate()): an argument of a call by
 * itself, the method's struct being the call's, which the caller names.
 */
static inline void
locate(ctx_t *c, const tc_struct_t *st, const tc_field_t *f)
{
    if (c->located || c->err == NULL) {
        return;
    }
    c->located = 1;
    tc_codec_err_locate(c->err, st, f, c->args);
}

/* locate() for field 'id' of 'st', sent as 'sent', being skipped (tc_codec_err_locate_skipped()).
 */
static inline void
skipped(ctx_t *c, const tc_struct_t *st, int16_t id, uint8_t sent)
{
    if (c->located || c->err == NULL) {
        return;
    }
    c->located = 1;
    tc_codec_err_locate_skipped(c->err, st, id, sent, c->args);
}

/* Enter a level (LEVEL_SLOTS above): TC_ELIMIT deeper than p->max_depth. */
static inline int
enter(ctx_t *c, int top)
{
    if (++c->p->depth > c->p->max_depth) {
        return tc_err_set(c->err, TC_ELIMIT, "nesting deeper than %u", c->p->max_depth);
    }
    if (TC_UNLIKELY(top + LEVEL_SLOTS > c->room)) {
        luaL_checkstack(c->L, 2 * LEVEL_SLOTS, "thriftcorn: nesting");
        c->room = top + 2 * LEVEL_SLOTS;
    }
    return TC_OK;
}

/* ---- lua_value.c: class names and type errors (cold paths, out of line) ---- */

/*
 * The table at 'idx', given for a value of 'st', has a metatable that is not
 * the struct's: TC_ETYPE when it is a struct class, not a value of it
 * (tc_lua_value_class_name()), else TC_OK.
 */
int tc_lua_value_check_class(ctx_t *c, int idx, const tc_struct_t *st);

/* TC_ETYPE: the value at 'idx' is not one of 't' ("expected a string, got integer"). */
int tc_lua_value_type_error(ctx_t *c, int idx, const tc_type_t *t);

/*
 * TC_ETYPE: the value at 'idx' (of Lua type 'lt') is not an integer of 't'
 * in its range; 'v' is its value when 'isnum' (lua_tointegerx()).
 */
int tc_lua_value_integer_error(ctx_t *c, int idx, int lt, const tc_type_t *t, int isnum,
                               lua_Integer v);

#endif /* TC_BRIDGE_LUA_VALUE_INTERNAL_H */
