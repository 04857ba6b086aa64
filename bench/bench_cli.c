/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thriftcorn-bench's command line: the usage text, the options read into
 * tc_bench_opts_t with their defaults, and the checks of what they ask
 * for, each refused with a message and exit status 2 before any thread
 * starts.
 */
#include "bench_cli.h"

#include "build_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the usage text ---- */

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
    "  --multiplexed NAME   call the service the server multiplexes as NAME: each\n"
    "                       call named NAME:method (Apache Thrift's\n"
    "                       TMultiplexedProtocol); the reply names the method alone\n"
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
    "                       thread (with -d too: whichever ends first; alone, or with\n"
    "                       -d 0, no time limit but each call's --timeout)\n"
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
    "  --call fail:CODE     fail(CODE), CODE any i32 (negative too): the reply must carry\n"
    "                       BenchError{CODE, \"fail CODE\"}\n"
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
    "SIGINT (Ctrl-C) or SIGTERM ends the run early, as the end of -d would: no\n"
    "call is sent after it, the calls in flight get up to 1 s (at most --timeout)\n"
    "for their replies, those still unanswered then are dropped (not errors), and\n"
    "the report of what was measured says so (\"interrupted after 1.23 s of 3.0 s\n"
    "by SIGINT, 0 calls in flight dropped\"; --json: \"interrupted\", \"dropped\").\n"
    "A second one ends the process at once, with no report.\n"
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
    "\"ERRORS: N\"), when no call was measured or when the report could not be\n"
    "written (a full disk, a closed pipe), 2 on bad options (a --host that\n"
    "does not resolve, more connections than the hard limit of open files allows,\n"
    "-c times -P above 1048576, calls that need more memory than the machine has:\n"
    "each connection holds its request -P + 1 times and a reply), 130 when SIGINT\n"
    "ended the run and 143 when SIGTERM did (128 + the signal, as a shell reports\n"
    "it), errors or not.\n";

_Static_assert(TC_BENCH_INFLIGHT_MAX == 1048576, "the usage text names the limit of -c times -P");

/* ---- writing ---- */

bool
tc_bench_cli_flush_stdout(const char *what)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) {
        return true;
    }
    /* an error of an earlier write, when fflush() had nothing left to write, left no errno */
    fprintf(stderr, "thriftcorn-bench: cannot write %s to stdout: %s\n", what,
            errno != 0 ? tc_strerror(-errno) : "write error");
    return false;
}

/* ---- reading the options ---- */

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

/*
 * Whether 's' starts as a number is written: a digit, or a '-' or '.' then
 * one. strtoll() and strtod() skip leading spaces and take a '+', and
 * strtod() a hexadecimal number too: "-d 0x10" ran 16 s and "-c ' 10'"
 * 10 connections.
 */
static bool
starts_as_number(const char *s)
{
    const char *p = s[0] == '-' ? s + 1 : s;
    p = p[0] == '.' ? p + 1 : p;
    return p[0] >= '0' && p[0] <= '9' && strpbrk(s, "xX") == NULL;
}

static long long
parse_int(const char *s, const char *what, long long lo, long long hi)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* ERANGE: strtoll() saturates, and a saturated value may still be "in range" */
    if (!starts_as_number(s) || end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        usage_error("%s %s: expected an integer from %lld to %lld", what, s, lo, hi);
    }
    return v;
}

static double
parse_seconds(const char *s, const char *what)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!starts_as_number(s) || end == s || *end != '\0' || !(v >= 0.0) || v > 86400.0) {
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
    OPT_MULTIPLEXED,
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
    {"multiplexed", required_argument, NULL, OPT_MULTIPLEXED},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void
parse_one(tc_bench_cli_t *cli, int opt, const char *arg)
{
    tc_bench_opts_t *o = &cli->o;
    switch (opt) {
    case OPT_HOST:
        o->host = arg;
        cli->_host_set = true;
        break;
    case 'p':
        o->port = (int)parse_int(arg, "--port", 1, 65535);
        cli->_port_set = true;
        break;
    case OPT_UNIX:
        /* an empty sun_path is Linux's abstract socket of 107 zero bytes: no server's */
        if (arg[0] == '\0') {
            usage_error("%s", "--unix: needs a path, not an empty one");
        }
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
        cli->_duration_set = true;
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
    case OPT_MULTIPLEXED:
        /* the server splits the name at its first ':' */
        if (arg[0] == '\0' || strchr(arg, ':') != NULL) {
            usage_error("--multiplexed '%s': expected a service name, not empty and without ':'",
                        arg);
        }
        o->multiplexed = arg;
        break;
    case OPT_JSON:
        cli->json = true;
        break;
    case OPT_SHOW_ERRORS:
        o->verbose_errors = (int)parse_int(arg, "--show-errors", 0, 1000000);
        break;
    case 'h':
        fputs(usage_text, stdout);
        exit(tc_bench_cli_flush_stdout("the help") ? 0 : 1); /* NOLINT(concurrency-mt-unsafe) */
    case 'V':
        printf("thriftcorn-bench %s\n", TC_VERSION_STRING);
        exit(tc_bench_cli_flush_stdout("the version") ? 0 : 1); /* NOLINT(concurrency-mt-unsafe) */
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

void
tc_bench_cli_parse(tc_bench_cli_t *cli, int argc, char **argv)
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
    if (o->unix_path != NULL && (cli->_host_set || cli->_port_set)) {
        usage_error("--unix %s: not with %s (a unix socket has no host or port)", o->unix_path,
                    cli->_host_set && cli->_port_set ? "--host and --port"
                    : cli->_host_set                 ? "--host"
                                                     : "--port");
    }
    if (o->requests > 0 && !cli->_duration_set) {
        o->duration = 0.0;
    }
    if (o->requests == 0 && o->duration <= 0.0) {
        usage_error("%s", "-d must be above 0 (or give -n)");
    }
    bool generic = o->idl != NULL || o->method != NULL || o->args != NULL;
    if (generic && o->call != NULL) {
        usage_error("%s", "--call and --idl/--method/--args exclude each other");
    }
    /* the message names what was given and what it lacks */
    if (generic && o->idl == NULL) {
        usage_error("%s: needs --idl%s", o->method != NULL ? "--method" : "--args",
                    o->method != NULL ? "" : " and --method");
    }
    if (generic && o->method == NULL) {
        usage_error("--idl %s: needs --method Service.name", o->idl);
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

/* ---- the open files ---- */

/*
 * A socket per connection, an epoll per thread and a few more (standard
 * streams, the resolver, the IDL loader): the soft limit of open files is
 * raised up to the hard one when it is lower; above the hard one, -c is
 * refused.
 */
void
tc_bench_cli_fit_open_files(const tc_bench_opts_t *o)
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

/* ---- the memory ---- */

/*
 * What a run holds at once: each connection its request, encoded once,
 * up to -P copies of it in its output buffer (they are written in one go,
 * and the socket takes a few hundred KiB), and a reply being read; each
 * thread the arguments its connections' requests are made of. With
 * echo:SIZE that is about -c times (-P + 2) times SIZE, and a run that did
 * not fit ended midway, after connecting: killed by the OOM killer, or
 * aborting at a failed allocation. Refused when above the machine's
 * memory or a limit of the process's.
 */
void
tc_bench_cli_fit_memory(const tc_bench_opts_t *o, size_t request, size_t reply)
{
    /* and each thread's call its own copy of the arguments */
    double need =
        (double)o->connections * ((double)(o->pipeline + 1) * (double)request + (double)reply) +
        (double)o->threads * (double)request;
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGESIZE);
    double limit = pages > 0 && page > 0 ? (double)pages * (double)page : 0.0;
    const char *what = "this machine has";
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (limit == 0.0 || (double)rl.rlim_cur < limit)) {
        limit = (double)rl.rlim_cur;
        what = "ulimit -v allows";
    }
    if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (limit == 0.0 || (double)rl.rlim_cur < limit)) {
        limit = (double)rl.rlim_cur;
        what = "ulimit -d allows";
    }
    if (limit > 0.0 && need > limit) {
        usage_error("--connections %d x --pipeline %d: about %.1f GiB of calls in memory (a "
                    "request of %zu bytes held %d times a connection, and a reply of up to %zu "
                    "bytes), above the %.1f GiB %s",
                    o->connections, o->pipeline, need / (double)(1u << 30), request,
                    o->pipeline + 1, reply, limit / (double)(1u << 30), what);
    }
}
