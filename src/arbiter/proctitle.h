/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process titles as ps(1) shows them ("thriftcorn: worker [thriftcorn.lua]"):
 * the memory of argv (and of the environment after it) is reused for the
 * title, the environment having been moved to the heap first.
 */
#ifndef TC_ARBITER_PROCTITLE_H
#define TC_ARBITER_PROCTITLE_H

#include "core/common.h"

/*
 * Call once, first thing in main(): saves a copy of argv (for the re-exec
 * of SIGUSR2) and moves the environment out of the way.
 */
void tc_proctitle_init(int argc, char **argv);

/* The command line as it was at start, NULL-terminated; NULL before init. */
char **tc_proctitle_argv(void);

/* Set the title. A no-op before tc_proctitle_init(). */
void tc_proctitle_set(const char *fmt, ...) TC_PRINTF(1, 2);

#endif /* TC_ARBITER_PROCTITLE_H */
