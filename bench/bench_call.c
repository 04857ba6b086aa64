/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The calls of the benchmark IDL (bench/bench.thrift) for thriftcorn-bench:
 * their arguments written once per connection with the protocol layer, and
 * every reply read back and compared with what the IDL's comments promise.
 */
#include "bench_call.h"

#include "core/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_PING, K_ECHO, K_ADD, K_ROUNDTRIP, K_BATCH, K_SLEEP, K_FAIL };

typedef struct builtin {
    tc_bench_call_t base;
    enum kind kind;
    int64_t param; /* echo: size; batch: n; sleep: ms; fail: code */
    char *payload; /* echo: the string sent */
} builtin_t;

/* The struct Item of bench.thrift, as read: strings point into the reply. */
#define ITEM_TAGS_MAX  16
#define ITEM_ATTRS_MAX 8

typedef struct str {
    const uint8_t *s;
    uint32_t len;
} str_t;

typedef struct item {
    unsigned seen; /* bit i: field i was there */
    int64_t id;
    str_t name;
    double score;
    uint32_t ntags;
    int32_t tags[ITEM_TAGS_MAX];
    uint32_t nattrs;
    str_t attrs[ITEM_ATTRS_MAX][2];
    bool flag;
} item_t;

/* The item a roundtrip sends; its id and flag come from the connection. */
static const int32_t rt_tags[] = {1, -2, 3, 2147483647};
static const char *const rt_attrs[][2] = {{"k", "v"}, {"key2", "value two"}};
#define RT_NAME  "roundtrip-item"
#define RT_SCORE 2.75

static int bad(char *why, size_t n, const char *fmt, ...) TC_PRINTF(3, 4);

static int
bad(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return TC_EINVAL;
}

static int
malformed(char *why, size_t n, int rc)
{
    return bad(why, n, "malformed reply: %s", tc_strerror(rc == TC_AGAIN ? TC_EPROTO : rc));
}

static str_t
cstr(const char *s)
{
    str_t r = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return r;
}

static bool
str_eq(str_t a, str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

/* "<prefix><v>" into buf (at least 32 bytes); returns its length. */
static uint32_t
fmt_int(char *buf, const char *prefix, int64_t v)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    char tmp[24];
    size_t k = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        buf[n++] = '-';
    }
    while (k > 0) {
        buf[n++] = tmp[--k];
    }
    buf[n] = '\0';
    return (uint32_t)n;
}

/* ---- writing arguments ---- */

static void
write_item(tc_proto_t *p, int64_t id, bool with_flag)
{
    const tc_proto_ops_t *ops = p->ops;
    ops->write_struct_begin(p);
    ops->write_field_begin(p, TC_TTYPE_I64, 1);
    ops->write_i64(p, id);
    ops->write_field_begin(p, TC_TTYPE_STRING, 2);
    ops->write_binary(p, RT_NAME, strlen(RT_NAME));
    ops->write_field_begin(p, TC_TTYPE_DOUBLE, 3);
    ops->write_double(p, RT_SCORE);
    ops->write_field_begin(p, TC_TTYPE_LIST, 4);
    ops->write_list_begin(p, TC_TTYPE_I32, TC_ARRAY_LEN(rt_tags));
    for (size_t i = 0; i < TC_ARRAY_LEN(rt_tags); i++) {
        ops->write_i32(p, rt_tags[i]);
    }
    ops->write_field_begin(p, TC_TTYPE_MAP, 5);
    ops->write_map_begin(p, TC_TTYPE_STRING, TC_TTYPE_STRING, TC_ARRAY_LEN(rt_attrs));
    for (size_t i = 0; i < TC_ARRAY_LEN(rt_attrs); i++) {
        ops->write_binary(p, rt_attrs[i][0], strlen(rt_attrs[i][0]));
        ops->write_binary(p, rt_attrs[i][1], strlen(rt_attrs[i][1]));
    }
    if (with_flag) {
        ops->write_field_begin(p, TC_TTYPE_BOOL, 6);
        ops->write_bool(p, true);
    }
    ops->write_field_stop(p);
    ops->write_struct_end(p);
}

static int
builtin_request(tc_bench_call_t *c, int conn, tc_bench_req_t *req, tc_err_t *err)
{
    (void)err;
    builtin_t *b = (builtin_t *)c;
    const tc_proto_ops_t *ops = c->proto;
    tc_proto_t p;
    req->args.len = 0;
    tc_proto_init(&p, ops, NULL, 0, &req->args);
    ops->write_struct_begin(&p);
    switch (b->kind) {
    case K_PING:
        break;
    case K_ECHO:
        ops->write_field_begin(&p, TC_TTYPE_STRING, 1);
        ops->write_binary(&p, b->payload, (size_t)b->param);
        break;
    case K_ADD:
        /* large, signed and different on every connection: a swapped or truncated sum shows */
        req->a = INT64_C(1) << 40 | (int64_t)conn;
        req->b = -3 - 7 * (int64_t)conn;
        ops->write_field_begin(&p, TC_TTYPE_I64, 1);
        ops->write_i64(&p, req->a);
        ops->write_field_begin(&p, TC_TTYPE_I64, 2);
        ops->write_i64(&p, req->b);
        break;
    case K_ROUNDTRIP:
        req->a = 1000 * (int64_t)conn + 7;
        req->b = conn % 2 == 0; /* the optional flag is sent on every other connection */
        ops->write_field_begin(&p, TC_TTYPE_STRUCT, 1);
        write_item(&p, req->a, req->b != 0);
        break;
    case K_BATCH:
    case K_SLEEP:
    case K_FAIL:
        ops->write_field_begin(&p, TC_TTYPE_I32, 1);
        ops->write_i32(&p, (int32_t)b->param);
        break;
    }
    ops->write_field_stop(&p);
    ops->write_struct_end(&p);
    return TC_OK;
}

/* ---- reading replies ---- */

static int
read_string(tc_proto_t *p, str_t *s)
{
    return p->ops->read_binary(p, &s->s, &s->len);
}

static int
read_item_tags(tc_proto_t *p, item_t *it, char *why, size_t n)
{
    uint8_t et;
    uint32_t cnt;
    int rc = p->ops->read_list_begin(p, &et, &cnt);
    if (rc != TC_OK) {
        return malformed(why, n, rc);
    }
    if (et != TC_TTYPE_I32 || cnt > ITEM_TAGS_MAX) {
        return bad(why, n, "Item.tags: a list<%s> of %u, expected list<i32> of at most %d",
                   tc_proto_type_name(et), cnt, ITEM_TAGS_MAX);
    }
    it->ntags = cnt;
    for (uint32_t i = 0; i < cnt; i++) {
        if ((rc = p->ops->read_i32(p, &it->tags[i])) != TC_OK) {
            return malformed(why, n, rc);
        }
    }
    return TC_OK;
}

static int
read_item_attrs(tc_proto_t *p, item_t *it, char *why, size_t n)
{
    uint8_t kt;
    uint8_t vt;
    uint32_t cnt;
    int rc = p->ops->read_map_begin(p, &kt, &vt, &cnt);
    if (rc != TC_OK) {
        return malformed(why, n, rc);
    }
    if (cnt > 0 && (kt != TC_TTYPE_STRING || vt != TC_TTYPE_STRING)) {
        return bad(why, n, "Item.attrs: map<%s,%s>, expected map<string,string>",
                   tc_proto_type_name(kt), tc_proto_type_name(vt));
    }
    if (cnt > ITEM_ATTRS_MAX) {
        return bad(why, n, "Item.attrs: %u entries, expected at most %d", cnt, ITEM_ATTRS_MAX);
    }
    it->nattrs = cnt;
    for (uint32_t i = 0; i < cnt; i++) {
        if ((rc = read_string(p, &it->attrs[i][0])) != TC_OK ||
            (rc = read_string(p, &it->attrs[i][1])) != TC_OK) {
            return malformed(why, n, rc);
        }
    }
    return TC_OK;
}

/* The wire type of each field of Item, by field id. */
static const uint8_t item_types[] = {
    0, TC_TTYPE_I64, TC_TTYPE_STRING, TC_TTYPE_DOUBLE, TC_TTYPE_LIST, TC_TTYPE_MAP, TC_TTYPE_BOOL};

static int
read_item_field(tc_proto_t *p, item_t *it, int16_t id, char *why, size_t n)
{
    const tc_proto_ops_t *ops = p->ops;
    int rc = TC_OK;
    switch (id) {
    case 1:
        rc = ops->read_i64(p, &it->id);
        break;
    case 2:
        rc = read_string(p, &it->name);
        break;
    case 3:
        rc = ops->read_double(p, &it->score);
        break;
    case 4:
        return read_item_tags(p, it, why, n);
    case 5:
        return read_item_attrs(p, it, why, n);
    default:
        rc = ops->read_bool(p, &it->flag);
        break;
    }
    return rc == TC_OK ? TC_OK : malformed(why, n, rc);
}

static int
read_item(tc_proto_t *p, item_t *it, char *why, size_t n)
{
    const tc_proto_ops_t *ops = p->ops;
    it->seen = 0;
    it->ntags = 0;
    it->nattrs = 0;
    it->flag = false;
    int rc = ops->read_struct_begin(p);
    for (;;) {
        uint8_t type;
        int16_t id;
        if (rc != TC_OK || (rc = ops->read_field_begin(p, &type, &id)) != TC_OK) {
            return malformed(why, n, rc);
        }
        if (type == TC_TTYPE_STOP) {
            break;
        }
        if (id < 1 || id > 6 || type != item_types[id]) {
            return bad(why, n, "Item: unexpected field %d of type %s", id,
                       tc_proto_type_name(type));
        }
        if ((rc = read_item_field(p, it, id, why, n)) != TC_OK) {
            return rc;
        }
        it->seen |= 1u << id;
    }
    rc = ops->read_struct_end(p);
    return rc == TC_OK ? TC_OK : malformed(why, n, rc);
}

static const char *
show(str_t s, char *buf, size_t n)
{
    size_t len = s.len < n - 1 ? s.len : n - 1;
    memcpy(buf, s.s, len);
    buf[len] = '\0';
    return buf;
}

/* Compare an item with the one expected; 'what' names it in the message. */
static int
item_eq(const item_t *got, const item_t *want, const char *what, char *why, size_t n)
{
    char g[48];
    char w[48];
    if (got->seen != want->seen) {
        return bad(why, n, "%s: fields present 0x%x, expected 0x%x", what, got->seen, want->seen);
    }
    if (got->id != want->id) {
        return bad(why, n, "%s: id %lld, expected %lld", what, (long long)got->id,
                   (long long)want->id);
    }
    if (!str_eq(got->name, want->name)) {
        return bad(why, n, "%s: name \"%s\", expected \"%s\"", what, show(got->name, g, sizeof(g)),
                   show(want->name, w, sizeof(w)));
    }
    if (got->score != want->score) {
        return bad(why, n, "%s: score %g, expected %g", what, got->score, want->score);
    }
    if (got->ntags != want->ntags || memcmp(got->tags, want->tags, got->ntags * 4u) != 0) {
        return bad(why, n, "%s: tags differ (%u, expected %u)", what, got->ntags, want->ntags);
    }
    if (got->nattrs != want->nattrs) {
        return bad(why, n, "%s: %u attrs, expected %u", what, got->nattrs, want->nattrs);
    }
    /* a map has no order on the wire: each wanted key once, with its value */
    for (uint32_t i = 0; i < want->nattrs; i++) {
        uint32_t k = 0;
        while (k < got->nattrs && !str_eq(got->attrs[k][0], want->attrs[i][0])) {
            k++;
        }
        if (k == got->nattrs || !str_eq(got->attrs[k][1], want->attrs[i][1])) {
            return bad(why, n, "%s: attrs[\"%s\"] missing or not \"%s\"", what,
                       show(want->attrs[i][0], g, sizeof(g)),
                       show(want->attrs[i][1], w, sizeof(w)));
        }
    }
    if (got->flag != want->flag) {
        return bad(why, n, "%s: flag differs", what);
    }
    return TC_OK;
}

static int
check_roundtrip(const tc_bench_req_t *req, tc_proto_t *p, char *why, size_t n)
{
    item_t got;
    item_t want;
    int rc = read_item(p, &got, why, n);
    if (rc != TC_OK) {
        return rc;
    }
    memset(&want, 0, sizeof(want));
    want.seen = 0x3e | (req->b ? 0x40u : 0u);
    want.id = req->a + 1;
    want.name = cstr(RT_NAME);
    want.score = RT_SCORE;
    want.ntags = TC_ARRAY_LEN(rt_tags);
    memcpy(want.tags, rt_tags, sizeof(rt_tags));
    want.nattrs = TC_ARRAY_LEN(rt_attrs);
    for (size_t i = 0; i < TC_ARRAY_LEN(rt_attrs); i++) {
        want.attrs[i][0] = cstr(rt_attrs[i][0]);
        want.attrs[i][1] = cstr(rt_attrs[i][1]);
    }
    want.flag = req->b != 0;
    return item_eq(&got, &want, "roundtrip", why, n);
}

/* Item i of batch(n): id i, name "item-<i>", score i/2.0, tags [i, i+1, i+2], attrs {k: v<i>}. */
static int
check_batch(const builtin_t *b, tc_proto_t *p, char *why, size_t n)
{
    uint8_t et;
    uint32_t cnt;
    int rc = p->ops->read_list_begin(p, &et, &cnt);
    if (rc != TC_OK) {
        return malformed(why, n, rc);
    }
    if (cnt != (uint32_t)b->param || (cnt > 0 && et != TC_TTYPE_STRUCT)) {
        return bad(why, n, "batch: a list<%s> of %u, expected %lld items", tc_proto_type_name(et),
                   cnt, (long long)b->param);
    }
    char name[32];
    char val[32];
    char what[32];
    item_t want;
    memset(&want, 0, sizeof(want));
    want.seen = 0x3e;
    want.ntags = 3;
    want.nattrs = 1;
    want.attrs[0][0] = cstr("k");
    for (uint32_t i = 0; i < cnt; i++) {
        item_t got;
        if ((rc = read_item(p, &got, why, n)) != TC_OK) {
            return rc;
        }
        want.id = i;
        want.name.s = (const uint8_t *)name;
        want.name.len = fmt_int(name, "item-", i);
        want.score = i / 2.0;
        want.tags[0] = (int32_t)i;
        want.tags[1] = (int32_t)i + 1;
        want.tags[2] = (int32_t)i + 2;
        want.attrs[0][1].s = (const uint8_t *)val;
        want.attrs[0][1].len = fmt_int(val, "v", i);
        if (item_eq(&got, &want, "", why, n) != TC_OK) {
            fmt_int(what, "batch item ", i);
            return item_eq(&got, &want, what, why, n);
        }
    }
    return TC_OK;
}

/* BenchError{code, "fail <code>"} in field 1 of fail's result. */
static int
check_bench_error(const builtin_t *b, tc_proto_t *p, char *why, size_t n)
{
    const tc_proto_ops_t *ops = p->ops;
    int32_t code = 0;
    str_t msg = {NULL, 0};
    unsigned seen = 0;
    int rc = ops->read_struct_begin(p);
    for (;;) {
        uint8_t type;
        int16_t id;
        if (rc != TC_OK || (rc = ops->read_field_begin(p, &type, &id)) != TC_OK) {
            return malformed(why, n, rc);
        }
        if (type == TC_TTYPE_STOP) {
            break;
        }
        if (id == 1 && type == TC_TTYPE_I32) {
            rc = ops->read_i32(p, &code);
        } else if (id == 2 && type == TC_TTYPE_STRING) {
            rc = read_string(p, &msg);
        } else {
            return bad(why, n, "BenchError: unexpected field %d", id);
        }
        seen |= 1u << id;
    }
    char want[32];
    uint32_t wlen = fmt_int(want, "fail ", b->param);
    str_t w = {(const uint8_t *)want, wlen};
    if (seen != 0x6 || code != (int32_t)b->param || !str_eq(msg, w)) {
        return bad(why, n, "BenchError: code %d, expected %lld (or message not \"%s\")", code,
                   (long long)b->param, want);
    }
    return ops->read_struct_end(p) == TC_OK ? TC_OK : malformed(why, n, TC_EPROTO);
}

/* The value of the success field (id 0) of the result struct. */
static int
check_success(const builtin_t *b, const tc_bench_req_t *req, tc_proto_t *p, char *why, size_t n)
{
    const tc_proto_ops_t *ops = p->ops;
    int rc;
    if (b->kind == K_ECHO) {
        str_t s;
        if ((rc = read_string(p, &s)) != TC_OK) {
            return malformed(why, n, rc);
        }
        if (s.len != (uint32_t)b->param) {
            return bad(why, n, "echo: %u bytes came back, %lld were sent", s.len,
                       (long long)b->param);
        }
        if (s.len > 0 && memcmp(s.s, b->payload, s.len) != 0) {
            uint32_t i = 0;
            while (s.s[i] == (uint8_t)b->payload[i]) {
                i++;
            }
            return bad(why, n, "echo: byte %u of %u differs from what was sent", i, s.len);
        }
        return TC_OK;
    }
    if (b->kind == K_ADD) {
        int64_t v;
        if ((rc = ops->read_i64(p, &v)) != TC_OK) {
            return malformed(why, n, rc);
        }
        if (v != req->a + req->b) {
            return bad(why, n, "add(%lld, %lld) returned %lld", (long long)req->a,
                       (long long)req->b, (long long)v);
        }
        return TC_OK;
    }
    if (b->kind == K_ROUNDTRIP) {
        return check_roundtrip(req, p, why, n);
    }
    return check_batch(b, p, why, n);
}

static const uint8_t success_types[] = {
    [K_PING] = TC_TTYPE_VOID,        [K_ECHO] = TC_TTYPE_STRING, [K_ADD] = TC_TTYPE_I64,
    [K_ROUNDTRIP] = TC_TTYPE_STRUCT, [K_BATCH] = TC_TTYPE_LIST,  [K_SLEEP] = TC_TTYPE_VOID,
    [K_FAIL] = TC_TTYPE_VOID,
};

static int
builtin_check(tc_bench_call_t *c, const tc_bench_req_t *req, const uint8_t *msg, size_t len,
              tc_proto_t *p, char *why, size_t n)
{
    (void)msg;
    (void)len;
    const builtin_t *b = (const builtin_t *)c;
    const tc_proto_ops_t *ops = p->ops;
    uint8_t want = success_types[b->kind];
    bool got_value = false;
    bool got_error = false;
    int rc = ops->read_struct_begin(p);
    for (;;) {
        uint8_t type;
        int16_t id;
        if (rc != TC_OK || (rc = ops->read_field_begin(p, &type, &id)) != TC_OK) {
            return malformed(why, n, rc);
        }
        if (type == TC_TTYPE_STOP) {
            break;
        }
        if (id == 0 && type == want && !got_value) {
            rc = check_success(b, req, p, why, n);
            got_value = true;
        } else if (id == 1 && type == TC_TTYPE_STRUCT && b->kind == K_FAIL && !got_error) {
            rc = check_bench_error(b, p, why, n);
            got_error = true;
        } else {
            return bad(why, n, "%s: unexpected field %d of type %s in the result", c->method, id,
                       tc_proto_type_name(type));
        }
        if (rc != TC_OK) {
            return rc;
        }
    }
    if (want != TC_TTYPE_VOID && !got_value) {
        return bad(why, n, "%s: the reply has no result (success field missing)", c->method);
    }
    if (b->kind == K_FAIL && !got_error) {
        return bad(why, n, "fail: the reply carries no BenchError");
    }
    if ((rc = ops->read_struct_end(p)) != TC_OK) {
        return malformed(why, n, rc);
    }
    /* a client would read those bytes as the start of its next reply */
    if (tc_proto_left(p) != 0) {
        return bad(why, n, "%s: %zu bytes after the result struct", c->method, tc_proto_left(p));
    }
    return TC_OK;
}

static void
builtin_free(tc_bench_call_t *c)
{
    builtin_t *b = (builtin_t *)c;
    if (b != NULL) {
        free(b->payload);
        free(b);
    }
}

/* ---- parsing --call ---- */

static const struct {
    const char *name;
    enum kind kind;
    bool param; /* "name:N" */
    int64_t min;
    int64_t max;
} kinds[] = {
    {"ping", K_PING, false, 0, 0},
    {"echo", K_ECHO, true, 0, 64 << 20},
    {"add", K_ADD, false, 0, 0},
    {"roundtrip", K_ROUNDTRIP, false, 0, 0},
    {"batch", K_BATCH, true, 0, 1000000},
    {"sleep", K_SLEEP, true, 0, 600000},
    {"fail", K_FAIL, true, INT32_MIN, INT32_MAX}, /* the code is an i32, negative ones too */
};

tc_bench_call_t *
tc_bench_call_new(const char *spec, const tc_proto_ops_t *proto, tc_err_t *err)
{
    const char *colon = strchr(spec, ':');
    size_t nlen = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    for (size_t i = 0; i < TC_ARRAY_LEN(kinds); i++) {
        if (strlen(kinds[i].name) != nlen || strncmp(spec, kinds[i].name, nlen) != 0) {
            continue;
        }
        int64_t param = 0;
        if (kinds[i].param) {
            char *end = NULL;
            long long v = colon != NULL ? strtoll(colon + 1, &end, 10) : -1;
            /* strtoll() skips spaces and takes a '+': "echo: 5" ran, and was named so */
            const char *digit = colon == NULL ? "" : colon[1] == '-' ? colon + 2 : colon + 1;
            if (colon == NULL || end == colon + 1 || *end != '\0' || v < kinds[i].min ||
                v > kinds[i].max || digit[0] < '0' || digit[0] > '9') {
                tc_err_set(err, TC_EINVAL, "--call %s: expected %s:N with %lld <= N <= %lld", spec,
                           kinds[i].name, (long long)kinds[i].min, (long long)kinds[i].max);
                return NULL;
            }
            param = v;
        } else if (colon != NULL) {
            tc_err_set(err, TC_EINVAL, "--call %s: %s takes no parameter", spec, kinds[i].name);
            return NULL;
        }
        builtin_t *b = tc_xcalloc(1, sizeof(*b));
        b->kind = kinds[i].kind;
        b->param = param;
        b->base.proto = proto;
        b->base.method = kinds[i].name;
        b->base.method_len = nlen;
        b->base.request = builtin_request;
        b->base.check = builtin_check;
        b->base.free = builtin_free;
        /*
         * Above the message header, struct and field overhead (under 64
         * bytes), an echo reply holds the string and a batch item takes
         * under 128 bytes in either protocol.
         */
        b->base.reply_max = b->kind == K_ECHO    ? (size_t)param + 64
                            : b->kind == K_BATCH ? (size_t)param * 128 + 64
                                                 : 0;
        if (b->kind == K_ECHO) {
            b->payload = tc_xmalloc((size_t)param + 1);
            for (int64_t k = 0; k < param; k++) {
                b->payload[k] = (char)('a' + k % 26);
            }
        }
        return &b->base;
    }
    tc_err_set(err, TC_EINVAL,
               "--call %s: expected ping, echo:SIZE, add, roundtrip, batch:N, sleep:MS or "
               "fail:CODE",
               spec);
    return NULL;
}

void
tc_bench_req_init(tc_bench_req_t *req)
{
    tc_buf_init(&req->args);
    req->a = 0;
    req->b = 0;
}

void
tc_bench_req_deinit(tc_bench_req_t *req)
{
    tc_buf_deinit(&req->args);
}
