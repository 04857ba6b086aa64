/* SPDX-License-Identifier: Apache-2.0 */
/* Daemonizing and dropping privileges, the classic Unix way. */
#include "arbiter/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

/*
 * The settings 'ids' came from, for an error when where they were set is
 * not known: "'user' app, 'group' www" ('user' by its id when the user
 * database has no name for it).
 */
static void
describe(const tc_ids_t *ids, char *buf, size_t cap)
{
    int n = 0;
    if (ids->set_uid) {
        n = ids->user != NULL ? snprintf(buf, cap, "'user' %s", ids->user)
                              : snprintf(buf, cap, "'user' %d", (int)ids->uid);
    }
    n = n > 0 && (size_t)n < cap ? n : 0;
    if (ids->group != NULL) {
        (void)snprintf(buf + n, cap - (size_t)n, "%s'group' %s", n > 0 ? ", " : "", ids->group);
    }
}

/*
 * 'step' of the switch to 'ids' failed with 'rc': say so, naming the settings
 * ('named' when not NULL, else as describe() does).
 */
static int
setids_failed(const tc_ids_t *ids, const char *named, const char *step, int rc, tc_err_t *err)
{
    char who[640];
    who[0] = '\0';
    if (named != NULL) {
        (void)snprintf(who, sizeof(who), "%s", named);
    } else {
        describe(ids, who, sizeof(who));
    }
    /* the usual mistake: a server started without root, asked to switch */
    bool unprivileged = rc == -EPERM && geteuid() != 0;
    return tc_err_set(err, rc, "%s: cannot set %s: %s%s", who, step, tc_strerror(rc),
                      unprivileged ? " (only a server started as root may switch to another user "
                                     "or group)"
                                   : "");
}

static int
setids(const tc_ids_t *ids, const char *named, tc_err_t *err)
{
    /* not root, and already the user and group asked for: nothing to change (nor can it) */
    if (geteuid() != 0 && (!ids->set_uid || ids->uid == geteuid()) &&
        (!ids->set_gid || ids->gid == getegid())) {
        return TC_OK;
    }
    /*
     * a user id the user database does not know has no primary group: the
     * process would keep its group (root's) and its supplementary groups
     */
    if (ids->set_uid && !ids->set_gid && ids->uid != getuid()) {
        return tc_err_set(err, TC_EINVAL,
                          "%s%suser %d is not in the user database, so it has no group: set "
                          "'group' too",
                          named != NULL ? named : "", named != NULL ? ": " : "", (int)ids->uid);
    }
    /* the groups first, while still root: after setuid() no change is allowed */
    if (ids->set_gid) {
        int rc = ids->user != NULL ? initgroups(ids->user, ids->gid) : setgroups(1, &ids->gid);
        if (rc < 0) {
            return setids_failed(ids, named, "the supplementary groups", -errno, err);
        }
        if (setgid(ids->gid) < 0) {
            return setids_failed(ids, named, "the group", -errno, err);
        }
    }
    if (ids->set_uid && setuid(ids->uid) < 0) {
        return setids_failed(ids, named, "the user", -errno, err);
    }
    return TC_OK;
}

/* setids(), keeping the parent-death signal the switch clears */
static int
switch_ids(const tc_ids_t *ids, const char *named, tc_err_t *err)
{
    int death = 0;
    (void)prctl(PR_GET_PDEATHSIG, &death);
    int rc = setids(ids, named, err);
    if (death != 0 && (ids->set_gid || ids->set_uid)) {
        (void)prctl(PR_SET_PDEATHSIG, death);
    }
    return rc;
}

int
tc_daemon_setids(const tc_ids_t *ids, const char *named, tc_err_t *err)
{
    return switch_ids(ids, named, err);
}

int
tc_daemon_detach(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        return -errno;
    }
    if (pid > 0) {
        _exit(0);
    }
    if (setsid() < 0) {
        return -errno;
    }
    pid = fork();
    if (pid < 0) {
        return -errno;
    }
    if (pid > 0) {
        _exit(0);
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0) {
        return -errno;
    }
    for (int i = 0; i < 3; i++) {
        if (fd != i && dup2(fd, i) < 0) {
            int rc = -errno;
            (void)close(fd);
            return rc;
        }
    }
    if (fd > 2) {
        (void)close(fd);
    }
    return TC_OK;
}

int
tc_daemon_become(const char *user, const char *group, const char *named, tc_err_t *err)
{
    tc_ids_t ids = {0};
    int rc = tc_ids_resolve(user, group, &ids, err);
    if (rc == TC_OK) {
        rc = switch_ids(&ids, named, err);
    }
    tc_ids_deinit(&ids);
    return rc;
}
