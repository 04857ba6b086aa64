-- SPDX-License-Identifier: Apache-2.0
-- The interop service (interop.thrift) as a Lua handler: echoes values back
-- unchanged, builds structs from IDL defaults and extremes, raises declared
-- and undeclared errors. run_interop.py serves it with one handler thread,
-- so remember() and remembered() share this module's state.
local thriftcorn = require("thriftcorn")
local interop = thriftcorn.load("interop.thrift")

local H = {}

local function echo(v)
  return v
end

function H.ping()
end

H.echo_bool = echo
H.echo_byte = echo
H.echo_i16 = echo
H.echo_i32 = echo
H.echo_i64 = echo
H.echo_double = echo
H.echo_string = echo
H.echo_binary = echo
H.echo_enum = echo
H.echo_list = echo
H.echo_set = echo
H.echo_map = echo
H.echo_nested = echo
H.echo_point = echo
H.echo_everything = echo
H.echo_shape = echo

function H.defaults()
  return interop.Defaults{}
end

local extremes = {
  i8_min = -128, i8_max = 127,
  i16_min = -32768, i16_max = 32767,
  i32_min = -2147483648, i32_max = 2147483647,
  i64_min = math.mininteger, i64_max = math.maxinteger,
  d_max = 1.7976931348623157e308,
  d_min_normal = 2.2250738585072014e-308,
  d_min_subnormal = 4.9406564584124654e-324,
  d_lowest = -1.7976931348623157e308,
  d_inf = math.huge, d_ninf = -math.huge,
  d_nan = 0.0 / 0.0,
  d_negzero = -0.0,
  d_tenth = 0.1,
}

function H.extremes()
  return interop.Extremes(extremes)
end

local function same(name, got)
  local want = extremes[name]
  if name == "d_nan" then
    return got ~= got
  elseif name == "d_negzero" then
    return got == 0 and 1 / got < 0
  end
  return got == want and math.type(got) == math.type(want)
end

function H.check_extremes(e)
  local bad = {}
  for _, f in ipairs(interop.Extremes.fields) do
    if not same(f.name, e[f.name]) then
      bad[#bad + 1] = f.name .. "=" .. tostring(e[f.name])
    end
  end
  return table.concat(bad, ",")
end

function H.multi(a, b, c, d, e, f, g, h, i)
  return string.format("%d|%d|%d|%d|%.17g|%s|%s|%d|%d", a, b, c, d, e, f, tostring(g), #h, i)
end

function H.fail(which)
  if which == 1 then
    error(interop.NotFound{ thing = "thing", code = 404 })
  elseif which == 2 then
    error(interop.Invalid{ why = "bad", where = interop.Point{ x = 1, y = 2 } })
  elseif which == 3 then
    error("an undeclared error")
  end
  return 0
end

function H.fail_void(which)
  if which == 1 then
    error(interop.NotFound{ thing = "void", code = 1 })
  end
end

function H.nothing()
  return nil
end

local remembered = {}

function H.remember(key, value)
  remembered[key] = (remembered[key] or 0) + value
end

function H.remembered(key)
  return remembered[key] or 0
end

return H
