/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Lua value codec's decoder: Thrift bytes to Lua values, walking the
 * compiled descriptors of schema/schema.h through the protocol vtable (binary
 * and compact alike), and charging what the values cost in Lua memory against
 * the budget of lua_value.h. The encoder is lua_value_encode.c.
 */
#include "bridge/lua_value.h"

#include "bridge/lua_value_internal.h"
#include "schema/uuid.h"

#include <math.h>
#include <string.h>

static void
ctx_close(ctx_t *c)
{
    lua_remove(c->L, c->names_idx);
    lua_remove(c->L, c->def_idx);
    lua_remove(c->L, c->mt_idx);
}

static int
read_error(ctx_t *c, int rc)
{
    return tc_proto_read_error(c->p, rc, c->err);
}

/* ---- what values cost ---- */

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

/* ---- values ---- */

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

/* One function per kind, through a table, as the encoder does (lua_value_encode.c). */
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

/* ---- structs and their defaults ---- */

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

/*
 * Required fields present, defaults filled in: the table is at 'tbl';
 * 'mistyped' a required field whose id came with another wire type,
 * 'mistyped_as', and was skipped (NULL: none), named so if it is missing.
 */
static int
finish_struct(ctx_t *c, const tc_struct_t *st, int tbl, const tc_field_t *mistyped,
              uint8_t mistyped_as)
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
            return tc_codec_err_missing(c->err, st, f, c->args,
                                        f == mistyped ? mistyped_as : TC_TTYPE_STOP);
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
    const tc_field_t *mistyped = NULL; /* a required field skipped for its wire type */
    uint8_t mistyped_as = TC_TTYPE_STOP;
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
            if (f != NULL && f->req == TC_REQ_REQUIRED) {
                mistyped = f;
                mistyped_as = type;
            }
            if ((rc = tc_proto_skip(p, type)) != TC_OK) {
                rc = read_error(c, rc);
                skipped(c, st, id, type);
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
    if ((st->has_required || st->has_defaults) &&
        (rc = finish_struct(c, st, tbl, mistyped, mistyped_as)) != TC_OK) {
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

/* ---- entry points ---- */

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
    const tc_field_t *mistyped = NULL; /* a required argument skipped for its wire type */
    uint8_t mistyped_as = TC_TTYPE_STOP;
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
            if (f != NULL && f->req == TC_REQ_REQUIRED) {
                mistyped = f;
                mistyped_as = type;
            }
            if ((rc = tc_proto_skip(p, type)) != TC_OK) {
                rc = read_error(c, rc);
                skipped(c, st, id, type);
                return rc;
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
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): f is &st->fields[i] */
        if (f->req == TC_REQ_REQUIRED) {
            c->located = 1;
            return tc_codec_err_missing(c->err, st, f, c->args,
                                        f == mistyped ? mistyped_as : TC_TTYPE_STOP);
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
