-- SPDX-License-Identifier: Apache-2.0
-- The user-facing module of a loaded IDL (what thriftcorn.load() returns),
-- built from a doc of thriftcorn.idl: struct classes with constructors,
-- enum tables, constants, services and included modules. Pure Lua.

local M = {}

-- One module per doc, also across build() calls.
local built = setmetatable({}, { __mode = "k" })
-- Instance metatable -> structdef, for nested dumps.
local struct_of_mt = setmetatable({}, { __mode = "k" })

local MAX_DEPTH = 4
local MAX_STRING = 200

-- Keys are copied too: a set<Struct> or map<Struct, V> default has tables as
-- keys, and an instance that shared them would change the IDL's default (and
-- so every later instance and decoded default) when one is changed.
local function deep_copy(v)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[deep_copy(k)] = deep_copy(x)
  end
  return setmetatable(out, getmetatable(v))
end

-- ---- readable dumps ----

local function quote(s)
  if #s > MAX_STRING then
    s = s:sub(1, MAX_STRING) .. "..."
  end
  -- Valid UTF-8 stays readable; other bytes above 127 are escaped.
  local pat = utf8.len(s) and '[%c"\\]' or '[%c"\\\128-\255]'
  return '"' .. s:gsub(pat, function(c)
    if c == '"' or c == "\\" then
      return "\\" .. c
    elseif c == "\n" then
      return "\\n"
    end
    return string.format("\\x%02x", c:byte())
  end) .. '"'
end

local repr

local function dump_struct(sd, obj, depth, seen)
  local parts = {}
  for _, f in ipairs(sd.fields) do
    local v = rawget(obj, f.name)
    if v ~= nil then
      parts[#parts + 1] = f.name .. "=" .. repr(v, depth + 1, seen)
    end
  end
  return sd.name .. "(" .. table.concat(parts, ", ") .. ")"
end

local function dump_table(t, depth, seen)
  local parts = {}
  local n = #t
  for i = 1, n do
    parts[i] = repr(t[i], depth + 1, seen)
  end
  local keys = {}
  for k in pairs(t) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local key
    if type(k) == "string" and k:find("^[%a_][%w_]*$") then
      key = k
    else
      key = "[" .. repr(k, depth + 1, seen) .. "]"
    end
    parts[#parts + 1] = key .. "=" .. repr(t[k], depth + 1, seen)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function repr(v, depth, seen)
  local tv = type(v)
  if tv == "string" then
    return quote(v)
  elseif tv ~= "table" then
    return tostring(v)
  elseif depth > MAX_DEPTH or seen[v] then
    return "{...}"
  end
  seen[v] = true
  local mt = getmetatable(v)
  local sd = mt and struct_of_mt[mt]
  local out
  if sd then
    out = dump_struct(sd, v, depth, seen)
  elseif mt and mt.__tostring then
    out = tostring(v)
  else
    out = dump_table(v, depth, seen)
  end
  seen[v] = nil
  return out
end

-- ---- struct classes ----

local function class_call(sd)
  local known = {}
  for _, f in ipairs(sd.fields) do
    known[f.name] = true
  end
  local is_union = sd.kind == "union"
  return function(_, init)
    if init ~= nil and type(init) ~= "table" then
      error(string.format("%s: expected a table of field values, got %s", sd.fullname,
        type(init)), 2)
    end
    local obj = {}
    if init ~= nil then
      for k, v in pairs(init) do
        if not known[k] then
          error(string.format("%s has no field '%s'", sd.fullname, tostring(k)), 2)
        end
        obj[k] = v
      end
    end
    -- A union holds one field: its default applies only when init sets none.
    if not (is_union and next(obj) ~= nil) then
      for _, f in ipairs(sd.fields) do
        if f.default ~= nil and obj[f.name] == nil then
          obj[f.name] = deep_copy(f.default)
        end
      end
    end
    return setmetatable(obj, sd.mt)
  end
end

-- Turn a structdef into a class: sd.mt for instances, sd(init) constructs.
local function make_class(sd)
  if sd.mt then
    return sd
  end
  sd.mt = {
    __name = sd.fullname,
    __tostring = function(obj) return repr(obj, 1, {}) end,
  }
  struct_of_mt[sd.mt] = sd
  return setmetatable(sd, { __call = class_call(sd) })
end

-- ---- enums ----

local enum_tables = setmetatable({}, { __mode = "k" })

local function make_enum(ed)
  if enum_tables[ed] then
    return enum_tables[ed]
  end
  local t = {}
  for _, v in ipairs(ed.values) do
    t[v.name] = v.value
  end
  enum_tables[ed] = t
  return setmetatable(t, {
    __name = ed.fullname,
    __enumdef = ed,
    __index = function(_, k)
      error(string.format("%s has no value '%s'", ed.fullname, tostring(k)), 2)
    end,
    __newindex = function()
      error(ed.fullname .. " is read-only", 2)
    end,
  })
end

-- The enumdef behind an enum table of a module (nil for anything else).
function M.enumdef(enum)
  local mt = type(enum) == "table" and getmetatable(enum)
  return mt and rawget(mt, "__enumdef") or nil
end

-- Name of 'value' in an enum table or enumdef, or nil.
function M.enum_name(enum, value)
  local ed = M.enumdef(enum) or enum
  return ed.by_value[value]
end

-- ---- module ----

-- Build the module of a doc (see docs/idl.md). Built once per doc: later
-- calls return the same table.
function M.build(doc)
  local mod = built[doc]
  if mod then
    return mod
  end
  mod = { __doc = doc, __path = doc.path }
  built[doc] = mod
  for stem, inc in pairs(doc.includes) do
    mod[stem] = M.build(inc)
  end
  for name, ed in pairs(doc.enums) do
    mod[name] = make_enum(ed)
  end
  for name, sd in pairs(doc.structs) do
    mod[name] = make_class(sd)
  end
  for name, t in pairs(doc.types) do
    if t.ttype == "struct" then
      mod[name] = make_class(t.struct)
    elseif t.ttype == "enum" then
      mod[name] = make_enum(t.enum)
    end
  end
  for name, v in pairs(doc.consts) do
    mod[name] = v
  end
  for name, svc in pairs(doc.services) do
    for _, fd in ipairs(svc.functions) do
      make_class(fd.args)
      make_class(fd.result)
    end
    mod[name] = svc
  end
  return mod
end

return M
