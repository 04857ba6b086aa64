/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thriftcorn-bench: a load generator for any Thrift server, in the spirit of
 * redis-benchmark. The run and its report live here; the options are
 * bench_cli.c, the load threads bench_loop.c, the calls bench_call.c and
 * bench_idl.c.
 */
#include "bench_call.h"
#include "bench_cli.h"
#include "bench_loop.h"
#include "build_config.h"
#include "core/alloc.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- interrupts ---- */

/* The clock of the run a SIGINT or SIGTERM interrupts; set before the handler is. */
static tc_bench_clock_t *interrupt_clock;
static atomic_int interrupts; /* counted as each handler begins: the second one ends it all */

/*
 * The first SIGINT or SIGTERM ends the run as -d ending would, and the
 * report is printed (tc_bench_loop_clock_interrupt()); a second one ends
 * the process at once, by the signal's default action.
 */
static void
on_interrupt(int sig)
{
    int saved = errno;
    if (atomic_fetch_add(&interrupts, 1) > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        (void)sigaction(sig, &sa, NULL);
        (void)raise(sig); /* blocked in its handler: delivered once it returns */
    } else {
        tc_bench_loop_clock_interrupt(interrupt_clock, sig);
    }
    errno = saved;
}

/*
 * SIGINT and SIGTERM interrupt the run of 'clock' (with 'on' true), or end
 * the process again (once no load thread runs: the handler's 'clock' stays).
 */
static void
catch_interrupts(tc_bench_clock_t *clock, bool on)
{
    if (on) {
        interrupt_clock = clock;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on ? on_interrupt : SIG_DFL;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
}

/* ---- running ---- */

typedef struct run {
    tc_bench_cli_t *cli;
    tc_bench_clock_t clock;
    tc_bench_loop_t **loops;
    pthread_t *tids;
    struct thread_arg *args;
    int nloops;
    atomic_int finished;
    int connected;   /* connections open when the connecting ended */
    bool connecting; /* interrupted while connecting: no load thread was started */
} run_t;

typedef struct thread_arg {
    run_t *run;
    tc_bench_loop_t *loop;
} thread_arg_t;

static void *
thread_main(void *arg)
{
    thread_arg_t *ta = arg;
    tc_bench_loop_run(ta->loop);
    atomic_fetch_add(&ta->run->finished, 1);
    return NULL;
}

static double
cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t
progress(const run_t *r)
{
    uint64_t n = 0;
    for (int i = 0; i < r->nloops; i++) {
        n += tc_bench_loop_progress(r->loops[i]);
    }
    return n;
}

/* Wait for the loops, with a progress line on a terminal; returns the CPU share used. */
static double
supervise(run_t *r)
{
    bool tty = isatty(STDERR_FILENO) && !r->cli->json;
    long long cpu_at = 0;
    double cpu0 = 0.0;
    long long last_print = r->clock.start;
    uint64_t last_n = 0;
    while (atomic_load(&r->finished) < r->nloops) {
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
        long long now = tc_bench_loop_now();
        if (cpu_at == 0 && now >= r->clock.t0) {
            cpu_at = now;
            cpu0 = cpu_seconds();
        }
        if (tty && now - last_print >= 1000000000LL) {
            uint64_t n = progress(r);
            flockfile(stderr); /* the loops' errors erase the line first (clock 'progress_shown') */
            fprintf(stderr, "\r  %5.1f s  %12llu calls  %10.0f calls/s ",
                    (double)(now - r->clock.start) / 1e9, (unsigned long long)n,
                    (double)(n - last_n) * 1e9 / (double)(now - last_print));
            atomic_store_explicit(&r->clock.progress_shown, true, memory_order_relaxed);
            funlockfile(stderr);
            last_print = now;
            last_n = n;
        }
    }
    if (atomic_load_explicit(&r->clock.progress_shown, memory_order_relaxed)) { /* loops done */
        fputs("\r\033[K", stderr);
    }
    long long end = tc_bench_loop_now();
    if (cpu_at == 0 || end <= cpu_at) {
        return 0.0;
    }
    return (cpu_seconds() - cpu0) * 1e9 / (double)(end - cpu_at) * 100.0;
}

static void
run_free(run_t *r)
{
    for (int i = 0; i < r->nloops; i++) {
        tc_bench_loop_free(r->loops[i]);
    }
    free(r->loops);
    free(r->tids);
    free(r->args);
    tc_bench_loop_clock_deinit(&r->clock);
}

static int
start(run_t *r)
{
    const tc_bench_opts_t *o = &r->cli->o;
    int rc = tc_bench_loop_clock_init(&r->clock, o->requests);
    if (rc != TC_OK) {
        fprintf(stderr, "thriftcorn-bench: eventfd: %s\n", tc_strerror(rc));
        return 2;
    }
    r->nloops = o->threads;
    r->loops = tc_xcalloc((size_t)r->nloops, sizeof(*r->loops));
    r->tids = tc_xcalloc((size_t)r->nloops, sizeof(*r->tids));
    r->args = tc_xcalloc((size_t)r->nloops, sizeof(*r->args));
    atomic_init(&r->finished, 0);
    int first = 0;
    for (int i = 0; i < r->nloops; i++) {
        int n = o->connections / r->nloops + (i < o->connections % r->nloops ? 1 : 0);
        tc_err_t err;
        tc_err_clear(&err);
        r->loops[i] = tc_bench_loop_new(o, &r->clock, first, n, &err);
        if (r->loops[i] == NULL) {
            fprintf(stderr, "thriftcorn-bench: %s\n", err.msg);
            run_free(r);
            return 2;
        }
        first += n;
    }
    /*
     * Connecting may take up to --timeout (a server whose backlog is full, a
     * host that does not answer): an interrupt ends it too, and the report
     * says so.
     */
    catch_interrupts(&r->clock, true);
    /* every connection of every loop is open within --timeout, or counts as a connect error */
    r->clock.connect_by = tc_bench_loop_now() + (long long)(o->timeout * 1e9);
    for (int i = 0; i < r->nloops; i++) {
        tc_bench_loop_connect(r->loops[i]);
        r->connected += tc_bench_loop_open(r->loops[i]);
    }
    /* the clock starts once every connection is open */
    r->clock.start = tc_bench_loop_now();
    if (atomic_load(&r->clock.stop_sig) != 0) { /* nothing to measure */
        r->clock.t0 = r->clock.t1 = r->clock.start;
        r->connecting = true;
        return 0;
    }
    r->clock.t0 = r->clock.start + (long long)(o->warmup * 1e9);
    /* -n alone has no time limit: each call still ends within --timeout */
    r->clock.t1 = o->duration > 0.0 ? r->clock.t0 + (long long)(o->duration * 1e9) : LLONG_MAX;
    for (int i = 0; i < r->nloops; i++) {
        r->args[i].run = r;
        r->args[i].loop = r->loops[i];
        if (pthread_create(&r->tids[i], NULL, thread_main, &r->args[i]) != 0) {
            fprintf(stderr, "thriftcorn-bench: cannot start a thread\n");
            exit(2); /* NOLINT(concurrency-mt-unsafe) */
        }
    }
    return 0;
}

/* ---- the report ---- */

typedef struct summary {
    uint64_t calls;
    uint64_t answered; /* correct replies, warm-up and drain included */
    uint64_t errors;
    uint64_t by_kind[TC_BENCH_ERR_KINDS];
    double work; /* calls' work inside the window: stats' 'work' */
    double elapsed;
    double rps;
    double cpu_pct;
    uint64_t conn_min; /* fairness: measured calls of the least and most served connection */
    uint64_t conn_max;
    uint64_t reconnects; /* --reconnect */
    bool interrupted;    /* by a signal, while a loop still ran */
    int stop_sig;
    bool in_warmup;  /* interrupted before the measurement began */
    bool connecting; /* interrupted while connecting, 'connected' of -c open */
    int connected;
    uint64_t dropped; /* calls in flight unanswered when an interrupted run ended */
    tc_bench_hist_t hist;
} summary_t;

static const char *const kind_names[TC_BENCH_ERR_KINDS] = {
    [TC_BENCH_ERR_REPLY] = "reply",     [TC_BENCH_ERR_APPEX] = "exception",
    [TC_BENCH_ERR_CLOSED] = "closed",   [TC_BENCH_ERR_TIMEOUT] = "timeout",
    [TC_BENCH_ERR_CONNECT] = "connect",
};

static void
summarize(const run_t *r, summary_t *s)
{
    memset(s, 0, sizeof(*s));
    tc_bench_hist_init(&s->hist);
    long long end = r->clock.t0;
    s->conn_min = UINT64_MAX;
    for (int i = 0; i < r->nloops; i++) {
        const tc_bench_stats_t *st = tc_bench_loop_stats(r->loops[i]);
        s->calls += st->calls;
        s->answered += tc_bench_loop_progress(r->loops[i]);
        s->conn_min = st->conn_min < s->conn_min ? st->conn_min : s->conn_min;
        s->conn_max = st->conn_max > s->conn_max ? st->conn_max : s->conn_max;
        for (int k = 0; k < TC_BENCH_ERR_KINDS; k++) {
            s->by_kind[k] += st->errors[k];
            s->errors += st->errors[k];
        }
        s->reconnects += st->reconnects;
        s->interrupted = s->interrupted || st->interrupted;
        s->dropped += st->dropped;
        s->work += st->work;
        if (st->end_ns > end) {
            end = st->end_ns;
        }
        tc_bench_hist_merge(&s->hist, &st->hist);
    }
    if (s->conn_min == UINT64_MAX) {
        s->conn_min = 0;
    }
    /*
     * The window is t0 to t1, or to the run's end when it ended before t1
     * (-n, or no connection left): its last call answered or failed, so that
     * the time a server left calls unanswered until their --timeout is in
     * it. A call partly inside it counts for that part (tc_bench_stats_t
     * 'work').
     */
    long long t1 = s->interrupted ? tc_bench_loop_clock_t1(&r->clock) : r->clock.t1;
    if (end > t1) {
        end = t1;
    }
    s->connected = r->connected;
    s->connecting = r->connecting;
    s->interrupted = s->interrupted || r->connecting;
    if (s->interrupted) {
        s->stop_sig = atomic_load(&r->clock.stop_sig);
        s->in_warmup = atomic_load(&r->clock.stop_at) < r->clock.t0;
    }
    s->elapsed = (double)(end - r->clock.t0) / 1e9;
    s->rps = s->calls > 0 && s->elapsed > 0.0 ? s->work / s->elapsed : 0.0;
}

static double
pct_us(const summary_t *s, double pct)
{
    return (double)tc_bench_hist_percentile(&s->hist, pct) / 1e3;
}

/* 's' as a JSON string, whatever bytes it holds (--call and --method are checked names) */
static void
print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20) { /* other bytes pass as they are: UTF-8 stays UTF-8 */
            printf("\\u%04x", *p);
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

static void
print_json(const tc_bench_cli_t *cli, const summary_t *s)
{
    const tc_bench_opts_t *o = &cli->o;
    printf("{\"call\":");
    print_json_string(o->call != NULL ? o->call : o->method);
    printf(",\"transport\":\"%s\",\"protocol\":\"%s\",\"connections\":%d,"
           "\"pipeline\":%d,\"threads\":%d,",
           o->transport->name, o->proto->name, o->connections, o->pipeline, o->threads);
    printf("\"calls\":%llu,\"answered\":%llu,\"errors\":%llu,\"errors_by_kind\":{",
           (unsigned long long)s->calls, (unsigned long long)s->answered,
           (unsigned long long)s->errors);
    for (int k = 0; k < TC_BENCH_ERR_KINDS; k++) {
        printf("%s\"%s\":%llu", k > 0 ? "," : "", kind_names[k], (unsigned long long)s->by_kind[k]);
    }
    printf("},\"elapsed_s\":%.3f,\"rps\":%.1f,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
           "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"client_cpu_pct\":%.0f,"
           "\"conn_calls_min\":%llu,\"conn_calls_max\":%llu,\"reconnects\":%llu,"
           "\"connected\":%d,\"interrupted\":%s,\"connecting\":%s,\"dropped\":%llu}\n",
           s->elapsed, s->rps, tc_bench_hist_mean(&s->hist) / 1e3, pct_us(s, 50.0), pct_us(s, 90.0),
           pct_us(s, 99.0), pct_us(s, 99.9), pct_us(s, 100.0), s->cpu_pct,
           (unsigned long long)s->conn_min, (unsigned long long)s->conn_max,
           (unsigned long long)s->reconnects, s->connected, s->interrupted ? "true" : "false",
           s->connecting ? "true" : "false", (unsigned long long)s->dropped);
}

/*
 * Seconds as given: "3.0", or as many digits as they need ("0.25"), where
 * "%.1f" showed -d 0.25 as 0.2 s and --warmup 0.05 as 0.1 s.
 */
static const char *
seconds(char *buf, size_t n, double v)
{
    snprintf(buf, n, "%.1f", v);
    if (strtod(buf, NULL) != v) {
        snprintf(buf, n, "%.15g", v);
    }
    return buf;
}

static void
print_report(const tc_bench_cli_t *cli, const summary_t *s)
{
    const tc_bench_opts_t *o = &cli->o;
    if (s->connecting) {
        printf("  interrupted   while connecting by %s, %d of %d connection%s open\n",
               s->stop_sig == SIGINT ? "SIGINT" : "SIGTERM", s->connected, o->connections,
               o->connections == 1 ? "" : "s");
    } else if (s->interrupted) {
        char when[96];
        if (s->in_warmup) {
            snprintf(when, sizeof(when), "during the warm-up");
        } else if (o->duration > 0.0) {
            char d[32];
            snprintf(when, sizeof(when), "after %.2f s of %s s", s->elapsed,
                     seconds(d, sizeof(d), o->duration));
        } else {
            snprintf(when, sizeof(when), "after %llu of %llu calls", (unsigned long long)s->calls,
                     (unsigned long long)o->requests);
        }
        printf("  interrupted   %s by %s, %llu call%s in flight dropped\n", when,
               s->stop_sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)s->dropped,
               s->dropped == 1 ? "" : "s");
    }
    printf("  calls         %llu in %.2f s\n", (unsigned long long)s->calls, s->elapsed);
    printf("  calls/s       %.1f\n", s->rps);
    printf("  latency (us)  mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
           tc_bench_hist_mean(&s->hist) / 1e3, pct_us(s, 50.0), pct_us(s, 90.0), pct_us(s, 99.0),
           pct_us(s, 99.9), pct_us(s, 100.0));
    printf("  per conn      %llu to %llu calls (least and most served connection)\n",
           (unsigned long long)s->conn_min, (unsigned long long)s->conn_max);
    printf("  client cpu    %.0f%% of one core (%d thread%s)\n", s->cpu_pct, o->threads,
           o->threads == 1 ? "" : "s");
    if (o->reconnect) {
        printf("  reconnects    %llu\n", (unsigned long long)s->reconnects);
    }
    printf("  errors        %llu\n", (unsigned long long)s->errors);
    printf("RESULT calls=%llu errors=%llu rps=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f "
           "p999_us=%.1f max_us=%.1f\n",
           (unsigned long long)s->calls, (unsigned long long)s->errors, s->rps, pct_us(s, 50.0),
           pct_us(s, 90.0), pct_us(s, 99.0), pct_us(s, 99.9), pct_us(s, 100.0));
}

static void
print_errors(const tc_bench_cli_t *cli, const summary_t *s)
{
    FILE *f = cli->json ? stderr : stdout;
    fprintf(f, "ERRORS: %llu (", (unsigned long long)s->errors);
    for (int k = 0; k < TC_BENCH_ERR_KINDS; k++) {
        fprintf(f, "%s%s %llu", k > 0 ? ", " : "", kind_names[k],
                (unsigned long long)s->by_kind[k]);
    }
    fprintf(f, ")\n");
}

static void
print_banner(const tc_bench_cli_t *cli)
{
    const tc_bench_opts_t *o = &cli->o;
    char where[300];
    if (o->unix_path != NULL) {
        snprintf(where, sizeof(where), "unix:%s", o->unix_path);
    } else {
        /* an IPv6 address in brackets, as the connect errors name it */
        bool v6 = strchr(o->host, ':') != NULL;
        snprintf(where, sizeof(where), "%s%s%s:%d", v6 ? "[" : "", o->host, v6 ? "]" : "", o->port);
    }
    char len[64];
    if (o->requests > 0) {
        snprintf(len, sizeof(len), "%llu call%s", (unsigned long long)o->requests,
                 o->requests == 1 ? "" : "s");
    } else {
        char d[32];
        snprintf(len, sizeof(len), "%s s", seconds(d, sizeof(d), o->duration));
    }
    char w[32];
    /* the service a multiplexed server is asked for, as the calls name it: "call B2:ping" */
    printf("thriftcorn-bench %s: %s %s %s, call %s%s%s, %d connection%s x %d in flight, "
           "%d thread%s, %s after %s s warm-up\n",
           TC_VERSION_STRING, where, o->transport->name, o->proto->name,
           o->multiplexed != NULL ? o->multiplexed : "", o->multiplexed != NULL ? ":" : "",
           o->call != NULL ? o->call : o->method, o->connections, o->connections == 1 ? "" : "s",
           o->pipeline, o->threads, o->threads == 1 ? "" : "s", len,
           seconds(w, sizeof(w), o->warmup));
    fflush(stdout);
}

/* ---- main ---- */

/* --host and --port, resolved once for every connection; NULL with a message on failure */
static struct addrinfo *
resolve(const tc_bench_opts_t *o)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof(port), "%d", o->port);
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(o->host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "thriftcorn-bench: --host %s: %s\n", o->host, gai_strerror(rc));
        return NULL;
    }
    return res;
}

int
main(int argc, char **argv)
{
    tc_bench_cli_t cli;
    tc_bench_cli_parse(&cli, argc, argv);
    tc_bench_cli_fit_open_files(&cli.o);
    signal(SIGPIPE, SIG_IGN);
    /* a bad --call or --idl is reported before any connection is made */
    tc_err_t err;
    tc_err_clear(&err);
    const tc_bench_opts_t *o = &cli.o;
    tc_bench_call_t *probe = o->call != NULL
                                 ? tc_bench_call_new(o->call, o->proto, &err)
                                 : tc_bench_idl_new(o->idl, o->method, o->args, o->proto, &err);
    if (probe == NULL) {
        fprintf(stderr, "thriftcorn-bench: %s\n", err.msg);
        return 2;
    }
    /* the default --max-reply fits the largest reply of every call it can be given */
    if (!cli.max_reply_set && probe->reply_max > cli.o.max_reply) {
        cli.o.max_reply = probe->reply_max;
    }
    /* a whole call message: its args, and a frame and message header (under 16 bytes) */
    tc_bench_req_t req;
    tc_bench_req_init(&req);
    int rc = probe->request(probe, 0, &req, &err);
    size_t mux = o->multiplexed != NULL ? strlen(o->multiplexed) + 1 : 0;
    size_t request = req.args.len + mux + probe->method_len + 16;
    size_t reply = probe->reply_max < o->max_reply ? probe->reply_max : o->max_reply;
    tc_bench_req_deinit(&req);
    probe->free(probe);
    if (rc != TC_OK) {
        fprintf(stderr, "thriftcorn-bench: %s\n", err.msg);
        return 2;
    }
    tc_bench_cli_fit_memory(o, request, reply);
    struct addrinfo *addrs = NULL;
    if (o->unix_path == NULL && (addrs = resolve(o)) == NULL) {
        return 2;
    }
    cli.o.addrs = addrs;
    if (!cli.json) {
        print_banner(&cli);
    }
    run_t r;
    memset(&r, 0, sizeof(r));
    r.cli = &cli;
    rc = start(&r);
    if (rc != 0) {
        if (addrs != NULL) {
            freeaddrinfo(addrs);
        }
        return rc;
    }
    summary_t s;
    double cpu = 0.0;
    if (!r.connecting) {
        cpu = supervise(&r);
        for (int i = 0; i < r.nloops; i++) {
            pthread_join(r.tids[i], NULL);
        }
    }
    /* the run is over: a SIGINT now ends the process, and none reaches the clock freed below */
    catch_interrupts(NULL, false);
    summarize(&r, &s);
    s.cpu_pct = cpu;
    if (cli.json) {
        print_json(&cli, &s);
    } else {
        print_report(&cli, &s);
    }
    if (s.errors > 0) {
        print_errors(&cli, &s);
    } else if (s.calls == 0) {
        fprintf(stderr, "thriftcorn-bench: no call was measured\n");
    }
    run_free(&r);
    if (addrs != NULL) {
        freeaddrinfo(addrs);
    }
    /* a report lost to a full disk or a closed pipe is no run that passed */
    bool written = tc_bench_cli_flush_stdout("the report");
    /* as a shell reports a command a signal ended: 130 for SIGINT, 143 for SIGTERM */
    if (s.interrupted) {
        return 128 + s.stop_sig;
    }
    return s.errors > 0 || s.calls == 0 || !written ? 1 : 0;
}
