/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What thriftcorn-bench sends and how it checks a reply: the calls of the
 * benchmark IDL (bench/bench.thrift) written with the protocol layer, or any
 * method of any IDL through a Lua state (bench_idl.c). A call object belongs
 * to one load thread; requests are encoded once per connection.
 */
#ifndef TC_BENCH_CALL_H
#define TC_BENCH_CALL_H

#include "core/buf.h"
#include "core/err.h"
#include "protocol/protocol.h"

#include <stdbool.h>

/* One connection's request: the encoded args struct (after the message header). */
typedef struct tc_bench_req {
    tc_buf_t args;
    int64_t a; /* per-connection parameters the check compares with */
    int64_t b;
} tc_bench_req_t;

typedef struct tc_bench_call tc_bench_call_t;

struct tc_bench_call {
    const tc_proto_ops_t *proto;
    const char *method; /* name on the wire; owned by the call */
    size_t method_len;
    size_t reply_max; /* an upper bound of a right reply's size in bytes; 0: not known */
    /* fill 'req' for connection 'conn' (args encoded once); TC_OK or an error in 'err' */
    int (*request)(tc_bench_call_t *c, int conn, tc_bench_req_t *req, tc_err_t *err);
    /*
     * Check a REPLY to 'req': 'msg' is the whole message, 'p' reads its
     * result struct (the header is read). TC_OK when the result is right
     * and nothing follows it in the message, or TC_EINVAL with what is
     * wrong in 'why'.
     */
    int (*check)(tc_bench_call_t *c, const tc_bench_req_t *req, const uint8_t *msg, size_t len,
                 tc_proto_t *p, char *why, size_t why_len);
    void (*free)(tc_bench_call_t *c);
};

/*
 * A call of the benchmark IDL from its --call spelling: "ping", "echo:SIZE",
 * "add", "roundtrip", "batch:N", "sleep:MS", "fail:CODE". NULL with 'err'
 * filled when 'spec' is none of these. Ownership: free with c->free(c).
 */
tc_bench_call_t *tc_bench_call_new(const char *spec, const tc_proto_ops_t *proto, tc_err_t *err);

/*
 * A call of 'method' ("Service.name") of the IDL file 'idl' with 'args', a
 * Lua table literal, encoded and checked in a Lua state of this call's own.
 * NULL with 'err' filled on a bad IDL, method or argument table.
 */
tc_bench_call_t *tc_bench_idl_new(const char *idl, const char *method, const char *args,
                                  const tc_proto_ops_t *proto, tc_err_t *err);

void tc_bench_req_init(tc_bench_req_t *req);
void tc_bench_req_deinit(tc_bench_req_t *req);

#endif /* TC_BENCH_CALL_H */
