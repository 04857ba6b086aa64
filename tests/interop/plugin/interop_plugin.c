/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interop service (tests/interop/interop.thrift) as a C plugin: the
 * same replies as tests/interop/handler.lua, for the matrix's "C plugin"
 * rows (docs/interop.md). remember() and remembered() are left to that Lua
 * handler, configured beside the plugin. interop_sig.h is generated at build
 * time by `thriftcorn --plugin-header interop.thrift Interop`.
 */
#include "interop_sig.h"

#include "plugin_test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- echo: copy a decoded value into the reply ---- */

/*
 * Every field id a struct of this IDL uses (Point, Shape and Everything are
 * the ones echoed): tp_copy_value() copies a struct by probing them.
 *
 * Apache C++ and c_glib always write a struct field of default requiredness,
 * so their "minimal" Everything carries 'shape' as a union with no member.
 * The decoder takes it and the Lua handler echoes it, but the reply builder
 * refuses a union without exactly one member (docs/interop.md): such an
 * empty field is left out of the reply ('skip_empty_fields').
 */
static const int16_t struct_ids[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                     13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 40, 32767};
static const tp_copy_t copy = {struct_ids, sizeof(struct_ids) / sizeof(struct_ids[0]), 1};

/* Every echo_* method: argument 1 back as the result. */
static int
echo(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    tc_value_t v;
    if (api->get(args, 1, &v) != TC_PLUGIN_OK) {
        return api->fail(call, "%s: no argument v", api->call_method(call));
    }
    return tp_copy_value(api, call, &copy, TC_RESULT, &v);
}

/* ---- defaults, extremes ---- */

static int
defaults(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    (void)args;
    /* the IDL's defaults, written out: C handlers get no Defaults{} */
    api->begin_struct(call, TC_RESULT);
    api->put_i32(call, TC_FIELD_interop_Defaults_number, 42);
    api->put_i64(call, TC_FIELD_interop_Defaults_big, 1234567890123);
    api->put_double(call, TC_FIELD_interop_Defaults_ratio, -1.5);
    api->put_string(call, TC_FIELD_interop_Defaults_text, "h\xc3\xa9llo w\xc3\xb6rld");
    api->put_bool(call, TC_FIELD_interop_Defaults_flag, 1);
    api->put_i32(call, TC_FIELD_interop_Defaults_color, TC_ENUM_interop_Color_BLUE);
    api->begin_list(call, TC_FIELD_interop_Defaults_numbers, 3);
    for (int32_t i = 1; i <= 3; i++) {
        api->put_i32(call, 0, i);
    }
    api->end(call);
    api->begin_map(call, TC_FIELD_interop_Defaults_counts, 2);
    api->put_string(call, 0, "a");
    api->put_i32(call, 0, 1);
    api->put_string(call, 0, "b");
    api->put_i32(call, 0, 2);
    api->end(call);
    api->begin_struct(call, TC_FIELD_interop_Defaults_origin);
    api->put_i32(call, TC_FIELD_interop_Point_x, 1);
    api->put_i32(call, TC_FIELD_interop_Point_y, -1);
    api->end(call);
    /* an optional field with a default is sent, as Lua's Defaults{} does */
    api->put_i32(call, TC_FIELD_interop_Defaults_opt_number, 5);
    api->begin_list(call, TC_FIELD_interop_Defaults_tags, 2);
    api->put_string(call, 0, "x");
    api->put_string(call, 0, "y");
    api->end(call);
    return api->end(call);
}

/* The extremes of every numeric type, by field of Extremes. */
typedef struct extreme {
    int16_t id;
    const char *name;
    int kind; /* TC_VAL_BYTE..TC_VAL_I64 or TC_VAL_DOUBLE */
    int64_t i;
    double d;
} extreme_t;

static const extreme_t extremes_table[] = {
    {TC_FIELD_interop_Extremes_i8_min, "i8_min", TC_VAL_BYTE, -128, 0},
    {TC_FIELD_interop_Extremes_i8_max, "i8_max", TC_VAL_BYTE, 127, 0},
    {TC_FIELD_interop_Extremes_i16_min, "i16_min", TC_VAL_I16, -32768, 0},
    {TC_FIELD_interop_Extremes_i16_max, "i16_max", TC_VAL_I16, 32767, 0},
    {TC_FIELD_interop_Extremes_i32_min, "i32_min", TC_VAL_I32, INT32_MIN, 0},
    {TC_FIELD_interop_Extremes_i32_max, "i32_max", TC_VAL_I32, INT32_MAX, 0},
    {TC_FIELD_interop_Extremes_i64_min, "i64_min", TC_VAL_I64, INT64_MIN, 0},
    {TC_FIELD_interop_Extremes_i64_max, "i64_max", TC_VAL_I64, INT64_MAX, 0},
    {TC_FIELD_interop_Extremes_d_max, "d_max", TC_VAL_DOUBLE, 0, DBL_MAX},
    {TC_FIELD_interop_Extremes_d_min_normal, "d_min_normal", TC_VAL_DOUBLE, 0, DBL_MIN},
    {TC_FIELD_interop_Extremes_d_min_subnormal, "d_min_subnormal", TC_VAL_DOUBLE, 0,
     4.9406564584124654e-324},
    {TC_FIELD_interop_Extremes_d_lowest, "d_lowest", TC_VAL_DOUBLE, 0, -DBL_MAX},
    {TC_FIELD_interop_Extremes_d_inf, "d_inf", TC_VAL_DOUBLE, 0, INFINITY},
    {TC_FIELD_interop_Extremes_d_ninf, "d_ninf", TC_VAL_DOUBLE, 0, -INFINITY},
    {TC_FIELD_interop_Extremes_d_nan, "d_nan", TC_VAL_DOUBLE, 0, NAN},
    {TC_FIELD_interop_Extremes_d_negzero, "d_negzero", TC_VAL_DOUBLE, 0, -0.0},
    {TC_FIELD_interop_Extremes_d_tenth, "d_tenth", TC_VAL_DOUBLE, 0, 0.1},
};
#define N_EXTREMES (sizeof(extremes_table) / sizeof(extremes_table[0]))

static int
extremes(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    (void)args;
    api->begin_struct(call, TC_RESULT);
    for (size_t i = 0; i < N_EXTREMES; i++) {
        const extreme_t *x = &extremes_table[i];
        switch (x->kind) {
        case TC_VAL_BYTE:
            api->put_byte(call, x->id, (int8_t)x->i);
            break;
        case TC_VAL_I16:
            api->put_i16(call, x->id, (int16_t)x->i);
            break;
        case TC_VAL_I32:
            api->put_i32(call, x->id, (int32_t)x->i);
            break;
        case TC_VAL_I64:
            api->put_i64(call, x->id, x->i);
            break;
        default:
            api->put_double(call, x->id, x->d);
            break;
        }
    }
    return api->end(call);
}

/* True when 'v' is the extreme 'x', of the same kind; NaN and -0.0 by their bits' meaning. */
static int
same_extreme(const extreme_t *x, const tc_value_t *v)
{
    if (v->kind != x->kind) {
        return 0;
    }
    if (x->kind != TC_VAL_DOUBLE) {
        return v->u.i == x->i;
    }
    if (isnan(x->d)) {
        return isnan(v->u.d);
    }
    return v->u.d == x->d && signbit(v->u.d) == signbit(x->d);
}

static int
check_extremes(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    const tc_view_t *e;
    if (api->get_struct(args, TC_ARG_Interop_check_extremes_e, &e) != TC_PLUGIN_OK) {
        return api->fail(call, "check_extremes: no argument e");
    }
    /* "" when every field is right, else "name=value,..." (as handler.lua) */
    size_t cap = N_EXTREMES * 48;
    char *out = api->call_alloc(call, cap);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_EXTREMES; i++) {
        const extreme_t *x = &extremes_table[i];
        tc_value_t v;
        memset(&v, 0, sizeof v);
        if (api->get(e, x->id, &v) == TC_PLUGIN_OK && same_extreme(x, &v)) {
            continue;
        }
        int n;
        if (v.kind == TC_VAL_DOUBLE) {
            n = snprintf(out + len, cap - len, "%s%s=%.17g", len ? "," : "", x->name, v.u.d);
        } else {
            n = snprintf(out + len, cap - len, "%s%s=%lld", len ? "," : "", x->name,
                         (long long)v.u.i);
        }
        if (n > 0 && (size_t)n < cap - len) {
            len += (size_t)n;
        }
    }
    return api->put_string(call, TC_RESULT, out);
}

/* ---- multi, fail ---- */

static int
multi(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int8_t a8 = 0;
    int16_t a16 = 0;
    int32_t a32 = 0;
    int64_t a64 = 0;
    double dbl = 0;
    const char *str = "";
    size_t str_len = 0;
    int yes = 0;
    const void *blob = NULL;
    size_t blob_len = 0;
    int32_t col = 0;
    if (api->get_byte(args, TC_ARG_Interop_multi_a8, &a8) != TC_PLUGIN_OK ||
        api->get_i16(args, TC_ARG_Interop_multi_a16, &a16) != TC_PLUGIN_OK ||
        api->get_i32(args, TC_ARG_Interop_multi_a32, &a32) != TC_PLUGIN_OK ||
        api->get_i64(args, TC_ARG_Interop_multi_a64, &a64) != TC_PLUGIN_OK ||
        api->get_double(args, TC_ARG_Interop_multi_dbl, &dbl) != TC_PLUGIN_OK ||
        api->get_string(args, TC_ARG_Interop_multi_str, &str, &str_len) != TC_PLUGIN_OK ||
        api->get_bool(args, TC_ARG_Interop_multi_yes, &yes) != TC_PLUGIN_OK ||
        api->get_binary(args, TC_ARG_Interop_multi_blob, &blob, &blob_len) != TC_PLUGIN_OK ||
        api->get_i32(args, TC_ARG_Interop_multi_col, &col) != TC_PLUGIN_OK) {
        return api->fail(call, "multi: an argument is missing");
    }
    size_t cap = str_len + 160;
    char *out = api->call_alloc(call, cap);
    snprintf(out, cap, "%d|%d|%d|%lld|%.17g|%.*s|%s|%zu|%d", a8, a16, (int)a32, (long long)a64, dbl,
             (int)str_len, str, yes ? "true" : "false", blob_len, (int)col);
    return api->put_string(call, TC_RESULT, out);
}

static int
not_found(const tc_host_api_t *api, tc_call_t *call, int16_t id, const char *thing, int32_t code)
{
    api->raise(call, id);
    api->put_string(call, TC_FIELD_interop_NotFound_thing, thing);
    api->put_i32(call, TC_FIELD_interop_NotFound_code, code);
    return api->end(call);
}

static int
fail(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t which = 0;
    (void)api->get_i32(args, TC_ARG_Interop_fail_which, &which);
    switch (which) {
    case 0:
        return api->put_i32(call, TC_RESULT, 0);
    case 1:
        return not_found(api, call, TC_EX_Interop_fail_not_found, "thing", 404);
    case 2:
        api->raise(call, TC_EX_Interop_fail_invalid);
        api->put_string(call, TC_FIELD_interop_Invalid_why, "bad");
        api->begin_struct(call, TC_FIELD_interop_Invalid_where);
        api->put_i32(call, TC_FIELD_interop_Point_x, 1);
        api->put_i32(call, TC_FIELD_interop_Point_y, 2);
        api->end(call);
        return api->end(call);
    case 3:
        return api->fail(call, "an undeclared error");
    default:
        return api->put_i32(call, TC_RESULT, 0);
    }
}

static int
fail_void(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t which = 0;
    (void)api->get_i32(args, TC_ARG_Interop_fail_void_which, &which);
    if (which == 1) {
        return not_found(api, call, TC_EX_Interop_fail_void_not_found, "void", 1);
    }
    return TC_PLUGIN_OK;
}

/* ---- the descriptor ---- */

static const tc_plugin_method_t interop_methods[] = {
    TC_METHOD_Interop_ping(tp_nothing),
    TC_METHOD_Interop_echo_bool(echo),
    TC_METHOD_Interop_echo_byte(echo),
    TC_METHOD_Interop_echo_i16(echo),
    TC_METHOD_Interop_echo_i32(echo),
    TC_METHOD_Interop_echo_i64(echo),
    TC_METHOD_Interop_echo_double(echo),
    TC_METHOD_Interop_echo_string(echo),
    TC_METHOD_Interop_echo_binary(echo),
    TC_METHOD_Interop_echo_enum(echo),
    TC_METHOD_Interop_echo_list(echo),
    TC_METHOD_Interop_echo_set(echo),
    TC_METHOD_Interop_echo_map(echo),
    TC_METHOD_Interop_echo_nested(echo),
    TC_METHOD_Interop_echo_point(echo),
    TC_METHOD_Interop_echo_everything(echo),
    TC_METHOD_Interop_echo_shape(echo),
    TC_METHOD_Interop_defaults(defaults),
    TC_METHOD_Interop_extremes(extremes),
    TC_METHOD_Interop_check_extremes(check_extremes),
    TC_METHOD_Interop_multi(multi),
    TC_METHOD_Interop_fail(fail),
    TC_METHOD_Interop_fail_void(fail_void),
    /* a non-void method that writes no result: the client sees MISSING_RESULT */
    TC_METHOD_Interop_nothing(tp_nothing),
    /* remember() and remembered() stay with handler.lua */
    {NULL, 0, NULL, NULL},
};

TP_PLUGIN("Interop", interop_methods, .name = "interop", .version = "1.0");
