/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark service (bench/bench.thrift) as a C plugin: the same results,
 * exceptions and failures as bench/handler.lua and the C++ anchor
 * (bench/anchors/anchor_server.cpp), written as a fast C handler is meant to
 * be: arguments read in place through the typed readers, replies written
 * straight to the output by the reply builder, no allocation per call.
 * bench_sig.h is generated at build time by `thriftcorn --plugin-header`.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep() */

#include "bench_sig.h"

#include <thriftcorn/plugin.h>

#include <errno.h>
#include <time.h>

/*
 * Decimal digits of 'v' at 'out' (room for 20 digits and a sign); returns
 * how many. The names of batch() need two per item: snprintf() would cost
 * more than the rest of the item.
 */
static size_t
fmt_i64(char *out, int64_t v)
{
    char tmp[20];
    size_t n = 0;
    size_t len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        out[len++] = '-';
    }
    while (n > 0) {
        out[len++] = tmp[--n];
    }
    return len;
}

static int
ping(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    (void)api;
    (void)call;
    (void)args;
    return TC_PLUGIN_OK;
}

static int
echo(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    const void *s;
    size_t len;
    if (api->get_binary(args, TC_ARG_Bench_echo_s, &s, &len) != TC_PLUGIN_OK) {
        return TC_PLUGIN_OK; /* no s: no result, MISSING_RESULT as for Lua's nil */
    }
    return api->put_binary(call, TC_RESULT, s, len);
}

static int
add(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int64_t a;
    int64_t b;
    if (api->get_i64(args, TC_ARG_Bench_add_a, &a) != TC_PLUGIN_OK ||
        api->get_i64(args, TC_ARG_Bench_add_b, &b) != TC_PLUGIN_OK) {
        return api->fail(call, "add: a and b are required");
    }
    /* wraps around as Lua's integers (and the C++ anchor's int64_t) do */
    return api->put_i64(call, TC_RESULT, (int64_t)((uint64_t)a + (uint64_t)b));
}

/* Write the list<i32> or map<string, string> 's' as field 'id' of the open struct. */
static int
copy_seq(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_seq_t *s)
{
    size_t n = api->seq_len(s);
    tc_value_t k;
    tc_value_t v;
    if (api->seq_kind(s) == TC_VAL_MAP) {
        api->begin_map(call, id, n);
        for (size_t i = 0; i < n; i++) {
            api->seq_get(s, i, &k, &v);
            api->put_binary(call, 0, k.u.bin.ptr, k.u.bin.len);
            api->put_binary(call, 0, v.u.bin.ptr, v.u.bin.len);
        }
    } else {
        api->begin_list(call, id, n);
        for (size_t i = 0; i < n; i++) {
            api->seq_get(s, i, &k, NULL);
            api->put_i32(call, 0, (int32_t)k.u.i);
        }
    }
    return api->end(call);
}

/* The item comes back with id+1 and every other field as it came. */
static int
roundtrip(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    const tc_view_t *item;
    int64_t id;
    if (api->get_struct(args, TC_ARG_Bench_roundtrip_item, &item) != TC_PLUGIN_OK ||
        api->get_i64(item, TC_FIELD_bench_Item_id, &id) != TC_PLUGIN_OK) {
        return api->fail(call, "roundtrip: item.id is required");
    }
    const void *name;
    size_t len;
    double score;
    const tc_seq_t *s;
    int flag;
    /*
     * Each builder call fails once one has failed and end() reports it, so
     * only the last status needs checking.
     */
    api->begin_struct(call, TC_RESULT);
    api->put_i64(call, TC_FIELD_bench_Item_id, (int64_t)((uint64_t)id + 1));
    if (api->get_binary(item, TC_FIELD_bench_Item_name, &name, &len) == TC_PLUGIN_OK) {
        api->put_binary(call, TC_FIELD_bench_Item_name, name, len);
    }
    if (api->get_double(item, TC_FIELD_bench_Item_score, &score) == TC_PLUGIN_OK) {
        api->put_double(call, TC_FIELD_bench_Item_score, score);
    }
    if (api->get_seq(item, TC_FIELD_bench_Item_tags, &s) == TC_PLUGIN_OK) {
        copy_seq(api, call, TC_FIELD_bench_Item_tags, s);
    }
    if (api->get_seq(item, TC_FIELD_bench_Item_attrs, &s) == TC_PLUGIN_OK) {
        copy_seq(api, call, TC_FIELD_bench_Item_attrs, s);
    }
    if (api->get_bool(item, TC_FIELD_bench_Item_flag, &flag) == TC_PLUGIN_OK) {
        api->put_bool(call, TC_FIELD_bench_Item_flag, flag);
    }
    return api->end(call);
}

/*
 * n items with id = 0..n-1, name = "item-<id>", score = id/2.0,
 * tags = [id, id+1, id+2], attrs = {"k": "v<id>"}, built anew on every call
 * as the Lua handler and the C++ anchor do; a negative n is an empty list,
 * as Lua's loop makes it.
 */
static int
batch(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t n;
    if (api->get_i32(args, TC_ARG_Bench_batch_n, &n) != TC_PLUGIN_OK) {
        return api->fail(call, "batch: n is required");
    }
    char name[32] = "item-";
    char v[32] = "v";
    api->begin_list(call, TC_RESULT, n > 0 ? (size_t)n : 0);
    for (int32_t id = 0; id < n; id++) {
        api->begin_struct(call, 0);
        api->put_i64(call, TC_FIELD_bench_Item_id, id);
        api->put_binary(call, TC_FIELD_bench_Item_name, name, 5 + fmt_i64(name + 5, id));
        api->put_double(call, TC_FIELD_bench_Item_score, id / 2.0);
        api->begin_list(call, TC_FIELD_bench_Item_tags, 3);
        /* id + 2 is past INT32_MAX only for n near it, a reply no server can build */
        api->put_i32(call, 0, id);
        api->put_i32(call, 0, (int32_t)((uint32_t)id + 1));
        api->put_i32(call, 0, (int32_t)((uint32_t)id + 2));
        api->end(call);
        api->begin_map(call, TC_FIELD_bench_Item_attrs, 1);
        api->put_binary(call, 0, "k", 1);
        api->put_binary(call, 0, v, 1 + fmt_i64(v + 1, id));
        api->end(call);
        api->end(call);
    }
    return api->end(call);
}

/* Raises BenchError{code, "fail <code>"}. */
static int
fail(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t code;
    if (api->get_i32(args, TC_ARG_Bench_fail_code, &code) != TC_PLUGIN_OK) {
        return api->fail(call, "fail: code is required");
    }
    char msg[32] = "fail ";
    api->raise(call, TC_EX_Bench_fail_err);
    api->put_i32(call, TC_FIELD_bench_BenchError_code, code);
    api->put_binary(call, TC_FIELD_bench_BenchError_message, msg, 5 + fmt_i64(msg + 5, code));
    return api->end(call);
}

static int
fire(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    (void)api;
    (void)call;
    (void)args;
    return TC_PLUGIN_OK;
}

/*
 * Blocks this handler thread for ms milliseconds; the worker moves the
 * thread's other connections to idle threads meanwhile (docs/handlers.md).
 */
static int
sleep_ms(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t ms;
    if (api->get_i32(args, TC_ARG_Bench_sleep_ms, &ms) != TC_PLUGIN_OK || ms < 0) {
        return api->fail(call, "sleep: ms must be given and not negative");
    }
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return TC_PLUGIN_OK;
}

static const tc_plugin_method_t bench_methods[] = {
    TC_METHOD_Bench_ping(ping),   TC_METHOD_Bench_echo(echo),
    TC_METHOD_Bench_add(add),     TC_METHOD_Bench_roundtrip(roundtrip),
    TC_METHOD_Bench_batch(batch), TC_METHOD_Bench_fail(fail),
    TC_METHOD_Bench_fire(fire),   TC_METHOD_Bench_sleep(sleep_ms),
    {NULL, 0, NULL, NULL},
};

static const tc_plugin_service_t services[] = {
    {"Bench", bench_methods},
    {NULL, NULL},
};

static const tc_plugin_t plugin = {
    .abi_major = TC_PLUGIN_ABI_MAJOR,
    .abi_minor = TC_PLUGIN_ABI_MINOR,
    .name = "bench",
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
