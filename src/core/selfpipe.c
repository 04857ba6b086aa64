/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The self-pipe behind the arbiter's and the workers' signals: a handler
 * does nothing but write one byte, so all the work happens in the loop.
 */
#include "core/selfpipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* [0] read by the loop, [1] written by the handler; both non-blocking */
static int sig_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    /* a full pipe drops the byte: the loop is awake, with signals to read */
    ssize_t w = write(sig_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

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
    /* restarting keeps stray EINTRs out of other threads' calls; poll() still wakes */
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    /* fails only for an invalid signal number, or one that cannot be caught */
    (void)sigaction(sig, &sa, NULL);
}

int
tc_selfpipe_open(void)
{
    TC_ASSERT(sig_pipe[0] < 0 && sig_pipe[1] < 0);
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        return -errno;
    }
    return TC_OK;
}

void
tc_selfpipe_close(void)
{
    for (int i = 0; i < 2; i++) {
        if (sig_pipe[i] >= 0) {
            (void)close(sig_pipe[i]);
            sig_pipe[i] = -1;
        }
    }
}

void
tc_selfpipe_wake(void)
{
    on_signal(TC_SELFPIPE_WAKE);
}

void
tc_selfpipe_catch(int sig)
{
    set_disposition(sig, on_signal);
}

void
tc_selfpipe_ignore(int sig)
{
    set_disposition(sig, on_ignored);
}

void
tc_selfpipe_default(int sig)
{
    set_disposition(sig, SIG_DFL);
}

int
tc_selfpipe_read(int *sigs, int cap)
{
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

int
tc_selfpipe_wait_fd(int *sigs, int cap, long long timeout_ns, int fd)
{
    struct pollfd pfd[2] = {{.fd = sig_pipe[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    struct timespec ts = {0, 0};
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
    }
    int n = ppoll(pfd, fd >= 0 ? 2 : 1, timeout_ns < 0 ? NULL : &ts, NULL);
    if (n < 0) {
        return -errno;
    }
    if (pfd[0].revents == 0) {
        return 0;
    }
    return tc_selfpipe_read(sigs, cap);
}

int
tc_selfpipe_wait(int *sigs, int cap, long long timeout_ns)
{
    return tc_selfpipe_wait_fd(sigs, cap, timeout_ns, -1);
}
