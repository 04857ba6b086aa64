/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check before a reload: a short-lived child evaluates the config again
 * and loads the IDL and the handler code once, as a worker would, and
 * reports to the arbiter through a pipe. The arbiter never runs handler code.
 */
#ifndef TC_ARBITER_RELOAD_H
#define TC_ARBITER_RELOAD_H

#include "config/config.h"

#include <stdbool.h>
#include <sys/types.h>

/* The largest 'timeout' a config holds (a year), as tc_reload_timeout() reads it. */
#define TC_RELOAD_TIMEOUT_MAX 31536000.0

/* The checker's step, in memory it shares with the arbiter (reload.c). */
typedef struct tc_reload_stage tc_reload_stage_t;
/* The checked config's 'timeout', in memory the checker unmaps before handler code loads. */
typedef struct tc_reload_limit tc_reload_limit_t;

typedef struct tc_reload {
    pid_t pid; /* the checking child; 0: none */
    int fd;    /* read end of its report pipe, non-blocking; -1: none */
    /*
     * Read end of the pipe on which the child says, with one byte, that
     * 'limit' holds the checked config's 'timeout', non-blocking: the
     * arbiter's loop waits on it (with its signals) rather than look at
     * 'limit' at intervals. The child closes its end before any handler
     * code loads. A byte carries nothing but "look now": whoever writes
     * to it can wake the arbiter sooner, never make it wait longer.
     * -1: none, or no longer watched (see tc_reload_timeout()).
     */
    int wake;
    /*
     * What the child is doing, which it writes before each step into
     * memory it shares with the arbiter (read once it has ended): a check
     * that crashed or called exit() is reported with the step it was
     * running. NULL when no check began or after tc_reload_release().
     */
    tc_reload_stage_t *stage;
    /*
     * The 'timeout' of the config checked, which the child writes once it
     * has evaluated that config and then unmaps, before it loads any
     * handler code: the code checked cannot change it. NULL as 'stage'.
     */
    tc_reload_limit_t *limit;
    /*
     * The config file as read when the check began: its real path and
     * text, checked by the child and then applied by the arbiter (the file
     * may change meanwhile). NULL when no check began or after
     * tc_reload_release().
     */
    char *path;
    char *text;
    size_t len;
} tc_reload_t;

/*
 * Read the config file 'path' (into r->path and r->text) and fork the
 * checker for that text with the command-line 'overrides'; 'umask0' is the
 * umask of a config that sets none; the checker closes 'close_fds' (the
 * listeners) and dies with its parent, taking its process group (what the
 * checked code started) along. Returns TC_OK, or an error with
 * 'err' filled (the file cannot be read, the fork failed). Once r->pid has
 * ended, the caller calls tc_reload_kill(), reaps it, calls
 * tc_reload_done(), loads the config from r->path and r->text for the new
 * generation if the check passed, then tc_reload_release().
 */
int tc_reload_start(tc_reload_t *r, const char *path, const tc_config_override_t *overrides,
                    size_t n, mode_t umask0, const int *close_fds, size_t nclose,
                    tc_err_t *err) TC_NODISCARD;

/*
 * SIGKILL to the checker r->pid, if any, and to the processes the checked
 * code started (its process group: the checker runs in a session of its
 * own). Called when the checker has ended, before it is reaped (a zombie
 * keeps its group's id from being reused), and to end it early.
 */
void tc_reload_kill(const tc_reload_t *r);

/* Free the text and the shared step of the last check. Safe to call again. */
void tc_reload_release(tc_reload_t *r);

/*
 * The checker ended with wait status 'status': TC_OK when the config, the
 * IDL and the handler code all loaded; otherwise TC_EINVAL with what failed
 * and where in 'err', or for a checker that crashed or exited (even with
 * status 0) before the end, the step it was running ("loading the
 * handlers of service NAME (handler PATH) crashed (signal 11)"). Closes
 * the pipes (r->fd, r->wake).
 */
int tc_reload_done(tc_reload_t *r, int status, tc_err_t *err) TC_NODISCARD;

/*
 * The 'timeout' of the config being checked (0: none), into '*timeout':
 * true once the checker has evaluated that config, false before (or
 * when what it wrote is no 'timeout' a config could hold). Read while
 * the checker runs, before tc_reload_release(). Also takes what came on
 * r->wake, and closes it (-1) once the 'timeout' is known or the pipe is
 * at its end: nothing more comes to wait for.
 */
bool tc_reload_timeout(tc_reload_t *r, double *timeout) TC_NODISCARD;

/*
 * The step the checker last began ("loading the handlers of service NAME
 * (handler PATH)", "evaluating the config PATH"), copied into 'buf' of
 * 'size' bytes; "the check" when it began none. Read after the checker
 * ended, before tc_reload_release().
 */
void tc_reload_step(const tc_reload_t *r, char *buf, size_t size);

#endif /* TC_ARBITER_RELOAD_H */
