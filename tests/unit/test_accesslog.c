/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for worker/accesslog.c: what each placeholder writes, a
 * client's long name that cannot push the fields after it out of the line,
 * "-" for stdout, a log that failed to open opened by SIGUSR1's reopen,
 * a write that fails or is cut short, reported in the error log, and the
 * buffer of access_log_buffer: whole lines, written when full, when asked,
 * before a reopen, and PIPE_BUF at a time to what is not a regular file.
 */
#include "tc_test.h"

#include "core/log.h"
#include "worker/accesslog.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static char access_path[128];
static char error_path[128];

static int
setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/tc-accesslog-XXXXXX");
    assert_non_null(mkdtemp(dir));
    (void)snprintf(access_path, sizeof(access_path), "%s/access.log", dir);
    (void)snprintf(error_path, sizeof(error_path), "%s/error.log", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    if (tc_accesslog_fd > STDERR_FILENO) {
        (void)close(tc_accesslog_fd);
    }
    tc_accesslog_fd = -1;
    assert_int_equal(tc_log_open(NULL), TC_OK);
    (void)unlink(access_path);
    (void)unlink(error_path);
    assert_int_equal(rmdir(dir), 0);
    return 0;
}

/* The whole file at 'path' into 'buf' (NUL-terminated); returns its length. */
static size_t
slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    assert_true(n < cap - 1); /* the whole file */
    buf[n] = '\0';
    (void)fclose(f);
    return n;
}

static tc_call_info_t
call(const char *service, const char *method, size_t len, int status, bool replied)
{
    tc_call_info_t info;
    memset(&info, 0, sizeof(info));
    info.service = service;
    info.method = method;
    info.method_len = (uint32_t)len;
    info.status = status;
    info.replied = replied;
    return info;
}

static void
test_placeholders(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%h|%m|%s|%D|%M|%L|%p|%%|x"), TC_OK);
    assert_true(tc_accesslog_on());
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    tc_accesslog_write(NULL, "127.0.0.1:5", &info, 1234567891LL);
    char want[128];
    (void)snprintf(want, sizeof(want),
                   "127.0.0.1:5|Calc.add|ok|1234567|1234.567|1.234567|%d|%%|x\n", (int)getpid());
    char got[256];
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, want);
}

/*
 * Durations (ns) at the edge of every digit count, either sign, and the
 * extremes (tc_test_decimal_edges()), and a fraction of 999 and of 000 of
 * each unit. Returns how many.
 */
static size_t
durations(long long *out)
{
    size_t n = tc_test_decimal_edges(out);
    static const long long more[] = {9000, 999000, 9999000};
    for (size_t i = 0; i < TC_ARRAY_LEN(more); i++) {
        out[n++] = more[i];
    }
    return n;
}

/* The line's numbers, byte for byte what snprintf()'s formats for them wrote. */
static void
test_numbers_as_snprintf_writes_them(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%D|%M|%L|%p"), TC_OK);
    long long ns[TC_TEST_DECIMAL_EDGES + 3];
    size_t count = durations(ns);
    assert_true(count <= TC_ARRAY_LEN(ns));
    static char want[16384];
    size_t wn = 0;
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    for (size_t i = 0; i < count; i++) {
        tc_accesslog_write(NULL, "unix", &info, ns[i]);
        long long us = ns[i] / 1000;
        wn += (size_t)tc_test_libc_format(
            want + wn, sizeof(want) - wn, "%lld|%lld.%03lld|%lld.%06lld|%d\n", us, ns[i] / 1000000,
            us % 1000, ns[i] / 1000000000, us % 1000000, (int)getpid());
    }
    static char got[16384];
    size_t gn = slurp(access_path, got, sizeof(got));
    for (size_t k = 0; k < gn && k < wn; k++) {
        if (got[k] != want[k]) {
            const char *line = k > 0 ? memrchr(got, '\n', k) : NULL;
            line = line != NULL ? line + 1 : got;
            fail_msg("byte %zu differs, in the line \"%.*s\"", k, (int)strcspn(line, "\n"), line);
        }
    }
    assert_int_equal(gn, wn);
}

/* An unnamed status's number (error:N), as snprintf()'s "%d" wrote it. */
static void
test_status_numbers_as_snprintf_writes_them(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%s"), TC_OK);
    static const int statuses[] = {11, 12, 99,  100,  999,   1000,    INT_MAX,    INT_MAX - 1,
                                   -2, -9, -10, -999, -1000, INT_MIN, INT_MIN + 1};
    char want[1024];
    size_t wn = 0;
    for (size_t i = 0; i < TC_ARRAY_LEN(statuses); i++) {
        tc_call_info_t info = call("Calc", "add", 3, statuses[i], true);
        tc_accesslog_write(NULL, "unix", &info, 0);
        wn += (size_t)tc_test_libc_format(want + wn, sizeof(want) - wn, "error:%d\n", statuses[i]);
    }
    char got[1024];
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, want);
}

/*
 * A number at the end of a full line is cut there as any text is: the
 * format's own text ends at each place of %L's longest number in turn.
 */
static void
test_number_cut_at_the_line_end(void **state)
{
    (void)state;
    static char format[1100];
    static char want[32768];
    size_t wn = 0;
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    for (size_t k = 1000; k <= 1023; k++) {
        memset(format, 'a', k);
        memcpy(format + k, "%L", 3);
        if (tc_accesslog_fd >= 0) {
            (void)close(tc_accesslog_fd);
        }
        assert_int_equal(tc_accesslog_open(access_path, format), TC_OK);
        tc_accesslog_write(NULL, "unix", &info, LLONG_MIN);
        char line[1100];
        int n = tc_test_libc_format(line, sizeof(line), "%.*s%lld.%06lld", (int)k, format,
                                    LLONG_MIN / 1000000000, (LLONG_MIN / 1000) % 1000000);
        size_t len = (size_t)n < 1023 ? (size_t)n : 1023; /* the longest line, less its newline */
        memcpy(want + wn, line, len);
        wn += len;
        want[wn++] = '\n';
    }
    static char got[32768];
    size_t gn = slurp(access_path, got, sizeof(got));
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
}

/*
 * %t: the local time and its UTC offset, as the error log's lines start
 * ("[2026-11-26 01:14:11.433 +0530]"), east and west of UTC and at it.
 */
static void
test_time(void **state)
{
    (void)state;
    static const struct {
        const char *tz;
        const char *offset;
    } zones[] = {{"IST-5:30", "+0530"}, {"XYZ+3", "-0300"}, {"UTC0", "+0000"}};
    for (size_t i = 0; i < TC_ARRAY_LEN(zones); i++) {
        tc_test_set_tz(zones[i].tz);
        (void)unlink(access_path);
        assert_int_equal(tc_accesslog_open(access_path, "%t"), TC_OK);
        tc_call_info_t info = call("Calc", "add", 3, 0, true);
        time_t before = time(NULL);
        tc_accesslog_write(NULL, "unix", &info, 0);
        time_t after = time(NULL);
        char got[256];
        size_t n = slurp(access_path, got, sizeof(got));
        assert_int_equal(n, 32);
        assert_int_equal(got[31], '\n');
        tc_test_assert_log_time(got, before, after, zones[i].offset);
        (void)close(tc_accesslog_fd);
        tc_accesslog_fd = -1;
    }
    tc_test_set_tz(NULL);
}

static void
test_statuses(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%s"), TC_OK);
    const struct {
        int status;
        bool replied;
    } cases[] = {{0, true}, {0, false}, {-1, true}, {1, true}, {6, false}, {10, true}, {99, true}};
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        tc_call_info_t info = call("Calc", "add", 3, cases[i].status, cases[i].replied);
        tc_accesslog_write(NULL, "unix", &info, 0);
    }
    char got[512];
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "ok\noneway\nexception\nUNKNOWN_METHOD\nINTERNAL_ERROR\n"
                             "UNSUPPORTED_CLIENT_TYPE\nerror:99\n");
}

/* A name no service took is shown as sent, its colon as a dot; client bytes are escaped. */
static void
test_names(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%m"), TC_OK);
    tc_call_info_t info = call(NULL, "Nope:add", 8, 1, true);
    tc_accesslog_write(NULL, "unix", &info, 0);
    info = call(NULL, "x", 1, 1, true);
    tc_accesslog_write(NULL, "unix", &info, 0);
    static const char hostile[] = "no\r\n[fake] line\x1b[2J\x7f\\x0a\0z";
    info = call("Calc", hostile, sizeof(hostile) - 1, 1, true);
    tc_accesslog_write(NULL, "unix", &info, 0);
    char got[512];
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "Nope.add\nx\n"
                             "Calc.no\\x0d\\x0a[fake] line\\x1b[2J\\x7f\\x5cx0a\\x00z\n");
}

/*
 * A client's name as long as the line or longer is cut, never what follows
 * it: the status and duration stay in the line, so that a name ending in
 * " ok 5" cannot pass for them.
 */
static void
test_long_name_keeps_the_other_fields(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%t %h %m %s %D"), TC_OK);
    static char name[3000];
    memset(name, 'A', sizeof(name));
    memcpy(name + sizeof(name) - 5, " ok 5", 5);
    tc_call_info_t info = call(NULL, name, sizeof(name), 1, true);
    tc_accesslog_write(NULL, "[::1]:51234", &info, 41000);
    /* escaped, each byte takes four */
    memset(name, '\n', sizeof(name));
    info = call(NULL, name, sizeof(name), 1, true);
    tc_accesslog_write(NULL, "[::1]:51234", &info, 42000);
    char got[4096];
    size_t n = slurp(access_path, got, sizeof(got));
    char *second = strchr(got, '\n');
    assert_non_null(second);
    second++;
    size_t len1 = (size_t)(second - got);
    assert_true(len1 <= 1024);
    assert_true(len1 > 1000); /* the name has all the room the rest leaves */
    assert_memory_equal(second - sizeof(" UNKNOWN_METHOD 41\n") + 1, " UNKNOWN_METHOD 41\n",
                        sizeof(" UNKNOWN_METHOD 41\n") - 1);
    assert_true(n - len1 <= 1024);
    assert_memory_equal(got + n - sizeof(" UNKNOWN_METHOD 42\n") + 1, " UNKNOWN_METHOD 42\n",
                        sizeof(" UNKNOWN_METHOD 42\n") - 1);
    assert_null(memchr(second, '\n', n - len1 - 1)); /* one line each */
    assert_non_null(strstr(second, " [::1]:51234 \\x0a\\x0a"));
}

/* Two names in the format share the room: both are there, and what follows them. */
static void
test_two_names_share_the_room(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%m %m %s"), TC_OK);
    static char name[3000];
    memset(name, 'B', sizeof(name));
    tc_call_info_t info = call("Calc", name, sizeof(name), 6, true);
    tc_accesslog_write(NULL, "unix", &info, 0);
    char got[4096];
    size_t n = slurp(access_path, got, sizeof(got));
    assert_true(n <= 1024);
    char *space = strchr(got, ' ');
    assert_non_null(space);
    assert_true(space - got > 400);
    assert_memory_equal(got, "Calc.BBB", 8);
    assert_memory_equal(space + 1, "Calc.BBB", 8);
    assert_string_equal(got + n - sizeof(" INTERNAL_ERROR\n") + 1, " INTERNAL_ERROR\n");
}

/*
 * A format whose own text runs past the line (here 600 two-byte
 * characters) is cut between characters: the log stays UTF-8.
 */
static void
test_long_format_is_cut_between_characters(void **state)
{
    (void)state;
    static char format[2 * 600 + 4];
    for (size_t i = 0; i < 600; i++) {
        memcpy(format + 2 * i, "\xc3\xa9", 2);
    }
    memcpy(format + 2 * 600, " %s", 4);
    assert_int_equal(tc_accesslog_open(access_path, format), TC_OK);
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    tc_accesslog_write(NULL, "unix", &info, 0);
    tc_accesslog_write(NULL, "unix", &info, 0);
    char got[4096];
    size_t n = slurp(access_path, got, sizeof(got));
    assert_int_equal(n, 2 * 1023); /* 511 characters and a newline each */
    for (size_t i = 0; i < 2; i++) {
        const char *line = got + i * 1023;
        assert_memory_equal(line, format, 1020);
        assert_memory_equal(line + 1020, "\xc3\xa9\n", 3);
    }
}

/* "-" is stdout, as gunicorn's accesslog (the error log's "-" is stderr). */
static void
test_dash_is_stdout(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    int rc = tc_accesslog_open("-", "%m %s");
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    if (rc == TC_OK) {
        tc_accesslog_write(NULL, "unix", &info, 0);
    }
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    close(p[1]);
    assert_int_equal(rc, TC_OK);
    char got[64] = "";
    assert_int_equal(read(p[0], got, sizeof(got) - 1), 12);
    assert_string_equal(got, "Calc.add ok\n");
    close(p[0]);
}

/*
 * A log a worker could not open when it started (its folder gone, a FIFO
 * that no process read) is opened by the reopen of SIGUSR1: the calls after
 * it are logged.
 */
static void
test_reopen_opens_a_log_that_failed(void **state)
{
    (void)state;
    char sub[96];
    char path[128];
    (void)snprintf(sub, sizeof(sub), "%s/later", dir);
    (void)snprintf(path, sizeof(path), "%s/access.log", sub);
    assert_int_equal(tc_accesslog_open(path, "%m"), -ENOENT);
    assert_false(tc_accesslog_on());
    assert_int_equal(tc_accesslog_reopen(), -ENOENT);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(tc_accesslog_reopen(), TC_OK);
    assert_true(tc_accesslog_on());
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    tc_accesslog_write(NULL, "unix", &info, 0);
    char got[64];
    slurp(path, got, sizeof(got));
    assert_string_equal(got, "Calc.add\n");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(sub), 0);
}

/*
 * A write that fails (a full disk) loses the line and says so in the error
 * log, not once per line: once a minute at most, and once writes work
 * again, how many lines were lost meanwhile.
 */
static void
test_failed_writes_are_reported_once(void **state)
{
    (void)state;
    assert_int_equal(tc_log_open(error_path), TC_OK);
    assert_int_equal(tc_accesslog_open("/dev/full", "%m"), TC_OK);
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    for (int i = 0; i < 3; i++) {
        tc_accesslog_write(NULL, "unix", &info, 0);
    }
    char got[2048];
    slurp(error_path, got, sizeof(got));
    const char *want = "[error] Cannot write the access log /dev/full: no space left on device; "
                       "1 line lost (reported at most once a minute)\n";
    const char *at = strstr(got, want);
    assert_non_null(at);
    assert_int_equal(at[strlen(want)], '\0'); /* that line alone */
    assert_ptr_equal(strchr(got, '\n') + 1, at + strlen(want));

    /* the disk has room again: the next line is written, and the two lost since counted */
    (void)close(tc_accesslog_fd);
    assert_int_equal(tc_accesslog_open(access_path, "%m"), TC_OK);
    tc_accesslog_write(NULL, "unix", &info, 0);
    tc_accesslog_write(NULL, "unix", &info, 0);
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "Calc.add\nCalc.add\n");
    slurp(error_path, got, sizeof(got));
    at = strstr(got, "[warning] The access log ");
    assert_non_null(at);
    assert_non_null(strstr(at, "access.log is written again; 2 lines lost before\n"));
    assert_string_equal(strchr(at, '\n') + 1, ""); /* the last line */
}

/*
 * A loss reported at once, then a write that works: the error log says the
 * log is written again, though no line was lost since the report (before,
 * it said nothing, and the last word on the log was that it failed). In a
 * child process: the report's once-a-minute clock is the process's, and
 * test_failed_writes_are_reported_once() wants a first loss of its own.
 */
static void
test_recovery_after_a_reported_loss_is_told(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tc_call_info_t info = call("Calc", "add", 3, 0, true);
        int ok = tc_log_open(error_path) == TC_OK && tc_accesslog_open("/dev/full", "%m") == TC_OK;
        if (ok) {
            tc_accesslog_write(NULL, "unix", &info, 0);
            (void)close(tc_accesslog_fd);
            ok = tc_accesslog_open(access_path, "%m") == TC_OK;
        }
        if (ok) {
            tc_accesslog_write(NULL, "unix", &info, 0);
        }
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char got[2048];
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "Calc.add\n");
    slurp(error_path, got, sizeof(got));
    const char *at = strstr(got, "[error] Cannot write the access log /dev/full: no space left on "
                                 "device; 1 line lost (reported at most once a minute)\n");
    assert_non_null(at);
    at = strstr(at, "[warning] The access log ");
    assert_non_null(at);
    assert_non_null(strstr(at, "access.log is written again\n"));
    assert_string_equal(strchr(at, '\n') + 1, ""); /* the last line */
}

/*
 * Lines lost after the first report, with no write failing a minute later
 * to report them (the worker ends, or no call comes): the count is told
 * at the end (tc_accesslog_report_lost() forced), not before the minute
 * without it. In a child process, for a first loss of its own.
 */
static void
test_lines_lost_since_the_report_are_told_at_the_end(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tc_call_info_t info = call("Calc", "add", 3, 0, true);
        if (tc_log_open(error_path) != TC_OK || tc_accesslog_open("/dev/full", "%m") != TC_OK) {
            _exit(1);
        }
        for (int i = 0; i < 4; i++) {
            tc_accesslog_write(NULL, "unix", &info, 0);
        }
        tc_accesslog_report_lost(false); /* within the minute: nothing */
        tc_accesslog_report_lost(true);
        tc_accesslog_report_lost(true); /* nothing lost since */
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char got[2048];
    slurp(error_path, got, sizeof(got));
    const char *at = strstr(got, "[error] Cannot write the access log /dev/full: no space left on "
                                 "device; 1 line lost (reported at most once a minute)\n");
    assert_non_null(at);
    at = strchr(at, '\n') + 1;
    const char *want = "[error] Cannot write the access log /dev/full: no space left on device; "
                       "3 lines lost since the last report (reported at most once a minute)\n";
    const char *next = strstr(at, want);
    assert_non_null(next);
    assert_ptr_equal(strchr(at, '\n') + 1, next + strlen(want)); /* the next line */
    assert_string_equal(next + strlen(want), "");                /* the last line */
}

/* The process's file size limit: 'max' bytes (RLIM_INFINITY: none). */
/*
 * A line cut short (a disk that fills while it is written: here a file
 * size limit, where the kernel writes what fits likewise) is lost as a
 * whole and counted, never left in the file for the next line to join.
 * After test_failed_writes_are_reported_once(), within its minute: the
 * loss is told when writes work again.
 */
static void
test_cut_line_is_lost_whole(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(tc_log_open(error_path), TC_OK);
    assert_int_equal(tc_accesslog_open(access_path, "%m %s"), TC_OK);
    static char name[300];
    memset(name, 'n', sizeof(name));
    tc_call_info_t info = call("Calc", name, sizeof(name), 0, true); /* 309 bytes a line */
    tc_accesslog_write(NULL, "unix", &info, 0);
    tc_test_limit_file_size(309 + 100);
    tc_accesslog_write(NULL, "unix", &info, 0);
    tc_test_limit_file_size(RLIM_INFINITY);
    info = call("Calc", "add", 3, 0, true);
    tc_accesslog_write(NULL, "unix", &info, 0);
    signal(SIGXFSZ, SIG_DFL);
    char got[2048];
    size_t n = slurp(access_path, got, sizeof(got));
    assert_int_equal(n, 309 + 12);
    assert_string_equal(got + 309, "Calc.add ok\n");
    slurp(error_path, got, sizeof(got));
    assert_non_null(strstr(got, "access.log is written again; 1 line lost before\n"));
}

/* ---- access_log_buffer ---- */

/*
 * The lines are held until the buffer is written (its timer, in a loop);
 * the first one held says so, for the caller to arm that timer. With the
 * buffer freed, what it held is written.
 */
static void
test_buffer_holds_lines_until_written(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%m %s"), TC_OK);
    tc_accesslog_buf_t *b = tc_accesslog_buf_new(4096);
    assert_non_null(b);
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    assert_true(tc_accesslog_write(b, "unix", &info, 0));
    assert_false(tc_accesslog_write(b, "unix", &info, 0));
    char got[4096];
    assert_int_equal(slurp(access_path, got, sizeof(got)), 0);
    tc_accesslog_flush(b);
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "Calc.add ok\nCalc.add ok\n");
    assert_true(tc_accesslog_write(b, "unix", &info, 0)); /* the first of the next batch */
    tc_accesslog_buf_free(b);
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "Calc.add ok\nCalc.add ok\nCalc.add ok\n");
    assert_null(tc_accesslog_buf_new(0)); /* 0: each line written at once */
}

/*
 * A line that does not fit sends what the buffer holds first, whole lines
 * only, and starts the next batch; one longer than the whole buffer goes
 * out alone, at once.
 */
static void
test_full_buffer_writes_whole_lines(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%m %s"), TC_OK);
    tc_accesslog_buf_t *b = tc_accesslog_buf_new(100); /* 8 lines of 12 bytes */
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tc_accesslog_write(b, "unix", &info, 0), i == 0);
    }
    char got[4096];
    assert_int_equal(slurp(access_path, got, sizeof(got)), 0);
    assert_true(tc_accesslog_write(b, "unix", &info, 0));
    assert_int_equal(slurp(access_path, got, sizeof(got)), 8 * 12);
    tc_accesslog_buf_free(b);
    assert_int_equal(slurp(access_path, got, sizeof(got)), 9 * 12);

    b = tc_accesslog_buf_new(10);
    assert_false(tc_accesslog_write(b, "unix", &info, 0));
    assert_int_equal(slurp(access_path, got, sizeof(got)), 10 * 12);
    tc_accesslog_buf_free(b);
}

/* The worker's main thread writes the buffers held long enough, or all of them. */
static void
test_flush_older(void **state)
{
    (void)state;
    assert_int_equal(tc_accesslog_open(access_path, "%m"), TC_OK);
    tc_accesslog_buf_t *b = tc_accesslog_buf_new(4096);
    tc_accesslog_buf_t *b2 = tc_accesslog_buf_new(4096);
    tc_call_info_t info = call("Calc", "add", 3, 0, true);
    (void)tc_accesslog_write(b, "unix", &info, 0);
    char got[4096];
    tc_accesslog_flush_older(3600LL * 1000000000LL);
    assert_int_equal(slurp(access_path, got, sizeof(got)), 0);
    struct timespec ts = {0, 2000000L};
    nanosleep(&ts, NULL);
    tc_accesslog_flush_older(1000000L); /* held 2 ms, older than 1 ms */
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "Calc.add\n");
    (void)tc_accesslog_write(b, "unix", &info, 0);
    (void)tc_accesslog_write(b2, "unix", &info, 0);
    tc_accesslog_flush_older(0);
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "Calc.add\nCalc.add\nCalc.add\n");
    tc_accesslog_buf_free(b2);
    tc_accesslog_buf_free(b);
}

/* SIGUSR1: the lines held go to the old file, those logged after to the new one. */
static void
test_reopen_writes_the_buffers_to_the_old_file(void **state)
{
    (void)state;
    char old_path[160];
    (void)snprintf(old_path, sizeof(old_path), "%s.1", access_path);
    assert_int_equal(tc_accesslog_open(access_path, "%s"), TC_OK);
    tc_accesslog_buf_t *b = tc_accesslog_buf_new(4096);
    tc_call_info_t ok = call("Calc", "add", 3, 0, true);
    tc_call_info_t oneway = call("Calc", "add", 3, 0, false);
    (void)tc_accesslog_write(b, "unix", &ok, 0);
    (void)tc_accesslog_write(b, "unix", &ok, 0);
    assert_int_equal(rename(access_path, old_path), 0);
    assert_int_equal(tc_accesslog_reopen(), TC_OK);
    assert_true(tc_accesslog_write(b, "unix", &oneway, 0));
    tc_accesslog_buf_free(b);
    char got[4096];
    slurp(old_path, got, sizeof(got));
    assert_string_equal(got, "ok\nok\n");
    slurp(access_path, got, sizeof(got));
    assert_string_equal(got, "oneway\n");
    assert_int_equal(unlink(old_path), 0);
}

/*
 * To what is not a regular file (a pipe, a FIFO, a socket), a buffer goes
 * out in writes of whole lines of at most PIPE_BUF bytes, which a pipe
 * keeps whole among the writes of the other threads and workers. Seen on
 * a SOCK_SEQPACKET socket as stdout ("-"): each read is one write.
 */
static void
test_buffer_to_a_pipe_goes_in_pipe_buf_writes(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    int sndbuf = 1 << 20;
    (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(sv[0], STDOUT_FILENO), STDOUT_FILENO);
    int rc = tc_accesslog_open("-", "%m %s");
    tc_accesslog_buf_t *b = tc_accesslog_buf_new(65536);
    static char name[300];
    memset(name, 'n', sizeof(name));
    tc_call_info_t info = call("Calc", name, sizeof(name), 0, true); /* 309 bytes a line */
    for (int i = 0; rc == TC_OK && i < 100; i++) {
        (void)tc_accesslog_write(b, "unix", &info, 0);
    }
    tc_accesslog_buf_free(b);
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    close(sv[0]);
    assert_int_equal(rc, TC_OK);
    size_t total = 0;
    int writes = 0;
    for (;;) {
        static char got[65536];
        ssize_t n = read(sv[1], got, sizeof(got));
        assert_true(n >= 0);
        if (n == 0) {
            break;
        }
        writes++;
        assert_true(n <= PIPE_BUF);
        assert_int_equal(n % 309, 0); /* whole lines */
        assert_int_equal(got[n - 1], '\n');
        total += (size_t)n;
    }
    close(sv[1]);
    assert_int_equal(total, 100 * 309);
    assert_int_equal(writes, (100 + PIPE_BUF / 309 - 1) / (PIPE_BUF / 309));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_placeholders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_as_snprintf_writes_them, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_numbers_as_snprintf_writes_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_number_cut_at_the_line_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name_keeps_the_other_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_names_share_the_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_format_is_cut_between_characters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dash_is_stdout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_opens_a_log_that_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_after_a_reported_loss_is_told, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lines_lost_since_the_report_are_told_at_the_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_writes_are_reported_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_line_is_lost_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_holds_lines_until_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_buffer_writes_whole_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_older, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_writes_the_buffers_to_the_old_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_buffer_to_a_pipe_goes_in_pipe_buf_writes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
