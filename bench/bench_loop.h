/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One load thread of thriftcorn-bench: its own epoll loop and connections,
 * each keeping 'pipeline' calls in flight, every reply checked and timed.
 * The main thread creates the loops, runs each on a thread, and sums their
 * stats when they are done.
 */
#ifndef TC_BENCH_LOOP_H
#define TC_BENCH_LOOP_H

#include "bench_hist.h"
#include "core/err.h"
#include "protocol/protocol.h"
#include "transport/transport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct addrinfo;

typedef struct tc_bench_opts {
    const char *host;
    int port;
    const struct addrinfo *addrs; /* host:port resolved (getaddrinfo()), tried in turn */
    const char *unix_path;        /* instead of host:port when set */
    const tc_transport_t *transport;
    const tc_proto_ops_t *proto;
    int connections;
    int pipeline;
    int threads;
    double duration;   /* seconds of measurement; 0 with -n only */
    uint64_t requests; /* calls to measure; 0: by duration */
    double warmup;     /* seconds before measuring */
    double timeout;    /* seconds a call may wait for its reply */
    size_t max_reply;  /* largest reply accepted, bytes */
    const char *call;  /* --call, or NULL with idl/method/args */
    const char *idl;
    const char *method;
    const char *args;
    const char *multiplexed; /* calls named "NAME:method" (TMultiplexedProtocol), or NULL */
    int verbose_errors;      /* errors described on stderr, at most this many */
    bool reconnect;          /* a connection that fails is opened again, and its calls go on */
} tc_bench_opts_t;

/* Error kinds, counted apart. */
enum {
    TC_BENCH_ERR_REPLY,   /* wrong reply: value, method name, seqid, message type */
    TC_BENCH_ERR_APPEX,   /* a TApplicationException */
    TC_BENCH_ERR_CLOSED,  /* the server closed the connection, or bytes that do not frame */
    TC_BENCH_ERR_TIMEOUT, /* no reply within the timeout */
    TC_BENCH_ERR_CONNECT, /* the connection could not be opened */
    TC_BENCH_ERR_KINDS,
};

/* What one loop measured. */
typedef struct tc_bench_stats {
    uint64_t calls;                      /* measured calls with a correct reply */
    uint64_t errors[TC_BENCH_ERR_KINDS]; /* during warm-up and measurement alike */
    long long end_ns;                    /* when the loop's last call was answered or failed */
    uint64_t conn_min;                   /* fewest measured calls of one connection */
    uint64_t conn_max;                   /* most measured calls of one connection */
    uint64_t reconnects;                 /* connections opened again and called on (--reconnect) */
    uint64_t dropped;                    /* calls in flight left unanswered after an interrupt */
    bool interrupted;                    /* the loop saw the interrupt before it ended */
    tc_bench_hist_t hist;                /* latency of measured calls, ns */
    /*
     * The calls' work inside the window [t0, t1]: each correct reply counts
     * for the share of its call's time (write to reply) inside it, so a
     * warm-up call answered after t0, or a call answered after t1, counts
     * for its part (calls/s is this over the window's length)
     */
    double work;
} tc_bench_stats_t;

/* When to connect and to measure, shared by every loop (CLOCK_MONOTONIC ns). */
typedef struct tc_bench_clock {
    long long connect_by; /* a connection not open by then counts as a connect error */
    long long start;      /* warm-up begins */
    long long t0;         /* measurement begins */
    long long t1;         /* no measured call is sent at or after this */
    /*
     * -n is one count for every loop, so that every connection calls until
     * it runs out, whichever thread it is on. A loop claims its calls in
     * chunks, under the lock once a chunk rather than an atomic add a call,
     * and hands back at its end those it could not send.
     */
    pthread_mutex_t requests_lock;
    uint64_t requests_left; /* not claimed by any loop yet; under 'requests_lock' */
    int requests_holders;   /* loops that may hand back calls they claimed; likewise */
    atomic_int errors_shown;
    /*
     * the progress line is on stderr, a terminal, with no newline after it:
     * an error erases it before it is written. Read and written under
     * stderr's lock (flockfile()), which orders the output; atomic all the
     * same, as that lock is glibc's own, which ThreadSanitizer does not see
     */
    atomic_bool progress_shown;
    /*
     * An interrupt (SIGINT, SIGTERM) ends the run early: a signal handler
     * stores when and which (tc_bench_loop_clock_interrupt()), then makes
     * 'stop_fd', an eventfd every loop's epoll watches, readable.
     */
    int stop_fd;
    atomic_llong stop_at; /* when the run was interrupted, or LLONG_MAX */
    atomic_int stop_sig;  /* the signal that interrupted it, or 0 */
} tc_bench_clock_t;

/*
 * Set the clock's counts: -n of 'requests' (0: none), no error shown, no
 * interrupt. Before any loop runs. TC_OK, or -errno when the eventfd
 * cannot be made.
 */
TC_NODISCARD int tc_bench_loop_clock_init(tc_bench_clock_t *clock, uint64_t requests);

/*
 * Interrupt the run by signal 'sig': no call is sent any more, and each
 * loop ends once its calls in flight are answered, or within the grace of
 * tc_bench_loop_run(). Async-signal-safe: a signal handler calls it, on
 * any thread.
 */
void tc_bench_loop_clock_interrupt(tc_bench_clock_t *clock, int sig);

/* The time the measurement ends at, 'clock->t1' or an interrupt's time, never before 't0'. */
long long tc_bench_loop_clock_t1(const tc_bench_clock_t *clock);

/* Release what tc_bench_loop_clock_init() made, once no loop runs. */
void tc_bench_loop_clock_deinit(tc_bench_clock_t *clock);

/*
 * The most calls in flight a run may keep, connections times pipeline:
 * each connection's ring has a slot for each of its calls, allocated when
 * its loop is made, and its output buffer takes their requests in one go.
 * 2^20 is a 16 MiB ring in all, and far more calls than a server has
 * workers to answer.
 */
#define TC_BENCH_INFLIGHT_MAX (1 << 20)

typedef struct tc_bench_loop tc_bench_loop_t;

/*
 * A loop with connections number 'first' .. 'first + n - 1', not opened
 * yet; with -n, it sends measured calls while it can claim some of the
 * clock's. NULL with 'err' filled if the call cannot be prepared. Ownership: borrows 'o' and
 * 'clock'; free with tc_bench_loop_free().
 */
tc_bench_loop_t *tc_bench_loop_new(const tc_bench_opts_t *o, tc_bench_clock_t *clock, int first,
                                   int n, tc_err_t *err);

/*
 * Open the loop's connections, each by clock->connect_by at the latest;
 * those that fail count as connect errors. An interrupt stops it: the
 * connection being opened and those after it stay closed, no error. Before
 * tc_bench_loop_run().
 */
void tc_bench_loop_connect(tc_bench_loop_t *lp);

/* The loop's connections open now (from the thread that runs it, or before it runs). */
int tc_bench_loop_open(const tc_bench_loop_t *lp);

/*
 * Run until the measurement ends and the calls in flight are answered or
 * time out; after an interrupt, those still in flight after the shorter
 * of 1 s and --timeout are dropped (stats' 'dropped').
 */
void tc_bench_loop_run(tc_bench_loop_t *lp);

/* Calls answered so far (any thread may read it, for the progress line). */
uint64_t tc_bench_loop_progress(const tc_bench_loop_t *lp);

/* The loop's stats; valid after tc_bench_loop_run() returned. */
const tc_bench_stats_t *tc_bench_loop_stats(const tc_bench_loop_t *lp);

void tc_bench_loop_free(tc_bench_loop_t *lp);

/* CLOCK_MONOTONIC in ns. */
long long tc_bench_loop_now(void);

#endif /* TC_BENCH_LOOP_H */
