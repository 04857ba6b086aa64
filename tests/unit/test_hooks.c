/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for config/hooks.c: tc_hooks_run() calls a hook with its
 * arguments and logs one that raised, with its reason, at the level its
 * caller gives, whatever the hook's name.
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

/* How many times 'needle' occurs in 'hay'. */
static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

/*
 * A hook that raised is false and logged as "Hook NAME failed: why" (the
 * config's place, the message, then its traceback) at the level given, for
 * any hook alike: on_starting at error, pre_fork at critical. The arguments
 * reach the hook: worker.index 3 makes pre_fork raise, 7 not. A hook that
 * returned, or is not set, is true and logs nothing, and so is any hook of
 * no hooks at all.
 */
static void
test_run_logs_a_failure_at_the_level_given(void **state)
{
    fixture_t *f = *state;
    const tc_hook_field_t server[] = {{"pid", NULL, 1}};
    tc_hook_field_t worker[] = {{"index", NULL, 3}};
    const tc_hook_arg_t args[] = {{server, 1, 0}, {worker, 1, 0}};
    assert_false(tc_hooks_run(f->hooks, TC_LOG_ERROR, "on_starting", NULL, 0));
    assert_false(tc_hooks_run(f->hooks, TC_LOG_CRITICAL, "pre_fork", args, 2));
    worker[0].num = 7;
    assert_true(tc_hooks_run(f->hooks, TC_LOG_CRITICAL, "pre_fork", args, 2));
    assert_true(tc_hooks_run(f->hooks, TC_LOG_ERROR, "when_ready", args, 1));
    assert_true(tc_hooks_run(f->hooks, TC_LOG_CRITICAL, "on_exit", NULL, 0));
    assert_true(tc_hooks_run(NULL, TC_LOG_CRITICAL, "on_starting", NULL, 0));

    char log[4096];
    read_log(f, log, sizeof(log));
    char want[200];
    snprintf(want, sizeof(want), "] [error] Hook on_starting failed: %s:1: no spool folder\n",
             f->path);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof(want), "] [critical] Hook pre_fork failed: %s:3: worker 3\n", f->path);
    assert_non_null(strstr(log, want));
    /* those two lines (each with its traceback), and no other */
    assert_int_equal(count(log, "] [error] "), 1);
    assert_int_equal(count(log, "] [critical] "), 1);
    assert_int_equal(count(log, "Hook "), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_logs_a_failure_at_the_level_given, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
