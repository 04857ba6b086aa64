/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugin/host.c: loading and refusing plugins (ABI, entry point, unknown
 * method, signature), lifecycle hooks, and the call path with the test
 * plugins of tests/plugins.
 */
#include "tc_test.h"

#include "bridge/lua_schema.h"
#include "bridge/lua_state.h"
#include "core/buf.h"
#include "plugin/host.h"
#include "protocol/message.h"

#include <dlfcn.h>
#include <lauxlib.h>
#include <stdio.h>

#define PLUGIN(name) TC_TEST_PLUGIN_DIR "/libtp_" name ".so"
#define CALC_IDL     TC_SOURCE_DIR "/examples/calculator/tutorial.thrift"

static lua_State *L;
static const tc_service_t *svc;

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
        t = tc_host_thread_new(h, svc, false, &err);
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
    refused(PLUGIN("no_entry"), "no entry point 'tc_plugin_entry'", NULL);
    refused(PLUGIN("unknown"), "method 'nosuch' is not a method of service", NULL);
    refused(PLUGIN("wrong_sig"), "the plugin has 'i64 add(1:i64,2:i64)' (0x0123456789abcdef)",
            "the IDL has 'i32 add(1:i32,2:i32)'");
    refused(TC_TEST_PLUGIN_DIR "/libnone.so", "cannot load it", NULL);
    tc_err_t err;
    tc_err_clear(&err);
    assert_null(tc_host_open(PLUGIN("good"), "NoSuchService", &err));
    assert_non_null(strstr(err.msg, "serves no methods of service NoSuchService"));
}

/* Run add(a, b) through the plugin over binary; returns the status, 'out' holds the reply. */
static int
call_add(tc_host_thread_t *t, int32_t a, int32_t b, tc_buf_t *out, tc_err_t *err)
{
    tc_buf_t req;
    tc_buf_init(&req);
    tc_proto_t w;
    tc_proto_init(&w, &tc_proto_binary, NULL, 0, &req);
    w.ops->write_message_begin(&w, "add", 3, TC_MSG_CALL, 7);
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
    int status = tc_host_call(t, idx, &m, false, &in, &op, err);
    tc_buf_deinit(&req);
    return status;
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
    /* the same library instance, to read the plugin's counters */
    void *dl = dlopen(PLUGIN("good"), RTLD_NOW | RTLD_LOCAL);
    assert_non_null(dl);
    int (*count)(int);
    void *sym = dlsym(dl, "tp_count");
    memcpy(&count, &sym, sizeof(count));
    assert_non_null(count);
    assert_int_equal(count(0), 1); /* init_worker once per process */

    const char *const *names = tc_host_method_names(h);
    assert_string_equal(names[0], "add");
    assert_string_equal(names[1], "calculate");
    assert_null(names[2]);

    tc_host_thread_t *t = tc_host_thread_new(h, svc, true, &err);
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
        cmocka_unit_test(test_init_arbiter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
