/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugin/host.c: loading and refusing plugins (ABI, entry point, unknown
 * method, signature), lifecycle hooks, the call path, and a tc_call_t kept
 * past its handler, with the test plugins of tests/plugins.
 */
#include "tc_test.h"

#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "core/buf.h"
#include "core/log.h"
#include "plugin/host.h"
#include "protocol/message.h"

#include <dlfcn.h>
#include <lauxlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLUGIN(name) TC_TEST_PLUGIN_DIR "/libtp_" name ".so"
#define CALC_IDL     TC_SOURCE_DIR "/examples/calculator/tutorial.thrift"

static lua_State *L;
static const tc_service_t *svc;

typedef int (*count_fn)(int);

/*
 * tp_count() of the test plugin at 'path', opened again to read its
 * counters: the instance the host has loaded or will load. '*dl' is to be
 * dlclose()d.
 */
static count_fn
plugin_counter(const char *path, void **dl)
{
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(*dl);
    void *sym = dlsym(*dl, "tp_count");
    assert_non_null(sym);
    count_fn count;
    memcpy(&count, &sym, sizeof(count));
    return count;
}

static int
setup(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    L = tc_lua_state_new(&err);
    assert_non_null(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "load");
    lua_pushliteral(L, CALC_IDL);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "Calculator");
    svc = tc_lua_schema_to_service(L, -1);
    assert_non_null(svc);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    lua_close(L);
    return 0;
}

static void
refused(const char *path, const char *want1, const char *want2)
{
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h = tc_host_open(path, "Calculator", &err);
    tc_host_thread_t *t = NULL;
    if (h != NULL) {
        t = tc_host_thread_new(h, svc, svc->name, false, &err);
    }
    assert_null(t);
    tc_host_close(h);
    if (strstr(err.msg, want1) == NULL || (want2 && strstr(err.msg, want2) == NULL)) {
        fail_msg("message '%s' lacks '%s' / '%s'", err.msg, want1, want2 ? want2 : "");
    }
}

static void
test_refusals(void **state)
{
    (void)state;
    refused(PLUGIN("bad_abi"), "built for plugin ABI 999.", "this server speaks 1.");
    /* no version at all is no other ABI: the descriptor was never filled in */
    refused(PLUGIN("zero_abi"),
            "plugin " PLUGIN("zero_abi") ": tc_plugin_entry() returned a descriptor with "
                                         "abi_major 0: it is not filled in",
            "set .abi_major = TC_PLUGIN_ABI_MAJOR and .abi_minor = TC_PLUGIN_ABI_MINOR "
            "(thriftcorn/plugin.h)");
    refused(PLUGIN("no_entry"), "no entry point 'tc_plugin_entry'", NULL);
    /* the service is left for the caller to name: it says it once */
    refused(PLUGIN("unknown"),
            "plugin " PLUGIN("unknown") " (test): method 'nosuch' is not a method of the service "
                                        "in the IDL",
            NULL);
    refused(PLUGIN("wrong_sig"), "the plugin has 'i64 add(1:i64,2:i64)' (0x0123456789abcdef)",
            "the IDL has 'i32 add(1:i32,2:i32)'");
    refused(TC_TEST_PLUGIN_DIR "/libnone.so", "cannot load it", NULL);
    refused(PLUGIN("twice"),
            "(test): the service is listed twice, as 'tutorial.Calculator' and as "
            "'Calculator'",
            NULL);
    tc_err_t err;
    tc_err_clear(&err);
    assert_null(tc_host_open(PLUGIN("good"), "NoSuchService", &err));
    assert_string_equal(err.msg, "plugin " PLUGIN("good") " (test) lists no such service");

    /* init_thread() runs once per service: its failure names the service */
    tc_err_clear(&err);
    tc_host_t *h = tc_host_open(PLUGIN("thread_fail"), "Calculator", &err);
    assert_non_null(h);
    tc_host_thread_t *t = tc_host_thread_new(h, svc, svc->name, false, &err);
    assert_non_null(t);
    assert_int_not_equal(tc_host_thread_start(t, &err), TC_OK);
    assert_string_equal(
        err.msg,
        "plugin " PLUGIN("thread_fail") " (test): init_thread() for service tutorial.Calculator "
                                        "failed (42)");
    tc_host_thread_stop(t); /* exit_thread() does not follow a failed init_thread() */
    tc_host_thread_free(t);
    tc_host_close(h);
}

/*
 * Run add(a, b) through the plugin over binary, sent as a message of 'type'
 * (TC_MSG_CALL or TC_MSG_ONEWAY); returns the status, 'out' holds the reply.
 */
static int
call_add_as(tc_host_thread_t *t, uint8_t type, int32_t a, int32_t b, tc_buf_t *out, tc_err_t *err)
{
    tc_buf_t req;
    tc_buf_init(&req);
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, &req);
    w.ops->write_message_begin(&w, "add", 3, type, 7);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
    w.ops->write_i32(&w, a);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
    w.ops->write_i32(&w, b);
    w.ops->write_field_stop(&w);
    w.ops->write_struct_end(&w);
    tc_proto_t in;
    tc_proto_t op;
    tc_proto_init(&in, &tc_proto_binary, req.data, req.len, NULL);
    tc_proto_init(&op, &tc_proto_binary, NULL, 0, out);
    tc_msg_hdr_t m;
    assert_int_equal(in.ops->read_message_begin(&in, &m), TC_OK);
    int idx = tc_schema_service_index(svc, "add", 3);
    assert_true(tc_host_thread_serves(t, idx));
    int status = tc_host_call(t, idx, &m, type == TC_MSG_ONEWAY, &in, &op, err);
    tc_buf_deinit(&req);
    return status;
}

/* Run add(a, b) as a call. */
static int
call_add(tc_host_thread_t *t, int32_t a, int32_t b, tc_buf_t *out, tc_err_t *err)
{
    return call_add_as(t, TC_MSG_CALL, a, b, out, err);
}

/* The i32 result of a reply in 'out', or fails. */
static int32_t
reply_i32(const tc_buf_t *out)
{
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_binary, out->data, out->len, NULL);
    tc_msg_hdr_t m;
    assert_int_equal(r.ops->read_message_begin(&r, &m), TC_OK);
    assert_int_equal(m.type, TC_MSG_REPLY);
    assert_int_equal(m.seqid, 7);
    uint8_t type;
    int16_t id;
    assert_int_equal(r.ops->read_struct_begin(&r), TC_OK);
    assert_int_equal(r.ops->read_field_begin(&r, &type, &id), TC_OK);
    assert_int_equal(type, TC_TTYPE_I32);
    assert_int_equal(id, 0);
    int32_t v;
    assert_int_equal(r.ops->read_i32(&r, &v), TC_OK);
    return v;
}

static void
test_hooks_and_calls(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h = tc_host_acquire(PLUGIN("good"), "Calculator", &err);
    assert_non_null(h);
    assert_ptr_equal(tc_host_acquire(PLUGIN("good"), "Calculator", &err), h); /* shared */
    void *dl;
    count_fn count = plugin_counter(PLUGIN("good"), &dl);
    assert_int_equal(count(0), 1); /* init_worker once per process */

    const char *const *names = tc_host_method_names(h);
    assert_string_equal(names[0], "add");
    assert_string_equal(names[1], "calculate");
    assert_null(names[2]);

    tc_host_thread_t *t = tc_host_thread_new(h, svc, svc->name, true, &err);
    assert_non_null(t);
    assert_false(tc_host_thread_serves(t, tc_schema_service_index(svc, "ping", 4)));
    assert_int_equal(tc_host_thread_start(t, &err), TC_OK);
    assert_int_equal(count(2), 1);

    tc_buf_t out;
    tc_buf_init(&out);
    assert_int_equal(call_add(t, 2, 3, &out, &err), 0);
    assert_int_equal(reply_i32(&out), 1000005);

    /* api->fail(): INTERNAL_ERROR with the text (expose_errors), and err for the log */
    out.len = 0;
    tc_err_clear(&err);
    assert_int_equal(call_add(t, 1000, 1, &out, &err), TC_APPEX_INTERNAL_ERROR);
    assert_non_null(strstr(err.msg, "add refuses 1000"));
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_binary, out.data, out.len, NULL);
    tc_msg_hdr_t m;
    assert_int_equal(r.ops->read_message_begin(&r, &m), TC_OK);
    assert_int_equal(m.type, TC_MSG_EXCEPTION);
    tc_appex_t ex;
    assert_int_equal(tc_message_read_appex(&r, &ex), TC_OK);
    assert_int_equal(ex.type, TC_APPEX_INTERNAL_ERROR);

    /* a reply of the wrong type is caught before it reaches the client */
    out.len = 0;
    tc_err_clear(&err);
    assert_int_equal(call_add(t, 2000, 1, &out, &err), TC_APPEX_INTERNAL_ERROR);
    assert_non_null(strstr(err.msg, "is i32, not binary"));

    tc_buf_deinit(&out);
    tc_host_thread_stop(t);
    assert_int_equal(count(3), 1);
    tc_host_thread_free(t);
    tc_host_release(h);
    assert_int_equal(count(1), 0); /* one reference left */
    tc_host_release(h);
    assert_int_equal(count(1), 1); /* exit_worker with the last one */
    dlclose(dl);
}

/*
 * One library configured for two services: a host each, one init_worker,
 * and one exit_worker, with the release of the last of them, not of the
 * first (the library still serves the other service until then).
 */
static void
test_library_of_two_services(void **state)
{
    (void)state;
    void *dl;
    count_fn count = plugin_counter(PLUGIN("good"), &dl);
    int inits = count(0);
    int exits = count(1);
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *calc = tc_host_acquire(PLUGIN("good"), "Calculator", &err);
    assert_non_null(calc);
    tc_host_t *shared = tc_host_acquire(PLUGIN("good"), "SharedService", &err);
    assert_non_null(shared);
    assert_ptr_not_equal(calc, shared);
    assert_int_equal(count(0), inits + 1);
    tc_host_release(calc);
    assert_int_equal(count(1), exits); /* SharedService still has it */
    tc_host_release(shared);
    assert_int_equal(count(1), exits + 1);
    dlclose(dl);
}

/*
 * In a worker, init_worker runs at the first acquire, after the ABI check
 * and before the methods are checked against the IDL; a plugin refused
 * then gets exit_worker with the release, as docs/plugins.md says.
 */
static void
test_init_worker_before_the_signature_check(void **state)
{
    (void)state;
    void *dl;
    count_fn count = plugin_counter(PLUGIN("wrong_sig"), &dl);
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h = tc_host_acquire(PLUGIN("wrong_sig"), "Calculator", &err);
    assert_non_null(h);
    assert_int_equal(count(0), 1);
    assert_null(tc_host_thread_new(h, svc, svc->name, false, &err));
    assert_non_null(strstr(err.msg, "method 'add' was built against another signature"));
    assert_int_equal(count(1), 0);
    tc_host_release(h);
    assert_int_equal(count(1), 1);
    dlclose(dl);
}

/* tc_host_thread_start() or, with 'stop', tc_host_thread_stop() of 't', on a thread of its own. */
typedef struct hook_job {
    tc_host_thread_t *t;
    bool stop;
    int rc;
    pthread_t th;
} hook_job_t;

static void *
run_hook(void *arg)
{
    hook_job_t *job = arg;
    tc_err_t err;
    tc_err_clear(&err);
    if (job->stop) {
        tc_host_thread_stop(job->t);
    } else {
        job->rc = tc_host_thread_start(job->t, &err);
    }
    return NULL;
}

/*
 * The most thread hooks that ran at once when two handler threads run the
 * hook ('stop': exit_thread, else init_thread), the first held inside it
 * for a while by the plugin (tp_hold()).
 */
static int
hooks_at_once(tc_host_thread_t *a, tc_host_thread_t *b, bool stop, int (*count)(int),
              void (*hold)(int))
{
    hook_job_t jobs[2] = {{.t = a, .stop = stop, .rc = 1}, {.t = b, .stop = stop, .rc = 1}};
    hold(1);
    assert_int_equal(pthread_create(&jobs[0].th, NULL, run_hook, &jobs[0]), 0);
    for (int ms = 0; ms < 2000 && count(5) == 0; ms++) {
        usleep(1000);
    }
    assert_int_equal(count(5), 1);
    assert_int_equal(pthread_create(&jobs[1].th, NULL, run_hook, &jobs[1]), 0);
    usleep(200 * 1000); /* the second thread's hook would be running by now */
    int most = count(6);
    hold(0);
    assert_int_equal(pthread_join(jobs[0].th, NULL), 0);
    assert_int_equal(pthread_join(jobs[1].th, NULL), 0);
    if (!stop) {
        assert_int_equal(jobs[0].rc, TC_OK);
        assert_int_equal(jobs[1].rc, TC_OK);
    }
    return most;
}

/*
 * A TC_PLUGIN_SERIAL plugin is not thread-safe: its init_thread and
 * exit_thread run one at a time in a worker, as its calls do, though each
 * runs on its own handler thread.
 */
static void
test_serial_plugin_thread_hooks_one_at_a_time(void **state)
{
    (void)state;
    void *dl;
    count_fn count = plugin_counter(PLUGIN("good"), &dl);
    void (*hold)(int);
    void *sym = dlsym(dl, "tp_hold");
    assert_non_null(sym);
    memcpy(&hold, &sym, sizeof(hold));
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h = tc_host_acquire(PLUGIN("good"), "Calculator", &err);
    assert_non_null(h);
    tc_host_thread_t *a = tc_host_thread_new(h, svc, svc->name, false, &err);
    tc_host_thread_t *b = tc_host_thread_new(h, svc, svc->name, false, &err);
    assert_non_null(a);
    assert_non_null(b);
    int inits = count(2);
    int exits = count(3);
    assert_int_equal(hooks_at_once(a, b, false, count, hold), 1);
    assert_int_equal(count(2), inits + 2);
    assert_int_equal(hooks_at_once(a, b, true, count, hold), 1);
    assert_int_equal(count(3), exits + 2);
    tc_host_thread_free(a);
    tc_host_thread_free(b);
    tc_host_release(h);
    dlclose(dl);
}

/* The "good" test plugin loaded for Calculator (*h), and a handler thread of it, started. */
static tc_host_thread_t *
good_thread(tc_host_t **h)
{
    tc_err_t err;
    tc_err_clear(&err);
    *h = tc_host_acquire(PLUGIN("good"), "Calculator", &err);
    assert_non_null(*h);
    tc_host_thread_t *t = tc_host_thread_new(*h, svc, svc->name, true, &err);
    assert_non_null(t);
    assert_int_equal(tc_host_thread_start(t, &err), TC_OK);
    return t;
}

/*
 * add is no oneway method, but a client may send it as a oneway message:
 * the handler builds its reply as usual (it cannot know), the host checks
 * it and sends nothing. A correct reply is no failure; a misfit still is.
 */
static void
test_two_way_method_called_oneway(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h;
    tc_host_thread_t *t = good_thread(&h);
    tc_buf_t out;
    tc_buf_init(&out);

    assert_int_equal(call_add_as(t, TC_MSG_ONEWAY, 2, 3, &out, &err), 0);
    assert_int_equal(err.code, TC_OK);
    assert_int_equal(out.len, 0);

    assert_int_equal(call_add_as(t, TC_MSG_ONEWAY, 2000, 1, &out, &err), TC_APPEX_INTERNAL_ERROR);
    assert_string_equal(err.msg, "tutorial.Calculator.add (oneway): plugin test built a reply that "
                                 "does not fit: Calculator.add_result: field 'success' is i32, "
                                 "not binary");
    assert_int_equal(out.len, 0);

    tc_err_clear(&err);
    assert_int_equal(call_add_as(t, TC_MSG_ONEWAY, 1000, 1, &out, &err), TC_APPEX_INTERNAL_ERROR);
    assert_string_equal(err.msg, "tutorial.Calculator.add (oneway): add refuses 1000");
    assert_int_equal(out.len, 0);

    tc_err_clear(&err);
    assert_int_equal(call_add(t, 4, 5, &out, &err), 0); /* and the next call is answered */
    assert_int_equal(reply_i32(&out), 1000009);

    tc_buf_deinit(&out);
    tc_host_thread_stop(t);
    tc_host_thread_free(t);
    tc_host_release(h);
}

/* True when s[0..n) is well-formed UTF-8 (RFC 3629). */
static bool
is_utf8(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        size_t len = b < 0x80                 ? 1
                     : b >= 0xc2 && b <= 0xdf ? 2
                     : b >= 0xe0 && b <= 0xef ? 3
                     : b >= 0xf0 && b <= 0xf4 ? 4
                                              : 0;
        if (len == 0 || n - i < len) {
            return false;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
        }
        if ((b == 0xe0 && s[i + 1] < 0xa0) || (b == 0xed && s[i + 1] > 0x9f) ||
            (b == 0xf0 && s[i + 1] < 0x90) || (b == 0xf4 && s[i + 1] > 0x8f)) {
            return false;
        }
        i += len;
    }
    return true;
}

/* The message of the TApplicationException in 'out' (INTERNAL_ERROR), copied into 'text'. */
static size_t
reply_appex_text(const tc_buf_t *out, char *text, size_t cap)
{
    tc_proto_t r;
    tc_proto_init(&r, &tc_proto_binary, out->data, out->len, NULL);
    tc_msg_hdr_t m;
    assert_int_equal(r.ops->read_message_begin(&r, &m), TC_OK);
    assert_int_equal(m.type, TC_MSG_EXCEPTION);
    tc_appex_t ex;
    assert_int_equal(tc_message_read_appex(&r, &ex), TC_OK);
    assert_int_equal(ex.type, TC_APPEX_INTERNAL_ERROR);
    assert_non_null(ex.message);
    assert_true(ex.message_len < cap);
    memcpy(text, ex.message, ex.message_len);
    text[ex.message_len] = '\0';
    return ex.message_len;
}

/*
 * The text of api->fail() reaches the client as a Thrift string, which is
 * UTF-8: cut where it is cut without splitting a character, and with bytes
 * that are not UTF-8 escaped, so that a client can decode it.
 */
static void
test_fail_text_stays_utf8(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h;
    tc_host_thread_t *t = good_thread(&h);
    tc_buf_t out;
    tc_buf_init(&out);
    char text[TC_ERR_MSG_MAX];
    static const char head[] = "tutorial.Calculator.add: ";
    for (int32_t ascii = 0; ascii < 4; ascii++) {
        out.len = 0;
        tc_err_clear(&err);
        assert_int_equal(call_add(t, 5000, ascii, &out, &err), TC_APPEX_INTERNAL_ERROR);
        size_t n = reply_appex_text(&out, text, sizeof(text));
        assert_string_equal(text, err.msg);
        if (!is_utf8(text, n)) {
            fail_msg("not UTF-8 after %d ASCII bytes: '%s'", ascii, text);
        }
        /* fail() keeps up to 255 bytes: every whole character of them */
        size_t kept = n - (sizeof(head) - 1);
        assert_int_equal(strncmp(text, head, sizeof(head) - 1), 0);
        assert_true(kept <= 255 && kept >= 254);
        assert_int_equal((kept - (size_t)ascii) % 2, 0);
    }
    out.len = 0;
    tc_err_clear(&err);
    assert_int_equal(call_add(t, 6000, 0, &out, &err), TC_APPEX_INTERNAL_ERROR);
    reply_appex_text(&out, text, sizeof(text));
    assert_string_equal(text, "tutorial.Calculator.add: bad \\xff\\xfe bytes \\xc3");
    assert_string_equal(err.msg, text);

    tc_buf_deinit(&out);
    tc_host_thread_stop(t);
    tc_host_thread_free(t);
    tc_host_release(h);
}

/*
 * calculate(1, Work) as a message of 'type' through 't', cut in Work's
 * 'num2', or with 'in_logid' in its first argument: its status, its reply
 * in 'out'.
 */
static int
call_cut(tc_host_thread_t *t, int idx, uint8_t type, bool in_logid, tc_buf_t *out, tc_err_t *err)
{
    tc_buf_t req;
    tc_buf_init(&req);
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, &req);
    w.ops->write_message_begin(&w, "calculate", 9, type, 7);
    w.ops->write_struct_begin(&w);
    w.ops->write_field_begin(&w, TC_TTYPE_I32, 1);
    if (in_logid) {
        w.ops->write_byte(&w, 0); /* one byte of logid's four */
    } else {
        w.ops->write_i32(&w, 1);
        w.ops->write_field_begin(&w, TC_TTYPE_STRUCT, 2);
        w.ops->write_struct_begin(&w);
        w.ops->write_field_begin(&w, TC_TTYPE_I32, 2);
        w.ops->write_byte(&w, 0); /* one byte of num2's four */
    }
    tc_proto_t in;
    tc_proto_t op;
    tc_proto_init(&in, &tc_proto_binary, req.data, req.len, NULL);
    out->len = 0;
    tc_proto_init(&op, &tc_proto_binary, NULL, 0, out);
    tc_msg_hdr_t m;
    assert_int_equal(in.ops->read_message_begin(&in, &m), TC_OK);
    tc_err_clear(err);
    int rc = tc_host_call(t, idx, &m, type == TC_MSG_ONEWAY, &in, &op, err);
    tc_buf_deinit(&req);
    return rc;
}

/*
 * Arguments that do not decode never reach the handler: calculate(1, Work)
 * cut in Work's 'num2' gets a PROTOCOL_ERROR whose text, as the log's,
 * names the method before the innermost struct and field (Work is no
 * argument of calculate alone in a larger IDL); cut in its argument
 * 'logid', the argument by name and field id; sent as a oneway message,
 * no reply and the log's text says so. A thread made for a multiplexed_name
 * names the service by it, as the calls do.
 */
static void
test_arguments_name_the_method(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h;
    tc_host_thread_t *plain = good_thread(&h);
    tc_host_thread_t *v2 = tc_host_thread_new(h, svc, "CalcV2", true, &err);
    assert_non_null(v2);
    assert_int_equal(tc_host_thread_start(v2, &err), TC_OK);
    int idx = tc_schema_service_index(svc, "calculate", 9);
    assert_true(tc_host_thread_serves(plain, idx));
    static const struct {
        bool v2;
        bool in_logid;
        bool oneway;
        const char *want;
    } cases[] = {
        {false, false, false,
         "tutorial.Calculator.calculate: arguments: tutorial.Work.num2: message truncated"},
        {false, false, true,
         "tutorial.Calculator.calculate (oneway): arguments: tutorial.Work.num2: message "
         "truncated"},
        {false, true, false,
         "tutorial.Calculator.calculate: arguments: logid (field 1): message truncated"},
        {true, false, false, "CalcV2.calculate: arguments: tutorial.Work.num2: message truncated"},
        {true, true, true,
         "CalcV2.calculate (oneway): arguments: logid (field 1): message truncated"},
    };
    tc_buf_t out;
    tc_buf_init(&out);
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        tc_host_thread_t *t = cases[i].v2 ? v2 : plain;
        uint8_t type = cases[i].oneway ? TC_MSG_ONEWAY : TC_MSG_CALL;
        assert_int_equal(call_cut(t, idx, type, cases[i].in_logid, &out, &err),
                         TC_APPEX_PROTOCOL_ERROR);
        assert_int_equal(err.code, TC_EPROTO);
        assert_string_equal(err.msg, cases[i].want);
        if (cases[i].oneway) {
            assert_int_equal(out.len, 0);
            continue;
        }
        tc_proto_t r;
        tc_msg_hdr_t m;
        tc_proto_init(&r, &tc_proto_binary, out.data, out.len, NULL);
        assert_int_equal(r.ops->read_message_begin(&r, &m), TC_OK);
        assert_int_equal(m.type, TC_MSG_EXCEPTION);
        assert_int_equal(m.seqid, 7);
        tc_appex_t ex;
        assert_int_equal(tc_message_read_appex(&r, &ex), TC_OK);
        assert_int_equal(ex.type, TC_APPEX_PROTOCOL_ERROR);
        assert_int_equal(ex.message_len, strlen(cases[i].want));
        assert_memory_equal(ex.message, cases[i].want, ex.message_len);
    }
    /* and the next call is answered */
    out.len = 0;
    tc_err_clear(&err);
    assert_int_equal(call_add(plain, 4, 5, &out, &err), 0);
    assert_int_equal(reply_i32(&out), 1000009);

    tc_buf_deinit(&out);
    tc_host_thread_stop(v2);
    tc_host_thread_free(v2);
    tc_host_thread_stop(plain);
    tc_host_thread_free(plain);
    tc_host_release(h);
}

/* ---- a tc_call_t kept past its handler ---- */

/* api->fail() without the printf attribute, and out of reach of cmocka's fail() macro. */
typedef int (*raw_fail_fn)(tc_call_t *call, const char *fmt, ...);

/* The host functions that take a tc_call_t, in the order refuse_all() calls them. */
static const char *const call_functions[] = {
    "call_alloc", "call_method", "thread_data", "fail",           "put_bool",
    "put_byte",   "put_i16",     "put_i32",     "put_i64",        "put_double",
    "put_binary", "put_string",  "put_uuid",    "begin_struct",   "begin_list",
    "begin_map",  "end",         "raise",       "request_header", "set_response_header",
};

/* Call each of them with 'call', which is not running here: each refuses it. */
static void
refuse_all(tc_call_t *call)
{
    const tc_host_api_t *api = &tc_host_api;
    static const uint8_t uuid[16];
    const char *k = NULL;
    const char *v = NULL;
    size_t kl = 0;
    size_t vl = 0;
    assert_null(api->call_alloc(call, 8));
    assert_string_equal(api->call_method(call), "");
    assert_null(api->thread_data(call));
    raw_fail_fn plugin_fail = api->fail;
    assert_int_equal(plugin_fail(call, "late"), TC_PLUGIN_EFAIL);
    assert_int_equal(api->put_bool(call, TC_RESULT, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_byte(call, TC_RESULT, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_i16(call, TC_RESULT, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_i32(call, TC_RESULT, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_i64(call, TC_RESULT, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_double(call, TC_RESULT, 1.0), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_binary(call, TC_RESULT, "ab", 2), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_string(call, TC_RESULT, "ab"), TC_PLUGIN_EINVAL);
    assert_int_equal(api->put_uuid(call, TC_RESULT, uuid), TC_PLUGIN_EINVAL);
    assert_int_equal(api->begin_struct(call, TC_RESULT), TC_PLUGIN_EINVAL);
    assert_int_equal(api->begin_list(call, TC_RESULT, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->begin_map(call, TC_RESULT, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->end(call), TC_PLUGIN_EINVAL);
    assert_int_equal(api->raise(call, 1), TC_PLUGIN_EINVAL);
    assert_int_equal(api->request_header(call, 0, &k, &kl, &v, &vl), TC_PLUGIN_EINVAL);
    assert_null(k);
    assert_int_equal(api->set_response_header(call, "k", 1, "v", 1), TC_PLUGIN_EINVAL);
}

typedef struct late_put {
    int rc;
    tc_call_t *kept;
} late_put_t;

static void *
put_late(void *arg)
{
    late_put_t *job = arg;
    job->rc = tc_host_api.put_i32(job->kept, TC_RESULT, 7);
    return NULL;
}

/* put_i32(kept, ...) on a new thread, after the handler returned: its return code. */
static int
put_late_from_thread(tc_call_t *kept)
{
    late_put_t job = {1, kept};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, put_late, &job), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    return job.rc;
}

/* The log lines written since tc_log_open(path), as one string (free it). */
static char *
read_log(const char *path)
{
    assert_int_equal(tc_log_open("-"), TC_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static const size_t cap = 64 * 1024;
    char *text = calloc(1, cap);
    assert_non_null(text);
    size_t n = fread(text, 1, cap - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

/* How many times 'needle' occurs in 'hay'. */
static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* 'log' has exactly one line saying that function 'fn' refused the call of add() for 'why'. */
static void
logged_once(const char *log, const char *fn, const char *why)
{
    char want[256];
    snprintf(want, sizeof(want),
             "[error] plugin test: %s() refused the tc_call_t of tutorial.Calculator.add: %s\n", fn,
             why);
    if (count(log, want) != 1) {
        fail_msg("not once in the log: '%s'; the log:\n%s", want, log);
    }
}

/*
 * The good plugin opened for the tests of a tc_call_t kept past its
 * handler: the log in a file of its own, the host, the library's own
 * instance for its tp_kept() and tp_kept_rc(), and a started thread whose
 * service is named 'mux_name' (NULL: its IDL name).
 */
typedef struct kept {
    char path[64];
    tc_host_t *h;
    void *dl;
    tc_call_t *(*kept_fn)(void);
    int (*kept_rc)(int);
    tc_host_thread_t *t;
} kept_t;

static void
kept_open(kept_t *k, const char *called)
{
    int fd = tc_test_temp_file(k->path, sizeof(k->path), "host");
    close(fd);
    assert_int_equal(tc_log_open(k->path), TC_OK);

    tc_err_t err;
    tc_err_clear(&err);
    k->h = tc_host_open(PLUGIN("good"), "Calculator", &err);
    assert_non_null(k->h);
    k->dl = dlopen(PLUGIN("good"), RTLD_NOW | RTLD_LOCAL); /* the same instance */
    assert_non_null(k->dl);
    void *sym = dlsym(k->dl, "tp_kept");
    memcpy(&k->kept_fn, &sym, sizeof(k->kept_fn));
    sym = dlsym(k->dl, "tp_kept_rc");
    memcpy(&k->kept_rc, &sym, sizeof(k->kept_rc));
    assert_non_null(k->kept_fn);
    assert_non_null(k->kept_rc);
    k->t = tc_host_thread_new(k->h, svc, called, true, &err);
    assert_non_null(k->t);
    assert_int_equal(tc_host_thread_start(k->t, &err), TC_OK);
}

static void
test_call_kept_past_its_handler(void **state)
{
    (void)state;
    kept_t k;
    kept_open(&k, svc->name);
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_thread_t *t = k.t;
    tc_call_t *(*kept_fn)(void) = k.kept_fn;
    int (*kept_rc)(int) = k.kept_rc;

    /* add(3000, 1) keeps its call; its thread's put_i32() through it was refused */
    tc_buf_t out;
    tc_buf_init(&out);
    assert_int_equal(call_add(t, 3000, 1, &out, &err), 0);
    assert_int_equal(reply_i32(&out), 1003001);
    assert_int_equal(kept_rc(0), TC_PLUGIN_EINVAL);
    tc_call_t *kept = kept_fn();
    assert_non_null(kept);

    /* after the handler returned: every function refuses it and writes nothing */
    size_t len = out.len;
    refuse_all(kept);
    assert_int_equal(put_late_from_thread(kept), TC_PLUGIN_EINVAL);
    assert_int_equal(out.len, len);

    /* the next call on the same thread: the kept call is refused, the reply is this call's */
    out.len = 0;
    assert_int_equal(call_add(t, 4000, 2, &out, &err), 0);
    assert_int_equal(reply_i32(&out), 1004002);
    assert_int_equal(kept_rc(1), TC_PLUGIN_EINVAL);

    /* once its thread is gone, nothing is read through it */
    tc_host_thread_stop(t);
    tc_host_thread_free(t);
    assert_int_equal(tc_host_api.put_i32(kept, TC_RESULT, 1), TC_PLUGIN_EINVAL);
    tc_buf_deinit(&out);
    tc_host_close(k.h);
    dlclose(k.dl);

    /* one error line for each use, naming the plugin, the call, and what was wrong */
    char *log = read_log(k.path);
    unlink(k.path);
    logged_once(log, "put_i32", "used from another thread while its handler runs");
    for (size_t i = 0; i < TC_ARRAY_LEN(call_functions); i++) {
        logged_once(log, call_functions[i], "used after its handler returned");
    }
    logged_once(log, "put_i32", "used after its handler returned, from another thread");
    logged_once(log, "put_i32",
                "used after its handler returned (during a call of tutorial.Calculator.add)");
    assert_int_equal(count(log, "[error] plugin ?: put_i32() refused a tc_call_t that is no "
                                "call of a handler thread alive"),
                     1);
    assert_int_equal(count(log, "[error] plugin "), 24);
    free(log);
}

/*
 * A thread made for a multiplexed_name names the service by it in every
 * error of its calls, as the calls name it: fail()'s text and a reply the
 * plugin built wrongly (the client's text with expose_errors, and err for
 * the log), called as a oneway message too, and the log lines of a
 * tc_call_t used past its handler or from another thread.
 */
static void
test_call_errors_name_the_service_as_called(void **state)
{
    (void)state;
    kept_t k;
    kept_open(&k, "CalcV2");
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_thread_t *t = k.t;
    tc_call_t *(*kept_fn)(void) = k.kept_fn;
    int (*kept_rc)(int) = k.kept_rc;

    static const struct {
        uint8_t type;
        int32_t a;
        const char *want;
    } cases[] = {
        {TC_MSG_CALL, 1000, "CalcV2.add: add refuses 1000"},
        {TC_MSG_CALL, 2000,
         "CalcV2.add: plugin test built a reply that does not fit: Calculator.add_result: field "
         "'success' is i32, not binary"},
        {TC_MSG_ONEWAY, 1000, "CalcV2.add (oneway): add refuses 1000"},
    };
    tc_buf_t out;
    tc_buf_init(&out);
    char text[512];
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        out.len = 0;
        tc_err_clear(&err);
        assert_int_equal(call_add_as(t, cases[i].type, cases[i].a, 1, &out, &err),
                         TC_APPEX_INTERNAL_ERROR);
        assert_string_equal(err.msg, cases[i].want);
        if (cases[i].type == TC_MSG_ONEWAY) {
            assert_int_equal(out.len, 0);
        } else {
            reply_appex_text(&out, text, sizeof(text));
            assert_string_equal(text, cases[i].want);
        }
    }

    /* add(3000, 1) keeps its call, used from another thread; add(4000, 2) uses it again */
    out.len = 0;
    assert_int_equal(call_add(t, 3000, 1, &out, &err), 0);
    assert_int_equal(kept_rc(0), TC_PLUGIN_EINVAL);
    assert_non_null(kept_fn());
    out.len = 0;
    assert_int_equal(call_add(t, 4000, 2, &out, &err), 0);
    assert_int_equal(kept_rc(1), TC_PLUGIN_EINVAL);

    tc_buf_deinit(&out);
    tc_host_thread_stop(t);
    tc_host_thread_free(t);
    tc_host_close(k.h);
    dlclose(k.dl);

    char *log = read_log(k.path);
    unlink(k.path);
    static const char *const lines[] = {
        "[error] plugin test: put_i32() refused the tc_call_t of CalcV2.add: used from another "
        "thread while its handler runs\n",
        "[error] plugin test: put_i32() refused the tc_call_t of CalcV2.add: used after its "
        "handler returned (during a call of CalcV2.add)\n",
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(lines); i++) {
        if (count(log, lines[i]) != 1) {
            fail_msg("not once in the log: '%s'; the log:\n%s", lines[i], log);
        }
    }
    assert_int_equal(count(log, "Calculator.add"), 0);
    free(log);
}

static time_t
mono_sec(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec;
}

/* The first second of the monotonic clock after now. */
static time_t
next_second(void)
{
    time_t s = mono_sec();
    while (mono_sec() == s) {
        usleep(1000);
    }
    return mono_sec();
}

static void
test_refusals_logged_at_most_50_a_second(void **state)
{
    (void)state;
    char path[64];
    int fd = tc_test_temp_file(path, sizeof(path), "host");
    close(fd);
    assert_int_equal(tc_log_open(path), TC_OK);

    /* a plugin using a bad tc_call_t in a loop: 1000 refusals in one second */
    int x;
    tc_call_t *bogus = (tc_call_t *)(void *)&x;
    time_t sec = next_second();
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(tc_host_api.put_i32(bogus, TC_RESULT, i), TC_PLUGIN_EINVAL);
    }
    assert_true(mono_sec() == sec); /* else the test cannot tell the lines of each second */
    /* the next second's first refusal says how many were not logged */
    next_second();
    assert_int_equal(tc_host_api.put_i32(bogus, TC_RESULT, 0), TC_PLUGIN_EINVAL);

    char *log = read_log(path);
    unlink(path);
    assert_int_equal(count(log, "[error] plugin ?: put_i32() refused a tc_call_t that is no "
                                "call of a handler thread alive"),
                     51);
    assert_int_equal(count(log, "[error] plugin: 950 more refused uses of a tc_call_t were not "
                                "logged (at most 50 lines a second)\n"),
                     1);
    assert_int_equal(count(log, "[error] plugin"), 52);
    free(log);
}

/*
 * call_alloc() of a size over half the address space (a negative size
 * computed by the plugin) aborts the worker, as the ABI says; the log
 * names the plugin and the call first, which the allocator's own line
 * cannot. In a child process, which the abort ends.
 */
static void
test_call_alloc_too_large_names_the_call(void **state)
{
    (void)state;
    char path[64];
    int fd = tc_test_temp_file(path, sizeof(path), "host");
    close(fd);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)signal(SIGABRT, SIG_DFL);
        tc_err_t err;
        tc_err_clear(&err);
        tc_host_t *h = tc_host_acquire(PLUGIN("good"), "Calculator", &err);
        tc_host_thread_t *t = h != NULL ? tc_host_thread_new(h, svc, svc->name, false, &err) : NULL;
        if (t == NULL || tc_host_thread_start(t, &err) != TC_OK || tc_log_open(path) != TC_OK) {
            _exit(2);
        }
        tc_buf_t out;
        tc_buf_init(&out);
        (void)call_add(t, 7000, 0, &out, &err); /* call_alloc(call, 2^64 - 8) */
        _exit(3);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char *log = read_log(path);
    unlink(path);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
        fail_msg("status %d; the log:\n%s", status, log);
    }
    assert_int_equal(count(log, "[critical] plugin test: call_alloc(18446744073709551608) in a "
                                "call of tutorial.Calculator.add: over half the address space; "
                                "the worker aborts\n"),
                     1);
    free(log);
}

/*
 * What tc_host_set_hook_cb() was told, in order: "W" init_worker, "T"
 * init_thread, "t" exit_thread, "w" exit_worker, "-" none.
 */
static char hooks_seen[16];

static void
note_hook(const char *hook, void *arg)
{
    assert_ptr_equal(arg, hooks_seen);
    size_t n = strlen(hooks_seen);
    if (n + 1 < sizeof(hooks_seen)) {
        hooks_seen[n] = hook == NULL                       ? '-'
                        : strcmp(hook, "init_worker") == 0 ? 'W'
                        : strcmp(hook, "init_thread") == 0 ? 'T'
                        : strcmp(hook, "exit_thread") == 0 ? 't'
                        : strcmp(hook, "exit_worker") == 0 ? 'w'
                                                           : '?';
    }
}

/*
 * The boot and exit hooks are reported as they begin and end (a worker
 * names them on its heartbeat page, for a boot or a stop that hangs).
 */
static void
test_boot_hooks_are_reported(void **state)
{
    (void)state;
    hooks_seen[0] = '\0';
    tc_host_set_hook_cb(note_hook, hooks_seen);
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h = tc_host_acquire(PLUGIN("good"), "Calculator", &err);
    assert_non_null(h);
    assert_string_equal(hooks_seen, "W-");
    tc_host_thread_t *t = tc_host_thread_new(h, svc, svc->name, false, &err);
    assert_non_null(t);
    assert_int_equal(tc_host_thread_start(t, &err), TC_OK);
    assert_string_equal(hooks_seen, "W-T-");
    tc_host_thread_stop(t);
    assert_string_equal(hooks_seen, "W-T-t-");
    tc_host_thread_free(t);
    tc_host_release(h);
    tc_host_set_hook_cb(NULL, NULL);
    assert_string_equal(hooks_seen, "W-T-t-w-");
}

static void
test_init_arbiter(void **state)
{
    (void)state;
    tc_err_t err;
    tc_err_clear(&err);
    tc_host_t *h = tc_host_open(PLUGIN("good"), "tutorial.Calculator", &err);
    assert_non_null(h);
    assert_int_equal(tc_host_init_arbiter(h, &err), TC_OK);
    tc_host_close(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_hooks_and_calls),
        cmocka_unit_test(test_library_of_two_services),
        cmocka_unit_test(test_serial_plugin_thread_hooks_one_at_a_time),
        cmocka_unit_test(test_init_worker_before_the_signature_check),
        cmocka_unit_test(test_two_way_method_called_oneway),
        cmocka_unit_test(test_fail_text_stays_utf8),
        cmocka_unit_test(test_arguments_name_the_method),
        cmocka_unit_test(test_call_kept_past_its_handler),
        cmocka_unit_test(test_call_errors_name_the_service_as_called),
        cmocka_unit_test(test_refusals_logged_at_most_50_a_second),
        cmocka_unit_test(test_call_alloc_too_large_names_the_call),
        cmocka_unit_test(test_boot_hooks_are_reported),
        cmocka_unit_test(test_init_arbiter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
