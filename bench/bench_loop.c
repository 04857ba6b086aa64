/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A load thread of thriftcorn-bench: an epoll loop over its connections.
 * Closed loop, like redis-benchmark: each connection keeps 'pipeline' calls
 * in flight and sends the next one when a reply comes (bench_conn.c).
 * Requests are encoded once per connection; a call only writes the message
 * header and copies the arguments. Here: the loop, its ticks, when a call
 * may be sent and the calls of -n shared by the loops.
 */
#include "bench_loop_internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define TICK_NS    20000000LL   /* timeouts and the end of the run are checked this often */
#define CLAIM_MAX  1024         /* calls of -n a loop claims at once, at most (see claim()) */
#define CLAIM_PART 4            /* of its connections' share of those left, it claims a part */
#define GRACE_NS   1000000000LL /* after an interrupt, calls in flight get this long, at most */

/* tc_bench_loop_clock_interrupt() runs in a signal handler: its atomics must not take a lock */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "an interrupt's atomics are lock-free");

long long
tc_bench_loop_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- errors ---- */

void
tc_bench_loop_report(tc_bench_loop_t *lp, const conn_t *c, const char *fmt, ...)
{
    /*
     * past the limit the count stops: at one a call, it wrapped to below 0
     * on a long run (2^31 errors) and every error after was shown
     */
    if (atomic_load_explicit(&lp->clock->errors_shown, memory_order_relaxed) >=
            lp->o->verbose_errors ||
        atomic_fetch_add(&lp->clock->errors_shown, 1) >= lp->o->verbose_errors) {
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    flockfile(stderr);
    if (atomic_load_explicit(&lp->clock->progress_shown, memory_order_relaxed)) {
        /* on a line of its own, not after the progress line's text */
        fputs("\r\033[K", stderr);
        atomic_store_explicit(&lp->clock->progress_shown, false, memory_order_relaxed);
    }
    fprintf(stderr, "thriftcorn-bench: error: connection %d: %s\n", c->id, msg);
    funlockfile(stderr);
}

/* ---- the clock ---- */

int
tc_bench_loop_clock_init(tc_bench_clock_t *clock, uint64_t requests)
{
    clock->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (clock->stop_fd < 0) {
        return -errno;
    }
    (void)pthread_mutex_init(&clock->requests_lock, NULL);
    clock->requests_left = requests;
    clock->requests_holders = 0;
    atomic_init(&clock->errors_shown, 0);
    atomic_init(&clock->progress_shown, false);
    atomic_init(&clock->stop_at, LLONG_MAX);
    atomic_init(&clock->stop_sig, 0);
    return TC_OK;
}

void
tc_bench_loop_clock_deinit(tc_bench_clock_t *clock)
{
    (void)pthread_mutex_destroy(&clock->requests_lock);
    close(clock->stop_fd);
}

void
tc_bench_loop_clock_interrupt(tc_bench_clock_t *clock, int sig)
{
    /* clock_gettime() and write() are async-signal-safe; the first interrupt's time stays */
    long long none = LLONG_MAX;
    (void)atomic_compare_exchange_strong(&clock->stop_at, &none, tc_bench_loop_now());
    int zero = 0;
    (void)atomic_compare_exchange_strong(&clock->stop_sig, &zero, sig);
    uint64_t one = 1;
    ssize_t n = write(clock->stop_fd, &one, sizeof(one));
    (void)n; /* EAGAIN only, when the count is full: readable all the same */
}

long long
tc_bench_loop_clock_t1(const tc_bench_clock_t *clock)
{
    long long at = atomic_load(&clock->stop_at);
    long long t1 = at < clock->t1 ? at : clock->t1;
    return t1 > clock->t0 ? t1 : clock->t0;
}

/* ---- the calls of -n ---- */

/*
 * Claim calls of -n, the loop's budget being spent: its connections' share
 * of those left, a part of it, so that the loops run out together (as
 * OpenMP's guided schedule does): a chunk as large at the end left the
 * connections of one loop calling alone while the others waited. Whether
 * it got some; if not, the loop is dry while another may still hand some
 * back, or stopping.
 */
static bool
claim(tc_bench_loop_t *lp)
{
    tc_bench_clock_t *k = lp->clock;
    uint64_t per = (uint64_t)CLAIM_PART * (uint64_t)lp->o->connections;
    (void)pthread_mutex_lock(&k->requests_lock);
    uint64_t left = k->requests_left;
    uint64_t n = left >= per * CLAIM_MAX ? CLAIM_MAX : left * (uint64_t)lp->nconns / per;
    if (n == 0 && left > 0) {
        n = 1;
    }
    k->requests_left = left - n;
    k->requests_holders -= lp->holding ? 1 : 0;
    k->requests_holders += n > 0 ? 1 : 0;
    bool others = k->requests_holders > 0;
    (void)pthread_mutex_unlock(&k->requests_lock);
    lp->budget = n;
    lp->holding = n > 0;
    lp->dry = n == 0 && others;
    if (n == 0 && !others) {
        lp->stopping = true;
    }
    return n > 0;
}

/* The calls claimed and not sent go back to the clock, for the loops still running. */
static void
hand_back(tc_bench_loop_t *lp)
{
    if (!lp->holding) {
        return;
    }
    (void)pthread_mutex_lock(&lp->clock->requests_lock);
    lp->clock->requests_left += lp->budget;
    lp->clock->requests_holders--;
    (void)pthread_mutex_unlock(&lp->clock->requests_lock);
    lp->budget = 0;
    lp->holding = false;
}

/* ---- the calls to send ---- */

bool
tc_bench_loop_may_send(tc_bench_loop_t *lp, bool *measured)
{
    if (lp->stopping || lp->dry) {
        return false;
    }
    *measured = lp->now >= lp->clock->t0;
    if (!*measured) {
        return true;
    }
    if (lp->now >= lp->t1) {
        lp->stopping = true;
        return false;
    }
    if (lp->o->requests > 0) {
        if (lp->budget == 0 && !claim(lp)) {
            return false;
        }
        lp->budget--;
    }
    return true;
}

bool
tc_bench_loop_run_over(tc_bench_loop_t *lp)
{
    if (!lp->stopping && !lp->dry && lp->now >= lp->clock->t0) {
        if (lp->now >= lp->t1) {
            lp->stopping = true;
        } else if (lp->o->requests > 0 && lp->budget == 0) {
            (void)claim(lp); /* dry or stopping when none is left */
        }
    }
    return lp->stopping || lp->dry;
}

/* ---- making and opening ---- */

void
tc_bench_loop_connect(tc_bench_loop_t *lp)
{
    for (int i = 0; i < lp->nconns; i++) {
        if (atomic_load(&lp->clock->stop_at) != LLONG_MAX) {
            return; /* interrupted: the rest stay closed */
        }
        tc_bench_dial_open(lp, &lp->conns[i]);
    }
}

int
tc_bench_loop_open(const tc_bench_loop_t *lp)
{
    return lp->nopen;
}

/*
 * The name 'call' is sent under: with --multiplexed NAME, "NAME:method",
 * as Apache's TMultiplexedProtocol names it (the reply names the method
 * alone, as its multiplexed processors answer); else the method's.
 */
static char *
wire_name(const tc_bench_opts_t *o, const tc_bench_call_t *call, size_t *len)
{
    size_t mux = o->multiplexed != NULL ? strlen(o->multiplexed) + 1 : 0;
    char *name = tc_xmalloc(mux + call->method_len + 1);
    if (mux > 0) {
        memcpy(name, o->multiplexed, mux - 1);
        name[mux - 1] = ':';
    }
    memcpy(name + mux, call->method, call->method_len);
    name[mux + call->method_len] = '\0';
    *len = mux + call->method_len;
    return name;
}

tc_bench_loop_t *
tc_bench_loop_new(const tc_bench_opts_t *o, tc_bench_clock_t *clock, int first, int n,
                  tc_err_t *err)
{
    tc_bench_call_t *call = o->call != NULL
                                ? tc_bench_call_new(o->call, o->proto, err)
                                : tc_bench_idl_new(o->idl, o->method, o->args, o->proto, err);
    if (call == NULL) {
        return NULL;
    }
    tc_bench_loop_t *lp = tc_xcalloc(1, sizeof(*lp));
    lp->o = o;
    lp->clock = clock;
    lp->call = call;
    lp->wire_name = wire_name(o, call, &lp->wire_len);
    lp->nconns = n;
    tc_bench_dial_targets(lp);
    tc_bench_hist_init(&lp->stats.hist);
    atomic_init(&lp->progress, 0);
    lp->conns = tc_xcalloc((size_t)n, sizeof(conn_t));
    for (int i = 0; i < n; i++) {
        conn_t *c = &lp->conns[i];
        c->fd = -1;
        c->id = first + i;
        c->next_seqid = 1;
        tc_buf_init(&c->in);
        tc_buf_init(&c->out);
        tc_proto_init(&c->wp, o->proto, NULL, 0, &c->out);
        tc_bench_req_init(&c->req);
        c->ring = tc_xcalloc((size_t)o->pipeline, sizeof(inflight_t));
        if (call->request(call, first + i, &c->req, err) != TC_OK) {
            tc_bench_loop_free(lp);
            return NULL;
        }
    }
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    if (lp->ep < 0) {
        tc_err_set(err, -errno, "epoll_create1: %s", tc_strerror(-errno));
        tc_bench_loop_free(lp);
        return NULL;
    }
    /* edge-triggered: the eventfd is never read, and each loop hears of the interrupt once */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, clock->stop_fd, &ev) != 0) {
        tc_err_set(err, -errno, "epoll_ctl: %s", tc_strerror(-errno));
        tc_bench_loop_free(lp);
        return NULL;
    }
    return lp;
}

/* ---- the loop ---- */

static void
check_timeouts(tc_bench_loop_t *lp)
{
    long long limit = (long long)(lp->o->timeout * 1e9);
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        if (c->dial != NULL) {
            tc_bench_dial_tick(lp, c);
        } else if (c->fd >= 0 && c->count > 0 && lp->now - c->ring[c->head].sent > limit) {
            char why[128];
            snprintf(why, sizeof(why), "no reply within %.3g s", lp->o->timeout);
            tc_bench_conn_fail(lp, c, TC_BENCH_ERR_TIMEOUT, why);
        }
    }
}

/* Each open connection given calls up to 'pipeline' in flight, while tc_bench_loop_may_send()
 * allows. */
static void
fill(tc_bench_loop_t *lp)
{
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        if (c->fd < 0 || c->dial != NULL) {
            continue;
        }
        bool measured;
        while (c->count < lp->o->pipeline && tc_bench_loop_may_send(lp, &measured)) {
            tc_bench_conn_send(lp, c, measured);
        }
        tc_bench_conn_flush(lp, c);
    }
}

/*
 * The run is interrupted: no call is sent any more, the window ends at the
 * interrupt, and the calls in flight get a short grace for their replies
 * (those of a server that stopped answering would keep the user waiting
 * for --timeout).
 */
static void
interrupt(tc_bench_loop_t *lp)
{
    long long at = atomic_load(&lp->clock->stop_at);
    long long timeout = (long long)(lp->o->timeout * 1e9);
    lp->stopping = true;
    lp->stats.interrupted = true;
    lp->drain_by = at + (timeout < GRACE_NS ? timeout : GRACE_NS);
    lp->t1 = at < lp->t1 ? at : lp->t1;
}

void
tc_bench_loop_run(tc_bench_loop_t *lp)
{
    lp->t1 = lp->clock->t1;
    lp->now = tc_bench_loop_now();
    fill(lp);
    long long next_tick = lp->now + TICK_NS;
    struct epoll_event evs[MAX_EVENTS];
    while (lp->nopen > 0 || lp->nreopen > 0 || lp->ndial > 0) {
        lp->now = tc_bench_loop_now();
        if (!lp->stopping && lp->now >= lp->t1) {
            lp->stopping = true;
        }
        if (lp->stats.interrupted && lp->now >= lp->drain_by) {
            lp->stats.dropped = (uint64_t)lp->inflight; /* closed below, unanswered */
            break;
        }
        if (lp->inflight == 0 && (lp->stopping || lp->dry)) {
            /* the run's end for this loop, unless calls of -n are handed back to a dry one */
            lp->idle_at = lp->idle_at != 0 ? lp->idle_at : lp->now;
            if (lp->stopping) {
                break;
            }
        }
        if (lp->now >= next_tick) {
            check_timeouts(lp);
            if (lp->dry && !lp->stopping && claim(lp)) {
                fill(lp);
            }
            next_tick = lp->now + TICK_NS;
        }
        int n = epoll_wait(lp->ep, evs, MAX_EVENTS, lp->nreopen > 0 ? 0 : (int)(TICK_NS / 1000000));
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL) { /* the clock's stop_fd */
                interrupt(lp);
                continue;
            }
            if (c->dial != NULL) {
                if (c->fd >= 0) {
                    tc_bench_dial_ready(lp, c);
                }
                continue;
            }
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
                tc_bench_conn_read(lp, c);
            }
            if (c->fd >= 0 && (evs[i].events & EPOLLOUT) != 0) {
                tc_bench_conn_flush(lp, c);
            }
        }
        /* after the round: a stale event of a closed fd must not reach its successor */
        for (int i = 0; lp->nreopen > 0 && i < lp->nconns; i++) {
            if (lp->conns[i].reopen) {
                tc_bench_dial_reopen(lp, &lp->conns[i]);
            }
        }
    }
    /*
     * the run's end for this loop: its last call answered, or failed (a
     * timeout, a close), which a server that stops answering makes late;
     * for a dry loop, when it had none left in flight, not the tick it
     * found the run over at
     */
    lp->stats.end_ns = lp->idle_at != 0 ? lp->idle_at : tc_bench_loop_now();
    hand_back(lp);
    lp->stats.conn_min = UINT64_MAX;
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        if (c->dial != NULL) {
            tc_bench_loop_report(lp, c, "not opened again: the run has ended");
        }
        tc_bench_conn_close(lp, c);
        lp->stats.conn_min = c->calls < lp->stats.conn_min ? c->calls : lp->stats.conn_min;
        lp->stats.conn_max = c->calls > lp->stats.conn_max ? c->calls : lp->stats.conn_max;
    }
}

uint64_t
tc_bench_loop_progress(const tc_bench_loop_t *lp)
{
    return atomic_load_explicit(&lp->progress, memory_order_relaxed);
}

const tc_bench_stats_t *
tc_bench_loop_stats(const tc_bench_loop_t *lp)
{
    return &lp->stats;
}

void
tc_bench_loop_free(tc_bench_loop_t *lp)
{
    if (lp == NULL) {
        return;
    }
    for (int i = 0; i < lp->nconns; i++) {
        conn_t *c = &lp->conns[i];
        tc_bench_conn_close(lp, c);
        tc_buf_deinit(&c->in);
        free(c->skip);
        tc_buf_deinit(&c->out);
        tc_bench_req_deinit(&c->req);
        free(c->ring);
    }
    free(lp->conns);
    if (lp->ep > 0) {
        close(lp->ep);
    }
    lp->call->free(lp->call);
    free(lp->wire_name);
    free(lp);
}
