/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Codec micro-benchmark, thriftcorn side: the bench IDL's Item decoded from
 * bytes into Lua values (tc_lua_value_decode) and encoded back
 * (tc_lua_value_encode), as a handler thread does for every call. One
 * operation is one decode plus one encode. codec_bench_cpp.cpp is the same
 * loop over Apache Thrift's generated C++; bench/run_codec.sh runs both.
 *
 *   codec_bench [binary|compact|all] [iterations]
 */
#include "bridge/lua_state.h"
#include "bridge/lua_value.h"
#include "core/buf.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef TC_BENCH_IDL
#error "TC_BENCH_IDL must name bench/bench.thrift"
#endif

#define DEFAULT_ITERATIONS 1000000L

/* The measured value: the same fields as codec_bench_cpp.cpp sets. */
static const char item_chunk[] =
    "local m = require('thriftcorn').load(...)\n"
    "return m.Item, m.Item{id = 42, name = 'item-42', score = 21.0, tags = {42, 43, 44},\n"
    "  attrs = {k = 'v42', unit = 'ms'}, flag = true}\n";

typedef struct run {
    const tc_proto_ops_t *ops;
    const tc_struct_t *st;
    const uint8_t *in;
    size_t len;
    tc_buf_t out;
    long iterations;
    int rc;
    tc_err_t err;
} run_t;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* (run): decode and encode r->iterations times, in one protected call. */
static int
l_loop(lua_State *L)
{
    run_t *r = lua_touserdata(L, 1);
    int top = lua_gettop(L);
    for (long i = 0; i < r->iterations; i++) {
        tc_proto_t in;
        tc_proto_init(&in, r->ops, r->in, r->len, NULL);
        if ((r->rc = tc_lua_value_decode(L, &in, r->st, &r->err)) != TC_OK) {
            return 0;
        }
        tc_proto_t out;
        r->out.len = 0;
        tc_proto_init(&out, r->ops, NULL, 0, &r->out);
        if ((r->rc = tc_lua_value_encode(L, -1, &out, r->st, &r->err)) != TC_OK) {
            return 0;
        }
        lua_settop(L, top);
    }
    return 0;
}

static void
loop(lua_State *L, run_t *r)
{
    tc_err_t err;
    tc_err_clear(&err);
    lua_pushcfunction(L, l_loop);
    lua_pushlightuserdata(L, r);
    if (tc_lua_pcall(L, 1, 0, &err) != TC_OK || r->rc != TC_OK) {
        fprintf(stderr, "codec_bench: %s\n", r->rc != TC_OK ? r->err.msg : err.msg);
        exit(1);
    }
}

/* The Item as 'ops' writes it, from the Lua value at 'idx'. */
static tc_buf_t
item_bytes(lua_State *L, const tc_proto_ops_t *ops, const tc_struct_t *st, int idx)
{
    tc_buf_t b;
    tc_proto_t p;
    tc_err_t err;
    tc_buf_init(&b);
    tc_err_clear(&err);
    tc_proto_init(&p, ops, NULL, 0, &b);
    if (tc_lua_value_encode(L, idx, &p, st, &err) != TC_OK) {
        fprintf(stderr, "codec_bench: encoding the item: %s\n", err.msg);
        exit(1);
    }
    return b;
}

static void
bench(lua_State *L, const tc_proto_ops_t *ops, const tc_struct_t *st, long iterations)
{
    tc_buf_t bytes = item_bytes(L, ops, st, -1);
    run_t r = {.ops = ops, .st = st, .in = bytes.data, .len = bytes.len, .rc = TC_OK};
    tc_buf_init(&r.out);
    tc_err_clear(&r.err);
    /* warm-up: caches, allocator, the Lua GC reaching its steady state */
    r.iterations = iterations / 10 + 1;
    loop(L, &r);
    if (r.out.len != bytes.len) {
        fprintf(stderr, "codec_bench: %s round trip gives %zu bytes, not %zu\n", ops->name,
                r.out.len, bytes.len);
        exit(1);
    }
    r.iterations = iterations;
    double t0 = now();
    loop(L, &r);
    double dt = now() - t0;
    printf("codec=thriftcorn protocol=%s bytes=%zu iterations=%ld seconds=%.3f ops_per_sec=%.0f\n",
           ops->name, bytes.len, iterations, dt, (double)iterations / dt);
    tc_buf_deinit(&r.out);
    tc_buf_deinit(&bytes);
}

int
main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    long iterations = argc > 2 ? strtol(argv[2], NULL, 10) : DEFAULT_ITERATIONS;
    if (iterations <= 0 || (strcmp(which, "all") != 0 && tc_proto_find(which) == NULL)) {
        fprintf(stderr, "usage: %s [binary|compact|all] [iterations]\n", argv[0]);
        return 2;
    }
    tc_err_t err;
    tc_err_clear(&err);
    lua_State *L = tc_lua_state_new(&err);
    if (L == NULL) {
        fprintf(stderr, "codec_bench: %s\n", err.msg);
        return 1;
    }
    if (luaL_loadstring(L, item_chunk) != LUA_OK) {
        fprintf(stderr, "codec_bench: %s\n", lua_tostring(L, -1));
        return 1;
    }
    lua_pushstring(L, TC_BENCH_IDL);
    if (tc_lua_pcall(L, 1, 2, &err) != TC_OK) {
        fprintf(stderr, "codec_bench: loading %s: %s\n", TC_BENCH_IDL, err.msg);
        return 1;
    }
    /* the structdef carries its compiled descriptor as '_c' (bridge/lua_schema.h) */
    lua_getfield(L, -2, "_c");
    const tc_struct_t *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (st == NULL) {
        fprintf(stderr, "codec_bench: Item was not compiled\n");
        return 1;
    }
    const tc_proto_ops_t *const formats[] = {&tc_proto_binary, &tc_proto_compact};
    for (size_t i = 0; i < TC_ARRAY_LEN(formats); i++) {
        if (strcmp(which, "all") == 0 || strcmp(which, formats[i]->name) == 0) {
            bench(L, formats[i], st, iterations);
        }
    }
    lua_close(L);
    return 0;
}
