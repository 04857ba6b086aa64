/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening sockets handed to the arbiter at start: by the arbiter it
 * upgrades (SIGUSR2: THRIFTCORN_FDS) or by systemd (LISTEN_FDS). A bind
 * that matches an inherited socket uses it instead of binding again.
 */
#ifndef TC_ARBITER_INHERIT_H
#define TC_ARBITER_INHERIT_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tc_inherit_fd {
    int fd;
    char *spec;   /* the bind it belongs to */
    bool systemd; /* its socket file, if any, is systemd's */
    bool taken;
    char *unix_path; /* the socket file the old arbiter owned (absolute), or NULL */
    dev_t unix_dev;  /* that file as the old arbiter bound it */
    ino_t unix_ino;
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

/*
 * The inherited descriptor for bind 'spec', or NULL: its 'systemd' tells
 * whose it is, its 'unix_path' the socket file handed over with it.
 * Ownership: borrowed from 'in', until tc_inherit_deinit().
 */
const tc_inherit_fd_t *tc_inherit_take(tc_inherit_t *in, const char *spec);

/*
 * The inherited descriptor bound to the address bind 'spec' names written
 * another way ("localhost:9090" for one bound as "127.0.0.1:9090"), or
 * NULL; never one handed over for a bind of 'cfg' that names an address
 * (that bind's, by its text), but one handed over for a port-0 bind, as
 * "127.0.0.1:0" at 40123 is "127.0.0.1:40123"'s. Ownership: as
 * tc_inherit_take().
 */
const tc_inherit_fd_t *tc_inherit_take_address(tc_inherit_t *in, const char *spec,
                                               const tc_config_t *cfg);

/* Close the descriptors no bind took and free the list. */
void tc_inherit_deinit(tc_inherit_t *in);

/* One listening socket handed to the new arbiter, as tc_inherit_export() describes it. */
typedef struct tc_inherit_out {
    int fd;
    const char *spec;      /* the bind it serves */
    bool systemd;          /* passed by systemd: its file stays systemd's */
    const char *unix_path; /* the socket file this arbiter owns, or NULL */
    dev_t unix_dev;
    ino_t unix_ino; /* 0: no file of ours */
} tc_inherit_out_t;

/*
 * In the child about to exec the new arbiter: keep the 'n' descriptors of
 * 'out' open across exec and describe them in THRIFTCORN_FDS ("3,4") and
 * THRIFTCORN_BIND_<fd>, THRIFTCORN_SYSTEMD_<fd>=1 for those systemd passed
 * (their files stay its), and THRIFTCORN_UNIX_<fd>=DEV:INO:PATH for a
 * socket file this arbiter owns, which the new one then owns (PATH made
 * absolute from the working folder, which the new arbiter may not share).
 */
void tc_inherit_export(const tc_inherit_out_t *out, size_t n);

#endif /* TC_ARBITER_INHERIT_H */
