/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User and group names (or decimal ids) resolved through the system's
 * databases (getpwnam_r, getgrnam_r): for the workers' identity, and for
 * the config, which refuses a name the system does not know.
 */
#ifndef TC_CORE_IDS_H
#define TC_CORE_IDS_H

#include "core/err.h"

#include <stdbool.h>
#include <sys/types.h>

/* The ids 'user' and 'group' name (the arbiter resolves them once per generation). */
typedef struct tc_ids {
    bool set_uid;
    bool set_gid;
    uid_t uid;
    gid_t gid;
    char *user;  /* the user's name, for initgroups(); NULL if unknown */
    char *group; /* the group 'group' named (its name, else its id); NULL without 'group' */
} tc_ids_t;

/*
 * Resolve 'user' and 'group' (names or decimal ids; NULL: unchanged). A user
 * without a group runs with the user's primary group. Returns TC_OK or a
 * negative code with 'err' filled ("user 'nobdy' not found").
 */
int tc_ids_resolve(const char *user, const char *group, tc_ids_t *ids, tc_err_t *err) TC_NODISCARD;

/* Free what tc_ids_resolve() allocated. */
void tc_ids_deinit(tc_ids_t *ids);

#endif /* TC_CORE_IDS_H */
