/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for config/hooks.c: tc_hooks_call() reports a hook that raised
 * (with its reason) and logs nothing, so that its caller logs it at the
 * level the failure deserves; tc_hooks_run() logs every hook's failure the
 * same way, whatever its name.
 */
#include "tc_test.h"

#include "config/hooks.h"
#include "core/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifndef TC_FIXTURES_DIR
#error "TC_FIXTURES_DIR must name tests/fixtures"
#endif

/* The config text of the hooks below: what it sets is all tc_hooks_new() keeps. */
static const char config_text[] =
    "on_starting = function() error('no spool folder') end\n"
    "pre_fork = function(server, worker)\n"
    "  if worker.index ~= 7 then error('worker ' .. worker.index) end\n"
    "end\n"
    "when_ready = function(server) end\n"
    "service = { idl = '" TC_FIXTURES_DIR "/idl/alltypes.thrift', "
    "name = 'AllTypes', handler = '" TC_FIXTURES_DIR "/dispatch/handler.lua' }\n";

typedef struct fixture {
    tc_hooks_t *hooks;
    char path[96]; /* the config's name, and the log's with ".log" */
    char log[112];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    int fd = tc_test_temp_file(f->path, sizeof(f->path), "hooks");
    close(fd);
    snprintf(f->log, sizeof(f->log), "%s.log", f->path);
    tc_err_t err;
    tc_err_clear(&err);
    f->hooks = tc_hooks_new(f->path, config_text, sizeof(config_text) - 1, &err);
    if (f->hooks == NULL) {
        fail_msg("tc_hooks_new: %s", err.msg);
    }
    assert_int_equal(tc_log_open(f->log), TC_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(tc_log_open(NULL), TC_OK);
    tc_hooks_free(f->hooks);
    unlink(f->log);
    unlink(f->path);
    free(f);
    return 0;
}

/* The log so far, NUL-terminated, in 'buf' of 'cap' bytes. */
static void
read_log(const fixture_t *f, char *buf, size_t cap)
{
    FILE *fp = fopen(f->log, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap - 1, fp);
    fclose(fp);
    buf[n] = '\0';
}

/*
 * A hook that raised is reported, its reason (the config's place and the
 * message) in 'err', and the log is left to the caller: it stays empty.
 * A hook that returned, or is not set, is TC_OK, and so is any hook of no
 * hooks at all.
 */
static void
test_call_reports_and_logs_nothing(void **state)
{
    fixture_t *f = *state;
    tc_err_t err;
    char want[160];
    tc_err_clear(&err);
    int rc = tc_hooks_call(f->hooks, "on_starting", NULL, 0, &err);
    assert_true(rc < 0);
    assert_int_equal(err.code, rc);
    /* the message, then its traceback */
    snprintf(want, sizeof(want), "%s:1: no spool folder\n", f->path);
    assert_memory_equal(err.msg, want, strlen(want));

    /* the arguments reach the hook: worker.index 3 makes it raise, 7 not */
    const tc_hook_field_t server[] = {{"pid", NULL, 1}};
    tc_hook_field_t worker[] = {{"index", NULL, 3}};
    const tc_hook_arg_t args[] = {{server, 1, 0}, {worker, 1, 0}};
    tc_err_clear(&err);
    assert_true(tc_hooks_call(f->hooks, "pre_fork", args, 2, &err) < 0);
    snprintf(want, sizeof(want), "%s:3: worker 3\n", f->path);
    assert_memory_equal(err.msg, want, strlen(want));
    worker[0].num = 7;
    tc_err_clear(&err);
    assert_int_equal(tc_hooks_call(f->hooks, "pre_fork", args, 2, &err), TC_OK);
    assert_int_equal(err.code, TC_OK);

    tc_err_clear(&err);
    assert_int_equal(tc_hooks_call(f->hooks, "when_ready", args, 1, &err), TC_OK);
    assert_int_equal(tc_hooks_call(f->hooks, "on_exit", NULL, 0, &err), TC_OK);
    assert_int_equal(tc_hooks_call(NULL, "on_starting", NULL, 0, &err), TC_OK);
    assert_int_equal(err.code, TC_OK);
    assert_string_equal(err.msg, "");

    char log[1024];
    read_log(f, log, sizeof(log));
    assert_string_equal(log, "");
}

/*
 * tc_hooks_run() logs a failure as "Hook NAME failed: why" at error, for
 * every hook alike: the level of one that stops the start is its caller's
 * to choose (the arbiter logs on_starting's at critical itself).
 */
static void
test_run_logs_every_hook_alike(void **state)
{
    fixture_t *f = *state;
    const tc_hook_field_t worker[] = {{"index", NULL, 3}};
    const tc_hook_arg_t args[] = {{worker, 1, 0}, {worker, 1, 0}};
    assert_false(tc_hooks_run(f->hooks, "on_starting", NULL, 0));
    assert_false(tc_hooks_run(f->hooks, "pre_fork", args, 2));
    assert_true(tc_hooks_run(f->hooks, "when_ready", args, 1));
    assert_true(tc_hooks_run(f->hooks, "on_exit", NULL, 0));
    assert_true(tc_hooks_run(NULL, "on_starting", NULL, 0));

    char log[4096];
    read_log(f, log, sizeof(log));
    char want[200];
    snprintf(want, sizeof(want), "] [error] Hook on_starting failed: %s:1: no spool folder\n",
             f->path);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof(want), "] [error] Hook pre_fork failed: %s:3: worker 3\n", f->path);
    assert_non_null(strstr(log, want));
    /* those two lines (each with its traceback), and no other */
    size_t lines = 0;
    for (const char *p = log; (p = strstr(p, "] [error] Hook ")) != NULL; p++) {
        lines++;
    }
    assert_int_equal(lines, 2);
    assert_null(strstr(log, "[critical]"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_reports_and_logs_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_logs_every_hook_alike, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
