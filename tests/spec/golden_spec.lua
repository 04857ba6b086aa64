-- SPDX-License-Identifier: Apache-2.0
-- Golden bytes against Apache Thrift's Python library, made at test time by
-- tests/integration/golden_py.py: for every named sample and both protocols,
-- thriftcorn writes Apache's bytes, reads Apache's bytes back to the same
-- value, and Apache reads thriftcorn's bytes back to the same value. The
-- samples are built twice, here and in golden_py.py, under the same names.
--
-- Maps and sets of more than one element are written in table order here
-- and in dict/set order in Python: those samples ("unordered") compare by
-- length and decoded value, every other sample byte for byte.
local tc = require("thriftcorn")
local util = require("codec_util")

local PYTHON = "/usr/bin/python3"
local SCRIPT = "tests/integration/golden_py.py"
local IDL = "tests/fixtures/golden.thrift"
local PROTOS = { "binary", "compact" }

local INT64_MIN, INT64_MAX = math.mininteger, math.maxinteger
local INT32_MIN, INT32_MAX = -2147483648, 2147483647
local NAN = string.unpack(">d", "\x7f\xf8\0\0\0\0\0\0") -- Python's float("nan")
local NEG_ZERO = string.unpack(">d", "\x80\0\0\0\0\0\0\0")
local MIB_STRING = string.rep("0123456789abcdef", 65536)
local UTF8_TEXT = "h\u{e9}llo w\u{f6}rld \u{2014} \u{2603} \u{1d11e} \u{65e5}\u{672c}\u{8a9e}"

local function sh_ok(cmd)
  return os.execute(cmd .. " >/dev/null 2>&1") == true
end

-- Why the spec cannot run here, or nil when it can.
local function missing_tools()
  local f = io.open(PYTHON, "r")
  if not f then
    return PYTHON .. " is missing"
  end
  f:close()
  if not (sh_ok("command -v thrift") or sh_ok("test -x /usr/bin/thrift")) then
    return "the thrift compiler is missing"
  end
  if not sh_ok(PYTHON .. " -c 'import thrift.protocol.TCompactProtocol'") then
    return "Apache Thrift's Python library (python3-thrift) is missing"
  end
  return nil
end

local function run(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok, how, code = p:close()
  assert(ok, string.format("%s: %s %s", cmd, tostring(how), tostring(code)))
  return util.json_decode(out)
end

-- ---- the samples (golden_py.py's samples() and messages(), in Lua) ----

local function samples(g)
  local at = g.alltypes
  local P, C = at.Point, at.Color
  local out = {}
  local function add(name, sd, value, opts)
    opts = opts or {}
    out[#out + 1] = { name = name, sd = sd, value = value, expect = opts.expect or value,
      unordered = opts.unordered }
  end
  local function range(a, b)
    local t = {}
    for i = a, b do
      t[#t + 1] = i
    end
    return t
  end

  local base = at.AllBase
  add("base_zero", base, { a_bool = false, a_byte = 0, a_i8 = 0, a_i16 = 0, a_i32 = 0,
    a_i64 = 0, a_double = 0.0, a_string = "", a_binary = "" })
  add("base_max", base, { a_bool = true, a_byte = 127, a_i8 = 127, a_i16 = 32767,
    a_i32 = INT32_MAX, a_i64 = INT64_MAX, a_double = 1.7976931348623157e308,
    a_string = "max", a_binary = "\xff\xfe\xfd" })
  add("base_min", base, { a_bool = false, a_byte = -128, a_i8 = -128, a_i16 = -32768,
    a_i32 = INT32_MIN, a_i64 = INT64_MIN, a_double = -5e-324, a_string = "min",
    a_binary = "\0" })
  add("base_minus_one", base, { a_byte = -1, a_i8 = -1, a_i16 = -1, a_i32 = -1, a_i64 = -1,
    a_double = -1.0 })
  add("bool_true_only", base, { a_bool = true })
  add("bool_false_only", base, { a_bool = false })
  add("double_nan", base, { a_double = NAN })
  add("double_pinf", base, { a_double = math.huge })
  add("double_ninf", base, { a_double = -math.huge })
  add("double_negzero", base, { a_double = NEG_ZERO })
  add("double_subnormal", base, { a_double = 1e-310 })
  add("double_pi", base, { a_double = math.pi })
  add("string_empty", base, { a_string = "", a_binary = "" })
  add("string_1mib", base, { a_string = MIB_STRING })
  add("binary_zero_bytes", base, { a_binary = "\0\1\0\xff\0" })
  local all_bytes = {}
  for b = 0, 255 do
    all_bytes[#all_bytes + 1] = string.char(b)
  end
  add("binary_all_bytes", base, { a_binary = table.concat(all_bytes) })
  add("string_utf8", base, { a_string = UTF8_TEXT })
  add("string_128", base, { a_string = string.rep("y", 128) })
  add("empty_struct", base, base {})

  add("point_optional_unset", P, P { x = 1, y = 2 })
  add("point_optional_set", P, P { x = 1, y = 2, label = "L" })
  add("requiredness_min", at.Requiredness, { req = 0 })
  add("requiredness_all", at.Requiredness, { req = -7, opt = 8, dflt = 9 })

  add("defaults_alltypes", at.Defaults, at.Defaults {})
  add("defaults_constructed", g.WithDefaults, g.WithDefaults {})
  add("defaults_absent", g.WithDefaults, {}, { expect = g.WithDefaults {} })
  add("defaults_overridden", g.WithDefaults, g.WithDefaults {
    n = -1, s = "", l = {}, opt = 5, opt_s = "p", c = C.RED, p = P { x = 0, y = 0 }, mp = {},
    d = -0.5, flag = true })

  local V = at.Value
  add("union_int", V, V { int_value = INT64_MIN })
  add("union_double", V, V { double_value = 2.5 })
  add("union_string", V, { string_value = "u" })
  add("union_list", V, V { list_value = { V { int_value = 1 }, V { list_value = {} },
    V { map_value = { k = V { string_value = "v" } } } } })
  add("union_map", V, V { map_value = { only = V { double_value = NEG_ZERO } } })
  add("union_empty", V, V {})

  add("enums", at.Everything, at.Everything { color = C.BLUE, implicit = at.Implicit.NEG_NEXT })
  add("enums_in_containers", at.Containers, { color_maps = { { [C.RED] = P { x = 1, y = 1 } }, {} },
    color_sets = { [C.GREEN] = { [C.BLUE] = true } } })

  local doubles = { 0.0, NEG_ZERO, 1.5, -2.25, 1e-310, 5e-324, 1.7976931348623157e308,
    math.huge, -math.huge }
  add("lists", g.Lists, {
    short14 = range(0, 13), long15 = range(-7, 7), bools = { true, false, true },
    doubles = doubles, bytes = { -128, -1, 0, 127 },
    strings = { "", "a", "\u{e9}", string.rep("x", 200) },
    one_set = { x = true }, one_map = { [-1] = 0.25 }, empties = { {}, {}, {} },
    empty_map = {}, empty_set = {}, points = { P { x = 1, y = 2 }, P { x = 3, y = 4, label = "" } },
    blobs = { "", "\0", "\0\0" }, bool_keys = { [true] = -1 },
    longs = { 0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, INT32_MAX, INT32_MIN,
      4294967296, 9007199254740993, 4611686018427387904, INT64_MAX, INT64_MIN } })
  local bools, eighths, strings = {}, {}, {}
  for i = 0, 39 do
    bools[#bools + 1] = i % 3 == 0
  end
  for i = 0, 19 do
    eighths[#eighths + 1] = i / 8
  end
  for i = 0, 15 do
    strings[#strings + 1] = "s" .. i
  end
  add("lists_long", g.Lists, { short14 = range(0, 999), bools = bools, doubles = eighths,
    strings = strings })
  add("empty_containers", g.Lists, { short14 = {}, long15 = {}, bools = {}, doubles = {},
    bytes = {}, strings = {}, one_set = {}, one_map = {}, empties = {}, empty_map = {},
    empty_set = {}, points = {}, blobs = {}, bool_keys = {}, longs = {} })
  add("empty_containers_alltypes", at.Containers, { bools = {}, shorts = {}, longs = {},
    deep = {}, points_by_id = {}, color_maps = {}, tags = {}, cube = {}, named_points = {},
    ints = {}, blobs = {}, color_sets = {} })

  add("nested", g.Nested, {
    lmli = { { a = { 1, 2, 3 } }, {}, { b = {} } },
    struct_in_list_in_map = { k = { P { x = 1, y = 2 }, P { x = -3, y = -4, label = "lbl" } } },
    values = { V { int_value = 1 }, V { string_value = "s" } },
    value_by_id = { [7] = V { list_value = { V { double_value = 2.5 },
      V { map_value = { m = V { int_value = -1 } } } } } },
    list_of_sets = { { only = true }, {} } })
  add("nested_unordered", g.Nested, {
    lmli = { { a = { 1 }, b = { 2, 3 }, c = {} }, { d = { -1 }, e = { INT32_MIN, INT32_MAX } } },
    struct_in_list_in_map = { p = { P { x = 1, y = 1 } }, q = {},
      r = { P { x = 2, y = 2, label = "r" } } },
    value_by_id = { [1] = V { int_value = 1 },
      [-1] = V { map_value = { x = V { int_value = 2 }, y = V { string_value = "z" } } } },
    list_of_sets = { { a = true, b = true, c = true }, { d = true } } }, { unordered = true })
  add("containers_one", at.Containers, {
    bools = { true }, shorts = { -32768, 32767 }, longs = { [INT64_MIN] = true },
    deep = { d = { { [1] = true }, {} } }, points_by_id = { [5] = { p = P { x = 5, y = 6 } } },
    color_maps = { { [C.BLUE] = P { x = 0, y = 0, label = "o" } } }, tags = { t = true },
    cube = { { { 1.0, 2.0 }, {} }, {} }, named_points = { n = P { x = 9, y = 9 } },
    ints = { 3, 2, 1 }, blobs = { "\0\xff" }, color_sets = { [C.RED] = {} } })
  add("containers_unordered", at.Containers, {
    longs = { [1] = true, [2] = true, [3] = true, [INT64_MIN] = true, [INT64_MAX] = true },
    deep = { a = { { [1] = true, [2] = true, [3] = true } }, b = {} },
    points_by_id = { [1] = { p = P { x = 1, y = 1 }, q = P { x = 2, y = 2 } }, [2] = {} },
    tags = { x = true, y = true, z = true, [""] = true },
    named_points = { n = P { x = 1, y = 1 }, m = P { x = 2, y = 2 } },
    color_sets = { [C.RED] = { [C.GREEN] = true, [C.BLUE] = true }, [C.BLUE] = { [C.RED] = true } },
  }, { unordered = true })

  add("sparse_all", g.Sparse, g.Sparse { hundred = true, first = false, twenty = -1.5,
    last = "z", second = INT64_MAX, seventeen = true })
  add("sparse_some", g.Sparse, { hundred = false, last = "" })
  add("tree", at.Tree, at.Tree { name = "root", children = {
    at.Tree { name = "a", children = { at.Tree { name = "b" } } },
    at.Tree { name = "c", children = {} } } })
  add("exception", at.Failure, at.Failure { message = "m", code = INT32_MIN })
  add("everything", at.Everything, at.Everything {
    base = { a_bool = true, a_byte = 1, a_i8 = 2, a_i16 = 3, a_i32 = 4, a_i64 = 5,
      a_double = 6.5, a_string = "seven", a_binary = "\8" },
    containers = { ints = { 1 }, tags = { tag = true } },
    value = V { string_value = "v" },
    tree = at.Tree { name = "t" },
    color = C.GREEN,
    implicit = at.Implicit.ZERO,
    defaults = at.Defaults {},
    point_lists = { pl = { P { x = 1, y = 2 } } },
    req = { req = 1, opt = 2 } })
  return out
end

local function messages(g)
  local fn = g.Golden.by_name
  local MT, AE = tc.MessageType, tc.ApplicationException
  local function m(name, fname, mtype, seqid, sd, value)
    return { name = name, fname = fname, mtype = mtype, seqid = seqid, sd = sd, value = value }
  end
  return {
    m("call_add", "add", MT.CALL, 1, fn.add.args, { a = 1, b = -2 }),
    m("reply_add", "add", MT.REPLY, INT32_MAX, fn.add.result, { success = 3 }),
    m("reply_add_failure", "add", MT.REPLY, -1, fn.add.result,
      { failure = g.alltypes.Failure { message = "boom", code = 7 } }),
    m("call_nothing", "nothing", MT.CALL, 0, fn.nothing.args, {}),
    m("reply_nothing", "nothing", MT.REPLY, INT32_MIN, fn.nothing.result, {}),
    m("oneway_fire", "fire", MT.ONEWAY, 12345, fn.fire.args, { what = "x" }),
    m("call_sparse", "sparse", MT.CALL, 300, fn.sparse.args,
      { s = g.Sparse { hundred = true, last = "l" }, n = INT64_MIN }),
    m("reply_defaults", "defaults", MT.REPLY, 2, fn.defaults.result,
      { success = g.WithDefaults {} }),
    m("exception_unknown_method", "nope", MT.EXCEPTION, 5, nil,
      { type = AE.UNKNOWN_METHOD, message = "Invalid method name: 'nope'" }),
    m("exception_no_message", "add", MT.EXCEPTION, -2, nil, { type = AE.INTERNAL_ERROR }),
  }
end

-- ---- the spec ----

describe("golden bytes against Apache Thrift's Python library", function()
  local why = missing_tools()
  if why then
    pending("skipped: " .. why)
    return
  end

  local g = tc.load(assert(tc.core.realpath(IDL)))
  local SAMPLES = samples(g)
  local MESSAGES = messages(g)
  local py, py_read         -- golden_py.py gen / decode output
  local mine = {}           -- [sample name][proto] = thriftcorn's bytes, or {err}
  local mine_msg = {}

  lazy_setup(function()
    py = run(string.format("%s %s gen %s", PYTHON, SCRIPT, IDL))
    local input = { samples = {}, messages = {} }
    local function add_input(list, into, item, bytes_of, sname)
      local entry = { name = item.name, struct = sname }
      into[item.name] = {}
      for _, proto in ipairs(PROTOS) do
        local bytes, err = bytes_of(proto)
        into[item.name][proto] = bytes or { err = err }
        if bytes then
          entry[proto] = util.hex(bytes)
        end
      end
      list[#list + 1] = entry
    end
    for _, s in ipairs(SAMPLES) do
      local sname = s.sd.fullname
      add_input(input.samples, mine, s, function(proto)
        return tc.encode(s.sd, s.value, proto)
      end, sname)
    end
    for _, m in ipairs(MESSAGES) do
      add_input(input.messages, mine_msg, m, function(proto)
        return tc.encode_message(m.fname, m.mtype, m.seqid, m.sd, m.value, proto)
      end)
    end
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(util.json_encode(input))
    f:close()
    local ok, res = pcall(run, string.format("%s %s decode %s < %s", PYTHON, SCRIPT, IDL, path))
    os.remove(path)
    assert(ok, res)
    py_read = res
  end)

  it("builds the same samples in Lua and in Python", function()
    local names = {}
    for _, s in ipairs(SAMPLES) do
      names[s.name] = true
      local p = py.samples[s.name]
      assert.is_not_nil(p, "Python has no sample " .. s.name)
      assert.equal(p.struct, s.sd.fullname, s.name)
      assert.equal(p.canon, util.canon(s.sd, s.value), s.name .. ": value")
      assert.equal(p.expect, util.canon(s.sd, s.expect), s.name .. ": expected value")
    end
    for _, m in ipairs(MESSAGES) do
      names["msg:" .. m.name] = true
      local p = py.messages[m.name]
      assert.is_not_nil(p, "Python has no message " .. m.name)
      assert.equal(p.canon, util.canon_message(m.fname, m.mtype, m.seqid, m.sd, m.value), m.name)
    end
    for name in pairs(py.samples) do
      assert.is_true(names[name], "Lua has no sample " .. name)
    end
    for name in pairs(py.messages) do
      assert.is_true(names["msg:" .. name], "Lua has no message " .. name)
    end
  end)

  for _, s in ipairs(SAMPLES) do
    for _, proto in ipairs(PROTOS) do
      local label = s.name .. " (" .. proto .. ")"

      it(label .. ": thriftcorn writes Apache's bytes", function()
        local want = util.unhex(py.samples[s.name][proto])
        local got = mine[s.name][proto]
        assert(type(got) == "string", "encode failed: " .. tostring(got.err))
        if s.unordered then
          -- element order differs; the length and the content do not
          assert.equal(#want, #got)
          assert.equal(util.canon(s.sd, s.expect), util.canon(s.sd, assert(tc.decode(s.sd, got,
            proto))))
        else
          assert(want == got, util.diff(want, got))
        end
      end)

      it(label .. ": thriftcorn reads Apache's bytes", function()
        local bytes = util.unhex(py.samples[s.name][proto])
        local value, next_pos = tc.core.decode(s.sd, bytes, proto)
        assert(value, next_pos)
        assert.equal(#bytes + 1, next_pos)
        assert.equal(util.canon(s.sd, s.expect), util.canon(s.sd, value))
        assert.equal(s.sd.mt, getmetatable(value))
      end)

      it(label .. ": Apache reads thriftcorn's bytes", function()
        assert.equal(py.samples[s.name].expect, py_read.samples[s.name][proto])
      end)
    end
  end

  for _, m in ipairs(MESSAGES) do
    for _, proto in ipairs(PROTOS) do
      local label = "message " .. m.name .. " (" .. proto .. ")"
      local want_canon = util.canon_message(m.fname, m.mtype, m.seqid, m.sd, m.value)

      it(label .. ": thriftcorn writes Apache's bytes", function()
        local want = util.unhex(py.messages[m.name][proto])
        local got = mine_msg[m.name][proto]
        assert(type(got) == "string", "encode_message failed: " .. tostring(got.err))
        assert(want == got, util.diff(want, got))
      end)

      it(label .. ": thriftcorn reads Apache's bytes", function()
        local bytes = util.unhex(py.messages[m.name][proto])
        local msg, err = tc.decode_message(g.Golden, bytes, proto)
        assert(msg, err)
        assert.equal(want_canon, util.canon_message(msg.name, msg.type, msg.seqid, m.sd, msg.value))
      end)

      it(label .. ": Apache reads thriftcorn's bytes", function()
        assert.equal(want_canon, py_read.messages[m.name][proto])
      end)
    end
  end
end)
