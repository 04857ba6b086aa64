/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for arbiter/pidfile.c: a reload's move of the pidfile writes
 * the new one first, keeps the old one when that cannot be done, and never
 * removes the file it just wrote under another of its names.
 */
#include "tc_test.h"

#include "arbiter/pidfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    tc_test_temp_dir(dir, sizeof(dir), "pidfile");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tc_test_remove_in(dir, "a.pid");
    tc_test_remove_in(dir, "b.pid");
    tc_test_remove_in(dir, "other.pid");
    tc_test_remove_in(dir, "link.pid");
    assert_int_equal(rmdir(dir), 0);
    return 0;
}

/* The PID 'path' holds, 0 when there is no such file. */
static long
pid_in(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1) {
        pid = -1;
    }
    (void)fclose(f);
    return pid;
}

static void
test_move_writes_the_new_and_removes_the_old(void **state)
{
    (void)state;
    char a[128];
    char b[128];
    (void)snprintf(a, sizeof(a), "%s/a.pid", dir);
    (void)snprintf(b, sizeof(b), "%s/b.pid", dir);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_pidfile_move(NULL, a, &err), TC_OK); /* none before: written */
    assert_int_equal(pid_in(a), (long)getpid());
    assert_int_equal(tc_pidfile_move(a, b, &err), TC_OK);
    assert_int_equal(pid_in(b), (long)getpid());
    assert_int_equal(access(a, F_OK), -1);
    assert_int_equal(tc_pidfile_move(b, NULL, &err), TC_OK); /* none after: removed */
    assert_int_equal(access(b, F_OK), -1);
    assert_int_equal(err.code, TC_OK);
}

static void
test_another_name_of_the_same_file_keeps_it(void **state)
{
    (void)state;
    char a[128];
    char same[128];
    (void)snprintf(a, sizeof(a), "%s/a.pid", dir);
    (void)snprintf(same, sizeof(same), "%s/./a.pid", dir);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_pidfile_create(a, &err), TC_OK);
    assert_int_equal(tc_pidfile_move(a, same, &err), TC_OK);
    assert_int_equal(pid_in(a), (long)getpid());
    tc_pidfile_remove(same);
}

static void
test_failure_keeps_the_old_file(void **state)
{
    (void)state;
    char a[128];
    char missing[128];
    char other[128];
    (void)snprintf(a, sizeof(a), "%s/a.pid", dir);
    (void)snprintf(missing, sizeof(missing), "%s/nope/b.pid", dir);
    (void)snprintf(other, sizeof(other), "%s/other.pid", dir);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_pidfile_create(a, &err), TC_OK);
    assert_int_equal(tc_pidfile_move(a, missing, &err), -ENOENT);
    assert_non_null(strstr(err.msg, missing));
    assert_int_equal(pid_in(a), (long)getpid());
    /* one that names another live process (our parent) is refused, and left as it was */
    FILE *f = fopen(other, "w");
    assert_non_null(f);
    assert_true(fprintf(f, "%ld\n", (long)getppid()) > 0);
    assert_int_equal(fclose(f), 0);
    tc_err_clear(&err);
    assert_int_equal(tc_pidfile_move(a, other, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "Already running on PID"));
    assert_int_equal(pid_in(other), (long)getppid());
    assert_int_equal(pid_in(a), (long)getpid());
}

/*
 * A symlink at the pidfile's name is not read through: in a folder the
 * workers' user may write to (a /run folder given to it), that user could
 * point root at any file, whose first bytes it would read (a device's open
 * alone may act), and, with a live process's PID there, refuse every
 * start. The link is replaced, as the rename() always did.
 */
static void
test_a_symlink_is_not_read_through(void **state)
{
    (void)state;
    char link[128];
    char other[128];
    (void)snprintf(link, sizeof(link), "%s/link.pid", dir);
    (void)snprintf(other, sizeof(other), "%s/other.pid", dir);
    FILE *f = fopen(other, "w");
    assert_non_null(f);
    assert_true(fprintf(f, "%ld\n", (long)getppid()) > 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(symlink("other.pid", link), 0);
    tc_err_t err;
    tc_err_clear(&err);
    assert_int_equal(tc_pidfile_create(link, &err), TC_OK);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(pid_in(link), (long)getpid());
    assert_int_equal(pid_in(other), (long)getppid());
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_move_writes_the_new_and_removes_the_old, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_another_name_of_the_same_file_keeps_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failure_keeps_the_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_symlink_is_not_read_through, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
