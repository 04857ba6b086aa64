/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for arbiter/reload.c: what the arbiter reads of a reload's
 * check, which runs the checked handler code and may write anything its
 * process reaches, is what the check's trusted part wrote.
 */
#include "tc_test.h"

#include "arbiter/reload.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[64];

static void
write_in_dir(const char *name, const char *text)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
    (void)state;
    tc_test_temp_dir(dir, sizeof(dir), "reload");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tc_test_remove_in(dir, "c.lua");
    tc_test_remove_in(dir, "s.thrift");
    tc_test_remove_in(dir, "h.lua");
    tc_test_remove_in(dir, "found");
    tc_test_remove_in(dir, "pipes");
    assert_int_equal(rmdir(dir), 0);
    return 0;
}

/*
 * Handler code that, as it loads, writes 1e6 over every aligned double 2.0
 * (the checked config's 'timeout') in each shared mapping of its process,
 * through /proc/self/mem as any handler of a process that did not switch
 * users can (a C plugin writes there directly), and says in the file
 * 'found' how many it changed.
 */
static const char scribbler[] = "local dir = debug.getinfo(1, 'S').source:match('^@(.*)/')\n"
                                "local two, big = string.pack('<d', 2.0), string.pack('<d', 1e6)\n"
                                "local mem = assert(io.open('/proc/self/mem', 'r+b'))\n"
                                "mem:setvbuf('no')\n"
                                "local n = 0\n"
                                "for line in io.lines('/proc/self/maps') do\n"
                                "  local lo, hi, perm = line:match('^(%x+)-(%x+) (%S+)')\n"
                                "  if perm == 'rw-s' then\n"
                                "    local a, b = tonumber(lo, 16), tonumber(hi, 16)\n"
                                "    assert(mem:seek('set', a))\n"
                                "    local data = assert(mem:read(b - a))\n"
                                "    for i = 1, #data - 7, 8 do\n"
                                "      if data:sub(i, i + 7) == two then\n"
                                "        assert(mem:seek('set', a + i - 1))\n"
                                "        assert(mem:write(big))\n"
                                "        n = n + 1\n"
                                "      end\n"
                                "    end\n"
                                "  end\n"
                                "end\n"
                                "mem:close()\n"
                                "local f = assert(io.open(dir .. '/found', 'w'))\n"
                                "f:write(n)\n"
                                "f:close()\n"
                                "return { ping = function() end }\n";

/* How many doubles the scribbler changed; -1 when it did not run. */
static long
found(void)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/found", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    long n = -1;
    if (fscanf(f, "%ld", &n) != 1) {
        n = -1;
    }
    (void)fclose(f);
    return n;
}

/*
 * A check started on a config of 'timeout' seconds serving service S with
 * the handler 'handler' (Lua text), in the test's folder.
 */
static tc_reload_t
start_check(const char *handler, int timeout)
{
    write_in_dir("s.thrift", "service S { void ping() }\n");
    write_in_dir("h.lua", handler);
    char config[128];
    (void)snprintf(config, sizeof(config),
                   "timeout = %d\n"
                   "service = { idl = 's.thrift', name = 'S', handler = 'h.lua' }\n",
                   timeout);
    write_in_dir("c.lua", config);
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/c.lua", dir);
    tc_reload_t r = {.pid = 0, .fd = -1, .wake = -1};
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_reload_start(&r, path, NULL, 0, 022, NULL, 0, &err), TC_OK);
    return r;
}

/* Wait until the check 'pid' has ended, without reaping it. */
static void
wait_ended(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
}

/*
 * End the check as the arbiter does (its group killed, then reaped), which
 * must have passed, and release it.
 */
static void
end_check(tc_reload_t *r)
{
    tc_reload_kill(r);
    int status = 0;
    assert_int_equal(waitpid(r->pid, &status, 0), r->pid);
    tc_err_t err;
    tc_err_clear(&err);
    if (tc_reload_done(r, status, &err) != TC_OK) {
        fail_msg("the check failed: %s", err.msg);
    }
    tc_reload_release(r);
}

/*
 * The checked config's 'timeout' bounds the check: the arbiter reads it
 * from the check while the check runs. Handler code loaded by the check
 * could rewrite it there (up to a year), and the reloads of the server
 * waited as long for a check that hangs; it is out of the check's reach
 * once the config is evaluated, before any handler code loads.
 */
static void
test_checked_code_cannot_change_the_timeout(void **state)
{
    (void)state;
    tc_reload_t r = start_check(scribbler, 2);
    /* ended, and not reaped yet: its group is killed first, as the arbiter does */
    wait_ended(r.pid);
    /* the handler code ran, and had a go at every shared page it reaches */
    assert_true(found() >= 0);
    double timeout = -1;
    assert_true(tc_reload_timeout(&r, &timeout));
    assert_true(timeout == 2.0);
    end_check(&r);
}

/*
 * Handler code that lists, in the file 'pipes', the inode of each pipe its
 * process holds ("pipe:[INODE]" as /proc shows a descriptor's target).
 */
static const char pipe_lister[] =
    "local dir = debug.getinfo(1, 'S').source:match('^@(.*)/')\n"
    "assert(os.execute('for f in /proc/$PPID/fd/*; do readlink \"$f\"; done > '\n"
    "                  .. dir .. '/pipes'))\n"
    "return { ping = function() end }\n";

/* Whether the file 'pipes' names the pipe of inode 'ino'. */
static bool
listed(ino_t ino)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/pipes", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char want[64];
    (void)snprintf(want, sizeof(want), "pipe:[%lu]\n", (unsigned long)ino);
    char line[256];
    bool found_it = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        found_it = found_it || strcmp(line, want) == 0;
    }
    (void)fclose(f);
    return found_it;
}

/*
 * The check says on r->wake, once, that the checked config's 'timeout' is
 * known: the arbiter's loop waits on that pipe rather than look at the
 * page every 50 ms. Reading the timeout then ends the watch (the pipe is
 * closed), and the handler code, which loads after, holds no end of it:
 * it cannot wake the arbiter, nor say anything it would wait on.
 */
static void
test_the_check_says_once_that_the_timeout_is_known(void **state)
{
    (void)state;
    tc_reload_t r = start_check(pipe_lister, 3);
    assert_true(r.wake >= 0);
    struct stat wake;
    struct stat report;
    assert_int_equal(fstat(r.wake, &wake), 0);
    assert_int_equal(fstat(r.fd, &report), 0);
    struct pollfd pfd = {.fd = r.wake, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    double timeout = -1;
    assert_true(tc_reload_timeout(&r, &timeout));
    assert_true(timeout == 3.0);
    assert_int_equal(r.wake, -1);
    wait_ended(r.pid);
    end_check(&r);
    /* the handler code listed the pipes it held: the report's, not the wake-up's */
    assert_true(listed(report.st_ino));
    assert_false(listed(wake.st_ino));
}

/*
 * Handler code that writes to a pipe whose reader has gone: a worker
 * ignores SIGPIPE (the write fails with EPIPE), and so must the check
 * that loads the same code. With SIGPIPE at its default, the check ended
 * "crashed (signal 13)"; so did a check whose one byte on r->wake met an
 * arbiter that had already read the page and closed its end.
 */
static const char pipe_writer[] = "local p = assert(io.popen('exec true', 'w'))\n"
                                  "os.execute('sleep 0.2')\n"
                                  "p:setvbuf('no')\n"
                                  "assert(not p:write(string.rep('x', 131072)))\n"
                                  "p:close()\n"
                                  "return { ping = function() end }\n";

static void
test_the_check_ignores_sigpipe_as_a_worker_does(void **state)
{
    (void)state;
    tc_reload_t r = start_check(pipe_writer, 3);
    wait_ended(r.pid);
    end_check(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checked_code_cannot_change_the_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_check_says_once_that_the_timeout_is_known, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_check_ignores_sigpipe_as_a_worker_does, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
