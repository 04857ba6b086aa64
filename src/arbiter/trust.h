/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What root trusts: the files the arbiter reads or runs as root (the config,
 * the IDL files, the binary SIGUSR2 starts), and whether the workers' user
 * could change them, through the file or any folder on its way to '/'.
 */
#ifndef TC_ARBITER_TRUST_H
#define TC_ARBITER_TRUST_H

#include "config/config.h"
#include "core/ids.h"

#include <stddef.h>
#include <sys/types.h>

/* The workers' identity as a worker has it after its switch (tc_daemon_setids()). */
typedef struct tc_trust {
    uid_t uid;
    gid_t *groups; /* its group and its supplementary groups; owned */
    size_t ngroups;
} tc_trust_t;

/* Called once per path the workers' user could write, with why ("world-writable"). */
/* NOLINTNEXTLINE(readability-identifier-naming): callback types are tc_<name>_cb */
typedef void (*tc_trust_cb)(void *ud, const char *path, const char *why);

/*
 * The identity 'ids' gives a worker: 'uid', and the groups initgroups() gives
 * the user (or only its group when the user has no name). Free it with
 * tc_trust_deinit().
 */
void tc_trust_init(tc_trust_t *t, const tc_ids_t *ids);

/* Free what tc_trust_init() allocated. */
void tc_trust_deinit(tc_trust_t *t);

/*
 * Call 'cb' for the file 'path' and each folder on its way to '/' (as named,
 * and as resolved when a symlink is on the way) that the workers' user 't'
 * could write, so as to replace the file: owned by it, group-writable by a
 * group of its, or world-writable. A folder with the sticky bit that 't'
 * does not own is left out when the entry in it on the way is not its
 * either (as '/tmp': it may not remove or rename what another owns). Each
 * file is named once. Returns how many were.
 */
size_t tc_trust_check(const tc_trust_t *t, const char *path, tc_trust_cb cb, void *ud);

/*
 * Started as root with 'user' set: one warning per path that the workers'
 * user 'ids' could write, for the config file of 'cfg', the Lua files it
 * loaded as it was evaluated ('lua_files'), its IDL files and what they
 * include ('idl_files'), and the binary 'exe' (SIGUSR2's); each file once.
 * Nothing otherwise. Logs; never fails.
 */
void tc_trust_warn(const tc_config_t *cfg, const tc_ids_t *ids, const char *exe);

#endif /* TC_ARBITER_TRUST_H */
