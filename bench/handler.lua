-- SPDX-License-Identifier: Apache-2.0
-- The benchmark service (bench.thrift) for thriftcorn, doing exactly what the
-- IDL's comments say; bench/anchors/anchor_server.cpp is the same in C++.
local thriftcorn = require("thriftcorn")
local bench = thriftcorn.load("bench.thrift")

local H = {}

function H.ping()
end

function H.echo(s)
  return s
end

function H.add(a, b)
  return a + b
end

-- The item comes back with id+1 and every other field as it came.
function H.roundtrip(item)
  item.id = item.id + 1
  return item
end

-- n items with id = 0..n-1, name = "item-<id>", score = id/2.0,
-- tags = {id, id+1, id+2}, attrs = {k = "v<id>"}; built anew on every call,
-- as the C++ anchor does.
function H.batch(n)
  local items = {}
  for id = 0, n - 1 do
    items[id + 1] = {
      id = id,
      name = "item-" .. id,
      score = id / 2.0,
      tags = { id, id + 1, id + 2 },
      attrs = { k = "v" .. id },
    }
  end
  return items
end

function H.fail(code)
  error(bench.BenchError{ code = code, message = "fail " .. code })
end

function H.fire()
end

-- Blocks this handler thread; the worker moves the thread's other
-- connections to idle threads meanwhile (docs/handlers.md).
function H.sleep(ms)
  thriftcorn.sleep(ms / 1000)
end

return H
