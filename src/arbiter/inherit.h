/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening sockets handed to the arbiter at start: by the arbiter it
 * upgrades (SIGUSR2: THRIFTCORN_FDS) or by systemd (LISTEN_FDS). A bind
 * that matches an inherited socket uses it instead of binding again.
 */
#ifndef TC_ARBITER_INHERIT_H
#define TC_ARBITER_INHERIT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tc_inherit_fd {
    int fd;
    char *spec;   /* the bind it belongs to */
    bool systemd; /* its socket file, if any, is systemd's */
    bool taken;
} tc_inherit_fd_t;

typedef struct tc_inherit {
    tc_inherit_fd_t *fds;
    size_t n;
} tc_inherit_t;

/*
 * Read THRIFTCORN_FDS, or LISTEN_FDS when LISTEN_PID is this process
 * (systemd's descriptors from 3 go to 'binds': each to the bind that names
 * it by fd://N or its address, else to one of its kind, else in order),
 * make the descriptors close-on-exec, then remove those variables from the
 * environment.
 */
void tc_inherit_load(tc_inherit_t *in, char *const *binds, size_t nbinds);

/* The inherited descriptor for bind 'spec', or -1; '*systemd' tells whose it is. */
int tc_inherit_take(tc_inherit_t *in, const char *spec, bool *systemd);

/* Close the descriptors no bind took and free the list. */
void tc_inherit_deinit(tc_inherit_t *in);

/*
 * In the child about to exec the new arbiter: keep 'fds' open across exec
 * and describe them in THRIFTCORN_FDS ("3,4") and THRIFTCORN_BIND_<fd>, and
 * THRIFTCORN_SYSTEMD_<fd>=1 for those 'systemd' passed (their files stay its).
 */
void tc_inherit_export(const int *fds, char *const *specs, const bool *systemd, size_t n);

#endif /* TC_ARBITER_INHERIT_H */
