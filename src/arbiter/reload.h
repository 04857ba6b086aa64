/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check before a reload: a short-lived child evaluates the config again
 * and loads the IDL and the handler code once, as a worker would, and
 * reports to the arbiter through a pipe. The arbiter never runs handler code.
 */
#ifndef TC_ARBITER_RELOAD_H
#define TC_ARBITER_RELOAD_H

#include "config/config.h"

#include <sys/types.h>

typedef struct tc_reload {
    pid_t pid; /* the checking child; 0: none */
    int fd;    /* read end of its report pipe; -1: none */
} tc_reload_t;

/*
 * Fork the checker for 'path' with the command-line 'overrides'; 'umask0'
 * is the umask of a config that sets none; the checker closes 'close_fds'
 * (the listeners) and dies with its parent. Returns TC_OK or -errno. The
 * caller reaps r->pid and then calls tc_reload_done().
 */
int tc_reload_start(tc_reload_t *r, const char *path, const tc_config_override_t *overrides,
                    size_t n, mode_t umask0, const int *close_fds, size_t nclose) TC_NODISCARD;

/*
 * The checker ended with wait status 'status': TC_OK when the config, the
 * IDL and the handler code all loaded; otherwise TC_EINVAL with what failed
 * and where in 'err'. Closes the pipe.
 */
int tc_reload_done(tc_reload_t *r, int status, tc_err_t *err) TC_NODISCARD;

#endif /* TC_ARBITER_RELOAD_H */
