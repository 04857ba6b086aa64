/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The echo service of tests/fixtures/fuzz_echo.thrift as a C plugin: every
 * method writes its argument back through the host API's typed writers, as
 * the result or, for raise_oops(), as the declared exception
 * (tests/integration/test_fuzz_echo.py calls it with random values).
 */
#include "fuzz_echo_sig.h"

#include <thriftcorn/plugin.h>

/*
 * The API reads a struct by field id only: a struct is copied by probing
 * every id a struct of fuzz_echo.thrift uses. An id the struct lacks reads
 * as TC_PLUGIN_ETYPE, a field the client left out (with no default) as
 * TC_PLUGIN_ENOTSET; neither is written.
 */
static const int16_t struct_ids[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,  13,   14,
                                     15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  27,   28,
                                     29, 30, 31, 32, 33, 34, 35, 36, 40, 60, 80, 100, 32767};

static int copy_value(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_value_t *v);

/* The fields of 's' into the struct the reply is in. */
static int
copy_fields(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *s)
{
    int rc = TC_PLUGIN_OK;
    for (size_t i = 0; rc == TC_PLUGIN_OK && i < sizeof(struct_ids) / sizeof(struct_ids[0]); i++) {
        tc_value_t f;
        int got = api->get(s, struct_ids[i], &f);
        if (got == TC_PLUGIN_OK) {
            rc = copy_value(api, call, struct_ids[i], &f);
        } else if (got != TC_PLUGIN_ENOTSET && got != TC_PLUGIN_ETYPE) {
            return got;
        }
    }
    return rc == TC_PLUGIN_OK ? api->end(call) : rc;
}

static int
copy_struct(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_view_t *s)
{
    int rc = api->begin_struct(call, id);
    return rc == TC_PLUGIN_OK ? copy_fields(api, call, s) : rc;
}

static int
copy_seq(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_seq_t *s)
{
    size_t n = api->seq_len(s);
    int map = api->seq_kind(s) == TC_VAL_MAP;
    int rc = map ? api->begin_map(call, id, n) : api->begin_list(call, id, n);
    for (size_t i = 0; rc == TC_PLUGIN_OK && i < n; i++) {
        tc_value_t k;
        tc_value_t v;
        rc = api->seq_get(s, i, &k, map ? &v : NULL);
        if (rc == TC_PLUGIN_OK) {
            rc = copy_value(api, call, 0, &k);
        }
        if (rc == TC_PLUGIN_OK && map) {
            rc = copy_value(api, call, 0, &v);
        }
    }
    return rc == TC_PLUGIN_OK ? api->end(call) : rc;
}

static int
copy_value(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_value_t *v)
{
    switch (v->kind) {
    case TC_VAL_BOOL:
        return api->put_bool(call, id, (int)v->u.i);
    case TC_VAL_BYTE:
        return api->put_byte(call, id, (int8_t)v->u.i);
    case TC_VAL_I16:
        return api->put_i16(call, id, (int16_t)v->u.i);
    case TC_VAL_I32:
    case TC_VAL_ENUM:
        return api->put_i32(call, id, (int32_t)v->u.i);
    case TC_VAL_I64:
        return api->put_i64(call, id, v->u.i);
    case TC_VAL_DOUBLE:
        return api->put_double(call, id, v->u.d);
    case TC_VAL_STRING:
    case TC_VAL_BINARY:
        return api->put_binary(call, id, v->u.bin.ptr, v->u.bin.len);
    case TC_VAL_UUID:
        return api->put_uuid(call, id, v->u.uuid);
    case TC_VAL_LIST:
    case TC_VAL_SET:
    case TC_VAL_MAP:
        return copy_seq(api, call, id, v->u.seq);
    case TC_VAL_STRUCT:
        return copy_struct(api, call, id, v->u.view);
    default:
        return TC_PLUGIN_ETYPE;
    }
}

/* Every method: argument 1 back as the result. */
static int
echo(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    tc_value_t v;
    int rc = api->get(args, 1, &v);
    if (rc != TC_PLUGIN_OK) {
        return api->fail(call, "%s: no argument v (%d)", api->call_method(call), rc);
    }
    rc = copy_value(api, call, TC_RESULT, &v);
    if (rc != TC_PLUGIN_OK) {
        return api->fail(call, "%s: copying the argument failed (%d)", api->call_method(call), rc);
    }
    return TC_PLUGIN_OK;
}

/* raise_oops(): argument 1 back as the declared exception. */
static int
raise_oops(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    const tc_view_t *v;
    if (api->get_struct(args, TC_ARG_FuzzEcho_raise_oops_v, &v) != TC_PLUGIN_OK) {
        return api->fail(call, "raise_oops: no argument v");
    }
    int rc = api->raise(call, TC_EX_FuzzEcho_raise_oops_oops);
    if (rc == TC_PLUGIN_OK) {
        rc = copy_fields(api, call, v);
    }
    if (rc != TC_PLUGIN_OK) {
        return api->fail(call, "raise_oops: copying the argument failed (%d)", rc);
    }
    return TC_PLUGIN_OK;
}

static const tc_plugin_method_t methods[] = {
    TC_METHOD_FuzzEcho_echo_bool(echo),
    TC_METHOD_FuzzEcho_echo_byte(echo),
    TC_METHOD_FuzzEcho_echo_i16(echo),
    TC_METHOD_FuzzEcho_echo_i32(echo),
    TC_METHOD_FuzzEcho_echo_i64(echo),
    TC_METHOD_FuzzEcho_echo_double(echo),
    TC_METHOD_FuzzEcho_echo_string(echo),
    TC_METHOD_FuzzEcho_echo_binary(echo),
    TC_METHOD_FuzzEcho_echo_kind(echo),
    TC_METHOD_FuzzEcho_echo_key(echo),
    TC_METHOD_FuzzEcho_echo_choice(echo),
    TC_METHOD_FuzzEcho_echo_opts(echo),
    TC_METHOD_FuzzEcho_echo_dflt(echo),
    TC_METHOD_FuzzEcho_echo_all(echo),
    TC_METHOD_FuzzEcho_echo_deep(echo),
    TC_METHOD_FuzzEcho_echo_alls(echo),
    TC_METHOD_FuzzEcho_echo_key_sets(echo),
    TC_METHOD_FuzzEcho_echo_list_keys(echo),
    TC_METHOD_FuzzEcho_echo_list_set(echo),
    TC_METHOD_FuzzEcho_echo_set_keys(echo),
    TC_METHOD_FuzzEcho_echo_map_keys(echo),
    TC_METHOD_FuzzEcho_raise_oops(raise_oops),
    {NULL, 0, NULL, NULL},
};

static const tc_plugin_service_t services[] = {
    {"FuzzEcho", methods},
    {NULL, NULL},
};

static const tc_plugin_t plugin = {
    .abi_major = TC_PLUGIN_ABI_MAJOR,
    .abi_minor = TC_PLUGIN_ABI_MINOR,
    .name = "fuzz_echo",
    .version = "1.0",
    .flags = 0,
    .services = services,
};

const tc_plugin_t *
tc_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    return &plugin;
}
