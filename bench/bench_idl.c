/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thriftcorn-bench's generic mode: any method of any IDL, through a Lua
 * state with thriftcorn's own IDL loader and codec. The arguments are
 * encoded once; a reply's body is decoded as the method's result struct
 * (its header is checked in C) unless it is byte for byte the last one
 * that passed.
 */
#include "bench_call.h"

#include "bridge/lua_state.h"
#include "core/alloc.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct idl_call {
    tc_bench_call_t base;
    lua_State *L;
    int check_ref; /* registry reference of the Lua check function */
    char *method;
    tc_buf_t args;    /* the encoded args struct */
    tc_buf_t last_ok; /* body of the last reply that passed */
    bool have_ok;
} idl_call_t;

/*
 * Runs once per load thread: load the IDL, find the method, encode the
 * arguments; returns the wire name, the args bytes and the check function.
 */
static const char prepare_lua[] =
    "local idl, method, args_src, proto = ...\n"
    "local tc = require('thriftcorn')\n"
    "local core = require('thriftcorn.core')\n"
    "local loaded, mod = pcall(tc.load, idl)\n"
    "if not loaded then error('--idl: ' .. tostring(mod), 0) end\n"
    "local path, fname = method:match('^(.+)%.([^.]+)$')\n"
    "if not path then\n"
    "  error(\"--method: expected Service.name, got '\" .. method .. \"'\", 0)\n"
    "end\n"
    "local svc = mod\n"
    "for part in path:gmatch('[^.]+') do\n"
    "  svc = type(svc) == 'table' and rawget(svc, part) or nil\n"
    "end\n"
    "if type(svc) ~= 'table' or type(svc.by_name) ~= 'table' then\n"
    "  error(\"--method: no service '\" .. path .. \"' in \" .. idl, 0)\n"
    "end\n"
    "local fn = svc.by_name[fname]\n"
    "if not fn then\n"
    "  error(\"--method: service \" .. path .. \" has no function '\" .. fname .. \"'\", 0)\n"
    "end\n"
    "if fn.oneway then\n"
    "  error('--method: ' .. method .. ' is oneway: it gets no reply to time', 0)\n"
    "end\n"
    /* a name that is no value (a string without quotes) would be nil: the argument left out */
    "local env = setmetatable({}, {__index = function(_, k)\n"
    "  error(\"'\" .. tostring(k) .. \"' is no value (a string needs quotes)\", 2)\n"
    "end})\n"
    "local chunk, err = load('return ' .. args_src, '=--args', 't', env)\n"
    "if not chunk then error(err, 0) end\n"
    /* 'return {a = 1}, 2' is a table and more: what follows it would go unsent */
    "local res = table.pack(pcall(chunk))\n"
    "if not res[1] then error(tostring(res[2]), 0) end\n"
    "if res.n > 2 then\n"
    "  error('--args: expected one table, got ' .. (res.n - 1) .. ' values', 0)\n"
    "end\n"
    "local args = res[2]\n"
    "if type(args) ~= 'table' then\n"
    "  error('--args: expected a table, got ' .. type(args), 0)\n"
    "end\n"
    "local named, known = {}, {}\n"
    "for i, f in ipairs(fn.args.fields) do known[f.name] = i end\n"
    "for k, v in pairs(args) do\n"
    "  local f = math.type(k) == 'integer' and fn.args.fields[k]\n"
    "  local name = f and f.name or (known[k] and k)\n"
    "  if not name then\n"
    "    error(\"--args: \" .. method .. \" has no argument '\" .. tostring(k) .. \"'\", 0)\n"
    "  end\n"
    "  if named[name] ~= nil then\n"
    "    error(\"--args: argument '\" .. name .. \"' given twice, by name and by position\", 0)\n"
    "  end\n"
    "  named[name] = v\n"
    "end\n"
    /* the codec leaves out a key that is no field: a misspelt field would go unsent */
    "local function no_stray(t, v, where)\n"
    "  if type(v) ~= 'table' then return end\n"
    "  if t.ttype == 'struct' then\n"
    "    local by_name = {}\n"
    "    for _, f in ipairs(t.struct.fields) do by_name[f.name] = f end\n"
    "    for k, x in pairs(v) do\n"
    "      local f = by_name[k]\n"
    "      if not f then\n"
    "        error(string.format(\"--args: %s: %s has no field '%s'\", where,\n"
    "                            t.struct.fullname, tostring(k)), 0)\n"
    "      end\n"
    "      no_stray(f.type, x, where .. '.' .. k)\n"
    "    end\n"
    /* the codec sends elements 1 to the first nil: any key past them, or no index, goes unsent */
    "  elseif t.ttype == 'list' then\n"
    "    local n = 0\n"
    "    for _ in pairs(v) do n = n + 1 end\n"
    "    for i, x in pairs(v) do\n"
    "      if math.type(i) ~= 'integer' or i < 1 or i > n then\n"
    "        error(string.format(\"--args: %s: a list of %d has its elements at 1 to %d, \" ..\n"
    "                            \"not at %s\", where, n, n,\n"
    "                            type(i) == 'string' and \"'\" .. i .. \"'\" or tostring(i)), 0)\n"
    "      end\n"
    "      no_stray(t.elem, x, where .. '[' .. tostring(i) .. ']')\n"
    "    end\n"
    "  elseif t.ttype == 'set' then\n"
    "    for x in pairs(v) do no_stray(t.elem, x, where .. ' (an element)') end\n"
    "  elseif t.ttype == 'map' then\n"
    "    for k, x in pairs(v) do\n"
    "      no_stray(t.key, k, where .. ' (a key)')\n"
    "      no_stray(t.value, x, where .. '[' .. tostring(k) .. ']')\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for _, f in ipairs(fn.args.fields) do no_stray(f.type, named[f.name], f.name) end\n"
    "local bytes, msg = tc.encode(fn.args, named, proto)\n"
    "if not bytes then error('--args: ' .. msg, 0) end\n"
    /* the reply's body: its result struct, and nothing after it */
    "local function check(body)\n"
    "  local r, pos = core.decode(fn.result, body, proto)\n"
    "  if r == nil then return false, 'undecodable reply: ' .. tostring(pos) end\n"
    "  if pos <= #body then\n"
    "    return false, string.format('%s: %d bytes after the result struct', method,\n"
    "                                #body - pos + 1)\n"
    "  end\n"
    "  if r.success ~= nil then return true end\n"
    "  for _, f in ipairs(fn.throws) do\n"
    "    if r[f.name] ~= nil then return true end\n"
    "  end\n"
    /*
     * a void method's result, with no declared exception set, is the empty
     * struct (its STOP byte, 0 in binary and compact alike); any other body
     * holds a field the IDL does not declare, an exception the method does
     * not throw, which the codec skipped
     */
    "  if fn.returns == nil and body == '\\0' then return true end\n"
    "  return false, method .. ': the reply has neither a result nor a declared exception'\n"
    "end\n"
    "return fn.name, bytes, check\n";

static int
idl_request(tc_bench_call_t *c, int conn, tc_bench_req_t *req, tc_err_t *err)
{
    (void)conn;
    (void)err;
    const idl_call_t *ic = (const idl_call_t *)c;
    req->args.len = 0;
    tc_buf_append(&req->args, ic->args.data, ic->args.len);
    return TC_OK;
}

static int
idl_check(tc_bench_call_t *c, const tc_bench_req_t *req, const uint8_t *msg, size_t len,
          tc_proto_t *p, char *why, size_t why_len)
{
    (void)req;
    (void)msg;
    (void)len;
    idl_call_t *ic = (idl_call_t *)c;
    size_t blen = tc_proto_left(p);
    /* a deterministic server sends the same body every time: decode it once */
    if (ic->have_ok && blen == ic->last_ok.len && memcmp(p->rp, ic->last_ok.data, blen) == 0) {
        return TC_OK;
    }
    lua_State *L = ic->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ic->check_ref);
    lua_pushlstring(L, (const char *)p->rp, blen);
    tc_err_t err;
    tc_err_clear(&err);
    if (tc_lua_pcall(L, 1, 2, &err) != TC_OK) {
        snprintf(why, why_len, "check failed: %s", err.msg);
        return TC_EINVAL;
    }
    int rc = TC_OK;
    if (lua_toboolean(L, -2)) {
        ic->last_ok.len = 0;
        tc_buf_append(&ic->last_ok, p->rp, blen);
        ic->have_ok = true;
    } else {
        const char *m = lua_tostring(L, -1);
        snprintf(why, why_len, "%s", m != NULL ? m : "bad reply");
        rc = TC_EINVAL;
    }
    lua_pop(L, 2);
    return rc;
}

static void
idl_free(tc_bench_call_t *c)
{
    idl_call_t *ic = (idl_call_t *)c;
    if (ic == NULL) {
        return;
    }
    if (ic->L != NULL) {
        lua_close(ic->L);
    }
    tc_buf_deinit(&ic->args);
    tc_buf_deinit(&ic->last_ok);
    free(ic->method);
    free(ic);
}

tc_bench_call_t *
tc_bench_idl_new(const char *idl, const char *method, const char *args, const tc_proto_ops_t *proto,
                 tc_err_t *err)
{
    idl_call_t *ic = tc_xcalloc(1, sizeof(*ic));
    tc_buf_init(&ic->args);
    tc_buf_init(&ic->last_ok);
    ic->base.proto = proto;
    ic->base.request = idl_request;
    ic->base.check = idl_check;
    ic->base.free = idl_free;
    ic->L = tc_lua_state_new(err);
    if (ic->L == NULL) {
        idl_free(&ic->base);
        return NULL;
    }
    lua_State *L = ic->L;
    if (luaL_loadbuffer(L, prepare_lua, sizeof(prepare_lua) - 1, "=thriftcorn-bench") != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        tc_err_set(err, TC_EINVAL, "%s", msg != NULL ? msg : "error");
        idl_free(&ic->base);
        return NULL;
    }
    lua_pushstring(L, idl);
    lua_pushstring(L, method);
    lua_pushstring(L, args);
    lua_pushstring(L, proto->name);
    /* no traceback: the errors name the option at fault, as a bad option value's do */
    if (lua_pcall(L, 4, 3, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        tc_err_set(err, TC_EINVAL, "%s", msg != NULL ? msg : "error");
        idl_free(&ic->base);
        return NULL;
    }
    size_t len;
    const char *name = lua_tolstring(L, -3, &len);
    ic->method = tc_xmalloc(len + 1);
    memcpy(ic->method, name, len + 1);
    ic->base.method = ic->method;
    ic->base.method_len = len;
    const char *bytes = lua_tolstring(L, -2, &len);
    tc_buf_append(&ic->args, bytes, len);
    ic->check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 2);
    return &ic->base;
}
