-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.cli: what the command-line tools print (--check-idl,
-- --check-config). The C side only calls these and sets the exit status.
local M = {}

-- A type as the IDL writes it; struct and enum names are shown relative to `doc`.
local function type_name(t, doc)
  if t == nil then
    return "void"
  end
  local tt = t.ttype
  if tt == "list" or tt == "set" then
    return string.format("%s<%s>", tt, type_name(t.elem, doc))
  elseif tt == "map" then
    return string.format("map<%s, %s>", type_name(t.key, doc), type_name(t.value, doc))
  elseif tt == "struct" or tt == "enum" then
    local def = t.struct or t.enum
    local prefix = doc.name .. "."
    if def.fullname:sub(1, #prefix) == prefix then
      return def.fullname:sub(#prefix + 1)
    end
    return def.fullname
  end
  return tt
end
M.type_name = type_name

local function fields(list, doc)
  local out = {}
  for _, f in ipairs(list) do
    local req = f.required ~= "default" and (f.required .. " ") or ""
    out[#out + 1] = string.format("%d: %s%s %s", f.id, req, type_name(f.type, doc), f.name)
  end
  return table.concat(out, ", ")
end

--- One line per function of `svc`: its signature, inherited ones marked.
function M.signature(fn, doc)
  local s = string.format("%s%s %s(%s)", fn.oneway and "oneway " or "",
    type_name(fn.returns, doc), fn.name, fields(fn.args.fields, doc))
  if fn.throws and #fn.throws > 0 then
    s = s .. string.format(" throws (%s)", fields(fn.throws, doc))
  end
  return s
end

--- Describe every service of the loaded doc, as --check-idl prints it.
function M.describe(doc)
  local lines = {}
  local names = {}
  for _, item in ipairs(doc.order) do
    if item.kind == "service" then
      names[#names + 1] = item.name
    end
  end
  for _, name in ipairs(names) do
    local svc = doc.services[name]
    local head = "  service " .. svc.name
    if svc.extends then
      head = head .. " extends " .. svc.extends.fullname
    end
    lines[#lines + 1] = head
    for _, fn in ipairs(svc.all_functions) do
      local line = "    " .. M.signature(fn, doc)
      if fn.service ~= svc then
        line = line .. "  [inherited from " .. fn.service.fullname .. "]"
      end
      lines[#lines + 1] = line
    end
  end
  if #names == 0 then
    lines[#lines + 1] = "  (no services)"
  end
  return lines
end

--- thriftcorn --check-idl FILE...: returns the number of files that failed.
function M.check_idl(paths, include_dirs)
  local thriftcorn = require("thriftcorn")
  local failed = 0
  for _, path in ipairs(paths) do
    local ok, mod = pcall(thriftcorn.load, path, { include_dirs = include_dirs })
    if ok then
      io.stdout:write(path, ": ok\n", table.concat(M.describe(mod.__doc), "\n"), "\n")
    else
      failed = failed + 1
      io.stderr:write(tostring(mod), "\n")
    end
  end
  io.stdout:flush()
  return failed
end

return M
