/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for arbiter/trust.c: which of a file and the folders on its way
 * to '/' the workers' user could write. The files are made with chown and
 * chmod, so the tests need root.
 */
#include "tc_test.h"

#include "arbiter/trust.h"

#include <ftw.h>
#include <grp.h>
#include <sys/stat.h>

#define USER_UID  65534
#define USER_GID  65534
#define OTHER_GID 4242 /* a group the user is not in */
#define MAX_FOUND 8

static char base[64];

typedef struct found {
    size_t n;
    char path[MAX_FOUND][256];
    char why[MAX_FOUND][128];
} found_t;

static void
collect(void *ud, const char *path, const char *why)
{
    found_t *f = ud;
    assert_true(f->n < MAX_FOUND);
    snprintf(f->path[f->n], sizeof(f->path[0]), "%s", path);
    snprintf(f->why[f->n], sizeof(f->why[0]), "%s", why);
    f->n++;
}

/* What tc_trust_check() finds for 'path' with the user USER_UID in USER_GID. */
static found_t
check(const char *path)
{
    gid_t groups[] = {USER_GID};
    tc_trust_t t = {.uid = USER_UID, .groups = groups, .ngroups = 1};
    found_t f = {0};
    size_t n = tc_trust_check(&t, path, collect, &f);
    assert_int_equal(n, f.n);
    return f;
}

/* 'base'/'name', made as root's with 'mode', then given to 'uid' and 'gid'. */
static const char *
make(const char *name, bool dir, mode_t mode, uid_t uid, gid_t gid)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", base, name);
    if (dir) {
        assert_int_equal(mkdir(path, 0755), 0);
    } else {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fclose(f), 0);
    }
    assert_int_equal(chown(path, uid, gid), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void
assert_found(const found_t *f, size_t i, const char *name, const char *why)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", base, name);
    assert_true(i < f->n);
    assert_string_equal(f->path[i], path);
    assert_string_equal(f->why[i], why);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        return 0;
    }
    snprintf(base, sizeof(base), "/tmp/tc-test-trust-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(base));
    /* as an operator's folder: root's, readable by all, in /tmp (sticky, root's) */
    assert_int_equal(chmod(base, 0755), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    if (geteuid() == 0) {
        assert_int_equal(nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    }
    return 0;
}

#define NEEDS_ROOT()                                                                               \
    do {                                                                                           \
        if (geteuid() != 0) {                                                                      \
            print_message("skipped: needs root to give files to another user\n");                  \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static void
test_roots_files_in_roots_folders_are_not_named(void **state)
{
    (void)state;
    NEEDS_ROOT();
    make("app", true, 0755, 0, 0);
    const char *file = make("app/thriftcorn.lua", false, 0644, 0, 0);
    found_t f = check(file);
    assert_int_equal(f.n, 0);
}

static void
test_folder_owned_by_the_user_is_named_even_read_only(void **state)
{
    (void)state;
    NEEDS_ROOT();
    make("app", true, 0555, USER_UID, USER_GID); /* its owner may chmod it */
    const char *file = make("app/thriftcorn.lua", false, 0644, 0, 0);
    found_t f = check(file);
    assert_int_equal(f.n, 1);
    assert_found(&f, 0, "app", "owned by it");
}

static void
test_file_owned_by_the_user_is_named(void **state)
{
    (void)state;
    NEEDS_ROOT();
    make("app", true, 0755, 0, 0);
    const char *file = make("app/svc.thrift", false, 0444, USER_UID, 0);
    found_t f = check(file);
    assert_int_equal(f.n, 1);
    assert_found(&f, 0, "app/svc.thrift", "owned by it");
}

static void
test_group_writable_counts_only_for_the_users_groups(void **state)
{
    (void)state;
    NEEDS_ROOT();
    make("app", true, 0775, 0, USER_GID);
    make("app/other", true, 0775, 0, OTHER_GID);
    const char *file = make("app/other/thriftcorn.lua", false, 0664, 0, OTHER_GID);
    found_t f = check(file);
    assert_int_equal(f.n, 1);
    char why[128];
    struct group *gr = getgrgid(USER_GID); /* NOLINT(concurrency-mt-unsafe) */
    if (gr != NULL) {
        snprintf(why, sizeof(why), "group-writable by group %s", gr->gr_name);
    } else {
        snprintf(why, sizeof(why), "group-writable by group %d", USER_GID);
    }
    assert_found(&f, 0, "app", why);
}

static void
test_world_writable_file_and_folder_are_named(void **state)
{
    (void)state;
    NEEDS_ROOT();
    make("app", true, 0777, 0, 0);
    const char *file = make("app/thriftcorn.lua", false, 0666, 0, 0);
    found_t f = check(file);
    assert_int_equal(f.n, 2);
    assert_found(&f, 0, "app/thriftcorn.lua", "world-writable");
    assert_found(&f, 1, "app", "world-writable");
}

static void
test_sticky_folder_guards_only_what_the_user_does_not_own(void **state)
{
    (void)state;
    NEEDS_ROOT();
    make("tmp", true, 01777, 0, 0);
    make("tmp/app", true, 0755, 0, 0);
    const char *file = make("tmp/app/thriftcorn.lua", false, 0644, 0, 0);
    found_t f = check(file);
    assert_int_equal(f.n, 0);

    /* its own entry in a sticky folder it may write: it may rename it away */
    make("tmp/mine", true, 0755, USER_UID, USER_GID);
    file = make("tmp/mine/thriftcorn.lua", false, 0644, 0, 0);
    f = check(file);
    assert_int_equal(f.n, 1);
    assert_found(&f, 0, "tmp/mine", "owned by it");

    /* a sticky folder of its own guards nothing: it may remove the sticky bit */
    make("own", true, 01755, USER_UID, USER_GID);
    file = make("own/thriftcorn.lua", false, 0644, 0, 0);
    f = check(file);
    assert_int_equal(f.n, 1);
    assert_found(&f, 0, "own", "owned by it");
}

static void
test_symlink_is_followed_and_its_own_folders_count(void **state)
{
    (void)state;
    NEEDS_ROOT();
    /* root's link to a file in the user's folder: the folder the file is in counts */
    make("release", true, 0755, USER_UID, USER_GID);
    const char *file = make("release/thriftcorn.lua", false, 0644, 0, 0);
    char target[256];
    snprintf(target, sizeof(target), "%s", file);
    char link[256];
    snprintf(link, sizeof(link), "%s/current.lua", base);
    assert_int_equal(symlink(target, link), 0);
    found_t f = check(link);
    assert_int_equal(f.n, 1);
    assert_found(&f, 0, "release", "owned by it");

    /* a link of the user's in a sticky folder: it may replace the link */
    make("tmp", true, 01777, 0, 0);
    make("app", true, 0755, 0, 0);
    file = make("app/thriftcorn.lua", false, 0644, 0, 0);
    snprintf(target, sizeof(target), "%s", file);
    snprintf(link, sizeof(link), "%s/tmp/current.lua", base);
    assert_int_equal(symlink(target, link), 0);
    f = check(link);
    assert_int_equal(f.n, 0); /* root's link */
    assert_int_equal(lchown(link, USER_UID, USER_GID), 0);
    f = check(link);
    assert_int_equal(f.n, 1);
    assert_found(&f, 0, "tmp/current.lua", "owned by it");

    /* in a folder it may write that is not sticky, the folder is named */
    snprintf(target, sizeof(target), "%s/tmp", base);
    assert_int_equal(chmod(target, 0777), 0);
    f = check(link);
    assert_int_equal(f.n, 1);
    assert_found(&f, 0, "tmp", "world-writable");
}

static void
test_groups_are_those_initgroups_gives(void **state)
{
    (void)state;
    struct group *gr = getgrgid(USER_GID); /* NOLINT(concurrency-mt-unsafe) */
    if (gr == NULL) {
        print_message("skipped: no group %d in the group database\n", USER_GID);
        skip();
    }
    /* a named user: its group and its supplementary groups */
    char user[] = "root";
    tc_ids_t ids = {.set_uid = true, .set_gid = true, .uid = 0, .gid = USER_GID, .user = user};
    tc_trust_t t;
    tc_trust_init(&t, &ids);
    bool has = false;
    for (size_t i = 0; i < t.ngroups; i++) {
        has = has || t.groups[i] == USER_GID;
    }
    assert_true(has);
    tc_trust_deinit(&t);

    /* an id without a name: only its group, as setgroups() gives it */
    ids.user = NULL;
    ids.uid = USER_UID;
    tc_trust_init(&t, &ids);
    assert_int_equal(t.ngroups, 1);
    assert_int_equal(t.groups[0], USER_GID);
    tc_trust_deinit(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roots_files_in_roots_folders_are_not_named, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_folder_owned_by_the_user_is_named_even_read_only,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_owned_by_the_user_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_writable_counts_only_for_the_users_groups, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_world_writable_file_and_folder_are_named, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sticky_folder_guards_only_what_the_user_does_not_own,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_is_followed_and_its_own_folders_count, setup,
                                        teardown),
        cmocka_unit_test(test_groups_are_those_initgroups_gives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
