-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.config.check: whether a value fits its setting (the kinds of
-- thriftcorn.config.settings), and the value normalized as the C side reads
-- it. Messages name what is wrong, without the place: the caller puts
-- "file:line: setting: " or "--flag: " in front.
local M = {}

-- ---- plain values ----

-- A plain copy of `v`, read raw: no metamethod of the file's tables runs
-- (an __index, __len or __pairs would show the check other items than the
-- C side reads), and a table that holds itself is copied once.
local function deep_copy(v, seen)
  if type(v) ~= "table" then
    return v
  end
  seen = seen or {}
  if seen[v] then
    return seen[v]
  end
  local t = {}
  seen[v] = t
  for k, x in next, v do
    t[k] = deep_copy(x, seen)
  end
  return t
end

-- Whether bind `x` (of a valid form) is TCP at port 0, which the kernel
-- picks: a path of unix:PATH may end in ":0" too.
local function any_port(x)
  return x:find("^unix:") == nil and x:find(":0+$") ~= nil
end

-- Why string `v` cannot be handed to C, or nil: C would cut it at a NUL
-- byte, and serve another file or name than the one written.
local function has_nul(v)
  local at = v:find("\0", 1, true)
  return at and string.format("contains a NUL byte (at byte %d)", at) or nil
end

-- Why table `t` is not a list (keys 1 to n, none missing), or nil when it
-- is one. ipairs() and the C side's length would otherwise drop what
-- follows a hole, or a key that is not an index, without a word.
local function not_a_list(t)
  local last, count = 0, 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then
      return string.format("expected a list: the key %s is not an index of one",
        type(k) == "string" and ("'" .. k .. "'") or tostring(k))
    end
    last = k > last and k or last
    count = count + 1
  end
  -- a hole: the first is at most count + 1 (however large the last index)
  for i = 1, last > count and count + 1 or 0 do
    if rawget(t, i) == nil then
      return string.format("expected a list without holes: item %d is nil but item %d is set",
        i, last)
    end
  end
  return nil
end

-- ---- a value against its setting ----

-- What is wrong with the service table `v` (of `service`, or an item of
-- `services` when `item`, which may also have `default`), or nil.
local function check_service(v, item)
  for _, key in ipairs({ "idl", "name", "handler", "plugin" }) do
    local optional = (key == "handler" and v.plugin ~= nil) or key == "plugin"
    if type(v[key]) ~= "string" and not (optional and v[key] == nil) then
      return string.format("'%s' must be a string, got %s", key, type(v[key]))
    end
    if v[key] == "" then
      return string.format("'%s' must not be empty", key)
    end
    local nul = v[key] and has_nul(v[key])
    if nul then
      return string.format("'%s' %s", key, nul)
    end
  end
  for key in pairs(v) do
    if key ~= "idl" and key ~= "name" and key ~= "handler" and key ~= "plugin"
        and not (item and (key == "default" or key == "multiplexed_name")) then
      return string.format("unknown key '%s' (expected idl, name, handler, plugin%s)",
        tostring(key), item and ", default, multiplexed_name" or "")
    end
  end
  local mux = v.multiplexed_name
  if item and mux ~= nil then
    if type(mux) ~= "string" then
      return string.format("'multiplexed_name' must be a string, got %s", type(mux))
    end
    if mux == "" then
      return "'multiplexed_name' must not be empty"
    end
    if has_nul(mux) then
      return "'multiplexed_name' " .. has_nul(mux)
    end
    if mux:find(":", 1, true) then
      -- a call is routed at the first ':' of "Name:method": this name would never match
      return string.format("'multiplexed_name' must not contain ':', got '%s'", mux)
    end
  end
  return nil
end

-- Check one value against its setting; returns the normalized value or nil, message.
local function check(s, v)
  local k = s.kind
  if v == nil or (v == false and s.nilable) then
    return nil
  end
  if k == "int" or k == "number" then
    if type(v) ~= "number" then
      return nil, string.format("expected %s, got %s", k == "int" and "an integer" or "a number",
        type(v))
    end
    if v ~= v or v == math.huge or v == -math.huge then
      -- tostring() of 0/0 is "-nan" or "nan" after the sign bit the C library kept
      return nil, "expected a finite number, got " .. (v ~= v and "nan" or tostring(v))
    end
    -- a float with an integer value (2.0, 2^20) is an integer, as for Lua's own
    -- functions and as on the command line
    if k == "int" and v ~= math.floor(v) then
      return nil, "expected an integer, got " .. tostring(v)
    end
    if s.min and v < s.min then
      return nil, string.format("must be at least %s, got %s", s.min, v)
    end
    if s.max and v > s.max then
      return nil, string.format("must be at most %s, got %s", s.max, v)
    end
    return k == "int" and math.tointeger(v) or v
  elseif k == "bool" then
    if type(v) ~= "boolean" then
      return nil, "expected true or false, got " .. type(v)
    end
    return v
  elseif k == "string" then
    if type(v) ~= "string" then
      return nil, "expected a string, got " .. type(v)
    end
    if has_nul(v) then
      return nil, has_nul(v)
    end
    if s.path and v == "" then
      return nil, string.format("expected a file path%s, got an empty string",
        s.dash and " or '-'" or "")
    end
    if s.nonempty and v == "" then
      -- an empty title or log line says nothing: the default does
      return nil, "must not be empty (leave it unset for the default)"
    end
    if s.placeholders then
      local at = 1
      while true do
        local pos = v:find("%", at, true)
        if not pos then
          break
        end
        local c = v:sub(pos + 1, pos + 1)
        if c == "" or not s.placeholders:find(c, 1, true) then
          local known = s.placeholders:gsub(".", " %%%0"):sub(2)
          -- gunicorn's %(h)s, of a placeholder there is: say how it is written here
          local atom = c == "(" and v:match("^%((%a)%)s", pos + 1)
          atom = atom and s.placeholders:find(atom, 1, true) and atom
          return nil, string.format("%s at byte %d; the placeholders are %s",
            c == "" and "a '%' with no placeholder after it"
              or atom and string.format("unknown placeholder '%%(%s)s' (gunicorn's form: write "
                .. "%%%s)", atom, atom)
              or string.format("unknown placeholder '%%%s'", c),
            pos, known)
        end
        at = pos + 2
      end
    end
    return v
  elseif k == "enum" then
    for _, x in ipairs(s.values) do
      if v == x then
        return v
      end
    end
    return nil, string.format("expected one of %s, got %s", table.concat(s.values, ", "),
      type(v) == "string" and ("'" .. v .. "'") or type(v))
  elseif k == "list" then
    if type(v) == "string" then
      v = { v }
    end
    if type(v) ~= "table" then
      return nil, "expected a string or a list of strings, got " .. type(v)
    end
    local shape = not_a_list(v)
    if shape then
      return nil, shape
    end
    if s.binds and #v == 0 then
      return nil, "expected at least one address, got an empty list"
    end
    local seen = {}
    for i, x in ipairs(v) do
      if type(x) ~= "string" then
        return nil, string.format("item %d: expected a string, got %s", i, type(x))
      end
      if has_nul(x) then
        return nil, string.format("item %d: %s", i, has_nul(x))
      end
      if x == "" and not s.binds then
        -- it would name the config file's folder without saying so
        return nil, string.format("item %d: expected a folder, got an empty string", i)
      end
      if s.binds then
        local ok, why = require("thriftcorn.core").check_bind(x)
        if not ok then
          return nil, why
        end
        -- the same address twice would fail to listen at start (port 0
        -- opens a socket at a port of its own each time, so it may repeat)
        if seen[x] and not any_port(x) then
          return nil, string.format("'%s' is given twice (items %d and %d)", x, seen[x], i)
        end
        seen[x] = seen[x] or i
      end
    end
    return v
  elseif k == "function" then
    if type(v) ~= "function" then
      return nil, "expected a function, got " .. type(v)
    end
    return v
  elseif k == "id" then
    v = math.type(v) == "float" and math.tointeger(v) or v -- 1000.0, as integer settings take it
    if math.type(v) == "integer" and v >= 0 then
      v = tostring(v) -- looked up as the text of the id is
    end
    if type(v) ~= "string" or v == "" then
      local got = v == "" and "an empty string"
        or type(v) == "number" and tostring(v)
        or type(v)
      return nil, "expected a name or a non-negative integer id, got " .. got
    end
    if has_nul(v) then
      return nil, has_nul(v)
    end
    local ok, why = require("thriftcorn.core").check_id(s.name, v)
    if not ok then
      return nil, why
    end
    return v
  elseif k == "umask" then
    local text = v
    v = math.type(v) == "float" and math.tointeger(v) or v -- 18.0, as integer settings take it
    if type(v) == "string" and v:match("^[0-7]+$") then
      -- at most 3 digits after leading zeros: tonumber() wraps longer ones
      v = #v:match("^0*(.*)$") <= 3 and tonumber(v, 8) or math.huge
    end
    if math.type(v) ~= "integer" or v < 0 or v > 511 then
      return nil, "expected an integer 0-511 or an octal string such as \"022\", got "
        .. (type(text) == "string" and ("'" .. text .. "'")
          or type(v) == "number" and tostring(v) or type(v))
    end
    return v
  elseif k == "servicelist" then
    local shape = type(v) == "table" and not_a_list(v)
    if shape then
      return nil, shape
    end
    if type(v) ~= "table" or #v == 0 then
      return nil, "expected a list of { idl = ..., name = ..., handler = ... }, got "
        .. (type(v) == "table" and "an empty table" or type(v))
    end
    local names, dflt = {}, nil
    for i, e in ipairs(v) do
      if type(e) ~= "table" then
        return nil, string.format("item %d: expected a table, got %s", i, type(e))
      end
      local msg = check_service(e, true)
      if msg then
        return nil, string.format("item %d: %s", i, msg)
      end
      if e.default ~= nil and type(e.default) ~= "boolean" then
        return nil, string.format("item %d: 'default' must be true or false, got %s", i,
          type(e.default))
      end
      if e.default then
        if dflt then
          return nil, string.format("items %d and %d: only one service may be the default",
            dflt, i)
        end
        dflt = i
      end
      -- the name calls use: two entries may serve one IDL service under two names
      local as = e.multiplexed_name or e.name
      if names[as] then
        local other = v[names[as]]
        return nil, string.format("items %d and %d: both are called as '%s'%s", names[as], i, as,
          (other.multiplexed_name or e.multiplexed_name) and "" or string.format(
            " (give one a multiplexed_name to serve service '%s' twice)", as))
      end
      names[as] = i
    end
    return v
  elseif k == "services" then
    if type(v) ~= "table" then
      return nil, "expected a table { idl = ..., name = ..., handler = ... }, got " .. type(v)
    end
    local msg = check_service(v, false)
    if msg then
      return nil, msg
    end
    return v
  end
  return v
end

M.deep_copy = deep_copy
M.any_port = any_port
M.value = check

return M
