/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter's pidfile: written at start, moved by a reload that names
 * another, renamed on upgrade, removed at exit.
 */
#ifndef TC_ARBITER_PIDFILE_H
#define TC_ARBITER_PIDFILE_H

#include "core/err.h"

/*
 * Write this process's PID to 'path' (a temporary file renamed into place).
 * Refuses, with 'err' filled, when 'path' names another process that is
 * alive. Returns TC_OK or a negative code.
 */
int tc_pidfile_create(const char *path, tc_err_t *err) TC_NODISCARD;

/* Remove 'path' if it still holds this process's PID. */
void tc_pidfile_remove(const char *path);

/*
 * Move this process's pidfile from 'old' to 'path' (either may be NULL:
 * none): write 'path' as tc_pidfile_create() does, then remove 'old' as
 * tc_pidfile_remove() does, unless it is the file 'path' names. On failure
 * 'old' is left as it was, and 'err' is filled. Returns TC_OK or a
 * negative code.
 */
int tc_pidfile_move(const char *old, const char *path, tc_err_t *err) TC_NODISCARD;

#endif /* TC_ARBITER_PIDFILE_H */
