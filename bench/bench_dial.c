/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The opening of a load thread's connections: each address of --host (or
 * --unix) in turn, the first time waiting for each, bounded by the clock's
 * 'connect_by' and cut short by an interrupt, and again after a failure
 * (--reconnect) without blocking the loop, which serves the other
 * connections meanwhile.
 */
#include "bench_loop_internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the addresses ---- */

#define CONNECT_LATE    (-1)       /* the deadline passed */
#define CONNECT_STOPPED (-2)       /* the run was interrupted (SIGINT, SIGTERM) */
#define RETRY_NS        10000000LL /* a unix socket whose listener's backlog is full: again after */
#define WAIT_MS_MAX     1000       /* poll()'s timeout, in ms, fits an int */

/*
 * connect() on a non-blocking socket, waited for with poll() until the
 * deadline 'by': a server whose backlog is full drops the handshake, a
 * host that does not answer never finishes it, and a unix socket refuses
 * at once (EAGAIN) while its listener's backlog is full, which is tried
 * again. poll() watches the clock's 'stop_fd' too, which an interrupt
 * makes readable and leaves so: the wait ends whenever it comes. 0, an
 * errno, CONNECT_LATE or CONNECT_STOPPED.
 */
static int
connect_by(const tc_bench_loop_t *lp, int fd, const struct sockaddr *sa, socklen_t len,
           long long by)
{
    int rc = connect(fd, sa, len) == 0 ? 0 : errno;
    for (;;) {
        bool again = rc == EAGAIN && sa->sa_family == AF_UNIX;
        if (rc != EINPROGRESS && rc != EINTR && !again) {
            return rc;
        }
        long long left = by - tc_bench_loop_now();
        if (left <= 0) {
            return CONNECT_LATE;
        }
        if (again && left > RETRY_NS) {
            left = RETRY_NS;
        }
        long long ms = (left + 999999LL) / 1000000LL;
        struct pollfd pf[2] = {{.fd = lp->clock->stop_fd, .events = POLLIN},
                               {.fd = fd, .events = POLLOUT}};
        int n = poll(pf, again ? 1 : 2, ms > WAIT_MS_MAX ? WAIT_MS_MAX : (int)ms);
        if (n < 0 && errno != EINTR) {
            return errno;
        }
        if (n > 0 && (pf[0].revents & POLLIN) != 0) {
            return CONNECT_STOPPED;
        }
        if (again) {
            rc = connect(fd, sa, len) == 0 ? 0 : errno;
        } else if (n > 0 && pf[1].revents != 0) { /* the connect ended: how, SO_ERROR says */
            int err = 0;
            socklen_t errlen = sizeof(err);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0) {
                err = errno;
            }
            return err;
        } /* else: still in progress */
    }
}

static const char *
connect_error(const tc_bench_opts_t *o, int failed, char *buf, size_t n)
{
    if (failed != CONNECT_LATE) {
        return tc_strerror(-failed);
    }
    snprintf(buf, n, "not open within --timeout (%.3g s)", o->timeout);
    return buf;
}

/*
 * The opening of a connection: each address in turn until one connects,
 * as a client does, the error of each one that failed kept for the
 * connect error. The first connect waits for each address (dial_walk()'s
 * 'blocking'); opening again does not block the loop.
 */
typedef struct dial {
    const struct addrinfo *ai; /* the address being tried */
    long long by;              /* a connect error from then on */
    int tried;                 /* addresses that failed before 'ai' */
    size_t len;                /* of 'why' */
    char why[256];             /* "connect HOST:PORT:" or "connect unix:PATH:", then the errors */
} dial_t;

#define DIAL_FAILED  (-1) /* every address failed: 'why' says how */
#define DIAL_AGAIN   (-2) /* not open yet: dial_walk() goes on from 'ai' later */
#define DIAL_STOPPED (-3) /* the run was interrupted while a blocking dial waited */

static void
dial_init(const tc_bench_loop_t *lp, dial_t *d, long long by)
{
    const tc_bench_opts_t *o = lp->o;
    d->ai = lp->targets;
    d->by = by;
    d->tried = 0;
    /* an IPv6 address in brackets, as in a URL: "connect ::1:9090" left the port unclear */
    bool v6 = o->unix_path == NULL && strchr(o->host, ':') != NULL;
    int k = o->unix_path != NULL
                ? snprintf(d->why, sizeof(d->why), "connect unix:%s:", o->unix_path)
                : snprintf(d->why, sizeof(d->why), "connect %s%s%s:%d:", v6 ? "[" : "", o->host,
                           v6 ? "]" : "", o->port);
    d->len = k > 0 ? (size_t)k : 0;
}

/*
 * Add the failure of address d->ai, the d->tried-th (from 0), to d->why:
 * its error ('failed', an errno or CONNECT_LATE; of socket() unless
 * 'made'), after the address when there are several ("localhost" is ::1
 * first, then 127.0.0.1).
 */
static void
why_add(const tc_bench_loop_t *lp, dial_t *d, bool made, int failed)
{
    if (d->len >= sizeof(d->why)) {
        return;
    }
    const struct addrinfo *ai = d->ai;
    bool several = lp->targets->ai_next != NULL;
    char addr[NI_MAXHOST] = "";
    if (several && getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0,
                               NI_NUMERICHOST) != 0) {
        snprintf(addr, sizeof(addr), "?");
    }
    char late[64];
    int k = snprintf(d->why + d->len, sizeof(d->why) - d->len, "%s%s%s%s%s",
                     d->tried > 0 ? ", " : " ", addr, several ? ": " : "",
                     made ? "" : "socket: ", connect_error(lp->o, failed, late, sizeof(late)));
    d->len += k > 0 ? (size_t)k : 0;
}

static void
set_nodelay(const struct addrinfo *ai, int fd)
{
    if (ai->ai_family != AF_UNIX) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

/*
 * Try the addresses from d->ai on: the first that connects gives its fd,
 * non-blocking; DIAL_FAILED when none is left. 'blocking' waits for each
 * connect until d->by, and gives DIAL_STOPPED once the run is interrupted.
 * Otherwise a connect in progress is left in '*pending' for its end to be
 * watched, and a unix socket that refuses at once (EAGAIN) while its
 * listener's backlog is full sets '*pending' to -1, to be tried again:
 * DIAL_AGAIN both.
 */
static int
dial_walk(const tc_bench_loop_t *lp, dial_t *d, bool blocking, int *pending)
{
    for (; d->ai != NULL; d->ai = d->ai->ai_next, d->tried++) {
        const struct addrinfo *ai = d->ai;
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            why_add(lp, d, false, errno);
            continue;
        }
        set_nodelay(ai, fd);
        int failed = 0;
        if (blocking) {
            failed = connect_by(lp, fd, ai->ai_addr, ai->ai_addrlen, d->by);
        } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            failed = errno;
        }
        if (failed == 0) {
            return fd;
        }
        if (!blocking && (failed == EINPROGRESS || failed == EINTR)) {
            *pending = fd;
            return DIAL_AGAIN;
        }
        close(fd);
        if (failed == CONNECT_STOPPED) {
            return DIAL_STOPPED;
        }
        if (!blocking && failed == EAGAIN && ai->ai_family == AF_UNIX) {
            *pending = -1;
            return DIAL_AGAIN;
        }
        why_add(lp, d, true, failed);
    }
    return DIAL_FAILED;
}

/* ---- the first opening ---- */

void
tc_bench_dial_targets(tc_bench_loop_t *lp)
{
    const tc_bench_opts_t *o = lp->o;
    lp->targets = o->addrs;
    if (o->unix_path != NULL) {
        lp->unix_sun.sun_family = AF_UNIX;
        snprintf(lp->unix_sun.sun_path, sizeof(lp->unix_sun.sun_path), "%s", o->unix_path);
        lp->unix_ai.ai_family = AF_UNIX;
        lp->unix_ai.ai_socktype = SOCK_STREAM;
        lp->unix_ai.ai_addr = (struct sockaddr *)&lp->unix_sun;
        lp->unix_ai.ai_addrlen = sizeof(lp->unix_sun);
        lp->targets = &lp->unix_ai;
    }
}

void
tc_bench_dial_open(tc_bench_loop_t *lp, conn_t *c)
{
    dial_t d;
    dial_init(lp, &d, lp->clock->connect_by);
    int fd = dial_walk(lp, &d, true, NULL);
    if (fd == DIAL_STOPPED) { /* not an error: the user ended the run (tc_bench_loop_connect()) */
        return;
    }
    if (fd < 0) {
        lp->stats.errors[TC_BENCH_ERR_CONNECT]++;
        tc_bench_loop_report(lp, c, "%s", d.why);
        return;
    }
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    (void)epoll_ctl(lp->ep, EPOLL_CTL_ADD, c->fd, &ev);
    lp->nopen++;
}

/* ---- opening again (--reconnect) ---- */

/*
 * A connection opened again inside its loop, whose other connections are
 * served meanwhile: a blocking connect() to a server slow to accept held
 * their replies for up to --timeout, and their latencies held the wait.
 * A TCP connect in progress is watched for writability; a unix socket
 * refuses at once (EAGAIN) while its listener's backlog is full, and is
 * tried again at each tick. Each address in turn, all within one --timeout
 * from the start.
 */
void
tc_bench_dial_end(tc_bench_loop_t *lp, conn_t *c)
{
    if (c->fd >= 0) {
        (void)epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    free(c->dial);
    c->dial = NULL;
    lp->ndial--;
}

/* It stays closed: a server that refuses connections ends the run rather than making it spin. */
static void
dial_fail(tc_bench_loop_t *lp, conn_t *c)
{
    lp->stats.errors[TC_BENCH_ERR_CONNECT]++;
    tc_bench_loop_report(lp, c, "%s", c->dial->why);
    tc_bench_dial_end(lp, c);
}

/*
 * Open on 'fd' (c->fd, registered for its connect, or a new one): bytes of
 * the old connection are dropped, seqids go on, and its calls are sent at
 * once. It counts as a reconnect when a call is sent on it; when the run
 * ended while it was being opened, it is closed unused.
 */
static void
dial_done(tc_bench_loop_t *lp, conn_t *c, int fd)
{
    bool registered = c->fd >= 0;
    free(c->dial);
    c->dial = NULL;
    lp->ndial--;
    c->fd = fd;
    c->in.len = 0;
    free(c->skip);
    c->skip = NULL;
    c->out.len = 0;
    c->out_off = 0;
    c->head = 0;
    c->want_out = false;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    (void)epoll_ctl(lp->ep, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
    lp->nopen++;
    lp->now = tc_bench_loop_now();
    bool measured;
    int sent = 0;
    for (; sent < lp->o->pipeline && tc_bench_loop_may_send(lp, &measured); sent++) {
        tc_bench_conn_send(lp, c, measured);
    }
    if (sent == 0) {
        tc_bench_loop_report(lp, c, "not opened again: the run has ended");
        tc_bench_conn_close(lp, c);
        return;
    }
    lp->stats.reconnects++;
    tc_bench_conn_flush(lp, c);
}

/* Try the addresses from c->dial->ai on, until one connects, is in progress, or all failed. */
static void
dial_next(tc_bench_loop_t *lp, conn_t *c)
{
    int pending = -1;
    int fd = dial_walk(lp, c->dial, false, &pending);
    if (fd >= 0) {
        dial_done(lp, c, fd);
    } else if (fd == DIAL_FAILED) {
        dial_fail(lp, c);
    } else if (pending >= 0) { /* its end is tc_bench_dial_ready()'s */
        c->fd = pending;
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        (void)epoll_ctl(lp->ep, EPOLL_CTL_ADD, pending, &ev);
    } /* else a full backlog: tried again at the next tick, by tc_bench_dial_tick() */
}

/* The connect in progress on c->fd has ended: open, or refused (then the next address). */
void
tc_bench_dial_ready(tc_bench_loop_t *lp, conn_t *c)
{
    int failed = 0;
    socklen_t len = sizeof(failed);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &failed, &len) != 0) {
        failed = errno;
    }
    if (failed == 0) {
        dial_done(lp, c, c->fd);
        return;
    }
    dial_t *d = c->dial;
    (void)epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    why_add(lp, d, true, failed);
    d->ai = d->ai->ai_next;
    d->tried++;
    dial_next(lp, c);
}

/* At each tick: past --timeout, a connect error; a unix socket refused for its backlog, again. */
void
tc_bench_dial_tick(tc_bench_loop_t *lp, conn_t *c)
{
    dial_t *d = c->dial;
    if (lp->now >= d->by) {
        why_add(lp, d, true, CONNECT_LATE);
        dial_fail(lp, c);
    } else if (c->fd < 0) {
        dial_next(lp, c);
    }
}

/* --reconnect: a connection in place of the failed one 'c', within --timeout. */
void
tc_bench_dial_reopen(tc_bench_loop_t *lp, conn_t *c)
{
    c->reopen = false;
    lp->nreopen--;
    lp->now = tc_bench_loop_now();
    if (tc_bench_loop_run_over(lp)) {
        /*
         * the run ended in the round that closed it (its last call was sent
         * meanwhile), or -n ran out
         */
        tc_bench_loop_report(lp, c, "not opened again: the run has ended");
        return;
    }
    dial_t *d = tc_xcalloc(1, sizeof(*d));
    dial_init(lp, d, lp->now + (long long)(lp->o->timeout * 1e9));
    c->dial = d;
    lp->ndial++;
    dial_next(lp, c);
}
