-- SPDX-License-Identifier: Apache-2.0
-- The Apache Thrift tutorial Calculator, as a thriftcorn Lua handler.
-- Every handler thread runs its own copy of this module, so `log` is per
-- thread: getStruct finds what calculate stored in the same thread. A
-- connection stays on its thread unless a call there blocks it for over
-- 5 ms (the worker then moves the thread's other connections), so a client
-- usually finds its own entries; state that must not depend on that
-- belongs in an external store (docs/handlers.md, "State").
local thriftcorn = require("thriftcorn")
local tutorial = thriftcorn.load("tutorial.thrift")
local shared = tutorial.shared

local Operation = tutorial.Operation
local log = {}

local H = {}

function H.ping()
end

function H.add(num1, num2)
  return num1 + num2
end

function H.calculate(logid, w)
  local val
  if w.op == Operation.ADD then
    val = w.num1 + w.num2
  elseif w.op == Operation.SUBTRACT then
    val = w.num1 - w.num2
  elseif w.op == Operation.MULTIPLY then
    val = w.num1 * w.num2
  elseif w.op == Operation.DIVIDE then
    if w.num2 == 0 then
      error(tutorial.InvalidOperation{ whatOp = w.op, why = "Cannot divide by 0" })
    end
    val = w.num1 // w.num2
  else
    error(tutorial.InvalidOperation{ whatOp = w.op, why = "Invalid operation" })
  end
  log[logid] = shared.SharedStruct{ key = logid, value = tostring(val) }
  return val
end

function H.getStruct(key)
  return log[key]
end

function H.zip()
end

return H
