/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line of thriftcorn-bench (bench_cli.c): its options, read
 * and checked once by the main thread before any other starts. A bad
 * option is reported on stderr and exits with status 2.
 */
#ifndef TC_BENCH_CLI_H
#define TC_BENCH_CLI_H

#include "bench_loop.h"

#include <stdbool.h>

/* The options given, with the defaults of those that were not. */
typedef struct tc_bench_cli {
    tc_bench_opts_t o;
    bool json;          /* --json: one JSON object instead of the report */
    bool max_reply_set; /* --max-reply given: not raised to fit the call */
    bool _duration_set;
    bool _host_set; /* --host given (--unix refuses it, and --port) */
    bool _port_set;
} tc_bench_cli_t;

/*
 * Read 'argv' into 'cli'. --help and --version print and exit with
 * status 0; a bad option exits with status 2. Ownership: the strings of
 * 'cli' are borrowed from 'argv'.
 */
void tc_bench_cli_parse(tc_bench_cli_t *cli, int argc, char **argv);

/*
 * Raise the soft limit of open files to what the connections and threads
 * of 'o' need, up to the hard limit; exits with status 2 above that.
 */
void tc_bench_cli_fit_open_files(const tc_bench_opts_t *o);

/*
 * Exit with status 2 when the connections of 'o', each holding its
 * 'request' (bytes of one whole call message) -P + 1 times and a reply of
 * up to 'reply' bytes, need more memory than the machine has, or than the
 * process may take (ulimit -v, ulimit -d).
 */
void tc_bench_cli_fit_memory(const tc_bench_opts_t *o, size_t request, size_t reply);

/*
 * Write what stdout holds; false, with a message on stderr naming 'what'
 * ("the report") and why, when it or an earlier write to stdout failed.
 */
bool tc_bench_cli_flush_stdout(const char *what);

#endif /* TC_BENCH_CLI_H */
