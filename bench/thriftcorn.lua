-- SPDX-License-Identifier: Apache-2.0
-- The benchmark service (bench.thrift, bench/handler.lua) served by
-- thriftcorn; bench/run_matrix.sh runs it against Apache Thrift's C++
-- servers (docs/performance.md). By hand:
--   thriftcorn bench/thriftcorn.lua
--   thriftcorn-bench --call ping -c 64
bind = "127.0.0.1:9090"

-- What every server of the matrix speaks.
transport = "framed"
protocol = "binary"

-- One worker process: the matrix gives the server one CPU.
workers = 1

-- 64 threads, the connections of the heaviest run, so that one config serves
-- both ends of the matrix:
-- * sleep:10 at 64 connections holds 64 calls at once, and a thread runs one
--   handler call at a time: with fewer threads the calls queue (8 threads
--   serve at most 800 calls/s of sleep:10, 64 serve about 6,400).
-- * ping does not pay for the spare threads: only min(threads, CPUs) loops
--   accept connections, so a fast call runs on those few loops with no
--   hand-off between threads; the others wait idle (about 0.85 MiB of
--   resident memory each, Lua state and loaded IDL included) until the
--   watchdog moves to them the connections of a loop stuck in a handler for
--   over 5 ms.
threads = 64

service = {
  idl = "bench.thrift",
  name = "Bench",
  handler = "handler.lua",
}
