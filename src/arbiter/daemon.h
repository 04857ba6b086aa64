/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process set-up of a Unix server: detaching into the background (daemon)
 * and the user and group the workers run as.
 */
#ifndef TC_ARBITER_DAEMON_H
#define TC_ARBITER_DAEMON_H

#include "core/err.h"

#include <stdbool.h>
#include <sys/types.h>

/* The ids 'user' and 'group' name, resolved once in the arbiter. */
typedef struct tc_daemon_ids {
    bool set_uid;
    bool set_gid;
    uid_t uid;
    gid_t gid;
    char *user; /* the user's name, for initgroups(); NULL if unknown */
} tc_daemon_ids_t;

/*
 * Resolve 'user' and 'group' (names or decimal ids; NULL: unchanged). A user
 * without a group runs with the user's primary group. Returns TC_OK or a
 * negative code with 'err' filled ("user 'nobdy' not found").
 */
int tc_daemon_ids(const char *user, const char *group, tc_daemon_ids_t *ids,
                  tc_err_t *err) TC_NODISCARD;

/* Free what tc_daemon_ids() allocated. */
void tc_daemon_ids_deinit(tc_daemon_ids_t *ids);

/*
 * Become 'ids': supplementary groups, group, then user. A no-op when
 * neither is set. Returns TC_OK or -errno with 'err' filled.
 */
int tc_daemon_setids(const tc_daemon_ids_t *ids, tc_err_t *err) TC_NODISCARD;

/*
 * tc_daemon_ids() then tc_daemon_setids(): become 'user' and 'group' now,
 * as a worker does (the checks that load handler code before workers do).
 * Returns TC_OK or a negative code with 'err' filled.
 */
int tc_daemon_become(const char *user, const char *group, tc_err_t *err) TC_NODISCARD;

/*
 * Detach: fork twice with a setsid() between (the process that returns is
 * no session leader and has no terminal), and point stdin, stdout and stderr
 * at /dev/null. The original process exits 0. Returns TC_OK or -errno.
 */
int tc_daemon_detach(void) TC_NODISCARD;

#endif /* TC_ARBITER_DAEMON_H */
