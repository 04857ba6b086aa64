-- SPDX-License-Identifier: Apache-2.0
-- The schema-driven codec through the Lua API (thriftcorn.encode/decode and
-- the message functions): round trips of every type in both protocols, the
-- value mapping of docs/idl.md, skipping, errors and their messages, limits,
-- and malformed input that must fail cleanly. Byte-exactness against Apache
-- Thrift is golden_spec.lua's job.
local tc = require("thriftcorn")
local util = require("codec_util")

local core = tc.core
local PROTOS = { "binary", "compact" }
local INT64_MIN, INT64_MAX = math.mininteger, math.maxinteger
local NAN = string.unpack(">d", "\x7f\xf8\0\0\0\0\0\0")
local NEG_ZERO = string.unpack(">d", "\x80\0\0\0\0\0\0\0")

local g = tc.load(assert(core.realpath("tests/fixtures/golden.thrift")))
local at = g.alltypes
local P, V, C = at.Point, at.Value, at.Color

-- encode, then decode; the decoder must use every byte.
local function round_trip(sd, value, proto)
  local bytes, err = tc.encode(sd, value, proto)
  assert(bytes, err)
  local back, next_pos = core.decode(sd, bytes, proto)
  assert(back, next_pos)
  assert.equal(#bytes + 1, next_pos)
  return back, bytes
end

local function assert_round_trip(sd, value, proto)
  local back = round_trip(sd, value, proto)
  assert.equal(util.canon(sd, value), util.canon(sd, back))
  return back
end

-- Assert a runtime failure: nil, a message matching 'pattern' (plain text), a code.
local function assert_fails(code, pattern, v, msg, got_code)
  assert.is_nil(v)
  assert.is_string(msg)
  assert(msg:find(pattern, 1, true), string.format("'%s' does not contain '%s'", msg, pattern))
  assert.equal(code, got_code)
end

-- Binary-protocol bytes of a Tree nested 'n' deep (built by hand).
local function tree_binary(n)
  local s = "\x0b\0\1" .. string.pack(">s4", "t")
  if n > 1 then
    s = s .. "\x0f\0\2\x0c" .. string.pack(">i4", 1) .. tree_binary(n - 1)
  end
  return s .. "\0"
end

-- The same in compact: field headers 0x18 (id +1, binary) and 0x19 (id +1,
-- list), list header 0x1c (1 element, struct).
local function tree_compact(n)
  local s = "\x18\1t"
  if n > 1 then
    s = s .. "\x19\x1c" .. tree_compact(n - 1)
  end
  return s .. "\0"
end

local function tree_value(n)
  local t = at.Tree { name = "t" }
  if n > 1 then
    t.children = { tree_value(n - 1) }
  end
  return t
end

local function value_chain(n)
  local v = V { int_value = n }
  for _ = 2, n do
    v = V { list_value = { v } }
  end
  return v
end

-- Every field set, with one-element maps and sets: its bytes are deterministic.
local function everything()
  return at.Everything {
    base = at.AllBase { a_bool = true, a_byte = -1, a_i8 = 2, a_i16 = -300, a_i32 = 70000,
      a_i64 = INT64_MIN, a_double = -0.125, a_string = "str\0ing", a_binary = "\0\xff" },
    containers = at.Containers { bools = { true, false }, shorts = { 1, -1 },
      longs = { [INT64_MAX] = true }, deep = { k = { { [1] = true }, {} } },
      points_by_id = { [3] = { p = P { x = 1, y = 2, label = "l" } } },
      color_maps = { { [C.GREEN] = P { x = 0, y = 0 } } }, tags = { t = true },
      cube = { { { 1.5 } } }, named_points = { n = P { x = 9, y = 8 } }, ints = { 1, 2, 3 },
      blobs = { "" }, color_sets = { [C.RED] = { [C.BLUE] = true } } },
    value = V { map_value = { m = V { list_value = { V { double_value = 1.0 } } } } },
    tree = tree_value(3),
    color = C.BLUE,
    implicit = at.Implicit.NEG,
    defaults = at.Defaults {},
    point_lists = { pl = { P { x = -1, y = -2 } } },
    req = at.Requiredness { req = 1, opt = 2, dflt = 3 },
  }
end

describe("codec round trips", function()
  for _, proto in ipairs(PROTOS) do
    describe(proto, function()
      it("keeps every base type, extremes included", function()
        local values = {
          { a_bool = true, a_byte = 127, a_i8 = -128, a_i16 = 32767, a_i32 = -2147483648,
            a_i64 = INT64_MAX, a_double = 1.7976931348623157e308, a_string = "",
            a_binary = "\0" },
          { a_bool = false, a_byte = -128, a_i8 = 127, a_i16 = -32768, a_i32 = 2147483647,
            a_i64 = INT64_MIN, a_double = 5e-324, a_string = "h\u{e9}\u{1d11e}",
            a_binary = string.rep("\0\1\255", 1000) },
          { a_double = NAN }, { a_double = math.huge }, { a_double = -math.huge },
          { a_double = NEG_ZERO }, { a_string = string.rep("z", 1 << 20) },
        }
        for _, v in ipairs(values) do
          assert_round_trip(at.AllBase, v, proto)
        end
      end)

      it("keeps containers of every kind, empty and nested", function()
        assert_round_trip(at.Containers, {
          bools = { true, false, true }, shorts = { -1, 0, 1 },
          longs = { [INT64_MIN] = true, [0] = true, [INT64_MAX] = true },
          deep = { a = { { [1] = true, [2] = true }, {} }, b = {} },
          points_by_id = { [1] = { p = P { x = 1, y = 2 } }, [-1] = {} },
          color_maps = { { [C.RED] = P { x = 3, y = 4, label = "" } }, {} },
          tags = { x = true, y = true }, cube = { { { 0.5, -0.5 }, {} }, {} },
          named_points = { q = P { x = 5, y = 6 } }, ints = {}, blobs = { "", "\0" },
          color_sets = { [C.GREEN] = { [C.RED] = true, [C.BLUE] = true }, [C.BLUE] = {} },
        }, proto)
        assert_round_trip(g.Nested, {
          lmli = { { a = { 1, 2 }, b = {} }, {} },
          struct_in_list_in_map = { k = { P { x = 1, y = 1 } }, e = {} },
          values = { V { string_value = "s" } }, value_by_id = { [0] = V { int_value = 0 } },
          list_of_sets = { { a = true }, {} },
        }, proto)
        assert_round_trip(g.Lists, {
          short14 = {}, long15 = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
          bools = { false }, doubles = { NAN, NEG_ZERO }, bytes = { -128, 127 },
          strings = { string.rep("s", 300) }, one_set = {}, one_map = { [INT64_MIN] = -1.5 },
          empties = { {}, { 1 } }, empty_map = {}, empty_set = {}, points = {}, blobs = {},
          bool_keys = { [true] = 1, [false] = -1 }, longs = { INT64_MIN, INT64_MAX },
        }, proto)
      end)

      it("keeps unions, exceptions, recursion and sparse field ids", function()
        for _, v in ipairs({ V {}, V { int_value = -1 }, V { double_value = NAN },
          V { string_value = "" }, V { list_value = { V { int_value = 1 }, V {} } },
          value_chain(20) }) do
          assert_round_trip(V, v, proto)
        end
        assert_round_trip(at.Failure, at.Failure { message = "m" }, proto)
        assert_round_trip(at.Tree, tree_value(10), proto)
        assert_round_trip(g.Sparse, { hundred = true, first = false, twenty = 0.0,
          last = "end", second = -1, seventeen = false }, proto)
        assert_round_trip(g.Sparse, {}, proto)
        assert_round_trip(at.Everything, everything(), proto)
      end)

      it("keeps long lists of structs, nested in structs of their own type", function()
        local trees = {}
        for i = 1, 20 do
          trees[i] = at.Tree { name = "t" .. i }
          if i % 3 == 0 then
            trees[i].children = { tree_value(2), at.Tree { name = "c" }, tree_value(3) }
          end
        end
        local back = assert_round_trip(at.Tree, at.Tree { name = "root", children = trees },
          proto)
        assert.equal("t20", back.children[20].name)
        assert.equal("t", back.children[18].children[3].children[1].name)
        local values = {}
        for i = 1, 20 do
          values[i] = i % 2 == 0 and V { int_value = i } or V { list_value = { V {}, V {} } }
        end
        assert_round_trip(V, V { list_value = values }, proto)
        -- elements whose metatable's __index gives a field the table lacks
        local points = {}
        for i = 1, 12 do
          points[i] = setmetatable({ x = i, y = -i }, { __index = { label = "l" .. i } })
        end
        back = round_trip(g.Nested, { struct_in_list_in_map = { k = points } }, proto)
        assert.equal("l12", back.struct_in_list_in_map.k[12].label)
        assert.equal(-12, back.struct_in_list_in_map.k[12].y)
      end)

      it("keeps uuids, written as 16 raw bytes", function()
        local u = tc.load(assert(core.realpath("tests/fixtures/idl/uuid.thrift")))
        local id = "00112233-4455-6677-8899-aabbccddeeff"
        local raw = util.unhex("00112233445566778899aabbccddeeff")
        for _, form in ipairs({ id, id:gsub("-", ""), id:upper(), raw }) do
          local back, bytes = round_trip(u.Tagged, { id = form, related = { form } }, proto)
          assert.equal(id, back.id)
          assert.same({ id }, back.related)
          assert.truthy(bytes:find(raw, 1, true))
        end
        -- 36 characters are the dashed form only: no digits after 32, no dash moved
        for _, bad in ipairs({ "not-a-uuid", id:gsub("-", "") .. "----", id:sub(1, 35) .. "g",
          id:sub(1, 7) .. "-" .. id:sub(8, 8) .. id:sub(10) }) do
          assert_fails(core.ETYPE, "Tagged.id: '" .. bad .. "' is not a uuid",
            tc.encode(u.Tagged, { id = bad }, proto))
        end
        assert_fails(core.ETYPE, "Tagged.id: expected a uuid string, got integer",
          tc.encode(u.Tagged, { id = 5 }, proto))
      end)
    end)
  end
end)

describe("codec value mapping", function()
  for _, proto in ipairs(PROTOS) do
    describe(proto, function()
      it("decodes a set as {element = true} and a map as a table", function()
        local back = round_trip(at.Containers, { tags = { a = true, b = true },
          longs = { [INT64_MIN] = true }, named_points = { k = P { x = 1, y = 2 } } }, proto)
        assert.same({ a = true, b = true }, back.tags)
        assert.same({ [INT64_MIN] = true }, back.longs)
        assert.same({ k = { x = 1, y = 2 } }, back.named_points)
      end)

      it("writes only set elements whose value is true", function()
        local back = round_trip(at.Containers, { tags = { a = true, b = false } }, proto)
        assert.same({ a = true }, back.tags)
      end)

      -- The encoder writes a set's or map's elements first and puts the
      -- header with their count in front of them afterwards.
      it("counts sets and maps of every size, nested in each other", function()
        local tags, kept, longs, by_id = {}, {}, {}, {}
        for i = 1, 300 do -- a count of two varint bytes in compact
          tags["t" .. i] = i % 3 ~= 0 -- a third left out
          kept["t" .. i] = i % 3 ~= 0 or nil
          longs[i * 1000003] = true
          by_id[i] = i % 2 == 0 and {} or { ["p" .. i] = P { x = i, y = -i } }
        end
        local v = { tags = tags, longs = longs, points_by_id = by_id,
          deep = { a = { { [1] = true, [2] = true }, {} }, b = {} }, color_sets = {} }
        local back, bytes = round_trip(at.Containers, v, proto)
        v.tags = kept
        assert.equal(util.canon(at.Containers, v), util.canon(at.Containers, back))
        -- the first field is 'longs' (id 3): its header, then its 300 elements
        local head = proto == "binary" and "\x0e\0\3\x0a" .. string.pack(">i4", 300)
          or "\x3a\xf6\xac\x02" -- field delta 3, set; 15 or more i64; 300 as a varint
        assert.equal(head, bytes:sub(1, #head))
      end)

      it("decodes enums as integers", function()
        local back = round_trip(at.Everything, { color = C.BLUE, implicit = at.Implicit.NEG },
          proto)
        assert.equal("integer", math.type(back.color))
        assert.equal(4, back.color)
        assert.equal(-5, back.implicit)
      end)

      it("decodes integers as integers and doubles as floats", function()
        local back = round_trip(at.AllBase, { a_i64 = INT64_MAX, a_double = 3, a_i32 = 2.0 },
          proto)
        assert.equal("integer", math.type(back.a_i64))
        assert.equal("float", math.type(back.a_double))
        assert.equal(3.0, back.a_double)
        assert.equal("integer", math.type(back.a_i32))
        assert.equal(2, back.a_i32)
      end)

      it("gives every decoded struct its struct's metatable", function()
        local back = round_trip(at.Everything, everything(), proto)
        assert.equal(at.Everything.mt, getmetatable(back))
        assert.equal(at.AllBase.mt, getmetatable(back.base))
        assert.equal(V.mt, getmetatable(back.value))
        assert.equal(V.mt, getmetatable(back.value.map_value.m.list_value[1]))
        assert.equal(at.Tree.mt, getmetatable(back.tree.children[1].children[1]))
        assert.equal(P.mt, getmetatable(back.containers.points_by_id[3].p))
        assert.equal(P.mt, getmetatable(back.point_lists.pl[1]))
        assert.equal(P.mt, getmetatable(back.defaults.p))
        assert.is_nil(getmetatable(back.containers.tags))
        assert.equal("Point(x=-1, y=-2)", tostring(back.point_lists.pl[1]))
      end)

      it("leaves an unset optional field nil", function()
        local back = round_trip(P, P { x = 1, y = 2 }, proto)
        assert.is_nil(rawget(back, "label"))
        back = round_trip(at.Requiredness, { req = 1 }, proto)
        assert.is_nil(rawget(back, "opt"))
        assert.is_nil(rawget(back, "dflt"))
      end)

      it("fills defaults for absent fields, as copies with struct metatables", function()
        local empty = assert(tc.encode(g.WithDefaults, {}, proto))
        assert.equal(1, #empty)
        local a = assert(tc.decode(g.WithDefaults, empty, proto))
        assert.equal(util.canon(g.WithDefaults, g.WithDefaults {}), util.canon(g.WithDefaults, a))
        assert.equal(42, a.n)
        assert.same({ 1, 2, 3 }, a.l)
        assert.is_nil(a.opt)
        assert.equal("o", a.opt_s) -- an optional field's default applies too, as in Apache
        assert.equal(P.mt, getmetatable(a.p))
        assert.equal(P.mt, getmetatable(a.mp.a))
        assert.equal(g.WithDefaults.mt, getmetatable(a))
        a.l[1] = 100
        a.p.x = 100
        a.mp.a.x = 100
        local b = assert(tc.decode(g.WithDefaults, empty, proto))
        assert.same({ 1, 2, 3 }, b.l)
        assert.equal(1, b.p.x)
        assert.equal(3, b.mp.a.x)
        -- a field on the wire wins over its default
        local c = assert(tc.decode(g.WithDefaults, assert(tc.encode(g.WithDefaults,
          { n = 7, l = {} }, proto)), proto))
        assert.equal(7, c.n)
        assert.same({}, c.l)
      end)

      it("decodes the IDL's defaults after a constructed value's set and map keys change",
        function()
          local path = os.tmpname() .. ".thrift"
          local f = assert(io.open(path, "w"))
          f:write('struct In { 1: i32 a }\n',
            'struct W { 1: set<In> si = [{"a": 1}], 2: map<In, i32> mi = {{"a": 2}: 5} }\n')
          f:close()
          local mod = tc.load(path)
          os.remove(path)
          local w = mod.W {}
          next(w.si).a, next(w.mi).a = 101, 102
          local back = round_trip(mod.W, {}, proto)
          assert.same({ a = 1 }, next(back.si))
          assert.same({ a = 2 }, next(back.mi))
          assert.same({ a = 1 }, next(mod.W {}.si))
        end)

      it("copies defaults built from constants, which the IDL bounds", function()
        -- C<i> = [C<i-1>, C<i-1>] doubles at every step; twelve steps load
        local lines, t = { "const list<i32> C0 = [1, 2]" }, "list<i32>"
        for i = 1, 12 do
          t = "list<" .. t .. ">"
          lines[#lines + 1] = string.format("const %s C%d = [C%d, C%d]", t, i, i - 1, i - 1)
        end
        lines[#lines + 1] = "struct D { 1: " .. t .. " big = C12 }"
        local path = os.tmpname() .. ".thrift"
        local f = assert(io.open(path, "w"))
        f:write(table.concat(lines, "\n"), "\n")
        f:close()
        local mod = tc.load(path)
        os.remove(path)
        local empty = assert(tc.encode(mod.D, {}, proto))
        local a = assert(tc.decode(mod.D, empty, proto))
        local b = assert(tc.decode(mod.D, empty, proto))
        local function leaves(v)
          if type(v) ~= "table" then
            return 1
          end
          return leaves(v[1]) + leaves(v[2])
        end
        assert.equal(2 ^ 13, leaves(a.big))
        assert.are_not.equal(a.big[1], b.big[1]) -- a copy per decode
        -- twenty steps are refused when loaded, so no decode can copy them
        t = "list<i32>"
        lines = { "const list<i32> C0 = [1, 2]" }
        for i = 1, 20 do
          t = "list<" .. t .. ">"
          lines[#lines + 1] = string.format("const %s C%d = [C%d, C%d]", t, i, i - 1, i - 1)
        end
        lines[#lines + 1] = "struct D { 1: " .. t .. " big = C20 }"
        path = os.tmpname() .. ".thrift" -- another file: load() keeps what it loaded
        f = assert(io.open(path, "w"))
        f:write(table.concat(lines, "\n"), "\n")
        f:close()
        local ok, err = pcall(tc.load, path)
        os.remove(path)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("over 16 MiB", 1, true), tostring(err))
      end)

      it("applies a union's default only when no field was read", function()
        local back = round_trip(g.DefaultedUnion, { text = "x" }, proto)
        assert.same({ text = "x" }, back)
        assert(tc.encode(g.DefaultedUnion, back, proto))
        back = round_trip(g.DefaultedUnion, {}, proto)
        assert.same({ num = 5 }, back)
      end)

      it("ignores keys that are not fields when encoding", function()
        assert.equal(assert(tc.encode(P, { x = 1, y = 2 }, proto)),
          assert(tc.encode(P, { x = 1, y = 2, z = 3, [1] = "x" }, proto)))
      end)
    end)
  end
end)

describe("codec skipping", function()
  for _, proto in ipairs(PROTOS) do
    describe(proto, function()
      it("skips unknown field ids of every type", function()
        local wide = { x = 1, y = 2, label = "L", extra = { { a = 1 }, {} },
          nested = P { x = 3, y = 4 }, d = 1.5, tags = { t = true }, flag = true,
          value = value_chain(5) }
        local bytes = assert(tc.encode(g.WidePoint, wide, proto))
        local back, next_pos = core.decode(P, bytes, proto)
        assert(back, next_pos)
        assert.equal(#bytes + 1, next_pos)
        assert.same({ x = 1, y = 2, label = "L" }, back)
        -- unknown fields before the known ones, and a bool just before the end
        wide.flag, wide.value, wide.label = false, nil, nil
        back = assert(tc.decode(P, assert(tc.encode(g.WidePoint, wide, proto)), proto))
        assert.same({ x = 1, y = 2 }, back)
      end)

      it("skips a field whose wire type differs from the IDL", function()
        local back = assert(tc.decode(g.WireA, assert(tc.encode(g.WireB,
          { f = "text", s = "kept" }, proto)), proto))
        assert.same({ s = "kept" }, back)
        back = assert(tc.decode(g.WireB, assert(tc.encode(g.WireA, { f = 5, s = "kept" }, proto)),
          proto))
        assert.same({ s = "kept" }, back)
        -- compact packs a bool into the field header
        back = assert(tc.decode(g.WireA, assert(tc.encode(g.WireC, { f = true, s = "kept" },
          proto)), proto))
        assert.same({ s = "kept" }, back)
        back = assert(tc.decode(g.WireC, assert(tc.encode(g.WireA, { f = 1, s = "kept" }, proto)),
          proto))
        assert.same({ s = "kept" }, back)
      end)

      it("rejects containers whose element types differ from the IDL", function()
        assert_fails(core.EPROTO, "golden.IntContainers.l: list of string where the IDL has i32",
          tc.decode(g.IntContainers, assert(tc.encode(g.StringContainers, { l = { "a" } },
            proto)), proto))
        assert_fails(core.EPROTO, "golden.IntContainers.s: set of string where the IDL has i32",
          tc.decode(g.IntContainers, assert(tc.encode(g.StringContainers, { s = { a = true } },
            proto)), proto))
        assert_fails(core.EPROTO,
          "golden.IntContainers.m: map<string,string> where the IDL has map<string,i32>",
          tc.decode(g.IntContainers, assert(tc.encode(g.StringContainers, { m = { a = "b" } },
            proto)), proto))
        -- empty ones carry no values to disagree with
        assert.same({ l = {}, m = {}, s = {} }, assert(tc.decode(g.IntContainers,
          assert(tc.encode(g.StringContainers, { l = {}, m = {}, s = {} }, proto)), proto)))
      end)
    end)
  end
end)

describe("codec errors", function()
  for _, proto in ipairs(PROTOS) do
    describe(proto, function()
      it("rejects a missing required field on decode", function()
        -- Requiredness.req has Point.x's id and type
        local only_x = assert(tc.encode(at.Requiredness, { req = 1 }, proto))
        assert_fails(core.EMISSING, "alltypes.Point.y: required field is missing",
          tc.decode(P, only_x, proto))
        assert_fails(core.EMISSING, "alltypes.Point.y: required field is missing",
          tc.decode(g.Nested, assert(tc.encode(g.Nested,
            { struct_in_list_in_map = { k = { { x = 1, y = 3 } } } }, proto)):gsub(
            proto == "binary" and "\x08\0\2\0\0\0\3" or "\x15\6", ""), proto))
      end)

      it("names the struct and field of a missing required field on encode", function()
        assert_fails(core.EMISSING, "alltypes.Point.y: required field is not set",
          tc.encode(P, { x = 1 }, proto))
        assert_fails(core.EMISSING, "alltypes.Point.x: required field is not set",
          tc.encode(at.Everything, { point_lists = { a = { P { y = 1 } } } }, proto))
      end)

      it("names the struct and field of a value of the wrong Lua type", function()
        local cases = {
          { P, { x = "1", y = 2 }, "alltypes.Point.x: expected an integer (i32), got string" },
          { P, { x = 1.5, y = 2 }, "alltypes.Point.x: expected an integer (i32), got 1.5" },
          { at.AllBase, { a_bool = 1 },
            "alltypes.AllBase.a_bool: expected a boolean, got integer" },
          { at.AllBase, { a_double = "1" },
            "alltypes.AllBase.a_double: expected a number (double), got string" },
          { at.AllBase, { a_string = 5 },
            "alltypes.AllBase.a_string: expected a string, got integer" },
          { at.AllBase, { a_i64 = 2 ^ 63 }, "alltypes.AllBase.a_i64: expected an integer (i64)" },
          { at.Everything, { base = 5 },
            "alltypes.Everything.base: expected a table (alltypes.AllBase), got integer" },
          { at.Everything, { base = { a_i16 = {} } },
            "alltypes.AllBase.a_i16: expected an integer (i16), got table" },
          { at.Containers, { ints = { 1, "x" } },
            "alltypes.Containers.ints: expected an integer (i32), got string" },
          { at.Containers, { ints = "1,2" },
            "alltypes.Containers.ints: expected a table (list), got string" },
          { at.Containers, { tags = { [1] = true } },
            "alltypes.Containers.tags: expected a string, got integer" },
          { at.Containers, { named_points = { k = 1 } },
            "alltypes.Containers.named_points: expected a table (alltypes.Point), got integer" },
          { at.Everything, { color = "RED" },
            "alltypes.Everything.color: expected an integer (enum), got string" },
        }
        for _, case in ipairs(cases) do
          assert_fails(core.ETYPE, case[3], tc.encode(case[1], case[2], proto))
        end
        assert_fails(core.ETYPE, "expected a table (alltypes.Point)", tc.encode(P, 5, proto))
      end)

      it("names the struct and field of an error late in a long list or struct", function()
        local function points(n, bad)
          local t = {}
          for i = 1, n do
            t[i] = P { x = i, y = i }
          end
          t[n] = bad
          return { struct_in_list_in_map = { k = t } }
        end
        assert_fails(core.EMISSING, "alltypes.Point.y: required field is not set",
          tc.encode(g.Nested, points(17, { x = 1 }), proto))
        assert_fails(core.ETYPE, "alltypes.Point.x: expected an integer (i32), got string",
          tc.encode(g.Nested, points(18, { x = "1", y = 2 }), proto))
        assert_fails(core.ETYPE, "alltypes.Containers.ints: expected an integer (i32), got string",
          tc.encode(at.Containers, { ints = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "x" } }, proto))
        assert_fails(core.ETYPE,
          "alltypes.AllBase.a_binary: expected a string (binary), got integer",
          tc.encode(at.AllBase, { a_bool = true, a_binary = 5 }, proto))
      end)

      it("rejects integers out of range", function()
        local cases = {
          { { a_byte = 300 },
            "alltypes.AllBase.a_byte: 300 is out of range for an integer (byte)" },
          { { a_i8 = -129 }, "alltypes.AllBase.a_i8: -129 is out of range for an integer (byte)" },
          { { a_i16 = 32768 },
            "alltypes.AllBase.a_i16: 32768 is out of range for an integer (i16)" },
          { { a_i32 = -2147483649 },
            "alltypes.AllBase.a_i32: -2147483649 is out of range for an integer (i32)" },
        }
        for _, case in ipairs(cases) do
          assert_fails(core.ETYPE, case[2], tc.encode(at.AllBase, case[1], proto))
        end
        assert_fails(core.ETYPE, "alltypes.Everything.color: 4294967296 is out of range",
          tc.encode(at.Everything, { color = 1 << 32 }, proto))
        -- not integers: the value as Lua has it, NaN whatever its sign bit
        assert_fails(core.ETYPE, "alltypes.AllBase.a_i32: expected an integer (i32), got 2.5 "
          .. "(not an integer)", tc.encode(at.AllBase, { a_i32 = 2.5 }, proto))
        for _, nan in ipairs({ 0 / 0, -(0 / 0) }) do
          assert_fails(core.ETYPE, "alltypes.AllBase.a_i64: expected an integer (i64), got nan",
            tc.encode(at.AllBase, { a_i64 = nan }, proto))
        end
        assert_fails(core.ETYPE, "alltypes.Containers.shorts: 65535 is out of range",
          tc.encode(at.Containers, { shorts = { 1, 65535 } }, proto))
      end)

      it("rejects a list given for a set, and a set or map given for a list", function()
        assert_fails(core.ETYPE, "alltypes.Containers.longs: a set's values must be true or "
          .. "false, got a number (a list given for a set?)",
          tc.encode(at.Containers, { longs = { 10, 20, 30 } }, proto))
        for _, t in ipairs({ { [5] = true }, { a = 1 } }) do
          assert_fails(core.ETYPE, "alltypes.Containers.shorts: expected a list (elements at "
            .. "1, 2, ...), got a table with other keys (a set or a map?)",
            tc.encode(at.Containers, { shorts = t }, proto))
        end
        -- a list with a hole, or with its elements from 0: the length Lua
        -- finds stops short of them, and they were left out without a word
        local holed = { 1, 2, 3 }
        holed[5] = 5
        local filtered = {}
        for i, v in ipairs({ 1, -1, 2 }) do
          if v > 0 then
            filtered[i] = v
          end
        end
        local from0 = {}
        for i = 0, 2 do
          from0[i] = i
        end
        for _, case in ipairs({
          { holed, 3, "5" }, { filtered, 1, "3" }, { from0, 2, "0" },
          { { 1, 2, [2.5] = 7 }, 2, "2.5" },
        }) do
          assert_fails(core.ETYPE, ("alltypes.Containers.shorts: a list of %d has its "
            .. "elements at 1 to %d, not at %s"):format(case[2], case[2], case[3]),
            tc.encode(at.Containers, { shorts = case[1] }, proto))
        end
        -- what stays allowed: false leaves an element out; an empty table is an empty list;
        -- keys that are not numbers are not looked at (table.pack's n)
        local packed = assert(tc.encode(at.Containers, { shorts = table.pack(4, 5) }, proto))
        assert.same({ 4, 5 }, assert(tc.decode(at.Containers, packed, proto)).shorts)
        local bytes = assert(tc.encode(at.Containers,
          { longs = { [1] = true, [2] = false }, shorts = {} }, proto))
        local back = assert(tc.decode(at.Containers, bytes, proto))
        assert.same({ [1] = true }, back.longs)
        assert.same({}, back.shorts)
      end)

      it("rejects a union with two fields set", function()
        assert_fails(core.ETYPE, "union alltypes.Value has more than one field set",
          tc.encode(V, { int_value = 1, string_value = "x" }, proto))
        assert_fails(core.ETYPE, "union alltypes.Value has more than one field set",
          tc.encode(at.Everything, { value = V { list_value = {
            { double_value = 1.0, map_value = {} } } } }, proto))
      end)

      it("reads a union sent with two fields as it came, as Apache's servers do", function()
        -- int_value = 7 and string_value = "x" in one struct, as a client may send them
        local bytes = proto == "binary"
          and "\x0a\0\1" .. string.pack(">i8", 7) .. "\x0b\0\3" .. string.pack(">s4", "x") .. "\0"
          or "\x16\x0e\x28\x01x\0"
        local v = assert(tc.decode(V, bytes, proto))
        assert.equal(7, v.int_value)
        assert.equal("x", v.string_value)
        -- and, so read, it is no value the encoder writes back
        assert_fails(core.ETYPE, "union alltypes.Value has more than one field set",
          tc.encode(V, v, proto))
      end)

      it("refuses a struct class given for a value of it", function()
        -- Tree's class holds 'name' = "Tree" of its own: not a value to write
        assert_fails(core.ETYPE, "expected a table (alltypes.Tree), got the class "
          .. "alltypes.Tree, not a value of it (make one with alltypes.Tree{...})",
          tc.encode(at.Tree, at.Tree, proto))
        assert_fails(core.ETYPE, "alltypes.Tree.children: expected a table (alltypes.Tree), "
          .. "got the class alltypes.Point, not a value of it",
          tc.encode(at.Tree, at.Tree{ name = "t", children = { at.Point } }, proto))
        -- values with the struct's metatable, another one or none are written
        local mt = setmetatable({ name = "m" }, { __index = function() end })
        local back = round_trip(at.Tree, at.Tree{ name = "t", children = { mt, { name = "p" } } },
          proto)
        assert.equal("m", back.children[1].name)
        assert.equal("p", back.children[2].name)
      end)

      it("limits nesting to 64 levels when decoding", function()
        -- a Tree n deep nests 2n - 1 structs and lists
        local build = proto == "binary" and tree_binary or tree_compact
        assert.equal(assert(tc.encode(at.Tree, tree_value(32), proto)), build(32))
        local ok = assert(tc.decode(at.Tree, build(32), proto))
        assert.equal("t", ok.children[1].children[1].name)
        assert_fails(core.ELIMIT, "nesting deeper than 64", tc.decode(at.Tree, build(33), proto))
        assert_fails(core.ELIMIT, "nesting deeper than 64", tc.decode(at.Tree, build(2000), proto))
      end)

      it("limits nesting to 64 levels when encoding", function()
        assert(tc.encode(at.Tree, tree_value(32), proto))
        assert_fails(core.ELIMIT, "nesting deeper than 64",
          tc.encode(at.Tree, tree_value(33), proto))
        local v = value_chain(1)
        for _ = 1, 1000 do
          v = { list_value = { v } }
        end
        assert_fails(core.ELIMIT, "nesting deeper than 64", tc.encode(V, v, proto))
      end)

      it("limits nesting of skipped fields", function()
        -- WidePoint.value is unknown to Point: skipped, and still bounded
        local ok = assert(tc.encode(g.WidePoint, { x = 1, y = 2, value = value_chain(20) }, proto))
        assert.same({ x = 1, y = 2 }, assert(tc.decode(P, ok, proto)))
        local deep = (proto == "binary" and "\x0c\0\9" or "\x9c")
          .. string.rep(proto == "binary" and "\x0c\0\1" or "\x1c", 100)
          .. string.rep("\0", 102)
        -- the error names the field being skipped and the limit it met
        assert.same({ nil, "alltypes.Point field 9 (not in the IDL): nesting deeper than 64",
          core.ELIMIT }, { tc.decode(P, deep, proto) })
        -- the same bytes under a field the IDL has with another type (x: i32)
        local header = proto == "binary" and 3 or 1
        local mistyped = (proto == "binary" and "\x0c\0\1" or "\x1c") .. deep:sub(header + 1)
        assert.same({ nil, "alltypes.Point.x, sent as struct: nesting deeper than 64",
          core.ELIMIT }, { tc.decode(P, mistyped, proto) })
        -- and where it ends early
        assert.same({ nil, "alltypes.Point field 9 (not in the IDL): message truncated",
          core.EPROTO }, { tc.decode(P, deep:sub(1, 40), proto) })
      end)

      it("bounds the Lua memory of a decode by the size of its input", function()
        -- each empty Defaulted is one byte (its stop) and gets its own copy
        -- of a 32-integer default: about 700 bytes of Lua memory per byte,
        -- 1,200 as the decoder charges it, over the 1024 a byte allowed
        local budget_mod = tc.load(assert(core.realpath("tests/fixtures/decode_budget.thrift")))
        local Shapes = budget_mod.Shapes
        local function empties(n)
          local items = {}
          for i = 1, n do
            items[i] = {} -- a plain table: no default filled in when encoding
          end
          return assert(tc.encode(Shapes, { defaulted = items }, proto))
        end
        local function over(n_input)
          return string.format("decoded values over %d bytes of Lua memory (1024 times the %d "
            .. "bytes of input, plus 1 MiB)", 1024 * n_input + 1048576, n_input)
        end
        -- 500 copies, charged about 600 KB, fit in 1024 times the bytes plus 1 MiB
        local back = assert(tc.decode(Shapes, empties(500), proto))
        assert.equal(500, #back.defaulted)
        assert.equal(31, back.defaulted[500].d[32])
        assert.are_not.equal(back.defaulted[1].d, back.defaulted[2].d)
        -- 16,384 copies, charged about 20 MB for about 16 KB, do not
        local bytes = empties(16384)
        assert.is_true(#bytes < 16500)
        assert_fails(core.ELIMIT, "decode_budget.Defaulted.d: " .. over(#bytes),
          tc.decode(Shapes, bytes, proto))
        -- the input is what is left from the position on: what comes before
        -- it counts for nothing, what comes after it counts
        local pad = string.rep("\0", 65536)
        assert_fails(core.ELIMIT, over(#bytes), core.decode(Shapes, pad .. bytes, proto, #pad + 1))
        local v, next_pos = core.decode(Shapes, bytes .. pad, proto)
        assert(v, next_pos)
        assert.equal(#bytes + 1, next_pos)
        assert.equal(16384, #v.defaulted)
        -- a count longer than the input is still the protocol's error, not the budget's
        local short = bytes:sub(1, 10000)
        local _, msg, code = tc.decode(Shapes, short, proto)
        assert.equal(core.EPROTO, code, msg)
        assert.truthy(msg:find("truncated", 1, true), msg)
      end)

      it("fails cleanly on input truncated at every byte", function()
        local bytes = assert(tc.encode(at.Everything, everything(), proto))
        assert.is_true(#bytes > 200)
        for i = 0, #bytes - 1 do
          local v, msg, code = tc.decode(at.Everything, bytes:sub(1, i), proto)
          assert.is_nil(v, "prefix of " .. i .. " bytes decoded")
          assert.equal(core.EPROTO, code, msg)
          assert.truthy(msg:find("truncated", 1, true), msg)
        end
        assert(tc.decode(at.Everything, bytes, proto))
      end)

      it("never raises on random bytes", function()
        math.randomseed(1234567)
        local structs = { at.Everything, V, at.Containers, g.Nested, g.Sparse, P }
        local seed = assert(tc.encode(at.Everything, everything(), proto))
        local n_ok = 0
        for i = 1, 3000 do
          local bytes
          if i % 2 == 0 then
            local t = {}
            for k = 1, math.random(0, 64) do
              t[k] = string.char(math.random(0, 255))
            end
            bytes = table.concat(t)
          else -- a valid message with a few bytes changed
            local t = { seed:byte(1, -1) }
            for _ = 1, math.random(1, 4) do
              t[math.random(#t)] = math.random(0, 255)
            end
            bytes = string.char(table.unpack(t))
          end
          local sd = structs[i % #structs + 1]
          local ok, v, msg, code = pcall(tc.decode, sd, bytes, proto)
          assert(ok, v)
          if v == nil then
            assert.is_string(msg)
            assert.equal("integer", math.type(code))
            assert.is_true(code < 0)
          else
            n_ok = n_ok + 1
            assert.equal(sd.mt, getmetatable(v))
          end
          ok, v = pcall(tc.decode_message, g.Golden, bytes, proto)
          assert(ok, v)
        end
        assert.is_true(n_ok > 0) -- some mutations still decode
      end)
    end)
  end

  it("raises on misuse of the API", function()
    assert.has_error(function() tc.encode(P, { x = 1, y = 2 }, "json") end)
    assert.has_error(function() tc.decode({}, "") end)
    assert.has_error(function() tc.decode(P, {}) end)
    assert.has_error(function() core.decode(P, "\0", "binary", 3) end)
  end)

  it("names argument #5 for a bad field of an exception table", function()
    local ok, err = pcall(core.encode_message, "m", 3, 1, false, { type = 1.5 })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("bad argument #5", 1, true), tostring(err))
    assert.truthy(tostring(err):find("'type' must be an integer", 1, true), tostring(err))
    ok, err = pcall(core.encode_message, "m", 3, 1, false, { type = 1, message = {} })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("bad argument #5", 1, true), tostring(err))
    assert.is_string(core.encode_message("m", 3, 1, false, { type = 2.0, message = 42 }))
  end)

  it("refuses a service, a function or a forged table where a struct belongs", function()
    local want = "expected a struct from thriftcorn.load()"
    local svc = g.Golden
    local fn = svc.all_functions[1]
    for _, notstruct in ipairs({ svc, fn, { _c = io.stdout }, { _c = 1 } }) do
      assert.has_error(function() tc.encode(notstruct, {}) end)
      local ok, err = pcall(tc.encode, notstruct, {})
      assert.is_false(ok)
      assert.truthy(tostring(err):find(want, 1, true), tostring(err))
      ok, err = pcall(tc.decode, notstruct, "\0")
      assert.is_false(ok)
      assert.truthy(tostring(err):find(want, 1, true), tostring(err))
    end
    -- and the other way round: signatures are of functions only
    local want_fn = "expected a function of a service from thriftcorn.load()"
    assert.truthy(select(2, pcall(core.signature, P)):find(want_fn, 1, true))
    assert.truthy(select(2, pcall(core.signature, svc)):find(want_fn, 1, true))
    assert.is_string((core.signature(fn)))
  end)
end)

describe("codec messages", function()
  local MT, AE = tc.MessageType, tc.ApplicationException
  local fn = g.Golden.by_name

  for _, proto in ipairs(PROTOS) do
    describe(proto, function()
      it("writes and reads a CALL with its args", function()
        local bytes = assert(tc.encode_message("add", MT.CALL, 7, fn.add.args, { a = 1, b = 2 },
          proto))
        if proto == "binary" then
          assert.equal("\x80\1\0\1" .. string.pack(">s4i4", "add", 7), bytes:sub(1, 15))
        else
          assert.equal("\x82\x21\7\3add", bytes:sub(1, 7))
        end
        local msg = assert(tc.decode_message(g.Golden, bytes, proto))
        assert.equal("add", msg.name)
        assert.equal(MT.CALL, msg.type)
        assert.equal(7, msg.seqid)
        assert.same({ a = 1, b = 2 }, msg.value)
        assert.equal(fn.add.args.mt, getmetatable(msg.value))
      end)

      it("writes and reads a ONEWAY call and a function of a base service", function()
        local bytes = assert(tc.encode_message("fire", MT.ONEWAY, -5, fn.fire.args,
          { what = "now" }, proto))
        local msg = assert(tc.decode_message(g.Golden, bytes, proto))
        assert.equal(MT.ONEWAY, msg.type)
        assert.equal(-5, msg.seqid)
        assert.same({ what = "now" }, msg.value)
      end)

      it("writes and reads a REPLY with a result or a declared exception", function()
        local bytes = assert(tc.encode_message("add", MT.REPLY, 2147483647, fn.add.result,
          { success = -3 }, proto))
        local msg = assert(tc.decode_message(g.Golden, bytes, proto))
        assert.equal(MT.REPLY, msg.type)
        assert.equal(2147483647, msg.seqid)
        assert.same({ success = -3 }, msg.value)
        bytes = assert(tc.encode_message("add", MT.REPLY, 3, fn.add.result,
          { failure = at.Failure { message = "no" } }, proto))
        msg = assert(tc.decode_message(g.Golden, bytes, proto))
        assert.is_nil(msg.value.success)
        assert.equal(at.Failure.mt, getmetatable(msg.value.failure))
        assert.same({ message = "no", code = 500 }, msg.value.failure)
        bytes = assert(tc.encode_message("nothing", MT.REPLY, 4, fn.nothing.result, {}, proto))
        msg = assert(tc.decode_message(g.Golden, bytes, proto))
        assert.same({}, msg.value)
      end)

      it("writes and reads an EXCEPTION as a TApplicationException", function()
        local bytes = assert(tc.encode_message("add", MT.EXCEPTION, 9, nil,
          { type = AE.INTERNAL_ERROR, message = "boom" }, proto))
        local msg = assert(tc.decode_message(g.Golden, bytes, proto))
        assert.equal(MT.EXCEPTION, msg.type)
        assert.equal(9, msg.seqid)
        assert.same({ type = AE.INTERNAL_ERROR, type_name = "INTERNAL_ERROR", message = "boom" },
          msg.value)
        -- an unknown method needs no function to decode the exception
        bytes = assert(tc.encode_message("nope", MT.EXCEPTION, 1, nil,
          { type = AE.UNKNOWN_METHOD }, proto))
        msg = assert(tc.decode_message(g.Golden, bytes, proto))
        assert.equal("nope", msg.name)
        assert.equal(AE.UNKNOWN_METHOD, msg.value.type)
        assert.is_nil(msg.value.message)
      end)

      it("finds the function of a multiplexed name", function()
        local bytes = assert(tc.encode_message("Golden:add", MT.CALL, 1, fn.add.args,
          { a = 1, b = 1 }, proto))
        local msg = assert(tc.decode_message(g.Golden, bytes, proto))
        assert.equal("Golden:add", msg.name)
        assert.same({ a = 1, b = 1 }, msg.value)
      end)

      it("fails on an unknown function, a bad body and truncation", function()
        local bytes = assert(tc.encode_message("nope", MT.CALL, 1, fn.add.args, { a = 1, b = 1 },
          proto))
        assert_fails(core.ENOTFOUND, "golden.Golden has no function 'nope'",
          tc.decode_message(g.Golden, bytes, proto))
        -- args are not required: a call without them decodes
        bytes = assert(tc.encode_message("add", MT.CALL, 1, fn.nothing.args, {}, proto))
        assert.same({}, assert(tc.decode_message(g.Golden, bytes, proto)).value)
        -- the body of another struct: its unknown fields are skipped, a known one checked
        bytes = assert(tc.encode_message("add", MT.CALL, 1, g.WidePoint, { x = 1, y = 2 }, proto))
        assert.same({ a = 1, b = 2 }, assert(tc.decode_message(g.Golden, bytes, proto)).value)
        bytes = assert(tc.encode_message("add", MT.CALL, 1, g.WireB, { f = "1" }, proto))
        assert.same({}, assert(tc.decode_message(g.Golden, bytes, proto)).value)
        bytes = assert(tc.encode_message("sparse", MT.CALL, 1, fn.sparse.args,
          { s = { last = "x" }, n = 1 }, proto))
        for i = 0, #bytes - 1 do
          local v, msg, code = tc.decode_message(g.Golden, bytes:sub(1, i), proto)
          assert.is_nil(v, "prefix of " .. i .. " bytes decoded")
          assert.is_string(msg)
          assert.equal(core.EPROTO, code, msg)
        end
      end)

      it("reports encode errors of the body", function()
        assert_fails(core.ETYPE, "add_args.b: expected an integer (i32), got string",
          tc.encode_message("add", MT.CALL, 1, fn.add.args, { a = 1, b = "2" }, proto))
        assert_fails(core.EMISSING, "alltypes.Point.y: required field is not set",
          tc.encode_message("echo", MT.CALL, 1, fn.echo.args,
            { e = { point_lists = { a = { { x = 1 } } } } }, proto))
      end)

      it("rejects a bad message type or seqid", function()
        assert.has_error(function()
          tc.encode_message("add", 9, 1, fn.add.args, { a = 1, b = 1 }, proto)
        end)
        assert.has_error(function()
          tc.encode_message("add", MT.CALL, 1 << 31, fn.add.args, { a = 1, b = 1 }, proto)
        end)
      end)
    end)
  end

  it("reads the old non-strict binary header", function()
    local body = assert(tc.encode(fn.add.args, { a = 4, b = 5 }))
    local msg = assert(tc.decode_message(g.Golden, string.pack(">s4Bi4", "add", MT.CALL, 77)
      .. body))
    assert.equal("add", msg.name)
    assert.equal(77, msg.seqid)
    assert.same({ a = 4, b = 5 }, msg.value)
  end)
end)

describe("schema compile", function()
  local function chain(n, prefix)
    prefix = prefix or "S"
    local path = os.tmpname() .. ".thrift"
    local f = assert(io.open(path, "w"))
    for i = 0, n - 1 do
      f:write(string.format("struct %s%d { 1: optional %s%d f }\n", prefix, i, prefix, i + 1))
    end
    f:write(string.format("struct %s%d { 1: i32 x }\n", prefix, n))
    f:close()
    return path
  end

  it("refuses types nested deeper than 1000, naming the file, before the C stack runs out",
    function()
      local path = chain(5000)
      local ok, err = pcall(tc.load, path)
      os.remove(path)
      assert.is_false(ok)
      assert.equal(path .. ": types nest more than 1000 deep (structs, lists, sets and maps "
        .. "within each other)", err)
      path = chain(900) -- never deeper than 900, whatever order the structs compile in
      local mod = tc.load(path)
      os.remove(path)
      assert.is_table(mod.S0)
    end)

  it("refuses a chain of structs too deep whatever order it compiles them in", function()
    -- The structs of a file compile in the order of a Lua table's keys,
    -- which the names change: each file is one more order. A chain 1100
    -- deep is too deep from whichever struct the compiler starts.
    for k = 1, 12 do
      local path = chain(1100, "T" .. k .. "x")
      local ok, err = pcall(tc.load, path)
      os.remove(path)
      assert.is_false(ok)
      assert.equal(path .. ": types nest more than 1000 deep (structs, lists, sets and maps "
        .. "within each other)", err)
    end
  end)
end)

describe("schema compile of tampered tables", function()
  it("reads the doc raw: metamethods on it neither run nor matter", function()
    local idl = require("thriftcorn.idl")
    local doc = assert(idl.load(assert(core.realpath("tests/fixtures/golden.thrift"))))
    local hostile = {
      __len = function() return -1 end,
      __index = function() error("a metamethod ran") end,
    }
    local n = 0
    for _, sd in pairs(doc.structs) do
      setmetatable(sd.fields, hostile)
      n = n + 1
    end
    for _, svc in pairs(doc.services) do
      setmetatable(svc.all_functions or {}, hostile)
    end
    assert.is_true(n > 0)
    assert.has_no.errors(function() core.compile(doc) end)
    for _, sd in pairs(doc.structs) do -- each compiled, with its real fields
      assert.equal("userdata", type(rawget(sd, "_c")))
      -- encodes, or names the required field an empty table lacks
      local bytes, msg = core.encode(sd, {}, "binary")
      assert.is_true(type(bytes) == "string" or msg:find("required field is not set", 1, true)
        ~= nil, msg)
    end
  end)
end)

describe("schema descriptors", function()
  local want = "expected a struct from thriftcorn.load()"

  it("are taken only from the table they were compiled into", function()
    local forged = { { _c = rawget(P, "_c") }, { _c = rawget(g.Golden, "_csvc") },
      setmetatable({}, { __index = P }) }
    for _, t in ipairs(forged) do
      local ok, err = pcall(tc.encode, t, { x = 1, y = 2 })
      assert.is_false(ok)
      assert.truthy(tostring(err):find(want, 1, true), tostring(err))
    end
    assert.is_string((tc.encode(P, { x = 1, y = 2 })))
  end)

  it("are all withdrawn when a compile fails, none left half-built", function()
    local idl = require("thriftcorn.idl")
    local path = os.tmpname() .. ".thrift"
    local f = assert(io.open(path, "w"))
    f:write("struct X { 1: optional W w }\nstruct W { 1: optional X x, 2: optional i32 y }\n")
    f:close()
    local doc = assert(idl.load(path))
    os.remove(path)
    doc.structs.W.fields[2].id = 1 -- a duplicate: W cannot be compiled, X holds W
    local ok, err = pcall(core.compile, doc)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("duplicate field id", 1, true), tostring(err))
    for _, sd in pairs(doc.structs) do
      assert.is_nil(rawget(sd, "_c"))
      local eok, eerr = pcall(core.encode, sd, {})
      assert.is_false(eok)
      assert.truthy(tostring(eerr):find(want, 1, true), tostring(eerr))
    end
  end)
end)

describe("signatures", function()
  it("write each struct once however many a function reaches, recursive ones too", function()
    local path = os.tmpname() .. ".thrift"
    local f = assert(io.open(path, "w"))
    f:write("struct Node { 1: i32 v, 2: optional Node next }\n")
    local args = {}
    for i = 0, 69 do
      f:write(string.format("struct A%d { 1: i32 x }\n", i))
      args[#args + 1] = string.format("%d: A%d a%d", i + 1, i, i)
    end
    f:write("service Deep { void f(" .. table.concat(args, ", ") .. ", 71: Node node, "
      .. "72: Node again) }\n")
    f:close()
    local mod = tc.load(path)
    os.remove(path)
    local text = core.signature(mod.Deep.all_functions[1])
    local _, full = text:gsub("Node{", "")
    assert.equal(1, full) -- in full once, then by name
    local _, a69 = text:gsub("A69{", "")
    assert.equal(1, a69)
  end)

  it("are cut, with a hash of the rest, when typedefs double them at every step", function()
    local function sig(last_arg)
      -- a new folder each time (load() keeps what it loaded), one file name (it names S)
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir '" .. dir .. "'"))
      local path = dir .. "/big.thrift"
      local f = assert(io.open(path, "w"))
      f:write("struct S { 1: i32 x }\ntypedef map<S, i32> T0\n")
      for i = 1, 40 do
        f:write(string.format("typedef map<T%d, T%d> T%d\n", i - 1, i - 1, i))
      end
      f:write("service Big { T40 f(1: T40 a, 2: " .. last_arg .. " b) }\n")
      f:close()
      local mod = tc.load(path)
      os.remove(path)
      os.remove(dir)
      return core.signature(mod.Big.all_functions[1])
    end
    local text, hash = sig("i32") -- 2^40 "S" in full
    assert.truthy(#text <= 65536 + 64, #text)
    local head = ("map<"):rep(41) .. "big.S{1:i32},i32>,"
    assert.equal(head, text:sub(1, #head))
    assert.truthy(text:find("%.%.%.%(cut; structure 0x%x+%)$"), text:sub(-80))
    local _, full = text:gsub("S{", "")
    assert.equal(1, full)
    -- a difference far past the cut still changes the hash
    local text2, hash2 = sig("i64")
    assert.equal(text:sub(1, 65536), text2:sub(1, 65536))
    assert.are_not.equal(hash, hash2)
    assert.equal(hash, select(2, sig("i32")))
  end)
end)
