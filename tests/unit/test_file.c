/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for core/file.c: a regular file read whole up to its limit,
 * that limit included and one byte more refused (by fstat() or while
 * reading), and every other kind of file refused without blocking.
 */
#include "tc_test.h"

#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A temporary file of 'n' bytes 'a', 'b', ... into 'path'. */
static void
make_file(char *path, size_t cap, size_t n)
{
    int fd = tc_test_temp_file(path, cap, "file");
    char *bytes = malloc(n + 1);
    assert_non_null(bytes);
    for (size_t i = 0; i < n; i++) {
        bytes[i] = (char)('a' + i % 26);
    }
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
    free(bytes);
}

static void
test_reads_a_regular_file_whole_after_what_the_buffer_holds(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 100000};
    for (size_t i = 0; i < TC_ARRAY_LEN(sizes); i++) {
        char path[64];
        make_file(path, sizeof(path), sizes[i]);
        tc_buf_t b;
        tc_buf_init(&b);
        tc_buf_append(&b, "head", 4);
        bool opened = false;
        assert_int_equal(tc_file_read(path, TC_FILE_READ_MAX, &b, &opened), TC_OK);
        assert_true(opened);
        assert_int_equal(b.len, 4 + sizes[i]);
        assert_memory_equal(b.data, "head", 4);
        for (size_t j = 0; j < sizes[i]; j++) {
            assert_int_equal(b.data[4 + j], 'a' + j % 26);
        }
        tc_buf_deinit(&b);
        assert_int_equal(unlink(path), 0);
    }
}

static void
test_limit_included_and_one_byte_more_refused(void **state)
{
    (void)state;
    static const size_t limits[] = {1, 100, 4096, 10000};
    for (size_t i = 0; i < TC_ARRAY_LEN(limits); i++) {
        size_t max = limits[i];
        char path[64];
        make_file(path, sizeof(path), max);
        tc_buf_t b;
        tc_buf_init(&b);
        assert_int_equal(tc_file_read(path, max, &b, NULL), TC_OK);
        assert_int_equal(b.len, max);
        assert_int_equal(unlink(path), 0);

        make_file(path, sizeof(path), max + 1);
        bool opened = false;
        assert_int_equal(tc_file_read(path, max, &b, &opened), TC_ELIMIT);
        assert_true(opened);
        assert_int_equal(b.len, max); /* what it held before, nothing more */
        tc_buf_deinit(&b);
        assert_int_equal(unlink(path), 0);
    }
}

/*
 * A file whose size fstat() gives as 0 (a /proc file) is held to the limit
 * while it is read: the read stops one byte past it.
 */
static void
test_limit_held_while_reading(void **state)
{
    (void)state;
    const char *path = "/proc/self/status";
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 0);
    tc_buf_t b;
    tc_buf_init(&b);
    assert_int_equal(tc_file_read(path, TC_FILE_READ_MAX, &b, NULL), TC_OK);
    size_t whole = b.len;
    assert_true(whole > 100);
    assert_memory_equal(b.data, "Name:", 5);
    b.len = 0;
    assert_int_equal(tc_file_read(path, 10, &b, NULL), TC_ELIMIT);
    assert_int_equal(b.len, 0);
    tc_buf_deinit(&b);
}

static void
test_a_bounded_buffer_too_small_is_a_limit(void **state)
{
    (void)state;
    char path[64];
    make_file(path, sizeof(path), 300);
    tc_buf_t b;
    tc_buf_init(&b);
    tc_buf_set_max(&b, 200);
    assert_int_equal(tc_file_read(path, TC_FILE_READ_MAX, &b, NULL), TC_ELIMIT);
    assert_int_equal(b.len, 0);
    tc_buf_set_max(&b, 0);
    assert_int_equal(tc_file_read(path, TC_FILE_READ_MAX, &b, NULL), TC_OK);
    assert_int_equal(b.len, 300);
    tc_buf_deinit(&b);
    assert_int_equal(unlink(path), 0);
}

static void
test_refuses_what_is_no_regular_file_without_blocking(void **state)
{
    (void)state;
    alarm(30); /* a read that blocks ends the program instead of hanging it */
    char dir[] = "/tmp/tc-test-file-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char missing[64];
    char fifo[64];
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* the FIFO has no writer: a blocking open() would wait for one */
    const struct {
        const char *path;
        int rc;
        bool opened;
    } cases[] = {
        {missing, -ENOENT, false},      {dir, -EISDIR, true},    {"/dev/zero", TC_EINVAL, true},
        {"/dev/null", TC_EINVAL, true}, {fifo, TC_EINVAL, true},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        tc_buf_t b;
        tc_buf_init(&b);
        bool opened = !cases[i].opened;
        assert_int_equal(tc_file_read(cases[i].path, TC_FILE_READ_MAX, &b, &opened), cases[i].rc);
        assert_int_equal(opened, cases[i].opened);
        assert_int_equal(b.len, 0);
        tc_buf_deinit(&b);
    }
    assert_int_equal(unlink(fifo), 0);
    assert_int_equal(rmdir(dir), 0);
    alarm(0);
}

static void
test_leaves_no_descriptor_open(void **state)
{
    (void)state;
    char path[64];
    make_file(path, sizeof(path), 10);
    int before = dup(0);
    assert_true(before >= 0);
    assert_int_equal(close(before), 0);
    tc_buf_t b;
    tc_buf_init(&b);
    assert_int_equal(tc_file_read(path, TC_FILE_READ_MAX, &b, NULL), TC_OK);
    assert_int_equal(tc_file_read(path, 5, &b, NULL), TC_ELIMIT);
    assert_int_equal(tc_file_read("/dev/zero", TC_FILE_READ_MAX, &b, NULL), TC_EINVAL);
    tc_buf_deinit(&b);
    /* the lowest free descriptor is the one it was before */
    int after = dup(0);
    assert_int_equal(after, before);
    assert_int_equal(close(after), 0);
    assert_int_equal(unlink(path), 0);
}

/* The refusals' words: the same for the config file and core.read_file(). */
static void
test_refusal_texts(void **state)
{
    (void)state;
    assert_string_equal(tc_file_read_refusal(TC_EINVAL), "not a regular file");
    assert_string_equal(tc_file_read_refusal(TC_ELIMIT), "over 16 MiB");
    assert_int_equal(TC_FILE_READ_MAX, 16u << 20);
    assert_null(tc_file_read_refusal(-ENOENT));
    assert_null(tc_file_read_refusal(-EISDIR));
    assert_null(tc_file_read_refusal(TC_OK));
}

/* Names made absolute from the working folder, "." parts and repeated slashes dropped. */
static void
test_abs_path(void **state)
{
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir("/tmp"), 0);
    char out[64];
    assert_true(tc_file_abs_path("a.sock", out, sizeof(out)));
    assert_string_equal(out, "/tmp/a.sock");
    assert_true(tc_file_abs_path("./x//y/./z.lua", out, sizeof(out)));
    assert_string_equal(out, "/tmp/x/y/z.lua");
    assert_true(tc_file_abs_path("/srv//app/../b", out, sizeof(out)));
    assert_string_equal(out, "/srv/app/../b"); /* ".." as written */
    assert_true(tc_file_abs_path("/", out, sizeof(out)));
    assert_string_equal(out, "/");
    assert_int_equal(chdir("/"), 0);
    assert_true(tc_file_abs_path("etc/passwd", out, sizeof(out)));
    assert_string_equal(out, "/etc/passwd");
    /* does not fit: refused, never cut */
    assert_false(tc_file_abs_path("/a/long/name", out, 8));
    assert_true(tc_file_abs_path("/a/long", out, 8));
    assert_string_equal(out, "/a/long");
    assert_int_equal(chdir(cwd), 0);
}

/* One file however named; a missing name is no file. */
static void
test_same(void **state)
{
    (void)state;
    char dir[] = "/tmp/tc-test-same-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char f[64], g[64], l[64], o[64], dotted[64], missing[64];
    snprintf(f, sizeof(f), "%s/f", dir);
    snprintf(g, sizeof(g), "%s/g", dir);
    snprintf(l, sizeof(l), "%s/l", dir);
    snprintf(o, sizeof(o), "%s/o", dir);
    snprintf(dotted, sizeof(dotted), "%s/./f", dir);
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    close(open(f, O_CREAT | O_WRONLY, 0600));
    close(open(o, O_CREAT | O_WRONLY, 0600));
    assert_int_equal(link(f, g), 0);
    assert_int_equal(symlink("f", l), 0);
    assert_true(tc_file_same(f, f));
    assert_true(tc_file_same(f, g));
    assert_true(tc_file_same(l, f));
    assert_true(tc_file_same(f, dotted));
    assert_false(tc_file_same(f, o));
    assert_false(tc_file_same(f, missing));
    assert_false(tc_file_same(missing, missing));
    assert_true(tc_file_same(dir, dir));
    unlink(f);
    unlink(g);
    unlink(l);
    unlink(o);
    rmdir(dir);
}

/* A new file's folder: there, a folder, and one this process may write to. */
static void
test_check_folder(void **state)
{
    (void)state;
    char dir[] = "/tmp/tc-test-folder-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char name[96], plain[64];
    snprintf(plain, sizeof(plain), "%s/plain", dir);
    close(open(plain, O_CREAT | O_WRONLY, 0600));
    snprintf(name, sizeof(name), "%s/new.log", dir);
    assert_int_equal(tc_file_check_folder(name), TC_OK);
    snprintf(name, sizeof(name), "%s/missing/new.log", dir);
    assert_int_equal(tc_file_check_folder(name), -ENOENT);
    snprintf(name, sizeof(name), "%s/plain/new.log", dir);
    assert_int_equal(tc_file_check_folder(name), -ENOTDIR);
    assert_int_equal(tc_file_check_folder("/new.log"), access("/", W_OK) == 0 ? TC_OK : -EACCES);
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(tc_file_check_folder("new.log"), TC_OK); /* the working folder */
    assert_int_equal(chdir(cwd), 0);
    unlink(plain);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_a_regular_file_whole_after_what_the_buffer_holds),
        cmocka_unit_test(test_limit_included_and_one_byte_more_refused),
        cmocka_unit_test(test_limit_held_while_reading),
        cmocka_unit_test(test_a_bounded_buffer_too_small_is_a_limit),
        cmocka_unit_test(test_refuses_what_is_no_regular_file_without_blocking),
        cmocka_unit_test(test_leaves_no_descriptor_open),
        cmocka_unit_test(test_refusal_texts),
        cmocka_unit_test(test_abs_path),
        cmocka_unit_test(test_same),
        cmocka_unit_test(test_check_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
