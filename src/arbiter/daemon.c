/* SPDX-License-Identifier: Apache-2.0 */
/* Daemonizing and dropping privileges, the classic Unix way. */
#include "arbiter/daemon.h"

#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A decimal id, or -1 when 's' is not one. */
static long
parse_id(const char *s)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }
    long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > 0x7fffffffL / 10) {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    return v;
}

int
tc_daemon_ids(const char *user, const char *group, tc_daemon_ids_t *ids, tc_err_t *err)
{
    memset(ids, 0, sizeof(*ids));
    char buf[16384];
    if (user != NULL) {
        struct passwd pw;
        struct passwd *res = NULL;
        long id = parse_id(user);
        int e = id >= 0 ? getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &res)
                        : getpwnam_r(user, &pw, buf, sizeof(buf), &res);
        if (res == NULL && id < 0) {
            return tc_err_set(err, e ? -e : TC_ENOTFOUND, "user '%s' not found", user);
        }
        ids->set_uid = true;
        ids->uid = res != NULL ? res->pw_uid : (uid_t)id;
        if (res != NULL) {
            ids->user = tc_xstrdup(res->pw_name);
            ids->set_gid = true;
            ids->gid = res->pw_gid;
        }
    }
    if (group != NULL) {
        struct group gr;
        struct group *res = NULL;
        long id = parse_id(group);
        int e = id >= 0 ? getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &res)
                        : getgrnam_r(group, &gr, buf, sizeof(buf), &res);
        if (res == NULL && id < 0) {
            tc_daemon_ids_deinit(ids);
            return tc_err_set(err, e ? -e : TC_ENOTFOUND, "group '%s' not found", group);
        }
        ids->set_gid = true;
        ids->gid = res != NULL ? res->gr_gid : (gid_t)id;
    }
    return TC_OK;
}

void
tc_daemon_ids_deinit(tc_daemon_ids_t *ids)
{
    free(ids->user);
    ids->user = NULL;
}

int
tc_daemon_setids(const tc_daemon_ids_t *ids, tc_err_t *err)
{
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
    tc_daemon_ids_t ids = {0};
    int rc = tc_daemon_ids(user, group, &ids, err);
    if (rc == TC_OK) {
        rc = tc_daemon_setids(&ids, err);
    }
    tc_daemon_ids_deinit(&ids);
    return rc;
}
