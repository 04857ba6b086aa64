/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dispatch micro-benchmark: what a handler thread spends on one call without
 * the network. A config is loaded as the worker loads it, its handlers as a
 * handler thread loads them (tc_dispatch_new), and one request of the
 * benchmark IDL (the same encoding thriftcorn-bench sends) goes through
 * tc_dispatch_handle() again and again: message header, argument decoding,
 * the Lua or C handler, the result's encoding. Under callgrind it gives
 * instructions per call, which do not depend on what else the machine runs.
 *
 *   dispatch_bench CONFIG CALL [iterations] [binary|compact]
 *   dispatch_bench bench/thriftcorn.lua batch:100 20000
 *
 * Every reply of the warm-up (WARMUP calls, however many are measured) and
 * the last reply of the measured run are checked with thriftcorn-bench's
 * own checks; the measured calls are not, so that their cost is the
 * server's alone. The warm-up does not grow with 'iterations', so the
 * difference of two runs under callgrind is that many measured calls and
 * nothing else (bench/run_dispatch.sh).
 */
#include "bench_call.h"
#include "config/config.h"
#include "core/buf.h"
#include "worker/dispatch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { WARMUP = 100 }; /* checked calls before the measured ones */

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Run 'n' calls of 'msg'; every reply is checked, or only the last one
 * ('check_all' false). TC_OK or an error in 'err'.
 */
static int
run(tc_dispatch_t *d, tc_bench_call_t *call, const tc_bench_req_t *req, const tc_buf_t *msg, long n,
    bool check_all, tc_err_t *err)
{
    tc_buf_t out;
    tc_buf_init(&out);
    int rc = TC_OK;
    for (long i = 0; i < n && rc == TC_OK; i++) {
        tc_proto_t in;
        tc_proto_t op;
        tc_call_info_t info = {0};
        out.len = 0;
        tc_proto_init(&in, call->proto, msg->data, msg->len, NULL);
        tc_proto_init(&op, call->proto, NULL, 0, &out);
        rc = tc_dispatch_handle(d, &in, &op, tc_transport_framed.max_body, &info, err);
        if (rc != TC_OK) {
            break;
        }
        if (!info.replied || (!check_all && i != n - 1)) {
            continue; /* oneway, or not checked */
        }
        tc_proto_t rp;
        tc_msg_hdr_t h;
        char why[512];
        tc_proto_init(&rp, call->proto, out.data, out.len, NULL);
        rc = rp.ops->read_message_begin(&rp, &h);
        if (rc == TC_OK && h.type != TC_MSG_REPLY) {
            rc = tc_err_set(err, TC_EINVAL, "reply %d is of message type %d", (int)i, h.type);
        } else if (rc == TC_OK &&
                   call->check(call, req, out.data, out.len, &rp, why, sizeof(why)) != TC_OK) {
            rc = tc_err_set(err, TC_EINVAL, "reply %ld is wrong: %s", i, why);
        } else if (rc != TC_OK) {
            rc = tc_err_set(err, rc, "reply %ld: no message header", i);
        }
    }
    tc_buf_deinit(&out);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CONFIG CALL [iterations] [binary|compact]\n", argv[0]);
        return 2;
    }
    char *end = NULL;
    long n = argc > 3 ? strtol(argv[3], &end, 10) : 100000;
    if (argc > 3 && (end == argv[3] || *end != '\0' || n < 1)) {
        fprintf(stderr, "%s: iterations '%s' is not a positive number\n", argv[0], argv[3]);
        return 2;
    }
    const tc_proto_ops_t *ops = &tc_proto_binary;
    if (argc > 4 && strcmp(argv[4], "compact") == 0) {
        ops = &tc_proto_compact;
    } else if (argc > 4 && strcmp(argv[4], "binary") != 0) {
        fprintf(stderr, "%s: protocol '%s' is neither binary nor compact\n", argv[0], argv[4]);
        return 2;
    }
    tc_err_t err;
    tc_err_clear(&err);
    tc_config_t *cfg = tc_config_load(argv[1], NULL, 0, &err);
    if (cfg == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    tc_dispatch_t *d = tc_dispatch_new(cfg, &err);
    tc_bench_call_t *call = d != NULL ? tc_bench_call_new(argv[2], ops, &err) : NULL;
    if (call == NULL || tc_dispatch_thread_start(d, &err) != TC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    tc_bench_req_t req;
    tc_bench_req_init(&req);
    tc_buf_t msg;
    tc_buf_init(&msg);
    tc_proto_t wp;
    tc_proto_init(&wp, ops, NULL, 0, &msg);
    int rc = call->request(call, 0, &req, &err);
    if (rc == TC_OK) {
        wp.ops->write_message_begin(&wp, call->method, call->method_len, TC_MSG_CALL, 1);
        tc_buf_append(&msg, req.args.data, req.args.len);
        rc = run(d, call, &req, &msg, WARMUP, true, &err);
    }
    double t0 = now();
    if (rc == TC_OK) {
        rc = run(d, call, &req, &msg, n, false, &err);
    }
    double dt = now() - t0;
    if (rc != TC_OK) {
        fprintf(stderr, "%s %s: %s\n", argv[0], argv[2], err.msg);
    } else {
        printf("%s %s %s: %ld calls in %.3f s, %.0f calls/s, %.2f us per call\n", argv[1], argv[2],
               ops->name, n, dt, (double)n / dt, dt * 1e6 / (double)n);
    }
    tc_buf_deinit(&msg);
    tc_bench_req_deinit(&req);
    call->free(call);
    tc_dispatch_thread_stop(d);
    tc_dispatch_free(d);
    tc_config_free(cfg);
    return rc == TC_OK ? 0 : 1;
}
