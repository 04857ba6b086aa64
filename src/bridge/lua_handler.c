/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The call path of a Lua handler: message header -> function -> arguments
 * decoded into Lua values -> protected call -> result, declared exception
 * or TApplicationException encoded as the reply.
 */
#include "bridge/lua_handler.h"

#include "bridge/lua_alloc.h"
#include "bridge/lua_api.h"
#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "bridge/lua_value.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "protocol/message.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Stack slots that stay in place for the life of the state: the codec's
 * registries (metatables, defaults, field names) among them, so that a call
 * looks none of them up, and the functions that decode and encode under
 * lua_pcall, with the registries as their upvalues.
 */
enum {
    SLOT_FUNCS = 1,
    SLOT_MSGH = 2,
    SLOT_MTS = 3,
    SLOT_DEFS = 4,
    SLOT_NAMES = 5,
    SLOT_DECODE = 6,
    SLOT_ENCODE = 7,
    SLOT_BASE = 7
};

static const tc_lua_codec_t codec = {SLOT_MTS, SLOT_DEFS, SLOT_NAMES};

static int decode_in_pcall(lua_State *L);
static int encode_in_pcall(lua_State *L);
static void collect(tc_lua_handler_t *h);

struct tc_lua_handler {
    lua_State *L;
    tc_header_t *header;     /* the THeader of the call being handled, or NULL */
    const tc_service_t *svc; /* owned by 'schema' */
    /*
     * A reference of its own: the module's tables may lose theirs to a
     * handler that compiles its IDL once more (thriftcorn.core.compile())
     */
    tc_schema_t *schema;
    bool expose_errors;
    size_t collect_at; /* a call that makes this many bytes is followed by a collection */
};

/*
 * Message handler for handler calls: a declared exception (a table with a
 * metatable) passes through untouched; anything else gets a traceback.
 */
static int
msgh(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
        lua_pop(L, 1);
        return 1;
    }
    return tc_lua_state_traceback(L);
}

/* True when 'name' is in the NULL-terminated list 'names' (NULL: empty). */
static bool
provided(const char *const *names, const char *name)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        if (strcmp(names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether 'name' is the name of a function of the service ('fns': its all_functions). */
static bool
is_method(lua_State *L, int fns, const char *name)
{
    bool found = false;
    lua_Integer n = luaL_len(L, fns);
    for (lua_Integer i = 1; i <= n && !found; i++) {
        lua_rawgeti(L, fns, i);
        lua_getfield(L, -1, "name");
        found = strcmp(lua_tostring(L, -1), name) == 0;
        lua_pop(L, 2);
    }
    return found;
}

/*
 * Runs in a protected call: the name of a function of handler table 1
 * spelled nearly as method 3 ('Ping', 'pnig'), by thriftcorn.spell as the
 * config's unknown settings, or nil. Not the name of another method of the
 * service (all_functions 2), which is that method's function.
 */
static int
nearest_function(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn.spell");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "nearest");
    lua_pushvalue(L, 3);
    lua_newtable(L);
    int names = lua_gettop(L);
    lua_Integer k = 0;
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_isfunction(L, -1) &&
            !is_method(L, 2, lua_tostring(L, -2))) {
            lua_pushvalue(L, -2);
            lua_rawseti(L, names, ++k);
        }
        lua_pop(L, 1);
    }
    lua_call(L, 2, 1);
    return 1;
}

/*
 * Raises the error of method 'name', which the handler module at 'path'
 * ('handler') has no function for, with what is on top of the stack: what
 * the module holds under that name instead, or if nothing, a function of
 * the module spelled nearly as it (nearest_function()). The hint is left
 * out when it cannot be had (the module replaced 'require', say): it never
 * stands in the way of the error it helps with.
 */
static int
no_function(lua_State *L, int handler, int fns, const char *path, const char *name, bool plugin)
{
    const char *nor = plugin ? " (nor has the plugin)" : "";
    if (!lua_isnil(L, -1)) {
        return luaL_error(L, "%s: handler.%s is a %s, not a function%s", path, name,
                          luaL_typename(L, -1), nor);
    }
    lua_pushcfunction(L, nearest_function);
    lua_pushvalue(L, handler);
    lua_pushvalue(L, fns);
    lua_pushstring(L, name);
    bool found = lua_pcall(L, 3, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING;
    const char *near = found ? lua_tostring(L, -1) : NULL;
    return luaL_error(L, "%s: no function for method '%s'%s%s%s%s", path, name, nor,
                      near != NULL ? " (did you mean '" : "", near != NULL ? near : "",
                      near != NULL ? "'?)" : "");
}

/*
 * Load the IDL of cfg's service and push the service's table, above the
 * thriftcorn module and the IDL's; returns its index. Runs in setup()'s
 * protected call: an IDL without the service raises an error.
 */
static int
push_service(lua_State *L, const tc_config_t *cfg)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn");
    lua_call(L, 1, 1);
    int tc = lua_gettop(L);
    lua_createtable(L, (int)cfg->ninclude_dirs, 0);
    for (size_t i = 0; i < cfg->ninclude_dirs; i++) {
        lua_pushstring(L, cfg->include_dirs[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, tc, "include_dirs");
    lua_getfield(L, tc, "load");
    lua_pushstring(L, cfg->service.idl);
    lua_call(L, 1, 1);
    if (lua_getfield(L, -1, cfg->service.name) != LUA_TTABLE ||
        tc_lua_schema_to_service(L, -1) == NULL) {
        return luaL_error(L, "%s defines no such service", cfg->service.idl);
    }
    return lua_gettop(L);
}

/* Runs in a protected call: load IDL and handler, check them, leave the slots. */
static int
setup(lua_State *L)
{
    const tc_config_t *cfg = lua_touserdata(L, 1);
    const char *const *skip = lua_touserdata(L, 2);
    tc_lua_handler_t *h = lua_touserdata(L, 3);
    lua_settop(L, 0);
    lua_createtable(L, 0, 0); /* SLOT_FUNCS, filled below */
    lua_pushcfunction(L, msgh);
    tc_lua_codec_t k;
    tc_lua_value_codec_push(L, &k);
    if (k.mts != codec.mts || k.defs != codec.defs || k.names != codec.names) {
        return luaL_error(L, "thriftcorn: the codec's registries are not in their slots");
    }
    lua_CFunction coders[] = {decode_in_pcall, encode_in_pcall}; /* SLOT_DECODE, SLOT_ENCODE */
    for (size_t i = 0; i < TC_ARRAY_LEN(coders); i++) {
        lua_pushvalue(L, SLOT_MTS);
        lua_pushvalue(L, SLOT_DEFS);
        lua_pushvalue(L, SLOT_NAMES);
        lua_pushcclosure(L, coders[i], 3);
    }

    int svc = push_service(L, cfg);

    /* the handler module: a file returning a table of functions (optional with a plugin) */
    const char *path = cfg->service.handler;
    bool has_module = path != NULL && path[0] != '\0';
    if (!has_module) {
        lua_newtable(L);
    } else if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        return lua_error(L);
    } else {
        lua_call(L, 0, 1);
    }
    if (!lua_istable(L, -1)) {
        return luaL_error(L, "%s: the handler module must return a table of functions, got %s",
                          path, luaL_typename(L, -1));
    }
    int handler = lua_gettop(L);
    lua_getfield(L, svc, "all_functions");
    int fns = lua_gettop(L);
    lua_Integer n = luaL_len(L, fns);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, fns, i);
        lua_getfield(L, -1, "name");
        const char *name = lua_tostring(L, -1);
        if (provided(skip, name)) {
            lua_pop(L, 2); /* the C plugin serves it */
            continue;
        }
        if (lua_getfield(L, handler, name) != LUA_TFUNCTION) {
            if (!has_module) {
                return luaL_error(L,
                                  "method '%s' is handled by neither the plugin %s nor a Lua "
                                  "handler (service.handler is not set)",
                                  name, cfg->service.plugin);
            }
            return no_function(L, handler, fns, path, name, skip != NULL);
        }
        lua_rawseti(L, SLOT_FUNCS, i);
        lua_pop(L, 2);
    }
    lua_pushvalue(L, svc);
    lua_setfield(L, SLOT_FUNCS, "service"); /* keeps the module alive */
    /* taken together, after the handler module's own code ran */
    tc_schema_t *schema = tc_lua_schema_owner(L, svc);
    h->svc = tc_lua_schema_to_service(L, svc);
    if (schema == NULL || h->svc == NULL) {
        return luaL_error(L, "%s: the service is no longer compiled", cfg->service.idl);
    }
    h->schema = tc_schema_ref(schema);
    /* thriftcorn.request_headers() finds the call's THeader through this slot */
    lua_pushlightuserdata(L, &h->header);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tc_lua_api_header_key);
    lua_settop(L, SLOT_BASE);
    return SLOT_BASE; /* the slots become the bottom of the state's stack */
}

/*
 * 'err' (set) again, after "max_lua_memory (N) is too small to load the handlers: ".
 * A memory error that passed through Lua code on its way (LPeg's, re-raised
 * by the IDL loader) carries a place in thriftcorn's own modules and their
 * traceback, which say nothing about the config: the limit is the cause.
 */
static void
too_small(size_t limit, tc_err_t *err)
{
    if (err != NULL && strstr(err->msg, "not enough memory") != NULL) {
        (void)snprintf(err->msg, sizeof(err->msg), "not enough memory");
    }
    tc_err_prefix(err, "max_lua_memory (%zu) is too small to load the handlers: ", limit);
}

/*
 * The state is held to max_lua_memory from its first block: what the
 * handlers need once loaded counts, as what a call adds to it does. Every
 * step that may allocate runs protected (a refusal outside a protected call
 * would end the process).
 */
tc_lua_handler_t *
tc_lua_handler_new(const tc_config_t *cfg, const char *const *provided, tc_err_t *err)
{
    lua_State *L = tc_lua_state_new_limited(cfg->max_lua_memory, err);
    if (L == NULL) {
        if (cfg->max_lua_memory > 0) {
            too_small(cfg->max_lua_memory, err);
        }
        return NULL;
    }
    /* a call's values die young: generational collection suits handler states */
    lua_gc(L, LUA_GCGEN, 0, 0);
    tc_lua_handler_t *h = tc_xcalloc(1, sizeof(*h));
    h->L = L;
    h->expose_errors = cfg->expose_errors;
    lua_pushcfunction(L, setup);
    lua_pushlightuserdata(L, (void *)cfg);
    lua_pushlightuserdata(L, (void *)provided);
    lua_pushlightuserdata(L, h);
    if (tc_lua_pcall(L, 3, SLOT_BASE, err) != TC_OK) {
        tc_lua_alloc_stats_t st;
        tc_lua_alloc_stats(L, &st);
        if (st.refused > 0) {
            too_small(cfg->max_lua_memory, err);
        }
        tc_lua_handler_free(h);
        return NULL;
    }
    collect(h); /* what loading left (the IDL's parse): the pace starts from what is alive */
    return h;
}

void
tc_lua_handler_free(tc_lua_handler_t *h)
{
    if (h == NULL) {
        return;
    }
    lua_close(h->L);
    tc_schema_unref(h->schema);
    free(h);
}

/* ---- the call ---- */

/*
 * "not enough memory", with the limit when there is one: a handler state
 * that ran out ran into max_lua_memory, far more often than into the
 * system's end. Made in C, as the state may have no room left for a text.
 */
typedef struct memory_text {
    char text[64];
} memory_text_t;

static memory_text_t
memory_text(lua_State *L)
{
    memory_text_t t;
    size_t limit = tc_lua_alloc_limit(L);
    if (limit > 0) {
        (void)snprintf(t.text, sizeof(t.text), "not enough memory (max_lua_memory %zu)", limit);
    } else {
        (void)snprintf(t.text, sizeof(t.text), "not enough memory");
    }
    return t;
}

/*
 * A TApplicationException with 'len' bytes of 'msg' as its text. The text
 * is a Thrift string, which clients decode as UTF-8: a handler's error may
 * hold any bytes, so they are made UTF-8 (tc_log_utf8(): other bytes as
 * \xHH), cut between characters to the log's length at most.
 */
static void
write_appex_text(tc_proto_t *out, const tc_msg_hdr_t *m, int32_t type, const char *msg, size_t len)
{
    char text[TC_ERR_MSG_MAX];
    size_t n = tc_log_utf8(text, sizeof(text) - 1, msg, len);
    tc_message_write_appex(out, m->name, m->name_len, m->seqid, type, text, n);
}

static void
write_appex(tc_proto_t *out, const tc_msg_hdr_t *m, int32_t type, const char *msg)
{
    write_appex_text(out, m, type, msg, strlen(msg));
}

/* The exception field of 'fn' whose struct made the error at 'idx', or NULL. */
static const tc_field_t *
declared_exception(lua_State *L, int idx, const tc_function_t *fn)
{
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) {
        return NULL;
    }
    const tc_field_t *found = NULL;
    const tc_struct_t *res = fn->result;
    for (uint16_t i = 0; i < res->nfields && found == NULL; i++) {
        const tc_field_t *f = &res->fields[i];
        if (f->id == 0 || f->type.kind != TC_KIND_STRUCT) {
            continue;
        }
        lua_rawgetp(L, SLOT_MTS, f->type.st);
        if (lua_rawequal(L, -1, -2)) {
            found = f;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return found;
}

/*
 * Whether the error at 'idx' is a struct of a loaded IDL (its metatable is
 * one the codec knows) that is none of the method's exceptions. Only the
 * metatables are compared, and nothing is made (no memory is asked for
 * outside a protected call): a key of the registry may be the descriptor
 * of a schema freed since (compiled again), never to be read.
 */
static bool
undeclared(lua_State *L, int idx)
{
    bool found = false;
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) {
        return false;
    }
    lua_pushnil(L);
    while (!found && lua_next(L, SLOT_MTS) != 0) {
        found = lua_rawequal(L, -1, -3);
        lua_pop(L, found ? 2 : 1);
    }
    lua_pop(L, 1);
    return found;
}

/*
 * Push "Service.fn<what>: <the error at e>" ("Service.fn<what> raised
 * mod.Ex, which it does not declare: ..." for an undeclared() struct,
 * "Service.fn<what> raised the class mod.Ex, ..." for a struct class) and
 * set 'err' to it. A Lua string may hold NULs: the client gets all of its
 * bytes (returned, *len of them); the log line, a C string, shows each NUL
 * as \0.
 */
static int
protected_error_text(lua_State *L)
{
    lua_pushstring(L, lua_touserdata(L, 1));
    /*
     * a struct class (mod.Ex: thriftcorn.load() compiled it, so it holds its
     * descriptor under '_c'), not a value of it: its tostring() would give
     * only its address. Read raw: its metatable's fields are user code.
     */
    const char *name = tc_lua_value_class_name(L, 2);
    if (name != NULL) {
        lua_pushfstring(L, "%s raised the class %s, not a value of it (make one with %s{...})",
                        lua_tostring(L, 4), name, name);
        return 1;
    }
    int n = 1;
    /* an IDL struct the method does not declare: its name, from its metatable, said so */
    int t = lua_toboolean(L, 3) ? luaL_getmetafield(L, 2, "__name") : LUA_TNIL;
    if (t == LUA_TSTRING) {
        lua_pushliteral(L, " raised ");
        lua_insert(L, -2);
        lua_pushliteral(L, ", which it does not declare");
        n += 3;
    } else if (t != LUA_TNIL) {
        lua_pop(L, 1);
    }
    lua_pushliteral(L, ": ");
    luaL_tolstring(L, 2, NULL);
    lua_concat(L, n + 2);
    return 1;
}

static const char *
error_text(lua_State *L, int e, const char *service, const tc_function_t *fn, const char *what,
           tc_err_t *err, size_t *len)
{
    char head[TC_ERR_MSG_MAX];
    (void)snprintf(head, sizeof(head), "%s.%s%s", service, fn->name, what);
    bool foreign = undeclared(L, e);
    /*
     * __tostring and __name are user code, and the text needs memory the
     * state may not have (max_lua_memory): run protected, as the call was
     */
    lua_pushcfunction(L, protected_error_text);
    lua_pushlightuserdata(L, head);
    lua_pushvalue(L, e);
    lua_pushboolean(L, foreign);
    int status = lua_pcall(L, 3, 1, 0);
    if (status != LUA_OK) {
        lua_pop(L, 1);
        lua_pushnil(L); /* in the text's place */
        tc_err_set(err, TC_EINVAL, "%s: (error object is a %s value whose tostring raised%s%s)",
                   head, luaL_typename(L, e), status == LUA_ERRMEM ? ": " : "",
                   status == LUA_ERRMEM ? memory_text(L).text : "");
        *len = strlen(err->msg);
        return err->msg;
    }
    const char *text = lua_tolstring(L, -1, len);
    tc_lua_state_set_err(err, text, *len);
    return text;
}

/*
 * Decoding and encoding run in a protected call: they create Lua values
 * (memory can run out) and walk the handler's tables, which its own
 * metamethods may change under the walk ('invalid key to next'). Either
 * raises, and outside a protected call that would end the worker. The
 * codec's registries are the functions' upvalues (the slots of the
 * state's base are not those of the call), the value to encode argument 2.
 */
typedef struct coded {
    tc_proto_t *p;
    const tc_struct_t *st;
    const tc_field_t *f; /* encoding: the field of 'st' written */
    tc_err_t *err;
    int rc;
    uint64_t cost; /* decoding: the Lua memory the values were charged */
} coded_t;

static const tc_lua_codec_t codec_in_pcall = {lua_upvalueindex(1), lua_upvalueindex(2),
                                              lua_upvalueindex(3)};

static int
decode_in_pcall(lua_State *L)
{
    coded_t *x = lua_touserdata(L, 1);
    x->rc = tc_lua_value_decode_args_k(L, &codec_in_pcall, x->p, x->st, &x->cost, x->err);
    return x->rc == TC_OK ? x->st->nfields : 0;
}

static int
encode_in_pcall(lua_State *L)
{
    coded_t *x = lua_touserdata(L, 1);
    x->rc = tc_lua_value_encode_field_k(L, &codec_in_pcall, 2, x->p, x->st, x->f, x->err);
    return 0;
}

/*
 * Run the function at stack slot 'fn' (SLOT_DECODE, SLOT_ENCODE) protected,
 * with the value at 'value' (0: none) and 'nresults'.
 * Returns the codec's result, or TC_EINVAL with err set to the Lua error
 * ('raised' set) when it raised.
 */
static int
run_protected(lua_State *L, int fn, coded_t *x, int value, int nresults, bool *raised)
{
    uint32_t depth = x->p->depth;
    value = value != 0 ? lua_absindex(L, value) : 0;
    lua_pushvalue(L, fn);
    lua_pushlightuserdata(L, x);
    if (value != 0) {
        lua_pushvalue(L, value);
    }
    *raised = false;
    int status = lua_pcall(L, value != 0 ? 2 : 1, nresults, 0);
    if (status != LUA_OK) {
        x->p->depth = depth;
        *raised = true;
        x->rc =
            tc_err_set(x->err, TC_EINVAL, "%s",
                       status == LUA_ERRMEM             ? memory_text(L).text
                       : lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                        : "an error object that is not a string");
        lua_pop(L, 1);
    }
    return x->rc;
}

/*
 * Push the arguments of 'fn' in IDL order; returns how many, or -1 for
 * bad arguments, -2 when decoding raised (out of memory): 'err' set.
 * *made: the Lua memory the values were charged, garbage or not, or
 * h->collect_at when decoding raised (what it made is unknown).
 */
static int
push_args(tc_lua_handler_t *h, const char *called, tc_proto_t *in, const tc_function_t *fn,
          size_t *made, tc_err_t *err)
{
    *made = 0;
    if (fn->args->nfields == 0) { /* nothing to create: no need to protect it */
        return tc_lua_value_decode_args_k(h->L, &codec, in, fn->args, NULL, err) == TC_OK ? 0 : -1;
    }
    coded_t x = {in, fn->args, NULL, err, TC_OK, 0};
    bool raised;
    int rc = run_protected(h->L, SLOT_DECODE, &x, 0, LUA_MULTRET, &raised);
    *made = raised ? h->collect_at : (size_t)x.cost;
    if (rc != TC_OK) {
        if (raised) {
            char why[TC_ERR_MSG_MAX];
            (void)snprintf(why, sizeof(why), "%s", err->msg);
            tc_err_clear(err);
            tc_err_set(err, TC_EINVAL, "%s.%s: decoding the arguments raised: %s", called, fn->name,
                       why);
        }
        return raised ? -2 : -1;
    }
    return fn->args->nfields;
}

/* Encode field 'f' of 'st' from the value at 'idx' into 'out', protected. */
static int
encode_field(lua_State *L, int idx, tc_proto_t *out, const tc_struct_t *st, const tc_field_t *f,
             tc_err_t *err)
{
    coded_t x = {out, st, f, err, TC_OK, 0};
    bool raised;
    return run_protected(L, SLOT_ENCODE, &x, idx, 0, &raised);
}

/* The handler raised: a declared exception, or INTERNAL_ERROR. */
static int
reply_error(tc_lua_handler_t *h, const char *called, const tc_msg_hdr_t *m, const tc_function_t *fn,
            tc_proto_t *out, size_t mark, tc_err_t *err)
{
    lua_State *L = h->L;
    int e = lua_gettop(L);
    const tc_field_t *f = declared_exception(L, e, fn);
    if (f != NULL) {
        out->ops->write_message_begin(out, m->name, m->name_len, TC_MSG_REPLY, m->seqid);
        out->ops->write_struct_begin(out);
        tc_err_t eerr;
        tc_err_clear(&eerr);
        if (encode_field(L, e, out, fn->result, f, &eerr) == TC_OK) {
            out->ops->write_field_stop(out);
            out->ops->write_struct_end(out);
            return TC_CALL_DECLARED_EXCEPTION;
        }
        out->out->len = mark;
        tc_err_set(err, TC_ETYPE, "%s.%s: cannot encode the exception it raised: %s", called,
                   fn->name, eerr.msg);
        write_appex(out, m, TC_APPEX_INTERNAL_ERROR,
                    h->expose_errors ? err->msg : "Internal error");
        return TC_APPEX_INTERNAL_ERROR;
    }
    size_t len;
    const char *text = error_text(L, e, called, fn, "", err, &len);
    if (h->expose_errors) {
        write_appex_text(out, m, TC_APPEX_INTERNAL_ERROR, text, len);
    } else {
        write_appex(out, m, TC_APPEX_INTERNAL_ERROR, "Internal error");
    }
    lua_pop(L, 1);
    return TC_APPEX_INTERNAL_ERROR;
}

static int
reply_result(tc_lua_handler_t *h, const char *called, const tc_msg_hdr_t *m,
             const tc_function_t *fn, tc_proto_t *out, size_t mark, tc_err_t *err)
{
    lua_State *L = h->L;
    out->ops->write_message_begin(out, m->name, m->name_len, TC_MSG_REPLY, m->seqid);
    out->ops->write_struct_begin(out);
    const tc_struct_t *res = fn->result;
    if (res->nfields > 0 && res->fields[0].id == 0 && !lua_isnil(L, -1)) {
        tc_err_t eerr;
        tc_err_clear(&eerr);
        if (encode_field(L, -1, out, res, &res->fields[0], &eerr) != TC_OK) {
            out->out->len = mark;
            tc_err_set(err, TC_ETYPE, "%s.%s returned a value that does not fit: %s", called,
                       fn->name, eerr.msg);
            write_appex(out, m, TC_APPEX_INTERNAL_ERROR,
                        h->expose_errors ? err->msg : "Internal error");
            return TC_APPEX_INTERNAL_ERROR;
        }
    }
    out->ops->write_field_stop(out);
    out->ops->write_struct_end(out);
    return 0;
}

const tc_service_t *
tc_lua_handler_service(const tc_lua_handler_t *h)
{
    return h->svc;
}

void
tc_lua_handler_set_header(tc_lua_handler_t *h, tc_header_t *header)
{
    if (h != NULL) {
        h->header = header;
    }
}

/*
 * Full collections after large calls: their values are garbage once the
 * reply is made, but the collector may have made them old while the call
 * held them (a generational collection during the call; one that freed
 * little also lengthens its pause to twice what it found alive), so the
 * state could keep them until it has allocated as much again, a long while
 * for a thread that serves small calls after it. One full collection gives
 * them back (large blocks to free(), emptied chunks to the system,
 * lua_alloc.c). A call is large when it made TC_LUA_HANDLER_COLLECT bytes
 * or as many as the state held alive after its last collection, whichever
 * is more, so that a state with much live data is not walked in full for
 * each call of a few megabytes; the test is all an ordinary call pays.
 */
static void
collect(tc_lua_handler_t *h)
{
    lua_gc(h->L, LUA_GCCOLLECT);
    size_t alive = (size_t)lua_gc(h->L, LUA_GCCOUNT) * 1024;
    h->collect_at = alive > TC_LUA_HANDLER_COLLECT ? alive : TC_LUA_HANDLER_COLLECT;
}

/* After a call that made 'made' bytes: its decoded arguments and its reply. */
static void
collect_after(tc_lua_handler_t *h, size_t made)
{
    if (TC_UNLIKELY(made >= h->collect_at)) {
        collect(h);
    }
}

int
tc_lua_handler_call(tc_lua_handler_t *h, const char *called, int idx, const tc_msg_hdr_t *m,
                    bool oneway, tc_proto_t *in, tc_proto_t *out, tc_err_t *err)
{
    lua_State *L = h->L;
    const tc_function_t *fn = h->svc->functions[idx];
    size_t mark = out->out->len;
    int status = 0;
    lua_rawgeti(L, SLOT_FUNCS, (lua_Integer)idx + 1);
    size_t made;
    int nargs = push_args(h, called, in, fn, &made, err);
    if (nargs < 0) {
        lua_settop(L, SLOT_BASE);
        h->header = NULL;
        int type = nargs == -1 ? TC_APPEX_PROTOCOL_ERROR : TC_APPEX_INTERNAL_ERROR;
        if (type == TC_APPEX_PROTOCOL_ERROR) {
            /*
             * the codec names the argument, or the innermost struct and
             * field, which several methods may take: the call is named too,
             * for the client and the log alike, by the service's name the
             * call used, as the access log names it
             */
            tc_err_prefix(err, "%s.%s%s: arguments: ", called, fn->name, oneway ? " (oneway)" : "");
        }
        if (!oneway) {
            write_appex(out, m, type,
                        type == TC_APPEX_INTERNAL_ERROR && !h->expose_errors ? "Internal error"
                                                                             : err->msg);
        }
        collect_after(h, made + (out->out->len - mark));
        return type;
    }
    int rc = lua_pcall(L, nargs, 1, SLOT_MSGH);
    if (rc == LUA_ERRMEM) {
        /* the handler's own allocations, or its error's text, ran out */
        tc_err_set(err, -ENOMEM, "%s.%s%s: %s", called, fn->name, oneway ? " (oneway)" : "",
                   memory_text(L).text);
        if (!oneway) {
            write_appex(out, m, TC_APPEX_INTERNAL_ERROR,
                        h->expose_errors ? err->msg : "Internal error");
        }
        status = TC_APPEX_INTERNAL_ERROR;
    } else if (rc != LUA_OK) {
        if (oneway) {
            size_t len;
            (void)error_text(L, lua_gettop(L), called, fn, " (oneway)", err, &len);
            status = TC_APPEX_INTERNAL_ERROR;
        } else {
            status = reply_error(h, called, m, fn, out, mark, err);
        }
    } else if (!oneway) {
        status = reply_result(h, called, m, fn, out, mark, err);
    }
    lua_settop(L, SLOT_BASE);
    h->header = NULL; /* the connection's, which may close before the next call */
    collect_after(h, made + (out->out->len - mark));
    return status;
}
