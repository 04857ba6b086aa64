/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for core/log.c: escaping the bytes a client chose for a log
 * line, keeping a handler's error text UTF-8, opening a log file the way
 * root must (which symlinks it follows, FIFOs, the standard streams), a
 * reopen that fails reported on stderr too, a stderr that leads nowhere
 * else made the log through its rotations, and a line cut short by a full
 * disk, taken back; the rate limit of lines others may cause at will;
 * whether a log file would open, told without opening it.
 */
#include "tc_test.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* tc_log_escape() of 'len' bytes of 'src' into a buffer of 'cap' gives 'want'. */
static void
assert_escapes(const char *src, size_t len, size_t cap, const char *want)
{
    char dst[256];
    assert_true(cap <= sizeof(dst) - 1);
    memset(dst, '#', sizeof(dst));
    size_t n = tc_log_escape(dst, cap, src, len);
    assert_int_equal(n, strlen(want));
    TC_ASSERT_BYTES(dst, want, n);
    /* nothing past what it wrote, not even a NUL */
    assert_int_equal(dst[n], '#');
}

static void
test_plain_bytes_stay(void **state)
{
    (void)state;
    assert_escapes("", 0, 16, "");
    assert_escapes("echo", 4, 16, "echo");
    assert_escapes("Calculator:add 'x' \"y\" %s ~", 27, 64, "Calculator:add 'x' \"y\" %s ~");
    /* well-formed UTF-8 stays as sent: 2, 3 and 4 bytes, the first and last of each */
    assert_escapes("h\xc3\xa9", 3, 16, "h\xc3\xa9");
    assert_escapes("\xc2\xa0\xdf\xbf", 4, 16, "\xc2\xa0\xdf\xbf");
    assert_escapes("\xe0\xa0\x80\xef\xbf\xbf", 6, 16, "\xe0\xa0\x80\xef\xbf\xbf");
    assert_escapes("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 8, 16, "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
}

/*
 * What is not well-formed UTF-8 is escaped byte by byte, and so are the
 * characters some readers take for a line break: the log stays one line
 * and valid UTF-8.
 */
static void
test_not_utf8_and_line_breaks(void **state)
{
    (void)state;
    /* stray bytes, a lead byte cut short, a lead byte without its continuation */
    assert_escapes("\xff\x80", 2, 16, "\\xff\\x80");
    assert_escapes("a\xc3", 2, 16, "a\\xc3");
    assert_escapes("\xe2\x82z", 3, 16, "\\xe2\\x82z");
    /* overlong forms, surrogates, beyond U+10FFFF */
    assert_escapes("\xc0\xaf", 2, 16, "\\xc0\\xaf");
    assert_escapes("\xe0\x80\xaf", 3, 16, "\\xe0\\x80\\xaf");
    assert_escapes("\xed\xa0\x80", 3, 16, "\\xed\\xa0\\x80");
    assert_escapes("\xf4\x90\x80\x80", 4, 32, "\\xf4\\x90\\x80\\x80");
    /* NEL and the other C1 controls, U+2028, U+2029 */
    assert_escapes("a\xc2\x85\x62", 4, 16, "a\\xc2\\x85b"); /* \x62: b */
    assert_escapes("\xc2\x9f", 2, 16, "\\xc2\\x9f");
    assert_escapes("\xe2\x80\xa8\xe2\x80\xa9", 6, 32, "\\xe2\\x80\\xa8\\xe2\\x80\\xa9");
    /* U+2027 and U+202A, beside them, stay */
    assert_escapes("\xe2\x80\xa7\xe2\x80\xaa", 6, 16, "\xe2\x80\xa7\xe2\x80\xaa");
    /* a character is written whole or not at all */
    assert_escapes("a\xe2\x82\xac", 4, 3, "a");
    assert_escapes("a\xe2\x82\xac", 4, 4, "a\xe2\x82\xac");
    /* the stated worst case is enough */
    assert_escapes("\xff\xff", 2, TC_LOG_ESCAPED_MAX(2), "\\xff\\xff");
}

static void
test_control_bytes_del_and_backslash(void **state)
{
    (void)state;
    assert_escapes("no\npe", 5, 64, "no\\x0ape");
    assert_escapes("a\r\nb", 4, 64, "a\\x0d\\x0ab");
    assert_escapes("\x1b[31mred\x7f", 9, 64, "\\x1b[31mred\\x7f");
    /* a NUL is a byte like the others */
    assert_escapes("a\0b", 3, 64, "a\\x00b");
    /* a backslash too: what the log shows as \x0a was a newline */
    assert_escapes("\\x0a", 4, 64, "\\x5cx0a");
    /* every byte below 0x20 */
    for (int b = 0; b < 0x20; b++) {
        char src = (char)b;
        char want[8];
        snprintf(want, sizeof(want), "\\x%02x", b);
        assert_escapes(&src, 1, 8, want);
    }
    assert_escapes(" ", 1, 8, " ");
}

static void
test_cut_to_fit(void **state)
{
    (void)state;
    assert_escapes("echo", 4, 0, "");
    assert_escapes("echo", 4, 2, "ec");
    /* an escape is written whole or not at all */
    assert_escapes("a\nb", 3, 4, "a");
    assert_escapes("a\nb", 3, 5, "a\\x0a");
    assert_escapes("a\nb", 3, 6, "a\\x0ab");
    assert_escapes("\n\n", 2, 7, "\\x0a");
    /* the stated worst case is enough */
    assert_escapes("\n\n", 2, TC_LOG_ESCAPED_MAX(2), "\\x0a\\x0a");
}

/* tc_log_utf8() of 'len' bytes of 'src' into a buffer of 'cap' gives 'want'. */
static void
assert_utf8(const char *src, size_t len, size_t cap, const char *want)
{
    char dst[64];
    assert_true(cap <= sizeof(dst) - 1);
    memset(dst, '#', sizeof(dst));
    size_t n = tc_log_utf8(dst, cap, src, len);
    assert_int_equal(n, strlen(want));
    TC_ASSERT_BYTES(dst, want, n);
    assert_int_equal(dst[n], '#');
}

/*
 * A handler's text: UTF-8 and every byte below 0x80 stay (line breaks,
 * backslashes, C1 controls and U+2028 too: it is no client's); what is
 * not well-formed UTF-8 becomes \xHH; a cut falls between characters.
 */
static void
test_utf8_text(void **state)
{
    (void)state;
    assert_utf8("", 0, 16, "");
    assert_utf8("a\nb\\c\t", 6, 16, "a\nb\\c\t");
    assert_utf8("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12, 32,
                "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_utf8("\xc2\x85\xe2\x80\xa8", 5, 16, "\xc2\x85\xe2\x80\xa8");
    assert_utf8("\xff\xfe", 2, 16, "\\xff\\xfe");
    assert_utf8("a\xc3", 2, 16, "a\\xc3"); /* a character cut short */
    /* an overlong form, a surrogate */
    assert_utf8("\xc0\xaf\xed\xa0\x80", 5, 32, "\\xc0\\xaf\\xed\\xa0\\x80");
    /* cut to fit: never half a character or half an escape */
    assert_utf8("ab\xc3\xa9", 4, 3, "ab");
    assert_utf8("ab\xc3\xa9", 4, 4, "ab\xc3\xa9");
    assert_utf8("a\xff", 2, 4, "a");
    assert_utf8("a\xff", 2, 5, "a\\xff");
}

/* ---- tc_log_open_file() ---- */

/* A fresh folder under /tmp, and 'name' in it. */
static void
temp_file(char *dir, char *path, size_t n, const char *name)
{
    int k = snprintf(dir, n, "/tmp/tc-test-log-%d-XXXXXX", (int)getpid());
    assert_true(k > 0 && (size_t)k < n);
    assert_non_null(mkdtemp(dir));
    k = snprintf(path, n, "%s/%s", dir, name);
    assert_true(k > 0 && (size_t)k < n);
}

static void
put_text(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* The first bytes of file 'path' ("" when there is none). */
static const char *
text_of(const char *path)
{
    static char buf[256];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static void
test_open_file_appends(void **state)
{
    (void)state;
    char dir[128];
    char path[160];
    temp_file(dir, path, sizeof(dir), "a.log");
    mode_t old = umask(022);
    int fd = tc_log_open_file(path);
    umask(old);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GETFL) & (O_APPEND | O_NONBLOCK), O_APPEND);
    put_text(fd, "one\n");
    close(fd);
    fd = tc_log_open_file(path);
    assert_true(fd >= 0);
    put_text(fd, "two\n");
    close(fd);
    assert_string_equal(text_of(path), "one\ntwo\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    unlink(path);
    rmdir(dir);
}

/* A symlink of the process's own user is followed, to a file it creates if need be. */
static void
test_open_file_follows_own_link(void **state)
{
    (void)state;
    char dir[128];
    char link[160];
    char real[160];
    temp_file(dir, link, sizeof(dir), "link.log");
    snprintf(real, sizeof(real), "%s/real.log", dir);
    assert_int_equal(symlink(real, link), 0);
    int fd = tc_log_open_file(link);
    assert_true(fd >= 0);
    put_text(fd, "x\n");
    close(fd);
    assert_string_equal(text_of(real), "x\n");
    unlink(link);
    unlink(real);
    rmdir(dir);
}

/* 'name' in 'dir', into 'path' (160 bytes). */
static const char *
in_dir(char *path, const char *dir, const char *name)
{
    snprintf(path, 160, "%s/%s", dir, name);
    return path;
}

/*
 * tc_log_check_file() (--check-config) says what tc_log_open_file() would,
 * without making, opening or changing a file: where the open fails, the
 * same code; where it would make one, nothing is made.
 */
static void
test_check_file_as_the_open_would(void **state)
{
    (void)state;
    char dir[128];
    char p[160];
    char q[160];
    temp_file(dir, p, sizeof(dir), "new.log");
    assert_int_equal(tc_log_check_file(p), TC_OK);
    assert_int_equal(access(p, F_OK), -1);
    const char *refused[] = {"missing/x.log", ".", "file/x.log", "sock"};
    const int codes[] = {-ENOENT, -EISDIR, -ENOTDIR, -ENXIO};
    FILE *f = fopen(in_dir(q, dir, "file"), "w");
    assert_non_null(f);
    fclose(f);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    in_dir(p, dir, "sock");
    assert_true(strlen(p) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, p, strlen(p) + 1);
    assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
    for (size_t i = 0; i < TC_ARRAY_LEN(refused); i++) {
        in_dir(p, dir, refused[i]);
        assert_int_equal(tc_log_check_file(p), codes[i]);
        assert_int_equal(tc_log_open_file(p), codes[i]);
    }
    /* a file, a FIFO (with no reader: its open would fail, but opening it to see is not done) */
    assert_int_equal(tc_log_check_file(q), TC_OK);
    assert_int_equal(mkfifo(in_dir(p, dir, "fifo"), 0600), 0);
    assert_int_equal(tc_log_check_file(p), TC_OK);
    assert_int_equal(tc_log_check_file("/dev/stdout"), TC_OK);
    assert_int_equal(tc_log_check_file("/dev/null"), TC_OK);
    /* an own link to a name not made yet: the folder of that name counts */
    assert_int_equal(symlink(in_dir(q, dir, "absent/x.log"), in_dir(p, dir, "link1")), 0);
    assert_int_equal(tc_log_check_file(p), -ENOENT);
    assert_int_equal(tc_log_open_file(p), -ENOENT);
    assert_int_equal(symlink("made.log", in_dir(p, dir, "link2")), 0);
    assert_int_equal(tc_log_check_file(p), TC_OK);
    assert_int_equal(access(in_dir(q, dir, "made.log"), F_OK), -1);
    if (geteuid() == 0) {
        /* a link another user owns: the open would refuse it */
        assert_int_equal(lchown(p, 65534, 65534), 0);
        assert_int_equal(tc_log_check_file(p), TC_ESYMLINK);
    }
    close(s);
    const char *names[] = {"file", "sock", "fifo", "link1", "link2"};
    for (size_t i = 0; i < TC_ARRAY_LEN(names); i++) {
        unlink(in_dir(p, dir, names[i]));
    }
    assert_int_equal(rmdir(dir), 0); /* nothing else was made */
}

/*
 * A symlink another user owns is not followed: root must not write to, or
 * create, the file such a link names.
 */
static void
test_open_file_refuses_a_link_of_another_user(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("skipped: needs root to make a symlink that another user owns\n");
        skip();
    }
    char dir[128];
    char link[160];
    char target[160];
    temp_file(dir, link, sizeof(dir), "link.log");
    snprintf(target, sizeof(target), "%s/target", dir);
    FILE *f = fopen(target, "w");
    assert_non_null(f);
    fputs("secret\n", f);
    fclose(f);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(lchown(link, 65534, 65534), 0);
    assert_int_equal(tc_log_open_file(link), TC_ESYMLINK);
    assert_string_equal(text_of(target), "secret\n");
    assert_string_equal(tc_strerror(TC_ESYMLINK), "a symlink another user owns (not followed)");

    /* nor is a dangling one: nothing is created where it points */
    char absent[160];
    snprintf(absent, sizeof(absent), "%s/absent", dir);
    unlink(link);
    assert_int_equal(symlink(absent, link), 0);
    assert_int_equal(lchown(link, 65534, 65534), 0);
    assert_int_equal(tc_log_open_file(link), TC_ESYMLINK);
    assert_int_equal(access(absent, F_OK), -1);

    /* a link root owns is the operator's: followed */
    assert_int_equal(lchown(link, 0, 0), 0);
    int fd = tc_log_open_file(link);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(access(absent, F_OK), 0);

    /* ... but not on through another user's link it leads to (relative, here) */
    char hop[160];
    snprintf(hop, sizeof(hop), "%s/hop", dir);
    assert_int_equal(symlink("target", hop), 0);
    assert_int_equal(lchown(hop, 65534, 65534), 0);
    unlink(link);
    assert_int_equal(symlink("hop", link), 0);
    assert_int_equal(tc_log_open_file(link), TC_ESYMLINK);
    assert_string_equal(text_of(target), "secret\n");
    unlink(hop);
    assert_int_equal(symlink("absent2", hop), 0);
    assert_int_equal(lchown(hop, 65534, 65534), 0);
    assert_int_equal(tc_log_open_file(link), TC_ESYMLINK);
    snprintf(absent, sizeof(absent), "%s/absent2", dir);
    assert_int_equal(access(absent, F_OK), -1);
    unlink(hop);
    unlink(link);
    snprintf(absent, sizeof(absent), "%s/absent", dir);
    unlink(absent);
    unlink(target);
    rmdir(dir);
}

/* A link to a name no path reaches (/dev/stdout to a pipe): the kernel's way, as before. */
static void
test_open_file_through_a_magic_link(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    char dir[128];
    char link[160];
    temp_file(dir, link, sizeof(dir), "stdout");
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", p[1]);
    assert_int_equal(symlink(fdpath, link), 0);
    int fd = tc_log_open_file(link);
    assert_true(fd >= 0);
    put_text(fd, "y");
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    close(fd);
    close(p[0]);
    close(p[1]);
    unlink(link);
    rmdir(dir);
}

/* A FIFO nobody reads fails at once; one that is read is written with blocking writes. */
static void
test_open_file_fifo(void **state)
{
    (void)state;
    char dir[128];
    char path[160];
    temp_file(dir, path, sizeof(dir), "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(tc_log_open_file(path), -ENXIO);
    int rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true(rd >= 0);
    int fd = tc_log_open_file(path);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    put_text(fd, "x");
    char c = 0;
    assert_int_equal(read(rd, &c, 1), 1);
    assert_int_equal(c, 'x');
    close(fd);
    close(rd);
    unlink(path);
    rmdir(dir);
}

/*
 * The process's own log is no FIFO that another user owns: that user (the
 * workers', where it may write to the log's folder) could hold its read
 * end and read nothing, and the arbiter, running as root, would block in
 * write() once the pipe is full, supervising nothing from then on. The
 * log open so far stays. One of root's (the operator's) is written to.
 */
static void
test_log_refuses_a_fifo_of_another_user(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("skipped: needs root to make a FIFO that another user owns\n");
        skip();
    }
    char dir[128];
    char path[160];
    char kept[160];
    temp_file(dir, path, sizeof(dir), "fifo");
    snprintf(kept, sizeof(kept), "%s/kept.log", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(chown(path, 65534, 65534), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true(rd >= 0);
    assert_int_equal(tc_log_open(kept), TC_OK);
    assert_int_equal(tc_log_open(path), TC_EFIFO);
    assert_int_equal(tc_log_open_error_file(path), TC_EFIFO);
    assert_string_equal(tc_strerror(TC_EFIFO), "a FIFO another user owns (not written to)");
    tc_log(TC_LOG_ERROR, "still here");
    assert_non_null(strstr(text_of(kept), "still here"));
    char c = 0;
    assert_int_equal(read(rd, &c, 1), 0); /* nothing written, and no writer holds it */
    /* root's own */
    assert_int_equal(chown(path, 0, 0), 0);
    assert_int_equal(tc_log_open(path), TC_OK);
    tc_log(TC_LOG_ERROR, "to the FIFO");
    assert_int_equal(read(rd, &c, 1), 1);
    assert_int_equal(tc_log_open(NULL), TC_OK);
    close(rd);
    /*
     * an anonymous pipe another user made (the stderr of 'sudo thriftcorn
     * ... 2>&1 | tee', given as /dev/stderr) was inherited, not planted:
     * it is written to
     */
    int p[2];
    assert_int_equal(seteuid(65534), 0);
    int made = pipe2(p, O_CLOEXEC);
    assert_int_equal(seteuid(0), 0);
    assert_int_equal(made, 0);
    struct stat st;
    assert_int_equal(fstat(p[1], &st), 0);
    assert_int_equal(st.st_uid, 65534);
    char name[64];
    snprintf(name, sizeof(name), "/proc/self/fd/%d", p[1]);
    int fd = tc_log_open_error_file(name);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(fd);
    close(p[0]);
    close(p[1]);
    unlink(kept);
    unlink(path);
    rmdir(dir);
}

/*
 * /dev/stdout and /dev/stderr are the streams as inherited: a socket
 * (systemd's journal), which cannot be opened by name, works; and a file
 * the shell opened without O_APPEND is written at its one offset, so that
 * what goes to the stream itself is not written over.
 */
static void
test_open_file_standard_streams(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(sv[1], STDOUT_FILENO), STDOUT_FILENO);
    int fd = tc_log_open_file("/dev/stdout");
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    assert_true(fd > STDERR_FILENO);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    put_text(fd, "z");
    char c = 0;
    assert_int_equal(read(sv[0], &c, 1), 1);
    assert_int_equal(c, 'z');
    close(fd);
    close(sv[0]);
    close(sv[1]);

    char dir[128];
    char path[160];
    temp_file(dir, path, sizeof(dir), "out");
    int file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); /* `2> out` */
    assert_true(file >= 0);
    assert_int_equal(dup2(STDERR_FILENO, saved), saved);
    assert_int_equal(dup2(file, STDERR_FILENO), STDERR_FILENO);
    fd = tc_log_open_file("/dev/stderr");
    if (fd >= 0) {
        put_text(STDERR_FILENO, "a\n");
        put_text(fd, "b\n");
        put_text(STDERR_FILENO, "c\n");
    }
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    assert_true(fd > STDERR_FILENO);
    assert_string_equal(text_of(path), "a\nb\nc\n");
    close(fd);
    close(file);
    close(saved);
    unlink(path);
    rmdir(dir);
}

/* 'pad' ASCII bytes, then character 'ch' again and again: 'cap' - 1 bytes at most, whole. */
static void
long_text(char *buf, size_t cap, size_t pad, const char *ch)
{
    size_t n = pad;
    memset(buf, 'a', pad);
    for (size_t w = strlen(ch); n + w < cap; n += w) {
        memcpy(buf + n, ch, w);
    }
    buf[n] = '\0';
}

/*
 * Each line starts with its local time and that time's UTC offset, as
 * gunicorn's error log writes it ("[2026-11-26 01:14:11.433 +0530]"): an
 * offset east and west of UTC, of hours and minutes, and UTC itself.
 */
static void
test_line_time_has_utc_offset(void **state)
{
    (void)state;
    static const struct {
        const char *tz;
        const char *offset;
    } zones[] = {{"IST-5:30", "+0530"}, {"XYZ+3", "-0300"}, {"UTC0", "+0000"}};
    char dir[128];
    char path[160];
    temp_file(dir, path, sizeof(dir), "time.log");
    for (size_t i = 0; i < TC_ARRAY_LEN(zones); i++) {
        tc_test_set_tz(zones[i].tz);
        assert_int_equal(tc_log_open(path), TC_OK);
        time_t before = time(NULL);
        tc_log(TC_LOG_WARNING, "zone %zu", i);
        time_t after = time(NULL);
        assert_int_equal(tc_log_open(NULL), TC_OK);
        const char *line = text_of(path);
        char tail[64];
        snprintf(tail, sizeof(tail), "] [%d] [warning] zone %zu\n", (int)getpid(), i);
        assert_int_equal(strlen(line), 30 + strlen(tail));
        assert_string_equal(line + 30, tail); /* from the time's ']' on */
        tc_test_assert_log_time(line, before, after, zones[i].offset);
        unlink(path);
    }
    tc_test_set_tz(NULL);
    rmdir(dir);
}

/* The time text as strftime() and snprintf() make it from localtime_r(), for each line. */
static size_t
strftime_text(char *buf, size_t cap, time_t sec, long usec)
{
    struct tm tm;
    assert_non_null(localtime_r(&sec, &tm));
    size_t n = strftime(buf, cap, "[%Y-%m-%d %H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, cap - n, ".%03ld", usec / 1000);
    n += strftime(buf + n, cap - n, " %z]", &tm);
    return n;
}

/* tc_log_time_at() of 'sec' and 'usec' is strftime_text()'s; returns the count of texts made. */
static unsigned long
assert_time_text(time_t sec, long usec)
{
    char got[TC_LOG_TIME_MAX];
    char want[TC_LOG_TIME_MAX];
    size_t n = tc_log_time_at(got, sizeof(got), sec, usec);
    assert_int_equal(n, strftime_text(want, sizeof(want), sec, usec));
    assert_int_equal(strlen(got), n);
    assert_string_equal(got, want);
    return tc_log_time_made();
}

/*
 * A line's time text is made once per second and thread, not per line:
 * each line of a second shows it with its own milliseconds, and the next
 * second's first line (here the last second of a year, local time, so
 * that each field changes), a second before it (a clock set back) and a
 * zone changed by tzset() within a second each make it again; every text
 * is the one strftime() gives for its line.
 */
static void
test_time_text_made_once_a_second(void **state)
{
    (void)state;
    tc_test_set_tz("IST-5:30");
    struct tm eve = {.tm_year = 2026 - 1900,
                     .tm_mon = 11,
                     .tm_mday = 31,
                     .tm_hour = 18,
                     .tm_min = 29,
                     .tm_sec = 59}; /* 23:59:59 in India */
    time_t sec = timegm(&eve);
    unsigned long made = tc_log_time_made() + 1;
    assert_int_equal(assert_time_text(sec, 0), made);
    for (long ms = 0; ms < 1000; ms++) { /* each millisecond, whatever its microseconds */
        assert_int_equal(assert_time_text(sec, ms * 1000 + 999 - ms), made);
    }
    assert_int_equal(assert_time_text(sec, 999999), made);
    char last[TC_LOG_TIME_MAX];
    char next[TC_LOG_TIME_MAX];
    (void)tc_log_time_at(last, sizeof(last), sec, 0);
    (void)tc_log_time_at(next, sizeof(next), sec + 1, 0);
    assert_string_not_equal(last, next);
    assert_memory_equal(next, "[2027-01-01 00:00:00.000 +0530]", 32);
    assert_int_equal(tc_log_time_made(), made + 1);
    assert_int_equal(assert_time_text(sec + 1, 999000), made + 1);
    assert_int_equal(assert_time_text(sec, 500000), made + 2); /* set back */
    tc_test_set_tz("XYZ+3");
    assert_int_equal(assert_time_text(sec, 500000), made + 3);
    (void)tc_log_time_at(next, sizeof(next), sec, 500000);
    assert_memory_equal(next, "[2026-12-31 15:29:59.500 -0300]", 32);
    tc_test_set_tz(NULL);
}

/*
 * A line longer than the buffer is cut between two UTF-8 characters, never
 * inside one (the log stays valid UTF-8 for the tools that read it), and
 * ends with "..." so that it reads as cut. Each character width with each
 * lead-in length puts some cut inside a character, whatever the prefix's
 * length (the pid's digits). A line that fits is written whole.
 */
static void
test_long_line_cut_between_characters(void **state)
{
    (void)state;
    static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    char dir[128];
    char path[160];
    temp_file(dir, path, sizeof(dir), "long.log");
    assert_int_equal(tc_log_open(path), TC_OK);
    static char msg[5000];
    for (size_t c = 0; c < TC_ARRAY_LEN(chars); c++) {
        for (size_t pad = 0; pad < 4; pad++) {
            long_text(msg, sizeof(msg), pad, chars[c]);
            tc_log(TC_LOG_WARNING, "%s", msg);
        }
    }
    tc_log(TC_LOG_WARNING, "short \xc3\xa9...\xe2\x82\xac");
    assert_int_equal(tc_log_open(NULL), TC_OK);

    static char text[65536];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    const char *line = text;
    for (size_t i = 0; i < 4 * TC_ARRAY_LEN(chars); i++) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        size_t n = (size_t)(end - line) + 1;
        /* one write(2) to a pipe stays whole; the cut takes back at most 3 bytes */
        assert_true(n <= 4096 && n >= 4090);
        static char copy[2 * 4096];
        assert_int_equal(tc_log_utf8(copy, sizeof(copy), line, n), n); /* valid UTF-8 */
        assert_memory_equal(copy, line, n);
        const char *body = strstr(line, "] [warning] ");
        assert_non_null(body);
        body += strlen("] [warning] ");
        assert_true(end - body > 3);
        assert_memory_equal(end - 3, "...", 3);
        size_t kept = (size_t)(end - 3 - body);
        long_text(msg, sizeof(msg), i % 4, chars[i / 4]);
        assert_memory_equal(body, msg, kept);
        line = end + 1;
    }
    const char *body = strstr(line, "] [warning] ");
    assert_non_null(body);
    assert_string_equal(body, "] [warning] short \xc3\xa9...\xe2\x82\xac\n");
    unlink(path);
    rmdir(dir);
}

/*
 * Each level keeps its own lines and those above it; the names are
 * gunicorn's, in lower case.
 */
static void
test_levels(void **state)
{
    (void)state;
    static const char *const names[] = {"debug", "info", "warning", "error", "critical"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tc_log_level_parse(names[i]), i);
    }
    assert_int_equal(tc_log_level_parse("warn"), -1);
    assert_int_equal(tc_log_level_parse("INFO"), -1);
    char dir[128];
    char path[160];
    temp_file(dir, path, sizeof(dir), "levels.log");
    assert_int_equal(tc_log_open(path), TC_OK);
    for (int level = TC_LOG_DEBUG; level <= TC_LOG_CRITICAL; level++) {
        tc_log_set_level((tc_log_level_t)level);
        for (int at = TC_LOG_DEBUG; at <= TC_LOG_CRITICAL; at++) {
            tc_log((tc_log_level_t)at, "%d:%d", level, at);
        }
    }
    tc_log_set_level(TC_LOG_INFO);
    assert_int_equal(tc_log_open(NULL), TC_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    int want_level = 0;
    int want_at = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char name[16];
        int level = -1;
        int at = -1;
        const char *tail = strstr(line, "] [");
        assert_non_null(tail);
        tail = strstr(tail + 3, "] [");
        assert_non_null(tail);
        assert_int_equal(sscanf(tail + 3, "%15[a-z]] %d:%d\n", name, &level, &at), 3);
        assert_int_equal(level, want_level);
        assert_int_equal(at, want_at);
        assert_string_equal(name, names[at]);
        if (++want_at > TC_LOG_CRITICAL) {
            want_level++;
            want_at = want_level;
        }
    }
    assert_int_equal(want_level, TC_LOG_CRITICAL + 1); /* every line there, none more */
    fclose(f);
    unlink(path);
    rmdir(dir);
}

/* How many times 'what' is in file 'path' (of at most 4 KB). */
static int
count_in(const char *path, const char *what)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    int n = 0;
    for (const char *p = buf; (p = strstr(p, what)) != NULL; p += strlen(what)) {
        n++;
    }
    return n;
}

/*
 * A reopen that fails (the log's folder moved away, as logrotate may)
 * leaves the lines going to the old file, which nobody reads any more: the
 * lines of level error and above go to stderr as well, until a reopen
 * works. A stderr that is the log's own file does not get them twice.
 */
static void
test_reopen_failure_also_on_stderr(void **state)
{
    (void)state;
    char dir[128];
    char logs[160];
    char path[200]; /* logs/e.log */
    char old1[200]; /* where the folder went at the first rotation */
    char old2[200];
    char err[200];
    temp_file(dir, logs, sizeof(dir), "logs");
    snprintf(path, sizeof(path), "%s/e.log", logs);
    snprintf(old1, sizeof(old1), "%s/old1", dir);
    snprintf(old2, sizeof(old2), "%s/old2", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    assert_int_equal(mkdir(logs, 0700), 0);
    int file = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(file >= 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(file, STDERR_FILENO), STDERR_FILENO);

    assert_int_equal(tc_log_open(path), TC_OK);
    tc_log(TC_LOG_ERROR, "before");
    assert_int_equal(rename(logs, old1), 0);
    assert_int_equal(tc_log_open(path), -ENOENT);
    tc_log(TC_LOG_ERROR, "cannot reopen");
    tc_log(TC_LOG_CRITICAL, "critical meanwhile");
    tc_log(TC_LOG_WARNING, "warning meanwhile");
    assert_int_equal(mkdir(logs, 0700), 0);
    assert_int_equal(tc_log_open(path), TC_OK);
    tc_log(TC_LOG_ERROR, "reopened");

    /* stderr on the log's own file, as a daemon's after an upgrade: no line twice */
    int own = tc_log_open_file(path);
    assert_true(own >= 0);
    assert_int_equal(dup2(own, STDERR_FILENO), STDERR_FILENO);
    close(own);
    assert_int_equal(rename(logs, old2), 0);
    assert_int_equal(tc_log_open(path), -ENOENT);
    tc_log(TC_LOG_ERROR, "once only");

    assert_int_equal(tc_log_open(NULL), TC_OK);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(file);

    char file1[220];
    snprintf(file1, sizeof(file1), "%s/e.log", old1);
    assert_int_equal(count_in(file1, "] [error] before\n"), 1);
    assert_int_equal(count_in(file1, "] [error] cannot reopen\n"), 1);
    assert_int_equal(count_in(file1, "] [critical] critical meanwhile\n"), 1);
    assert_int_equal(count_in(file1, "] [warning] warning meanwhile\n"), 1);
    assert_int_equal(count_in(file1, "reopened"), 0);
    assert_int_equal(count_in(err, "] [error] cannot reopen\n"), 1);
    assert_int_equal(count_in(err, "] [critical] critical meanwhile\n"), 1);
    assert_int_equal(count_in(err, "warning meanwhile"), 0);
    assert_int_equal(count_in(err, "before"), 0);
    assert_int_equal(count_in(err, "reopened"), 0);
    assert_int_equal(count_in(err, "once only"), 0);
    unlink(file1);
    rmdir(old1);
    char file2[220];
    snprintf(file2, sizeof(file2), "%s/e.log", old2);
    assert_int_equal(count_in(file2, "] [error] reopened\n"), 1);
    assert_int_equal(count_in(file2, "] [error] once only\n"), 1);
    unlink(file2);
    rmdir(old2);
    unlink(err);
    rmdir(dir);
}

/* Point stderr at 'path' (created, appended to). */
static void
stderr_to(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

/*
 * A stderr on /dev/null (a daemon's) becomes the error log, and follows it
 * through a rotation: what is written to fd 2 lands in the new file. One
 * on the log's own file (an upgraded daemon's) follows it too; one
 * elsewhere (a terminal, the journal) is left alone, as is stderr when the
 * log is stderr itself.
 */
static void
test_take_stderr(void **state)
{
    (void)state;
    char dir[128];
    char path[160];
    char old[200];
    char apart[200];
    temp_file(dir, path, sizeof(dir), "e.log");
    snprintf(old, sizeof(old), "%s/e.log.1", dir);
    snprintf(apart, sizeof(apart), "%s/stderr", dir);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);

    stderr_to("/dev/null");
    assert_int_equal(tc_log_open(path), TC_OK);
    assert_true(tc_log_take_stderr());
    put_text(STDERR_FILENO, "direct one\n");
    assert_int_equal(rename(path, old), 0);
    assert_int_equal(tc_log_open(path), TC_OK);
    put_text(STDERR_FILENO, "direct two\n");
    tc_log(TC_LOG_ERROR, "logged two");
    assert_string_equal(text_of(old), "direct one\n");
    assert_int_equal(count_in(path, "direct two\n"), 1);
    assert_int_equal(count_in(path, "] [error] logged two\n"), 1);
    unlink(old);
    unlink(path);

    /* stderr on the log's own file, opened apart from it (first one apart: not followed) */
    stderr_to(apart);
    assert_false(tc_log_take_stderr());
    assert_int_equal(tc_log_open(path), TC_OK);
    assert_string_equal(text_of(apart), "");
    stderr_to(path);
    assert_true(tc_log_take_stderr());
    assert_int_equal(rename(path, old), 0);
    assert_int_equal(tc_log_open(path), TC_OK);
    put_text(STDERR_FILENO, "direct three\n");
    assert_string_equal(text_of(path), "direct three\n");
    assert_string_equal(text_of(old), "");
    unlink(old);
    unlink(path);

    /* stderr elsewhere: left alone, through a reopen too */
    stderr_to(apart);
    assert_false(tc_log_take_stderr());
    assert_int_equal(tc_log_open(path), TC_OK);
    put_text(STDERR_FILENO, "apart\n");
    assert_string_equal(text_of(apart), "apart\n");
    assert_string_equal(text_of(path), "");

    /* the log on stderr itself: stderr is not the log's to move */
    assert_int_equal(tc_log_open(NULL), TC_OK);
    assert_false(tc_log_take_stderr());
    assert_int_equal(tc_log_open(path), TC_OK);
    put_text(STDERR_FILENO, "still apart\n");
    assert_string_equal(text_of(apart), "apart\nstill apart\n");
    assert_string_equal(text_of(path), "");

    assert_int_equal(tc_log_open(NULL), TC_OK);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    unlink(apart);
    unlink(path);
    rmdir(dir);
}

/* Lower the file size limit of the process to 'max' bytes (RLIM_INFINITY: none). */
/*
 * A line a full disk cuts short (here a file size limit: the kernel writes
 * what fits, as on a full disk) is taken back, so that the next line, once
 * there is room, does not join it: the file holds whole lines only. A file
 * written without O_APPEND gets its offset back too (no hole).
 */
static void
test_write_takes_back_a_cut_line(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN); /* past the limit: EFBIG, not death */
    char dir[128];
    char path[160];
    temp_file(dir, path, sizeof(dir), "cut.log");
    int fd = tc_log_open_file(path);
    assert_true(fd >= 0);
    assert_int_equal(tc_log_write(fd, "one\n", 4), 4);
    tc_test_limit_file_size(10);
    ssize_t cut = tc_log_write(fd, "two, too long\n", 14);
    ssize_t over = tc_log_write(fd, "x\n", 2);
    tc_test_limit_file_size(RLIM_INFINITY);
    assert_int_equal(cut, 6);
    assert_int_equal(over, 2); /* the room the cut line had is there again */
    assert_int_equal(tc_log_write(fd, "three\n", 6), 6);
    assert_string_equal(text_of(path), "one\nx\nthree\n");
    close(fd);

    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(tc_log_write(fd, "abc\n", 4), 4);
    tc_test_limit_file_size(8);
    cut = tc_log_write(fd, "defghij\n", 8);
    tc_test_limit_file_size(RLIM_INFINITY);
    assert_int_equal(cut, 4);
    assert_int_equal(tc_log_write(fd, "k\n", 2), 2);
    assert_int_equal(lseek(fd, 0, SEEK_END), 6);
    assert_string_equal(text_of(path), "abc\nk\n");
    close(fd);

    /* the error log's lines go the same way */
    assert_int_equal(tc_log_open(path), TC_OK);
    char big[200];
    memset(big, 'B', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tc_test_limit_file_size(6 + 100);
    tc_log(TC_LOG_ERROR, "%s", big);
    tc_test_limit_file_size(RLIM_INFINITY);
    tc_log(TC_LOG_ERROR, "after");
    assert_int_equal(tc_log_open(NULL), TC_OK);
    const char *text = text_of(path);
    assert_memory_equal(text, "abc\nk\n[", 7);
    assert_non_null(strstr(text, "] [error] after\n"));
    assert_null(strchr(strchr(text + 6, '\n') + 1, '\n')); /* one line after the two */
    assert_null(strchr(text, 'B'));
    signal(SIGXFSZ, SIG_DFL);
    unlink(path);
    rmdir(dir);
}

/* ---- rate limit ---- */

#define MS 1000000LL
#define S  1000000000LL

/* How many of 'n' lines at 'now' the limiter lets through. */
static int
allowed(tc_log_ratelimit_t *rl, int n, long long now)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        k += tc_log_ratelimit_allow(rl, now) ? 1 : 0;
    }
    return k;
}

/* A burst at once, then the rate; the refused counted for one report. */
static void
test_ratelimit_burst_and_refill(void **state)
{
    (void)state;
    tc_log_ratelimit_t rl;
    long long since = -1;
    tc_log_ratelimit_init(&rl, 10, 10, S);
    long long t0 = 5 * S; /* any clock: no line was taken before */
    assert_int_equal(allowed(&rl, 300, t0), 10);
    assert_int_equal(tc_log_ratelimit_report(&rl, t0, false, &since), 0); /* not due yet */
    /* one line each 100 ms: none before, one at it, one only */
    assert_int_equal(allowed(&rl, 5, t0 + 99 * MS), 0);
    assert_int_equal(allowed(&rl, 5, t0 + 100 * MS), 1);
    assert_int_equal(allowed(&rl, 5, t0 + 150 * MS), 0);
    assert_int_equal(allowed(&rl, 5, t0 + 250 * MS), 1);
    /* 290 + 5 + 4 + 5 + 4 refused, since the first */
    assert_int_equal(tc_log_ratelimit_report(&rl, t0 + 999 * MS, false, &since), 0);
    assert_int_equal(tc_log_ratelimit_report(&rl, t0 + S, false, &since), 308);
    assert_int_equal(since, t0);
    /* reported: the count starts again */
    assert_int_equal(tc_log_ratelimit_report(&rl, t0 + 2 * S, true, &since), 0);
    /* quiet for long: a full burst again, not more */
    assert_int_equal(allowed(&rl, 30, t0 + 60 * S), 10);
    assert_int_equal(tc_log_ratelimit_report(&rl, t0 + 60 * S, true, &since), 20);
    assert_int_equal(since, t0 + 60 * S);
    /* half refilled after half a burst's time */
    assert_int_equal(allowed(&rl, 30, t0 + 60 * S + 500 * MS), 5);
}

/* Lines that come at the rate or slower are never refused. */
static void
test_ratelimit_steady_rate(void **state)
{
    (void)state;
    tc_log_ratelimit_t rl;
    long long since = 0;
    tc_log_ratelimit_init(&rl, 10, 3, S);
    for (int i = 0; i < 1000; i++) {
        assert_true(tc_log_ratelimit_allow(&rl, (long long)i * 100 * MS));
    }
    assert_int_equal(tc_log_ratelimit_report(&rl, 1000 * S, true, &since), 0);
    /* a burst of 3, and then 1 more each 100 ms */
    tc_log_ratelimit_init(&rl, 10, 3, S);
    int total = 0;
    for (int ms = 0; ms < 1000; ms++) {
        total += allowed(&rl, 2, ms * MS);
    }
    assert_int_equal(total, 3 + 9);
    assert_int_equal(tc_log_ratelimit_report(&rl, 999 * MS, true, &since), 2000 - 12);
    assert_int_equal(since, 1 * MS); /* the 4th line: 2 at 0 ms, 2 at 1 ms */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_bytes_stay),
        cmocka_unit_test(test_control_bytes_del_and_backslash),
        cmocka_unit_test(test_not_utf8_and_line_breaks),
        cmocka_unit_test(test_cut_to_fit),
        cmocka_unit_test(test_utf8_text),
        cmocka_unit_test(test_long_line_cut_between_characters),
        cmocka_unit_test(test_line_time_has_utc_offset),
        cmocka_unit_test(test_time_text_made_once_a_second),
        cmocka_unit_test(test_open_file_appends),
        cmocka_unit_test(test_open_file_follows_own_link),
        cmocka_unit_test(test_check_file_as_the_open_would),
        cmocka_unit_test(test_open_file_refuses_a_link_of_another_user),
        cmocka_unit_test(test_open_file_through_a_magic_link),
        cmocka_unit_test(test_open_file_fifo),
        cmocka_unit_test(test_log_refuses_a_fifo_of_another_user),
        cmocka_unit_test(test_open_file_standard_streams),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_reopen_failure_also_on_stderr),
        cmocka_unit_test(test_take_stderr),
        cmocka_unit_test(test_write_takes_back_a_cut_line),
        cmocka_unit_test(test_ratelimit_burst_and_refill),
        cmocka_unit_test(test_ratelimit_steady_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
