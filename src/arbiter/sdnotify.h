/* SPDX-License-Identifier: Apache-2.0 */
/* systemd readiness notification (sd_notify(3)) without libsystemd. */
#ifndef TC_ARBITER_SDNOTIFY_H
#define TC_ARBITER_SDNOTIFY_H

/*
 * Send 'state' ("READY=1", "RELOADING=1", "STOPPING=1") to $NOTIFY_SOCKET
 * as one datagram. A no-op when the variable is unset; failures are ignored
 * (systemd notices a service that never gets ready on its own).
 */
void tc_sdnotify(const char *state);

#endif /* TC_ARBITER_SDNOTIFY_H */
