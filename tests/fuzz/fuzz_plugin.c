/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C plugin of the dispatch fuzz target (fuzz_dispatch.c): serves echo,
 * add and evaluate of service AllTypes (tests/fixtures/idl/alltypes.thrift)
 * in C and leaves nothing and fire to the Lua handler. echo copies every
 * value it can read back through the reply builder, so every reader and
 * builder function runs on whatever the fuzzer sends; the readers are
 * checked against each other on the way (a broken check aborts: a finding).
 */
#include "alltypes_sig.h"

#include "plugin_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The highest field id of any struct in alltypes.thrift (Defaults.req_default), and one more. */
#define MAX_FIELD_ID 16

static void
check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_plugin: check failed: %s\n", what);
        abort();
    }
}

/* ---- readers, checked against each other ---- */

/* The typed reader of field 'id' gives what get() gave. */
static void
check_typed(const tc_host_api_t *api, const tc_view_t *view, int16_t id, const tc_value_t *v)
{
    int b = 0;
    int8_t i8 = 0;
    int16_t i16 = 0;
    int32_t i32 = 0;
    int64_t i64 = 0;
    double d = 0;
    const void *ptr = NULL;
    const char *str = NULL;
    size_t len = 0;
    const uint8_t *uuid = NULL;
    const tc_view_t *sub = NULL;
    const tc_seq_t *seq = NULL;
    switch (v->kind) {
    case TC_VAL_BOOL:
        check(api->get_bool(view, id, &b) == TC_PLUGIN_OK && b == v->u.i, "get_bool");
        break;
    case TC_VAL_BYTE:
        check(api->get_byte(view, id, &i8) == TC_PLUGIN_OK && i8 == v->u.i, "get_byte");
        break;
    case TC_VAL_I16:
        check(api->get_i16(view, id, &i16) == TC_PLUGIN_OK && i16 == v->u.i, "get_i16");
        break;
    case TC_VAL_I32:
    case TC_VAL_ENUM:
        check(api->get_i32(view, id, &i32) == TC_PLUGIN_OK && i32 == v->u.i, "get_i32");
        break;
    case TC_VAL_I64:
        check(api->get_i64(view, id, &i64) == TC_PLUGIN_OK && i64 == v->u.i, "get_i64");
        break;
    case TC_VAL_DOUBLE:
        check(api->get_double(view, id, &d) == TC_PLUGIN_OK && memcmp(&d, &v->u.d, sizeof(d)) == 0,
              "get_double");
        break;
    case TC_VAL_STRING:
        check(api->get_string(view, id, &str, &len) == TC_PLUGIN_OK &&
                  (const void *)str == v->u.bin.ptr && len == v->u.bin.len,
              "get_string");
        /* FALLTHROUGH */
    case TC_VAL_BINARY:
        check(api->get_binary(view, id, &ptr, &len) == TC_PLUGIN_OK && ptr == v->u.bin.ptr &&
                  len == v->u.bin.len,
              "get_binary");
        break;
    case TC_VAL_UUID:
        check(api->get_uuid(view, id, &uuid) == TC_PLUGIN_OK && uuid == v->u.uuid, "get_uuid");
        break;
    case TC_VAL_STRUCT:
        check(api->get_struct(view, id, &sub) == TC_PLUGIN_OK && sub == v->u.view, "get_struct");
        break;
    case TC_VAL_LIST:
    case TC_VAL_SET:
    case TC_VAL_MAP:
        check(api->get_seq(view, id, &seq) == TC_PLUGIN_OK && seq == v->u.seq, "get_seq");
        check(api->seq_kind(seq) == v->kind, "seq_kind");
        break;
    default:
        check(0, "get() gave no known kind");
    }
    /* a reader of another type refuses */
    if (v->kind != TC_VAL_I32 && v->kind != TC_VAL_ENUM) {
        check(api->get_i32(view, id, &i32) == TC_PLUGIN_ETYPE, "get_i32 of another type");
    }
}

/*
 * Field 'id' of 'view' into '*v'. 0: it has a value (sent or an IDL
 * default); 1: no such field or not set.
 */
static int
read_field(const tc_host_api_t *api, const tc_view_t *view, int16_t id, tc_value_t *v)
{
    int rc = api->get(view, id, v);
    int sent = api->has(view, id);
    check(sent == 0 || sent == 1, "has() is 0 or 1");
    if (rc == TC_PLUGIN_ETYPE || rc == TC_PLUGIN_ENOTSET) {
        check(sent == 0, "a field sent that get() does not read");
        return 1;
    }
    check(rc == TC_PLUGIN_OK, "get() gave an unknown status");
    check_typed(api, view, id, v);
    return 0;
}

/* ---- echo: any value read, written back ---- */

static int copy_value(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_value_t *v);

static int
copy_struct(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *view)
{
    tc_value_t v;
    check(api->get(view, 0, &v) == TC_PLUGIN_ETYPE, "field 0 of a struct");
    check(api->get(view, MAX_FIELD_ID, &v) == TC_PLUGIN_ETYPE, "a field past the last id");
    for (int16_t id = 1; id < MAX_FIELD_ID; id++) {
        if (read_field(api, view, id, &v) == 0) {
            int rc = copy_value(api, call, id, &v);
            if (rc != TC_PLUGIN_OK) {
                return rc;
            }
        }
    }
    return TC_PLUGIN_OK;
}

static int
copy_seq(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_seq_t *s)
{
    size_t n = api->seq_len(s);
    int map = api->seq_kind(s) == TC_VAL_MAP;
    int rc = map ? api->begin_map(call, id, n) : api->begin_list(call, id, n);
    tc_value_t elem;
    tc_value_t value;
    check(api->seq_get(s, n, &elem, &value) == TC_PLUGIN_ERANGE, "seq_get past the end");
    for (size_t i = 0; i < n && rc == TC_PLUGIN_OK; i++) {
        check(api->seq_get(s, i, &elem, map ? &value : NULL) == TC_PLUGIN_OK, "seq_get");
        rc = copy_value(api, call, 0, &elem);
        if (rc == TC_PLUGIN_OK && map) {
            rc = copy_value(api, call, 0, &value);
        }
    }
    return rc == TC_PLUGIN_OK ? api->end(call) : rc;
}

static int
copy_value(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_value_t *v)
{
    switch (v->kind) {
    case TC_VAL_STRUCT: {
        int rc = api->begin_struct(call, id);
        rc = rc == TC_PLUGIN_OK ? copy_struct(api, call, v->u.view) : rc;
        return rc == TC_PLUGIN_OK ? api->end(call) : rc;
    }
    case TC_VAL_LIST:
    case TC_VAL_SET:
    case TC_VAL_MAP:
        return copy_seq(api, call, id, v->u.seq);
    default: {
        int rc = tp_put_scalar(api, call, id, v);
        check(rc != TC_PLUGIN_ETYPE, "a value of no known kind");
        return rc;
    }
    }
}

static int
echo(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    check(strcmp(api->call_method(call), "echo") == 0, "call_method");
    check(api->thread_data(call) != NULL, "init_thread() ran");
    const char *k;
    const char *v;
    size_t kn;
    size_t vn;
    check(api->request_header(call, 0, &k, &kn, &v, &vn) == TC_PLUGIN_ERANGE,
          "request headers without THeader");
    tc_value_t e;
    if (read_field(api, args, TC_ARG_AllTypes_echo_e, &e) != 0) {
        return TC_PLUGIN_OK; /* no argument: the result is not set, as from Lua's nil */
    }
    return copy_value(api, call, TC_RESULT, &e);
}

/* ---- add and evaluate: results, declared exceptions, failures ---- */

static int
raise_failure(const tc_host_api_t *api, tc_call_t *call, const char *msg, size_t len, int32_t code)
{
    int rc = api->raise(call, TC_EX_AllTypes_add_failure);
    rc = rc == TC_PLUGIN_OK ? api->put_binary(call, 1, msg, len) : rc;
    rc = rc == TC_PLUGIN_OK ? api->put_i32(call, 2, code) : rc;
    return rc == TC_PLUGIN_OK ? api->end(call) : rc;
}

/* The same paths as add() in tests/fixtures/dispatch/handler.lua. */
static int
add(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t a = 0;
    int32_t b = 0;
    int ra = api->get_i32(args, TC_ARG_AllTypes_add_a, &a);
    int rb = api->get_i32(args, TC_ARG_AllTypes_add_b, &b);
    if (ra != TC_PLUGIN_OK || rb != TC_PLUGIN_OK) {
        return api->fail(call, "add: an argument is missing (%d, %d)", ra, rb);
    }
    switch (a) {
    case -1:
        return api->fail(call, "add: refused %d", b);
    case -2:
        return TC_PLUGIN_EFAIL; /* a failure without a text */
    case -3:
        return raise_failure(api, call, "refused", 7, b);
    case -4:
        return api->raise(call, 2); /* no such exception: INTERNAL_ERROR */
    case -5:
        return api->put_string(call, TC_RESULT, "not an i32");
    default:
        break;
    }
    int64_t sum = (int64_t)a + b;
    if (sum < INT32_MIN || sum > INT32_MAX) {
        return api->fail(call, "add: %lld does not fit an i32", (long long)sum);
    }
    return api->put_i32(call, TC_RESULT, (int32_t)sum);
}

/* The value 'name' is bound to in 'env' (NULL: none), the last one if sent twice. */
static const tc_view_t *
lookup(const tc_host_api_t *api, const tc_seq_t *env, const tc_value_t *name)
{
    const tc_view_t *found = NULL;
    size_t n = env != NULL ? api->seq_len(env) : 0;
    for (size_t i = 0; i < n; i++) {
        tc_value_t k;
        tc_value_t v;
        check(api->seq_get(env, i, &k, &v) == TC_PLUGIN_OK, "seq_get of env");
        check(k.kind == TC_VAL_STRING && v.kind == TC_VAL_STRUCT, "env is map<string, Value>");
        if (k.u.bin.len == name->u.bin.len &&
            memcmp(k.u.bin.ptr, name->u.bin.ptr, k.u.bin.len) == 0) {
            found = v.u.view;
        }
    }
    return found;
}

/* The first name in 'v' that 'env' does not bind, into '*unbound'; 0 when there is none. */
static int
find_unbound(const tc_host_api_t *api, const tc_view_t *v, const tc_seq_t *env, tc_value_t *unbound)
{
    tc_value_t m;
    if (read_field(api, v, 3, &m) == 0) {
        *unbound = m;
        return lookup(api, env, &m) == NULL;
    }
    for (int16_t id = 4; id <= 5; id++) {
        if (read_field(api, v, id, &m) != 0) {
            continue;
        }
        size_t n = api->seq_len(m.u.seq);
        for (size_t i = 0; i < n; i++) {
            tc_value_t k;
            tc_value_t x;
            check(api->seq_get(m.u.seq, i, &k, &x) == TC_PLUGIN_OK, "seq_get of a Value");
            const tc_value_t *elem = id == 4 ? &k : &x;
            if (find_unbound(api, elem->u.view, env, unbound)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Write what 'v' evaluates to, as field 'id'. */
static int
eval(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_view_t *v, const tc_seq_t *env)
{
    tc_value_t m;
    for (int16_t member = 1; member <= 5; member++) {
        if (read_field(api, v, member, &m) != 0) {
            continue;
        }
        if (member <= 2) {
            tc_value_t self = {.kind = TC_VAL_STRUCT, .u.view = v};
            return copy_value(api, call, id, &self);
        }
        if (member == 3) {
            tc_value_t bound = {.kind = TC_VAL_STRUCT, .u.view = lookup(api, env, &m)};
            check(bound.u.view != NULL, "find_unbound() missed a name");
            return copy_value(api, call, id, &bound);
        }
        size_t n = api->seq_len(m.u.seq);
        int rc = api->begin_struct(call, id);
        if (rc == TC_PLUGIN_OK) {
            rc = member == 4 ? api->begin_list(call, member, n) : api->begin_map(call, member, n);
        }
        for (size_t i = 0; i < n && rc == TC_PLUGIN_OK; i++) {
            tc_value_t k;
            tc_value_t x;
            check(api->seq_get(m.u.seq, i, &k, &x) == TC_PLUGIN_OK, "seq_get of a Value");
            if (member == 4) {
                rc = eval(api, call, 0, k.u.view, env);
            } else {
                rc = api->put_binary(call, 0, k.u.bin.ptr, k.u.bin.len);
                rc = rc == TC_PLUGIN_OK ? eval(api, call, 0, x.u.view, env) : rc;
            }
        }
        rc = rc == TC_PLUGIN_OK ? api->end(call) : rc;
        return rc == TC_PLUGIN_OK ? api->end(call) : rc;
    }
    return api->fail(call, "evaluate: a Value with no member set");
}

/* The same as evaluate() in tests/fixtures/dispatch/handler.lua. */
static int
evaluate(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    const tc_view_t *v = NULL;
    const tc_seq_t *env = NULL;
    if (api->get_struct(args, TC_ARG_AllTypes_evaluate_v, &v) != TC_PLUGIN_OK) {
        return api->fail(call, "evaluate: no value");
    }
    (void)api->get_seq(args, TC_ARG_AllTypes_evaluate_env, &env);
    tc_value_t name;
    if (find_unbound(api, v, env, &name)) {
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "unbound %.*s",
                         (int)(name.u.bin.len > 40 ? 40 : name.u.bin.len),
                         (const char *)name.u.bin.ptr);
        return raise_failure(api, call, msg, (size_t)n, 404);
    }
    return eval(api, call, TC_RESULT, v, env);
}

/* ---- the descriptor ---- */

static int
init_thread(const tc_host_api_t *api, void **data)
{
    (void)api;
    static int marker;
    *data = &marker;
    return TC_PLUGIN_OK;
}

static const tc_plugin_method_t methods[] = {
    TC_METHOD_AllTypes_echo(echo),
    TC_METHOD_AllTypes_add(add),
    TC_METHOD_AllTypes_evaluate(evaluate),
    {NULL, 0, NULL, NULL},
};

TP_PLUGIN("AllTypes", methods, .name = "fuzz", .version = "0", .init_thread = init_thread);
