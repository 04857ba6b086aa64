/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Lua value codec's encoder: Lua values to Thrift bytes, walking the
 * compiled descriptors of schema/schema.h. It writes binary's most frequent
 * values with its inline writers (put_*()) and calls the protocol vtable for
 * the rest and for compact. The decoder is lua_value_decode.c.
 */
#include "bridge/lua_value.h"

#include "bridge/lua_value_internal.h"
#include "core/buf.h"
#include "protocol/binary.h"
#include "schema/uuid.h"

#include <string.h>

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

/* ---- binary's writers inline ---- */

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

/* ---- helpers ---- */

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
        return tc_lua_value_integer_error(c, idx, lt, t, isnum, v);
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
        return tc_lua_value_type_error(c, idx, t);
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

/* ---- containers ---- */

/*
 * A number key of the list at 'idx' that is none of its elements 1..n: an
 * element after a hole ({1, 2, [4] = 4}, or what a filter left behind) or
 * at 0, which the length Lua finds stops short of and which would be left
 * out without a word. Keys that are not numbers (the 'n' of table.pack())
 * are not looked at.
 *
 * A step per element would cost as much as writing the elements, so the
 * walk starts after element n: a list whose elements all sit in the
 * table's array part (made by a constructor, by appending, by decoding)
 * and that holds nothing else is done in one step past the array's spare
 * slots. Anything found there (an element after a hole in the array part,
 * a key of the hash part, where Lua may keep more ahead of element n) has
 * the whole table walked. A table that held other keys before its list
 * grew can keep element n last in its hash part: what precedes it then
 * goes unseen, as docs/handlers.md says.
 */
static int
stray_key(ctx_t *c, int idx, lua_Integer n)
{
    lua_State *L = c->L;
    lua_pushinteger(L, n); /* element n is set: lua_next() does not raise */
    if (lua_next(L, idx) == 0) {
        return TC_OK;
    }
    lua_pop(L, 2);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Integer k;
            if (lua_isinteger(L, -1) && (k = lua_tointeger(L, -1)) >= 1 && k <= n) {
                continue;
            }
            const char *key = lua_tostring(L, -1);
            int rc = tc_err_set(c->err, TC_ETYPE,
                                "a list of %lld has its elements at 1 to %lld, not at %s",
                                (long long)n, (long long)n, key);
            lua_pop(L, 1);
            return rc;
        }
    }
    return TC_OK;
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
    int rc = n > 0 ? stray_key(c, idx, n) : TC_OK;
    if (rc != TC_OK) {
        return rc;
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
        rc = encode_value(c, ++at, lt, t->elem);
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
        return tc_lua_value_type_error(c, idx, t);
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

/* ---- one encoder per kind ---- */

/*
 * One function per kind, called through a table: each is small, and saves
 * only the registers it needs (one switch over every kind made each value
 * pay for the largest case).
 */
static int
encode_bool(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    if (lt != LUA_TBOOLEAN) {
        return tc_lua_value_type_error(c, idx, t);
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
        return tc_lua_value_type_error(c, idx, t);
    }
    put_double(c, (double)lua_tonumber(c->L, idx));
    return TC_OK;
}

static int
encode_string(ctx_t *c, int idx, int lt, const tc_type_t *t)
{
    size_t len;
    if (lt != LUA_TSTRING) {
        return tc_lua_value_type_error(c, idx, t);
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
        return tc_lua_value_type_error(c, idx, t);
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

/* ---- structs ---- */

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

/*
 * A table with no metatable, or with the struct's (the constructor's and the
 * decoder's values), costs one or two lookups and no string; others are
 * looked at further (tc_lua_value_check_class()).
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
    return same ? TC_OK : tc_lua_value_check_class(c, idx, st);
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

/* ---- entry points ---- */

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
