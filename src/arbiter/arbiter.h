/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter: binds the listeners, forks the workers, keeps them alive and
 * acts on the operator's signals. It never runs handler code.
 */
#ifndef TC_ARBITER_ARBITER_H
#define TC_ARBITER_ARBITER_H

#include "config/config.h"

/* How the arbiter was started: what a reload and an upgrade repeat. All borrowed. */
typedef struct tc_arbiter_opts {
    const char *config_path; /* as given on the command line */
    const tc_config_override_t *overrides;
    size_t noverrides;
    char **argv; /* the command line, NULL-terminated: SIGUSR2 executes it again */
} tc_arbiter_opts_t;

/*
 * Serve 'cfg' until told to stop. Returns the process exit status: 0 after
 * a requested stop, 1 when the listeners cannot be opened or the workers
 * cannot boot. Ownership: takes 'cfg' (a reload replaces and frees it).
 */
int tc_arbiter_run(tc_config_t *cfg, const tc_arbiter_opts_t *opts);

#endif /* TC_ARBITER_ARBITER_H */
