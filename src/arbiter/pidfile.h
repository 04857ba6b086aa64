/* SPDX-License-Identifier: Apache-2.0 */
/* The arbiter's pidfile: written at start, renamed on upgrade, removed at exit. */
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

#endif /* TC_ARBITER_PIDFILE_H */
