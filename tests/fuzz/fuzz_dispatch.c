/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the whole dispatch path: message header, routing,
 * arguments, handler (Lua or C plugin), reply. Four configs are loaded as a
 * worker loads them, and their handlers as a handler thread loads them
 * (tc_dispatch_new() and tc_dispatch_thread_start()), once, on the first
 * input; all have service AllTypes of the fixture IDL and expose_errors on:
 *   0  tests/fixtures/dispatch/thriftcorn.lua: one service, Lua handler
 *   1  tests/fixtures/dispatch/multi.lua: services = { AllTypes (Lua, the
 *      default), HeaderService (tests/fixtures/multi) }: "Service:method"
 *   2  plugin.lua (written by CMake): one service, the C plugin
 *      fuzz_plugin.c for echo, add and evaluate, Lua for nothing and fire
 *   3  multi_plugin.lua (written by CMake): services = { AllTypes as in 2,
 *      HeaderService }, no default service
 *
 * Byte 0: bit 0 the protocol (binary, compact); bit 1 the limits (the
 * config's, as worker/loop.c sets them, or a tight depth of 8 and strings
 * of 64 bytes); bits 2-3 the config. The rest is one request message for
 * tc_dispatch_handle().
 *
 * Checked: the status is TC_OK or negative; a negative status appended
 * nothing; with TC_OK the call went to the service the name routes to (with
 * several services: the one "Service:" names, else the default; none is
 * UNKNOWN_METHOD), there is a reply exactly when the call info says so,
 * and it is one whole message: REPLY or EXCEPTION, the request's seqid and
 * method name (without "Service:"), a body that skips to exactly its end;
 * an EXCEPTION is a TApplicationException of the type the call info
 * reports, and a PROTOCOL_ERROR's text names the service as the call did
 * (its multiplexed_name, else its IDL name) and the method first
 * (alltypes.AllTypes.echo: arguments: ...); a REPLY decodes as the
 * method's result struct (in a Lua state of its own), with one declared
 * exception set exactly when the call info says so. The plugin checks its
 * readers against each other. After every input a known-good call of its
 * config (add(2, 3), binary, "AllTypes:add" with several services) must
 * still get the same reply as the first time: the handlers' states
 * survived.
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
#ifndef TC_FUZZ_CONFIG_DIR
#error "TC_FUZZ_CONFIG_DIR must name the configs tests/fuzz/CMakeLists.txt writes"
#endif

int tc_fuzz_verdict;

/* One config, with its dispatcher and known-good call. */
typedef struct target {
    const char *path;
    tc_config_t *cfg;
    tc_dispatch_t *disp;
    tc_buf_t good_call;  /* add(a = 2, b = 3), seqid 77, strict binary */
    tc_buf_t good_reply; /* the reply to it */
} target_t;

/* Still reachable at exit: made once, used by every input. */
static target_t targets[] = {
    {.path = TC_FIXTURES_DIR "/dispatch/thriftcorn.lua"},
    {.path = TC_FIXTURES_DIR "/dispatch/multi.lua"},
    {.path = TC_FUZZ_CONFIG_DIR "/plugin.lua"},
    {.path = TC_FUZZ_CONFIG_DIR "/multi_plugin.lua"},
};
static bool ready;
static lua_State *L; /* the checker's own state: the fixture IDLs, for the result structs */
static const tc_service_t *svc_alltypes;
static const tc_service_t *svc_headers;
static tc_buf_t out;

static const tc_proto_ops_t *const formats[] = {&tc_proto_binary, &tc_proto_compact};

/* ---- setup ---- */

/* (path, name): the service 'name' of the IDL at 'path' */
static const tc_service_t *
load_service(lua_State *S, const char *path, const char *name)
{
    lua_getglobal(S, "require");
    lua_pushliteral(S, "thriftcorn");
    lua_call(S, 1, 1);
    lua_getfield(S, -1, "load");
    lua_pushstring(S, path);
    lua_call(S, 1, 1);
    lua_getfield(S, -1, name);
    const tc_service_t *svc = tc_lua_schema_to_service(S, -1);
    TC_FUZZ_CHECK(svc != NULL, "no service %s in %s", name, path);
    /* the module keeps the compiled schema alive */
    lua_pop(S, 1);
    lua_setfield(S, LUA_REGISTRYINDEX, name);
    lua_pop(S, 1);
    return svc;
}

static int
l_init(lua_State *S)
{
    svc_alltypes = load_service(S, TC_FIXTURES_DIR "/idl/alltypes.thrift", "AllTypes");
    svc_headers = load_service(S, TC_FIXTURES_DIR "/multi/headers.thrift", "HeaderService");
    return 0;
}

static const tc_service_t *
schema_of(const char *service)
{
    if (strcmp(service, "AllTypes") == 0) {
        return svc_alltypes;
    }
    TC_FUZZ_CHECK(strcmp(service, "HeaderService") == 0, "a config with service %s", service);
    return svc_headers;
}

/*
 * Where 'req' goes in 't', as docs/configuration.md says: the service's
 * name as calls and the access log give it (its multiplexed_name, else its
 * name), its entry and schema, and the method name it sees (the reply's
 * name). NULL when no service takes it (UNKNOWN_METHOD, the whole name
 * kept).
 */
static const char *
route(const target_t *t, const tc_msg_hdr_t *req, const tc_service_conf_t **entry,
      const tc_service_t **svc, const char **method, uint32_t *method_len)
{
    const tc_config_t *cfg = t->cfg;
    *method = req->name;
    *method_len = req->name_len;
    *entry = NULL;
    *svc = NULL;
    if (cfg->nservices == 0) {
        *entry = &cfg->service;
        *svc = schema_of(cfg->service.name);
        return tc_config_service_mux_name(&cfg->service);
    }
    const char *colon = memchr(req->name, ':', req->name_len);
    if (colon == NULL) {
        if (cfg->default_service < 0) {
            return NULL;
        }
        *entry = &cfg->services[cfg->default_service];
        *svc = schema_of((*entry)->name);
        return tc_config_service_mux_name(*entry);
    }
    size_t n = (size_t)(colon - req->name);
    for (size_t i = 0; i < cfg->nservices; i++) {
        const char *name = tc_config_service_mux_name(&cfg->services[i]);
        if (strlen(name) == n && memcmp(name, req->name, n) == 0) {
            *entry = &cfg->services[i];
            *svc = schema_of(cfg->services[i].name);
            *method = colon + 1;
            *method_len = req->name_len - (uint32_t)n - 1;
            return name;
        }
    }
    return NULL;
}

static void check_reply(const target_t *t, const tc_proto_ops_t *ops, const tc_msg_hdr_t *req,
                        const tc_call_info_t *info, const tc_buf_t *reply);

static int
handle(const target_t *t, const tc_proto_ops_t *ops, const uint8_t *data, size_t size,
       uint32_t max_depth, uint32_t max_string, tc_call_info_t *info, tc_proto_t *in)
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
    int rc = tc_dispatch_handle(t->disp, in, &op, tc_transport_framed.max_body, info, &err);
    TC_FUZZ_CHECK(rc == TC_OK || rc < 0, "tc_dispatch_handle returned %d", rc);
    TC_FUZZ_CHECK(op.depth == 0, "the reply was left at depth %u", op.depth);
    if (rc != TC_OK) {
        /* the worker rolls 'out' back too; dispatch fails only before it writes */
        TC_FUZZ_CHECK(out.len == 0, "status %d after appending %zu bytes", rc, out.len);
        TC_FUZZ_CHECK(err.code == rc, "status %d with error %d (%s)", rc, err.code, err.msg);
    }
    return rc;
}

/* add(a = 2, b = 3) named 'name', seqid 77, strict binary */
static void
write_good_call(tc_buf_t *b, const char *name)
{
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, b);
    w.ops->write_message_begin(&w, name, (uint32_t)strlen(name), TC_MSG_CALL, 77);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
    w.ops->write_i32(&w, 2);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
    w.ops->write_i32(&w, 3);
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
}

static void
init_target(target_t *t)
{
    tc_err_t err;
    tc_err_clear(&err);
    t->cfg = tc_config_load(t->path, NULL, 0, &err);
    TC_FUZZ_CHECK(t->cfg != NULL, "tc_config_load: %s", err.msg);
    TC_FUZZ_CHECK(t->cfg->expose_errors, "%s sets expose_errors", t->path);
    t->disp = tc_dispatch_new(t->cfg, &err);
    TC_FUZZ_CHECK(t->disp != NULL, "tc_dispatch_new(%s): %s", t->path, err.msg);
    TC_FUZZ_CHECK(tc_dispatch_thread_start(t->disp, &err) == TC_OK, "thread_start(%s): %s", t->path,
                  err.msg);
    tc_buf_init(&t->good_call);
    tc_buf_init(&t->good_reply);
    write_good_call(&t->good_call, t->cfg->nservices > 0 ? "AllTypes:add" : "add");

    /* the known-good call: a REPLY whose result is 5 */
    tc_call_info_t info;
    tc_proto_t in;
    tc_msg_hdr_t m;
    int rc = handle(t, &tc_proto_binary, t->good_call.data, t->good_call.len, t->cfg->max_depth,
                    t->cfg->max_message_size, &info, &in);
    TC_FUZZ_CHECK(rc == TC_OK && info.status == 0 && info.replied, "%s: add(2, 3): %d, status %d",
                  t->path, rc, info.status);
    tc_proto_init(&in, &tc_proto_binary, t->good_call.data, t->good_call.len, NULL);
    TC_FUZZ_CHECK(in.ops->read_message_begin(&in, &m) == TC_OK, "good_call has no header");
    check_reply(t, &tc_proto_binary, &m, &info, &out);
    static const uint8_t five[] = {0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00};
    TC_FUZZ_CHECK(out.len > sizeof(five) &&
                      memcmp(out.data + out.len - sizeof(five), five, sizeof(five)) == 0,
                  "%s: add(2, 3) is not 5", t->path);
    tc_buf_append(&t->good_reply, out.data, out.len);
}

static void
init(void)
{
    tc_err_t err;
    tc_err_clear(&err);
    L = tc_lua_state_new(&err);
    TC_FUZZ_CHECK(L != NULL, "tc_lua_state_new: %s", err.msg);
    lua_pushcfunction(L, l_init);
    TC_FUZZ_CHECK(tc_lua_pcall(L, 0, 0, &err) == TC_OK, "loading the fixture IDLs: %s", err.msg);
    tc_buf_init(&out);
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        init_target(&targets[i]);
    }
    ready = true;
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

/* A REPLY's body, at 'p', as the result struct of 'method' of 'svc'. */
static void
check_result(tc_proto_t *p, const tc_service_t *svc, const char *method, uint32_t method_len,
             const tc_call_info_t *info)
{
    int idx = tc_schema_service_index(svc, method, method_len);
    TC_FUZZ_CHECK(idx >= 0, "a REPLY to '%.*s', which is no method", (int)method_len, method);
    job_t j = {.p = p, .st = svc->functions[idx]->result, .rc = TC_EINVAL};
    tc_err_clear(&j.err);
    int top = lua_gettop(L);
    lua_pushcfunction(L, l_decode_result);
    lua_pushlightuserdata(L, &j);
    TC_FUZZ_CHECK(lua_pcall(L, 1, 0, 0) == LUA_OK, "decoding the result raised: %s",
                  lua_tostring(L, -1));
    lua_settop(L, top);
    TC_FUZZ_CHECK(j.rc == TC_OK, "the REPLY of %.*s does not decode as its result: %s",
                  (int)method_len, method, j.err.msg);
    TC_FUZZ_CHECK(p->rp == p->rend, "the result of %.*s ends %zu bytes early", (int)method_len,
                  method, (size_t)(p->rend - p->rp));
    TC_FUZZ_CHECK(j.declared == (info->status == TC_CALL_DECLARED_EXCEPTION),
                  "status %d with %d declared exceptions set", info->status, j.declared);
    TC_FUZZ_CHECK(j.success <= 1 && j.success + j.declared <= 1, "%d results and %d exceptions",
                  j.success, j.declared);
}

/* The call info of a handled request, and its reply in 'reply' (may be empty). */
static void
check_reply(const target_t *t, const tc_proto_ops_t *ops, const tc_msg_hdr_t *req,
            const tc_call_info_t *info, const tc_buf_t *reply)
{
    const tc_service_conf_t *entry;
    const tc_service_t *svc;
    const char *method;
    uint32_t method_len;
    const char *service = route(t, req, &entry, &svc, &method, &method_len);
    TC_FUZZ_CHECK(info->method == method && info->method_len == method_len,
                  "the call info names another method");
    if (service == NULL) {
        /* a message of another type than a call is refused for its type first */
        bool call = req->type == TC_MSG_CALL || req->type == TC_MSG_ONEWAY;
        int want = call ? TC_APPEX_UNKNOWN_METHOD : TC_APPEX_INVALID_MESSAGE_TYPE;
        TC_FUZZ_CHECK(info->service == NULL && info->status == want,
                      "'%.*s' (type %u) went to service %s with status %d", (int)req->name_len,
                      req->name, req->type, info->service ? info->service : "(none)", info->status);
        /* a oneway call to no service gets no reply (docs/reliability.md) */
        TC_FUZZ_CHECK((reply->len > 0) == (req->type != TC_MSG_ONEWAY),
                      "a call to no service: type %u, %zu bytes of reply", req->type, reply->len);
    } else {
        TC_FUZZ_CHECK(info->service != NULL && strcmp(info->service, service) == 0,
                      "'%.*s' went to %s, not %s", (int)req->name_len, req->name,
                      info->service ? info->service : "(none)", service);
    }
    TC_FUZZ_CHECK(info->replied == (reply->len > 0), "replied %d with %zu bytes", info->replied,
                  reply->len);
    if (reply->len == 0) {
        return;
    }
    tc_proto_t p;
    tc_msg_hdr_t h;
    tc_proto_init(&p, ops, reply->data, reply->len, NULL);
    TC_FUZZ_CHECK(p.ops->read_message_begin(&p, &h) == TC_OK, "the reply has no message header");
    TC_FUZZ_CHECK(h.type == TC_MSG_REPLY || h.type == TC_MSG_EXCEPTION, "reply of type %u", h.type);
    TC_FUZZ_CHECK(h.seqid == req->seqid, "reply seqid %d to request %d", h.seqid, req->seqid);
    TC_FUZZ_CHECK(h.name_len == method_len && memcmp(h.name, method, h.name_len) == 0,
                  "reply to '%.*s' named '%.*s'", (int)req->name_len, req->name, (int)h.name_len,
                  h.name);
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
        if (ex.type == TC_APPEX_PROTOCOL_ERROR) {
            /* arguments that do not decode: the text names the call first, as it was named */
            TC_FUZZ_CHECK(svc != NULL, "PROTOCOL_ERROR from no service");
            char head[TC_ERR_MSG_MAX];
            int n = snprintf(head, sizeof(head), "%s.%.*s: arguments: ",
                             entry->mux_name != NULL ? entry->mux_name : svc->name, (int)method_len,
                             method);
            TC_FUZZ_CHECK(n > 0 && ex.message_len >= (uint32_t)n &&
                              memcmp(ex.message, head, (size_t)n) == 0,
                          "PROTOCOL_ERROR '%.*s' does not start with '%s'", (int)ex.message_len,
                          ex.message, head);
        }
    } else {
        TC_FUZZ_CHECK(svc != NULL, "a REPLY from no service");
        TC_FUZZ_CHECK(info->status == 0 || info->status == TC_CALL_DECLARED_EXCEPTION,
                      "a REPLY with status %d", info->status);
        check_result(&p, svc, method, method_len, info);
    }
}

/* ---- one input ---- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_fuzz_verdict = 0;
    if (!ready) {
        init();
    }
    if (size < 1) {
        return 0;
    }
    const tc_proto_ops_t *ops = formats[data[0] & 1];
    bool tight = (data[0] & 2) != 0;
    const target_t *t = &targets[(data[0] >> 2) & 3];
    const tc_config_t *cfg = t->cfg;
    data++;
    size--;

    tc_call_info_t info;
    tc_proto_t in;
    int rc = handle(t, ops, data, size, tight ? 8 : cfg->max_depth,
                    tight ? 64 : cfg->max_message_size, &info, &in);
    if (rc == TC_OK) {
        /* the request's header, read again: what the reply must echo */
        tc_proto_t rq;
        tc_msg_hdr_t m;
        tc_proto_init(&rq, ops, data, size, NULL);
        TC_FUZZ_CHECK(rq.ops->read_message_begin(&rq, &m) == TC_OK,
                      "handled a request whose header does not read");
        check_reply(t, ops, &m, &info, &out);
        tc_fuzz_verdict = info.status != TC_APPEX_UNKNOWN_METHOD &&
                          info.status != TC_APPEX_INVALID_MESSAGE_TYPE &&
                          info.status != TC_APPEX_PROTOCOL_ERROR && in.rp == in.rend;
    }

    /* the handlers' state survived: the known-good call gets its reply */
    rc = handle(t, &tc_proto_binary, t->good_call.data, t->good_call.len, cfg->max_depth,
                cfg->max_message_size, &info, &in);
    TC_FUZZ_CHECK(rc == TC_OK && out.len == t->good_reply.len &&
                      memcmp(out.data, t->good_reply.data, out.len) == 0,
                  "add(2, 3) after this input: status %d, %zu bytes (%zu before)", rc, out.len,
                  t->good_reply.len);
    return 0;
}
