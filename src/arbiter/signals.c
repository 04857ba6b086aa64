/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The self-pipe behind the arbiter's signals: a handler does nothing but
 * write one byte, so all the work happens in the arbiter's loop.
 */
#include "arbiter/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const int handled[] = {SIGCHLD, SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
                              SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH};

/* [0] read by the loop, [1] written by the handler; both non-blocking */
static int sig_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    /* a full pipe drops the byte: the loop is awake and reaps anyway */
    ssize_t w = write(sig_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

/*
 * SIGPIPE and SIGXFSZ: ignored (a write then fails with EPIPE or EFBIG: a
 * log over a file size limit loses lines, not the process), but, unlike
 * SIG_IGN, not by the programs a hook executes
 */
static void
on_ignored(int sig)
{
    (void)sig;
}

static void
set_disposition(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    /* restarting keeps stray EINTRs out of the arbiter; poll() still wakes */
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    /* fails only for an invalid signal number, and these are valid */
    (void)sigaction(sig, &sa, NULL);
}

static void
close_pipe(void)
{
    for (int i = 0; i < 2; i++) {
        if (sig_pipe[i] >= 0) {
            (void)close(sig_pipe[i]);
            sig_pipe[i] = -1;
        }
    }
}

/* Back to the state before tc_signals_init(), minus the mask. */
static void
reset_dispositions(void)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(handled); i++) {
        set_disposition(handled[i], SIG_DFL);
    }
    set_disposition(SIGPIPE, SIG_DFL);
    set_disposition(SIGXFSZ, SIG_DFL);
}

int
tc_signals_init(void)
{
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        return -errno;
    }
    sigset_t set;
    tc_signals_handled(&set);
    for (size_t i = 0; i < TC_ARRAY_LEN(handled); i++) {
        set_disposition(handled[i], on_signal);
    }
    set_disposition(SIGPIPE, on_ignored);
    set_disposition(SIGXFSZ, on_ignored);
    /* a parent may have started us with some of them blocked (an upgrade does) */
    int e = pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    if (e != 0) {
        tc_signals_deinit();
        return -e;
    }
    return TC_OK;
}

int
tc_signals_wait(int *sigs, int cap, int timeout_ms)
{
    struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0) {
        return errno == EINTR ? 0 : -errno;
    }
    if (n == 0) {
        return 0;
    }
    unsigned char buf[64];
    size_t want = (size_t)cap < sizeof(buf) ? (size_t)cap : sizeof(buf);
    ssize_t r;
    do {
        r = read(sig_pipe[0], buf, want);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return errno == EAGAIN ? 0 : -errno;
    }
    for (ssize_t i = 0; i < r; i++) {
        sigs[i] = buf[i];
    }
    return (int)r;
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
        close_pipe();
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
    close_pipe();
}
