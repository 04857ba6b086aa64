-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.spell: the name nearest in spelling to a mistyped one, for the
-- "did you mean" of the config's unknown settings and of a handler that
-- lacks a method's function.
local M = {}

--- Edit distance of two strings: insertions, deletions, substitutions, and
--- the swap of two neighbours ("pnig" for "ping") as one edit each (the
--- optimal string alignment distance).
function M.distance(a, b)
  local rows = { [0] = {} }
  for j = 0, #b do
    rows[0][j] = j
  end
  for i = 1, #a do
    local cur = { [0] = i }
    local prev = rows[i - 1]
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        cur[j] = math.min(cur[j], rows[i - 2][j - 2] + 1)
      end
    end
    rows[i] = cur
    rows[i - 2] = nil -- two rows back are all a swap needs
  end
  return rows[#a][#b]
end

local function norm(x)
  return (x:lower():gsub("[_%-]", ""))
end

--- The string of the list `names` nearest to `name` in spelling, with case,
--- '_' and '-' ignored ("treads" -> threads, "error_log" -> errorlog,
--- "Ping" -> ping), if one is within a third of its length; nil otherwise.
--- Of equally near ones, the least in byte order, whatever the order of
--- the list (a table's keys, say).
function M.nearest(name, names)
  local n = norm(tostring(name))
  if #n > 64 then
    return nil -- none is near, and the distance costs its length squared
  end
  local best, best_d = nil, math.max(1, #n // 3) + 1
  for _, s in ipairs(names) do
    local d = M.distance(n, norm(s))
    if d < best_d or (d == best_d and best ~= nil and s < best) then
      best, best_d = s, d
    end
  end
  return best
end

return M
