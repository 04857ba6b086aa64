-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.schema: the module built from a loaded IDL doc.

local idl = require("thriftcorn.idl")
local schema = require("thriftcorn.schema")

local FIX = "tests/fixtures/idl/"

local function build(name)
  local doc, err = idl.load(FIX .. name)
  assert(doc, err)
  return schema.build(doc), doc
end

describe("schema.build", function()
  local mod, doc

  setup(function()
    mod, doc = build("tutorial.thrift")
  end)

  it("exposes the doc and its path", function()
    assert.are.equal(doc, mod.__doc)
    assert.are.equal(doc.path, mod.__path)
  end)

  it("builds a doc once", function()
    assert.are.equal(mod, schema.build(doc))
    assert.are.equal(mod.shared, schema.build(doc.includes.shared))
  end)

  it("makes struct classes of the structdefs", function()
    assert.are.equal(doc.structs.Work, mod.Work)
    assert.are.equal(doc.structs.InvalidOperation, mod.InvalidOperation)
    assert.are.equal("tutorial.Work", mod.Work.mt.__name)
    assert.is_function(mod.Work.mt.__tostring)
  end)

  it("constructs instances with defaults and init values", function()
    local w = mod.Work({ num2 = 5, op = mod.Operation.ADD })
    assert.are.same({ num1 = 0, num2 = 5, op = 1 }, w)
    assert.are.equal(mod.Work.mt, getmetatable(w))
    local w2 = mod.Work({ num1 = 7 })
    assert.are.equal(7, w2.num1)
    assert.are.same({ num1 = 0 }, mod.Work())
    assert.are.same({ num1 = 0 }, mod.Work({}))
  end)

  it("copies init into a new table", function()
    local init = { num1 = 3 }
    local w = mod.Work(init)
    assert.are_not.equal(init, w)
    assert.is_nil(getmetatable(init))
  end)

  it("rejects unknown fields and non-table init", function()
    local ok, err = pcall(mod.Work, { num1 = 1, nope = 2 })
    assert.is_false(ok)
    assert.is_truthy(err:find("tutorial.Work has no field 'nope'", 1, true))
    ok, err = pcall(mod.Work, 5)
    assert.is_false(ok)
    assert.is_truthy(err:find("tutorial.Work: expected a table of field values, got number", 1,
      true))
  end)

  it("dumps instances readably", function()
    assert.are.equal('Work(num1=1, op=2, comment="hi\\n")',
      tostring(mod.Work({ num1 = 1, op = 2, comment = "hi\n" })))
    assert.are.equal("SharedStruct(key=1)", tostring(mod.shared.SharedStruct({ key = 1 })))
  end)

  it("makes exceptions usable as error values", function()
    local ok, e = pcall(error, mod.InvalidOperation({ whatOp = 4, why = "divide by zero" }))
    assert.is_false(ok)
    assert.are.equal(mod.InvalidOperation.mt, getmetatable(e))
    assert.are.equal(4, e.whatOp)
    assert.are.equal('InvalidOperation(whatOp=4, why="divide by zero")', tostring(e))
  end)

  it("makes enum tables of names to values", function()
    assert.are.equal(1, mod.Operation.ADD)
    assert.are.equal(4, mod.Operation.DIVIDE)
    local copy = {}
    for k, v in pairs(mod.Operation) do
      copy[k] = v
    end
    assert.are.same({ ADD = 1, SUBTRACT = 2, MULTIPLY = 3, DIVIDE = 4 }, copy)
    assert.are.equal(doc.enums.Operation, schema.enumdef(mod.Operation))
    assert.are.equal("MULTIPLY", schema.enum_name(mod.Operation, 3))
    assert.are.equal("MULTIPLY", schema.enum_name(doc.enums.Operation, 3))
    assert.is_nil(schema.enum_name(mod.Operation, 9))
    assert.is_nil(schema.enumdef({}))
  end)

  it("raises on unknown enum names and writes", function()
    local ok, err = pcall(function() return mod.Operation.MODULO end)
    assert.is_false(ok)
    assert.is_truthy(err:find("tutorial.Operation has no value 'MODULO'", 1, true))
    ok, err = pcall(function() mod.Operation.MODULO = 5 end)
    assert.is_false(ok)
    assert.is_truthy(err:find("tutorial.Operation is read-only", 1, true))
  end)

  it("exposes constants as values", function()
    assert.are.equal(9853, mod.INT32CONSTANT)
    assert.are.same({ hello = "world", goodnight = "moon" }, mod.MAPCONSTANT)
  end)

  it("exposes services with constructible args and results", function()
    local calc = mod.Calculator
    assert.are.equal(doc.services.Calculator, calc)
    local add = calc.by_name.add
    local args = add.args({ num1 = 1, num2 = 2 })
    assert.are.equal(add.args.mt, getmetatable(args))
    assert.are.equal("add_args(num1=1, num2=2)", tostring(args))
    local res = add.result({ success = 3 })
    assert.are.equal("add_result(success=3)", tostring(res))
    local get = calc.by_name.getStruct
    assert.are.equal("getStruct_args(key=7)", tostring(get.args({ key = 7 })))
    assert.are.equal("SharedService.getStruct_args", get.args.mt.__name)
    local ok, err = pcall(calc.by_name.calculate.result, { nope = 1 })
    assert.is_false(ok)
    assert.is_truthy(err:find("Calculator.calculate_result has no field 'nope'", 1, true))
  end)

  it("exposes included modules by file stem", function()
    assert.are.equal(doc.includes.shared.structs.SharedStruct, mod.shared.SharedStruct)
    assert.are.equal(doc.includes.shared.services.SharedService, mod.shared.SharedService)
    assert.are.equal(doc.includes.shared, mod.shared.__doc)
  end)
end)

describe("schema.build of alltypes.thrift", function()
  local mod

  setup(function()
    mod = build("alltypes.thrift")
  end)

  it("deep-copies defaults into each instance", function()
    local a, b = mod.Defaults(), mod.Defaults()
    assert.are.same({ 1, 2 }, a.li)
    assert.are_not.equal(a.li, b.li)
    assert.are_not.equal(a.p, b.p)
    table.insert(a.li, 3)
    a.p.x = 0
    assert.are.same({ 1, 2 }, b.li)
    assert.are.same({ 1, 2 }, mod.__doc.structs.Defaults.fields[9].default)
    assert.are.equal(7, b.p.x)
    assert.are.same({ [3] = true }, a.si)
    assert.are.equal(3.0, a.d)
    assert.are.equal("float", math.type(a.d))
  end)

  it("deep-copies the keys of set and map defaults too", function()
    local path = os.tmpname() .. ".thrift"
    local f = assert(io.open(path, "w"))
    f:write('struct In { 1: i32 a }\n',
      'struct W { 1: set<In> si = [{"a": 1}], 2: map<In, i32> mi = {{"a": 2}: 5},\n',
      '  3: set<list<i32>> sl = [[3]] }\n')
    f:close()
    local doc, err = idl.load(path)
    os.remove(path)
    assert(doc, err)
    local m = schema.build(doc)
    local function keys(w)
      local si, mi, sl = next(w.si), next(w.mi), next(w.sl)
      return si, mi, sl
    end
    local si, mi, sl = keys(m.W())
    si.a, mi.a, sl[1] = 101, 102, 103
    local si2, mi2, sl2 = keys(m.W())
    assert.are.same({ { a = 1 }, { a = 2 }, { 3 } }, { si2, mi2, sl2 })
    assert.are.same({ a = 1 }, next(doc.structs.W.fields[1].default))
    assert.are.same({ a = 2 }, next(doc.structs.W.fields[2].default))
    assert.are.same({ 3 }, next(doc.structs.W.fields[3].default))
  end)

  it("gives a union its default only when init sets no field", function()
    local u = mod.Value({ string_value = "x" })
    assert.are.same({ string_value = "x" }, u)
    local syntax = build("syntax.thrift")
    assert.are.same({ number = 1 }, syntax.Choice())
    assert.are.same({ text = "t" }, syntax.Choice({ text = "t" }))
  end)

  it("dumps nested values", function()
    local e = mod.Everything({
      tree = mod.Tree({ name = "root", children = { mod.Tree({ name = "leaf" }) } }),
      point_lists = { a = { mod.Point({ x = 1, y = 2 }) } },
      color = mod.Color.BLUE,
    })
    assert.are.equal('Everything(tree=Tree(name="root", children={Tree(name="leaf")}), '
      .. "color=4, point_lists={a={Point(x=1, y=2)}})", tostring(e))
    assert.are.equal('Value(string_value="\\x00\\xff")',
      tostring(mod.Value({ string_value = "\0\255" })))
    assert.are.equal('Value(string_value="h\195\169")',
      tostring(mod.Value({ string_value = "h\195\169" })))
  end)

  it("stops dumping at cycles and depth", function()
    local t = mod.Tree({ name = "a" })
    t.children = { t }
    assert.are.equal('Tree(name="a", children={{...}})', tostring(t))
  end)

  it("exposes typedefs of structs and enums, and included modules", function()
    local syntax = build("syntax.thrift")
    assert.is_nil(syntax.Tiny)
    assert.are.equal(syntax.Node, syntax.NodeAlias)
    assert.are.equal(syntax.Mode, syntax.ModeAlias)
    assert.are.equal(syntax.Node, syntax.__doc.types.NodeAlias.struct)
    assert.are.same({ x = 0, y = 0 }, mod.Point({ x = 0, y = 0 }))
    local doc = assert(idl.load(FIX .. "inc_diamond.thrift"))
    local m = schema.build(doc)
    assert.are.equal(m.inc_base.Record, doc.includes.inc_base.structs.Record)
    assert.are.equal(m.inc_left.inc_base, m.inc_base)
  end)

  it("exposes constants of every kind", function()
    assert.are.same({ x = 1, y = 2 }, mod.C_POINT)
    assert.are.equal(math.mininteger, mod.C_I64)
    assert.are.same({ a = true, b = true }, mod.C_SET)
  end)
end)
