/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thriftcorn.core: the C side of the Lua API. Struct and message encode and
 * decode for tests, tools and Lua programs; the facade lua/thriftcorn/init.lua
 * wraps these. Runtime failures return nil, message, code (luv style).
 */
#include "bridge/lua_api.h"

#include "bridge/lua_schema.h"
#include "bridge/lua_value.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/ids.h"
#include "protocol/message.h"
#include "schema/signature.h"
#include "transport/bindaddr.h"
#include "transport/header.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCRATCH_MT "thriftcorn.scratch"

/* ---- helpers ---- */

static const tc_proto_ops_t *
check_proto(lua_State *L, int idx)
{
    static const char *const names[] = {"binary", "compact", NULL};
    int i = luaL_checkoption(L, idx, "binary", names);
    return i == 0 ? &tc_proto_binary : &tc_proto_compact;
}

static int
push_failure(lua_State *L, const tc_err_t *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg[0] ? err->msg : tc_strerror(err->code));
    lua_pushinteger(L, err->code);
    return 3;
}

static int
scratch_gc(lua_State *L)
{
    tc_buf_deinit(luaL_checkudata(L, 1, SCRATCH_MT));
    return 0;
}

/*
 * A buffer owned by a userdata on the stack, so that a Lua error in the
 * middle of an encode (memory, a raising __index) frees it through __gc.
 */
static tc_buf_t *
push_scratch(lua_State *L)
{
    tc_buf_t *b = lua_newuserdatauv(L, sizeof(*b), 0);
    tc_buf_init(b);
    if (luaL_newmetatable(L, SCRATCH_MT)) {
        lua_pushcfunction(L, scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

/* 1-based Lua position at 'idx' (default 1) as a 0-based offset into 'len' bytes. */
static size_t
check_pos(lua_State *L, int idx, size_t len)
{
    lua_Integer pos = luaL_optinteger(L, idx, 1);
    luaL_argcheck(L, pos >= 1 && (size_t)pos <= len + 1, idx, "position out of range");
    return (size_t)pos - 1;
}

/* ---- structs ---- */

/* core.encode(structdef, value [, proto]) -> bytes | nil, msg, code */
static int
l_encode(lua_State *L)
{
    const tc_struct_t *st = tc_lua_schema_check_struct(L, 1);
    luaL_checkany(L, 2);
    const tc_proto_ops_t *ops = check_proto(L, 3);
    tc_buf_t *b = push_scratch(L);
    tc_proto_t p;
    tc_err_t err;
    tc_err_clear(&err);
    tc_proto_init(&p, ops, NULL, 0, b);
    if (tc_lua_value_encode(L, 2, &p, st, &err) != TC_OK) {
        return push_failure(L, &err);
    }
    lua_pushlstring(L, (const char *)b->data, b->len);
    return 1;
}

/* core.decode(structdef, bytes [, proto [, pos]]) -> value, next_pos | nil, msg, code */
static int
l_decode(lua_State *L)
{
    const tc_struct_t *st = tc_lua_schema_check_struct(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    const tc_proto_ops_t *ops = check_proto(L, 3);
    size_t off = check_pos(L, 4, len);
    tc_proto_t p;
    tc_err_t err;
    tc_err_clear(&err);
    tc_proto_init(&p, ops, s + off, len - off, NULL);
    /* no size limit here: the values' Lua memory is bounded by the bytes given */
    if (tc_lua_value_decode_input(L, &p, st, &err) != TC_OK) {
        return push_failure(L, &err);
    }
    lua_pushinteger(L, (lua_Integer)(p.rp - (const uint8_t *)s) + 1);
    return 2;
}

/*
 * thriftcorn.decode(structdef, bytes [, proto]) -> value | nil, msg, code:
 * core.decode() without the position. A C function, not a Lua wrapper, so
 * that a misuse error points at the caller's line, not at the facade's.
 */
static int
l_decode_value(lua_State *L)
{
    if (lua_gettop(L) > 3) {
        lua_settop(L, 3); /* no position */
    }
    if (l_decode(L) == 2) {
        lua_pop(L, 1);
        return 1;
    }
    return 3;
}

/* ---- messages ---- */

/*
 * core.encode_message(name, mtype, seqid, structdef, value [, proto]) -> bytes
 * With structdef false/nil, value is {type = n, message = "..."} and a
 * TApplicationException is written.
 */
static int
l_encode_message(lua_State *L)
{
    size_t nlen;
    const char *name = luaL_checklstring(L, 1, &nlen);
    lua_Integer mtype = luaL_checkinteger(L, 2);
    lua_Integer seqid = luaL_checkinteger(L, 3);
    luaL_argcheck(L, mtype >= TC_MSG_CALL && mtype <= TC_MSG_ONEWAY, 2, "invalid message type");
    luaL_argcheck(L, seqid >= INT32_MIN && seqid <= INT32_MAX, 3, "seqid out of i32 range");
    bool appex = !lua_toboolean(L, 4);
    const tc_struct_t *st = NULL;
    if (appex) {
        luaL_checktype(L, 5, LUA_TTABLE);
    } else {
        st = tc_lua_schema_check_struct(L, 4);
        luaL_checkany(L, 5);
    }
    const tc_proto_ops_t *ops = check_proto(L, 6);
    lua_settop(L, 6); /* the scratch buffer after the arguments, never in their place */
    tc_buf_t *b = push_scratch(L);
    tc_proto_t p;
    tc_err_t err;
    tc_err_clear(&err);
    tc_proto_init(&p, ops, NULL, 0, b);
    if (appex) {
        lua_getfield(L, 5, "type");
        lua_getfield(L, 5, "message");
        /* the table's fields, checked here: luaL_opt*() would name them argument #-1, #-2 */
        size_t mlen = 0;
        const char *msg = NULL;
        if (!lua_isnil(L, -1)) {
            msg = lua_tolstring(L, -1, &mlen); /* a string, or a number as one */
            luaL_argcheck(L, msg != NULL, 5, "'message' must be a string");
        }
        lua_Integer type = 0;
        if (!lua_isnil(L, -2)) {
            int isint = 0;
            type = lua_tointegerx(L, -2, &isint);
            luaL_argcheck(L, isint, 5, "'type' must be an integer");
        }
        luaL_argcheck(L, type >= INT32_MIN && type <= INT32_MAX, 5, "type out of i32 range");
        tc_message_write_appex(&p, name, nlen, (int32_t)seqid, (int32_t)type, msg, mlen);
    } else {
        ops->write_message_begin(&p, name, nlen, (uint8_t)mtype, (int32_t)seqid);
        if (tc_lua_value_encode(L, 5, &p, st, &err) != TC_OK) {
            return push_failure(L, &err);
        }
    }
    lua_pushlstring(L, (const char *)b->data, b->len);
    return 1;
}

/* core.decode_message_header(bytes [, proto [, pos]]) -> name, mtype, seqid, body_pos */
static int
l_decode_message_header(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const tc_proto_ops_t *ops = check_proto(L, 2);
    size_t off = check_pos(L, 3, len);
    tc_proto_t p;
    tc_msg_hdr_t m;
    tc_proto_init(&p, ops, s + off, len - off, NULL);
    int rc = ops->read_message_begin(&p, &m);
    if (rc != TC_OK) {
        tc_err_t err;
        tc_err_clear(&err);
        tc_err_set(&err, rc == TC_AGAIN ? TC_EPROTO : rc, "%s message header: %s", ops->name,
                   rc == TC_AGAIN ? "truncated" : tc_strerror(rc));
        return push_failure(L, &err);
    }
    lua_pushlstring(L, m.name, m.name_len);
    lua_pushinteger(L, m.type);
    lua_pushinteger(L, m.seqid);
    lua_pushinteger(L, (lua_Integer)(p.rp - (const uint8_t *)s) + 1);
    return 4;
}

/* core.decode_appex(bytes [, proto [, pos]]) -> {type=, message=}, next_pos */
static int
l_decode_appex(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const tc_proto_ops_t *ops = check_proto(L, 2);
    size_t off = check_pos(L, 3, len);
    tc_proto_t p;
    tc_appex_t ex;
    tc_proto_init(&p, ops, s + off, len - off, NULL);
    int rc = tc_message_read_appex(&p, &ex);
    if (rc != TC_OK) {
        tc_err_t err;
        tc_err_clear(&err);
        tc_err_set(&err, rc == TC_AGAIN ? TC_EPROTO : rc, "TApplicationException: %s",
                   rc == TC_AGAIN ? "truncated" : tc_strerror(rc));
        return push_failure(L, &err);
    }
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, ex.type);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, tc_appex_type_name(ex.type));
    lua_setfield(L, -2, "type_name");
    if (ex.message != NULL) {
        lua_pushlstring(L, ex.message, ex.message_len);
        lua_setfield(L, -2, "message");
    }
    lua_pushinteger(L, (lua_Integer)(p.rp - (const uint8_t *)s) + 1);
    return 2;
}

/* ---- system ---- */

/* Argument 'arg' as a C string: one holding a NUL is refused, not cut short at it. */
static const char *
check_cstring(lua_State *L, int arg)
{
    size_t len;
    const char *s = luaL_checklstring(L, arg, &len);
    luaL_argcheck(L, strlen(s) == len, arg, "contains a NUL byte");
    return s;
}

/* core.realpath(path) -> absolute path | nil, msg, code */
static int
l_realpath(lua_State *L)
{
    const char *path = check_cstring(L, 1);
    char *real = realpath(path, NULL);
    if (real == NULL) {
        int e = errno;
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, tc_strerror(-e));
        lua_pushinteger(L, -e);
        return 3;
    }
    lua_pushstring(L, real);
    free(real);
    return 1;
}

const char tc_lua_api_reads_key = 0;

/*
 * core.read_file(path) -> text | nil, why, code: a regular file, whole, of
 * at most TC_FILE_READ_MAX bytes (core/file.h). Opened without blocking (a
 * FIFO without a writer, a device), then anything but a regular file is
 * refused before a byte is read: /dev/zero never ends, a FIFO may never
 * answer. 'why' is the reason alone, in the words io.open() uses ("No such
 * file or directory"), or "over 16 MiB"; 'code' is -errno when the file
 * could not be opened, TC_EINVAL when it opened but is no regular file, is
 * too big or its read failed. The IDL loader reads through it. A file read
 * is noted in the table at 'tc_lua_api_reads_key', when the state has one.
 */
static int
l_read_file(lua_State *L)
{
    const char *path = check_cstring(L, 1);
    /* the bytes are the userdata's until pushed, so that a Lua error frees them */
    tc_buf_t *b = push_scratch(L);
    bool opened;
    int rc = tc_file_read(path, TC_FILE_READ_MAX, b, &opened);
    if (rc == TC_OK) {
        if (lua_rawgetp(L, LUA_REGISTRYINDEX, &tc_lua_api_reads_key) == LUA_TTABLE) {
            lua_pushvalue(L, 1);
            lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        }
        lua_pop(L, 1);
        lua_pushlstring(L, (const char *)b->data, b->len);
        return 1;
    }
    char buf[128];
    lua_pushnil(L);
    const char *why = tc_file_read_refusal(rc);
    if (why != NULL) {
        lua_pushstring(L, why);
    } else {
        /* GNU strerror_r(): thread-safe, and the text io.open() gives */
        lua_pushstring(L, strerror_r(-rc, buf, sizeof(buf)));
    }
    lua_pushinteger(L, opened ? TC_EINVAL : rc);
    return 3;
}

/* core.check_bind(spec) -> true | nil, msg: the form of a bind, nothing opened (the config). */
static int
l_check_bind(lua_State *L)
{
    const char *spec = check_cstring(L, 1);
    tc_err_t err;
    tc_err_clear(&err);
    if (tc_bindaddr_check(spec, &err) != TC_OK) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/*
 * core.check_id("user" | "group", name) -> true | nil, msg: that the system
 * knows the user or group (the config, as nginx resolves 'user' at load).
 */
static int
l_check_id(lua_State *L)
{
    static const char *const kinds[] = {"user", "group", NULL};
    int kind = luaL_checkoption(L, 1, NULL, kinds);
    const char *name = check_cstring(L, 2);
    tc_ids_t ids;
    tc_err_t err;
    tc_err_clear(&err);
    int rc =
        kind == 0 ? tc_ids_resolve(name, NULL, &ids, &err) : tc_ids_resolve(NULL, name, &ids, &err);
    if (rc != TC_OK) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    tc_ids_deinit(&ids);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.sleep(seconds): block the calling thread (a handler's thread only). */
static int
l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && s < 1e9, 1, "seconds out of range");
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return 0;
}

/* ---- THeader info headers of the running call ---- */

const char tc_lua_api_header_key = 0;

/* The running call's THeader, or NULL (not a THeader call, or not a handler state). */
static tc_header_t *
call_header(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tc_lua_api_header_key);
    tc_header_t **slot = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return slot != NULL ? *slot : NULL;
}

/* core.request_headers() -> { key = value } (empty unless the call came over THeader) */
static int
l_request_headers(lua_State *L)
{
    tc_header_t *h = call_header(L);
    lua_newtable(L);
    if (h != NULL) {
        tc_header_iter_t it;
        tc_header_kv_t kv;
        tc_header_iter_init(h, &it);
        while (tc_header_next(&it, &kv)) {
            lua_pushlstring(L, (const char *)kv.key, kv.key_len);
            lua_pushlstring(L, (const char *)kv.value, kv.value_len);
            lua_rawset(L, -3);
        }
    }
    return 1;
}

/*
 * core.set_response_header(key, value) -> true | false (not a THeader call)
 * | nil, msg, code (over the size limit)
 */
static int
l_set_response_header(lua_State *L)
{
    size_t klen;
    size_t vlen;
    const char *k = luaL_checklstring(L, 1, &klen);
    const char *v = luaL_checklstring(L, 2, &vlen);
    tc_header_t *h = call_header(L);
    if (h == NULL) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (tc_header_set_reply(h, k, klen, v, vlen) != TC_OK) {
        tc_err_t err;
        tc_err_clear(&err);
        tc_err_set(&err, TC_ELIMIT, "reply headers over %d bytes", TC_HEADER_REPLY_INFO_MAX);
        return push_failure(L, &err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg sys_funcs[] = {
    {"realpath", l_realpath},
    {"read_file", l_read_file},
    {"check_bind", l_check_bind},
    {"check_id", l_check_id},
    {"sleep", l_sleep},
    {"request_headers", l_request_headers},
    {"set_response_header", l_set_response_header},
    {NULL, NULL},
};

void
tc_lua_api_open_sys(lua_State *L)
{
    luaL_setfuncs(L, sys_funcs, 0);
    /*
     * thriftcorn's codes, and ENOENT and ENOTDIR: read_file() and realpath()
     * return them when there is no file at the path
     */
    static const struct {
        const char *name;
        int value;
    } codes[] = {
        {"EAGAIN", TC_AGAIN},        {"EPROTO", TC_EPROTO},     {"ELIMIT", TC_ELIMIT},
        {"ENOTFOUND", TC_ENOTFOUND}, {"ECLOSED", TC_ECLOSED},   {"EINVAL", TC_EINVAL},
        {"ETYPE", TC_ETYPE},         {"EMISSING", TC_EMISSING}, {"ENOENT", -ENOENT},
        {"ENOTDIR", -ENOTDIR},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(codes); i++) {
        lua_pushinteger(L, codes[i].value);
        lua_setfield(L, -2, codes[i].name);
    }
}

/*
 * core.signature(funcdef): the canonical signature of a compiled function
 * and its 64-bit hash, as C plugins record them (schema/signature.h).
 */
static int
l_signature(lua_State *L)
{
    const tc_function_t *fn = tc_lua_schema_to_function(L, 1);
    luaL_argcheck(L, fn != NULL, 1, "expected a function of a service from thriftcorn.load()");
    tc_buf_t b;
    tc_buf_init(&b);
    tc_signature_format(fn, &b);
    lua_pushlstring(L, (const char *)b.data, b.len);
    lua_pushinteger(L, (lua_Integer)tc_signature_hash(b.data, b.len));
    tc_buf_deinit(&b);
    return 2;
}

static const luaL_Reg codec_funcs[] = {
    {"compile", tc_lua_schema_compile},
    {"signature", l_signature},
    {"encode", l_encode},
    {"decode", l_decode},
    {"decode_value", l_decode_value},
    {"encode_message", l_encode_message},
    {"decode_message_header", l_decode_message_header},
    {"decode_appex", l_decode_appex},
    {NULL, NULL},
};

void
tc_lua_api_open_codec(lua_State *L)
{
    luaL_setfuncs(L, codec_funcs, 0);
    static const struct {
        const char *name;
        int value;
    } consts[] = {
        {"CALL", TC_MSG_CALL},
        {"REPLY", TC_MSG_REPLY},
        {"EXCEPTION", TC_MSG_EXCEPTION},
        {"ONEWAY", TC_MSG_ONEWAY},
        {"UNKNOWN", TC_APPEX_UNKNOWN},
        {"UNKNOWN_METHOD", TC_APPEX_UNKNOWN_METHOD},
        {"INVALID_MESSAGE_TYPE", TC_APPEX_INVALID_MESSAGE_TYPE},
        {"WRONG_METHOD_NAME", TC_APPEX_WRONG_METHOD_NAME},
        {"BAD_SEQUENCE_ID", TC_APPEX_BAD_SEQUENCE_ID},
        {"MISSING_RESULT", TC_APPEX_MISSING_RESULT},
        {"INTERNAL_ERROR", TC_APPEX_INTERNAL_ERROR},
        {"PROTOCOL_ERROR", TC_APPEX_PROTOCOL_ERROR},
        {"INVALID_TRANSFORM", TC_APPEX_INVALID_TRANSFORM},
        {"INVALID_PROTOCOL", TC_APPEX_INVALID_PROTOCOL},
        {"UNSUPPORTED_CLIENT_TYPE", TC_APPEX_UNSUPPORTED_CLIENT_TYPE},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(consts); i++) {
        lua_pushinteger(L, consts[i].value);
        lua_setfield(L, -2, consts[i].name);
    }
}

int
tc_lua_api_open(lua_State *L)
{
    lua_newtable(L);
    tc_lua_api_open_codec(L);
    tc_lua_api_open_sys(L);
    return 1;
}
