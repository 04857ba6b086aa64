/* SPDX-License-Identifier: Apache-2.0 */
/* Daemonizing and dropping privileges, the classic Unix way. */
#include "arbiter/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

static int
setids(const tc_ids_t *ids, tc_err_t *err)
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
                          "user %d is not in the user database, so it has no group: set 'group' "
                          "too",
                          (int)ids->uid);
    }
    if (ids->set_gid) {
        int rc = ids->user != NULL ? initgroups(ids->user, ids->gid) : setgroups(1, &ids->gid);
        if (rc < 0) {
            rc = -errno;
            return tc_err_set(err, rc, "cannot set the supplementary groups: %s", tc_strerror(rc));
        }
        if (setgid(ids->gid) < 0) {
            rc = -errno;
            return tc_err_set(err, rc, "cannot set group %d: %s", (int)ids->gid, tc_strerror(rc));
        }
    }
    if (ids->set_uid && setuid(ids->uid) < 0) {
        int rc = -errno;
        return tc_err_set(err, rc, "cannot set user %d: %s", (int)ids->uid, tc_strerror(rc));
    }
    return TC_OK;
}

int
tc_daemon_setids(const tc_ids_t *ids, tc_err_t *err)
{
    int death = 0;
    (void)prctl(PR_GET_PDEATHSIG, &death);
    int rc = setids(ids, err);
    if (death != 0 && (ids->set_gid || ids->set_uid)) {
        (void)prctl(PR_SET_PDEATHSIG, death);
    }
    return rc;
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
tc_daemon_become(const char *user, const char *group, tc_err_t *err)
{
    tc_ids_t ids = {0};
    int rc = tc_ids_resolve(user, group, &ids, err);
    if (rc == TC_OK) {
        rc = tc_daemon_setids(&ids, err);
    }
    tc_ids_deinit(&ids);
    return rc;
}
