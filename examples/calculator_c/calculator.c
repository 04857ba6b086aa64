/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Apache Thrift tutorial Calculator as a thriftcorn C plugin: the same
 * results and exceptions as examples/calculator/handler.lua. Built against
 * thriftcorn/plugin.h only; calculator_sig.h is generated at build time by
 * `thriftcorn --plugin-header tutorial.thrift Calculator`.
 */
#include "calculator_sig.h"

#include <thriftcorn/plugin.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * What calculate() stored for getStruct(), by logid. The Lua version keeps
 * one table per thread; here one table serves the whole worker, guarded by
 * a mutex, since handlers run on several threads at once. It holds one
 * logid per slot, logid modulo LOG_SLOTS: a logid stored later in the same
 * slot replaces the one before, whose getStruct() then finds nothing, where
 * the Lua table keeps every logid.
 */
#define LOG_SLOTS 1024

typedef struct entry {
    int32_t key;
    int used;
    char value[16];
} entry_t;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t log_table[LOG_SLOTS];

static entry_t *
slot(int32_t key)
{
    return &log_table[(uint32_t)key % LOG_SLOTS];
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
add(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t a = 0;
    int32_t b = 0;
    /* an argument the client did not send fails the call, as nil + 1 does in Lua */
    if (api->get_i32(args, TC_ARG_Calculator_add_num1, &a) != TC_PLUGIN_OK ||
        api->get_i32(args, TC_ARG_Calculator_add_num2, &b) != TC_PLUGIN_OK) {
        return api->fail(call, "add: num1 and num2 are required");
    }
    int64_t sum = (int64_t)a + b;
    if (sum < INT32_MIN || sum > INT32_MAX) {
        return api->fail(call, "add: %lld does not fit an i32", (long long)sum); /* as in Lua */
    }
    return api->put_i32(call, TC_RESULT, (int32_t)sum);
}

/* InvalidOperation; 'op' NULL (the Work had none) leaves whatOp out, as the Lua nil does. */
static int
invalid_operation(const tc_host_api_t *api, tc_call_t *call, const int32_t *op, const char *why)
{
    api->raise(call, TC_EX_Calculator_calculate_ouch);
    if (op != NULL) {
        api->put_i32(call, TC_FIELD_tutorial_InvalidOperation_whatOp, *op);
    }
    api->put_string(call, TC_FIELD_tutorial_InvalidOperation_why, why);
    return api->end(call);
}

static int
calculate(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t logid = 0;
    const tc_view_t *w;
    int32_t num1 = 0;
    int32_t num2 = 0;
    int32_t op = 0;
    if (api->get_i32(args, TC_ARG_Calculator_calculate_logid, &logid) != TC_PLUGIN_OK ||
        api->get_struct(args, TC_ARG_Calculator_calculate_w, &w) != TC_PLUGIN_OK) {
        return api->fail(call, "calculate: logid and w are required");
    }
    /* in the Lua handler's order: the op first, then the operands it computes with */
    if (api->get_i32(w, TC_FIELD_tutorial_Work_op, &op) != TC_PLUGIN_OK) {
        return invalid_operation(api, call, NULL, "Invalid operation");
    }
    if (op < TC_ENUM_tutorial_Operation_ADD || op > TC_ENUM_tutorial_Operation_DIVIDE) {
        return invalid_operation(api, call, &op, "Invalid operation");
    }
    /*
     * Work.num1 reads as its IDL default, 0, when left out; num2 has none, and
     * without it the call fails, as arithmetic on nil does in Lua.
     */
    if (api->get_i32(w, TC_FIELD_tutorial_Work_num1, &num1) != TC_PLUGIN_OK ||
        api->get_i32(w, TC_FIELD_tutorial_Work_num2, &num2) != TC_PLUGIN_OK) {
        return api->fail(call, "calculate: w.num1 and w.num2 are required");
    }
    int64_t val;
    switch (op) {
    case TC_ENUM_tutorial_Operation_ADD:
        val = (int64_t)num1 + num2;
        break;
    case TC_ENUM_tutorial_Operation_SUBTRACT:
        val = (int64_t)num1 - num2;
        break;
    case TC_ENUM_tutorial_Operation_MULTIPLY:
        val = (int64_t)num1 * num2;
        break;
    case TC_ENUM_tutorial_Operation_DIVIDE:
        if (num2 == 0) {
            return invalid_operation(api, call, &op, "Cannot divide by 0");
        }
        /* floor division, as Lua's //, in 64 bits: INT32_MIN / -1 does not fit an int */
        val = (int64_t)num1 / num2;
        if (((int64_t)num1 % num2 != 0) && ((num1 < 0) != (num2 < 0))) {
            val--;
        }
        break;
    default:
        return invalid_operation(api, call, &op, "Invalid operation");
    }
    if (val < INT32_MIN || val > INT32_MAX) {
        return api->fail(call, "calculate: result %lld does not fit an i32", (long long)val);
    }
    pthread_mutex_lock(&log_lock);
    entry_t *e = slot(logid);
    e->key = logid;
    e->used = 1;
    snprintf(e->value, sizeof(e->value), "%lld", (long long)val);
    pthread_mutex_unlock(&log_lock);
    return api->put_i32(call, TC_RESULT, (int32_t)val);
}

static int
get_struct(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t key = 0;
    if (api->get_i32(args, TC_ARG_Calculator_getStruct_key, &key) != TC_PLUGIN_OK) {
        return api->fail(call, "getStruct: key is required");
    }
    entry_t copy;
    pthread_mutex_lock(&log_lock);
    copy = *slot(key);
    pthread_mutex_unlock(&log_lock);
    if (!copy.used || copy.key != key) {
        return TC_PLUGIN_OK; /* nothing: the client sees MISSING_RESULT, as with the Lua nil */
    }
    api->begin_struct(call, TC_RESULT);
    api->put_i32(call, TC_FIELD_shared_SharedStruct_key, copy.key);
    api->put_string(call, TC_FIELD_shared_SharedStruct_value, copy.value);
    return api->end(call);
}

static int
zip(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    (void)call;
    (void)args;
    api->log(TC_PLUGIN_LOG_DEBUG, "calculator: zip");
    return TC_PLUGIN_OK;
}

static const tc_plugin_method_t calculator_methods[] = {
    TC_METHOD_Calculator_ping(ping),
    TC_METHOD_Calculator_add(add),
    TC_METHOD_Calculator_calculate(calculate),
    TC_METHOD_Calculator_getStruct(get_struct),
    TC_METHOD_Calculator_zip(zip),
    {NULL, 0, NULL, NULL},
};

static const tc_plugin_service_t services[] = {
    {"Calculator", calculator_methods},
    {NULL, NULL},
};

static const tc_plugin_t plugin = {
    .abi_major = TC_PLUGIN_ABI_MAJOR,
    .abi_minor = TC_PLUGIN_ABI_MINOR,
    .name = "calculator",
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
