/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compiles the resolved IDL tables (see docs/idl.md for their shape) into
 * the immutable descriptors of schema/schema.h, once per load.
 */
#include "bridge/lua_schema.h"

#include "bridge/lua_value.h"
#include "schema/codec.h"
#include "schema/uuid.h"

#include <lauxlib.h>
#include <string.h>

#define SCHEMA_MT "thriftcorn.schema"

typedef struct compiler {
    lua_State *L;
    tc_schema_t *s;
    int ud;      /* stack index of the schema userdata */
    int memo;    /* stack index of {def table = light userdata descriptor} */
    int mts;     /* metatable registry */
    int defs;    /* defaults registry */
    int names;   /* field names registry */
    int live;    /* stack index of the registry of live definitions (set_descriptor()) */
    int owners;  /* stack index of the registry {definition table = schema userdata} */
    int types;   /* stack index of {type table = light userdata tc_type_t compiled from it} */
    int heights; /* stack index of {type table or light userdata struct = its height} */
    int pending; /* stack index of the structdefs whose defaults compile last, in a sequence */
    lua_Integer npending;
    int depth;  /* compile_type() calls under way: types through structs, lists, maps */
    int vdepth; /* c_value() calls under way: a default's containers and structs */
} compiler_t;

/*
 * How deep compile_type() may recurse: far beyond any real IDL (a value can
 * be at most 256 levels deep on the wire anyway), and far within a handler
 * thread's C stack, which a chain of thousands of structs would overflow.
 * The limit holds for the height of every type (the longest way down
 * through its fields and elements, a struct met again on the way counting
 * 1), so that whether a doc compiles does not depend on the order the
 * structs are met in: that is the order of a Lua table's keys, which
 * changes from one process to the next. (Structs that hold themselves
 * through others still give heights that depend on that order.)
 */
#define COMPILE_DEPTH_MAX 1000

static const tc_struct_t *compile_struct(compiler_t *c, int idx, int *height);
static int compile_type_at(compiler_t *c, int idx, tc_type_t *out);

/*
 * lua_getfield() without metamethods: the doc is plain tables from the IDL
 * loader, and a metamethod could hand back a value nothing keeps alive
 * (field_string() returns a pointer into the string it pops).
 */
static int
rawfield(lua_State *L, int idx, const char *key)
{
    idx = lua_absindex(L, idx);
    lua_pushstring(L, key);
    return lua_rawget(L, idx);
}

/* lua_setfield() without metamethods: the value on top goes to 'key' of the table at 'idx'. */
static void
rawsetfield(lua_State *L, int idx, const char *key)
{
    idx = lua_absindex(L, idx);
    lua_pushstring(L, key);
    lua_insert(L, -2);
    lua_rawset(L, idx);
}

/*
 * Every compiled definition table, by its descriptor, with weak values: a
 * descriptor is taken from a table only if the table is the one it was
 * compiled into. A copy of '_c' in another table, or a stale one whose
 * schema was freed, is refused, not read.
 */
static const char live_key = 0;

static void
push_live(lua_State *L)
{
    tc_lua_value_registry(L, &live_key); /* weak values, as the codec's registries */
}

/*
 * The schema userdata that owns each compiled definition table, with weak
 * keys (an ephemeron): the descriptors of a table live as long as the
 * table, whatever Lua code does to its fields ('_schema' removed, say).
 */
static const char owners_key = 0;

static void
push_owners(lua_State *L)
{
    tc_lua_weak_registry(L, &owners_key, "k");
}

/* Give the table at 'idx' its descriptor 'd' under 'key', and register it and its owner. */
static void
set_descriptor(compiler_t *c, int idx, const char *key, void *d)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    lua_pushlightuserdata(L, d);
    rawsetfield(L, idx, key);
    lua_pushvalue(L, idx);
    lua_rawsetp(L, c->live, d);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, c->ud);
    lua_rawset(L, c->owners);
}

static int
schema_gc(lua_State *L)
{
    tc_schema_t **sp = luaL_checkudata(L, 1, SCHEMA_MT);
    tc_schema_unref(*sp);
    *sp = NULL;
    return 0;
}

/*
 * The doc's value at 'idx' must be a table before rawfield() reads it: a
 * raw read of anything else is undefined (a crash), and a doc may be any
 * Lua value a handler built.
 */
static void
check_doc_table(lua_State *L, int idx, const char *what)
{
    if (lua_type(L, idx) != LUA_TTABLE) {
        luaL_error(L, "thriftcorn.core.compile: %s is not a table (got %s)", what,
                   luaL_typename(L, idx));
    }
}

static const char *
field_string(lua_State *L, int idx, const char *key, const char *what)
{
    if (rawfield(L, idx, key) != LUA_TSTRING) {
        luaL_error(L, "thriftcorn.core.compile: %s has no string '%s'", what, key);
    }
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* the table keeps the string alive (a raw read) */
    return s;
}

static const struct {
    const char *name;
    tc_kind_t kind;
} base_kinds[] = {
    {"bool", TC_KIND_BOOL},     {"byte", TC_KIND_BYTE},     {"i8", TC_KIND_BYTE},
    {"i16", TC_KIND_I16},       {"i32", TC_KIND_I32},       {"i64", TC_KIND_I64},
    {"double", TC_KIND_DOUBLE}, {"string", TC_KIND_STRING}, {"binary", TC_KIND_BINARY},
    {"uuid", TC_KIND_UUID},     {"enum", TC_KIND_ENUM},
};

/* For plugin signatures: the enum's full name, which the wire does not carry. */
static void
enum_name(compiler_t *c, int idx, tc_type_t *out)
{
    lua_State *L = c->L;
    if (rawfield(L, idx, "enum") == LUA_TTABLE) {
        if (rawfield(L, -1, "fullname") == LUA_TSTRING) {
            const char *en = lua_tostring(L, -1);
            out->enum_name = tc_schema_strdup(c->s, en, strlen(en));
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* The height recorded for the key on top of the stack (popped), 0 if none. */
static int
height_of(compiler_t *c)
{
    lua_State *L = c->L;
    lua_rawget(L, c->heights);
    int h = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return h;
}

static void
too_deep(compiler_t *c)
{
    luaL_error(c->L,
               "types nest more than %d deep (structs, lists, sets and maps within each other)",
               COMPILE_DEPTH_MAX);
}

/* Fill 'out' from the type table at 'idx'. Returns the type's height. */
static int
compile_type(compiler_t *c, int idx, tc_type_t *out)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 6, "thriftcorn: nested types");
    check_doc_table(L, idx, "a type");
    /*
     * A type table met before (a typedef used twice) gives a copy of what
     * it compiled to, whose element types are shared: compiled anew each
     * time, a chain of typedefs that each use the one before twice
     * (map<T1, T1>, map<T2, T2>, ...) would take 2^n steps and memory.
     */
    lua_pushvalue(L, idx);
    if (lua_rawget(L, c->types) == LUA_TLIGHTUSERDATA) {
        *out = *(const tc_type_t *)lua_touserdata(L, -1);
        lua_pop(L, 1);
        lua_pushvalue(L, idx);
        return height_of(c);
    }
    lua_pop(L, 1);
    if (c->depth >= COMPILE_DEPTH_MAX) {
        too_deep(c);
    }
    c->depth++;
    int h = compile_type_at(c, idx, out);
    c->depth--;
    if (h > COMPILE_DEPTH_MAX) {
        too_deep(c);
    }
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, out); /* the schema's memory: it outlives the compile */
    lua_rawset(L, c->types);
    lua_pushvalue(L, idx);
    lua_pushinteger(L, h);
    lua_rawset(L, c->heights);
    return h;
}

static int
compile_type_at(compiler_t *c, int idx, tc_type_t *out)
{
    lua_State *L = c->L;
    const char *tt = field_string(L, idx, "ttype", "a type");
    for (size_t i = 0; i < TC_ARRAY_LEN(base_kinds); i++) {
        if (strcmp(tt, base_kinds[i].name) == 0) {
            tc_schema_type_base(out, base_kinds[i].kind);
            if (base_kinds[i].kind == TC_KIND_ENUM) {
                enum_name(c, idx, out);
            }
            return 1;
        }
    }
    memset(out, 0, sizeof(*out));
    int h = 0;
    if (strcmp(tt, "list") == 0 || strcmp(tt, "set") == 0) {
        tc_kind_t kind = tt[0] == 'l' ? TC_KIND_LIST : TC_KIND_SET;
        tc_schema_type_base(out, kind);
        tc_type_t *elem = tc_schema_alloc(c->s, sizeof(*elem));
        rawfield(L, idx, "elem");
        h = compile_type(c, -1, elem);
        lua_pop(L, 1);
        out->elem = elem;
    } else if (strcmp(tt, "map") == 0) {
        tc_schema_type_base(out, TC_KIND_MAP);
        tc_type_t *key = tc_schema_alloc(c->s, sizeof(*key));
        tc_type_t *val = tc_schema_alloc(c->s, sizeof(*val));
        rawfield(L, idx, "key");
        h = compile_type(c, -1, key);
        rawfield(L, idx, "value");
        int hv = compile_type(c, -1, val);
        h = hv > h ? hv : h;
        lua_pop(L, 2);
        out->elem = key;
        out->value = val;
    } else if (strcmp(tt, "struct") == 0) {
        tc_schema_type_base(out, TC_KIND_STRUCT);
        rawfield(L, idx, "struct");
        out->st = compile_struct(c, -1, &h);
        lua_pop(L, 1);
    } else {
        luaL_error(L, "thriftcorn.core.compile: unknown ttype '%s'", tt);
    }
    return h + 1;
}

static tc_req_t
parse_req(lua_State *L, int idx)
{
    rawfield(L, idx, "required");
    const char *r = lua_tostring(L, -1);
    tc_req_t req = TC_REQ_DEFAULT;
    if (r != NULL && strcmp(r, "required") == 0) {
        req = TC_REQ_REQUIRED;
    } else if (r != NULL && strcmp(r, "optional") == 0) {
        req = TC_REQ_OPTIONAL;
    }
    lua_pop(L, 1);
    return req;
}

/* Compile field 'i' of struct 'sname' from the table at 'fidx'. Returns its type's height. */
static int
compile_field(compiler_t *c, tc_field_t *f, int fidx, int dtab, int i, const char *sname)
{
    lua_State *L = c->L;
    check_doc_table(L, fidx, "a field");
    rawfield(L, fidx, "id");
    int isnum;
    lua_Integer id = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum || id < INT16_MIN || id > INT16_MAX) {
        luaL_error(L, "thriftcorn.core.compile: a field of %s has no valid id", sname);
    }
    f->id = (int16_t)id;
    const char *fname = field_string(L, fidx, "name", "a field");
    f->name_len = strlen(fname);
    f->name = tc_schema_strdup(c->s, fname, f->name_len);
    f->req = (uint8_t)parse_req(L, fidx);
    rawfield(L, fidx, "type");
    int h = compile_type(c, -1, &f->type);
    lua_pop(L, 1);
    if (rawfield(L, fidx, "default") != LUA_TNIL) {
        f->has_default = true;
        lua_rawseti(L, dtab, i + 1);
    } else {
        lua_pop(L, 1);
    }
    return h;
}

/* ---- IDL defaults as C values, for the readers of C handlers ---- */

static void c_value(compiler_t *c, int idx, const tc_type_t *t, tc_value_t *out);
static void c_value_at(compiler_t *c, int idx, const tc_type_t *t, tc_value_t *out);

/* Entries of the table at 'idx' (sets and maps are keyed tables). */
static size_t
table_count(lua_State *L, int idx)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        n++;
        lua_pop(L, 1);
    }
    return n;
}

/* The 16 bytes of the uuid default at 'idx' (thriftcorn.idl checked its 8-4-4-4-12 form). */
static const uint8_t *
c_uuid(compiler_t *c, int idx)
{
    size_t len = 0;
    const char *text = lua_type(c->L, idx) == LUA_TSTRING ? lua_tolstring(c->L, idx, &len) : "";
    uint8_t *u = tc_schema_alloc(c->s, 16);
    if (tc_uuid_parse(text, len, u) != TC_OK) {
        luaL_error(c->L, "thriftcorn.core.compile: a uuid default is not a uuid");
    }
    return u;
}

/* A list (a sequence), set ({elem = true}) or map ({key = value}) default. */
static void
c_seq(compiler_t *c, int idx, const tc_type_t *t, tc_value_t *out)
{
    lua_State *L = c->L;
    bool map = t->kind == TC_KIND_MAP;
    size_t n = t->kind == TC_KIND_LIST ? (size_t)lua_rawlen(L, idx) : table_count(L, idx);
    size_t count = map ? 2 * n : n;
    tc_seq_t *s = tc_schema_alloc(c->s, sizeof(*s));
    s->type = t;
    s->n = n;
    s->items = count ? tc_schema_alloc(c->s, count * sizeof(tc_value_t)) : NULL;
    if (t->kind == TC_KIND_LIST) {
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i + 1);
            c_value(c, -1, t->elem, &s->items[i]);
            lua_pop(L, 1);
        }
    } else {
        size_t i = 0;
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            c_value(c, -2, t->elem, &s->items[map ? 2 * i : i]);
            if (map) {
                c_value(c, -1, t->value, &s->items[2 * i + 1]);
            }
            i++;
            lua_pop(L, 1);
        }
    }
    out->u.seq = s;
}

/* A struct default: {field name = value}; fields it leaves out stay unset. */
static void
c_struct(compiler_t *c, int idx, const tc_struct_t *st, tc_value_t *out)
{
    lua_State *L = c->L;
    tc_view_t *v = tc_schema_alloc(c->s, sizeof(*v));
    v->st = st;
    v->n = 0;
    v->cap = st->nfields;
    v->fields = tc_schema_alloc(c->s, sizeof(tc_view_field_t) * (st->nfields ? st->nfields : 1u));
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t len;
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        for (uint16_t i = 0; name != NULL && i < st->nfields; i++) {
            const tc_field_t *f = &st->fields[i];
            if (f->name != NULL && f->name_len == len && memcmp(f->name, name, len) == 0) {
                v->fields[v->n].idx = i;
                c_value(c, -1, &f->type, &v->fields[v->n++].val);
                break;
            }
        }
        lua_pop(L, 1);
    }
    out->u.view = v;
}

/* The resolved default at 'idx' (a value thriftcorn.idl checked against 't') into 'out'. */
static void
c_value(compiler_t *c, int idx, const tc_type_t *t, tc_value_t *out)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 6, "thriftcorn: nested default value");
    /*
     * a recursive struct's default may nest without end (a table that holds
     * itself, in a doc made by hand): stopped before the C stack is
     */
    if (c->vdepth >= COMPILE_DEPTH_MAX) {
        luaL_error(L,
                   "thriftcorn.core.compile: a default value nests more than %d deep (or holds "
                   "itself)",
                   COMPILE_DEPTH_MAX);
    }
    c->vdepth++;
    c_value_at(c, idx, t, out);
    c->vdepth--;
}

static void
c_value_at(compiler_t *c, int idx, const tc_type_t *t, tc_value_t *out)
{
    lua_State *L = c->L;
    out->kind = t->kind;
    switch ((tc_kind_t)t->kind) {
    case TC_KIND_BOOL:
        out->u.i = lua_toboolean(L, idx);
        break;
    case TC_KIND_BYTE:
    case TC_KIND_I16:
    case TC_KIND_I32:
    case TC_KIND_I64:
    case TC_KIND_ENUM:
        out->u.i = lua_tointeger(L, idx);
        break;
    case TC_KIND_DOUBLE:
        out->u.d = lua_tonumber(L, idx);
        break;
    case TC_KIND_STRING:
    case TC_KIND_BINARY: {
        size_t len = 0;
        const char *str = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : "";
        out->u.bin.ptr = tc_schema_strdup(c->s, str, len);
        out->u.bin.len = len;
        break;
    }
    case TC_KIND_UUID:
        out->u.uuid = c_uuid(c, idx);
        break;
    case TC_KIND_LIST:
    case TC_KIND_SET:
    case TC_KIND_MAP:
        if (lua_type(L, idx) != LUA_TTABLE) {
            luaL_error(L, "thriftcorn.core.compile: a container default is not a table");
        }
        c_seq(c, idx, t, out);
        break;
    case TC_KIND_STRUCT:
        if (lua_type(L, idx) != LUA_TTABLE) {
            luaL_error(L, "thriftcorn.core.compile: a struct default is not a table");
        }
        c_struct(c, idx, t->st, out);
        break;
    }
}

/* ---- structs, functions, services ---- */

/*
 * The struct of the structdef at 'idx', compiled once per compile; into
 * '*height' (if not NULL) the greatest height of its fields' types, 0 while
 * it is being compiled. Its defaults compile in compile_defaults(), once
 * every struct they may hold has all its fields.
 */
static const tc_struct_t *
compile_struct(compiler_t *c, int idx, int *height)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    check_doc_table(L, idx, "a struct");
    lua_pushvalue(L, idx);
    if (lua_rawget(L, c->memo) == LUA_TLIGHTUSERDATA) {
        const tc_struct_t *st = lua_touserdata(L, -1);
        if (height != NULL) {
            *height = height_of(c); /* pops the descriptor, its key */
        } else {
            lua_pop(L, 1);
        }
        return st;
    }
    lua_pop(L, 1);
    luaL_checkstack(L, 10, "thriftcorn: nested structs");

    const char *name = field_string(L, idx, "fullname", "a struct");
    const char *kind = field_string(L, idx, "kind", "a struct");
    tc_struct_kind_t sk = strcmp(kind, "union") == 0       ? TC_STRUCT_UNION
                          : strcmp(kind, "exception") == 0 ? TC_STRUCT_EXCEPTION
                                                           : TC_STRUCT_PLAIN;
    if (rawfield(L, idx, "fields") != LUA_TTABLE) {
        luaL_error(L, "thriftcorn.core.compile: struct %s has no fields table", name);
    }
    int fields = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, fields);
    if (n > INT16_MAX) {
        luaL_error(L, "thriftcorn.core.compile: struct %s has too many fields", name);
    }
    tc_struct_t *st = tc_schema_struct_new(c->s, name, sk, (uint16_t)n);
    /* memoize first: a struct may contain itself */
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, st);
    lua_rawset(L, c->memo);

    lua_newtable(L); /* defaults by field index */
    int dtab = lua_gettop(L);
    int h = 0;
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, fields, i + 1);
        int fh = compile_field(c, &st->fields[i], lua_gettop(L), dtab, (int)i, name);
        h = fh > h ? fh : h;
        lua_pop(L, 1);
    }
    lua_pushlightuserdata(L, st);
    lua_pushinteger(L, h);
    lua_rawset(L, c->heights);
    if (height != NULL) {
        *height = h;
    }
    if (tc_schema_struct_seal(c->s, st) != TC_OK) {
        luaL_error(L, "thriftcorn.core.compile: struct %s has a duplicate field id", name);
    }
    if (st->has_defaults) {
        lua_pushvalue(L, idx);
        lua_rawseti(L, c->pending, ++c->npending);
    }
    /* what the decoder needs per Lua state: defaults and the instance metatable */
    lua_pushvalue(L, dtab);
    rawsetfield(L, idx, "_defaults");
    lua_pushvalue(L, dtab);
    lua_rawsetp(L, c->defs, st);
    lua_createtable(L, st->nfields, 1);
    for (uint16_t i = 0; i < st->nfields; i++) {
        lua_pushlstring(L, st->fields[i].name, st->fields[i].name_len);
        lua_rawseti(L, -2, i + 1);
    }
    if (rawfield(L, idx, "mt") == LUA_TTABLE) {
        lua_rawseti(L, -2, 0); /* the decoder's metatable, found with the names */
    } else {
        lua_pop(L, 1);
    }
    lua_pushvalue(L, -1);
    rawsetfield(L, idx, "_names");
    lua_rawsetp(L, c->names, st);
    if (rawfield(L, idx, "mt") == LUA_TTABLE) {
        lua_rawsetp(L, c->mts, st);
    } else {
        lua_pop(L, 1);
    }
    set_descriptor(c, idx, "_c", st);
    lua_pushvalue(L, c->ud);
    rawsetfield(L, idx, "_schema");
    lua_settop(L, fields - 1);
    return st;
}

static const tc_function_t *
compile_function(compiler_t *c, int idx, const char *svc_name)
{
    lua_State *L = c->L;
    check_doc_table(L, idx, "a function");
    if (rawfield(L, idx, "_cfunc") == LUA_TLIGHTUSERDATA) {
        const tc_function_t *fn = lua_touserdata(L, -1);
        lua_pop(L, 1);
        lua_pushvalue(L, idx);
        if (lua_rawget(L, c->memo) == LUA_TBOOLEAN) { /* compiled by this call */
            lua_pop(L, 1);
            return fn;
        }
        lua_pop(L, 1);
    } else {
        lua_pop(L, 1);
    }
    const char *name = field_string(L, idx, "name", "a function");
    const char *owner = svc_name;
    if (rawfield(L, idx, "service") == LUA_TTABLE) {
        owner = field_string(L, -1, "fullname", "a service");
    }
    lua_pop(L, 1);
    tc_function_t *fn = tc_schema_function_new(c->s, owner, name);
    rawfield(L, idx, "oneway");
    fn->oneway = lua_toboolean(L, -1);
    rawfield(L, idx, "args");
    fn->args = compile_struct(c, -1, NULL);
    rawfield(L, idx, "result");
    fn->result = compile_struct(c, -1, NULL);
    lua_pop(L, 3);
    set_descriptor(c, idx, "_cfunc", fn);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, c->memo);
    return fn;
}

static void
compile_service(compiler_t *c, int idx)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    check_doc_table(L, idx, "a service");
    const char *name = field_string(L, idx, "fullname", "a service");
    if (rawfield(L, idx, "all_functions") != LUA_TTABLE) {
        luaL_error(L, "thriftcorn.core.compile: service %s has no all_functions", name);
    }
    int fns = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, fns);
    tc_service_t *svc = tc_schema_service_new(c->s, name, (size_t)n);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, fns, i + 1);
        svc->functions[i] = compile_function(c, lua_gettop(L), name);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    set_descriptor(c, idx, "_csvc", svc);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, c->memo); /* for undo() */
    lua_pushvalue(L, c->ud);
    rawsetfield(L, idx, "_schema");
}

/* Call 'fn' on every value of the table field 'key' of the table at 'idx'. */
static void
each_value(compiler_t *c, int idx, const char *key, void (*fn)(compiler_t *, int))
{
    lua_State *L = c->L;
    if (rawfield(L, idx, key) == LUA_TTABLE) {
        int t = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            fn(c, lua_gettop(L));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void
compile_struct_cb(compiler_t *c, int idx)
{
    (void)compile_struct(c, idx, NULL);
}

static void
compile_doc(compiler_t *c, int idx)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "thriftcorn: include depth");
    check_doc_table(L, idx, "an include"); /* before 'memo' holds it: undo() reads its keys */
    lua_pushvalue(L, idx);
    if (lua_rawget(L, c->memo) != LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, c->memo);
    each_value(c, idx, "includes", compile_doc);
    each_value(c, idx, "structs", compile_struct_cb);
    each_value(c, idx, "services", compile_service);
}

/*
 * The C defaults of the structs compile_struct() left pending: a default
 * may hold a struct that was still being compiled when its field was, so
 * only now do all of them have their fields.
 */
static void
compile_defaults(compiler_t *c)
{
    lua_State *L = c->L;
    for (lua_Integer k = 1; k <= c->npending; k++) {
        lua_rawgeti(L, c->pending, k);
        int idx = lua_gettop(L);
        lua_pushvalue(L, idx);
        lua_rawget(L, c->memo);
        tc_struct_t *st = lua_touserdata(L, -1);
        rawfield(L, idx, "_defaults");
        for (uint16_t i = 0; i < st->nfields; i++) {
            if (st->fields[i].has_default) {
                tc_value_t *d = tc_schema_alloc(c->s, sizeof(*d));
                lua_rawgeti(L, -1, i + 1);
                c_value(c, -1, &st->fields[i].type, d);
                lua_pop(L, 1);
                st->fields[i].dflt = d;
            }
        }
        lua_settop(L, idx - 1);
    }
}

/* compile_doc() under lua_pcall: its arguments are the compiler's tables, then the doc. */
static int
compile_step(lua_State *L)
{
    compiler_t *c = lua_touserdata(L, 9);
    c->ud = 1;
    c->memo = 2;
    c->mts = 3;
    c->defs = 4;
    c->names = 5;
    c->live = 6;
    c->owners = 7;
    lua_newtable(L);
    c->types = lua_gettop(L);
    lua_newtable(L);
    c->heights = lua_gettop(L);
    lua_newtable(L);
    c->pending = lua_gettop(L);
    c->npending = 0;
    compile_doc(c, 8);
    compile_defaults(c);
    return 0;
}

/*
 * A compile that failed: no definition it reached keeps a descriptor, so
 * that none of them (a struct compiled whole inside one that failed, say)
 * can lead to one left half-built.
 */
static void
undo(lua_State *L, int memo, int live, int owners)
{
    static const char *const keys[] = {"_c", "_cfunc", "_csvc"};
    lua_pushnil(L);
    while (lua_next(L, memo) != 0) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, owners); /* no key of 'memo' is added or removed: next() goes on */
        for (size_t i = 0; i < TC_ARRAY_LEN(keys); i++) {
            if (rawfield(L, -1, keys[i]) == LUA_TLIGHTUSERDATA) {
                lua_pushnil(L);
                lua_rawsetp(L, live, lua_touserdata(L, -2));
                lua_pushnil(L);
                rawsetfield(L, -3, keys[i]);
            }
            lua_pop(L, 1);
        }
    }
}

int
tc_lua_schema_compile(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    compiler_t c;
    c.depth = 0;
    c.vdepth = 0;
    c.L = L;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): the userdata holds a pointer */
    tc_schema_t **sp = lua_newuserdatauv(L, sizeof(*sp), 0);
    *sp = NULL;
    if (luaL_newmetatable(L, SCHEMA_MT)) {
        lua_pushcfunction(L, schema_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "thriftcorn.schema");
        lua_setfield(L, -2, "__name");
    }
    lua_setmetatable(L, -2);
    *sp = c.s = tc_schema_new();
    int ud = lua_gettop(L);
    lua_newtable(L);
    int memo = lua_gettop(L);
    tc_lua_value_registry(L, &tc_lua_value_mt_key);
    tc_lua_value_registry(L, &tc_lua_value_defaults_key);
    tc_lua_value_registry(L, &tc_lua_value_names_key);
    push_live(L);
    int live = lua_gettop(L);
    push_owners(L);
    int owners = lua_gettop(L);
    lua_pushcfunction(L, compile_step);
    for (int i = ud; i <= owners; i++) {
        lua_pushvalue(L, i);
    }
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, &c);
    if (lua_pcall(L, 9, 0, 0) != LUA_OK) {
        undo(L, memo, live, owners);
        return lua_error(L);
    }
    lua_settop(L, ud);
    return 1;
}

/*
 * The descriptor a compiled definition holds under 'key', or NULL. Each kind
 * has its own key, so that a servicedef or funcdef passed where a structdef
 * belongs is refused, not read as the wrong C type; and the table must be
 * the one the descriptor was compiled into (push_live()).
 */
static void *
descriptor(lua_State *L, int idx, const char *key)
{
    void *d = NULL;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE) {
        if (rawfield(L, idx, key) == LUA_TLIGHTUSERDATA) {
            d = lua_touserdata(L, -1);
            push_live(L);
            lua_rawgetp(L, -1, d);
            d = lua_rawequal(L, -1, idx) ? d : NULL; /* the very table it was compiled into */
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
    }
    return d;
}

const tc_struct_t *
tc_lua_schema_check_struct(lua_State *L, int idx)
{
    const tc_struct_t *st = descriptor(L, idx, "_c");
    if (st == NULL) {
        luaL_argerror(L, idx, "expected a struct from thriftcorn.load()");
    }
    return st;
}

const tc_service_t *
tc_lua_schema_to_service(lua_State *L, int idx)
{
    return descriptor(L, idx, "_csvc");
}

const tc_function_t *
tc_lua_schema_to_function(lua_State *L, int idx)
{
    return descriptor(L, idx, "_cfunc");
}

tc_schema_t *
tc_lua_schema_owner(lua_State *L, int idx)
{
    tc_schema_t *s = NULL;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE) {
        push_owners(L);
        lua_pushvalue(L, idx);
        lua_rawget(L, -2);
        tc_schema_t **sp = luaL_testudata(L, -1, SCHEMA_MT);
        s = sp != NULL ? *sp : NULL;
        lua_pop(L, 2);
    }
    return s;
}
