/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter's signals as a self-pipe: handlers only write the signal number
 * to a pipe, and the arbiter's loop reads them in arrival order.
 */
#ifndef TC_ARBITER_SIGNALS_H
#define TC_ARBITER_SIGNALS_H

#include "core/common.h"

#include <signal.h>
#include <sys/types.h>

/*
 * Install the handlers for SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN,
 * SIGTTOU, SIGUSR1, SIGUSR2 and SIGWINCH, unblock them, and ignore SIGPIPE and SIGXFSZ (by a
 * handler that does nothing: a program the arbiter executes gets it back at its default). Returns
 * TC_OK or -errno. Arbiter only, before any fork.
 */
int tc_signals_init(void) TC_NODISCARD;

/*
 * Wait up to 'timeout_ms' (-1: no limit) for signals and store up to 'cap'
 * of them in 'sigs', oldest first; wake too when 'fd' (-1: none) is
 * readable or at its end, which the caller reads. Returns how many
 * signals (0 on timeout, when interrupted, or when only 'fd' woke it), or
 * -errno.
 */
int tc_signals_wait(int *sigs, int cap, int timeout_ms, int fd) TC_NODISCARD;

/*
 * fork() with every signal blocked across it, so that no handler runs in the
 * child. In the child, the dispositions changed by tc_signals_init() are back
 * to their defaults, the pipe is closed and the mask is 'child_mask' (NULL:
 * empty): a signal in it that arrives during or right after the fork waits,
 * pending, instead of meeting its default action (a worker's SIGUSR1 would
 * end it). Returns what fork() returns, or -errno.
 */
pid_t tc_signals_fork(const sigset_t *child_mask);

/*
 * The signals tc_signals_init() handles, into 'set'. Blocked across exec
 * (as the child_mask of tc_signals_fork()), they wait, pending, until the
 * new program's tc_signals_init() unblocks them, instead of meeting their
 * default action while it starts (SIGHUP would end it, SIGTTIN stop it).
 */
void tc_signals_handled(sigset_t *set);

/* Restore the default dispositions and close the pipe. */
void tc_signals_deinit(void);

#endif /* TC_ARBITER_SIGNALS_H */
