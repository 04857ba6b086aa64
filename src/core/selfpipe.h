/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process's signals as a self-pipe: a handler only writes the signal's
 * number to a pipe, and the process's loop reads them in arrival order. The
 * arbiter (arbiter/signals.c) and a worker's main thread (worker/worker.c) wait on it.
 */
#ifndef TC_CORE_SELFPIPE_H
#define TC_CORE_SELFPIPE_H

#include "core/common.h"

/*
 * Make the process's one pipe, both ends non-blocking and close-on-exec. It
 * must not be open already (it may be again after tc_selfpipe_close()).
 * Returns TC_OK or -errno.
 */
int tc_selfpipe_open(void) TC_NODISCARD;

/* Close the pipe, if open: a handler of tc_selfpipe_catch() then writes nowhere. */
void tc_selfpipe_close(void);

/*
 * Pass 'sig' on to the pipe from now on. The handler writes the number as
 * one byte and leaves errno as it found it; a full pipe (64 KiB unread)
 * drops the byte rather than block. SA_RESTART; for SIGCHLD, SA_NOCLDSTOP.
 */
void tc_selfpipe_catch(int sig);

/*
 * Ignore 'sig' (SIGPIPE, SIGXFSZ: a write then fails with EPIPE or EFBIG)
 * by a handler that does nothing: unlike SIG_IGN, a program the process
 * executes gets it back at its default.
 */
void tc_selfpipe_ignore(int sig);

/* 'sig' back to its default action. */
void tc_selfpipe_default(int sig);

/*
 * Wait up to 'timeout_ns' nanoseconds (negative: no limit) for the pipe,
 * then read up to 'cap' signals (at most 64) into 'sigs', oldest first.
 * Returns how many (0: none came), or -errno; -EINTR when a signal handler
 * interrupted the wait, before anything was read.
 */
int tc_selfpipe_wait(int *sigs, int cap, long long timeout_ns) TC_NODISCARD;

/*
 * As tc_selfpipe_wait(), and return (0 when no signal came) when 'fd'
 * (-1: none) is readable or at its end too; the caller reads it.
 */
int tc_selfpipe_wait_fd(int *sigs, int cap, long long timeout_ns, int fd) TC_NODISCARD;

/* Read up to 'cap' signals (at most 64) already in the pipe, without waiting. As above. */
int tc_selfpipe_read(int *sigs, int cap) TC_NODISCARD;

/*
 * Wake the loop waiting on the pipe from any thread, as a signal would:
 * writes TC_SELFPIPE_WAKE (no signal's number), which the loop reads as
 * "look now". Async-signal-safe; dropped, as a signal's byte, when the
 * pipe is full (the loop is awake then) or not open.
 */
#define TC_SELFPIPE_WAKE 0
void tc_selfpipe_wake(void);

#endif /* TC_CORE_SELFPIPE_H */
