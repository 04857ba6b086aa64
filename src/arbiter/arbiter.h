/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter: binds the listeners, forks the workers, keeps them alive and
 * acts on the operator's signals. It never runs handler code.
 */
#ifndef TC_ARBITER_ARBITER_H
#define TC_ARBITER_ARBITER_H

#include "config/config.h"

/*
 * Serve 'cfg' until told to stop. Returns the process exit status: 0 after
 * a requested stop, 1 when the listeners cannot be opened or the workers
 * cannot boot. Ownership: borrows 'cfg'.
 */
int tc_arbiter_run(const tc_config_t *cfg);

#endif /* TC_ARBITER_ARBITER_H */
