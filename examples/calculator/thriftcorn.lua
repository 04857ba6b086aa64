-- SPDX-License-Identifier: Apache-2.0
-- The Apache Thrift tutorial Calculator: serve it with
--   thriftcorn examples/calculator/thriftcorn.lua
-- and call it with the tutorial clients of any language (buffered binary).
bind = "127.0.0.1:9090"
workers = 2
threads = 4
transport = "buffered"
protocol = "binary"
service = {
  idl = "tutorial.thrift",
  name = "Calculator",
  handler = "handler.lua",
}
