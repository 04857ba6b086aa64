-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.lua: the sample configuration, serving examples/pingpong.
-- Settings are Lua globals; every one is optional except `service`.
-- docs/configuration.md lists them all, with their command-line flags.

-- Where to listen: "HOST:PORT", "[::1]:PORT", "unix:/path/to.sock", or a list.
-- Port 0 picks a free port; the log line "Listening at: ..." names it.
bind = "127.0.0.1:9090"

-- Worker processes, and handler threads in each (each thread has its own
-- Lua state and loads the handler module itself).
workers = 1
threads = 4

-- "auto" (the default) serves buffered, framed and THeader clients alike,
-- each connection's first bytes telling which; or fix one: "buffered",
-- "framed", "header". Likewise "auto", "binary" or "compact".
transport = "auto"
protocol = "auto"

-- Seconds a client may stay silent between calls (nil: forever).
client_timeout = 30

-- Connections each worker holds at once; past it, new clients wait in the
-- listen backlog until a connection closes.
worker_connections = 1000

-- The service: its IDL, its name in the IDL, and the Lua module with one
-- function per method. Relative paths are relative to this file.
service = {
  idl = "examples/pingpong/pingpong.thrift",
  name = "PingService",
  handler = "examples/pingpong/handler.lua",
}
