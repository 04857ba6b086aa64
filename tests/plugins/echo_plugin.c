/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The echo service of tests/fixtures/fuzz_echo.thrift as a C plugin: every
 * method writes its argument back through the host API's typed writers, as
 * the result or, for raise_oops(), as the declared exception
 * (tests/integration/test_fuzz_echo.py calls it with random values).
 */
#include "fuzz_echo_sig.h"

#include "plugin_test_util.h"

/*
 * Every field id a struct of fuzz_echo.thrift uses: tp_copy_value() copies
 * a struct by probing them (plugin_test_util.h).
 */
static const int16_t struct_ids[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,  13,   14,
                                     15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  27,   28,
                                     29, 30, 31, 32, 33, 34, 35, 36, 40, 60, 80, 100, 32767};
static const tp_copy_t copy = {struct_ids, sizeof(struct_ids) / sizeof(struct_ids[0]), 0};

/* Every method: argument 1 back as the result. */
static int
echo(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    tc_value_t v;
    int rc = api->get(args, 1, &v);
    if (rc != TC_PLUGIN_OK) {
        return api->fail(call, "%s: no argument v (%d)", api->call_method(call), rc);
    }
    rc = tp_copy_value(api, call, &copy, TC_RESULT, &v);
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
        rc = tp_copy_fields(api, call, &copy, v);
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

TP_PLUGIN("FuzzEcho", methods, .name = "fuzz_echo", .version = "1.0");
