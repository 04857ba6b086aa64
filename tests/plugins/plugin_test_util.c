/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers the test plugins share (plugin_test_util.h): a decoded value
 * written back through the reply builder, the way an echo handler needs it.
 */
#include "plugin_test_util.h"

int
tp_put_scalar(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_value_t *v)
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
    default:
        return TC_PLUGIN_ETYPE;
    }
}

/*
 * 'field': 'v' is a field of a struct (not the result, nor an element of a
 * list, set or map), which 'how->skip_empty_fields' is about.
 */
static int copy_value(const tc_host_api_t *api, tc_call_t *call, const tp_copy_t *how, int16_t id,
                      const tc_value_t *v, int field);

int
tp_copy_fields(const tc_host_api_t *api, tc_call_t *call, const tp_copy_t *how, const tc_view_t *s)
{
    int rc = TC_PLUGIN_OK;
    for (size_t i = 0; rc == TC_PLUGIN_OK && i < how->n_ids; i++) {
        tc_value_t f;
        int got = api->get(s, how->ids[i], &f);
        if (got == TC_PLUGIN_OK) {
            rc = copy_value(api, call, how, how->ids[i], &f, 1);
        } else if (got != TC_PLUGIN_ENOTSET && got != TC_PLUGIN_ETYPE) {
            return got;
        }
    }
    return rc == TC_PLUGIN_OK ? api->end(call) : rc;
}

/* How many of the probed fields 's' has. */
static size_t
count_fields(const tc_host_api_t *api, const tp_copy_t *how, const tc_view_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < how->n_ids; i++) {
        n += api->has(s, how->ids[i]) != 0;
    }
    return n;
}

static int
copy_struct(const tc_host_api_t *api, tc_call_t *call, const tp_copy_t *how, int16_t id,
            const tc_view_t *s, int field)
{
    if (how->skip_empty_fields && field && count_fields(api, how, s) == 0) {
        return TC_PLUGIN_OK;
    }
    int rc = api->begin_struct(call, id);
    return rc == TC_PLUGIN_OK ? tp_copy_fields(api, call, how, s) : rc;
}

static int
copy_seq(const tc_host_api_t *api, tc_call_t *call, const tp_copy_t *how, int16_t id,
         const tc_seq_t *s)
{
    size_t n = api->seq_len(s);
    int map = api->seq_kind(s) == TC_VAL_MAP;
    int rc = map ? api->begin_map(call, id, n) : api->begin_list(call, id, n);
    for (size_t i = 0; rc == TC_PLUGIN_OK && i < n; i++) {
        tc_value_t k;
        tc_value_t v;
        rc = api->seq_get(s, i, &k, map ? &v : NULL);
        if (rc == TC_PLUGIN_OK) {
            rc = copy_value(api, call, how, 0, &k, 0);
        }
        if (rc == TC_PLUGIN_OK && map) {
            rc = copy_value(api, call, how, 0, &v, 0);
        }
    }
    return rc == TC_PLUGIN_OK ? api->end(call) : rc;
}

static int
copy_value(const tc_host_api_t *api, tc_call_t *call, const tp_copy_t *how, int16_t id,
           const tc_value_t *v, int field)
{
    switch (v->kind) {
    case TC_VAL_LIST:
    case TC_VAL_SET:
    case TC_VAL_MAP:
        return copy_seq(api, call, how, id, v->u.seq);
    case TC_VAL_STRUCT:
        return copy_struct(api, call, how, id, v->u.view, field);
    default:
        return tp_put_scalar(api, call, id, v);
    }
}

int
tp_copy_value(const tc_host_api_t *api, tc_call_t *call, const tp_copy_t *how, int16_t id,
              const tc_value_t *v)
{
    return copy_value(api, call, how, id, v, 0);
}

int
tp_nothing(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    (void)api;
    (void)call;
    (void)args;
    return TC_PLUGIN_OK;
}
