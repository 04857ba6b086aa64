/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the whole dispatch path with a Lua handler: the
 * config tests/fixtures/dispatch/thriftcorn.lua (service AllTypes of the
 * fixture IDL, expose_errors on) is loaded as a worker loads it, and its
 * handlers as a handler thread loads them (tc_dispatch_new() and
 * tc_dispatch_thread_start()), once, on the first input.
 *
 * Byte 0: bit 0 the protocol (binary, compact); bit 1 the limits (the
 * config's, as worker/loop.c sets them, or a tight depth of 8 and strings
 * of 64 bytes). The rest is one request message for tc_dispatch_handle().
 *
 * Checked: the status is TC_OK or negative; a negative status appended
 * nothing; with TC_OK there is a reply exactly when the call info says so,
 * and it is one whole message: REPLY or EXCEPTION, the request's seqid and
 * method name, a body that skips to exactly its end; an EXCEPTION is a
 * TApplicationException of the type the call info reports; a REPLY decodes
 * as the method's result struct (in a Lua state of its own), with one
 * declared exception set exactly when the call info says so. After every
 * input a known-good call (add(2, 3), binary) must still get the same reply
 * as the first time: the handler's Lua state survived.
 *
 * Accepted: the handler ran on the request (TC_OK; not refused as
 * UNKNOWN_METHOD, INVALID_MESSAGE_TYPE or PROTOCOL_ERROR) and the request's
 * arguments end exactly at the end of the input. A handler error
 * (INTERNAL_ERROR) or a declared exception is still accepted.
 */
#include "fuzz.h"

#include "bridge/lua_handler.h"
#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "bridge/lua_value.h"
#include "config/config.h"
#include "core/buf.h"
#include "protocol/message.h"
#include "worker/dispatch.h"

#include <lauxlib.h>
#include <string.h>

#ifndef TC_FIXTURES_DIR
#error "TC_FIXTURES_DIR must name tests/fixtures"
#endif

int tc_fuzz_verdict;

/* Still reachable at exit: made once, used by every input. */
static tc_config_t *cfg;
static tc_dispatch_t *disp;
static lua_State *L; /* the checker's own state: the fixture IDL, for the result structs */
static const tc_service_t *svc;
static tc_buf_t out;
static tc_buf_t good_reply; /* the reply to the known-good call */

static const tc_proto_ops_t *const formats[] = {&tc_proto_binary, &tc_proto_compact};

/* add(a = 2, b = 3), seqid 77, strict binary */
static const uint8_t good_call[] = {
    0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 'a',  'd',  'd',  0x00, 0x00, 0x00, 0x4d,
    0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00,
};

/* ---- setup ---- */

static int
l_init(lua_State *S)
{
    lua_getglobal(S, "require");
    lua_pushliteral(S, "thriftcorn");
    lua_call(S, 1, 1);
    lua_getfield(S, -1, "load");
    lua_pushstring(S, TC_FIXTURES_DIR "/idl/alltypes.thrift");
    lua_call(S, 1, 1);
    lua_getfield(S, -1, "AllTypes");
    svc = tc_lua_schema_to_service(S, -1);
    TC_FUZZ_CHECK(svc != NULL, "no service AllTypes");
    /* the module keeps the compiled schema alive */
    lua_pop(S, 1);
    lua_setfield(S, LUA_REGISTRYINDEX, "tc_fuzz_module");
    return 0;
}

static void check_reply(const tc_proto_ops_t *ops, const tc_msg_hdr_t *req,
                        const tc_call_info_t *info, const tc_buf_t *reply);

static int
handle(const tc_proto_ops_t *ops, const uint8_t *data, size_t size, uint32_t max_depth,
       uint32_t max_string, tc_call_info_t *info, tc_proto_t *in)
{
    tc_proto_t op;
    tc_err_t err;
    tc_err_clear(&err);
    tc_proto_init(in, ops, data, size, NULL);
    in->max_depth = max_depth;
    in->max_string = max_string;
    tc_proto_init(&op, ops, NULL, 0, &out);
    op.max_depth = max_depth;
    memset(info, 0, sizeof(*info));
    info->header = NULL;
    out.len = 0;
    int rc = tc_dispatch_handle(disp, in, &op, info, &err);
    TC_FUZZ_CHECK(rc == TC_OK || rc < 0, "tc_dispatch_handle returned %d", rc);
    TC_FUZZ_CHECK(op.depth == 0, "the reply was left at depth %u", op.depth);
    if (rc != TC_OK) {
        /* the worker rolls 'out' back too; dispatch fails only before it writes */
        TC_FUZZ_CHECK(out.len == 0, "status %d after appending %zu bytes", rc, out.len);
        TC_FUZZ_CHECK(err.code == rc, "status %d with error %d (%s)", rc, err.code, err.msg);
    }
    return rc;
}

static void
init(void)
{
    tc_err_t err;
    tc_err_clear(&err);
    cfg = tc_config_load(TC_FIXTURES_DIR "/dispatch/thriftcorn.lua", NULL, 0, &err);
    TC_FUZZ_CHECK(cfg != NULL, "tc_config_load: %s", err.msg);
    TC_FUZZ_CHECK(cfg->expose_errors, "the fixture config sets expose_errors");
    disp = tc_dispatch_new(cfg, &err);
    TC_FUZZ_CHECK(disp != NULL, "tc_dispatch_new: %s", err.msg);
    TC_FUZZ_CHECK(tc_dispatch_thread_start(disp, &err) == TC_OK, "thread_start: %s", err.msg);
    L = tc_lua_state_new(&err);
    TC_FUZZ_CHECK(L != NULL, "tc_lua_state_new: %s", err.msg);
    lua_pushcfunction(L, l_init);
    TC_FUZZ_CHECK(tc_lua_pcall(L, 0, 0, &err) == TC_OK, "loading alltypes.thrift: %s", err.msg);
    tc_buf_init(&out);
    tc_buf_init(&good_reply);

    /* the known-good call: a REPLY whose result is 5 */
    tc_call_info_t info;
    tc_proto_t in;
    tc_msg_hdr_t m;
    int rc = handle(&tc_proto_binary, good_call, sizeof(good_call), cfg->max_depth,
                    cfg->max_message_size, &info, &in);
    TC_FUZZ_CHECK(rc == TC_OK && info.status == 0 && info.replied, "add(2, 3): %d, status %d", rc,
                  info.status);
    tc_proto_init(&in, &tc_proto_binary, good_call, sizeof(good_call), NULL);
    TC_FUZZ_CHECK(in.ops->read_message_begin(&in, &m) == TC_OK, "good_call has no header");
    check_reply(&tc_proto_binary, &m, &info, &out);
    static const uint8_t five[] = {0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00};
    TC_FUZZ_CHECK(out.len > sizeof(five) &&
                      memcmp(out.data + out.len - sizeof(five), five, sizeof(five)) == 0,
                  "add(2, 3) is not 5");
    tc_buf_append(&good_reply, out.data, out.len);
}

/* ---- the reply ---- */

typedef struct job {
    tc_proto_t *p;
    const tc_struct_t *st;
    int declared; /* out: exception fields set */
    int success;  /* out: field 0 set */
    tc_err_t err;
    int rc;
} job_t;

/* (job): decode the result struct, count the fields set */
static int
l_decode_result(lua_State *S)
{
    job_t *j = lua_touserdata(S, 1);
    j->rc = tc_lua_value_decode(S, j->p, j->st, &j->err);
    if (j->rc != TC_OK) {
        return 0;
    }
    for (uint16_t i = 0; i < j->st->nfields; i++) {
        const tc_field_t *f = &j->st->fields[i];
        if (lua_getfield(S, -1, f->name) != LUA_TNIL) {
            *(f->id == 0 ? &j->success : &j->declared) += 1;
        }
        lua_pop(S, 1);
    }
    return 0;
}

/* A REPLY's body, at 'p', as the result struct of the method called. */
static void
check_result(tc_proto_t *p, const tc_msg_hdr_t *req, const tc_call_info_t *info)
{
    int idx = tc_schema_service_index(svc, req->name, req->name_len);
    TC_FUZZ_CHECK(idx >= 0, "a REPLY to '%.*s', which is no method", (int)req->name_len, req->name);
    job_t j = {.p = p, .st = svc->functions[idx]->result, .rc = TC_EINVAL};
    tc_err_clear(&j.err);
    int top = lua_gettop(L);
    lua_pushcfunction(L, l_decode_result);
    lua_pushlightuserdata(L, &j);
    TC_FUZZ_CHECK(lua_pcall(L, 1, 0, 0) == LUA_OK, "decoding the result raised: %s",
                  lua_tostring(L, -1));
    lua_settop(L, top);
    TC_FUZZ_CHECK(j.rc == TC_OK, "the REPLY of %.*s does not decode as its result: %s",
                  (int)req->name_len, req->name, j.err.msg);
    TC_FUZZ_CHECK(p->rp == p->rend, "the result of %.*s ends %zu bytes early", (int)req->name_len,
                  req->name, (size_t)(p->rend - p->rp));
    TC_FUZZ_CHECK(j.declared == (info->status == TC_CALL_DECLARED_EXCEPTION),
                  "status %d with %d declared exceptions set", info->status, j.declared);
    TC_FUZZ_CHECK(j.success <= 1 && j.success + j.declared <= 1, "%d results and %d exceptions",
                  j.success, j.declared);
}

static void
check_reply(const tc_proto_ops_t *ops, const tc_msg_hdr_t *req, const tc_call_info_t *info,
            const tc_buf_t *reply)
{
    tc_proto_t p;
    tc_msg_hdr_t h;
    tc_proto_init(&p, ops, reply->data, reply->len, NULL);
    TC_FUZZ_CHECK(p.ops->read_message_begin(&p, &h) == TC_OK, "the reply has no message header");
    TC_FUZZ_CHECK(h.type == TC_MSG_REPLY || h.type == TC_MSG_EXCEPTION, "reply of type %u", h.type);
    TC_FUZZ_CHECK(h.seqid == req->seqid, "reply seqid %d to request %d", h.seqid, req->seqid);
    TC_FUZZ_CHECK(h.name_len == req->name_len && memcmp(h.name, req->name, h.name_len) == 0,
                  "reply to '%.*s' named '%.*s'", (int)req->name_len, req->name, (int)h.name_len,
                  h.name);
    TC_FUZZ_CHECK(info->method == req->name && info->method_len == req->name_len,
                  "the call info names another method");
    const uint8_t *body = p.rp;
    TC_FUZZ_CHECK(tc_proto_skip(&p, TC_TTYPE_STRUCT) == TC_OK && p.rp == p.rend,
                  "the reply's body does not skip to its end");
    p.rp = body;
    if (h.type == TC_MSG_EXCEPTION) {
        tc_appex_t ex;
        TC_FUZZ_CHECK(tc_message_read_appex(&p, &ex) == TC_OK && p.rp == p.rend,
                      "an EXCEPTION that is no TApplicationException");
        TC_FUZZ_CHECK(info->status > 0 && ex.type == info->status,
                      "TApplicationException %d, status %d", ex.type, info->status);
        TC_FUZZ_CHECK(ex.message != NULL, "a TApplicationException without a message");
    } else {
        TC_FUZZ_CHECK(info->status == 0 || info->status == TC_CALL_DECLARED_EXCEPTION,
                      "a REPLY with status %d", info->status);
        check_result(&p, req, info);
    }
}

/* ---- one input ---- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_fuzz_verdict = 0;
    if (cfg == NULL) {
        init();
    }
    if (size < 1) {
        return 0;
    }
    const tc_proto_ops_t *ops = formats[data[0] & 1];
    bool tight = (data[0] & 2) != 0;
    data++;
    size--;

    tc_call_info_t info;
    tc_proto_t in;
    int rc = handle(ops, data, size, tight ? 8 : cfg->max_depth, tight ? 64 : cfg->max_message_size,
                    &info, &in);
    if (rc == TC_OK) {
        TC_FUZZ_CHECK(info.replied == (out.len > 0), "replied %d with %zu bytes", info.replied,
                      out.len);
        /* the request's header, read again: what the reply must echo */
        tc_proto_t rq;
        tc_msg_hdr_t m;
        tc_proto_init(&rq, ops, data, size, NULL);
        TC_FUZZ_CHECK(rq.ops->read_message_begin(&rq, &m) == TC_OK,
                      "handled a request whose header does not read");
        if (out.len > 0) {
            check_reply(ops, &m, &info, &out);
        }
        tc_fuzz_verdict = info.status != TC_APPEX_UNKNOWN_METHOD &&
                          info.status != TC_APPEX_INVALID_MESSAGE_TYPE &&
                          info.status != TC_APPEX_PROTOCOL_ERROR && in.rp == in.rend;
    }

    /* the handler's state survived: the known-good call gets its reply */
    rc = handle(&tc_proto_binary, good_call, sizeof(good_call), cfg->max_depth,
                cfg->max_message_size, &info, &in);
    TC_FUZZ_CHECK(rc == TC_OK && out.len == good_reply.len &&
                      memcmp(out.data, good_reply.data, out.len) == 0,
                  "add(2, 3) after this input: status %d, %zu bytes (%zu before)", rc, out.len,
                  good_reply.len);
    return 0;
}
