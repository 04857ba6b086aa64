/* SPDX-License-Identifier: Apache-2.0 */
/* User and group names (or decimal ids) resolved through the system's databases. */
#include "core/ids.h"

#include "core/alloc.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

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
tc_ids_resolve(const char *user, const char *group, tc_ids_t *ids, tc_err_t *err)
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
            tc_ids_deinit(ids);
            return tc_err_set(err, e ? -e : TC_ENOTFOUND, "group '%s' not found", group);
        }
        ids->set_gid = true;
        ids->gid = res != NULL ? res->gr_gid : (gid_t)id;
        ids->group = tc_xstrdup(res != NULL ? res->gr_name : group);
    }
    return TC_OK;
}

void
tc_ids_deinit(tc_ids_t *ids)
{
    free(ids->user);
    free(ids->group);
    ids->user = NULL;
    ids->group = NULL;
}
