/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for worker/dispatch.c: a reply over the most its frame can
 * carry ('max_reply', lowered here from a transport's 2 GiB so that no test
 * needs the memory) is dropped for an INTERNAL_ERROR naming the limit, and
 * the output never grows much past it; a call's THeader is not kept past
 * the call; a oneway message to an unknown method is not answered; a name
 * quoted in part is cut between UTF-8 characters; arguments that do not
 * decode are refused naming the method; every error of a call names the
 * service as the call named it; a service that cannot be loaded is named
 * once in the error; a large call leaves no garbage in its Lua state. The handlers are the
 * dispatch fixtures' (tests/fixtures/dispatch), loaded as a handler thread
 * loads them.
 */
#include "tc_test.h"

#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "protocol/message.h"
#include "transport/header.h"
#include "worker/dispatch.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef TC_FIXTURES_DIR
#error "TC_FIXTURES_DIR must name tests/fixtures"
#endif

/* The bytes of the string echo() sends back: its reply is larger than an INTERNAL_ERROR. */
#define ECHOED 1000

typedef struct fixture {
    tc_config_t *cfg;
    tc_dispatch_t *disp;
    tc_buf_t call;
    tc_buf_t out;
    tc_buf_t good; /* a reply as it was first made */
} fixture_t;

static int
open_config(void **state, const char *path)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tc_err_t err;
    tc_err_clear(&err);
    f->cfg = tc_config_load(path, NULL, 0, &err);
    if (f->cfg == NULL) {
        fail_msg("tc_config_load(%s): %s", path, err.msg);
    }
    f->disp = tc_dispatch_new(f->cfg, &err);
    if (f->disp == NULL || tc_dispatch_thread_start(f->disp, &err) != TC_OK) {
        fail_msg("the handlers of %s: %s", path, err.msg);
    }
    tc_buf_init(&f->call);
    tc_buf_init(&f->out);
    tc_buf_init(&f->good);
    *state = f;
    return 0;
}

static int
setup(void **state)
{
    return open_config(state, TC_FIXTURES_DIR "/dispatch/thriftcorn.lua");
}

static int
setup_multi(void **state)
{
    return open_config(state, TC_FIXTURES_DIR "/dispatch/multi.lua");
}

static int
setup_multi_v2(void **state)
{
    return open_config(state, TC_FIXTURES_DIR "/dispatch/multi_v2.lua");
}

static int
setup_memory(void **state)
{
    return open_config(state, TC_FIXTURES_DIR "/dispatch/memory.lua");
}

static int
setup_finalizer(void **state)
{
    return open_config(state, TC_FIXTURES_DIR "/dispatch/finalizer.lua");
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    if (f->disp != NULL) {
        tc_dispatch_thread_stop(f->disp);
    }
    tc_dispatch_free(f->disp);
    tc_config_free(f->cfg);
    tc_buf_deinit(&f->call);
    tc_buf_deinit(&f->out);
    tc_buf_deinit(&f->good);
    free(f);
    return 0;
}

/* echo(e = Everything{3: Value{3: ECHOED bytes}}) named 'name' */
static void
write_echo(tc_buf_t *b, const tc_proto_ops_t *ops, const char *name, int32_t seqid)
{
    static char s[ECHOED];
    memset(s, 'x', sizeof(s));
    b->len = 0;
    tc_proto_t w;
    tc_proto_init(&w, ops, NULL, 0, b);
    ops->write_message_begin(&w, name, strlen(name), TC_MSG_CALL, seqid);
    ops->write_struct_begin(&w);
    ops->write_field_begin(&w, TC_TTYPE_STRUCT, 1);
    ops->write_struct_begin(&w);
    ops->write_field_begin(&w, TC_TTYPE_STRUCT, 3);
    ops->write_struct_begin(&w);
    ops->write_field_begin(&w, TC_TTYPE_STRING, 3);
    ops->write_binary(&w, s, sizeof(s));
    ops->write_field_stop(&w);
    ops->write_struct_end(&w);
    ops->write_field_stop(&w);
    ops->write_struct_end(&w);
    ops->write_field_stop(&w);
    ops->write_struct_end(&w);
}

/* echo(e = Everything{2: Containers{11: blobs = 'n' strings of 'size' bytes}}) */
static void
write_echo_list(tc_buf_t *b, const tc_proto_ops_t *ops, int n, size_t size)
{
    static char s[ECHOED];
    assert_true(size <= sizeof(s));
    memset(s, 'y', size);
    b->len = 0;
    tc_proto_t w;
    tc_proto_init(&w, ops, NULL, 0, b);
    ops->write_message_begin(&w, "echo", 4, TC_MSG_CALL, 8);
    ops->write_struct_begin(&w);
    ops->write_field_begin(&w, TC_TTYPE_STRUCT, 1);
    ops->write_struct_begin(&w);
    ops->write_field_begin(&w, TC_TTYPE_STRUCT, 2);
    ops->write_struct_begin(&w);
    ops->write_field_begin(&w, TC_TTYPE_LIST, 11);
    ops->write_list_begin(&w, TC_TTYPE_STRING, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        ops->write_binary(&w, s, size);
    }
    ops->write_field_stop(&w);
    ops->write_struct_end(&w);
    ops->write_field_stop(&w);
    ops->write_struct_end(&w);
    ops->write_field_stop(&w);
    ops->write_struct_end(&w);
}

/* A call of 'name' with no arguments (oneway or not). */
static void
write_bare(tc_buf_t *b, const tc_proto_ops_t *ops, const char *name, size_t name_len, uint8_t type,
           int32_t seqid)
{
    b->len = 0;
    tc_proto_t w;
    tc_proto_init(&w, ops, NULL, 0, b);
    ops->write_message_begin(&w, name, name_len, type, seqid);
    ops->write_struct_begin(&w);
    ops->write_field_stop(&w);
    ops->write_struct_end(&w);
}

/* f->call through the dispatcher, its reply appended to f->out, as worker/loop.c does it. */
static int
handle(fixture_t *f, const tc_proto_ops_t *ops, size_t max_reply, tc_call_info_t *info,
       tc_err_t *err)
{
    tc_proto_t in;
    tc_proto_t op;
    tc_proto_init(&in, ops, f->call.data, f->call.len, NULL);
    in.max_depth = f->cfg->max_depth;
    in.max_string = f->cfg->max_message_size;
    tc_proto_init(&op, ops, NULL, 0, &f->out);
    op.max_depth = f->cfg->max_depth;
    memset(info, 0, sizeof(*info));
    tc_err_clear(err);
    int rc = tc_dispatch_handle(f->disp, &in, &op, max_reply, info, err);
    assert_int_equal(op.depth, 0);
    return rc;
}

/* The reply at 'data' is an INTERNAL_ERROR for 'name' and 'seqid' with the text 'want'. */
static void
assert_refused(const tc_proto_ops_t *ops, const uint8_t *data, size_t len, const char *name,
               int32_t seqid, const char *want)
{
    tc_proto_t rp;
    tc_msg_hdr_t h;
    tc_appex_t ex;
    tc_proto_init(&rp, ops, data, len, NULL);
    assert_int_equal(rp.ops->read_message_begin(&rp, &h), TC_OK);
    assert_int_equal(h.type, TC_MSG_EXCEPTION);
    assert_int_equal(h.seqid, seqid);
    assert_int_equal(h.name_len, strlen(name));
    assert_memory_equal(h.name, name, h.name_len);
    assert_int_equal(tc_message_read_appex(&rp, &ex), TC_OK);
    assert_int_equal(ex.type, TC_APPEX_INTERNAL_ERROR);
    assert_non_null(ex.message);
    assert_int_equal(ex.message_len, strlen(want));
    assert_memory_equal(ex.message, want, ex.message_len);
    /* the whole reply, nothing after it */
    assert_ptr_equal(rp.rp, data + len);
}

/*
 * A reply of exactly 'max_reply' bytes goes out as it is; one byte less and
 * it is refused with the call's name and seqid, after whatever 'out' held
 * (framed's length, earlier replies), and the next call is answered again.
 */
static void
test_reply_over_the_limit(void **state)
{
    fixture_t *f = *state;
    static const tc_proto_ops_t *const formats[] = {&tc_proto_binary, &tc_proto_compact};
    for (size_t i = 0; i < TC_ARRAY_LEN(formats); i++) {
        const tc_proto_ops_t *ops = formats[i];
        tc_call_info_t info;
        tc_err_t err;
        write_echo(&f->call, ops, "echo", 41);

        f->out.len = 0;
        tc_buf_append(&f->out, "LLLL", 4);
        assert_int_equal(handle(f, ops, SIZE_MAX, &info, &err), TC_OK);
        assert_int_equal(info.status, 0);
        assert_true(info.replied);
        assert_int_equal(err.code, TC_OK);
        size_t n = f->out.len - 4;
        assert_true(n > ECHOED);
        f->good.len = 0;
        tc_buf_append(&f->good, f->out.data + 4, n);

        /* exactly the limit: sent */
        f->out.len = 4;
        assert_int_equal(handle(f, ops, n, &info, &err), TC_OK);
        assert_int_equal(info.status, 0);
        assert_int_equal(err.code, TC_OK);
        assert_int_equal(f->out.len, 4 + n);
        assert_memory_equal(f->out.data + 4, f->good.data, n);

        /* one byte over: INTERNAL_ERROR instead, the bytes before it kept */
        f->out.len = 4;
        assert_int_equal(handle(f, ops, n - 1, &info, &err), TC_OK);
        char want[128];
        snprintf(want, sizeof(want), "reply is over the largest frame (%zu bytes)", n - 1);
        assert_true(f->out.cap <= 4 + (n - 1) + TC_PROTO_WRITE_SLACK);
        assert_memory_equal(f->out.data, "LLLL", 4);
        assert_true(f->out.len - 4 < n);
        assert_refused(ops, f->out.data + 4, f->out.len - 4, "echo", 41, want);
        assert_int_equal(info.status, TC_APPEX_INTERNAL_ERROR);
        assert_true(info.replied);
        assert_int_equal(info.err_len, 0);
        assert_memory_equal(info.method, "echo", 4);
        assert_int_equal(err.code, TC_ELIMIT);
        char log[192];
        snprintf(log, sizeof(log), "alltypes.AllTypes.echo: %s", want);
        assert_string_equal(err.msg, log);

        /* the handler's state is whole: the same call gets the same reply */
        f->out.len = 0;
        assert_int_equal(handle(f, ops, SIZE_MAX, &info, &err), TC_OK);
        assert_int_equal(f->out.len, n);
        assert_memory_equal(f->out.data, f->good.data, n);
    }
}

/*
 * A reply far over the limit is stopped where it crosses it: the output
 * never holds more than the limit (and the few bytes a write may ask for
 * beyond what it writes), however large the handler's value; the client
 * gets the INTERNAL_ERROR and the next call is answered. A string past the
 * limit, and a list of 400 strings whose encoder stops within a few
 * elements of the limit.
 */
static void
test_reply_stopped_at_the_limit(void **state)
{
    fixture_t *f = *state;
    static const tc_proto_ops_t *const formats[] = {&tc_proto_binary, &tc_proto_compact};
    static const size_t limit = 300;
    for (size_t i = 0; i < TC_ARRAY_LEN(formats); i++) {
        const tc_proto_ops_t *ops = formats[i];
        for (int shape = 0; shape < 2; shape++) {
            tc_call_info_t info;
            tc_err_t err;
            int32_t seqid = shape == 0 ? 41 : 8;
            if (shape == 0) {
                write_echo(&f->call, ops, "echo", seqid);
            } else {
                write_echo_list(&f->call, ops, 400, 100);
            }
            f->out.len = 0;
            assert_int_equal(handle(f, ops, SIZE_MAX, &info, &err), TC_OK);
            assert_int_equal(err.code, TC_OK);
            size_t whole = f->out.len;
            assert_true(whole > 3 * limit);
            f->good.len = 0;
            tc_buf_append(&f->good, f->out.data, whole);

            /* a fresh output, as a connection has between messages */
            tc_buf_deinit(&f->out);
            tc_buf_init(&f->out);
            tc_buf_append(&f->out, "LLLL", 4);
            assert_int_equal(handle(f, ops, limit, &info, &err), TC_OK);
            assert_true(f->out.cap <= 4 + limit + TC_PROTO_WRITE_SLACK);
            char want[128];
            snprintf(want, sizeof(want), "reply is over the largest frame (%zu bytes)", limit);
            assert_memory_equal(f->out.data, "LLLL", 4);
            assert_refused(ops, f->out.data + 4, f->out.len - 4, "echo", seqid, want);
            assert_int_equal(info.status, TC_APPEX_INTERNAL_ERROR);
            assert_int_equal(err.code, TC_ELIMIT);
            char log[192];
            snprintf(log, sizeof(log), "alltypes.AllTypes.echo: %s", want);
            assert_string_equal(err.msg, log);

            /* the output is unbounded again, and the handler's state whole */
            f->out.len = 0;
            assert_int_equal(handle(f, ops, SIZE_MAX, &info, &err), TC_OK);
            assert_int_equal(err.code, TC_OK);
            assert_int_equal(f->out.len, whole);
            assert_memory_equal(f->out.data, f->good.data, whole);
        }
    }
}

/* A oneway call has no reply, so no limit, however low. */
static void
test_oneway(void **state)
{
    fixture_t *f = *state;
    tc_call_info_t info;
    tc_err_t err;
    write_bare(&f->call, &tc_proto_binary, "fire", 4, TC_MSG_ONEWAY, 5);
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, 0, &info, &err), TC_OK);
    assert_int_equal(f->out.len, 0);
    assert_false(info.replied);
    assert_int_equal(info.status, 0);
    assert_int_equal(err.code, TC_OK);
}

/*
 * A reply the dispatcher makes (UNKNOWN_METHOD) is held to the limit too;
 * when the name it echoes alone is about as long as the limit, the
 * INTERNAL_ERROR leaves the name out so that it fits.
 */
static void
test_long_name(void **state)
{
    fixture_t *f = *state;
    tc_call_info_t info;
    tc_err_t err;
    char name[300];
    memset(name, 'n', sizeof(name));
    write_bare(&f->call, &tc_proto_binary, name, sizeof(name), TC_MSG_CALL, 9);

    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
    assert_int_equal(info.status, TC_APPEX_UNKNOWN_METHOD);
    assert_int_equal(err.code, TC_ENOTFOUND);
    size_t n = f->out.len;
    assert_true(n > sizeof(name));

    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, 150, &info, &err), TC_OK);
    char want[128];
    snprintf(want, sizeof(want), "reply is over the largest frame (150 bytes)");
    assert_true(f->out.len <= 150);
    assert_refused(&tc_proto_binary, f->out.data, f->out.len, "", 9, want);
    assert_int_equal(info.status, TC_APPEX_INTERNAL_ERROR);
    assert_int_equal(info.err_len, 0);
    assert_int_equal(err.code, TC_ELIMIT);
    char log[192];
    snprintf(log, sizeof(log), "UNKNOWN_METHOD: %s", want);
    assert_string_equal(err.msg, log);
}

/* The reply in f->out: UNKNOWN_METHOD for 'name' and 'seqid' with the text 'want' ('n' bytes). */
static void
assert_unknown(const fixture_t *f, const char *name, size_t name_len, int32_t seqid,
               const char *want, size_t n)
{
    tc_proto_t rp;
    tc_msg_hdr_t h;
    tc_appex_t ex;
    tc_proto_init(&rp, &tc_proto_binary, f->out.data, f->out.len, NULL);
    assert_int_equal(rp.ops->read_message_begin(&rp, &h), TC_OK);
    assert_int_equal(h.type, TC_MSG_EXCEPTION);
    assert_int_equal(h.seqid, seqid);
    assert_int_equal(h.name_len, name_len);
    assert_memory_equal(h.name, name, name_len);
    assert_int_equal(tc_message_read_appex(&rp, &ex), TC_OK);
    assert_int_equal(ex.type, TC_APPEX_UNKNOWN_METHOD);
    assert_non_null(ex.message);
    assert_int_equal(ex.message_len, n);
    assert_memory_equal(ex.message, want, n);
}

/*
 * A ONEWAY message naming a method the service lacks gets no reply: its
 * client reads none, and would take one for its next call's. It is still
 * UNKNOWN_METHOD with a text for the log; the same name as a CALL is
 * answered. With several services, "AllTypes:nope" too.
 */
static void
test_oneway_unknown_method(void **state)
{
    fixture_t *f = *state;
    static const char *const names[] = {"nope", "AllTypes:nope"};
    size_t nnames = f->cfg->nservices > 0 ? 2 : 1;
    for (size_t i = 0; i < nnames; i++) {
        const char *name = names[i];
        tc_call_info_t info;
        tc_err_t err;
        write_bare(&f->call, &tc_proto_binary, name, strlen(name), TC_MSG_ONEWAY, 6);
        f->out.len = 0;
        assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
        assert_int_equal(f->out.len, 0);
        assert_false(info.replied);
        assert_int_equal(info.status, TC_APPEX_UNKNOWN_METHOD);
        assert_int_equal(err.code, TC_ENOTFOUND);
        assert_string_equal(err.msg, "Invalid method name: 'nope'");

        write_bare(&f->call, &tc_proto_binary, name, strlen(name), TC_MSG_CALL, 7);
        assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
        assert_true(info.replied);
        assert_unknown(f, "nope", 4, 7, "Invalid method name: 'nope'", 27);
    }
}

/*
 * A text that quotes part of a name the client sent ends before a UTF-8
 * character the cut would split: clients decode the text as UTF-8. The
 * names are 'a' and then U+00E9 (0xC3 0xA9) over and over, so that 256
 * bytes (a method) and 200 (a service) end inside a character; the reply
 * carries the whole name.
 */
static void
test_cut_name_keeps_utf8(void **state)
{
    fixture_t *f = *state;
    char name[1 + 2 * 200 + 5];
    name[0] = 'a';
    for (size_t i = 0; i < 200; i++) {
        name[1 + 2 * i] = (char)0xC3;
        name[2 + 2 * i] = (char)0xA9;
    }
    tc_call_info_t info;
    tc_err_t err;
    char want[300];
    /* a method the service lacks: the first 255 bytes of its name */
    write_bare(&f->call, &tc_proto_binary, name, 401, TC_MSG_CALL, 8);
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
    int n = snprintf(want, sizeof(want), "Invalid method name: '%.*s'", 255, name);
    assert_unknown(f, name, 401, 8, want, (size_t)n);
    assert_int_equal(info.err_len, n);
    assert_memory_equal(err.msg, want, (size_t)n);
    if (f->cfg->nservices == 0) {
        return;
    }
    /* a service the server lacks: the first 199 bytes of its name (of 301) */
    memcpy(name + 301, ":echo", 5);
    write_bare(&f->call, &tc_proto_binary, name, 306, TC_MSG_CALL, 9);
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
    n = snprintf(want, sizeof(want), "Unknown service: '%.*s'", 199, name);
    assert_unknown(f, name, 306, 9, want, (size_t)n);
}

/* With several services the refused reply has the reply's name: "echo", not "AllTypes:echo". */
static void
test_multiplexed(void **state)
{
    fixture_t *f = *state;
    tc_call_info_t info;
    tc_err_t err;
    write_echo(&f->call, &tc_proto_binary, "AllTypes:echo", 3);
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
    size_t n = f->out.len;
    assert_true(n > ECHOED);
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, ECHOED, &info, &err), TC_OK);
    char want[128];
    snprintf(want, sizeof(want), "reply is over the largest frame (%d bytes)", ECHOED);
    assert_refused(&tc_proto_binary, f->out.data, f->out.len, "echo", 3, want);
    assert_string_equal(info.service, "AllTypes");
    assert_int_equal(err.code, TC_ELIMIT);
}

/* A call of 'name' whose Value (at 'path' below its arguments) holds a list of one i64. */
static void
write_bad_value(tc_buf_t *b, const char *name, uint8_t type, const int16_t *path, size_t depth)
{
    const tc_proto_ops_t *ops = &tc_proto_binary;
    b->len = 0;
    tc_proto_t w;
    tc_proto_init(&w, ops, NULL, 0, b);
    ops->write_message_begin(&w, name, strlen(name), type, 4);
    ops->write_struct_begin(&w);
    for (size_t i = 0; i < depth; i++) {
        ops->write_field_begin(&w, TC_TTYPE_STRUCT, path[i]);
        ops->write_struct_begin(&w);
    }
    ops->write_field_begin(&w, TC_TTYPE_LIST, 4); /* Value.list_value: a list<Value> */
    ops->write_list_begin(&w, TC_TTYPE_I64, 1);
    ops->write_i64(&w, 1);
    for (size_t i = 0; i <= depth; i++) {
        ops->write_field_stop(&w);
        ops->write_struct_end(&w);
    }
}

/*
 * The reply in f->out is a TApplicationException of 'type' for 'method'
 * (the name without "Service:"), read into 'ex' (its text points into
 * f->out).
 */
static void
read_appex_reply(const fixture_t *f, const char *method, int32_t type, tc_appex_t *ex)
{
    tc_proto_t rp;
    tc_msg_hdr_t h;
    tc_proto_init(&rp, &tc_proto_binary, f->out.data, f->out.len, NULL);
    assert_int_equal(rp.ops->read_message_begin(&rp, &h), TC_OK);
    assert_int_equal(h.type, TC_MSG_EXCEPTION);
    assert_int_equal(h.name_len, strlen(method));
    assert_memory_equal(h.name, method, h.name_len);
    assert_int_equal(tc_message_read_appex(&rp, ex), TC_OK);
    assert_int_equal(ex->type, type);
}

/*
 * The reply in f->out is a PROTOCOL_ERROR for 'method' (the name without
 * "Service:") with the text 'want'.
 */
static void
assert_protocol_error(const fixture_t *f, const char *method, const char *want)
{
    tc_appex_t ex;
    read_appex_reply(f, method, TC_APPEX_PROTOCOL_ERROR, &ex);
    assert_int_equal(ex.message_len, strlen(want));
    assert_memory_equal(ex.message, want, ex.message_len);
}

/*
 * The AllTypes entry of f's config that calls reach: the one with a
 * multiplexed_name, if any. '*route': what a call puts before ':' ("": a
 * plain name); '*called': how the errors of its calls name the service.
 */
static void
alltypes_names(const fixture_t *f, const char **route, const char **called)
{
    *route = "";
    *called = "alltypes.AllTypes";
    for (size_t i = 0; i < f->cfg->nservices; i++) {
        const tc_service_conf_t *s = &f->cfg->services[i];
        if (i == 0 || s->mux_name != NULL) {
            *route = tc_config_service_mux_name(s);
            *called = s->mux_name != NULL ? s->mux_name : "alltypes.AllTypes";
        }
    }
}

/*
 * Arguments that do not decode: the PROTOCOL_ERROR and the log's text name
 * the service and the method before where the bytes went wrong, so that a
 * struct several methods take (Value: echo's through Everything,
 * evaluate's as it is) leads to the call. Below the arguments, the
 * innermost struct and field; an argument itself, by its name and field id
 * (the method is named once). A oneway call, not answered, is logged as
 * such. The service is named as the call named it: by its
 * multiplexed_name when it has one (as the access log names it), else by
 * its IDL name. The reply carries the method's name as it came after
 * "Service:".
 */
static void
test_arguments_name_the_method(void **state)
{
    fixture_t *f = *state;
    const char *route;
    const char *called;
    alltypes_names(f, &route, &called);
    static const int16_t in_echo[] = {1, 3};  /* echo_args.e, Everything.value */
    static const int16_t in_evaluate[] = {1}; /* evaluate_args.v */
    static const struct {
        const char *method;
        const int16_t *path;
        size_t depth;
    } calls[] = {{"echo", in_echo, 2}, {"evaluate", in_evaluate, 1}};
    char name[64];
    char want[256];
    tc_call_info_t info;
    tc_err_t err;
    for (size_t i = 0; i < TC_ARRAY_LEN(calls); i++) {
        snprintf(name, sizeof(name), "%s%s%s", route, route[0] ? ":" : "", calls[i].method);
        write_bad_value(&f->call, name, TC_MSG_CALL, calls[i].path, calls[i].depth);
        f->out.len = 0;
        assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
        assert_int_equal(info.status, TC_APPEX_PROTOCOL_ERROR);
        assert_true(info.replied);
        snprintf(want, sizeof(want),
                 "%s.%s: arguments: alltypes.Value.list_value: list of i64 where the IDL has "
                 "struct",
                 called, calls[i].method);
        assert_string_equal(err.msg, want);
        assert_protocol_error(f, calls[i].method, want);
    }

    /* add(a, b), 'b' cut short: the argument is named, not its method's args struct */
    snprintf(name, sizeof(name), "%s%sadd", route, route[0] ? ":" : "");
    f->call.len = 0;
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, &f->call);
    w.ops->write_message_begin(&w, name, strlen(name), TC_MSG_CALL, 6);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
    w.ops->write_i32(&w, 2);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
    w.ops->write_byte(&w, 0); /* one byte of b's four */
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
    assert_int_equal(info.status, TC_APPEX_PROTOCOL_ERROR);
    snprintf(want, sizeof(want), "%s.add: arguments: b (field 2): message truncated", called);
    assert_string_equal(err.msg, want);
    assert_protocol_error(f, "add", want);

    /* fire(what) as a oneway message, its string cut short: logged, not answered */
    snprintf(name, sizeof(name), "%s%sfire", route, route[0] ? ":" : "");
    f->call.len = 0;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, &f->call);
    w.ops->write_message_begin(&w, name, strlen(name), TC_MSG_ONEWAY, 5);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_STRING, 1);
    w.ops->write_i32(&w, 1000); /* the string's length, and no bytes of it */
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
    assert_int_equal(info.status, TC_APPEX_PROTOCOL_ERROR);
    assert_false(info.replied);
    assert_int_equal(f->out.len, 0);
    snprintf(want, sizeof(want), "%s.fire (oneway): arguments: what (field 1): message truncated",
             called);
    assert_string_equal(err.msg, want);
}

/* add(a, b) or, with 'what' set, fire(what) as a oneway message, named 'name' */
static void
write_call(tc_buf_t *b, const char *name, int32_t a, int32_t bv, const char *what)
{
    b->len = 0;
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, b);
    w.ops->write_message_begin(&w, name, strlen(name), what != NULL ? TC_MSG_ONEWAY : TC_MSG_CALL,
                               9);
    w.ops->write_struct_begin(&w);
    if (what != NULL) {
        w.ops->write_field_begin(&w, TC_TTYPE_STRING, 1);
        w.ops->write_binary(&w, what, strlen(what));
    } else {
        w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
        w.ops->write_i32(&w, a);
        w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
        w.ops->write_i32(&w, bv);
    }
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
}

/*
 * The reply in f->out is an INTERNAL_ERROR for 'method' whose text starts
 * with 'want'.
 */
static void
assert_internal_error_from(const fixture_t *f, const char *method, const char *want)
{
    tc_appex_t ex;
    read_appex_reply(f, method, TC_APPEX_INTERNAL_ERROR, &ex);
    assert_true(ex.message_len >= strlen(want));
    assert_memory_equal(ex.message, want, strlen(want));
}

/*
 * Whatever goes wrong in a call names the service as the call named it, as
 * arguments that do not decode do: by its multiplexed_name when it has one,
 * else by its IDL name. A handler that raises (a string, a table, a struct
 * it does not declare), one that returns a value its method's result does
 * not take, a oneway handler that raises (logged only), and a reply over
 * the largest frame: the log's text and, with expose_errors, the client's.
 */
static void
test_call_errors_name_the_service_as_called(void **state)
{
    fixture_t *f = *state;
    const char *route;
    const char *called;
    alltypes_names(f, &route, &called);
    const char *sep = route[0] != '\0' ? ":" : "";
    static const struct {
        int32_t a;
        int32_t b;
        const char *what;  /* fire(what), oneway; NULL: add(a, b) */
        const char *after; /* what follows "Service.method" in the text */
    } calls[] = {
        {-1, 0, NULL, ": before"}, /* error("before\0after", 0) */
        {-2, 7, NULL, ": "},       /* error({code = b}) */
        {-4, 1, NULL, " raised alltypes.Point, which it does not declare: "},
        {-5, 0, NULL, " returned a value that does not fit: "}, /* a string for an i32 */
        {0, 0, "raise", " (oneway): "},
    };
    char name[64];
    char want[256];
    tc_call_info_t info;
    tc_err_t err;
    for (size_t i = 0; i < TC_ARRAY_LEN(calls); i++) {
        const char *method = calls[i].what != NULL ? "fire" : "add";
        snprintf(name, sizeof(name), "%s%s%s", route, sep, method);
        write_call(&f->call, name, calls[i].a, calls[i].b, calls[i].what);
        f->out.len = 0;
        assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
        assert_int_equal(info.status, TC_APPEX_INTERNAL_ERROR);
        snprintf(want, sizeof(want), "%s.%s%s", called, method, calls[i].after);
        if (strncmp(err.msg, want, strlen(want)) != 0) {
            fail_msg("call %zu: '%s' does not start with '%s'", i, err.msg, want);
        }
        if (calls[i].what != NULL) {
            assert_false(info.replied);
            assert_int_equal(f->out.len, 0);
        } else {
            assert_internal_error_from(f, method, want);
        }
    }

    /* a reply over the largest frame: the log line names the call, the client the limit */
    snprintf(name, sizeof(name), "%s%secho", route, sep);
    write_echo(&f->call, &tc_proto_binary, name, 3);
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, ECHOED, &info, &err), TC_OK);
    char text[128];
    snprintf(text, sizeof(text), "reply is over the largest frame (%d bytes)", ECHOED);
    assert_refused(&tc_proto_binary, f->out.data, f->out.len, "echo", 3, text);
    assert_int_equal(err.code, TC_ELIMIT);
    snprintf(want, sizeof(want), "%s.echo: %s", called, text);
    assert_string_equal(err.msg, want);
}

/*
 * A call's THeader is its connection's, which may close before the next
 * call: once the call is answered no handler state keeps it, whoever
 * answered (the dispatcher for a method the service lacks or a REPLY sent
 * to the server, or the Lua handler). The fixture's finalizer, run when the
 * handler state closes, sets a reply header: it must reach none.
 */
static void
test_header_not_kept(void **state)
{
    fixture_t *f = *state;
    tc_header_t h;
    tc_header_init(&h);
    static const struct {
        const char *name;
        uint8_t type;
        int32_t status;
    } calls[] = {
        {"nothing", TC_MSG_CALL, 0},
        {"nope", TC_MSG_CALL, TC_APPEX_UNKNOWN_METHOD},
        {"nothing", TC_MSG_REPLY, TC_APPEX_INVALID_MESSAGE_TYPE},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(calls); i++) {
        write_bare(&f->call, &tc_proto_binary, calls[i].name, strlen(calls[i].name), calls[i].type,
                   (int32_t)i);
        tc_proto_t in;
        tc_proto_t op;
        tc_proto_init(&in, &tc_proto_binary, f->call.data, f->call.len, NULL);
        f->out.len = 0;
        tc_proto_init(&op, &tc_proto_binary, NULL, 0, &f->out);
        tc_call_info_t info;
        memset(&info, 0, sizeof(info));
        info.header = &h;
        tc_err_t err;
        tc_err_clear(&err);
        assert_int_equal(tc_dispatch_handle(f->disp, &in, &op, SIZE_MAX, &info, &err), TC_OK);
        assert_int_equal(info.status, calls[i].status);
        assert_true(f->out.len > 0);
    }
    tc_dispatch_thread_stop(f->disp);
    tc_dispatch_free(f->disp); /* the finalizer runs */
    f->disp = NULL;
    assert_int_equal(h.nreply_info, 0);
    assert_int_equal(h.reply_info.len, 0);
    tc_header_deinit(&h);
}

/* The bytes of the large calls of test_large_call_collected(): 4 MiB. */
#define LARGE ((size_t)4 << 20)

/*
 * add() of the memory fixture: the KiB its handler's Lua state holds,
 * garbage included, after a full collection if 'collect'.
 */
static int32_t
state_kib(fixture_t *f, bool collect)
{
    tc_call_info_t info;
    tc_err_t err;
    write_call(&f->call, "add", collect ? 1 : 0, 0, NULL);
    f->out.len = 0;
    assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
    assert_int_equal(info.status, 0);
    tc_proto_t rp;
    tc_msg_hdr_t h;
    uint8_t type;
    int16_t id;
    int32_t kib;
    tc_proto_init(&rp, &tc_proto_binary, f->out.data, f->out.len, NULL);
    assert_int_equal(rp.ops->read_message_begin(&rp, &h), TC_OK);
    assert_int_equal(h.type, TC_MSG_REPLY);
    assert_int_equal(rp.ops->read_struct_begin(&rp), TC_OK);
    assert_int_equal(rp.ops->read_field_begin(&rp, &type, &id), TC_OK);
    assert_int_equal(type, TC_TTYPE_I32);
    assert_int_equal(id, 0);
    assert_int_equal(rp.ops->read_i32(&rp, &kib), TC_OK);
    return kib;
}

/* The large calls of test_large_call_collected(). */
enum large_call { LARGE_ECHO, LARGE_RESULT, LARGE_REFUSED, LARGE_ONEWAY, LARGE_BOOLS };

/*
 * Call 'c' with the LARGE string 'big': echo(e = Everything{value = Value{
 * string_value = big}}); evaluate(v = Value{int_value = LARGE}), whose
 * result the handler makes; the echo with req = Requiredness{}, which lacks
 * its required field; fire(big), oneway; echo(e = Everything{containers =
 * Containers{bools = LARGE / 16 booleans}}), a fifth of a MiB on the wire
 * for both ways and LARGE in Lua, 16 bytes an element.
 */
static void
write_large(tc_buf_t *b, enum large_call c, const char *big)
{
    if (c == LARGE_ONEWAY) {
        write_call(b, "fire", 0, 0, big);
        return;
    }
    b->len = 0;
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, b);
    const char *name = c == LARGE_RESULT ? "evaluate" : "echo";
    w.ops->write_message_begin(&w, name, strlen(name), TC_MSG_CALL, 7);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 1);
    w.ops->write_struct_begin(&w);
    if (c == LARGE_RESULT) {
        w.ops->write_field_begin(&w, TC_TTYPE_I64, 1);
        w.ops->write_i64(&w, (int64_t)LARGE);
    } else if (c == LARGE_BOOLS) {
        w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 2);
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_LIST, 1);
        w.ops->write_list_begin(&w, TC_TTYPE_BOOL, (uint32_t)(LARGE / 16));
        for (size_t i = 0; i < LARGE / 16; i++) {
            w.ops->write_bool(&w, i % 3 == 0);
        }
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
    } else {
        w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 3);
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_STRING, 3);
        w.ops->write_binary(&w, big, LARGE);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
    }
    if (c == LARGE_REFUSED) {
        w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 9);
        w.ops->write_struct_begin(&w);
        w.ops->write_field_stop(&w);
        w.ops->write_struct_end(&w);
    }
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
}

/*
 * A large call's values are gone from its thread's Lua state once it is
 * answered, not left as garbage for a collection that a thread serving
 * small calls may not make for a long time: each of write_large()'s calls
 * leaves the state within 1 MiB of what it held before. Large is what the
 * values take in Lua, not on the wire: the booleans are a fifth of a MiB
 * there.
 */
static void
test_large_call_collected(void **state)
{
    fixture_t *f = *state;
    static char big[LARGE + 1];
    memset(big, 'x', LARGE);
    big[LARGE] = '\0';
    static const struct {
        enum large_call call;
        const char *what;
        int32_t status;
        bool replied;
    } calls[] = {
        {LARGE_ECHO, "echo of a string", 0, true},
        {LARGE_RESULT, "evaluate making a string", 0, true},
        {LARGE_REFUSED, "echo missing a required field", TC_APPEX_PROTOCOL_ERROR, true},
        {LARGE_ONEWAY, "fire", 0, false},
        {LARGE_BOOLS, "echo of a list of booleans", 0, true},
    };
    /* each from a state collected in full, so that none gains from the one before */
    for (size_t i = 0; i < TC_ARRAY_LEN(calls); i++) {
        int32_t before = state_kib(f, true);
        write_large(&f->call, calls[i].call, big);
        tc_call_info_t info;
        tc_err_t err;
        f->out.len = 0;
        assert_int_equal(handle(f, &tc_proto_binary, SIZE_MAX, &info, &err), TC_OK);
        assert_int_equal(info.status, calls[i].status);
        assert_int_equal(info.replied, calls[i].replied);
        if (calls[i].status == 0 && calls[i].replied) {
            assert_true(f->out.len > (calls[i].call == LARGE_BOOLS ? LARGE / 16 : LARGE));
        }
        int32_t after = state_kib(f, false);
        if (after - before >= 1024) {
            fail_msg("%s: the Lua state held %d KiB before the call and %d after", calls[i].what,
                     before, after);
        }
    }
}

/*
 * A service its IDL does not define (the IDL changed since the config was
 * checked): the error names the service once, in front, then the IDL file;
 * with a multiplexed_name, both of its names.
 */
static void
test_load_error_names_the_service_once(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    tc_config_t *cfg = tc_config_load(TC_FIXTURES_DIR "/dispatch/thriftcorn.lua", NULL, 0, &err);
    assert_non_null(cfg);
    free(cfg->service.name);
    cfg->service.name = tc_xstrdup("NoSuch");
    char want[TC_ERR_MSG_MAX];
    snprintf(want, sizeof(want), "service NoSuch: %s defines no such service", cfg->service.idl);
    assert_null(tc_dispatch_new(cfg, &err));
    assert_string_equal(err.msg, want);

    char v2[] = "NoSuchV2";
    cfg->service.mux_name = v2;
    tc_err_clear(&err);
    snprintf(want, sizeof(want), "service NoSuchV2 (NoSuch): %s defines no such service",
             cfg->service.idl);
    assert_null(tc_dispatch_new(cfg, &err));
    assert_string_equal(err.msg, want);
    cfg->service.mux_name = NULL;
    tc_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_over_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_stopped_at_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oneway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiplexed, setup_multi, teardown),
        cmocka_unit_test_setup_teardown(test_oneway_unknown_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oneway_unknown_method, setup_multi, teardown),
        cmocka_unit_test_setup_teardown(test_cut_name_keeps_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_name_keeps_utf8, setup_multi, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_name_the_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_name_the_method, setup_multi, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_name_the_method, setup_multi_v2, teardown),
        cmocka_unit_test_setup_teardown(test_call_errors_name_the_service_as_called, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_call_errors_name_the_service_as_called, setup_multi,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_call_errors_name_the_service_as_called, setup_multi_v2,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_header_not_kept, setup_finalizer, teardown),
        cmocka_unit_test(test_load_error_names_the_service_once),
        cmocka_unit_test_setup_teardown(test_large_call_collected, setup_memory, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
