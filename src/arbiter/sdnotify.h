/* SPDX-License-Identifier: Apache-2.0 */
/* systemd readiness notification (sd_notify(3)) without libsystemd. */
#ifndef TC_ARBITER_SDNOTIFY_H
#define TC_ARBITER_SDNOTIFY_H

#include <sys/types.h>

/* The longest STATUS= text sent, in bytes: a longer one is cut, "..." marking the cut. */
#define TC_SDNOTIFY_STATUS_MAX 200

/*
 * Take $NOTIFY_SOCKET out of the environment, for tc_sdnotify() alone: the
 * workers and every process the arbiter or they start (hooks, handlers)
 * must not speak for the service, which systemd would hear from any of
 * them with NotifyAccess=all. Arbiter only, at start.
 */
void tc_sdnotify_init(void);

/* In the child about to exec the new arbiter (SIGUSR2): put $NOTIFY_SOCKET back. */
void tc_sdnotify_export(void);

/*
 * Send 'state' ("READY=1", "RELOADING=1", "STOPPING=1") to $NOTIFY_SOCKET
 * as one datagram; "RELOADING=1" goes with "MONOTONIC_USEC=<now>", as
 * sd_notify(3) asks. A no-op when the variable is unset, and in a process
 * that is not the service's main process (see tc_sdnotify_main());
 * failures are ignored (systemd notices a service that never gets ready on
 * its own). Never blocks: a datagram the receiver has no room for is
 * dropped, rather than stall the arbiter behind a reader that stopped.
 */
void tc_sdnotify(const char *state);

/*
 * tc_sdnotify() with "STATUS=<status>" in the same datagram ('state' NULL:
 * the status alone; 'status' NULL: none), which `systemctl status` shows.
 * The status is made one line (control characters become spaces) and cut
 * to TC_SDNOTIFY_STATUS_MAX bytes.
 */
void tc_sdnotify_status(const char *state, const char *status);

/*
 * From now on 'pid' is the service's main process, as systemd has been or
 * will be told by another process: tc_sdnotify() is a no-op in any process
 * but 'pid'. Until the first call, the main process is the one that calls.
 */
void tc_sdnotify_main(pid_t pid);

/*
 * Tell systemd that 'pid' is the service's main process, "MAINPID=<pid>",
 * followed by 'state' and 'status' as tc_sdnotify_status() sends them
 * (either NULL: none) in the same datagram, and remember it
 * as tc_sdnotify_main() does. Sent whichever process is main: systemd
 * takes it from a process other than the main one with NotifyAccess=all.
 */
void tc_sdnotify_mainpid(pid_t pid, const char *state, const char *status);

#endif /* TC_ARBITER_SDNOTIFY_H */
