/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process set-up of a Unix server: detaching into the background (daemon)
 * and the user and group the workers run as.
 */
#ifndef TC_ARBITER_DAEMON_H
#define TC_ARBITER_DAEMON_H

#include "core/err.h"
#include "core/ids.h"

#include <stdbool.h>
#include <sys/types.h>

/*
 * Become 'ids': supplementary groups (the user's, or only the group when
 * the user is not in the user database), group, then user. A no-op when
 * neither is set, or when a process that is not root has those ids
 * already. A user id with no group (a number the user database does not
 * know, and no 'group') is refused, unless it is the process's own: it
 * would keep the group and supplementary groups of root. The kernel
 * clears a parent-death signal when the ids change: it is set again, so a
 * child that follows its arbiter still does (the caller checks getppid()
 * again, as the arbiter may have died in between). A switch that fails
 * is said to be of 'named' ("FILE:LINE: user" ...) when not NULL, else of
 * "'user' NAME, 'group' NAME". Returns TC_OK or a negative code with 'err'
 * filled.
 */
int tc_daemon_setids(const tc_ids_t *ids, const char *named, tc_err_t *err) TC_NODISCARD;

/*
 * tc_ids_resolve() then tc_daemon_setids(): become 'user' and 'group' now,
 * as a worker does (the checks that load handler code before workers do),
 * a failure named as there.
 * Returns TC_OK or a negative code with 'err' filled.
 */
int tc_daemon_become(const char *user, const char *group, const char *named,
                     tc_err_t *err) TC_NODISCARD;

/*
 * Detach: fork twice with a setsid() between (the process that returns is
 * no session leader and has no terminal), and point stdin, stdout and stderr
 * at /dev/null. The original process exits 0. Returns TC_OK or -errno.
 */
int tc_daemon_detach(void) TC_NODISCARD;

#endif /* TC_ARBITER_DAEMON_H */
