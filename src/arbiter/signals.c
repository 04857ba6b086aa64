/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter's signals: which ones it handles, passed on through the
 * self-pipe of core/selfpipe.c, and a fork that keeps its handlers out of
 * the child.
 */
#include "arbiter/signals.h"

#include "core/selfpipe.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static const int handled[] = {SIGCHLD, SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
                              SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH};

/* Back to the state before tc_signals_init(), minus the mask. */
static void
reset_dispositions(void)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(handled); i++) {
        tc_selfpipe_default(handled[i]);
    }
    tc_selfpipe_default(SIGPIPE);
    tc_selfpipe_default(SIGXFSZ);
}

int
tc_signals_init(void)
{
    int rc = tc_selfpipe_open();
    if (rc != TC_OK) {
        return rc;
    }
    sigset_t set;
    tc_signals_handled(&set);
    for (size_t i = 0; i < TC_ARRAY_LEN(handled); i++) {
        tc_selfpipe_catch(handled[i]);
    }
    /* a log over a file size limit loses lines, not the arbiter */
    tc_selfpipe_ignore(SIGPIPE);
    tc_selfpipe_ignore(SIGXFSZ);
    /* a parent may have started us with some of them blocked (an upgrade does) */
    int e = pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    if (e != 0) {
        tc_signals_deinit();
        return -e;
    }
    return TC_OK;
}

int
tc_signals_wait(int *sigs, int cap, int timeout_ms, int fd)
{
    long long ns = timeout_ms < 0 ? -1 : timeout_ms * 1000000LL;
    int n = tc_selfpipe_wait_fd(sigs, cap, ns, fd);
    /* interrupted: as a timeout, and the loop comes back for the byte at once */
    return n == -EINTR ? 0 : n;
}

void
tc_signals_handled(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < TC_ARRAY_LEN(handled); i++) {
        sigaddset(set, handled[i]);
    }
}

pid_t
tc_signals_fork(const sigset_t *child_mask)
{
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    int e = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (e != 0) {
        return -e;
    }
    pid_t pid = fork();
    int saved = errno;
    if (pid == 0) {
        /* no handler of ours may run here: it would write to the arbiter's pipe */
        reset_dispositions();
        tc_selfpipe_close();
        if (child_mask != NULL) {
            old = *child_mask;
        } else {
            sigemptyset(&old);
        }
    }
    /* cannot fail: the set was accepted above */
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -saved : pid;
}

void
tc_signals_deinit(void)
{
    reset_dispositions();
    tc_selfpipe_close();
}
