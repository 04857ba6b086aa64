/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema-driven C codec for plugins. Decoding walks the compiled struct
 * like the Lua decoder does (bridge/lua_value_decode.c) but builds tc_value_t
 * trees in the call's arena; strings stay in the request bytes. The writer
 * keeps a stack of open values and checks every write against the IDL
 * before any byte of it reaches the output.
 */
#include "schema/codec.h"

#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* tc_value_t kinds are tc_kind_t values: the plugin ABI relies on it. */
_Static_assert((int)TC_VAL_BOOL == (int)TC_KIND_BOOL && (int)TC_VAL_UUID == (int)TC_KIND_UUID &&
                   (int)TC_VAL_ENUM == (int)TC_KIND_ENUM && (int)TC_VAL_MAP == (int)TC_KIND_MAP &&
                   (int)TC_VAL_STRUCT == (int)TC_KIND_STRUCT,
               "tc_value_t kinds follow tc_kind_t");

/* ---- decoding ---- */

typedef struct dctx {
    tc_proto_t *p;
    tc_arena_t *a;
    tc_err_t *err;
    bool located;  /* the error message already names its struct and field */
    uint64_t left; /* arena bytes the values may still take (charge()) */
    /* the argument struct of a call (tc_codec_decode_args()), or NULL */
    const tc_struct_t *args;
} dctx_t;

static uint64_t
budget(const tc_proto_t *p)
{
    return (uint64_t)p->max_string * TC_CODEC_DECODE_FACTOR + TC_CODEC_DECODE_FLOOR;
}

/* Take 'bytes' of the arena budget (codec.h); TC_ELIMIT past it. */
static int
charge(dctx_t *c, uint64_t bytes)
{
    if (TC_UNLIKELY(bytes > c->left)) {
        return tc_err_set(c->err, TC_ELIMIT,
                          "decoded values over %llu bytes of memory (%d times the size limit, "
                          "plus %u MiB)",
                          (unsigned long long)budget(c->p), TC_CODEC_DECODE_FACTOR,
                          TC_CODEC_DECODE_FLOOR >> 20);
    }
    c->left -= bytes;
    return TC_OK;
}

static int decode_struct(dctx_t *c, const tc_struct_t *st, const tc_view_t **out);

/* Where field 'f' of 'st' is, for tc_codec_err_locate() and tc_codec_err_missing(). */
static void
where(char *buf, size_t cap, const tc_struct_t *st, const tc_field_t *f, const tc_struct_t *args)
{
    if (st == args) {
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): f is a field of st, never NULL */
        (void)snprintf(buf, cap, "%s (field %d)", f->name, f->id);
    } else {
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): f is a field of st, never NULL */
        (void)snprintf(buf, cap, "%s.%s", st->name, f->name);
    }
}

void
tc_codec_err_locate(tc_err_t *err, const tc_struct_t *st, const tc_field_t *f,
                    const tc_struct_t *args)
{
    if (err == NULL || err->code == TC_OK) {
        return;
    }
    char at[TC_ERR_MSG_MAX];
    where(at, sizeof(at), st, f, args);
    tc_err_prefix(err, "%s: ", at);
}

void
tc_codec_err_locate_skipped(tc_err_t *err, const tc_struct_t *st, int16_t id, uint8_t sent,
                            const tc_struct_t *args)
{
    if (err == NULL || err->code == TC_OK) {
        return;
    }
    const tc_field_t *f = tc_schema_field_by_id(st, id);
    if (f != NULL) {
        char at[TC_ERR_MSG_MAX];
        where(at, sizeof(at), st, f, args);
        tc_err_prefix(err, "%s, sent as %s: ", at, tc_proto_type_name(sent));
    } else if (st == args) {
        tc_err_prefix(err, "field %d (not in the IDL): ", id);
    } else {
        tc_err_prefix(err, "%s field %d (not in the IDL): ", st->name, id);
    }
}

int
tc_codec_err_missing(tc_err_t *err, const tc_struct_t *st, const tc_field_t *f,
                     const tc_struct_t *args, uint8_t sent)
{
    char at[TC_ERR_MSG_MAX];
    where(at, sizeof(at), st, f, args);
    if (sent != TC_TTYPE_STOP) {
        return tc_err_set(err, TC_EMISSING,
                          "%s: required field is missing: sent as %s, the IDL has %s", at,
                          tc_proto_type_name(sent), tc_proto_type_name(f->type.ttype));
    }
    return tc_err_set(err, TC_EMISSING, "%s: required field is missing", at);
}

/*
 * Name the field whose value failed before its error, once: the innermost
 * field names where the bytes went wrong.
 */
static void
locate(dctx_t *c, const tc_struct_t *st, const tc_field_t *f)
{
    if (c->located || c->err == NULL) {
        return;
    }
    c->located = true;
    tc_codec_err_locate(c->err, st, f, c->args);
}

static int
read_error(dctx_t *c, int rc)
{
    return tc_proto_read_error(c->p, rc, c->err);
}

static int
enter(dctx_t *c)
{
    if (++c->p->depth > c->p->max_depth) {
        return tc_err_set(c->err, TC_ELIMIT, "nesting deeper than %u", c->p->max_depth);
    }
    return TC_OK;
}

static int decode_value(dctx_t *c, const tc_type_t *t, tc_value_t *out);

static int
decode_seq(dctx_t *c, const tc_type_t *t, tc_value_t *out)
{
    tc_proto_t *p = c->p;
    uint8_t kt = TC_TTYPE_STOP;
    uint8_t vt = TC_TTYPE_STOP;
    uint32_t n;
    bool map = t->kind == TC_KIND_MAP;
    int rc = map ? p->ops->read_map_begin(p, &kt, &vt, &n) : p->ops->read_list_begin(p, &kt, &n);
    if (rc != TC_OK) {
        return read_error(c, rc);
    }
    if (n > 0 && map && (kt != t->elem->ttype || vt != t->value->ttype)) {
        return tc_err_set(c->err, TC_EPROTO, "map<%s,%s> where the IDL has map<%s,%s>",
                          tc_proto_type_name(kt), tc_proto_type_name(vt),
                          tc_proto_type_name(t->elem->ttype), tc_proto_type_name(t->value->ttype));
    }
    if (n > 0 && !map && kt != t->elem->ttype) {
        return tc_err_set(c->err, TC_EPROTO, "%s of %s where the IDL has %s",
                          t->kind == TC_KIND_SET ? "set" : "list", tc_proto_type_name(kt),
                          tc_proto_type_name(t->elem->ttype));
    }
    /* n is bounded by the bytes left in the message (the protocol checks it) */
    size_t count = map ? 2 * (size_t)n : n;
    if ((rc = enter(c)) != TC_OK ||
        (rc = charge(c, sizeof(tc_seq_t) + (uint64_t)count * sizeof(tc_value_t))) != TC_OK) {
        return rc;
    }
    tc_seq_t *s = tc_arena_alloc(c->a, sizeof(*s));
    s->type = t;
    s->n = n;
    s->items = count ? tc_arena_alloc(c->a, count * sizeof(tc_value_t)) : NULL;
    for (size_t i = 0; i < count; i++) {
        const tc_type_t *et = map && (i & 1) ? t->value : t->elem;
        if ((rc = decode_value(c, et, &s->items[i])) != TC_OK) {
            return rc;
        }
    }
    p->depth--;
    out->u.seq = s;
    return TC_OK;
}

static int
decode_value(dctx_t *c, const tc_type_t *t, tc_value_t *out)
{
    tc_proto_t *p = c->p;
    int rc;
    out->kind = t->kind;
    switch ((tc_kind_t)t->kind) {
    case TC_KIND_BOOL: {
        bool v = false;
        rc = p->ops->read_bool(p, &v);
        out->u.i = v;
        break;
    }
    case TC_KIND_BYTE: {
        int8_t v = 0;
        rc = p->ops->read_byte(p, &v);
        /* NOLINTNEXTLINE(bugprone-signed-char-misuse): Thrift's byte is signed: the sign extends */
        out->u.i = v;
        break;
    }
    case TC_KIND_I16: {
        int16_t v = 0;
        rc = p->ops->read_i16(p, &v);
        out->u.i = v;
        break;
    }
    case TC_KIND_I32:
    case TC_KIND_ENUM: {
        int32_t v = 0;
        rc = p->ops->read_i32(p, &v);
        out->u.i = v;
        break;
    }
    case TC_KIND_I64:
        rc = p->ops->read_i64(p, &out->u.i);
        break;
    case TC_KIND_DOUBLE:
        rc = p->ops->read_double(p, &out->u.d);
        break;
    case TC_KIND_STRING:
    case TC_KIND_BINARY: {
        const uint8_t *s;
        uint32_t n;
        rc = p->ops->read_binary(p, &s, &n);
        out->u.bin.ptr = s;
        out->u.bin.len = n;
        break;
    }
    case TC_KIND_UUID: {
        if ((rc = charge(c, 16)) != TC_OK) {
            return rc;
        }
        uint8_t *u = tc_arena_alloc(c->a, 16);
        rc = p->ops->read_uuid(p, u);
        out->u.uuid = u;
        break;
    }
    case TC_KIND_LIST:
    case TC_KIND_SET:
    case TC_KIND_MAP:
        return decode_seq(c, t, out);
    case TC_KIND_STRUCT:
        return decode_struct(c, t->st, &out->u.view);
    default:
        return tc_err_set(c->err, TC_EINVAL, "type kind %d is not decodable", t->kind);
    }
    return rc == TC_OK ? TC_OK : read_error(c, rc);
}

/* The value of field index 'idx' in 'v', or NULL when it was not sent. */
static tc_value_t *
view_find(const tc_view_t *v, uint16_t idx)
{
    /* fields sent in IDL order, none left out before it: where it would be dense */
    if (idx < v->n && v->fields[idx].idx == idx) {
        return &v->fields[idx].val;
    }
    for (uint16_t i = 0; i < v->n; i++) {
        if (v->fields[i].idx == idx) {
            return &v->fields[i].val;
        }
    }
    return NULL;
}

/*
 * Keep 'val' as field index 'idx' of 'v' (a field sent again replaces it);
 * 'fresh': 'idx' is above every index kept so far, so it cannot be there.
 */
static int
view_put(dctx_t *c, tc_view_t *v, uint16_t idx, const tc_value_t *val, bool fresh)
{
    tc_value_t *x = fresh ? NULL : view_find(v, idx);
    if (x == NULL) {
        if (v->n == v->cap) {
            /* room doubles from 4, never past the struct's field count */
            uint16_t cap = v->cap ? (uint16_t)(v->cap * 2u) : 4u;
            cap = cap > v->st->nfields ? v->st->nfields : cap;
            int rc = charge(c, sizeof(tc_view_field_t) * (uint64_t)cap);
            if (rc != TC_OK) {
                return rc;
            }
            tc_view_field_t *f = tc_arena_alloc(c->a, sizeof(*f) * cap);
            if (v->n > 0) {
                memcpy(f, v->fields, sizeof(*f) * v->n);
            }
            v->fields = f;
            v->cap = cap;
        }
        v->fields[v->n].idx = idx;
        x = &v->fields[v->n++].val;
    }
    *x = *val;
    return TC_OK;
}

static int
decode_struct(dctx_t *c, const tc_struct_t *st, const tc_view_t **out)
{
    tc_proto_t *p = c->p;
    int rc = enter(c);
    if (rc != TC_OK) {
        return rc;
    }
    if ((rc = p->ops->read_struct_begin(p)) != TC_OK) {
        return read_error(c, rc);
    }
    if ((rc = charge(c, sizeof(tc_view_t))) != TC_OK) {
        return rc;
    }
    tc_view_t *v = tc_arena_alloc(c->a, sizeof(*v));
    v->st = st;
    v->n = 0;
    v->cap = 0;
    v->fields = NULL;
    uint16_t top = 0;                  /* the highest field index kept */
    const tc_field_t *mistyped = NULL; /* a required field skipped for its wire type */
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
            /* unknown id, or a wire type the IDL does not have: skip it (Apache does) */
            if (f != NULL && f->req == TC_REQ_REQUIRED) {
                mistyped = f; /* named if it is then missing */
                mistyped_as = type;
            }
            if ((rc = tc_proto_skip(p, type)) != TC_OK) {
                rc = read_error(c, rc);
                c->located = true;
                tc_codec_err_locate_skipped(c->err, st, id, type, c->args);
                return rc;
            }
            continue;
        }
        tc_value_t val;
        if ((rc = decode_value(c, &f->type, &val)) != TC_OK) {
            locate(c, st, f);
            return rc;
        }
        uint16_t idx = (uint16_t)(f - st->fields);
        if ((rc = view_put(c, v, idx, &val, v->n == 0 || idx > top)) != TC_OK) {
            locate(c, st, f);
            return rc;
        }
        top = idx > top ? idx : top;
    }
    if ((rc = p->ops->read_struct_end(p)) != TC_OK) {
        return read_error(c, rc);
    }
    for (uint16_t i = 0; st->has_required && i < st->nfields; i++) {
        if (st->fields[i].req == TC_REQ_REQUIRED && view_find(v, i) == NULL) {
            c->located = true;
            const tc_field_t *f = &st->fields[i];
            return tc_codec_err_missing(c->err, st, f, c->args,
                                        f == mistyped ? mistyped_as : TC_TTYPE_STOP);
        }
    }
    p->depth--;
    *out = v;
    return TC_OK;
}

int
tc_codec_decode(tc_proto_t *p, const tc_struct_t *st, tc_arena_t *a, const tc_view_t **out,
                tc_err_t *err)
{
    dctx_t c = {p, a, err, false, budget(p), NULL};
    return decode_struct(&c, st, out);
}

int
tc_codec_decode_args(tc_proto_t *p, const tc_struct_t *args, tc_arena_t *a, const tc_view_t **out,
                     tc_err_t *err)
{
    dctx_t c = {p, a, err, false, budget(p), args};
    return decode_struct(&c, args, out);
}

static const tc_value_t unset = {.kind = TC_VAL_UNSET};

const tc_value_t *
tc_codec_view_get(const tc_view_t *v, int16_t id)
{
    const tc_field_t *f = tc_schema_field_by_id(v->st, id);
    if (f == NULL) {
        return NULL;
    }
    const tc_value_t *x = view_find(v, (uint16_t)(f - v->st->fields));
    return x != NULL ? x : &unset;
}

const tc_value_t *
tc_codec_view_value(const tc_view_t *v, int16_t id)
{
    const tc_field_t *f = tc_schema_field_by_id(v->st, id);
    if (f == NULL) {
        return NULL;
    }
    const tc_value_t *x = view_find(v, (uint16_t)(f - v->st->fields));
    if (x != NULL) {
        return x;
    }
    /* a union holds one member: its default stands in only when none was sent (as in Lua) */
    if (f->dflt == NULL || (v->st->kind == TC_STRUCT_UNION && v->n > 0)) {
        return &unset;
    }
    return f->dflt;
}

/* ---- writing ---- */

static int
fail(tc_codec_writer_t *w, const char *what, const char *detail)
{
    w->failed = true;
    return tc_err_set(w->err, TC_ETYPE, "%s: %s", what, detail);
}

/*
 * The output's bound refused a write (tc_buf_set_max(): its caller's limit
 * on the reply), so the reply cannot be whole: the plugin is told at its
 * next begin() or at the end, and the caller answers for the reply.
 */
static __attribute__((cold, noinline)) int
too_large(tc_codec_writer_t *w)
{
    return fail(w, "reply", "too large for its frame");
}

/* fail() with a formatted detail; out of the hot functions, which need no buffer for it. */
static int __attribute__((cold, noinline)) TC_PRINTF(3, 4)
    failf(tc_codec_writer_t *w, const char *what, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fail(w, what, msg);
}

static const char *
kind_name(int kind)
{
    static const char *const names[] = {
        "unset",  "bool", "byte", "i16",  "i32", "i64", "double", "string",
        "binary", "uuid", "enum", "list", "set", "map", "struct",
    };
    return kind >= 0 && (size_t)kind < TC_ARRAY_LEN(names) ? names[kind] : "?";
}

void
tc_codec_writer_init(tc_codec_writer_t *w, tc_proto_t *p, const tc_struct_t *st, tc_arena_t *a,
                     tc_err_t *err)
{
    w->p = p;
    w->arena = a;
    w->err = err;
    w->failed = false;
    w->top_set = false;
    w->top_id = 0;
    w->depth = 0;
    uint32_t lim = p != NULL ? p->max_depth : 0;
    w->max_depth = lim < TC_PROTO_DEPTH_MAX - 1 ? lim : TC_PROTO_DEPTH_MAX - 1;
    tc_codec_frame_t *f = &w->frames[0];
    memset(f, 0, sizeof(*f));
    f->kind = TC_KIND_STRUCT;
    f->st = st;
    if (p != NULL) {
        p->ops->write_struct_begin(p);
    }
}

static bool
bit(const uint8_t *set, size_t i)
{
    return ((unsigned)set[i / 8] >> (unsigned)(i % 8) & 1u) != 0;
}

/*
 * The value kinds a plugin may write where the IDL has kind K: a bit per
 * TC_VAL_ kind, indexed by K. Besides K itself, an i32 fits an enum, a
 * string or binary either, a list a set.
 */
#define VAL(k) (1u << (k))
static const uint16_t kind_fits[TC_KIND_STRUCT + 1] = {
    [TC_KIND_BOOL] = VAL(TC_VAL_BOOL),
    [TC_KIND_BYTE] = VAL(TC_VAL_BYTE),
    [TC_KIND_I16] = VAL(TC_VAL_I16),
    [TC_KIND_I32] = VAL(TC_VAL_I32),
    [TC_KIND_I64] = VAL(TC_VAL_I64),
    [TC_KIND_DOUBLE] = VAL(TC_VAL_DOUBLE),
    [TC_KIND_STRING] = VAL(TC_VAL_STRING) | VAL(TC_VAL_BINARY),
    [TC_KIND_BINARY] = VAL(TC_VAL_STRING) | VAL(TC_VAL_BINARY),
    [TC_KIND_UUID] = VAL(TC_VAL_UUID),
    [TC_KIND_ENUM] = VAL(TC_VAL_ENUM) | VAL(TC_VAL_I32),
    [TC_KIND_LIST] = VAL(TC_VAL_LIST),
    [TC_KIND_SET] = VAL(TC_VAL_SET) | VAL(TC_VAL_LIST),
    [TC_KIND_MAP] = VAL(TC_VAL_MAP),
    [TC_KIND_STRUCT] = VAL(TC_VAL_STRUCT),
};
#undef VAL

/* Whether a value of kind 'kind' (TC_VAL_BOOL ... TC_VAL_STRUCT) fits IDL kind 'target'. */
static inline bool
fits(int kind, uint8_t target)
{
    return ((unsigned)kind_fits[target] >> (unsigned)kind & 1u) != 0;
}

/*
 * Why slot() refuses the next value for 'kind': the same checks in the same
 * order, each failure with its message. Out of the hot path, so that slot()
 * keeps nothing alive across a call.
 */
static const tc_type_t *__attribute__((cold, noinline))
slot_error(tc_codec_writer_t *w, int16_t id, int kind)
{
    if (w->failed) {
        return NULL;
    }
    if (w->p == NULL) {
        fail(w, "reply", "a oneway method sends no reply");
        return NULL;
    }
    tc_codec_frame_t *fr = &w->frames[w->depth];
    if (fr->kind == TC_KIND_STRUCT) {
        const tc_field_t *f = tc_schema_field_by_id(fr->st, id);
        if (f == NULL) {
            failf(w, fr->st->name, "no field with id %d", id);
        } else if (w->depth == 0 && w->top_set) {
            fail(w, fr->st->name, "a reply holds one value: the result or one exception");
        } else if (fr->seen != NULL && bit(fr->seen, (size_t)(f - fr->st->fields))) {
            failf(w, fr->st->name, "field '%s' written twice", f->name);
        } else if (fr->one && fr->written > 0) {
            fail(w, fr->st->name, "a union holds at most one field");
        } else {
            failf(w, fr->st->name, "field '%s' is %s, not %s", f->name, kind_name(f->type.kind),
                  kind_name(kind));
        }
        return NULL;
    }
    bool map = fr->kind == TC_KIND_MAP;
    if (fr->written >= fr->want) {
        failf(w, kind_name(fr->kind), "more than the %zu %s declared", fr->n,
              map ? "entries" : "elements");
    } else {
        const tc_type_t *t = fr->slot[fr->written & 1];
        const char *what = !map ? "element" : (fr->written & 1) ? "map value" : "map key";
        failf(w, kind_name(fr->kind), "%s %zu is %s, not %s", what,
              map ? fr->written / 2 : fr->written, kind_name(t->kind), kind_name(kind));
    }
    return NULL;
}

/*
 * Find where the next value goes for 'kind', check it fits, and write the
 * field header when inside a struct. Returns the IDL type there, or NULL
 * (slot_error() says why). Forced inline in its two callers: every value a
 * plugin writes passes here, and as a call of its own (gcc 12 -O2 did not
 * inline it) it cost a C plugin's batch:100 about 8% more instructions.
 */
static inline __attribute__((always_inline)) const tc_type_t *
slot(tc_codec_writer_t *w, int16_t id, int kind)
{
    if (TC_UNLIKELY(w->failed || w->p == NULL)) {
        return slot_error(w, id, kind);
    }
    tc_codec_frame_t *fr = &w->frames[w->depth];
    if (fr->kind == TC_KIND_STRUCT) {
        const tc_field_t *f = tc_schema_field_by_id(fr->st, id);
        if (TC_UNLIKELY(f == NULL || !fits(kind, f->type.kind) || (fr->one && fr->written > 0))) {
            return slot_error(w, id, kind);
        }
        size_t fi = (size_t)(f - fr->st->fields);
        if (w->depth == 0) {
            if (TC_UNLIKELY(w->top_set)) {
                return slot_error(w, id, kind);
            }
            w->top_set = true;
            w->top_id = id;
        } else {
            if (TC_UNLIKELY(bit(fr->seen, fi))) {
                return slot_error(w, id, kind);
            }
            fr->seen[fi / 8] = (uint8_t)(fr->seen[fi / 8] | (1u << (fi % 8)));
        }
        fr->written++;
        w->p->ops->write_field_begin(w->p, f->type.ttype, id);
        return &f->type;
    }
    /* a list's or set's element, or a map's key (even) or value (odd) */
    size_t i = fr->written;
    if (TC_UNLIKELY(i >= fr->want || ((unsigned)fr->fit[i & 1] >> (unsigned)kind & 1u) == 0)) {
        return slot_error(w, id, kind);
    }
    fr->written = i + 1;
    return fr->slot[i & 1];
}

/*
 * Write the scalar 'v', of a kind already checked. Forced inline: the typed
 * entry points below pass a value of a constant kind, for which the switch
 * and the kind checks fold away.
 */
static inline __attribute__((always_inline)) int
put(tc_codec_writer_t *w, int16_t id, const tc_value_t *v)
{
    if ((v->kind == TC_VAL_STRING || v->kind == TC_VAL_BINARY) &&
        TC_UNLIKELY(v->u.bin.len > INT32_MAX)) {
        return fail(w, "reply", "a string or binary over 2 GiB");
    }
    const tc_type_t *t = slot(w, id, v->kind);
    if (t == NULL) {
        return TC_ETYPE;
    }
    /* slot() matched the kinds: the value's kind says how it is written */
    tc_proto_t *p = w->p;
    switch (v->kind) {
    case TC_VAL_BOOL:
        p->ops->write_bool(p, v->u.i != 0);
        break;
    case TC_VAL_BYTE:
        p->ops->write_byte(p, (int8_t)v->u.i);
        break;
    case TC_VAL_I16:
        p->ops->write_i16(p, (int16_t)v->u.i);
        break;
    case TC_VAL_I32:
    case TC_VAL_ENUM:
        p->ops->write_i32(p, (int32_t)v->u.i);
        break;
    case TC_VAL_I64:
        p->ops->write_i64(p, v->u.i);
        break;
    case TC_VAL_DOUBLE:
        p->ops->write_double(p, v->u.d);
        break;
    case TC_VAL_STRING:
    case TC_VAL_BINARY:
        p->ops->write_binary(p, v->u.bin.ptr, v->u.bin.len);
        break;
    default: /* TC_VAL_UUID: the callers check the kind */
        p->ops->write_uuid(p, v->u.uuid);
        break;
    }
    return TC_OK;
}

int
tc_codec_put(tc_codec_writer_t *w, int16_t id, const tc_value_t *v)
{
    if (v->kind < TC_VAL_BOOL || v->kind > TC_VAL_ENUM) {
        return w->failed ? TC_ETYPE : fail(w, "reply", "not a scalar kind");
    }
    return put(w, id, v);
}

int
tc_codec_put_i32(tc_codec_writer_t *w, int16_t id, int32_t v)
{
    const tc_value_t x = {.kind = TC_VAL_I32, .u.i = v};
    return put(w, id, &x);
}

int
tc_codec_put_i64(tc_codec_writer_t *w, int16_t id, int64_t v)
{
    const tc_value_t x = {.kind = TC_VAL_I64, .u.i = v};
    return put(w, id, &x);
}

int
tc_codec_put_double(tc_codec_writer_t *w, int16_t id, double v)
{
    const tc_value_t x = {.kind = TC_VAL_DOUBLE, .u.d = v};
    return put(w, id, &x);
}

int
tc_codec_put_binary(tc_codec_writer_t *w, int16_t id, const void *ptr, size_t len)
{
    const tc_value_t x = {.kind = TC_VAL_BINARY, .u.bin = {ptr, len}};
    return put(w, id, &x);
}

/*
 * Open a value of 'kind' (checked by the caller). Forced inline: each entry
 * point below has a copy for its kind, for which the switches fold away.
 */
static inline __attribute__((always_inline)) int
begin(tc_codec_writer_t *w, int16_t id, int kind, size_t n)
{
    if (TC_UNLIKELY(n > INT32_MAX)) {
        return fail(w, "reply", "a container of over 2^31 elements");
    }
    if (TC_LIKELY(!w->failed && w->p != NULL)) {
        if (TC_UNLIKELY(w->depth >= w->max_depth)) {
            return fail(w, "reply", "nested deeper than max_depth");
        }
        if (TC_UNLIKELY(tc_buf_refused(w->p->out))) {
            return too_large(w);
        }
    }
    const tc_type_t *t = slot(w, id, kind); /* a oneway method: slot() says it sends nothing */
    if (t == NULL) {
        return TC_ETYPE;
    }
    tc_proto_t *p = w->p;
    /* every field the frame's kind reads is set: a frame is not cleared whole */
    tc_codec_frame_t *fr = &w->frames[++w->depth];
    fr->kind = t->kind;
    fr->n = n;
    fr->written = 0;
    if (kind == TC_VAL_STRUCT) {
        fr->st = t->st;
        fr->one = t->st->kind == TC_STRUCT_UNION;
        /* a bit per field: in the frame itself for up to 64 fields */
        if (t->st->nfields <= 64) {
            memset(fr->seen_small, 0, sizeof(fr->seen_small));
            fr->seen = fr->seen_small;
        } else {
            fr->seen = tc_arena_calloc(w->arena, (size_t)t->st->nfields / 8 + 1);
        }
        p->ops->write_struct_begin(p);
    } else if (kind == TC_VAL_LIST) { /* a list or a set */
        fr->slot[0] = fr->slot[1] = t->elem;
        fr->fit[0] = fr->fit[1] = kind_fits[t->elem->kind];
        fr->want = n;
        if (t->kind == TC_KIND_LIST) {
            p->ops->write_list_begin(p, t->elem->ttype, (uint32_t)n);
        } else {
            p->ops->write_set_begin(p, t->elem->ttype, (uint32_t)n);
        }
    } else {
        fr->slot[0] = t->elem;
        fr->slot[1] = t->value;
        fr->fit[0] = kind_fits[t->elem->kind];
        fr->fit[1] = kind_fits[t->value->kind];
        fr->want = 2 * n; /* n <= INT32_MAX */
        p->ops->write_map_begin(p, t->elem->ttype, t->value->ttype, (uint32_t)n);
    }
    return TC_OK;
}

int
tc_codec_begin_struct(tc_codec_writer_t *w, int16_t id)
{
    return begin(w, id, TC_VAL_STRUCT, 0);
}

int
tc_codec_begin_list(tc_codec_writer_t *w, int16_t id, size_t n)
{
    return begin(w, id, TC_VAL_LIST, n);
}

int
tc_codec_begin_map(tc_codec_writer_t *w, int16_t id, size_t n)
{
    return begin(w, id, TC_VAL_MAP, n);
}

int
tc_codec_begin(tc_codec_writer_t *w, int16_t id, int kind, size_t n)
{
    switch (kind) {
    case TC_VAL_STRUCT:
        return tc_codec_begin_struct(w, id);
    case TC_VAL_LIST:
        return tc_codec_begin_list(w, id, n);
    case TC_VAL_MAP:
        return tc_codec_begin_map(w, id, n);
    default:
        return w->failed ? TC_ETYPE : fail(w, "reply", "not a struct or container kind");
    }
}

int
tc_codec_end(tc_codec_writer_t *w)
{
    if (w->failed) {
        return TC_ETYPE;
    }
    if (w->depth == 0) {
        return fail(w, "reply", "end() with no struct, list, set or map open");
    }
    tc_codec_frame_t *fr = &w->frames[w->depth];
    if (fr->kind == TC_KIND_STRUCT) {
        const tc_struct_t *st = fr->st;
        for (uint16_t i = 0; st->has_required && i < st->nfields; i++) {
            if (st->fields[i].req == TC_REQ_REQUIRED && !bit(fr->seen, i)) {
                return failf(w, st->name, "required field '%s' is not set", st->fields[i].name);
            }
        }
        /* an empty union is valid on the wire (Apache C++ writes one); slot() refused a second */
        TC_ASSERT(!fr->one || fr->written <= 1);
        w->p->ops->write_field_stop(w->p);
        w->p->ops->write_struct_end(w->p);
    } else {
        if (fr->written != fr->want) {
            return failf(w, kind_name(fr->kind), "%zu %s declared, %zu written", fr->n,
                         fr->kind == TC_KIND_MAP ? "entries" : "elements",
                         fr->kind == TC_KIND_MAP ? fr->written / 2 : fr->written);
        }
    }
    w->depth--;
    return TC_OK;
}

int
tc_codec_finish(tc_codec_writer_t *w)
{
    if (w->failed) {
        return TC_ETYPE;
    }
    if (w->depth > 0) {
        return failf(w, "reply", "%u value(s) begun and not ended", w->depth);
    }
    if (TC_UNLIKELY(w->p != NULL && tc_buf_refused(w->p->out))) {
        return too_large(w);
    }
    if (w->p != NULL) {
        w->p->ops->write_field_stop(w->p);
        w->p->ops->write_struct_end(w->p);
    }
    return TC_OK;
}
