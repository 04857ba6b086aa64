/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A handler thread's event loop. The thread that reads a request decodes
 * it, runs the handler in its own Lua state and writes the reply: no
 * hand-off between threads on the hot path. The loop's lock is held while
 * the loop runs and released only inside a handler call, which is when the
 * watchdog may take the loop's other connections away
 * (tc_loop_watch_rebalance()), also while the worker stops. Accepting on
 * the listeners is accept.c's; client_timeout's sweep and the stop's drain
 * are loop_drain.c's; the watchdog's side is loop_watch.c's.
 */
#include "worker/loop.h"

#include "config/hooks.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/selfpipe.h"
#include "protocol/message.h"
#include "worker/accesslog.h"
#include "worker/loop_internal.h"
#include "worker/pace.h"
#include "worker/worker.h"

#include <assert.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- connections ---- */

/*
 * A stopping loop may leave its event loop once the worker has no
 * connection left, on this loop or any other: until then the watchdog may
 * hand it the connections of a loop blocked in a long call, to be answered
 * or closed at once (tc_accept_slot_give() wakes it at the last one). None
 * handed to it may wait to be taken (on_wake() takes and drains them;
 * leaving first would strand them unanswered). 'gone' is set with the
 * decision, under 'inq_lock': from then on the watchdog hands it nothing
 * (no connection is left to hand, but for the clients another loop takes
 * from the backlog as it stops).
 */
static void
leave_if_done(tc_loop_t *lp)
{
    if (lp->in_stop) {
        return; /* it may take the clients waiting in the backlog yet */
    }
    pthread_mutex_lock(&lp->inq_lock);
    bool leave = TAILQ_EMPTY(&lp->incoming) && TAILQ_EMPTY(&lp->accepted) &&
                 atomic_load(&lp->nconns) == 0 && atomic_load(&lp->shared->nconns) == 0;
    lp->gone = lp->gone || leave;
    pthread_mutex_unlock(&lp->inq_lock);
    if (leave) {
        event_base_loopbreak(lp->base);
    }
}

/*
 * A connection hook, timed like a handler call: one that hangs stops the
 * heartbeat (the worker is replaced after 'timeout'). Unlike a call it keeps
 * the loop's lock, so the watchdog cannot move this loop's other
 * connections meanwhile: the hook runs inside callbacks (accept, a close
 * in the middle of a walk over 'conns') that a move must not cut into.
 */
static void
run_conn_hook(tc_loop_t *lp, const char *name, const char *peer)
{
    /*
     * What an abort names, the writer's side of hook_named() (loop_watch.c): 'busy_since'
     * is 0 here, stored before the fence, so a reader that sees one of the
     * stores below also sees it changed from the value it started with.
     */
    long long t0 = tc_clock_mono_ns();
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&lp->hook_since, t0, memory_order_relaxed);
    atomic_store_explicit(&lp->hook, name, memory_order_relaxed);
    size_t i = 0;
    for (; i < sizeof(lp->hook_peer) - 1 && peer[i] != '\0'; i++) {
        atomic_store_explicit(&lp->hook_peer[i], peer[i], memory_order_relaxed);
    }
    atomic_store_explicit(&lp->hook_peer[i], '\0', memory_order_relaxed);
    atomic_store_explicit(&lp->busy_since, t0, memory_order_release);
    tc_hooks_run_conn(lp->hooks, name, lp->index, peer);
    atomic_store_explicit(&lp->busy_since, 0, memory_order_relaxed);
}

static void
conn_closed(tc_conn_t *c, void *arg)
{
    tc_loop_t *lp = arg;
    TAILQ_REMOVE(&lp->conns, c, link);
    if (TC_UNLIKELY(lp->hooks != NULL)) {
        run_conn_hook(lp, "post_connect_closed", c->peer);
    }
    tc_accept_slot_give(lp->shared);
    if (atomic_fetch_sub(&lp->nconns, 1) == 1 && atomic_load(&lp->shared->stopping)) {
        leave_if_done(lp);
    }
}

/* The shortest period of client_timeout's sweep, in seconds. */
#define SWEEP_MIN_S 0.001

/* ---- client warnings ---- */

/*
 * The warnings a client's messages cause, one per message, are limited per
 * thread (client_warning_rate a second, after a burst of as many, 10 at
 * least), as the kernel's printk_ratelimit() limits its lines: a client
 * sending bad calls as fast as it can must cost neither a write(2) each nor
 * the disk. Those not logged are counted, and said at most once a second:
 * with the next warning logged, or by a timer when the client went quiet,
 * or as the thread ends. Only a warning reaches any of this.
 */
#define WARN_BURST_MIN 10
#define WARN_REPORT_NS 1000000000LL
#define WARN_REPORT_TEXT                                                                           \
    "%" PRIu64 " more client warnings not logged in the last %.1f s (client_warning_rate %u)"

static void
init_warnings(tc_loop_t *lp)
{
    unsigned rate = lp->shared->cfg->client_warning_rate;
    tc_log_ratelimit_init(&lp->warn_limit, rate, rate > WARN_BURST_MIN ? rate : WARN_BURST_MIN,
                          WARN_REPORT_NS);
}

static void
report_warnings(tc_loop_t *lp, long long now, bool force)
{
    long long since = now;
    uint64_t n = tc_log_ratelimit_report(&lp->warn_limit, now, force, &since);
    if (n > 0) {
        tc_log(TC_LOG_WARNING, WARN_REPORT_TEXT, n, (double)(now - since) / 1e9,
               lp->shared->cfg->client_warning_rate);
    }
}

/* Timer: the warnings not logged, once their report is due. */
static void
on_warn_report(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_loop_t *lp = arg;
    long long now = tc_clock_mono_ns();
    report_warnings(lp, now, false);
    long long due;
    if (tc_log_ratelimit_pending(&lp->warn_limit, &due)) {
        /* counted since a logged warning's report: due a period after the first of them */
        long long wait = due > now ? due - now : 0;
        struct timeval tv = {(time_t)(wait / 1000000000LL),
                             (suseconds_t)(wait % 1000000000LL / 1000)};
        evtimer_add(lp->warn_report, &tv);
    }
}

/* Whether a client warning may be logged now (after the count of those that were not). */
static bool
warning_allowed(tc_loop_t *lp)
{
    if (lp->shared->cfg->client_warning_rate == 0) {
        return true;
    }
    long long now = tc_clock_mono_ns();
    if (tc_log_ratelimit_allow(&lp->warn_limit, now)) {
        report_warnings(lp, now, false);
        return true;
    }
    if (!evtimer_pending(lp->warn_report, NULL)) {
        struct timeval tv = {WARN_REPORT_NS / 1000000000LL, 0};
        evtimer_add(lp->warn_report, &tv);
    }
    return false;
}

/*
 * One warning for an error the client caused. Its text may quote the
 * client's bytes (a name, what the codec read): escaped, so that they can
 * neither end the line nor forge one. 'len': its length when it quotes a
 * name, NULs and all (tc_call_info_t 'err_len'), else 0.
 */
static void
log_client_error(tc_loop_t *lp, const tc_conn_t *c, const char *what, const tc_err_t *err,
                 size_t len)
{
    if (!warning_allowed(lp)) {
        return;
    }
    char text[TC_LOG_ESCAPED_MAX(TC_ERR_MSG_MAX)];
    size_t n = tc_log_escape(text, sizeof(text), err->msg, len != 0 ? len : strlen(err->msg));
    tc_log(TC_LOG_WARNING, "%s: %s%.*s", c->peer, what, (int)n, text);
}

/*
 * Bytes after the message in its frame (a second message, garbage): ignored,
 * as Apache Thrift's servers ignore them, but not in silence. The name is
 * the client's: escaped, at most 256 bytes of it.
 */
static void
log_rest(tc_loop_t *lp, const tc_conn_t *c, const tc_call_info_t *info)
{
    if (!warning_allowed(lp)) {
        return;
    }
    char name[TC_LOG_ESCAPED_MAX(256)];
    size_t n = tc_log_escape(name, sizeof(name), info->method,
                             tc_utf8_prefix(info->method, info->method_len, 256));
    tc_log(TC_LOG_WARNING, "%s: %zu bytes after the message '%.*s' in its frame, ignored", c->peer,
           info->rest, (int)n, name);
}

/* ---- access log buffer ---- */

/*
 * The lines a loop thread gathers (access_log_buffer) are written within
 * access_log_flush of the first, by a timer armed as it is logged: an idle
 * server's lines too. A thread inside a long handler call cannot run it;
 * the worker's main thread writes those (tc_accesslog_flush_older()).
 */
static void
on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_loop_t *lp = arg;
    tc_accesslog_flush(lp->log_buf);
}

static void
arm_log_flush(tc_loop_t *lp)
{
    struct timeval tv = tc_clock_timeval(lp->shared->cfg->access_log_flush);
    evtimer_add(lp->log_flush, &tv);
}

static int
conn_message(tc_conn_t *c, const uint8_t *msg, size_t len, tc_buf_t *out, void *arg)
{
    tc_loop_t *lp = arg;
    const tc_loop_shared_t *sh = lp->shared;
    const tc_transport_t *t = c->transport;
    tc_proto_t in;
    tc_proto_t op;
    tc_proto_init(&in, c->protocol, msg, len, NULL);
    in.max_depth = sh->cfg->max_depth;
    in.max_string = sh->cfg->max_message_size;
    size_t before = out->len;
    size_t mark = t->begin(out);
    size_t body = out->len;
    tc_proto_init(&op, c->protocol, NULL, 0, out);
    op.max_depth = sh->cfg->max_depth;

    tc_call_info_t info;
    info.header = c->header;
    tc_err_t err;
    tc_err_clear(&err);
    long long t0 = tc_clock_mono_ns();
    atomic_store(&lp->busy_since, t0); /* seq_cst, before the look at the watchdog (pace.h) */
    tc_pace_call_started(&lp->shared->watch_idle);
    lp->call_conn = c; /* what an abort names (call_named(), loop_watch.c) */
    lp->call_msg = msg;
    lp->call_len = len;
    pthread_mutex_unlock(&lp->lock);
    int rc = tc_dispatch_handle(lp->dispatch, &in, &op, t->max_body, &info, &err);
    pthread_mutex_lock(&lp->lock);
    atomic_store_explicit(&lp->busy_since, 0, memory_order_relaxed);
    if (TC_UNLIKELY(lp->shared->call_limit > 0)) {
        long long n = atomic_fetch_add_explicit(&lp->shared->calls, 1, memory_order_relaxed) + 1;
        if (n >= lp->shared->call_limit) {
            /*
             * max_requests reached: the main thread stops the worker, and
             * meanwhile each connection that ends a call closes once the
             * calls its client had sent are answered, as the stop would
             * have it; the stop may reach the loops late on a busy machine
             */
            if (n == lp->shared->call_limit) {
                tc_selfpipe_wake();
            }
            tc_conn_close_when_done(c);
        }
    }
    if (TC_UNLIKELY(tc_accesslog_on()) && rc == TC_OK) {
        if (tc_accesslog_write(lp->log_buf, c->peer, &info, tc_clock_mono_ns() - t0)) {
            arm_log_flush(lp);
        }
    }

    if (rc != TC_OK) {
        out->len = before;
        char why[TC_ERR_MSG_MAX];
        if (tc_conn_misfit(c, msg, len, why, sizeof(why))) {
            /* not a header that makes no sense: the other protocol's, on an "auto" port */
            tc_err_clear(&err);
            (void)tc_err_set(&err, rc, "%s", why);
            info.err_len = 0;
        }
        log_client_error(lp, c, "invalid message: ", &err, info.err_len);
        return rc;
    }
    if (err.code != TC_OK) {
        /*
         * what the client sent is a warning (TC_ENOTFOUND: a service or
         * method this server lacks); what a handler did is an error, its
         * text the operator's own code's, logged as it is
         */
        if (info.status == TC_APPEX_PROTOCOL_ERROR ||
            info.status == TC_APPEX_INVALID_MESSAGE_TYPE || err.code == TC_ENOTFOUND) {
            log_client_error(lp, c, "", &err, info.err_len);
        } else {
            tc_log(TC_LOG_ERROR, "%s: %s", c->peer, err.msg);
        }
    }
    if (TC_UNLIKELY(info.rest > 0)) {
        log_rest(lp, c, &info);
    }
    if (out->len == body) {
        out->len = before; /* oneway: nothing to send, not even a frame header */
    } else {
        t->end(out, mark);
    }
    return TC_OK;
}

const tc_conn_handler_t tc_loop_conn_handler = {
    .message = conn_message,
    .closed = conn_closed,
};

/* Make 'c' one of the connections of 'lp' (its thread, or it has ended). */
static void
add_conn(tc_loop_t *lp, tc_conn_t *c)
{
    TAILQ_INSERT_TAIL(&lp->conns, c, link);
    atomic_fetch_add(&lp->nconns, 1);
}

/*
 * The loop, other than 'lp', that has its turn to accept and holds the
 * fewest connections, if that is fewer than 'lp' holds; else NULL. One
 * still loading its handlers as the worker starts is passed over. One
 * inside a handler call is not: passing over every loop that is in a call
 * as the client comes would leave the clients to the loop that accepts
 * under load, as before; the client is served once the call ends, as that
 * loop's other connections are, or the watchdog moves it with them if the
 * call blocks (tc_loop_watch_rebalance()). The counts include the clients handed
 * over and not taken yet, so that a burst accepted in one go is dealt out
 * evenly.
 */
static tc_loop_t *
fewest_accepting(const tc_loop_t *lp)
{
    const tc_loop_shared_t *sh = lp->shared;
    tc_loop_t *best = NULL;
    int least = atomic_load(&lp->nconns);
    for (int i = 0; i < sh->nloops; i++) {
        tc_loop_t *o = sh->loops[i];
        if (o == lp || !tc_loop_accepting(o) || !tc_loop_up(o)) {
            continue;
        }
        int n = atomic_load(&o->nconns);
        if (n < least) {
            least = n;
            best = o;
        }
    }
    return best;
}

/*
 * Queue 'c' (detached) for 'to', counted there at once, and wake it; false
 * if 'to' has left its loop (it cannot while 'c' holds a slot, but if it
 * failed).
 */
static bool
queue_accepted(tc_loop_t *to, tc_conn_t *c)
{
    pthread_mutex_lock(&to->inq_lock);
    bool takes = !to->gone;
    if (takes) {
        TAILQ_INSERT_TAIL(&to->accepted, c, link);
        atomic_fetch_add(&to->nconns, 1);
    }
    pthread_mutex_unlock(&to->inq_lock);
    if (takes) {
        event_active(to->wake, EV_TIMEOUT, 0);
    }
    return takes;
}

void
tc_loop_hand_accepted(tc_loop_t *lp, tc_conn_t *c)
{
    /*
     * 'lp' is inside a handler call (its 'lock' held for it): it has not
     * left its loop, and takes 'c' once the call ends. (A close here would
     * run its connection callbacks on this thread, for a connection it
     * does not hold yet.)
     */
    bool queued = queue_accepted(lp, c);
    assert(queued);
    (void)queued;
}

/*
 * Every accepting loop is woken by a new client, and the one whose thread
 * runs first takes nearly every client that connects while the worker is
 * idle: so the client goes to the accepting loop that holds the fewest
 * connections, as Apache Thrift's TNonblockingServer deals its clients out
 * to its I/O threads. It is counted there at once, and on_connected runs
 * there, in the Lua state that runs its post_connect_closed. Not in a stop:
 * a loop taking the backlog answers the first calls itself.
 */
void
tc_loop_accepted(tc_loop_t *lp, tc_conn_t *c)
{
    tc_loop_t *to = NULL;
    if (lp->shared->nloops > 1 && !atomic_load(&lp->shared->stopping)) {
        to = fewest_accepting(lp);
    }
    if (to != NULL) {
        tc_conn_detach(c);
        if (queue_accepted(to, c)) {
            return;
        }
        tc_conn_attach(c, lp->base, lp);
    }
    add_conn(lp, c);
    if (TC_UNLIKELY(lp->hooks != NULL)) {
        run_conn_hook(lp, "on_connected", c->peer);
    }
}

/* ---- cross-thread wake-ups and the stop ---- */

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_loop_t *lp = arg;
    struct tc_conn_list batch = TAILQ_HEAD_INITIALIZER(batch);
    struct tc_conn_list fresh = TAILQ_HEAD_INITIALIZER(fresh);
    pthread_mutex_lock(&lp->inq_lock);
    TAILQ_CONCAT(&batch, &lp->incoming, link);
    TAILQ_CONCAT(&fresh, &lp->accepted, link);
    /*
     * A turn to accept is claimed under the lock, with 'accept_on': a
     * hand-over made while the connections below are attached (their hooks
     * may take long) sees that this loop has a turn and gives it none more,
     * which would merge with this one (tc_loop_watch_rebalance()).
     */
    bool take = atomic_load(&lp->take_accept) && !atomic_load(&lp->shared->stopping);
    if (take) {
        atomic_store(&lp->accept_on, true); /* first: tc_loop_accepting() sees a turn throughout */
    }
    atomic_store(&lp->take_accept, false);
    pthread_mutex_unlock(&lp->inq_lock);
    if (take) {
        tc_accept_set_accepting(lp, true);
    }
    tc_conn_t *c;
    while ((c = TAILQ_FIRST(&batch)) != NULL) {
        TAILQ_REMOVE(&batch, c, link);
        TAILQ_INSERT_TAIL(&lp->conns, c, link); /* counted as it was handed over */
        tc_conn_attach(c, lp->base, lp);
    }
    while ((c = TAILQ_FIRST(&fresh)) != NULL) {
        TAILQ_REMOVE(&fresh, c, link);
        TAILQ_INSERT_TAIL(&lp->conns, c, link); /* counted as it was handed over */
        tc_conn_attach(c, lp->base, lp);        /* (a new connection: it stays open) */
        if (TC_UNLIKELY(lp->hooks != NULL)) {
            run_conn_hook(lp, "on_connected", c->peer);
        }
    }
    if (atomic_load(&lp->shared->stopping)) {
        tc_loop_drain_conns(lp); /* handed over as this loop stopped */
        leave_if_done(lp);
    }
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_loop_t *lp = arg;
    if (!atomic_load(&lp->shared->shutdown) || lp->quit_listening) {
        tc_accept_quit_listening(lp);
        tc_loop_drain_conns(lp);
        leave_if_done(lp);
        return;
    }
    /* the idle connections close first: at worker_connections, their slots take the backlog */
    lp->in_stop = true;
    tc_loop_drain_conns(lp);
    if (tc_accept_take_backlog(lp)) {
        tc_loop_drain_conns(lp);
    }
    tc_accept_quit_listening(lp);
    lp->in_stop = false;
    leave_if_done(lp);
}

/* ---- life cycle ---- */

tc_loop_t *
tc_loop_new(tc_loop_shared_t *shared, int index, bool accepting, tc_err_t *err)
{
    tc_dispatch_t *d = tc_dispatch_new(shared->cfg, err);
    if (d == NULL) {
        return NULL;
    }
    tc_loop_t *lp = tc_xcalloc(1, sizeof(*lp));
    lp->shared = shared;
    lp->index = index;
    lp->dispatch = d;
    lp->base = event_base_new();
    if (lp->base == NULL) {
        tc_err_set(err, TC_EINVAL, "cannot create an event loop");
        tc_dispatch_free(d);
        free(lp);
        return NULL;
    }
    pthread_mutex_init(&lp->lock, NULL);
    pthread_mutex_init(&lp->inq_lock, NULL);
    TAILQ_INIT(&lp->conns);
    TAILQ_INIT(&lp->incoming);
    TAILQ_INIT(&lp->accepted);
    lp->accept_evs = tc_xcalloc(shared->nlisteners + 1, sizeof(struct event *));
    for (size_t i = 0; i < shared->nlisteners; i++) {
        lp->accept_evs[i] = event_new(lp->base, shared->listeners[i].fd, EV_READ | EV_PERSIST,
                                      tc_accept_on_accept, lp);
    }
    lp->accept_retry = evtimer_new(lp->base, tc_accept_retry, lp);
    lp->defer = evtimer_new(lp->base, tc_accept_defer_end, lp);
    lp->resume = event_new(lp->base, -1, 0, tc_accept_retry, lp);
    lp->wake = event_new(lp->base, -1, 0, on_wake, lp);
    lp->stop = event_new(lp->base, -1, 0, on_stop, lp);
    lp->first_call = evtimer_new(lp->base, tc_loop_drain_on_first_call_wait, lp);
    lp->warn_report = evtimer_new(lp->base, on_warn_report, lp);
    init_warnings(lp);
    lp->log_buf = tc_accesslog_buf_new(shared->cfg->access_log_buffer);
    lp->log_flush = evtimer_new(lp->base, on_log_flush, lp);
    if (shared->cfg->client_timeout > 0) {
        /*
         * A quarter of a short timeout, but never under a millisecond: a
         * period that rounds to no time at all was never run again, and
         * connections stayed for good (client_timeout = 1e-6).
         */
        double t = shared->cfg->client_timeout;
        double period = t < 2.0 ? t / 4.0 : 0.5;
        period = period > SWEEP_MIN_S ? period : SWEEP_MIN_S;
        struct timeval tv = tc_clock_timeval(period);
        lp->sweep = event_new(lp->base, -1, EV_PERSIST, tc_loop_drain_on_sweep, lp);
        event_add(lp->sweep, &tv);
    }
    tc_accept_set_accepting(lp, accepting);
    return lp;
}

static void *
loop_main(void *arg)
{
    tc_loop_t *lp = arg;
    atomic_store(&lp->tid, (int)syscall(SYS_gettid));
    tc_err_t err;
    tc_err_clear(&err);
    if (tc_dispatch_thread_start(lp->dispatch, &err) != TC_OK) {
        tc_log(TC_LOG_CRITICAL, "handler thread %d cannot start: %s", lp->index, err.msg);
        _exit(TC_WORKER_EXIT_BOOT);
    }
    atomic_store(&lp->up, true);
    pthread_mutex_lock(&lp->lock);
    /*
     * A loop may have no event of its own (one that does not accept, with no
     * client_timeout) until the watchdog hands it connections: it runs until
     * the stop breaks it out (leave_if_done()), not until it is empty.
     */
    event_base_loop(lp->base, EVLOOP_NO_EXIT_ON_EMPTY);
    pthread_mutex_lock(&lp->inq_lock);
    lp->gone = true; /* (set already, unless the loop failed) */
    pthread_mutex_unlock(&lp->inq_lock);
    /* graceful stop ended, or the base was broken out of: close what is left */
    tc_accept_quit_listening(lp); /* (left before on_stop() ran) */
    tc_conn_t *c;
    while ((c = TAILQ_FIRST(&lp->conns)) != NULL) {
        tc_conn_close(c, NULL);
    }
    report_warnings(lp, tc_clock_mono_ns(), true);
    tc_accesslog_flush(lp->log_buf);
    pthread_mutex_unlock(&lp->lock);
    tc_dispatch_thread_stop(lp->dispatch); /* the plugin's exit_thread(), on this thread */
    atomic_store(&lp->done, true);
    return NULL;
}

int
tc_loop_start(tc_loop_t *lp)
{
    int rc = pthread_create(&lp->thread, NULL, loop_main, lp);
    lp->started = rc == 0;
    return -rc;
}

bool
tc_loop_up(tc_loop_t *lp)
{
    return atomic_load(&lp->up);
}

void
tc_loop_join(tc_loop_t *lp)
{
    if (lp->started) {
        pthread_join(lp->thread, NULL);
        lp->started = false;
    }
}

void
tc_loop_stop(tc_loop_t *lp)
{
    event_active(lp->stop, EV_TIMEOUT, 0);
}

bool
tc_loop_quit_listening(tc_loop_t *lp)
{
    /* the lock is free only while the loop is inside a handler call, or has left its loop */
    if (pthread_mutex_trylock(&lp->lock) != 0) {
        return false;
    }
    /*
     * the last loop listening at a stop of the whole server: the clients
     * waiting in the backlogs, which its on_stop() cannot take while its
     * call runs, go to it, not to the kernel's reset as the listeners close
     */
    if (atomic_load(&lp->shared->shutdown) && !lp->quit_listening &&
        atomic_load(&lp->shared->listening) == 1) {
        tc_accept_hand_backlog(lp);
    }
    tc_accept_quit_listening(lp);
    pthread_mutex_unlock(&lp->lock);
    return true;
}

void
tc_loop_free(tc_loop_t *lp)
{
    if (lp == NULL) {
        return;
    }
    for (size_t i = 0; i < lp->shared->nlisteners; i++) {
        event_free(lp->accept_evs[i]);
    }
    free(lp->accept_evs);
    event_free(lp->accept_retry);
    event_free(lp->defer);
    event_free(lp->resume);
    event_free(lp->wake);
    event_free(lp->stop);
    event_free(lp->first_call);
    event_free(lp->warn_report);
    event_free(lp->log_flush);
    if (lp->sweep != NULL) {
        event_free(lp->sweep);
    }
    /*
     * connections handed over too late to be taken: made this loop's first,
     * so that closing them reaches this loop, not the one they came from
     * (which may be freed already). Both are counted in 'nconns' already;
     * those accepted for it had no on_connected: they get no
     * post_connect_closed either.
     */
    tc_conn_t *c;
    tc_hooks_t *hooks = lp->hooks;
    lp->hooks = NULL;
    while ((c = TAILQ_FIRST(&lp->accepted)) != NULL) {
        TAILQ_REMOVE(&lp->accepted, c, link);
        TAILQ_INSERT_TAIL(&lp->conns, c, link);
        tc_conn_attach(c, lp->base, lp);
        tc_conn_close(c, NULL);
    }
    lp->hooks = hooks;
    while ((c = TAILQ_FIRST(&lp->incoming)) != NULL) {
        TAILQ_REMOVE(&lp->incoming, c, link);
        TAILQ_INSERT_TAIL(&lp->conns, c, link);
        tc_conn_attach(c, lp->base, lp);
        tc_conn_close(c, NULL);
    }
    event_base_free(lp->base);
    tc_accesslog_buf_free(lp->log_buf); /* (written out as the thread ended) */
    tc_dispatch_free(lp->dispatch);
    tc_hooks_free(lp->hooks);
    pthread_mutex_destroy(&lp->lock);
    pthread_mutex_destroy(&lp->inq_lock);
    free(lp);
}

/* ---- the watchdog's side ---- */

double
tc_loop_busy_for(const tc_loop_t *lp, double now)
{
    long long since = atomic_load_explicit(&lp->busy_since, memory_order_relaxed);
    return since == 0 ? 0.0 : now - (double)since / 1e9;
}

bool
tc_loop_in_call(const tc_loop_t *lp)
{
    return atomic_load(&lp->busy_since) != 0;
}

bool
tc_loop_done(const tc_loop_t *lp)
{
    return atomic_load(&lp->done);
}

void
tc_loop_set_hooks(tc_loop_t *lp, tc_hooks_t *hooks)
{
    lp->hooks = hooks;
}

int
tc_loop_nconns(const tc_loop_t *lp)
{
    return atomic_load(&lp->nconns);
}

bool
tc_loop_accepting(const tc_loop_t *lp)
{
    /*
     * a turn handed to it counts at once, as its connections do: it may
     * enter a long call before it takes it. Paused at worker_connections:
     * its turn is worth nothing to another loop.
     */
    return (atomic_load(&lp->take_accept) || atomic_load(&lp->accept_on)) &&
           !atomic_load(&lp->full);
}
