/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A plugin of tests/fixtures/defaults_c.thrift for test_plugin_defaults.py:
 * show() answers with the text of every argument as the typed readers see
 * it, IDL defaults included ('-' for a reader's TC_PLUGIN_ENOTSET), and the
 * ids has() reports as sent.
 */
#include "defaults_sig.h"

#include "plugin_test_util.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct out {
    char *buf;
    size_t cap;
    size_t len;
} out_t;

static void out_add(out_t *o, const char *fmt, ...) TC_PLUGIN_PRINTF(2, 3);

static void
out_add(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
    }
}

static void
add_i32(const tc_host_api_t *api, out_t *o, const tc_view_t *v, const char *name, int16_t id)
{
    int32_t x;
    if (api->get_i32(v, id, &x) == TC_PLUGIN_OK) {
        out_add(o, "%s=%d", name, (int)x);
    } else {
        out_add(o, "%s=-", name);
    }
}

static void
add_text(const tc_host_api_t *api, out_t *o, const tc_view_t *v, const char *name, int16_t id)
{
    const char *s;
    size_t len;
    if (api->get_string(v, id, &s, &len) == TC_PLUGIN_OK) {
        out_add(o, "%s=%.*s", name, (int)len, s);
    } else {
        out_add(o, "%s=-", name);
    }
}

/* A list, set or map of the scalar kinds this IDL has: [1,2] or {k:9}. */
static void
add_seq(const tc_host_api_t *api, out_t *o, const tc_view_t *v, const char *name, int16_t id)
{
    const tc_seq_t *s;
    if (api->get_seq(v, id, &s) != TC_PLUGIN_OK) {
        out_add(o, "%s=-", name);
        return;
    }
    int map = api->seq_kind(s) == TC_VAL_MAP;
    out_add(o, "%s=%c", name, map ? '{' : '[');
    for (size_t i = 0; i < api->seq_len(s); i++) {
        tc_value_t e;
        tc_value_t val;
        api->seq_get(s, i, &e, &val);
        if (i > 0) {
            out_add(o, ",");
        }
        if (e.kind == TC_VAL_STRING) {
            out_add(o, "%.*s", (int)e.u.bin.len, (const char *)e.u.bin.ptr);
        } else {
            out_add(o, "%lld", (long long)e.u.i);
        }
        if (map) {
            out_add(o, ":%lld", (long long)val.u.i);
        }
    }
    out_add(o, "%c", map ? '}' : ']');
}

/* A Choice union: {n=..,s=..}. */
static void
add_choice(const tc_host_api_t *api, out_t *o, const tc_view_t *v, const char *name, int16_t id)
{
    const tc_view_t *c;
    if (api->get_struct(v, id, &c) != TC_PLUGIN_OK) {
        out_add(o, "%s=-", name);
        return;
    }
    out_add(o, "%s={", name);
    add_i32(api, o, c, "n", TC_FIELD_defaults_c_Choice_n);
    out_add(o, ",");
    add_text(api, o, c, "s", TC_FIELD_defaults_c_Choice_s);
    out_add(o, "}");
}

static void
add_scalars(const tc_host_api_t *api, out_t *o, const tc_view_t *args)
{
    int b = 0;
    int8_t y = 0;
    int16_t s16 = 0;
    int64_t l = 0;
    double d = 0;
    const void *bin;
    size_t len;
    const uint8_t *u;
    if (api->get_bool(args, TC_ARG_Defaults_show_b, &b) == TC_PLUGIN_OK &&
        api->get_byte(args, TC_ARG_Defaults_show_y, &y) == TC_PLUGIN_OK &&
        api->get_i16(args, TC_ARG_Defaults_show_s16, &s16) == TC_PLUGIN_OK &&
        api->get_i64(args, TC_ARG_Defaults_show_l, &l) == TC_PLUGIN_OK &&
        api->get_double(args, TC_ARG_Defaults_show_d, &d) == TC_PLUGIN_OK) {
        out_add(o, "b=%d y=%d s16=%d l=%lld d=%g ", b, y, s16, (long long)l, d);
    } else {
        out_add(o, "scalars=- ");
    }
    add_i32(api, o, args, "i", TC_ARG_Defaults_show_i);
    add_text(api, o, args, " str", TC_ARG_Defaults_show_str);
    if (api->get_binary(args, TC_ARG_Defaults_show_bin, &bin, &len) == TC_PLUGIN_OK) {
        out_add(o, " bin=%.*s", (int)len, (const char *)bin);
    }
    add_i32(api, o, args, " m", TC_ARG_Defaults_show_m);
    if (api->get_uuid(args, TC_ARG_Defaults_show_u, &u) == TC_PLUGIN_OK) {
        out_add(o, " u=");
        for (int i = 0; i < 16; i++) {
            out_add(o, "%02x", u[i]);
        }
    }
}

static int
show(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    out_t o = {api->call_alloc(call, 1024), 1024, 0};
    o.buf[0] = '\0';
    add_scalars(api, &o, args);
    add_seq(api, &o, args, " li", TC_ARG_Defaults_show_li);
    add_seq(api, &o, args, " ss", TC_ARG_Defaults_show_ss);
    add_seq(api, &o, args, " mp", TC_ARG_Defaults_show_mp);
    const tc_view_t *p;
    if (api->get_struct(args, TC_ARG_Defaults_show_p, &p) == TC_PLUGIN_OK) {
        out_add(&o, " p={");
        add_i32(api, &o, p, "x", TC_FIELD_defaults_c_Point_x);
        add_i32(api, &o, p, ",y", TC_FIELD_defaults_c_Point_y);
        out_add(&o, "}");
    }
    add_choice(api, &o, args, " c", TC_ARG_Defaults_show_c);
    add_choice(api, &o, args, " c2", TC_ARG_Defaults_show_c2);
    add_i32(api, &o, args, " none", TC_ARG_Defaults_show_none);
    out_add(&o, " sent=");
    for (int16_t id = 1; id <= TC_ARG_Defaults_show_none; id++) {
        if (api->has(args, id)) {
            out_add(&o, "%d,", id);
        }
    }
    return api->put_binary(call, TC_RESULT, o.buf, o.len);
}

static const tc_plugin_method_t methods[] = {
    TC_METHOD_Defaults_show(show),
    {NULL, 0, NULL, NULL},
};

TP_PLUGIN("Defaults", methods, .name = "defaults");
