/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watchdog's side of a loop (the worker's main thread, worker.c): what
 * a loop is inside for the line of an abort, whether its thread runs, and
 * the hand-over of a blocked loop's connections and turn to accept to other
 * loops, which take them in on_wake() (loop.c). Off the path of a call.
 */
#include "worker/loop_watch.h"

#include "core/log.h"
#include "protocol/message.h"
#include "worker/loop_internal.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- what a loop is doing ---- */

/* The most bytes of a method's name an abort quotes. */
#define CALL_NAME_MAX 100

/*
 * The handler call the loop is inside, 'lock' held: which is free only
 * while the loop is inside one ('busy_since' not 0), and then keeps it
 * there, as its thread waits for the lock before it leaves
 * conn_message(). So the connection and the message it published stay as
 * they are (and alive) while they are read here, and the lock orders what
 * the loop wrote before this read: no copy on the call's path, no race. The
 * name is read again from the message's header, as sent: "Service:method"
 * when multiplexed.
 */
static int
call_named(const tc_loop_t *lp, char *buf, size_t size)
{
    if (atomic_load_explicit(&lp->busy_since, memory_order_relaxed) == 0) {
        return 0; /* it ended before the lock was taken */
    }
    const tc_conn_t *c = lp->call_conn;
    tc_proto_t in;
    tc_proto_init(&in, c->protocol, lp->call_msg, lp->call_len, NULL);
    tc_msg_hdr_t m;
    if (in.ops->read_message_begin(&in, &m) != TC_OK) {
        return snprintf(buf, size, "a call from %s", c->peer); /* (its header was read once) */
    }
    char name[TC_LOG_ESCAPED_MAX(CALL_NAME_MAX)];
    size_t n = tc_log_escape(name, sizeof(name), m.name,
                             tc_utf8_prefix(m.name, m.name_len, CALL_NAME_MAX));
    return snprintf(buf, size, "'%.*s' from %s", (int)n, name, c->peer);
}

/*
 * The connection hook the loop is in, which keeps 'lock' while it runs:
 * the reader's side of a seqlock on 'busy_since' (run_conn_hook()
 * writes). The value read first is the hook's if 'hook_since' holds it
 * (timestamps do not repeat), and the acquire makes what the hook stored
 * before it visible; the copy is of atomics in the loop itself, so a hook
 * that ends meanwhile, and the next that overwrites them, make it torn at
 * worst, never unsafe; then the second read sees 'busy_since' changed
 * (the fences), and the hook goes unnamed.
 */
static int
hook_named(tc_loop_t *lp, char *buf, size_t size)
{
    long long since = atomic_load_explicit(&lp->busy_since, memory_order_acquire);
    if (since == 0 || atomic_load_explicit(&lp->hook_since, memory_order_relaxed) != since) {
        return 0; /* idle, or a handler call that starts or ends (it holds the lock then) */
    }
    const char *hook = atomic_load_explicit(&lp->hook, memory_order_relaxed);
    char peer[sizeof(lp->hook_peer)];
    for (size_t i = 0; i < sizeof(peer); i++) {
        peer[i] = atomic_load_explicit(&lp->hook_peer[i], memory_order_relaxed);
    }
    peer[sizeof(peer) - 1] = '\0';
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&lp->busy_since, memory_order_relaxed) != since) {
        return 0;
    }
    return snprintf(buf, size, "the %s hook for %s", hook, peer);
}

size_t
tc_loop_watch_busy_with(tc_loop_t *lp, char *buf, size_t size)
{
    TC_ASSERT(size > 0);
    buf[0] = '\0';
    int n;
    if (pthread_mutex_trylock(&lp->lock) == 0) {
        n = call_named(lp, buf, size);
        pthread_mutex_unlock(&lp->lock);
    } else {
        n = hook_named(lp, buf, size);
    }
    return n <= 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

bool
tc_loop_watch_runnable(const tc_loop_t *lp)
{
    int tid = atomic_load(&lp->tid);
    if (tid == 0) {
        return false;
    }
    char path[64];
    char buf[512];
    (void)snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = '\0';
    /* "tid (comm) S ...": the comm may hold spaces and parentheses, the last ')' ends it */
    const char *end = strrchr(buf, ')');
    return end != NULL && end[1] == ' ' && end[2] == 'R';
}

/* ---- hand-over ---- */

/* 'lp' is in its loop and stays for a hand-over (any thread; see leave_if_done()). */
static bool
takes_handover(tc_loop_t *lp)
{
    pthread_mutex_lock(&lp->inq_lock);
    bool takes = !lp->gone;
    pthread_mutex_unlock(&lp->inq_lock);
    return takes;
}

/*
 * The loops of 'targets' that take a hand-over, the first
 * TC_LOOP_WATCH_SPREAD_MAX of them, into 'to'; returns how many. In a stop,
 * loops leave once they are done. One that has not left stays while a
 * connection is left in the worker, as those about to be dealt out are:
 * what it is dealt reaches it.
 */
static int
pick_targets(tc_loop_t *const *targets, int ntargets, tc_loop_t **to)
{
    int nto = 0;
    for (int i = 0; i < ntargets && nto < TC_LOOP_WATCH_SPREAD_MAX; i++) {
        if (takes_handover(targets[i])) {
            to[nto++] = targets[i];
        }
    }
    return nto;
}

/* What one rebalance deals out to one target loop. */
struct share {
    struct tc_conn_list conns; /* for its 'incoming' */
    struct tc_conn_list fresh; /* clients not taken yet, for its 'accepted' */
    int n;                     /* both, for its 'nconns' */
};

/*
 * The connections of 'from' not inside the call ('lock' held), dealt out
 * to the 'nto' shares from the 'moved'-th on; returns 'moved' plus their
 * number.
 */
static int
deal_own(tc_loop_t *from, struct share *share, int nto, int moved)
{
    tc_conn_t *c = TAILQ_FIRST(&from->conns);
    while (c != NULL) {
        tc_conn_t *next = TAILQ_NEXT(c, link);
        if (!c->in_call) {
            tc_conn_detach(c);
            TAILQ_REMOVE(&from->conns, c, link);
            atomic_fetch_sub(&from->nconns, 1);
            TAILQ_INSERT_TAIL(&share[moved % nto].conns, c, link);
            share[moved % nto].n++;
            moved++;
        }
        c = next;
    }
    return moved;
}

/*
 * What was handed to 'from' and it has not taken yet ('inq_lock' held):
 * the clients, then the connections of an earlier hand-over, if its call
 * began before it took them, each with its count. Dealt out as deal_own()
 * does.
 */
static int
deal_handed(tc_loop_t *from, struct share *share, int nto, int moved)
{
    tc_conn_t *c;
    while ((c = TAILQ_FIRST(&from->accepted)) != NULL) {
        TAILQ_REMOVE(&from->accepted, c, link);
        atomic_fetch_sub(&from->nconns, 1);
        TAILQ_INSERT_TAIL(&share[moved % nto].fresh, c, link);
        share[moved % nto].n++;
        moved++;
    }
    while ((c = TAILQ_FIRST(&from->incoming)) != NULL) {
        TAILQ_REMOVE(&from->incoming, c, link);
        atomic_fetch_sub(&from->nconns, 1);
        TAILQ_INSERT_TAIL(&share[moved % nto].conns, c, link);
        share[moved % nto].n++;
        moved++;
    }
    return moved;
}

/*
 * Give 'to' its share, and the turn to accept if 'turn' and it has none:
 * given to one that has its own, the two would be one, and the worker
 * would accept on a loop fewer from then on. Wakes 'to' when it has
 * something to take. Returns whether it took the turn.
 */
static bool
hand_over(tc_loop_t *to, struct share *s, bool turn)
{
    bool some = s->n > 0;
    if (!some && !turn) {
        return false;
    }
    pthread_mutex_lock(&to->inq_lock);
    TAILQ_CONCAT(&to->incoming, &s->conns, link);
    TAILQ_CONCAT(&to->accepted, &s->fresh, link);
    atomic_fetch_add(&to->nconns, s->n);
    bool accept_here = turn && !atomic_load(&to->take_accept) &&
                       !atomic_load_explicit(&to->accept_on, memory_order_relaxed);
    if (accept_here) {
        atomic_store(&to->take_accept, true);
    }
    pthread_mutex_unlock(&to->inq_lock);
    if (some || accept_here) {
        event_active(to->wake, EV_TIMEOUT, 0);
    }
    return accept_here;
}

int
tc_loop_watch_rebalance(tc_loop_t *from, tc_loop_t *const *targets, int ntargets, double after,
                        double now)
{
    if (ntargets < 1) {
        return -1;
    }
    /* the lock is free only while 'from' is inside a handler call */
    if (pthread_mutex_trylock(&from->lock) != 0) {
        return -1;
    }
    double busy = tc_loop_busy_for(from, now);
    if (busy < after || busy == 0.0) {
        pthread_mutex_unlock(&from->lock);
        return -1;
    }
    tc_loop_t *to[TC_LOOP_WATCH_SPREAD_MAX];
    int nto = pick_targets(targets, ntargets, to);
    if (nto == 0) {
        pthread_mutex_unlock(&from->lock);
        return -1;
    }
    /*
     * dealt out one by one: every target gets its share at once, with its
     * count; so are the clients handed to 'from' that it has not taken yet
     * (it entered the call first), and the connections and the turn to
     * accept an earlier hand-over gave it
     */
    struct share share[TC_LOOP_WATCH_SPREAD_MAX];
    for (int i = 0; i < nto; i++) {
        TAILQ_INIT(&share[i].conns);
        TAILQ_INIT(&share[i].fresh);
        share[i].n = 0;
    }
    int moved = deal_own(from, share, nto, 0);
    pthread_mutex_lock(&from->inq_lock);
    moved = deal_handed(from, share, nto, moved);
    bool pass_accept = from->accepting || atomic_load(&from->take_accept);
    atomic_store(&from->take_accept, false);
    pthread_mutex_unlock(&from->inq_lock);
    tc_accept_set_accepting(from, false);
    pthread_mutex_unlock(&from->lock);
    /* the turn to accept goes to the first that has none */
    for (int i = 0; i < nto; i++) {
        if (hand_over(to[i], &share[i], pass_accept)) {
            pass_accept = false;
        }
    }
    if (pass_accept) {
        /*
         * each has a turn already: 'from' takes its own back as its call
         * ends (on_wake()), unless a later look hands it on
         */
        pthread_mutex_lock(&from->inq_lock);
        atomic_store(&from->take_accept, true);
        pthread_mutex_unlock(&from->inq_lock);
        event_active(from->wake, EV_TIMEOUT, 0);
    }
    return moved;
}
