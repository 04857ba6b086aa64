/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tc_host_api_t table plugins receive: typed readers over the decoded
 * arguments (schema/codec.h views) and the reply builder over the codec's
 * writer. The table only ever grows by appending (include/thriftcorn/plugin.h).
 * Every function refuses a NULL pointer it needs (ABI minor 3), and every
 * one that takes a tc_call_t refuses one that is not the call running on
 * this thread, with one predictable branch up front: a plugin's mistake is
 * reported, never a crash.
 */
#include "plugin/host.h"

#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Log levels of the ABI are the server's. */
_Static_assert(TC_PLUGIN_LOG_DEBUG == (int)TC_LOG_DEBUG &&
                   TC_PLUGIN_LOG_CRITICAL == (int)TC_LOG_CRITICAL,
               "plugin log levels follow tc_log_level_t");

static void api_log(int level, const char *fmt, ...) TC_PRINTF(2, 3);
static int api_fail(tc_call_t *call, const char *fmt, ...) TC_PRINTF(2, 3);

/* ---- the call running on this thread ---- */

/*
 * Every function that takes a tc_call_t compares it with
 * 'tc_host_live.handle' first (one load, one compare) and then works on
 * 'tc_host_live.call', never through the handle: a handle kept past its
 * call, or passed to another thread, reaches no call.
 */
struct tc_call tc_host_no_call; /* its address: the handle outside every handler */
_Thread_local tc_host_live_t tc_host_live
    __attribute__((tls_model("initial-exec"))) = {&tc_host_no_call, NULL};

/*
 * 'call' is not the running call: a NULL one is refused quietly, as since
 * ABI minor 3; any other gets a log line. Returns 'rc' for the caller to return.
 */
static int
refuse(const tc_call_t *call, const char *what, int rc)
{
    if (call != NULL) {
        tc_host_call_refused(call, tc_host_live.call, what);
    }
    return rc;
}

static void
api_log(int level, const char *fmt, ...)
{
    level = level < TC_PLUGIN_LOG_DEBUG      ? TC_PLUGIN_LOG_DEBUG
            : level > TC_PLUGIN_LOG_CRITICAL ? TC_PLUGIN_LOG_CRITICAL
                                             : level;
    if (TC_UNLIKELY(fmt == NULL)) {
        /* a bug in the plugin: at least WARNING, so that the default loglevel shows it */
        tc_log(level > TC_PLUGIN_LOG_WARNING ? (tc_log_level_t)level : TC_LOG_WARNING,
               "a plugin called log() with a NULL format");
        return;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    /*
     * One line, as the ABI promises: the text may hold what a client sent,
     * whose newlines and control bytes would otherwise start lines of their
     * own, so it is escaped as the server escapes client bytes (\xHH).
     */
    char shown[2 * sizeof(line)];
    len = tc_log_escape(shown, sizeof(shown), line, len);
    tc_log((tc_log_level_t)level, "%.*s", (int)len, shown);
}

static void *
api_call_alloc(tc_call_t *call, size_t size)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        refuse(call, "call_alloc", 0);
        return NULL;
    }
    return tc_host_call_alloc(tc_host_live.call, size);
}

static const char *
api_call_method(const tc_call_t *call)
{
    /* "" rather than NULL: a plugin that prints or compares it stays defined */
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        refuse(call, "call_method", 0);
        return "";
    }
    return tc_host_live.call->fn->name;
}

static void *
api_thread_data(const tc_call_t *call)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        refuse(call, "thread_data", 0);
        return NULL;
    }
    return tc_host_call_thread_data(tc_host_live.call);
}

static int
api_fail(tc_call_t *call, const char *fmt, ...)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "fail", TC_PLUGIN_EFAIL);
    }
    struct tc_call *c = tc_host_live.call;
    if (TC_UNLIKELY(fmt == NULL)) {
        static const char text[] = "the plugin called fail() with a NULL format";
        (void)snprintf(c->failmsg, sizeof(c->failmsg), "%s", text);
        return TC_PLUGIN_EFAIL;
    }
    /*
     * The text goes to the client as a Thrift string, which is UTF-8: cut
     * between characters, bytes that are not UTF-8 escaped (tc_log_utf8()).
     * Formatted at 4 times the room first, so that the cut is made there.
     */
    char text[4 * sizeof(c->failmsg)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    len = tc_log_utf8(c->failmsg, sizeof(c->failmsg) - 1, text, len);
    c->failmsg[len] = '\0';
    return TC_PLUGIN_EFAIL;
}

/* ---- readers ---- */

/* The value of field 'id' (as sent, else its IDL default) if it is one of the kinds a..b. */
static int
field(const tc_view_t *v, int16_t id, int a, int b, const tc_value_t **out)
{
    const tc_value_t *x = tc_codec_view_value(v, id);
    if (x == NULL) {
        return TC_PLUGIN_ETYPE;
    }
    const tc_field_t *f = tc_schema_field_by_id(v->st, id);
    int kind = f->type.kind;
    if (kind != a && kind != b) {
        return TC_PLUGIN_ETYPE;
    }
    if (x->kind == TC_VAL_UNSET) {
        return TC_PLUGIN_ENOTSET;
    }
    *out = x;
    return TC_PLUGIN_OK;
}

static int
api_has(const tc_view_t *v, int16_t id)
{
    if (TC_UNLIKELY(v == NULL)) {
        return 0;
    }
    const tc_value_t *x = tc_codec_view_get(v, id);
    return x != NULL && x->kind != TC_VAL_UNSET;
}

static int
api_get_bool(const tc_view_t *v, int16_t id, int *out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_BOOL, TC_VAL_BOOL, &x);
    if (rc == TC_PLUGIN_OK) {
        *out = x->u.i != 0;
    }
    return rc;
}

static int
api_get_byte(const tc_view_t *v, int16_t id, int8_t *out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_BYTE, TC_VAL_BYTE, &x);
    if (rc == TC_PLUGIN_OK) {
        *out = (int8_t)x->u.i;
    }
    return rc;
}

static int
api_get_i16(const tc_view_t *v, int16_t id, int16_t *out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_I16, TC_VAL_I16, &x);
    if (rc == TC_PLUGIN_OK) {
        *out = (int16_t)x->u.i;
    }
    return rc;
}

static int
api_get_i32(const tc_view_t *v, int16_t id, int32_t *out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_I32, TC_VAL_ENUM, &x);
    if (rc == TC_PLUGIN_OK) {
        *out = (int32_t)x->u.i;
    }
    return rc;
}

static int
api_get_i64(const tc_view_t *v, int16_t id, int64_t *out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_I64, TC_VAL_I64, &x);
    if (rc == TC_PLUGIN_OK) {
        *out = x->u.i;
    }
    return rc;
}

static int
api_get_double(const tc_view_t *v, int16_t id, double *out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_DOUBLE, TC_VAL_DOUBLE, &x);
    if (rc == TC_PLUGIN_OK) {
        *out = x->u.d;
    }
    return rc;
}

static int
api_get_binary(const tc_view_t *v, int16_t id, const void **ptr, size_t *len)
{
    if (TC_UNLIKELY(v == NULL || ptr == NULL || len == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_STRING, TC_VAL_BINARY, &x);
    if (rc == TC_PLUGIN_OK) {
        *ptr = x->u.bin.ptr;
        *len = x->u.bin.len;
    }
    return rc;
}

static int
api_get_string(const tc_view_t *v, int16_t id, const char **ptr, size_t *len)
{
    if (TC_UNLIKELY(ptr == NULL)) {
        return TC_PLUGIN_EINVAL; /* api_get_binary() checks 'v' and 'len' */
    }
    const void *p;
    int rc = api_get_binary(v, id, &p, len);
    if (rc == TC_PLUGIN_OK) {
        *ptr = p;
    }
    return rc;
}

static int
api_get_uuid(const tc_view_t *v, int16_t id, const uint8_t **out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_UUID, TC_VAL_UUID, &x);
    if (rc == TC_PLUGIN_OK) {
        *out = x->u.uuid;
    }
    return rc;
}

static int
api_get_struct(const tc_view_t *v, int16_t id, const tc_view_t **out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x;
    int rc = field(v, id, TC_VAL_STRUCT, TC_VAL_STRUCT, &x);
    if (rc == TC_PLUGIN_OK) {
        *out = x->u.view;
    }
    return rc;
}

static int
api_get_seq(const tc_view_t *v, int16_t id, const tc_seq_t **out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x = tc_codec_view_value(v, id);
    if (x == NULL) {
        return TC_PLUGIN_ETYPE;
    }
    int kind = tc_schema_field_by_id(v->st, id)->type.kind;
    if (kind != TC_VAL_LIST && kind != TC_VAL_SET && kind != TC_VAL_MAP) {
        return TC_PLUGIN_ETYPE;
    }
    if (x->kind == TC_VAL_UNSET) {
        return TC_PLUGIN_ENOTSET;
    }
    *out = x->u.seq;
    return TC_PLUGIN_OK;
}

static int
api_get(const tc_view_t *v, int16_t id, tc_value_t *out)
{
    if (TC_UNLIKELY(v == NULL || out == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    const tc_value_t *x = tc_codec_view_value(v, id);
    if (x == NULL) {
        return TC_PLUGIN_ETYPE;
    }
    if (x->kind == TC_VAL_UNSET) {
        return TC_PLUGIN_ENOTSET;
    }
    *out = *x;
    return TC_PLUGIN_OK;
}

static size_t
api_seq_len(const tc_seq_t *s)
{
    if (TC_UNLIKELY(s == NULL)) {
        return 0;
    }
    return s->n;
}

static int
api_seq_kind(const tc_seq_t *s)
{
    if (TC_UNLIKELY(s == NULL)) {
        return TC_VAL_UNSET;
    }
    return s->type->kind;
}

static int
api_seq_get(const tc_seq_t *s, size_t i, tc_value_t *elem, tc_value_t *value)
{
    /* a NULL 'value' is allowed: lists and sets ignore it, a map then gives only the key */
    if (TC_UNLIKELY(s == NULL || elem == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    if (i >= s->n) {
        return TC_PLUGIN_ERANGE;
    }
    if (s->type->kind == TC_KIND_MAP) {
        *elem = s->items[2 * i];
        if (value != NULL) {
            *value = s->items[2 * i + 1];
        }
    } else {
        *elem = s->items[i];
    }
    return TC_PLUGIN_OK;
}

/* ---- the reply builder ---- */

/*
 * A NULL data pointer: fail the reply of the running call 'c' as the codec
 * fails a misfit (every later write fails, the client gets INTERNAL_ERROR,
 * the log gets the text the caller put in c->werr with tc_err_set(), which
 * keeps a first error).
 */
static int
fail_reply(struct tc_call *c)
{
    c->w.failed = true;
    return TC_PLUGIN_ESTATE;
}

/* What the plugin gets for a reply builder's status. */
static inline int
wrote(int rc)
{
    return rc == TC_OK ? TC_PLUGIN_OK : TC_PLUGIN_ESTATE;
}

static int
put_value(struct tc_call *c, int16_t id, tc_value_t *v)
{
    return wrote(tc_codec_put(&c->w, id, v));
}

static int
put(tc_call_t *call, int16_t id, tc_value_t *v, const char *what)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, what, TC_PLUGIN_EINVAL);
    }
    return put_value(tc_host_live.call, id, v);
}

static int
api_put_bool(tc_call_t *call, int16_t id, int v)
{
    tc_value_t x = {.kind = TC_VAL_BOOL, .u.i = v != 0};
    return put(call, id, &x, "put_bool");
}

static int
api_put_byte(tc_call_t *call, int16_t id, int8_t v)
{
    tc_value_t x = {.kind = TC_VAL_BYTE, .u.i = v};
    return put(call, id, &x, "put_byte");
}

static int
api_put_i16(tc_call_t *call, int16_t id, int16_t v)
{
    tc_value_t x = {.kind = TC_VAL_I16, .u.i = v};
    return put(call, id, &x, "put_i16");
}

static int
api_put_i32(tc_call_t *call, int16_t id, int32_t v)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "put_i32", TC_PLUGIN_EINVAL);
    }
    return wrote(tc_codec_put_i32(&tc_host_live.call->w, id, v));
}

static int
api_put_i64(tc_call_t *call, int16_t id, int64_t v)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "put_i64", TC_PLUGIN_EINVAL);
    }
    return wrote(tc_codec_put_i64(&tc_host_live.call->w, id, v));
}

static int
api_put_double(tc_call_t *call, int16_t id, double v)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "put_double", TC_PLUGIN_EINVAL);
    }
    return wrote(tc_codec_put_double(&tc_host_live.call->w, id, v));
}

/* put_binary() into the running call 'c'. */
static int
put_bytes(struct tc_call *c, int16_t id, const void *ptr, size_t len)
{
    if (TC_UNLIKELY(ptr == NULL && len > 0)) {
        tc_err_set(&c->werr, TC_EINVAL, "put_binary(%d): NULL bytes with length %zu", id, len);
        return fail_reply(c);
    }
    return wrote(tc_codec_put_binary(&c->w, id, ptr, len));
}

static int
api_put_binary(tc_call_t *call, int16_t id, const void *ptr, size_t len)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "put_binary", TC_PLUGIN_EINVAL);
    }
    return put_bytes(tc_host_live.call, id, ptr, len);
}

static int
api_put_string(tc_call_t *call, int16_t id, const char *s)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "put_string", TC_PLUGIN_EINVAL);
    }
    struct tc_call *c = tc_host_live.call;
    /*
     * An error for plugins built for ABI minor 3 or later (a NULL is usually
     * a failed lookup); an empty string, as before, for those built earlier:
     * a minor version never breaks a plugin that worked.
     */
    if (TC_UNLIKELY(s == NULL)) {
        if (c->plugin_minor < 3) {
            return put_bytes(c, id, "", 0);
        }
        tc_err_set(&c->werr, TC_EINVAL, "put_string(%d): NULL string", id);
        return fail_reply(c);
    }
    return put_bytes(c, id, s, strlen(s));
}

static int
api_put_uuid(tc_call_t *call, int16_t id, const uint8_t uuid[16])
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "put_uuid", TC_PLUGIN_EINVAL);
    }
    struct tc_call *c = tc_host_live.call;
    if (TC_UNLIKELY(uuid == NULL)) {
        tc_err_set(&c->werr, TC_EINVAL, "put_uuid(%d): NULL uuid", id);
        return fail_reply(c);
    }
    tc_value_t x = {.kind = TC_VAL_UUID, .u.uuid = uuid};
    return put_value(c, id, &x);
}

static int
api_begin_struct(tc_call_t *call, int16_t id)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "begin_struct", TC_PLUGIN_EINVAL);
    }
    return wrote(tc_codec_begin_struct(&tc_host_live.call->w, id));
}

static int
api_begin_list(tc_call_t *call, int16_t id, size_t n)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "begin_list", TC_PLUGIN_EINVAL);
    }
    return wrote(tc_codec_begin_list(&tc_host_live.call->w, id, n));
}

static int
api_begin_map(tc_call_t *call, int16_t id, size_t n)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "begin_map", TC_PLUGIN_EINVAL);
    }
    return wrote(tc_codec_begin_map(&tc_host_live.call->w, id, n));
}

static int
api_end(tc_call_t *call)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "end", TC_PLUGIN_EINVAL);
    }
    return wrote(tc_codec_end(&tc_host_live.call->w));
}

static int
api_raise(tc_call_t *call, int16_t id)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "raise", TC_PLUGIN_EINVAL);
    }
    struct tc_call *c = tc_host_live.call;
    const tc_field_t *f = tc_schema_field_by_id(c->fn->result, id);
    if (c->w.depth != 0 || id == 0 || f == NULL) {
        if (!c->w.failed) { /* an earlier error stays the one reported */
            c->w.failed = true;
            if (id == 0 || f == NULL) {
                tc_err_set(&c->werr, TC_ETYPE, "raise(%d): %s declares no exception with that id",
                           id, c->fn->name);
            } else {
                tc_err_set(&c->werr, TC_ETYPE,
                           "raise(%d): a value of the result is still open (end() it first)", id);
            }
        }
        return TC_PLUGIN_ESTATE;
    }
    return wrote(tc_codec_begin_struct(&c->w, id));
}

/* ---- THeader info headers ---- */

static int
api_request_header(tc_call_t *call, size_t i, const char **key, size_t *key_len, const char **value,
                   size_t *value_len)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "request_header", TC_PLUGIN_EINVAL);
    }
    if (TC_UNLIKELY(key == NULL || key_len == NULL || value == NULL || value_len == NULL)) {
        return TC_PLUGIN_EINVAL;
    }
    struct tc_call *c = tc_host_live.call;
    tc_header_t *h = c->header;
    if (h == NULL) {
        return TC_PLUGIN_ERANGE;
    }
    /*
     * Go on from the header read last: a plugin's loop over i = 0, 1, ...
     * walks the block once, where a walk from the start for each would
     * make a client's 32,000 headers cost a handler seconds.
     */
    if (c->hdr_of != h || i < c->hdr_next) {
        tc_header_iter_init(h, &c->hdr_it);
        c->hdr_of = h;
        c->hdr_next = 0;
    }
    tc_header_kv_t kv;
    while (tc_header_next(&c->hdr_it, &kv)) {
        if (c->hdr_next++ == i) {
            *key = (const char *)kv.key;
            *key_len = kv.key_len;
            *value = (const char *)kv.value;
            *value_len = kv.value_len;
            return TC_PLUGIN_OK;
        }
    }
    return TC_PLUGIN_ERANGE;
}

static int
api_set_response_header(tc_call_t *call, const char *key, size_t key_len, const char *value,
                        size_t value_len)
{
    if (TC_UNLIKELY(call != tc_host_live.handle)) {
        return refuse(call, "set_response_header", TC_PLUGIN_EINVAL);
    }
    /* NULL with length 0 is an empty key or value */
    if (TC_UNLIKELY((key == NULL && key_len > 0) || (value == NULL && value_len > 0))) {
        return TC_PLUGIN_EINVAL;
    }
    tc_header_t *h = tc_host_live.call->header;
    if (h == NULL) {
        return TC_PLUGIN_ESTATE;
    }
    if (tc_header_set_reply(h, key, key_len, value, value_len) != TC_OK) {
        return TC_PLUGIN_ERANGE;
    }
    return TC_PLUGIN_OK;
}

const tc_host_api_t tc_host_api = {
    .size = sizeof(tc_host_api_t),
    .abi_major = TC_PLUGIN_ABI_MAJOR,
    .abi_minor = TC_PLUGIN_ABI_MINOR,
    .log = api_log,
    .call_alloc = api_call_alloc,
    .call_method = api_call_method,
    .thread_data = api_thread_data,
    .fail = api_fail,
    .has = api_has,
    .get_bool = api_get_bool,
    .get_byte = api_get_byte,
    .get_i16 = api_get_i16,
    .get_i32 = api_get_i32,
    .get_i64 = api_get_i64,
    .get_double = api_get_double,
    .get_binary = api_get_binary,
    .get_string = api_get_string,
    .get_uuid = api_get_uuid,
    .get_struct = api_get_struct,
    .get_seq = api_get_seq,
    .get = api_get,
    .seq_len = api_seq_len,
    .seq_kind = api_seq_kind,
    .seq_get = api_seq_get,
    .put_bool = api_put_bool,
    .put_byte = api_put_byte,
    .put_i16 = api_put_i16,
    .put_i32 = api_put_i32,
    .put_i64 = api_put_i64,
    .put_double = api_put_double,
    .put_binary = api_put_binary,
    .put_string = api_put_string,
    .put_uuid = api_put_uuid,
    .begin_struct = api_begin_struct,
    .begin_list = api_begin_list,
    .begin_map = api_begin_map,
    .end = api_end,
    .raise = api_raise,
    .request_header = api_request_header,
    .set_response_header = api_set_response_header,
};
