/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A load thread's loop, private to the files that make it up: bench_loop.c
 * (the loop, the clock and the calls of -n), bench_conn.c (the calls on an
 * open connection) and bench_dial.c (opening connections). No other file
 * includes it.
 */
#ifndef TC_BENCH_LOOP_INTERNAL_H
#define TC_BENCH_LOOP_INTERNAL_H

#include "bench_loop.h"

#include "bench_call.h"
#include "core/buf.h"
#include "core/common.h"

#include <netdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

typedef struct inflight {
    long long sent;
    int32_t seqid;
    bool measured;
} inflight_t;

typedef struct conn {
    int fd; /* -1 once closed */
    int id;
    bool want_out;     /* EPOLLOUT is registered */
    bool reopen;       /* closed, to be opened again (--reconnect) */
    struct dial *dial; /* being opened again (then 'fd' is its connect in progress, or -1) */
    tc_buf_t in;
    tc_proto_skip_state_t *skip; /* tc_transport_scan()'s state for 'in', or NULL */
    tc_buf_t out;
    size_t out_off;
    tc_proto_t wp; /* writes requests into 'out' */
    tc_bench_req_t req;
    inflight_t *ring; /* 'pipeline' slots */
    int head;
    int count;
    int unsent; /* the last 'unsent' calls of the ring are not written yet */
    int32_t next_seqid;
    uint64_t calls; /* measured calls answered correctly */
} conn_t;

struct tc_bench_loop {
    const tc_bench_opts_t *o;
    tc_bench_clock_t *clock;
    tc_bench_call_t *call;
    char *wire_name; /* the call's name as sent: "NAME:method" with --multiplexed */
    size_t wire_len;
    int ep;
    conn_t *conns;
    int nconns;
    int nopen;
    int nreopen;                    /* connections marked 'reopen' */
    int ndial;                      /* connections being opened again */
    const struct addrinfo *targets; /* o->addrs, or 'unix_ai' */
    struct addrinfo unix_ai;        /* --unix as the one address */
    struct sockaddr_un unix_sun;
    int inflight;
    bool stopping;
    long long t1;       /* the window's end: the clock's 't1', or the interrupt's time */
    long long drain_by; /* after an interrupt, calls still in flight then are dropped */
    /*
     * -n: none left to claim, but another loop holds some it may hand back;
     * no call is sent until the next tick claims some, or finds the run over
     */
    bool dry;
    uint64_t budget;   /* calls of -n claimed and not sent yet */
    bool holding;      /* counted in the clock's 'requests_holders' */
    long long idle_at; /* when the last call in flight ended with no call to send, or 0 */
    long long now;
    uint64_t answered;
    atomic_ullong progress;
    tc_bench_stats_t stats;
};

/* ---- bench_loop.c: errors and the calls to send ---- */

/* Describe an error of connection 'c' on stderr, unless --show-errors are shown already. */
void tc_bench_loop_report(tc_bench_loop_t *lp, const conn_t *c, const char *fmt, ...)
    TC_PRINTF(3, 4);

/*
 * Whether another call may be sent now, and whether it is measured
 * ('*measured'); with -n, a measured call is taken from the loop's budget.
 */
bool tc_bench_loop_may_send(tc_bench_loop_t *lp, bool *measured);

/*
 * Whether no call is to be sent any more, as tc_bench_loop_may_send() says,
 * without sending one: a connection is not opened again for no call.
 */
bool tc_bench_loop_run_over(tc_bench_loop_t *lp);

/* ---- bench_conn.c: the calls on an open connection ---- */

/* Close 'c' (or end its opening again); its calls in flight are dropped. */
void tc_bench_conn_close(tc_bench_loop_t *lp, conn_t *c);

/*
 * Close 'c' after an error of 'kind' (TC_BENCH_ERR_*), described by 'why';
 * with --reconnect, it is marked to be opened again.
 */
void tc_bench_conn_fail(tc_bench_loop_t *lp, conn_t *c, int kind, const char *why);

/* Put a call in c's ring and its request in c's output buffer; tc_bench_conn_flush() writes it. */
void tc_bench_conn_send(tc_bench_loop_t *lp, conn_t *c, bool measured);

/* Write what c's output buffer holds, or as much as the socket takes (then wait for EPOLLOUT). */
void tc_bench_conn_flush(tc_bench_loop_t *lp, conn_t *c);

/* 'c' is readable: read, check each whole reply, send the next calls. */
void tc_bench_conn_read(tc_bench_loop_t *lp, conn_t *c);

/* ---- bench_dial.c: opening connections ---- */

/* Set lp->targets: the addresses of --host and --port, or --unix as the one address. */
void tc_bench_dial_targets(tc_bench_loop_t *lp);

/*
 * Open 'c' the first time, by clock->connect_by; if it cannot be, a connect
 * error. An interrupt ends the wait, leaving 'c' closed and no error.
 */
void tc_bench_dial_open(tc_bench_loop_t *lp, conn_t *c);

/* --reconnect: open 'c', marked 'reopen', again; the loop serves the others meanwhile. */
void tc_bench_dial_reopen(tc_bench_loop_t *lp, conn_t *c);

/* The connect in progress on c->fd (c->dial set) has ended: open, or the next address. */
void tc_bench_dial_ready(tc_bench_loop_t *lp, conn_t *c);

/* At each tick, for 'c' being opened again: past --timeout, a connect error; else tried again. */
void tc_bench_dial_tick(tc_bench_loop_t *lp, conn_t *c);

/* Give up opening 'c' again: its connect in progress is closed. */
void tc_bench_dial_end(tc_bench_loop_t *lp, conn_t *c);

#endif /* TC_BENCH_LOOP_INTERNAL_H */
