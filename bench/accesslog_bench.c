/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access log micro-benchmark: what one line costs a handler thread with
 * 'access_log_buffer' set, without the network. The line of a `ping` call
 * goes through tc_accesslog_write() into a 64 KiB buffer, written to
 * /dev/null when full, again and again. Under callgrind, the difference of
 * two runs divided by the difference of their line counts is what one
 * line costs, start-up cancelling out (docs/performance.md, "Access log").
 *
 *   accesslog_bench LINES [FORMAT]        (FORMAT: "%t %h %m %s %D")
 */
#include "worker/accesslog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
    char *end = NULL;
    long lines = argc > 1 ? strtol(argv[1], &end, 10) : -1;
    if (argc < 2 || argc > 3 || *end != '\0' || lines < 0) {
        (void)fprintf(stderr, "usage: accesslog_bench LINES [FORMAT]\n");
        return 2;
    }
    const char *format = argc > 2 ? argv[2] : "%t %h %m %s %D";
    int rc = tc_accesslog_open("/dev/null", format);
    if (rc != TC_OK) {
        (void)fprintf(stderr, "accesslog_bench: cannot open /dev/null as the access log: %s\n",
                      tc_strerror(rc));
        return 1;
    }
    tc_accesslog_buf_t *b = tc_accesslog_buf_new(65536);
    tc_call_info_t info;
    memset(&info, 0, sizeof(info));
    info.service = "Bench";
    info.method = "ping";
    info.method_len = 4;
    info.replied = true;
    for (long i = 0; i < lines; i++) {
        (void)tc_accesslog_write(b, "127.0.0.1:49844", &info, 9000);
    }
    tc_accesslog_buf_free(b);
    return 0;
}
