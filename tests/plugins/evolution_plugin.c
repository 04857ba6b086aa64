/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Evo service of tests/fixtures/evolution as a C plugin: built as
 * libtp_evo_v1.so against evo_v1.thrift and, with EVO_V2, as
 * libtp_evo_v2.so against evo_v2.thrift. It answers as the Lua handler
 * there does (tests/integration/test_evolution.py calls both from clients
 * of the other version).
 */
#ifdef EVO_V2
#include "evo_v2_sig.h"
#else
#include "evo_v1_sig.h"
#endif

#include "plugin_test_util.h"

#include <stdarg.h>
#include <stdio.h>

/* Every field id a struct of either version has: echo() copies them all. */
static const int16_t struct_ids[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,  12,
                                     13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 300, 301};
static const tp_copy_t copy = {struct_ids, sizeof(struct_ids) / sizeof(struct_ids[0]), 0};

/* ---- what a handler got, as text (handler.lua's show()) ---- */

typedef struct text {
    char buf[1024];
    size_t len;
} text_t;

static void add(text_t *t, const char *fmt, ...) TC_PLUGIN_PRINTF(2, 3);

static void
add(text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        t->len += (size_t)n;
        t->len = t->len < sizeof(t->buf) ? t->len : sizeof(t->buf) - 1;
    }
}

static void show(const tc_host_api_t *api, text_t *t, const tc_value_t *v);

static void
show_field(const tc_host_api_t *api, text_t *t, const tc_view_t *s, int16_t id)
{
    tc_value_t v;
    if (api->get(s, id, &v) != TC_PLUGIN_OK) {
        add(t, "nil");
        return;
    }
    show(api, t, &v);
}

/* A struct here is a Leaf: its 'a' (1) and 's' (3). */
static void
show(const tc_host_api_t *api, text_t *t, const tc_value_t *v)
{
    switch (v->kind) {
    case TC_VAL_BOOL:
        add(t, "%s", v->u.i ? "true" : "false");
        break;
    case TC_VAL_DOUBLE:
        add(t, "%g", v->u.d);
        break;
    case TC_VAL_STRING:
    case TC_VAL_BINARY:
        add(t, "%.*s", (int)v->u.bin.len, (const char *)v->u.bin.ptr);
        break;
    case TC_VAL_STRUCT:
        add(t, "Leaf(");
        show_field(api, t, v->u.view, 1);
        add(t, ",");
        show_field(api, t, v->u.view, 3);
        add(t, ")");
        break;
    case TC_VAL_LIST:
        add(t, "[");
        for (size_t i = 0; i < api->seq_len(v->u.seq); i++) {
            tc_value_t e;
            api->seq_get(v->u.seq, i, &e, NULL);
            add(t, "%s", i > 0 ? "," : "");
            show(api, t, &e);
        }
        add(t, "]");
        break;
    default: /* the integers and enums */
        add(t, "%lld", (long long)v->u.i);
        break;
    }
}

/* The arguments 1..n, named 'names', as the result. */
static int
show_args(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args,
          const char *const *names, int n)
{
    text_t t = {{0}, 0};
    for (int i = 0; i < n; i++) {
        add(&t, "%s%s=", i > 0 ? " " : "", names[i]);
        show_field(api, &t, args, (int16_t)(i + 1));
    }
    return api->put_string(call, TC_RESULT, t.buf);
}

/* ---- the methods ---- */

static int
echo(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    tc_value_t v;
    if (api->get(args, 1, &v) != TC_PLUGIN_OK) {
        return TC_PLUGIN_OK; /* no result, as handler.lua's nil */
    }
    return tp_copy_value(api, call, &copy, TC_RESULT, &v);
}

static int
typed(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    static const char *const names[] = {"x", "y", "z", "li", "after", "fb", "fi", "ls", "dd"};
    return show_args(api, call, args, names, 9);
}

static int
added(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    static const char *const names[] = {"a", "o", "d", "dl", "ol"};
#ifdef EVO_V2
    return show_args(api, call, args, names, 5);
#else
    return show_args(api, call, args, names, 1);
#endif
}

static int
req(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    static const char *const names[] = {"a", "r"};
#ifdef EVO_V2
    return show_args(api, call, args, names, 2);
#else
    return show_args(api, call, args, names, 1);
#endif
}

/* fail() and vfail(): 1 raises OldErr, 2 NewErr (the second version's). */
static int
raise_for(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args, int returns)
{
    int32_t which = 0;
    if (api->get_i32(args, 1, &which) != TC_PLUGIN_OK) {
        return api->fail(call, "no argument 'which'");
    }
    if (which == 1) {
        api->raise(call, TC_EX_Evo_fail_oe);
        api->put_string(call, 1, "old");
        return api->end(call);
    }
#ifdef EVO_V2
    if (which == 2) {
        api->raise(call, TC_EX_Evo_fail_ne);
        api->put_string(call, 1, "new");
        api->put_i32(call, 2, 7);
        return api->end(call);
    }
#endif
    return returns ? api->put_i32(call, TC_RESULT, which) : TC_PLUGIN_OK;
}

static int
fail(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    return raise_for(api, call, args, 1);
}

static int
vfail(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    return raise_for(api, call, args, 0);
}

/* Leaf{a, s} (no 's' when NULL) as field 'id'. */
static void
put_leaf(const tc_host_api_t *api, tc_call_t *call, int16_t id, int32_t a, const char *s)
{
    api->begin_struct(call, id);
    api->put_i32(call, 1, a);
    if (s != NULL) {
        api->put_string(call, 3, s);
    }
    api->end(call);
}

#ifdef EVO_V2
/* handler.lua's 'ex' Extra */
static void
put_extra(const tc_host_api_t *api, tc_call_t *call, int16_t id)
{
    api->begin_struct(call, id);
    api->put_i32(call, 1, 1);
    api->begin_list(call, 2, 1);
    api->begin_struct(call, 0);
    api->put_i32(call, 1, 2);
    api->begin_list(call, 4, 1);
    api->put_i64(call, 0, 5);
    api->end(call);
    api->end(call);
    api->end(call);
    api->begin_map(call, 3, 1);
    api->put_string(call, 0, "z");
    api->begin_list(call, 0, 1);
    put_leaf(api, call, 0, 2, "x");
    api->end(call);
    api->end(call);
    api->begin_list(call, 4, 2);
    api->put_i64(call, 0, 1);
    api->put_i64(call, 0, 2);
    api->end(call);
    api->end(call);
}

/* handler.lua's 'big' Leaf, every field set */
static void
put_big(const tc_host_api_t *api, tc_call_t *call, int16_t id)
{
    api->begin_struct(call, id);
    api->put_i32(call, 1, 9);
    api->put_bool(call, 2, 1);
    api->put_string(call, 3, "big");
    put_extra(api, call, 4);
    api->put_double(call, 5, 1.5);
    api->begin_struct(call, 6);
    put_leaf(api, call, 3, 2, "x");
    api->end(call);
    api->begin_map(call, 7, 1);
    api->put_i32(call, 0, 4);
    put_extra(api, call, 0);
    api->end(call);
    api->end(call);
}

/* handler.lua's reply() of the second version, field by field */
static void
put_rec_v2(const tc_host_api_t *api, tc_call_t *call)
{
    api->put_bool(call, 2, 1);
    put_big(api, call, 3);
    api->put_byte(call, 4, -3);
    api->begin_list(call, 5, 2);
    put_big(api, call, 0);
    put_leaf(api, call, 0, 2, "x");
    api->end(call);
    api->put_i16(call, 6, 300);
    api->begin_map(call, 7, 1);
    api->put_string(call, 0, "k");
    put_big(api, call, 0);
    api->end(call);
    api->put_i64(call, 8, INT64_C(1) << 40);
    api->put_i32(call, 9, 2);
    api->put_double(call, 10, 2.25);
    api->put_string(call, 11, "n");
    api->put_binary(call, 12, "\0\1z", 3);
    api->begin_list(call, 13, 1);
    api->begin_map(call, 0, 1);
    api->put_string(call, 0, "k");
    api->begin_list(call, 0, 1);
    put_big(api, call, 0);
    api->end(call);
    api->end(call);
    api->end(call);
    api->begin_list(call, 14, 1);
    api->put_string(call, 0, "t");
    api->end(call);
    api->begin_map(call, 15, 1);
    api->put_i32(call, 0, 3);
    put_big(api, call, 0);
    api->end(call);
    put_big(api, call, 16);
    api->begin_struct(call, 17);
    put_big(api, call, 3);
    api->end(call);
    api->put_i32(call, 18, 3);
    api->begin_list(call, 19, 2);
    api->put_bool(call, 0, 1);
    api->put_bool(call, 0, 0);
    api->end(call);
    api->put_bool(call, 20, 0);
    api->begin_list(call, 21, 2);
    api->begin_list(call, 0, 1);
    api->put_i32(call, 0, 1);
    api->end(call);
    api->begin_list(call, 0, 0);
    api->end(call);
    api->end(call);
    api->begin_map(call, 22, 1);
    api->put_string(call, 0, "a");
    api->begin_map(call, 0, 1);
    api->put_string(call, 0, "b");
    put_extra(api, call, 0);
    api->end(call);
    api->end(call);
    put_extra(api, call, 300);
    api->put_bool(call, 301, 1);
}
#endif

static int
reply(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    (void)args;
    api->begin_struct(call, TC_RESULT);
    api->put_i32(call, 1, 1);
#ifdef EVO_V2
    put_rec_v2(api, call);
#else
    put_leaf(api, call, 3, 2, "x");
    api->begin_list(call, 5, 2);
    put_leaf(api, call, 0, 2, "x");
    put_leaf(api, call, 0, 3, NULL);
    api->end(call);
    api->begin_map(call, 7, 1);
    api->put_string(call, 0, "k");
    put_leaf(api, call, 0, 2, "x");
    api->end(call);
    api->put_i32(call, 9, 2);
    api->put_string(call, 11, "n");
    api->begin_struct(call, 17);
    api->put_string(call, 2, "p");
    api->end(call);
#endif
    return api->end(call); /* a builder call that failed before fails here */
}

static int
give(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t v = 0;
    if (api->get_i32(args, 1, &v) != TC_PLUGIN_OK) {
        return api->fail(call, "no argument 'v'");
    }
    return api->put_i32(call, TC_RESULT, v); /* any i32, in the enum or not */
}

static int
ret_typed(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    (void)args;
#ifdef EVO_V2
    return api->put_string(call, TC_RESULT, "42");
#else
    return api->put_i32(call, TC_RESULT, 42);
#endif
}

#ifdef EVO_V2
static int
brand_new(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args)
{
    int32_t x = 0;
    if (api->get_i32(args, 1, &x) != TC_PLUGIN_OK) {
        return api->fail(call, "no argument 'x'");
    }
    return api->put_i32(call, TC_RESULT, x + 1);
}
#endif

static const tc_plugin_method_t methods[] = {
    TC_METHOD_Evo_echo(echo),
    TC_METHOD_Evo_typed(typed),
    TC_METHOD_Evo_added(added),
    TC_METHOD_Evo_req(req),
    TC_METHOD_Evo_fail(fail),
    TC_METHOD_Evo_vfail(vfail),
    TC_METHOD_Evo_reply(reply),
    TC_METHOD_Evo_give(give),
    TC_METHOD_Evo_ret_typed(ret_typed),
#ifdef EVO_V2
    TC_METHOD_Evo_brand_new(brand_new),
    TC_METHOD_Evo_brand_new_oneway(tp_nothing),
#endif
    {NULL, 0, NULL, NULL},
};

TP_PLUGIN("Evo", methods, .name = "evolution", .version = "1.0");
