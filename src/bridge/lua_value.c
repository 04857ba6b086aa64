/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema-driven codec between Thrift bytes and Lua values. It walks the
 * compiled descriptors of schema/schema.h and calls the protocol vtable, so
 * the same code serves binary and compact; the encoder writes binary's most
 * frequent values with its inline writers instead (put_*()).
 */
#include "bridge/lua_value.h"

#include "core/buf.h"
#include "protocol/binary.h"
#include "schema/codec.h"
#include "schema/uuid.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char tc_lua_value_mt_key = 'm';
const char tc_lua_value_defaults_key = 'd';
const char tc_lua_value_names_key = 'n';

/* Struct types per encode whose names tables stay at hand (a list of items: one). */
#define NAMES_CACHE 4

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

void
tc_lua_weak_registry(lua_State *L, const char *key, const char *mode)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) {
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

void
tc_lua_value_registry(lua_State *L, const char *key)
{
    /* keys are light userdata (descriptors); the values are owned by the module's tables */
    tc_lua_weak_registry(L, key, "v");
}

void
tc_lua_value_codec_push(lua_State *L, tc_lua_codec_t *k)
{
    tc_lua_value_registry(L, &tc_lua_value_mt_key);
    k->mts = lua_gettop(L);
    tc_lua_value_registry(L, &tc_lua_value_defaults_key);
    k->defs = lua_gettop(L);
    tc_lua_value_registry(L, &tc_lua_value_names_key);
    k->names = lua_gettop(L);
}

/* What one decode's values may take in Lua memory: 'factor' per byte of 'n' (lua_value.h). */
static uint64_t
budget(uint64_t n, uint64_t factor)
{
    if (n > (UINT64_MAX - TC_LUA_VALUE_DECODE_FLOOR) / factor) {
        return UINT64_MAX;
    }
    return n * factor + TC_LUA_VALUE_DECODE_FLOOR;
}

static void
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
static void
ctx_open(ctx_t *c, lua_State *L, tc_proto_t *p, tc_err_t *err, tc_lua_codec_t *k)
{
    tc_lua_value_codec_push(L, k);
    ctx_init(c, L, p, err, k);
}

static void
ctx_close(ctx_t *c)
{
    lua_remove(c->L, c->names_idx);
    lua_remove(c->L, c->def_idx);
    lua_remove(c->L, c->mt_idx);
}

/*
 * Push the field names of 'st' (a sequence in declaration order) and return
 * its stack index, or 0 with nothing pushed for a struct that has none
 * registered: the caller then pushes each name with lua_pushlstring().
 */
static int
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
static void
locate(ctx_t *c, const tc_struct_t *st, const tc_field_t *f)
{
    if (c->located || c->err == NULL) {
        return;
    }
    c->located = 1;
    tc_codec_err_locate(c->err, st, f, c->args);
}

static int
read_error(ctx_t *c, int rc)
{
    return tc_proto_read_error(c->p, rc, c->err);
}

/*
 * One level of nesting (a struct or container) entered with the stack's top
 * at 'top'. A level pushes at most LEVEL_SLOTS values before the next one
 * is entered (KEEP values kept, a names table, a protected lookup's
 * three); the stack is grown for several levels at a time, as
 * lua_checkstack() costs more than the comparison that skips it.
 */
#define KEEP        8
#define LEVEL_SLOTS (KEEP + 8)

static int
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

/* ---- decoding ---- */

/*
 * What decoded values cost in Lua memory (Lua 5.4, 64-bit), as the state's
 * allocator counts it (bridge/lua_alloc.h: blocks up to 256 bytes in 16-byte
 * classes): a table's header (56 bytes), an array slot (a TValue), a hash
 * slot (a Node; a hash part has a power of two of them), and what a new
 * string takes beyond its bytes (header, NUL, its class's rounding, its
 * slot in the string table, which doubles as it fills).
 */
#define COST_TABLE  64
#define COST_SLOT   16
#define COST_NODE   24
#define COST_STRING 56

/* The hash part of a table made for 'n' entries: the next power of two of Nodes. */
static inline uint64_t
hash_cost(uint32_t n)
{
    if (n <= 1) {
        return n == 0 ? 0 : 32; /* one Node, in its 32-byte class */
    }
    return (uint64_t)COST_NODE << (32 - __builtin_clz(n - 1));
}

static int
over_budget(ctx_t *c)
{
    if (c->input != SIZE_MAX) {
        return tc_err_set(c->err, TC_ELIMIT,
                          "decoded values over %llu bytes of Lua memory (%d times the %zu bytes "
                          "of input, plus %u MiB)",
                          (unsigned long long)c->budget, TC_LUA_VALUE_DECODE_INPUT_FACTOR, c->input,
                          TC_LUA_VALUE_DECODE_FLOOR >> 20);
    }
    return tc_err_set(c->err, TC_ELIMIT,
                      "decoded values over %llu bytes of Lua memory (%d times the size limit, "
                      "plus %u MiB)",
                      (unsigned long long)c->budget, TC_LUA_VALUE_DECODE_FACTOR,
                      TC_LUA_VALUE_DECODE_FLOOR >> 20);
}

/* Take 'cost' bytes from what the values may still take; TC_ELIMIT past it. */
static inline int
charge(ctx_t *c, uint64_t cost)
{
    if (TC_UNLIKELY(cost > c->left)) {
        return over_budget(c);
    }
    c->left -= cost;
    return TC_OK;
}

static int decode_struct(ctx_t *c, const tc_struct_t *st);
static inline int decode_value(ctx_t *c, const tc_type_t *t);

static void
push_uuid(lua_State *L, const uint8_t u[16])
{
    char s[TC_UUID_TEXT_LEN];
    tc_uuid_format(u, s);
    lua_pushlstring(L, s, sizeof(s));
}

/*
 * A key that Lua cannot store (NaN) would raise inside lua_rawset. Only a
 * double decodes to one: other keys ('t') are not looked at.
 */
static int
check_key(ctx_t *c, int idx, const tc_type_t *t)
{
    if (t->kind == TC_KIND_DOUBLE && !lua_isinteger(c->L, idx)) {
        lua_Number n = lua_tonumber(c->L, idx);
        if (isnan(n)) {
            return tc_err_set(c->err, TC_EPROTO, "NaN cannot be a set element or map key");
        }
    }
    return TC_OK;
}

static int
decode_list(ctx_t *c, const tc_type_t *t, int is_set)
{
    tc_proto_t *p = c->p;
    uint8_t et;
    uint32_t n;
    int rc = p->ops->read_list_begin(p, &et, &n);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    if (n > 0 && et != t->elem->ttype) {
        return tc_err_set(c->err, TC_EPROTO, "%s of %s where the IDL has %s",
                          is_set ? "set" : "list", tc_proto_type_name(et),
                          tc_proto_type_name(t->elem->ttype));
    }
    if ((rc = enter(c, lua_gettop(c->L))) != TC_OK ||
        (rc = charge(c, COST_TABLE + (is_set ? hash_cost(n) : (uint64_t)n * COST_SLOT))) != TC_OK) {
        return rc;
    }
    /*
     * n is bounded by the bytes left in the message (protocol checks it).
     * A set is made (and charged) for n entries even when some are
     * duplicates: one left to grow to its distinct keys instead decoded a
     * set of 100,000 strings half as fast.
     */
    lua_createtable(c->L, is_set ? 0 : (int)n, is_set ? (int)n : 0);
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = decode_value(c, t->elem)) != TC_OK) {
            lua_pop(c->L, 1);
            return rc;
        }
        if (is_set) {
            if ((rc = check_key(c, -1, t->elem)) != TC_OK) {
                lua_pop(c->L, 2);
                return rc;
            }
            lua_pushboolean(c->L, 1);
            lua_rawset(c->L, -3);
        } else {
            lua_rawseti(c->L, -2, (lua_Integer)i + 1);
        }
    }
    p->depth--;
    return TC_OK;
}

static int
decode_map(ctx_t *c, const tc_type_t *t)
{
    tc_proto_t *p = c->p;
    uint8_t kt;
    uint8_t vt;
    uint32_t n;
    int rc = p->ops->read_map_begin(p, &kt, &vt, &n);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    if (n > 0 && (kt != t->elem->ttype || vt != t->value->ttype)) {
        return tc_err_set(c->err, TC_EPROTO, "map<%s,%s> where the IDL has map<%s,%s>",
                          tc_proto_type_name(kt), tc_proto_type_name(vt),
                          tc_proto_type_name(t->elem->ttype), tc_proto_type_name(t->value->ttype));
    }
    if ((rc = enter(c, lua_gettop(c->L))) != TC_OK ||
        (rc = charge(c, COST_TABLE + hash_cost(n))) != TC_OK) {
        return rc;
    }
    lua_createtable(c->L, 0, (int)n);
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = decode_value(c, t->elem)) != TC_OK) {
            lua_pop(c->L, 1);
            return rc;
        }
        if ((rc = check_key(c, -1, t->elem)) != TC_OK ||
            (rc = decode_value(c, t->value)) != TC_OK) {
            lua_pop(c->L, 2);
            return rc;
        }
        lua_rawset(c->L, -3);
    }
    p->depth--;
    return TC_OK;
}

/* One function per kind, through a table, as the encoders below. */
static int
decode_bool(ctx_t *c, const tc_type_t *t)
{
    (void)t;
    bool v;
    int rc = c->p->ops->read_bool(c->p, &v);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    lua_pushboolean(c->L, v);
    return TC_OK;
}

static int
decode_byte(ctx_t *c, const tc_type_t *t)
{
    (void)t;
    int8_t v;
    int rc = c->p->ops->read_byte(c->p, &v);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    lua_pushinteger(c->L, v);
    return TC_OK;
}

static int
decode_i16(ctx_t *c, const tc_type_t *t)
{
    (void)t;
    int16_t v;
    int rc = c->p->ops->read_i16(c->p, &v);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    lua_pushinteger(c->L, v);
    return TC_OK;
}

static int
decode_i32(ctx_t *c, const tc_type_t *t)
{
    (void)t;
    int32_t v;
    int rc = c->p->ops->read_i32(c->p, &v);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    lua_pushinteger(c->L, v);
    return TC_OK;
}

static int
decode_i64(ctx_t *c, const tc_type_t *t)
{
    (void)t;
    int64_t v;
    int rc = c->p->ops->read_i64(c->p, &v);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    lua_pushinteger(c->L, v);
    return TC_OK;
}

static int
decode_double(ctx_t *c, const tc_type_t *t)
{
    (void)t;
    double v;
    int rc = c->p->ops->read_double(c->p, &v);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    lua_pushnumber(c->L, v);
    return TC_OK;
}

static int
decode_string(ctx_t *c, const tc_type_t *t)
{
    (void)t;
    const uint8_t *s;
    uint32_t n;
    int rc = c->p->ops->read_binary(c->p, &s, &n);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    /* the empty string is one for the whole state */
    if ((rc = charge(c, (uint64_t)n + (n != 0 ? COST_STRING : 0))) != TC_OK) {
        return rc;
    }
    lua_pushlstring(c->L, (const char *)s, n);
    return TC_OK;
}

static int
decode_uuid(ctx_t *c, const tc_type_t *t)
{
    (void)t;
    uint8_t u[16];
    int rc = c->p->ops->read_uuid(c->p, u);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    if ((rc = charge(c, TC_UUID_TEXT_LEN + COST_STRING)) != TC_OK) {
        return rc;
    }
    push_uuid(c->L, u);
    return TC_OK;
}

static int
decode_list_value(ctx_t *c, const tc_type_t *t)
{
    return decode_list(c, t, 0);
}

static int
decode_set_value(ctx_t *c, const tc_type_t *t)
{
    return decode_list(c, t, 1);
}

static int
decode_struct_value(ctx_t *c, const tc_type_t *t)
{
    return decode_struct(c, t->st);
}

static int
decode_unknown(ctx_t *c, const tc_type_t *t)
{
    return tc_err_set(c->err, TC_EINVAL, "type kind %d is not decodable", t->kind);
}

typedef int (*decoder_t)(ctx_t *c, const tc_type_t *t);

static const decoder_t decoders[TC_KIND_STRUCT + 1] = {
    [0] = decode_unknown,
    [TC_KIND_BOOL] = decode_bool,
    [TC_KIND_BYTE] = decode_byte,
    [TC_KIND_I16] = decode_i16,
    [TC_KIND_I32] = decode_i32,
    [TC_KIND_I64] = decode_i64,
    [TC_KIND_DOUBLE] = decode_double,
    [TC_KIND_STRING] = decode_string,
    [TC_KIND_BINARY] = decode_string,
    [TC_KIND_UUID] = decode_uuid,
    [TC_KIND_ENUM] = decode_i32,
    [TC_KIND_LIST] = decode_list_value,
    [TC_KIND_SET] = decode_set_value,
    [TC_KIND_MAP] = decode_map,
    [TC_KIND_STRUCT] = decode_struct_value,
};

static inline int
decode_value(ctx_t *c, const tc_type_t *t)
{
    decoder_t fn = TC_LIKELY(t->kind <= TC_KIND_STRUCT) ? decoders[t->kind] : decode_unknown;
    return fn(c, t);
}

/* The field of 'st' named by the key at 'idx' (a string), or NULL. */
static const tc_field_t *
field_by_name(lua_State *L, const tc_struct_t *st, int idx)
{
    size_t len;
    if (lua_type(L, idx) != LUA_TSTRING) {
        return NULL;
    }
    const char *name = lua_tolstring(L, idx, &len);
    for (uint16_t i = 0; i < st->nfields; i++) {
        if (st->fields[i].name_len == len && memcmp(st->fields[i].name, name, len) == 0) {
            return &st->fields[i];
        }
    }
    return NULL;
}

/*
 * Push a copy of the default value at 'idx' of type 't' (NULL: unknown), so
 * that changing one decoded value never changes another. Structs inside get
 * their struct's metatable, as when they come from the wire: the IDL's
 * constants are plain tables. Returns what the copy costs (charge()): a
 * table, and per entry two array slots (a list's) or two Nodes (a part
 * grown to a power of two holds at most twice its entries), or at least
 * more than c->left when it stopped short of the whole copy.
 */
static uint64_t
push_default(ctx_t *c, int idx, const tc_type_t *t, int depth)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE || depth > TC_PROTO_DEPTH_MAX) {
        lua_pushvalue(L, idx);
        return 0;
    }
    luaL_checkstack(L, 6, "thriftcorn: default value");
    lua_newtable(L);
    uint64_t cost = COST_TABLE;
    uint64_t per = t != NULL && t->kind == TC_KIND_LIST ? 2 * COST_SLOT : 2 * COST_NODE;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const tc_type_t *kt = NULL;
        const tc_type_t *vt = NULL;
        if (t != NULL && (t->kind == TC_KIND_SET || t->kind == TC_KIND_MAP)) {
            kt = t->elem;
            vt = t->value;
        } else if (t != NULL && t->kind == TC_KIND_LIST) {
            vt = t->elem;
        } else if (t != NULL && t->kind == TC_KIND_STRUCT) {
            const tc_field_t *f = field_by_name(L, t->st, -2);
            vt = f != NULL ? &f->type : NULL;
        }
        cost += per + push_default(c, -2, kt, depth + 1);
        cost += push_default(c, -2, vt, depth + 1);
        lua_rawset(L, -5);
        lua_pop(L, 1);
        if (TC_UNLIKELY(cost > c->left)) {
            /*
             * the copy stops where it outgrows what the decode may still
             * take (charge() refuses it): a default that handler code made
             * to hold one table many times over, or itself, would
             * otherwise be copied 2^256 times over
             */
            lua_pop(L, 1);
            break;
        }
    }
    if (t != NULL && t->kind == TC_KIND_STRUCT) {
        if (lua_rawgetp(L, c->mt_idx, t->st) == LUA_TTABLE) {
            lua_setmetatable(L, -2);
            return cost;
        }
        lua_pop(L, 1);
    }
    if (lua_getmetatable(L, idx)) {
        lua_setmetatable(L, -2);
    }
    return cost;
}

/* Required fields present, defaults filled in: the table is at 'tbl'. */
static int
finish_struct(ctx_t *c, const tc_struct_t *st, int tbl)
{
    lua_State *L = c->L;
    int defs = 0;
    /* a union holds one field: a default applies only when none was read (as in its constructor) */
    bool use_defaults = true;
    if (st->kind == TC_STRUCT_UNION) {
        lua_pushnil(L);
        if (lua_next(L, tbl) != 0) {
            lua_pop(L, 2);
            use_defaults = false;
        }
    }
    for (uint16_t i = 0; i < st->nfields; i++) {
        const tc_field_t *f = &st->fields[i];
        if (f->req != TC_REQ_REQUIRED && (!f->has_default || !use_defaults)) {
            continue;
        }
        lua_pushlstring(L, f->name, f->name_len);
        if (lua_rawget(L, tbl) != LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        if (f->req == TC_REQ_REQUIRED) {
            c->located = 1;
            return tc_codec_err_missing(c->err, st, f, c->args);
        }
        if (defs == 0) {
            lua_rawgetp(L, c->def_idx, st);
            defs = lua_gettop(L);
        }
        if (lua_type(L, defs) == LUA_TTABLE && lua_rawgeti(L, defs, i + 1) != LUA_TNIL) {
            lua_pushlstring(L, f->name, f->name_len);
            /* charged once made: a default's size is the IDL's, not the client's */
            int rc = charge(c, push_default(c, -2, &f->type, 0));
            if (rc != TC_OK) {
                locate(c, st, f);
                return rc;
            }
            lua_rawset(L, tbl);
        }
        if (lua_type(L, defs) == LUA_TTABLE) {
            lua_pop(L, 1);
        }
    }
    if (defs != 0) {
        lua_pop(L, 1);
    }
    return TC_OK;
}

static int
decode_struct(ctx_t *c, const tc_struct_t *st)
{
    lua_State *L = c->L;
    tc_proto_t *p = c->p;
    int rc = enter(c, lua_gettop(L));
    if (rc != TC_OK || (rc = charge(c, COST_TABLE + hash_cost(st->nfields))) != TC_OK) {
        return rc;
    }
    if ((rc = p->ops->read_struct_begin(p)) != TC_OK) {
        return read_error(c, rc);
    }
    lua_createtable(L, 0, st->nfields);
    int tbl = lua_gettop(L);
    int names = push_names(c, st);
    for (;;) {
        uint8_t type;
        int16_t id;
        if ((rc = p->ops->read_field_begin(p, &type, &id)) != TC_OK) {
            rc = read_error(c, rc);
            goto fail;
        }
        if (type == TC_TTYPE_STOP) {
            break;
        }
        const tc_field_t *f = tc_schema_field_by_id(st, id);
        if (f == NULL || f->type.ttype != type) {
            /* unknown id, or a wire type the IDL does not have: skip it (Apache does) */
            if ((rc = tc_proto_skip(p, type)) != TC_OK) {
                rc = read_error(c, rc);
                goto fail;
            }
            continue;
        }
        push_name(L, names, st, f);
        if ((rc = decode_value(c, &f->type)) != TC_OK) {
            locate(c, st, f);
            goto fail;
        }
        lua_rawset(L, tbl);
    }
    if ((rc = p->ops->read_struct_end(p)) != TC_OK) {
        rc = read_error(c, rc);
        goto fail;
    }
    if ((st->has_required || st->has_defaults) && (rc = finish_struct(c, st, tbl)) != TC_OK) {
        goto fail;
    }
    /* the metatable is at [0] of the names table: one registry lookup per struct, not two */
    if ((names != 0 ? lua_rawgeti(L, names, 0) : lua_rawgetp(L, c->mt_idx, st)) == LUA_TTABLE) {
        lua_setmetatable(L, tbl);
    }
    lua_settop(L, tbl);
    p->depth--;
    return TC_OK;
fail:
    lua_settop(L, tbl - 1);
    return rc;
}

/* One struct as a table; 'by_input': the budget comes from the input's size, not the limit. */
static int
decode_one(lua_State *L, tc_proto_t *p, const tc_struct_t *st, bool by_input, tc_err_t *err)
{
    ctx_t c;
    tc_lua_codec_t k;
    int top = lua_gettop(L);
    ctx_open(&c, L, p, err, &k);
    if (by_input) {
        c.input = p->rp != NULL ? (size_t)(p->rend - p->rp) : 0;
        c.budget = budget(c.input, TC_LUA_VALUE_DECODE_INPUT_FACTOR);
        c.left = c.budget;
    }
    uint32_t depth = p->depth;
    int rc = decode_struct(&c, st);
    p->depth = depth;
    if (rc != TC_OK) {
        lua_settop(L, top);
        return rc;
    }
    ctx_close(&c);
    return TC_OK;
}

int
tc_lua_value_decode(lua_State *L, tc_proto_t *p, const tc_struct_t *st, tc_err_t *err)
{
    return decode_one(L, p, st, false, err);
}

int
tc_lua_value_decode_input(lua_State *L, tc_proto_t *p, const tc_struct_t *st, tc_err_t *err)
{
    return decode_one(L, p, st, true, err);
}

/*
 * The fields of an argument struct straight onto the stack, in declaration
 * order: no table per call. Absent fields are nil, or their default.
 */
static int
decode_args(ctx_t *c, const tc_struct_t *st, int base)
{
    lua_State *L = c->L;
    tc_proto_t *p = c->p;
    int rc = enter(c, base + st->nfields - 1);
    if (rc != TC_OK || (rc = p->ops->read_struct_begin(p)) != TC_OK) {
        return rc == TC_OK ? TC_OK : read_error(c, rc);
    }
    for (;;) {
        uint8_t type;
        int16_t id;
        if ((rc = p->ops->read_field_begin(p, &type, &id)) != TC_OK) {
            return read_error(c, rc);
        }
        if (type == TC_TTYPE_STOP) {
            break;
        }
        const tc_field_t *f = tc_schema_field_by_id(st, id);
        if (f == NULL || f->type.ttype != type) {
            if ((rc = tc_proto_skip(p, type)) != TC_OK) {
                return read_error(c, rc);
            }
            continue;
        }
        if ((rc = decode_value(c, &f->type)) != TC_OK) {
            locate(c, st, f);
            return rc;
        }
        lua_replace(L, base + (int)(f - st->fields));
    }
    if ((rc = p->ops->read_struct_end(p)) != TC_OK) {
        return read_error(c, rc);
    }
    for (uint16_t i = 0; (st->has_required || st->has_defaults) && i < st->nfields; i++) {
        const tc_field_t *f = &st->fields[i];
        if (!lua_isnil(L, base + i)) {
            continue;
        }
        if (f->req == TC_REQ_REQUIRED) {
            c->located = 1;
            return tc_codec_err_missing(c->err, st, f, c->args);
        }
        if (f->has_default) {
            int top = lua_gettop(L);
            if (lua_rawgetp(L, c->def_idx, st) == LUA_TTABLE &&
                lua_rawgeti(L, -1, i + 1) != LUA_TNIL) {
                if ((rc = charge(c, push_default(c, -1, &f->type, 0))) != TC_OK) {
                    locate(c, st, f);
                    return rc;
                }
                lua_replace(L, base + i);
            }
            lua_settop(L, top);
        }
    }
    p->depth--;
    return TC_OK;
}

int
tc_lua_value_decode_args_k(lua_State *L, const tc_lua_codec_t *k, tc_proto_t *p,
                           const tc_struct_t *st, uint64_t *cost, tc_err_t *err)
{
    ctx_t c;
    int top = lua_gettop(L);
    ctx_init(&c, L, p, err, k);
    c.args = st;
    luaL_checkstack(L, st->nfields + LEVEL_SLOTS, "thriftcorn: arguments");
    c.room = top + st->nfields + LEVEL_SLOTS; /* the arguments' level: enter() checks no more */
    int base = top + 1;
    for (uint16_t i = 0; i < st->nfields; i++) {
        lua_pushnil(L);
    }
    uint32_t depth = p->depth;
    int rc = decode_args(&c, st, base);
    p->depth = depth;
    if (cost != NULL) {
        *cost = c.budget - c.left;
    }
    lua_settop(L, rc == TC_OK ? base + st->nfields - 1 : top);
    return rc;
}

int
tc_lua_value_decode_args(lua_State *L, tc_proto_t *p, const tc_struct_t *st, tc_err_t *err)
{
    tc_lua_codec_t k;
    int top = lua_gettop(L);
    tc_lua_value_codec_push(L, &k);
    int rc = tc_lua_value_decode_args_k(L, &k, p, st, NULL, err);
    if (rc != TC_OK) {
        lua_settop(L, top);
        return rc;
    }
    /* the registries sit below the arguments */
    lua_remove(L, k.names);
    lua_remove(L, k.defs);
    lua_remove(L, k.mts);
    return TC_OK;
}

/* ---- encoding ---- */

/*
 * The encoders take the Lua type of the value at 'idx' ('lt') from the call
 * that pushed it (lua_rawget() and lua_rawgeti() return it), so that no
 * value is asked its type twice. On success they leave the stack as they
 * found it; on error they may leave values above it, which the entry
 * points remove.
 */
static int encode_struct(ctx_t *c, int idx, const tc_struct_t *st);
static inline int encode_value(ctx_t *c, int idx, int lt, const tc_type_t *t);
static int expand_names(ctx_t *c, const tc_struct_t *st, int top);

/*
 * The protocol's writes of the values the encoder writes most: inline for
 * binary (protocol/binary.h), through the vtable for any other format.
 * Binary's struct begin and end write nothing.
 */
static inline void
put_struct_begin(ctx_t *c)
{
    if (!c->binary) {
        c->p->ops->write_struct_begin(c->p);
    }
}

static inline void
put_struct_end(ctx_t *c)
{
    if (!c->binary) {
        c->p->ops->write_struct_end(c->p);
    }
}

static inline void
put_field_begin(ctx_t *c, uint8_t type, int16_t id)
{
    if (TC_LIKELY(c->binary)) {
        tc_proto_binary_write_field_begin(c->p->out, type, id);
    } else {
        c->p->ops->write_field_begin(c->p, type, id);
    }
}

static inline void
put_field_stop(ctx_t *c)
{
    if (TC_LIKELY(c->binary)) {
        tc_proto_binary_write_field_stop(c->p->out);
    } else {
        c->p->ops->write_field_stop(c->p);
    }
}

static inline void
put_list_begin(ctx_t *c, uint8_t etype, uint32_t n)
{
    if (TC_LIKELY(c->binary)) {
        tc_proto_binary_write_list_begin(c->p->out, etype, n);
    } else {
        c->p->ops->write_list_begin(c->p, etype, n);
    }
}

static inline void
put_i32(ctx_t *c, int32_t v)
{
    if (TC_LIKELY(c->binary)) {
        tc_proto_binary_write_i32(c->p->out, v);
    } else {
        c->p->ops->write_i32(c->p, v);
    }
}

static inline void
put_i64(ctx_t *c, int64_t v)
{
    if (TC_LIKELY(c->binary)) {
        tc_proto_binary_write_i64(c->p->out, v);
    } else {
        c->p->ops->write_i64(c->p, v);
    }
}

static inline void
put_double(ctx_t *c, double v)
{
    if (TC_LIKELY(c->binary)) {
        tc_proto_binary_write_double(c->p->out, v);
    } else {
        c->p->ops->write_double(c->p, v);
    }
}

static inline void
put_binary(ctx_t *c, const char *s, size_t len)
{
    if (TC_LIKELY(c->binary)) {
        tc_proto_binary_write_binary(c->p->out, s, len);
    } else {
        c->p->ops->write_binary(c->p, s, len);
    }
}

static const char *const kind_names[] = {
    [TC_KIND_BOOL] = "a boolean",       [TC_KIND_BYTE] = "an integer (byte)",
    [TC_KIND_I16] = "an integer (i16)", [TC_KIND_I32] = "an integer (i32)",
    [TC_KIND_I64] = "an integer (i64)", [TC_KIND_DOUBLE] = "a number (double)",
    [TC_KIND_STRING] = "a string",      [TC_KIND_BINARY] = "a string (binary)",
    [TC_KIND_UUID] = "a uuid string",   [TC_KIND_ENUM] = "an integer (enum)",
    [TC_KIND_LIST] = "a table (list)",  [TC_KIND_SET] = "a table (set)",
    [TC_KIND_MAP] = "a table (map)",    [TC_KIND_STRUCT] = "a table (struct)",
};

static int
type_error(ctx_t *c, int idx, const tc_type_t *t)
{
    lua_State *L = c->L;
    const char *got = luaL_typename(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        got = lua_isinteger(L, idx) ? "integer" : "float";
    }
    if (t->kind == TC_KIND_STRUCT) {
        return tc_err_set(c->err, TC_ETYPE, "expected a table (%s), got %s", t->st->name, got);
    }
    return tc_err_set(c->err, TC_ETYPE, "expected %s, got %s", kind_names[t->kind], got);
}

/* Why the value at 'idx' is not an integer of 't' in [lo, hi] ('v' read when 'isnum'). */
static __attribute__((noinline)) int
integer_error(ctx_t *c, int idx, int lt, const tc_type_t *t, int isnum, lua_Integer v)
{
    if (lt != LUA_TNUMBER) {
        return type_error(c, idx, t);
    }
    if (!isnum) {
        double d = (double)lua_tonumber(c->L, idx);
        if (d != d) { /* "%g" writes a NaN as "-nan" or "nan" after its sign bit */
            return tc_err_set(c->err, TC_ETYPE, "expected %s, got nan", kind_names[t->kind]);
        }
        /*
         * as Lua's tostring() writes a float ("%.14g"), not cut to "%g"'s 6
         * digits; one without a fraction is past what a Lua integer holds
         * (2^63 and beyond), not "not an integer"
         */
        return tc_err_set(c->err, TC_ETYPE, "expected %s, got %.14g (%s)", kind_names[t->kind], d,
                          isfinite(d) && d == floor(d) ? "out of range" : "not an integer");
    }
    return tc_err_set(c->err, TC_ETYPE, "%lld is out of range for %s", (long long)v,
                      kind_names[t->kind]);
}

/* The number's type is known ('lt'): lua_tointegerx() alone, which would take a string too. */
static inline int
get_integer(ctx_t *c, int idx, int lt, const tc_type_t *t, int64_t lo, int64_t hi, int64_t *out)
{
    int isnum = 0;
    lua_Integer v = 0;
    if (TC_LIKELY(lt == LUA_TNUMBER)) {
        v = lua_tointegerx(c->L, idx, &isnum);
    }
    if (TC_UNLIKELY(!isnum || v < lo || v > hi)) {
        return integer_error(c, idx, lt, t, isnum, v);
    }
    *out = v;
    return TC_OK;
}

/* A uuid is 16 raw bytes, or 32 hex digits with or without the four dashes. */
static int
get_uuid(ctx_t *c, int idx, int lt, const tc_type_t *t, uint8_t u[16])
{
    size_t len;
    if (lt != LUA_TSTRING) {
        return type_error(c, idx, t);
    }
    const char *s = lua_tolstring(c->L, idx, &len);
    if (tc_uuid_parse(s, len, u) != TC_OK) {
        return tc_err_set(c->err, TC_ETYPE, "'%.40s' is not a uuid", s);
    }
    return TC_OK;
}

/*
 * The output refused to grow (tc_buf_refused(): its bound is the reply's
 * limit), so nothing more of this value can be written: the walk stops,
 * and the codec's caller, who set the bound, answers for the reply.
 */
static __attribute__((cold, noinline)) int
refused(ctx_t *c)
{
    return tc_err_set(c->err, TC_ELIMIT, "the reply is over its limit");
}

/* The list at 'idx'; 'top' is the stack's top. */
static int
encode_list(ctx_t *c, int idx, int top, const tc_type_t *t)
{
    lua_State *L = c->L;
    tc_proto_t *p = c->p;
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx); /* raw: no user code outside a pcall */
    if (n < 0 || n > INT32_MAX) {
        return tc_err_set(c->err, TC_ELIMIT, "list of %lld elements", (long long)n);
    }
    if (n == 0) {
        /* no element 1, yet keys: not an empty list, a set or a map given for one */
        lua_pushnil(L);
        if (lua_next(L, idx) != 0) {
            lua_pop(L, 2);
            return tc_err_set(c->err, TC_ETYPE,
                              "expected a list (elements at 1, 2, ...), got a table with "
                              "other keys (a set or a map?)");
        }
    }
    put_list_begin(c, t->elem->ttype, (uint32_t)n);
    const tc_struct_t *xst = c->xst;
    int xbase = c->xbase;
    int base = t->elem->kind == TC_KIND_STRUCT && n > 1 ? expand_names(c, t->elem->st, top) : top;
    /*
     * elements stay on the stack, KEEP at most: one lua_settop() per KEEP,
     * not per element; and there, whether the output still takes them
     */
    int at = base;
    for (lua_Integer i = 1; i <= n; i++) {
        if (at - base == KEEP) {
            lua_settop(L, base);
            at = base;
            if (TC_UNLIKELY(tc_buf_refused(p->out))) {
                return refused(c);
            }
        }
        int lt = lua_rawgeti(L, idx, i);
        if (lt == LUA_TNIL) {
            return tc_err_set(c->err, TC_ETYPE, "list element %lld is nil", (long long)i);
        }
        int rc = encode_value(c, ++at, lt, t->elem);
        if (rc != TC_OK) {
            return rc;
        }
    }
    lua_settop(L, top);
    c->xst = xst;
    c->xbase = xbase;
    return TC_OK;
}

/*
 * A set's or map's count is known only once its table is walked, and a
 * second walk (lua_next() finds its place again by hashing the key) costs
 * more than moving bytes: the elements are written from 'at', then the
 * header the protocol writes after them is moved in front of them. Binary's
 * headers have a fixed size and end with the count: there the header is
 * written before the elements with a count of 0, and put_count() puts the
 * count in.
 */
static inline void
put_count(tc_buf_t *out, size_t at, size_t hlen, uint32_t n)
{
    TC_ASSERT(n <= INT32_MAX);
    /* after a refusal the header may be missing; the reply is dropped anyway */
    if (TC_LIKELY(!tc_buf_refused(out))) {
        tc_proto_binary_store_be32(out->data + at + hlen - 4, n);
    }
}

static void
header_to_front(tc_buf_t *out, size_t at, size_t body_end)
{
    size_t hlen = out->len - body_end;
    if (TC_UNLIKELY(hlen == 0)) {
        return; /* the output's bound refused the header: the reply is dropped */
    }
    uint8_t hdr[16]; /* a set or map header is at most 6 bytes in either protocol */
    TC_ASSERT(hlen <= sizeof(hdr));
    memcpy(hdr, out->data + body_end, hlen);
    memmove(out->data + at + hlen, out->data + at, body_end - at);
    memcpy(out->data + at, hdr, hlen);
}

/*
 * Sets are {element = true}: elements whose value is false are left out.
 * Any value but a boolean is refused: {10, 20} is a list given for a set,
 * whose elements would be 1 and 2.
 */
static int
encode_set(ctx_t *c, int idx, const tc_type_t *t)
{
    lua_State *L = c->L;
    tc_buf_t *out = c->p->out;
    size_t at = out->len;
    uint32_t n = 0;
    if (c->binary) {
        tc_proto_binary_write_list_begin(out, t->elem->ttype, 0); /* a set's header is a list's */
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (TC_UNLIKELY(lua_type(L, -1) != LUA_TBOOLEAN)) {
            int rc = tc_err_set(c->err, TC_ETYPE,
                                "a set's values must be true or false, got a %s (a list given "
                                "for a set?)",
                                luaL_typename(L, -1));
            lua_pop(L, 2);
            return rc;
        }
        if (lua_toboolean(L, -1)) {
            int top = lua_gettop(L);
            int rc = encode_value(c, top - 1, lua_type(L, top - 1), t->elem);
            if (rc != TC_OK) {
                lua_pop(L, 2);
                return rc;
            }
            n++;
        }
        lua_pop(L, 1);
    }
    if (c->binary) {
        put_count(out, at, 5, n);
    } else {
        size_t body_end = out->len;
        c->p->ops->write_set_begin(c->p, t->elem->ttype, n);
        header_to_front(out, at, body_end);
    }
    return TC_OK;
}

static int
encode_map(ctx_t *c, int idx, const tc_type_t *t)
{
    lua_State *L = c->L;
    tc_buf_t *out = c->p->out;
    size_t at = out->len;
    uint32_t n = 0;
    if (c->binary) {
        tc_proto_binary_write_map_begin(out, t->elem->ttype, t->value->ttype, 0);
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int top = lua_gettop(L);
        int rc = encode_value(c, top - 1, lua_type(L, top - 1), t->elem);
        if (rc == TC_OK) {
            rc = encode_value(c, top, lua_type(L, top), t->value);
        }
        if (rc != TC_OK) {
            lua_pop(L, 2);
            return rc;
        }
        n++;
        lua_pop(L, 1);
    }
    if (c->binary) {
        put_count(out, at, 6, n);
    } else {
        size_t body_end = out->len;
        c->p->ops->write_map_begin(c->p, t->elem->ttype, t->value->ttype, n);
        header_to_front(out, at, body_end);
    }
    return TC_OK;
}

static int
encode_container(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    if (lt != LUA_TTABLE) {
        return type_error(c, idx, t);
    }
    int top = lua_gettop(c->L);
    int rc = enter(c, top);
    if (rc != TC_OK) {
        return rc;
    }
    switch (t->kind) {
    case TC_KIND_LIST:
        rc = encode_list(c, idx, top, t);
        break;
    case TC_KIND_SET:
        rc = encode_set(c, idx, t);
        break;
    default:
        rc = encode_map(c, idx, t);
        break;
    }
    c->p->depth--;
    return rc;
}

/*
 * One function per kind, called through a table: each is small, and saves
 * only the registers it needs (one switch over every kind made each value
 * pay for the largest case).
 */
static int
encode_bool(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    if (lt != LUA_TBOOLEAN) {
        return type_error(c, idx, t);
    }
    c->p->ops->write_bool(c->p, lua_toboolean(c->L, idx));
    return TC_OK;
}

static int
encode_byte(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    int64_t v = 0;
    int rc = get_integer(c, idx, lt, t, INT8_MIN, INT8_MAX, &v);
    if (rc == TC_OK) {
        c->p->ops->write_byte(c->p, (int8_t)v);
    }
    return rc;
}

static int
encode_i16(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    int64_t v = 0;
    int rc = get_integer(c, idx, lt, t, INT16_MIN, INT16_MAX, &v);
    if (rc == TC_OK) {
        c->p->ops->write_i16(c->p, (int16_t)v);
    }
    return rc;
}

static int
encode_i32(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    int64_t v = 0;
    int rc = get_integer(c, idx, lt, t, INT32_MIN, INT32_MAX, &v);
    if (rc == TC_OK) {
        put_i32(c, (int32_t)v);
    }
    return rc;
}

static int
encode_i64(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    int64_t v = 0;
    int rc = get_integer(c, idx, lt, t, INT64_MIN, INT64_MAX, &v);
    if (rc == TC_OK) {
        put_i64(c, v);
    }
    return rc;
}

static int
encode_double(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    if (lt != LUA_TNUMBER) {
        return type_error(c, idx, t);
    }
    put_double(c, (double)lua_tonumber(c->L, idx));
    return TC_OK;
}

static int
encode_string(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    size_t len;
    if (lt != LUA_TSTRING) {
        return type_error(c, idx, t);
    }
    const char *s = lua_tolstring(c->L, idx, &len);
    if (len > INT32_MAX) {
        return tc_err_set(c->err, TC_ELIMIT, "string of %zu bytes", len);
    }
    put_binary(c, s, len);
    return TC_OK;
}

static int
encode_uuid(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    uint8_t u[16];
    int rc = get_uuid(c, idx, lt, t, u);
    if (rc == TC_OK) {
        c->p->ops->write_uuid(c->p, u);
    }
    return rc;
}

static int
encode_struct_value(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    if (lt != LUA_TTABLE) {
        return type_error(c, idx, t);
    }
    return encode_struct(c, idx, t->st);
}

static int
encode_unknown(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    (void)idx;
    (void)lt;
    return tc_err_set(c->err, TC_EINVAL, "type kind %d is not encodable", t->kind);
}

typedef int (*encoder_t)(ctx_t *c, int idx, int lt, const tc_type_t *t);

static const encoder_t encoders[TC_KIND_STRUCT + 1] = {
    [0] = encode_unknown,
    [TC_KIND_BOOL] = encode_bool,
    [TC_KIND_BYTE] = encode_byte,
    [TC_KIND_I16] = encode_i16,
    [TC_KIND_I32] = encode_i32,
    [TC_KIND_I64] = encode_i64,
    [TC_KIND_DOUBLE] = encode_double,
    [TC_KIND_STRING] = encode_string,
    [TC_KIND_BINARY] = encode_string,
    [TC_KIND_UUID] = encode_uuid,
    [TC_KIND_ENUM] = encode_i32,
    [TC_KIND_LIST] = encode_container,
    [TC_KIND_SET] = encode_container,
    [TC_KIND_MAP] = encode_container,
    [TC_KIND_STRUCT] = encode_struct_value,
};

static inline int
encode_value(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    encoder_t fn = TC_LIKELY(t->kind <= TC_KIND_STRUCT) ? encoders[t->kind] : encode_unknown;
    return fn(c, idx, lt, t);
}

/*
 * push_names() for encoding: the names of a struct met before in this
 * encode are already in a cache slot; the first NAMES_CACHE structs met are
 * put in one. Sets '*pushed' when the caller must pop what was pushed.
 */
static inline int
encode_names(ctx_t *c, const tc_struct_t *st, int *pushed)
{
    *pushed = 0;
    for (int i = 0; i < c->ncached; i++) {
        if (c->cached[i] == st) {
            return c->cache + i;
        }
    }
    int names = push_names(c, st);
    if (names == 0 || c->cache == 0 || c->ncached == NAMES_CACHE) {
        *pushed = names != 0;
        return names;
    }
    int slot = c->cache + c->ncached;
    lua_replace(c->L, slot);
    c->cached[c->ncached++] = st;
    return slot;
}

/* Structs with more fields are not expanded by expand_names(). */
#define EXPAND_MAX 64

/*
 * Before a list of 'st' structs, with the stack's top at 'top': push the
 * field names of 'st' one per slot, so that each element pushes a name with
 * lua_pushvalue() rather than lua_rawgeti() on the names table. Returns
 * the new top.
 */
static int
expand_names(ctx_t *c, const tc_struct_t *st, int top)
{
    lua_State *L = c->L;
    int pushed;
    if (st == c->xst || st->nfields > EXPAND_MAX) {
        return top;
    }
    int names = encode_names(c, st, &pushed);
    if (names == 0) {
        return top;
    }
    top += pushed;
    luaL_checkstack(L, st->nfields + LEVEL_SLOTS, "thriftcorn: nesting");
    if (top + st->nfields + LEVEL_SLOTS > c->room) {
        c->room = top + st->nfields + LEVEL_SLOTS;
    }
    for (uint16_t i = 0; i < st->nfields; i++) {
        lua_rawgeti(L, names, i + 1);
    }
    c->xst = st;
    c->xbase = top + 1;
    return top + st->nfields;
}

/* Reserve the cache slots of encode_names() above the stack's 'top'. */
static void
reserve_names_cache(ctx_t *c, int top)
{
    /* and the first levels' room, which enter() then need not check */
    luaL_checkstack(c->L, NAMES_CACHE + 2 * LEVEL_SLOTS, "thriftcorn: encoding");
    lua_settop(c->L, top + NAMES_CACHE);
    c->cache = top + 1;
    c->room = top + NAMES_CACHE + 2 * LEVEL_SLOTS;
}

/* lua_gettable(L, 1) with the key at 2, for get_field() to run protected. */
static int
protected_gettable(lua_State *L)
{
    lua_gettable(L, 1);
    return 1;
}

/* push_name(), or from the slots of expand_names() ('xbase', 0: none). */
static inline void
push_field_name(lua_State *L, int names, int xbase, const tc_struct_t *st, const tc_field_t *f)
{
    if (xbase != 0) {
        lua_pushvalue(L, xbase + (int)(f - st->fields));
    } else {
        push_name(L, names, st, f);
    }
}

/*
 * Push field 'f' of the struct table at 'idx': its value, or nil; '*lt'
 * gets its type. A raw read; only when it finds nothing and the table's
 * metatable has an __index (defaults, methods) is the full lookup made,
 * under lua_pcall: user code there may raise, and an error outside a
 * protected call would end the worker. Returns LUA_OK, or the error status
 * with the error object pushed.
 */
static int
get_field(lua_State *L, int idx, int names, int xbase, const tc_struct_t *st, const tc_field_t *f,
          int *lt)
{
    push_field_name(L, names, xbase, st, f);
    if ((*lt = lua_rawget(L, idx)) != LUA_TNIL ||
        luaL_getmetafield(L, idx, "__index") == LUA_TNIL) {
        return LUA_OK;
    }
    lua_pop(L, 2); /* __index, nil */
    lua_pushcfunction(L, protected_gettable);
    lua_pushvalue(L, idx);
    push_field_name(L, names, xbase, st, f);
    int status = lua_pcall(L, 2, 1, 0);
    *lt = lua_type(L, -1);
    return status;
}

const char *
tc_lua_value_class_name(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE) {
        return NULL;
    }
    lua_pushliteral(L, "_c");
    int t = lua_rawget(L, idx);
    lua_pop(L, 1);
    if (t != LUA_TLIGHTUSERDATA) {
        return NULL;
    }
    lua_pushliteral(L, "fullname");
    if (lua_rawget(L, idx) != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushliteral(L, "?");
    }
    return lua_tostring(L, -1);
}

/*
 * The table at 'idx', given for a value of 'st', has a metatable that is not
 * the struct's: a struct class (mod.Work, which thriftcorn.load() compiled,
 * so it holds its descriptor under '_c') is refused, as its own keys
 * ('name', 'kind', 'fullname', 'doc', ...) would be written as the fields of
 * those names. Any other table passes. Returns TC_OK or TC_ETYPE.
 */
static __attribute__((noinline)) int
check_class(ctx_t *c, int idx, const tc_struct_t *st)
{
    lua_State *L = c->L;
    const char *name = tc_lua_value_class_name(L, idx);
    if (name == NULL) {
        return TC_OK;
    }
    int rc = tc_err_set(c->err, TC_ETYPE,
                        "expected a table (%s), got the class %s, not a value of it (make one "
                        "with %s{...})",
                        st->name, name, name);
    lua_pop(L, 1);
    return rc;
}

/*
 * A table with no metatable, or with the struct's (the constructor's and the
 * decoder's values), costs one or two lookups and no string; others are
 * looked at further (check_class()).
 */
static inline int
check_value(ctx_t *c, int idx, const tc_struct_t *st)
{
    lua_State *L = c->L;
    if (TC_LIKELY(!lua_getmetatable(L, idx))) {
        return TC_OK;
    }
    lua_rawgetp(L, c->mt_idx, st);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? TC_OK : check_class(c, idx, st);
}

static int
encode_struct(ctx_t *c, int idx, const tc_struct_t *st)
{
    lua_State *L = c->L;
    tc_proto_t *p = c->p;
    if (TC_UNLIKELY(tc_buf_refused(p->out))) {
        return refused(c);
    }
    int top = lua_gettop(L);
    int rc = enter(c, top);
    if (rc == TC_OK) {
        rc = check_value(c, idx, st);
    }
    if (rc != TC_OK) {
        return rc;
    }
    put_struct_begin(c);
    int nset = 0;
    int pushed = 0;
    int xbase = c->xst != NULL && c->xst == st ? c->xbase : 0;
    int names = xbase != 0 ? 0 : encode_names(c, st, &pushed);
    /* the fields' values stay on the stack, KEEP at most, as a list's elements */
    int base = top + pushed;
    int at = base;
    for (uint16_t i = 0; i < st->nfields; i++) {
        const tc_field_t *f = st->_sorted[i];
        int lt;
        if (at - base == KEEP) {
            lua_settop(L, base);
            at = base;
        }
        if (get_field(L, idx, names, xbase, st, f, &lt) != LUA_OK) {
            const char *why = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            rc = tc_err_set(c->err, TC_ETYPE, "its table's __index raised: %s",
                            why != NULL ? why : "(an error object that is not a string)");
            lua_pop(L, 1);
            locate(c, st, f);
            return rc;
        }
        at++;
        if (lt == LUA_TNIL) {
            if (f->req == TC_REQ_REQUIRED) {
                c->located = 1;
                return tc_err_set(c->err, TC_EMISSING, "%s.%s: required field is not set", st->name,
                                  f->name);
            }
            continue;
        }
        if (st->kind == TC_STRUCT_UNION && ++nset > 1) {
            c->located = 1;
            return tc_err_set(c->err, TC_ETYPE, "union %s has more than one field set", st->name);
        }
        put_field_begin(c, f->type.ttype, f->id);
        rc = encode_value(c, at, lt, &f->type);
        if (rc != TC_OK) {
            locate(c, st, f);
            return rc;
        }
    }
    lua_settop(L, top);
    put_field_stop(c);
    put_struct_end(c);
    p->depth--;
    return TC_OK;
}

int
tc_lua_value_encode(lua_State *L, int idx, tc_proto_t *p, const tc_struct_t *st, tc_err_t *err)
{
    ctx_t c;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE) {
        return tc_err_set(err, TC_ETYPE, "expected a table (%s), got %s", st->name,
                          luaL_typename(L, idx));
    }
    uint32_t depth = p->depth;
    int top = lua_gettop(L);
    tc_lua_codec_t k;
    ctx_open(&c, L, p, err, &k);
    reserve_names_cache(&c, lua_gettop(L));
    int rc = encode_struct(&c, idx, st);
    p->depth = depth;
    lua_settop(L, top);
    return rc;
}

int
tc_lua_value_encode_field_k(lua_State *L, const tc_lua_codec_t *k, int idx, tc_proto_t *p,
                            const tc_struct_t *st, const tc_field_t *f, tc_err_t *err)
{
    ctx_t c;
    idx = lua_absindex(L, idx);
    uint32_t depth = p->depth;
    /*
     * the struct the field is written in is a level (as decoding counts the
     * arguments struct, and as Apache's readers count a result struct): a
     * value max_depth deep in it is refused, not written past the compact
     * writer's field id stack
     */
    p->depth++;
    int top = lua_gettop(L);
    ctx_init(&c, L, p, err, k);
    tc_kind_t kind = (tc_kind_t)f->type.kind;
    if (kind == TC_KIND_STRUCT || kind == TC_KIND_LIST || kind == TC_KIND_SET ||
        kind == TC_KIND_MAP) { /* structs may come: not for a plain value */
        reserve_names_cache(&c, top);
    }
    p->ops->write_field_begin(p, f->type.ttype, f->id);
    int rc = encode_value(&c, idx, lua_type(L, idx), &f->type);
    if (rc != TC_OK) {
        locate(&c, st, f);
    }
    p->depth = depth;
    lua_settop(L, top);
    return rc;
}
