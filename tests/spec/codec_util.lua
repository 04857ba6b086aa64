-- SPDX-License-Identifier: Apache-2.0
-- Helpers of codec_spec.lua and golden_spec.lua (not a spec itself): hex,
-- a canonical form of Thrift values built from the IDL types, and the bit of
-- JSON that golden_spec exchanges with tests/integration/golden_py.py.
local M = {}

-- ---- hex ----

function M.hex(s)
  local out = {}
  for i = 1, #s, 4096 do
    local j = math.min(i + 4095, #s)
    out[#out + 1] = string.format(string.rep("%02x", j - i + 1), s:byte(i, j))
  end
  return table.concat(out)
end

local unhex_map = {}
for b = 0, 255 do
  unhex_map[string.format("%02x", b)] = string.char(b)
  unhex_map[string.format("%02X", b)] = string.char(b)
end

-- "0a 0b" and "0a0b" alike: blanks are ignored.
function M.unhex(h)
  h = h:gsub("%s+", "")
  assert(#h % 2 == 0 and not h:find("%X"), "not a hex string")
  return (h:gsub("%x%x", unhex_map))
end

-- First difference of two byte strings, for readable assertion messages.
function M.diff(want, got)
  if want == got then
    return "equal"
  end
  local i = 1
  while i <= #want and i <= #got and want:byte(i) == got:byte(i) do
    i = i + 1
  end
  local from = math.max(1, i - 8)
  return string.format("%d vs %d bytes, first difference at offset %d:\n want ...%s\n  got ...%s",
    #want, #got, i - 1, M.hex(want:sub(from, i + 15)), M.hex(got:sub(from, i + 15)))
end

-- ---- canonical form ----
--
-- The same string golden_py.py's canon() makes of Python values: a struct is
-- Name(id:value;...) over its set fields in id order, a list [a,b], a set
-- <a,b> and a map {k=>v,...} sorted by their canonical strings, strings
-- s:<hex>, integers i<n>, doubles d<hex of the big-endian bits> (any NaN:
-- dnan), booleans T and F. It follows the IDL type, and a Lua value of the
-- wrong type shows up as "?<what>" so that it never compares equal.

local canon

local function sorted_fields(sd)
  local fields = {}
  for i, f in ipairs(sd.fields) do
    fields[i] = f
  end
  table.sort(fields, function(a, b) return a.id < b.id end)
  return fields
end

local function canon_struct(sd, v)
  if type(v) ~= "table" then
    return "?" .. type(v)
  end
  local parts = {}
  for _, f in ipairs(sorted_fields(sd)) do
    local x = rawget(v, f.name)
    if x ~= nil then
      parts[#parts + 1] = f.id .. ":" .. canon(f.type, x)
    end
  end
  return sd.name .. "(" .. table.concat(parts, ";") .. ")"
end

local function canon_list(t, v)
  local parts = {}
  for i = 1, #v do
    parts[i] = canon(t.elem, v[i])
  end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then
      return "?list with key " .. tostring(k)
    end
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function canon_set(t, v)
  local parts = {}
  for k, x in pairs(v) do
    if x ~= true then
      return "?set value " .. tostring(x)
    end
    parts[#parts + 1] = canon(t.elem, k)
  end
  table.sort(parts)
  return "<" .. table.concat(parts, ",") .. ">"
end

local function canon_map(t, v)
  local parts = {}
  for k, x in pairs(v) do
    parts[#parts + 1] = canon(t.key, k) .. "=>" .. canon(t.value, x)
  end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

local integer_types = { i8 = true, byte = true, i16 = true, i32 = true, i64 = true, enum = true }

function canon(t, v)
  local tt = t.ttype
  if integer_types[tt] then
    return math.type(v) == "integer" and "i" .. v or "?" .. tostring(v)
  elseif tt == "double" then
    if math.type(v) ~= "float" then
      return "?" .. tostring(v)
    end
    return v ~= v and "dnan" or "d" .. M.hex(string.pack(">d", v))
  elseif tt == "bool" then
    if type(v) ~= "boolean" then
      return "?" .. tostring(v)
    end
    return v and "T" or "F"
  elseif tt == "string" or tt == "binary" then
    return type(v) == "string" and "s:" .. M.hex(v) or "?" .. tostring(v)
  elseif type(v) ~= "table" then
    return "?" .. type(v)
  elseif tt == "list" then
    return canon_list(t, v)
  elseif tt == "set" then
    return canon_set(t, v)
  elseif tt == "map" then
    return canon_map(t, v)
  elseif tt == "struct" then
    return canon_struct(t.struct, v)
  end
  error("canon: no ttype " .. tostring(tt))
end

-- Canonical form of a value of the struct 'sd' (a structdef of a loaded module).
function M.canon(sd, v)
  return canon_struct(sd, v)
end

function M.canon_string(s)
  return "s:" .. M.hex(s)
end

-- A whole message as thriftcorn.decode_message returns it, or as built for
-- encode_message: body_sd is the args/result structdef, nil for an exception.
function M.canon_message(name, mtype, seqid, body_sd, value)
  local body
  if body_sd then
    body = canon_struct(body_sd, value)
  else
    local msg = value.message and M.canon_string(value.message) or "-"
    body = string.format("appex(i%d;%s)", value.type, msg)
  end
  return string.format("msg(%s;i%d;i%d;%s)", M.canon_string(name), mtype, seqid, body)
end

-- ---- JSON (objects, arrays, strings, numbers, booleans, null) ----

local make_number -- json_decode()'s: a number from its text

local function json_error(s, pos, what)
  error(string.format("JSON: %s at offset %d near '%s'", what, pos, s:sub(pos, pos + 20)), 0)
end

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
  r = "\r", t = "\t" }

local decode_value

local function decode_string(s, pos)
  local plain_end = s:find('["\\]', pos + 1)
  if not plain_end then
    json_error(s, pos, "unterminated string")
  end
  if s:byte(plain_end) == 34 then -- fast path: no escapes
    return s:sub(pos + 1, plain_end - 1), plain_end + 1
  end
  local out = {}
  local i = pos + 1
  while true do
    local c = s:sub(i, i)
    if c == "" then
      json_error(s, pos, "unterminated string")
    elseif c == '"' then
      return table.concat(out), i + 1
    elseif c == "\\" then
      local e = s:sub(i + 1, i + 1)
      if e == "u" then
        out[#out + 1] = utf8.char(tonumber(s:sub(i + 2, i + 5), 16))
        i = i + 6
      elseif escapes[e] then
        out[#out + 1] = escapes[e]
        i = i + 2
      else
        json_error(s, i, "bad escape")
      end
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
end

local function skip(s, pos)
  return s:find("[^ \t\r\n]", pos) or #s + 1
end

function decode_value(s, pos)
  pos = skip(s, pos)
  local c = s:sub(pos, pos)
  if c == '"' then
    return decode_string(s, pos)
  elseif c == "{" or c == "[" then
    local obj = {}
    local close = c == "{" and "}" or "]"
    pos = skip(s, pos + 1)
    if s:sub(pos, pos) == close then
      return obj, pos + 1
    end
    while true do
      local v
      if close == "}" then
        local k
        k, pos = decode_value(s, pos)
        pos = skip(s, pos)
        if s:sub(pos, pos) ~= ":" then
          json_error(s, pos, "':' expected")
        end
        v, pos = decode_value(s, pos + 1)
        obj[k] = v
      else
        v, pos = decode_value(s, pos)
        obj[#obj + 1] = v
      end
      pos = skip(s, pos)
      local sep = s:sub(pos, pos)
      if sep == close then
        return obj, pos + 1
      elseif sep ~= "," then
        json_error(s, pos, "',' or '" .. close .. "' expected")
      end
      pos = pos + 1
    end
  end
  for word, v in pairs({ ["true"] = true, ["false"] = false, null = M.null }) do
    if s:sub(pos, pos + #word - 1) == word then
      return v, pos + #word
    end
  end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num and #num > 0 then
    return make_number(num), pos + #num
  end
  json_error(s, pos, "value expected")
end

M.null = setmetatable({}, { __tostring = function() return "null" end })

local function to_number(text)
  return math.tointeger(tonumber(text)) or tonumber(text)
end

-- The value of JSON text 's'. 'number', when given, makes each number of
-- its text (to keep it as written); else an integer or a float.
function M.json_decode(s, number)
  make_number = number or to_number
  local v, pos = decode_value(s, 1)
  if skip(s, pos) <= #s then
    json_error(s, pos, "trailing data")
  end
  return v
end

local function encode_string(v)
  return '"' .. v:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- Tables with t[1] ~= nil (or empty with is_array) are arrays; keys are strings.
function M.json_encode(v)
  local tv = type(v)
  if tv == "string" then
    return encode_string(v)
  elseif tv == "number" or tv == "boolean" then
    return tostring(v)
  elseif tv ~= "table" then
    error("json_encode: cannot encode " .. tv)
  end
  local parts = {}
  if v[1] ~= nil then
    for i, x in ipairs(v) do
      parts[i] = M.json_encode(x)
    end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    parts[#parts + 1] = encode_string(k) .. ":" .. M.json_encode(v[k])
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

return M
