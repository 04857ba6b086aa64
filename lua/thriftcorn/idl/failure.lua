-- SPDX-License-Identifier: Apache-2.0
-- IDL errors: how the grammar, the loader and the resolver raise a
-- positioned message (and word a cycle), and how thriftcorn.idl turns it
-- into nil plus "file:line:col: message".

local M = {}

-- Errors travel as a table with this metatable, so that load and parse can
-- tell them from bugs, and leave as one "file:line:col: message" string.
local Failure = {}

local function raise(msg)
  error(setmetatable({ msg = msg }, Failure), 0)
end

local function fail_at(file, line, col, msg)
  raise(string.format("%s:%d:%d: %s", file, line, col, msg))
end

-- Fail at AST 'node' of the file of context 'fc' (see thriftcorn.idl.resolve).
local function fail_node(fc, node, fmt, ...)
  fail_at(fc.name, node.line or 0, node.col or 0, string.format(fmt, ...))
end

-- Call f(...); a raised Failure becomes nil and its message, any other
-- error nil and "thriftcorn.idl: " plus the error.
local function protect(f, ...)
  local ok, res = pcall(f, ...)
  if ok then
    return res
  end
  if getmetatable(res) == Failure then
    return nil, res.msg
  end
  return nil, "thriftcorn.idl: " .. tostring(res)
end

local function quoted_name(step)
  return "'" .. step.name .. "'"
end

-- The cycle that a reference back to 'def', which is on 'stack', closes:
-- "typedef 'A' refers to 'B', which refers to 'A'", in the order the
-- definitions led to each other ("typedef 'A' refers to itself" for one).
-- 'step' words a step of the stack ('A' by default); 'what' ("typedef"),
-- when given, goes before the first.
local function cycle_message(what, verb, stack, def, step)
  step = step or quoted_name
  local i = #stack
  while stack[i] ~= def do
    i = i - 1
  end
  local first = what and (what .. " " .. step(def)) or step(def)
  if i == #stack then
    return string.format("%s %s itself", first, verb)
  end
  local parts = { string.format("%s %s %s", first, verb, step(stack[i + 1])) }
  for j = i + 2, #stack do
    parts[#parts + 1] = string.format("which %s %s", verb, step(stack[j]))
  end
  parts[#parts + 1] = string.format("which %s %s", verb, step(def))
  return table.concat(parts, ", ")
end

M.Failure = Failure
M.raise = raise
M.fail_at = fail_at
M.fail_node = fail_node
M.protect = protect
M.cycle_message = cycle_message

return M
