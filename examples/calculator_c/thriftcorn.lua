-- SPDX-License-Identifier: Apache-2.0
-- The Apache Thrift tutorial Calculator served by a C plugin: build it with
--   cmake --build build --target calculator_c
-- then serve it with
--   thriftcorn examples/calculator_c/thriftcorn.lua
-- Every method is in the plugin, so no Lua handler is needed; a `handler`
-- here would serve the methods the plugin leaves out.
bind = "127.0.0.1:9090"
workers = 2
threads = 4
transport = "buffered"
protocol = "binary"
service = {
  idl = "../calculator/tutorial.thrift",
  name = "Calculator",
  plugin = "../../build/examples/libcalculator_c.so",
}
