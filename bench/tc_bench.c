/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thriftcorn-bench: a load generator for any Thrift server, in the spirit of
 * redis-benchmark. Options and the report live here; the load threads are
 * bench_loop.c, the calls bench_call.c and bench_idl.c.
 */
#include "bench_call.h"
#include "bench_loop.h"
#include "build_config.h"
#include "core/alloc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: thriftcorn-bench [OPTIONS]\n"
    "Load a Thrift server with calls and report calls/s and latency percentiles.\n"
    "\n"
    "Server:\n"
    "  --host HOST          server host (default 127.0.0.1)\n"
    "  -p, --port PORT      server port (default 9090)\n"
    "  --unix PATH          a unix socket instead of host and port (not with --host\n"
    "                       or --port)\n"
    "  --transport T        framed | buffered (default framed)\n"
    "  --protocol P         binary | compact (default binary)\n"
    "\n"
    "Load:\n"
    "  -c, --connections N  connections (default 16; the soft limit of open files is\n"
    "                       raised to fit them)\n"
    "  -P, --pipeline N     calls in flight per connection (default 1; -c times -P\n"
    "                       at most 1048576)\n"
    "  -t, --threads N      load threads, each with its own epoll loop and a share of\n"
    "                       the connections (default 1; at most one per connection\n"
    "                       and per call of -n)\n"
    "  -d, --duration S     seconds to measure (default 3 unless -n is given)\n"
    "  -n, --requests N     calls to measure, one count for every connection of every\n"
    "                       thread (with -d too: whichever ends first; alone, no time\n"
    "                       limit but each call's --timeout)\n"
    "  --warmup S           seconds of calls before measuring (default 1)\n"
    "  --timeout S          seconds a call may wait for its reply, and all the\n"
    "                       connections to open, above 0 (default 5)\n"
    "  --max-reply BYTES    largest reply accepted (default 67108864, or more when\n"
    "                       the --call needs it: echo:SIZE, batch:N)\n"
    "  --reconnect          open a connection again when it closes, times out or gets\n"
    "                       a bad reply, and go on calling on it (its calls in flight\n"
    "                       still count as errors); as a client of a server that\n"
    "                       recycles workers (max_requests) or is reloaded does\n"
    "\n"
    "What to call (the benchmark IDL, bench/bench.thrift, service Bench):\n"
    "  --call ping          void ping(): the reply must have an empty result\n"
    "  --call echo:SIZE     echo(s) with s of SIZE bytes: the same bytes must come back\n"
    "  --call add           add(a, b) with large signed i64s: the reply must be a+b\n"
    "  --call roundtrip     roundtrip(item): the item must come back with id+1, rest equal\n"
    "  --call batch:N       batch(N): N items, item i = {id i, name \"item-<i>\", score i/2.0,\n"
    "                       tags [i, i+1, i+2], attrs {k = \"v<i>\"}}, every item checked\n"
    "  --call sleep:MS      sleep(MS): the reply must have an empty result\n"
    "  --call fail:CODE     fail(CODE): the reply must carry BenchError{CODE, \"fail CODE\"}\n"
    "Or any method of any IDL, encoded and decoded with thriftcorn's own IDL loader:\n"
    "  --idl FILE --method Service.name --args '{a = 1, b = \"x\"}'\n"
    "                       --args is a Lua table literal keyed by argument name (or\n"
    "                       positional, {1, \"x\"}); structs are tables, sets {[v] = true}.\n"
    "                       A reply counts as a success when it is a REPLY that decodes\n"
    "                       with the method's result struct and holds the result (the\n"
    "                       'success' field) or one of the method's declared exceptions;\n"
    "                       a void method's empty result is a success too, but not one\n"
    "                       with a field the IDL does not declare (an undeclared\n"
    "                       exception). Oneway methods are refused: they have no reply\n"
    "                       to time.\n"
    "\n"
    "Every reply is checked: message type REPLY, the method name, the seqid of the\n"
    "oldest call in flight on its connection, the value, and that nothing follows it.\n"
    "Errors are counted apart from successes, by kind: wrong reply,\n"
    "TApplicationException, connection closed, timeout, connect. The first few are\n"
    "described on stderr. A connection that closes, times out or gets bytes that\n"
    "do not frame is not reopened unless --reconnect is given (then a connection\n"
    "that cannot be opened again within --timeout is a connect error and stays\n"
    "closed): the run goes on with the others, and ends when none is left. The\n"
    "calls in flight when the measurement ends get up to --timeout for their\n"
    "replies.\n"
    "\n"
    "Output:\n"
    "  --json               one JSON object instead of the report\n"
    "  --show-errors N      describe at most N errors on stderr (default 5)\n"
    "  -h, --help           this text\n"
    "  -V, --version        the version\n"
    "\n"
    "The report ends with a line for scripts:\n"
    "  RESULT calls=N errors=N rps=X p50_us=X p90_us=X p99_us=X p999_us=X max_us=X\n"
    "Exit status: 0 when every call succeeded, 1 on any error (with a line\n"
    "\"ERRORS: N\") or when no call was measured, 2 on bad options (a --host that\n"
    "does not resolve, more connections than the hard limit of open files allows,\n"
    "-c times -P above 1048576).\n";

_Static_assert(TC_BENCH_INFLIGHT_MAX == 1048576, "the usage text names the limit of -c times -P");

TC_NORETURN static void usage_error(const char *fmt, ...) TC_PRINTF(1, 2);

static void
usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "thriftcorn-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'thriftcorn-bench --help'.\n");
    va_end(ap);
    exit(2); /* NOLINT(concurrency-mt-unsafe): before any thread starts */
}

static long long
parse_int(const char *s, const char *what, long long lo, long long hi)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* ERANGE: strtoll() saturates, and a saturated value may still be "in range" */
    if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        usage_error("%s %s: expected an integer from %lld to %lld", what, s, lo, hi);
    }
    return v;
}

static double
parse_seconds(const char *s, const char *what)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= 0.0) || v > 86400.0) {
        usage_error("%s %s: expected seconds from 0 to 86400", what, s);
    }
    return v;
}

enum {
    OPT_HOST = 256,
    OPT_UNIX,
    OPT_TRANSPORT,
    OPT_PROTOCOL,
    OPT_WARMUP,
    OPT_TIMEOUT,
    OPT_MAX_REPLY,
    OPT_CALL,
    OPT_IDL,
    OPT_METHOD,
    OPT_ARGS,
    OPT_JSON,
    OPT_SHOW_ERRORS,
    OPT_RECONNECT,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, 'p'},
    {"unix", required_argument, NULL, OPT_UNIX},
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"connections", required_argument, NULL, 'c'},
    {"pipeline", required_argument, NULL, 'P'},
    {"threads", required_argument, NULL, 't'},
    {"duration", required_argument, NULL, 'd'},
    {"requests", required_argument, NULL, 'n'},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-reply", required_argument, NULL, OPT_MAX_REPLY},
    {"call", required_argument, NULL, OPT_CALL},
    {"idl", required_argument, NULL, OPT_IDL},
    {"method", required_argument, NULL, OPT_METHOD},
    {"args", required_argument, NULL, OPT_ARGS},
    {"json", no_argument, NULL, OPT_JSON},
    {"show-errors", required_argument, NULL, OPT_SHOW_ERRORS},
    {"reconnect", no_argument, NULL, OPT_RECONNECT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct cli {
    tc_bench_opts_t o;
    bool json;
    bool duration_set;
    bool max_reply_set;
    bool host_set; /* --host given (--unix refuses it, and --port) */
    bool port_set;
} cli_t;

static void
parse_one(cli_t *cli, int opt, const char *arg)
{
    tc_bench_opts_t *o = &cli->o;
    switch (opt) {
    case OPT_HOST:
        o->host = arg;
        cli->host_set = true;
        break;
    case 'p':
        o->port = (int)parse_int(arg, "--port", 1, 65535);
        cli->port_set = true;
        break;
    case OPT_UNIX:
        /* sockaddr_un holds a path of this many bytes; a longer one would be cut short */
        if (strlen(arg) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
            usage_error("--unix %s: longer than a unix socket address holds (%zu bytes)", arg,
                        sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
        }
        o->unix_path = arg;
        break;
    case OPT_TRANSPORT:
        /* tc_transport_find() also knows "header", whose frames the load loop cannot write */
        o->transport = tc_transport_find(arg);
        if (o->transport != &tc_transport_framed && o->transport != &tc_transport_buffered) {
            usage_error("--transport %s: expected framed or buffered", arg);
        }
        break;
    case OPT_PROTOCOL:
        if ((o->proto = tc_proto_find(arg)) == NULL) {
            usage_error("--protocol %s: expected binary or compact", arg);
        }
        break;
    case 'c':
        o->connections = (int)parse_int(arg, "--connections", 1, 100000);
        break;
    case 'P':
        o->pipeline = (int)parse_int(arg, "--pipeline", 1, 100000);
        break;
    case 't':
        o->threads = (int)parse_int(arg, "--threads", 1, 1024);
        break;
    case 'd':
        o->duration = parse_seconds(arg, "--duration");
        cli->duration_set = true;
        break;
    case 'n':
        o->requests = (uint64_t)parse_int(arg, "--requests", 1, INT64_MAX);
        break;
    case OPT_WARMUP:
        o->warmup = parse_seconds(arg, "--warmup");
        break;
    case OPT_TIMEOUT:
        o->timeout = parse_seconds(arg, "--timeout");
        if (o->timeout <= 0.0) {
            usage_error("%s", "--timeout must be above 0");
        }
        break;
    case OPT_MAX_REPLY:
        o->max_reply = (size_t)parse_int(arg, "--max-reply", 16, INT32_MAX);
        cli->max_reply_set = true;
        break;
    case OPT_CALL:
        o->call = arg;
        break;
    case OPT_IDL:
        o->idl = arg;
        break;
    case OPT_METHOD:
        o->method = arg;
        break;
    case OPT_ARGS:
        o->args = arg;
        break;
    case OPT_RECONNECT:
        o->reconnect = true;
        break;
    case OPT_JSON:
        cli->json = true;
        break;
    case OPT_SHOW_ERRORS:
        o->verbose_errors = (int)parse_int(arg, "--show-errors", 0, 1000000);
        break;
    case 'h':
        fputs(usage_text, stdout);
        exit(0); /* NOLINT(concurrency-mt-unsafe): before any thread starts */
    case 'V':
        printf("thriftcorn-bench %s\n", TC_VERSION_STRING);
        exit(0); /* NOLINT(concurrency-mt-unsafe): before any thread starts */
    default:
        usage_error("%s", "bad option"); /* bad_option() took '?' and ':' */
    }
}

/*
 * getopt_long()'s '?' and ':', in the form of the other errors (opterr is
 * 0: getopt's own message named the program by its path, and was followed
 * by a bare "bad option").
 */
TC_NORETURN static void
bad_option(int opt, int argc, char **argv)
{
    /*
     * A value is missing only after the last argument. Otherwise a long
     * option at fault is the argument before optind; 'optopt' is 0 for a
     * name that is none, or the option's own for a value it does not take
     * (-h and -V are the short ones that take none).
     */
    const char *word = opt == ':' ? argv[argc - 1] : argv[optind - 1];
    bool is_long = opt == ':' ? strncmp(word, "--", 2) == 0
                              : optopt == 0 || optopt == 'h' || optopt == 'V' || optopt > 255;
    if (!is_long) {
        usage_error("-%c: %s", optopt, opt == ':' ? "needs a value" : "unknown option");
    }
    int n = (int)strcspn(word, "=");
    if (opt == ':') {
        usage_error("%.*s: needs a value", n, word);
    }
    if (optopt != 0) {
        usage_error("%.*s: takes no value", n, word);
    }
    /* getopt_long() takes the start of a name, when it is the start of one name only */
    char names[256] = "";
    size_t len = 0;
    int found = 0;
    for (const struct option *lo = long_opts; lo->name != NULL; lo++) {
        if (strncmp(lo->name, word + 2, (size_t)n - 2) == 0 && len < sizeof(names)) {
            len += (size_t)snprintf(names + len, sizeof(names) - len, "%s--%s",
                                    found++ > 0 ? ", " : "", lo->name);
        }
    }
    if (found > 1) {
        usage_error("%.*s: the start of more than one option (%s)", n, word, names);
    }
    usage_error("%.*s: unknown option", n, word);
}

static void
parse_args(cli_t *cli, int argc, char **argv)
{
    tc_bench_opts_t *o = &cli->o;
    memset(cli, 0, sizeof(*cli));
    o->host = "127.0.0.1";
    o->port = 9090;
    o->transport = &tc_transport_framed;
    o->proto = &tc_proto_binary;
    o->connections = 16;
    o->pipeline = 1;
    o->threads = 1;
    o->duration = 3.0;
    o->warmup = 1.0;
    o->timeout = 5.0;
    o->max_reply = 64u << 20;
    o->verbose_errors = 5;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":p:c:P:t:d:n:hV", long_opts, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            bad_option(opt, argc, argv);
        }
        parse_one(cli, opt, optarg);
    }
    if (optind < argc) {
        usage_error("unexpected argument '%s'", argv[optind]);
    }
    /* refused before the loops allocate a ring slot for each, and write that many requests */
    long long inflight = (long long)o->connections * o->pipeline;
    if (inflight > TC_BENCH_INFLIGHT_MAX) {
        usage_error("--connections %d x --pipeline %d: %lld calls in flight, above the limit of %d",
                    o->connections, o->pipeline, inflight, TC_BENCH_INFLIGHT_MAX);
    }
    /* one or the other: a unix socket that silently won over them would load another server */
    if (o->unix_path != NULL && (cli->host_set || cli->port_set)) {
        usage_error("--unix %s: not with %s (a unix socket has no host or port)", o->unix_path,
                    cli->host_set && cli->port_set ? "--host and --port"
                    : cli->host_set                ? "--host"
                                                   : "--port");
    }
    if (o->requests > 0 && !cli->duration_set) {
        o->duration = 0.0;
    }
    if (o->requests == 0 && o->duration <= 0.0) {
        usage_error("%s", "-d must be above 0 (or give -n)");
    }
    bool generic = o->idl != NULL || o->method != NULL || o->args != NULL;
    if (generic && o->call != NULL) {
        usage_error("%s", "--call and --idl/--method/--args exclude each other");
    }
    if (generic && (o->idl == NULL || o->method == NULL)) {
        usage_error("%s", "--idl and --method go together");
    }
    if (generic && o->args == NULL) {
        o->args = "{}";
    }
    if (!generic && o->call == NULL) {
        o->call = "ping";
    }
    if (o->threads > o->connections) {
        o->threads = o->connections;
    }
    /* the threads share the -n calls: more threads than calls would leave some with none */
    if (o->requests > 0 && (uint64_t)o->threads > o->requests) {
        o->threads = (int)o->requests;
    }
}

/* ---- running ---- */

typedef struct run {
    cli_t *cli;
    tc_bench_clock_t clock;
    tc_bench_loop_t **loops;
    pthread_t *tids;
    struct thread_arg *args;
    int nloops;
    atomic_int finished;
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
    if (end > r->clock.t1) {
        end = r->clock.t1;
    }
    s->elapsed = (double)(end - r->clock.t0) / 1e9;
    s->rps = s->calls > 0 && s->elapsed > 0.0 ? s->work / s->elapsed : 0.0;
}

static double
pct_us(const summary_t *s, double pct)
{
    return (double)tc_bench_hist_percentile(&s->hist, pct) / 1e3;
}

/* 's' as a JSON string: --call comes from the command line and may hold any byte */
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
print_json(const cli_t *cli, const summary_t *s)
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
           "\"conn_calls_min\":%llu,\"conn_calls_max\":%llu,\"reconnects\":%llu}\n",
           s->elapsed, s->rps, tc_bench_hist_mean(&s->hist) / 1e3, pct_us(s, 50.0), pct_us(s, 90.0),
           pct_us(s, 99.0), pct_us(s, 99.9), pct_us(s, 100.0), s->cpu_pct,
           (unsigned long long)s->conn_min, (unsigned long long)s->conn_max,
           (unsigned long long)s->reconnects);
}

static void
print_report(const cli_t *cli, const summary_t *s)
{
    const tc_bench_opts_t *o = &cli->o;
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
print_errors(const cli_t *cli, const summary_t *s)
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
print_banner(const cli_t *cli)
{
    const tc_bench_opts_t *o = &cli->o;
    char where[300];
    if (o->unix_path != NULL) {
        snprintf(where, sizeof(where), "unix:%s", o->unix_path);
    } else {
        snprintf(where, sizeof(where), "%s:%d", o->host, o->port);
    }
    char len[64];
    if (o->requests > 0) {
        snprintf(len, sizeof(len), "%llu calls", (unsigned long long)o->requests);
    } else {
        snprintf(len, sizeof(len), "%.1f s", o->duration);
    }
    printf("thriftcorn-bench %s: %s %s %s, call %s, %d connections x %d in flight, %d thread%s, "
           "%s after %.1f s warm-up\n",
           TC_VERSION_STRING, where, o->transport->name, o->proto->name,
           o->call != NULL ? o->call : o->method, o->connections, o->pipeline, o->threads,
           o->threads == 1 ? "" : "s", len, o->warmup);
    fflush(stdout);
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
    r->nloops = o->threads;
    r->loops = tc_xcalloc((size_t)r->nloops, sizeof(*r->loops));
    r->tids = tc_xcalloc((size_t)r->nloops, sizeof(*r->tids));
    r->args = tc_xcalloc((size_t)r->nloops, sizeof(*r->args));
    tc_bench_loop_clock_init(&r->clock, o->requests);
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
    /* every connection of every loop is open within --timeout, or counts as a connect error */
    r->clock.connect_by = tc_bench_loop_now() + (long long)(o->timeout * 1e9);
    for (int i = 0; i < r->nloops; i++) {
        tc_bench_loop_connect(r->loops[i]);
    }
    /* the clock starts once every connection is open */
    r->clock.start = tc_bench_loop_now();
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

/*
 * A socket per connection, an epoll per thread and a few more (standard
 * streams, the resolver, the IDL loader): the soft limit of open files is
 * raised up to the hard one when it is lower; above the hard one, -c is
 * refused.
 */
static void
fit_open_files(const tc_bench_opts_t *o)
{
    rlim_t need = (rlim_t)o->connections + (rlim_t)o->threads + 32;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) {
        return;
    }
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
            return;
        }
    }
    usage_error("--connections %d: needs %llu open files, above the limit of %llu (ulimit -Hn)",
                o->connections, (unsigned long long)need, (unsigned long long)rl.rlim_max);
}

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
    cli_t cli;
    parse_args(&cli, argc, argv);
    fit_open_files(&cli.o);
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
    probe->free(probe);
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
    int rc = start(&r);
    if (rc != 0) {
        if (addrs != NULL) {
            freeaddrinfo(addrs);
        }
        return rc;
    }
    summary_t s;
    double cpu = supervise(&r);
    for (int i = 0; i < r.nloops; i++) {
        pthread_join(r.tids[i], NULL);
    }
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
    return s.errors > 0 || s.calls == 0 ? 1 : 0;
}
