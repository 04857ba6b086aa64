-- SPDX-License-Identifier: Apache-2.0
-- The benchmark service served by the C plugin bench/plugin/bench_plugin.c:
-- bench/thriftcorn.lua with `plugin` in place of `handler`, so that
-- bench/run_matrix.sh compares a Lua and a C handler on the same server.
-- The plugin is built into BUILD_DIR/bench/libbench_c.so; this file finds it
-- in build/ beside bench/, or where THRIFTCORN_BENCH_PLUGIN names it:
--   cmake --build build --target bench_c
--   thriftcorn bench/thriftcorn-c.lua
--   THRIFTCORN_BENCH_PLUGIN=$PWD/build-rel/bench/libbench_c.so thriftcorn bench/thriftcorn-c.lua
--   thriftcorn-bench --call ping -c 64
bind = "127.0.0.1:9090"

-- What every server of the matrix speaks.
transport = "framed"
protocol = "binary"

-- One worker process: the matrix gives the server one CPU.
workers = 1

-- As in bench/thriftcorn.lua: 64 threads hold the 64 blocked calls of
-- sleep:10 at 64 connections; fast calls run on min(threads, CPUs) loops.
threads = 64

service = {
  idl = "bench.thrift",
  name = "Bench",
  -- a relative path is relative to this file, an absolute one is used as is
  plugin = os.getenv("THRIFTCORN_BENCH_PLUGIN") or "../build/bench/libbench_c.so",
}
