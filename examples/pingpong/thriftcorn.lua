-- SPDX-License-Identifier: Apache-2.0
-- The gunicorn_thrift pingpong example: serve it with
--   thriftcorn examples/pingpong/thriftcorn.lua
bind = "127.0.0.1:9090"
workers = 2
threads = 4
transport = "buffered"
protocol = "binary"
service = {
  idl = "pingpong.thrift",
  name = "PingService",
  handler = "handler.lua",
}
