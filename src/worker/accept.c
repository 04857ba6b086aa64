/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A handler thread's loop, its accept path: accepting on the worker's
 * listeners within worker_connections, pausing after EMFILE, and the end of
 * listening as the worker stops. The loop itself is loop.c.
 */
#include "worker/loop_internal.h"

#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

void
tc_accept_set_accepting(tc_loop_t *lp, bool on)
{
    if (lp->accepting == on) {
        return;
    }
    lp->accepting = on;
    atomic_store_explicit(&lp->accept_on, on, memory_order_relaxed);
    for (size_t i = 0; i < lp->shared->nlisteners; i++) {
        if (on) {
            event_add(lp->accept_evs[i], NULL);
        } else {
            event_del(lp->accept_evs[i]);
        }
    }
}

/* ---- worker_connections ---- */

/* How often, at most, reaching worker_connections is logged. */
#define FULL_LOG_NS (60LL * 1000000000LL)

/* Take one of the worker's connection slots before accept(); false at the limit. */
static bool
slot_take(tc_loop_shared_t *sh)
{
    int n = atomic_load(&sh->nconns);
    while (n < sh->max_conns) {
        if (atomic_compare_exchange_weak(&sh->nconns, &n, n + 1)) {
            if (sh->board != NULL) {
                tc_board_add(sh->board, sh->board_slot, 1);
            }
            return true;
        }
    }
    return false;
}

/*
 * Give a slot back (any loop's thread) and wake the loops paused at the
 * limit; in a stop, at the worker's last connection, wake every loop: those
 * that stayed for the watchdog's hand-overs leave (leave_if_done()).
 */
void
tc_accept_slot_give(tc_loop_shared_t *sh)
{
    int left = atomic_fetch_sub(&sh->nconns, 1) - 1;
    if (sh->board != NULL) {
        tc_board_add(sh->board, sh->board_slot, -1);
    }
    if (atomic_load(&sh->stopping)) {
        /* (no loop accepts any more; 'nloops' is 0 once the loops are being freed) */
        for (int i = 0; left == 0 && i < sh->nloops; i++) {
            event_active(sh->loops[i]->wake, EV_TIMEOUT, 0);
        }
        return;
    }
    for (int i = 0; i < sh->nloops; i++) {
        tc_loop_t *lp = sh->loops[i];
        if (atomic_load(&lp->full) && atomic_exchange(&lp->full, false)) {
            event_active(lp->resume, EV_TIMEOUT, 0);
        }
    }
}

/*
 * At the limit: stop accepting on this loop until tc_accept_slot_give()
 * wakes it; the kernel's listen backlog holds new clients meanwhile. 'full'
 * is set before the count is read again and tc_accept_slot_give() lowers
 * the count before it reads 'full', so one of the two sees the other: no
 * wake-up is lost. False when a slot came free meanwhile and nobody else
 * will wake us: accept on.
 */
static bool
pause_full(tc_loop_t *lp)
{
    tc_loop_shared_t *sh = lp->shared;
    atomic_store(&lp->full, true);
    if (atomic_load(&sh->nconns) < sh->max_conns && atomic_exchange(&lp->full, false)) {
        return false;
    }
    for (size_t k = 0; k < sh->nlisteners; k++) {
        event_del(lp->accept_evs[k]);
    }
    if (atomic_load(&sh->stopping)) {
        /* a stop taking the backlog (tc_accept_take_backlog()): it accepts no more anyway */
        return true;
    }
    long long now = tc_clock_mono_ns();
    long long last = atomic_load(&sh->full_logged);
    if ((last == 0 || now - last >= FULL_LOG_NS) &&
        atomic_compare_exchange_strong(&sh->full_logged, &last, now)) {
        tc_log(TC_LOG_WARNING,
               "worker_connections (%d) reached: not accepting until a connection closes "
               "(logged at most once a minute)",
               sh->max_conns);
    }
    return true;
}

/* ---- accepting ---- */

static void
peer_name(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        (void)snprintf(buf, len, "%s:%d", host, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        (void)snprintf(buf, len, "[%s]:%d", host, ntohs(sin6->sin6_port));
    } else {
        (void)snprintf(buf, len, "unix");
    }
}

/* After EMFILE (a timer) or a slot come free (tc_accept_slot_give()): accept again. */
void
tc_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_loop_t *lp = arg;
    if (!atomic_load(&lp->shared->stopping) && lp->accepting) {
        for (size_t i = 0; i < lp->shared->nlisteners; i++) {
            event_add(lp->accept_evs[i], NULL);
        }
    }
}

/* ---- sharing clients with the other workers ---- */

/* How long a loop leaves new clients to a worker that holds fewer connections. */
#define DEFER_US 1000
/* How soon after that wait a client counts as one left waiting through it. */
#define DEFER_FRESH 0.002

/*
 * Every worker that waits on a listener is woken by a new client. One that
 * holds more connections than another worker of its generation that
 * accepts (the balance board, worker/board.h) leaves the client to that
 * one: it stops accepting for DEFER_US, and then takes the clients
 * waiting as the wait ends at once, whatever the board says
 * (tc_accept_defer_end()), or else the next client, so that a sibling that
 * cannot accept (busy in a call, stuck) keeps no client waiting longer
 * than that. Only a client that comes as the wait ends (within
 * DEFER_FRESH, until one is taken): one that comes later, after a quiet spell
 * in which the sibling took the client waited for, is weighed again, or a
 * worker that holds more would take every other client of those that
 * connect one at a time. Not in a stop: then clients are taken, not left.
 */
static bool
defer_to_sibling(tc_loop_t *lp)
{
    tc_loop_shared_t *sh = lp->shared;
    if (sh->board == NULL || atomic_load(&sh->stopping)) {
        return false;
    }
    if (lp->defer_end > 0) {
        if (tc_clock_mono_s() - lp->defer_end < DEFER_FRESH) {
            return false; /* (until one is accepted: accept_some()) */
        }
        lp->defer_end = 0;
    }
    if (!tc_board_defer(sh->board, sh->board_slot, atomic_load(&sh->nconns), sh->max_conns)) {
        return false;
    }
    for (size_t k = 0; k < sh->nlisteners; k++) {
        event_del(lp->accept_evs[k]);
    }
    struct timeval tv = {0, DEFER_US};
    event_add(lp->defer, &tv);
    return true;
}

/* The connection of client 'fd', accepted from 'ss', attached to 'lp'. */
static tc_conn_t *
new_conn(tc_loop_t *lp, int fd, const struct sockaddr_storage *ss)
{
    /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): accept4() set it */
    if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    char peer[64];
    peer_name(ss, peer, sizeof(peer));
    return tc_conn_new(lp->base, fd, peer, &lp->shared->conn, lp);
}

/*
 * Accept up to 'max' clients waiting on listener 'lfd'; 'waited': they
 * waited through a wait for a sibling, and are taken whatever the board says.
 */
static void
accept_some(tc_loop_t *lp, int lfd, int max, bool waited)
{
    for (int i = 0; i < max; i++) {
        if (!waited && defer_to_sibling(lp)) {
            return;
        }
        if (!slot_take(lp->shared)) {
            if (pause_full(lp)) {
                return;
            }
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            tc_accept_slot_give(lp->shared);
            errno = e;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /*
                 * out of descriptors: pause accepting for a second, log at most
                 * about once a second (the retry timer runs on libevent's cached
                 * time and may fire a few ms short of a second after the line:
                 * at >= 1.0 every other retry would go unlogged)
                 */
                double now = tc_clock_mono_s();
                if (now - lp->emfile_logged >= 0.9) {
                    tc_log(TC_LOG_ERROR, "accept: %s; pausing accepts for 1 s",
                           tc_strerror(-errno));
                    lp->emfile_logged = now;
                }
                for (size_t k = 0; k < lp->shared->nlisteners; k++) {
                    event_del(lp->accept_evs[k]);
                }
                struct timeval tv = {1, 0};
                event_add(lp->accept_retry, &tv);
            } else if (errno == EINVAL) {
                /*
                 * it listens no more: the arbiter shut it down (a reload
                 * failed or dropped its bind), and it would be reported
                 * readable at every turn
                 */
                for (size_t k = 0; k < lp->shared->nlisteners; k++) {
                    if (lp->shared->listeners[k].fd == lfd) {
                        event_del(lp->accept_evs[k]);
                    }
                }
            }
            return; /* EAGAIN: another thread or process took it */
        }
        lp->defer_end = 0; /* the client a wait ended with, if any, is this one */
        tc_loop_accepted(lp, new_conn(lp, fd, &ss));
    }
}

void
tc_accept_defer_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_loop_t *lp = arg;
    lp->defer_end = tc_clock_mono_s();
    tc_accept_retry(-1, EV_TIMEOUT, lp);
    if (atomic_load(&lp->shared->stopping) || !lp->accepting) {
        return;
    }
    /*
     * The clients waiting now are taken now, every one of them (up to a
     * batch a listener): the sibling did not take them, and one a wait
     * would keep the last of a burst waiting a millisecond for each one
     * before it. And now, not when the loop's next turn reaches its accept
     * event: the calls ready on its connections before it may take longer
     * than DEFER_FRESH, and a client weighed again after them would be left
     * again, wait after wait, while the sibling stays busy.
     */
    for (size_t i = 0; i < lp->shared->nlisteners; i++) {
        accept_some(lp, lp->shared->listeners[i].fd, 64, true);
    }
}

void
tc_accept_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    /* a bounded batch, so one busy listener cannot starve the loop */
    accept_some(arg, lfd, 64, false);
}

/* ---- the end of listening ---- */

/*
 * A graceful stop of the whole server: accept the clients already waiting
 * in the listeners' backlogs, until none waits, worker_connections is
 * reached or a backlog's worth came from one listener. Each then has its
 * first call answered, as one accepted just before the stop does; once the
 * last process closes a listener, the kernel resets those left in it.
 * Returns true if any was taken.
 */
bool
tc_accept_take_backlog(tc_loop_t *lp)
{
    int before = atomic_load(&lp->nconns);
    int max = lp->shared->cfg->backlog > 0 ? lp->shared->cfg->backlog : 1;
    for (size_t i = 0; i < lp->shared->nlisteners; i++) {
        accept_some(lp, lp->shared->listeners[i].fd, max, false);
    }
    return atomic_load(&lp->nconns) != before;
}

/*
 * A graceful stop of the whole server whose last listening loop 'lp' is
 * inside a handler call: the worker's main thread, which closes the
 * listeners for it ('lock' held), first accepts the clients waiting in
 * their backlogs, as tc_accept_take_backlog() would had the loop been free,
 * and hands them to 'lp': their first calls are answered once its call ends
 * (or on a free loop the watchdog moves them to). Left there, the kernel
 * reset them as the listeners closed, their calls unanswered. Up to
 * worker_connections, and a backlog's worth from each listener.
 */
void
tc_accept_hand_backlog(tc_loop_t *lp)
{
    int max = lp->shared->cfg->backlog > 0 ? lp->shared->cfg->backlog : 1;
    for (size_t i = 0; i < lp->shared->nlisteners; i++) {
        for (int n = 0; n < max && slot_take(lp->shared); n++) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            int fd = accept4(lp->shared->listeners[i].fd, (struct sockaddr *)&ss, &sl,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                tc_accept_slot_give(lp->shared); /* none waits (or none can be taken) */
                break;
            }
            tc_conn_t *c = new_conn(lp, fd, &ss);
            tc_conn_detach(c);
            tc_loop_hand_accepted(lp, c);
        }
    }
}

/*
 * The loop accepts no more, for good ('lock' held: its own thread, or the
 * worker's main thread while this one is inside a handler call or has left
 * its loop). Its accept events go first; the last loop to get here closes
 * the worker's listeners, so that no descriptor number is reused while an
 * accept event still watches it (an epoll set keeps reporting a socket that
 * other processes hold open, under whatever number is reused). The socket
 * stops listening once every process has closed its own.
 */
void
tc_accept_quit_listening(tc_loop_t *lp)
{
    if (lp->quit_listening) {
        return;
    }
    lp->quit_listening = true;
    tc_accept_set_accepting(lp, false);
    for (size_t i = 0; i < lp->shared->nlisteners; i++) {
        event_del(lp->accept_evs[i]); /* also those pause_full() kept 'accepting' for */
    }
    event_del(lp->accept_retry);
    event_del(lp->defer);
    if (atomic_fetch_sub(&lp->shared->listening, 1) == 1) {
        for (size_t i = 0; i < lp->shared->nlisteners; i++) {
            tc_listener_stop(&lp->shared->listeners[i]);
        }
    }
}
