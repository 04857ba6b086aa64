-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.idl: the grammar, the resolved doc and every error message.

local idl = require("thriftcorn.idl")

local FIX = "tests/fixtures/idl/"

local function load(name, opts)
  local doc, err = idl.load(FIX .. name, opts)
  assert(doc, err)
  return doc
end

local function field(sd, name)
  for _, f in ipairs(sd.fields) do
    if f.name == name then
      return f
    end
  end
  error("no field " .. name .. " in " .. sd.fullname)
end

local function names(list)
  local out = {}
  for i, x in ipairs(list) do
    out[i] = x.name
  end
  return out
end

-- Error cases are written to t.thrift (stem "t") in a temporary folder.
local tmp_dir = os.tmpname()
os.remove(tmp_dir)
assert(os.execute("mkdir -p '" .. tmp_dir .. "'"))

local function tmp_file(text, name)
  local path = tmp_dir .. "/" .. (name or "t.thrift")
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function load_text(text, opts)
  local path = tmp_file(text)
  return idl.load(path, opts)
end

-- Loads 'text' expecting an error; returns it without the "path:" prefix.
local function load_error(text, opts)
  local path = tmp_file(text)
  local doc, err = idl.load(path, opts)
  assert.is_nil(doc)
  assert.is_string(err)
  assert.are.equal(path .. ":", err:sub(1, #path + 1))
  return err:sub(#path + 2)
end

local function parse_error(text)
  local ast, err = idl.parse(text, "t.thrift")
  assert.is_nil(ast)
  assert.is_string(err)
  return err
end

teardown(function()
  os.execute("rm -rf '" .. tmp_dir .. "'")
end)

describe("idl.parse", function()
  it("returns an AST with headers, definitions and positions", function()
    local ast = assert(idl.parse([[
include "shared.thrift"
cpp_include "<map>"
namespace py tut

struct Work {
  1: i32 num1 = 0,
  2: optional string comment
}
]], "work.thrift"))
    assert.are.equal("work.thrift", ast.filename)
    assert.are.equal("shared.thrift", ast.includes[1].path)
    assert.are.equal(1, ast.includes[1].line)
    assert.are.equal("<map>", ast.cpp_includes[1].path)
    assert.are.equal("py", ast.namespaces[1].scope)
    assert.are.equal("tut", ast.namespaces[1].name)
    local work = ast.definitions[1]
    assert.are.equal("struct", work.kind)
    assert.are.equal("Work", work.name)
    assert.are.same({ 5, 1 }, { work.line, work.col })
    local f1, f2 = work.fields[1], work.fields[2]
    assert.are.same({ 1, "num1", 6, 3 }, { f1.id, f1.name, f1.line, f1.col })
    assert.are.same({ kind = "base", ttype = "i32", line = 6, col = 6 }, f1.type)
    assert.are.same({ kind = "int", value = 0, line = 6, col = 17 }, f1.default)
    assert.are.equal("optional", f2.required)
    assert.is_nil(f1.required)
  end)

  it("skips #, // and /* */ comments and keeps /** */ doc comments", function()
    local ast = assert(idl.parse([[
# shell comment
// line comment
/* block
   comment */
/** Not this one. */
/**
 * A point.
 *   indented line
 */
// a plain comment between does not hide the doc
struct Point {
  /** The x. */ 1: i32 x # trailing
  /**/ 2: i32 y /* inline */
}
/**/ enum E { /** first */ A }
]]))
    local point = ast.definitions[1]
    assert.are.equal("A point.\n  indented line", point.doc)
    assert.are.equal("The x.", point.fields[1].doc)
    assert.is_nil(point.fields[2].doc)
    assert.is_nil(ast.definitions[2].doc)
    assert.are.equal("first", ast.definitions[2].values[1].doc)
  end)

  it("reads literals: hex, signs, doubles, both quotes and escapes", function()
    local ast = assert(idl.parse([[
const i64 A = 0x7FFFFFFFFFFFFFFF
const i64 B = -9223372036854775808
const i32 C = +5
const double D = -1.5e-3
const double E = .25
const string F = 'it"s'
const string G = "a\tb\n\"c\" \'d\' \\"
const bool H = true
const list<i32> I = [1; 2, 3]
const map<string, i32> J = {"a": 1; 'b': 2 "c": 3}
]]))
    local v = {}
    for _, def in ipairs(ast.definitions) do
      v[def.name] = def.value
    end
    assert.are.equal(math.maxinteger, v.A.value)
    assert.are.equal(math.mininteger, v.B.value)
    assert.are.equal(5, v.C.value)
    assert.are.equal("int", v.C.kind)
    assert.are.equal(-1.5e-3, v.D.value)
    assert.are.equal("double", v.D.kind)
    assert.are.equal(0.25, v.E.value)
    assert.are.equal('it"s', v.F.value)
    assert.are.equal("a\tb\n\"c\" 'd' \\", v.G.value)
    assert.are.equal(true, v.H.value)
    assert.are.equal(3, #v.I.items)
    assert.are.equal(3, #v.J.entries)
    assert.are.equal("c", v.J.entries[3].key.value)
  end)

  it("accepts a UTF-8 byte order mark", function()
    local ast = assert(idl.parse("\239\187\191struct S {}"))
    assert.are.equal("S", ast.definitions[1].name)
    assert.are.same({ 1, 1 }, { ast.definitions[1].line, ast.definitions[1].col })
    assert.are.equal("t.thrift:1:12: expected a field or '}', found '%'",
      parse_error("\239\187\191struct S { % }"))
    assert.are.equal("t.thrift:2:3: expected a definition, found '%'",
      parse_error("\239\187\191\n  %"))
  end)

  it("reports what was expected and what was found, at file:line:col", function()
    local text = ("\n"):rep(9) .. "struct Broken {\n        1:\n        }\n"
    assert.are.equal("pingpong.thrift:12:9: expected a field type, found '}'",
      select(2, idl.parse(text, "pingpong.thrift")))
    assert.are.equal("t.thrift:1:19: expected a field name, found '}'",
      parse_error("struct S { 1: i32 }"))
    assert.are.equal("t.thrift:1:10: expected '{', found end of file",
      parse_error("struct S "))
    assert.are.equal("t.thrift:1:8: expected a struct name, found 'list'",
      parse_error("struct list {}"))
    assert.are.equal("t.thrift:1:12: expected a field or '}', found '%'",
      parse_error("struct S { % }"))
    assert.are.equal("t.thrift:2:1: expected a definition, found 'strct'",
      parse_error("struct S {}\nstrct T {}"))
    assert.are.equal("t.thrift:1:22: expected ',', found '>'",
      parse_error("struct S { 1: map<i32> m }"))
    assert.are.equal("t.thrift:1:29: expected a parameter or ')', found '}'",
      parse_error("service S { void f(1: i32 a }"))
    assert.are.equal("t.thrift:1:13: expected a function or '}', found '1'",
      parse_error("service S { 1 }"))
    assert.are.equal("t.thrift:1:21: expected a function name, found '('",
      parse_error("service S { oneway f() }"))
    assert.are.equal("t.thrift:1:13: expected '=', found '5'", parse_error("const i32 X 5"))
    assert.are.equal("t.thrift:2:1: expected a value or ']', found 'struct'",
      parse_error("const list<i32> L = [1, 2\nstruct S {}"))
    assert.are.equal("t.thrift:1:16: expected an annotation or ')', found '5'",
      parse_error("struct S {} (a 5)"))
    assert.are.equal("t.thrift:1:10: expected an enum value or '}', found '1'",
      parse_error("enum E { 1 }"))
    assert.are.equal("t.thrift:1:9: expected a file name string, found 'shared'",
      parse_error("include shared"))
    assert.are.equal("t.thrift:1:2: expected a definition, found ';'", parse_error(" ;"))
    assert.are.equal("t.thrift:1:13: expected a definition, found ';'",
      parse_error("struct S {};;"))
  end)

  it("reports lexical errors at the offending token", function()
    assert.are.equal("t.thrift:2:3: unterminated comment", parse_error("struct S {}\n  /* open"))
    assert.are.equal("t.thrift:1:18: unterminated string literal",
      parse_error("const string S = \"abc\nstruct T {}"))
    assert.are.equal("t.thrift:1:21: bad escape sequence in string literal",
      parse_error("const string S = \"ab\\q\""))
    assert.are.equal("t.thrift:1:15: integer constant 9223372036854775808 does not fit in 64 bits",
      parse_error("const i64 X = 9223372036854775808"))
    assert.are.equal("t.thrift:1:15: integer constant 0x8000000000000000 does not fit in 64 bits",
      parse_error("const i64 X = 0x8000000000000000"))
  end)

  it("rejects obsolete keywords", function()
    assert.are.equal("t.thrift:1:1: 'senum' is obsolete and not supported",
      parse_error("senum S { \"a\" }"))
    assert.are.equal("t.thrift:1:15: 'slist' is obsolete and not supported",
      parse_error("struct S { 1: slist x }"))
  end)

  it("handles CRLF line ends and counts a tab as one column", function()
    local ast = assert(idl.parse("struct A {\r\n\t1: i32 x\r\n\t/** doc\r\n\t * two\r\n\t */"
      .. "\r\n\t2: string y = \"a\"\r\n}\r\n"))
    local y = ast.definitions[1].fields[2]
    assert.are.same({ "doc\ntwo", 6, 2 }, { y.doc, y.line, y.col })
  end)

  it("nests 50 levels deep and reports deeper nesting without a traceback", function()
    local deep = "typedef " .. ("list<"):rep(50) .. "i32" .. (">"):rep(50) .. " X"
    assert.is_table(idl.parse(deep))
    assert.are.equal("t.thrift:1:1: nested too deeply (backtrack stack overflow (current limit "
      .. "is 400))", parse_error("typedef " .. ("list<"):rep(200) .. "i32" .. (">"):rep(200)
      .. " X"))
    -- At the definition that holds it, after the separator and comments before it.
    assert.are.equal("t.thrift:3:12: nested too deeply (backtrack stack overflow (current limit "
      .. "is 400))", parse_error("struct A {}\n/* c */ ;\n  /** d */ const list<i32> L = "
      .. ("["):rep(200) .. ("]"):rep(200)))
  end)

  it("reports values nested past LPeg's capture limit as nesting, with a position", function()
    -- Shallower than the backtrack limit, deeper than LPeg's capture nesting.
    local too_deep = "t.thrift:2:1: nested too deeply (subcapture nesting too deep)"
    assert.are.equal(too_deep, parse_error("struct A {}\nconst list<i32> L = "
      .. ("["):rep(120) .. ("]"):rep(120)))
    assert.are.equal(too_deep, parse_error("struct A {}\nconst S C = "
      .. ('{"a": '):rep(80) .. "1" .. ("}"):rep(80)))
    assert.are.equal(too_deep, parse_error("struct A {}\nstruct S { 1: S a = "
      .. ('{"a": '):rep(80) .. "1" .. ("}"):rep(80) .. " }"))
  end)

  it("lets a memory error or a bug through, not as a nesting limit", function()
    local lpeg = require("lpeg")
    local match = lpeg.match
    lpeg.match = function() error("not enough memory", 0) end
    local ast, err = idl.parse("struct A {}", "t.thrift")
    lpeg.match = match
    assert.is_nil(ast)
    assert.are.equal("thriftcorn.idl: not enough memory", err)
    -- Nor does an error of the parser itself.
    lpeg.match = function() error("attempt to index a nil value", 0) end
    ast, err = idl.parse("struct A {}", "t.thrift")
    lpeg.match = match
    assert.is_nil(ast)
    assert.are.equal("thriftcorn.idl: attempt to index a nil value", err)
  end)

  it("returns nil and a message for a non-string text", function()
    local ast, err = idl.parse(nil)
    assert.is_nil(ast)
    assert.are.equal("thriftcorn.idl.parse: text must be a string", err)
  end)

  it("parses a 2000-line IDL well under a second", function()
    local lines = {}
    for i = 1, 150 do
      lines[#lines + 1] = "/** Struct number " .. i .. ". */"
      lines[#lines + 1] = "struct S" .. i .. " {"
      for j = 1, 10 do
        lines[#lines + 1] = string.format(
          "  %d: optional map<string, list<i32>> f%d = {\"a\": [1, 2]} (tag = \"x\"),", j, j)
      end
      lines[#lines + 1] = "}"
    end
    lines[#lines + 1] = "service Big {"
    for i = 1, 50 do
      lines[#lines + 1] = string.format("  S%d call%d(1: S%d a, 2: i64 b) throws (1: E e),",
        i, i, i)
    end
    lines[#lines + 1] = "}"
    lines[#lines + 1] = "exception E { 1: string why }"
    local text = table.concat(lines, "\n")
    assert.is_true(#lines >= 2000)
    local t0 = os.clock()
    local ast = assert(idl.parse(text, "big.thrift"))
    local parse_time = os.clock() - t0
    assert.are.equal(152, #ast.definitions)
    assert.is_true(parse_time < 0.5, "parse took " .. parse_time .. " s")
    local path = tmp_file(text)
    t0 = os.clock()
    local doc = assert(idl.load(path))
    local load_time = os.clock() - t0
    assert.are.equal(50, #doc.services.Big.functions)
    assert.is_true(load_time < 1, "load took " .. load_time .. " s")
  end)

  it("reads more than 32767 integers in one file", function()
    -- LPeg refuses more than 32767 values kept from match-time captures.
    local items = {}
    for i = 1, 40000 do
      items[i] = tostring(i)
    end
    local text = "const list<i32> L = [" .. table.concat(items, ",") .. "]\n"
    local ast = assert(idl.parse(text, "t.thrift"))
    local values = ast.definitions[1].value.items
    assert.are.same({ 40000, 1, 40000 }, { #values, values[1].value, values[40000].value })
    assert.are.equal("t.thrift:2:15: integer constant 99999999999999999999 does not fit in 64 "
      .. "bits", parse_error(text .. "const i64 X = 99999999999999999999 }"))
  end)
end)

describe("idl.load of Apache's tutorial", function()
  local doc

  setup(function()
    doc = load("tutorial.thrift")
  end)

  it("names the file and keeps its headers", function()
    assert.are.equal("tutorial", doc.name)
    assert.are.equal("/", doc.path:sub(1, 1))
    assert.is_truthy(doc.path:find("/tests/fixtures/idl/tutorial.thrift", 1, true))
    assert.are.equal("tutorial", doc.namespaces.java)
    assert.are.equal("tutorial", doc.namespaces.netstd)
    assert.are.same({}, doc.cpp_includes)
  end)

  it("loads shared.thrift as an include", function()
    local shared = doc.includes.shared
    assert.are.equal("shared", shared.name)
    assert.are.equal("share", shared.namespaces.d)
    assert.are.same({ "key", "value" }, names(shared.structs.SharedStruct.fields))
    assert.are.equal("shared.SharedStruct", shared.structs.SharedStruct.fullname)
  end)

  it("lists Calculator's functions, inherited first", function()
    local calc = doc.services.Calculator
    assert.are.equal(doc.includes.shared.services.SharedService, calc.extends)
    assert.are.same({ "getStruct", "ping", "add", "calculate", "zip" }, names(calc.all_functions))
    assert.are.same({ "ping", "add", "calculate", "zip" }, names(calc.functions))
    assert.are.equal(calc.all_functions[1], calc.by_name.getStruct)
    assert.are.equal(calc.extends, calc.by_name.getStruct.service)
    assert.are.equal(calc, calc.by_name.zip.service)
    assert.are.equal("tutorial.Calculator", calc.fullname)
  end)

  it("resolves functions, throws and oneway", function()
    local calc = doc.services.Calculator
    local calculate = calc.by_name.calculate
    assert.are.equal(doc.structs.InvalidOperation, calculate.throws[1].type.struct)
    assert.are.equal("ouch", calculate.throws[1].name)
    assert.are.equal("i32", calculate.returns.ttype)
    assert.are.same({ "logid", "w" }, names(calculate.args.fields))
    assert.are.equal(doc.structs.Work, calculate.args.fields[2].type.struct)
    assert.are.equal("calculate_args", calculate.args.name)
    assert.are.equal("Calculator.calculate_args", calculate.args.fullname)
    assert.are.equal("struct", calculate.args.kind)
    local result = calculate.result
    assert.are.equal("calculate_result", result.name)
    assert.are.same({ "success", "ouch" }, names(result.fields))
    assert.are.same({ 0, "optional" }, { result.fields[1].id, result.fields[1].required })
    assert.are.same({ 1, "optional" }, { result.fields[2].id, result.fields[2].required })
    assert.is_true(calc.by_name.zip.oneway)
    assert.is_nil(calc.by_name.zip.returns)
    assert.is_false(calc.by_name.ping.oneway)
    assert.is_nil(calc.by_name.ping.returns)
    assert.are.same({}, calc.by_name.ping.result.fields)
    local get = calc.by_name.getStruct
    assert.are.equal(doc.includes.shared.structs.SharedStruct, get.returns.struct)
  end)

  it("resolves constants, enums, typedefs and defaults", function()
    assert.are.equal(9853, doc.consts.INT32CONSTANT)
    assert.are.equal("integer", math.type(doc.consts.INT32CONSTANT))
    assert.are.same({ hello = "world", goodnight = "moon" }, doc.consts.MAPCONSTANT)
    assert.are.equal("map", doc.const_types.MAPCONSTANT.ttype)
    local op = doc.enums.Operation
    assert.are.equal(1, op.by_name.ADD)
    assert.are.equal("DIVIDE", op.by_value[4])
    assert.are.equal("tutorial.Operation", op.fullname)
    assert.are.same({ name = "ADD", value = 1 }, op.values[1])
    assert.are.same({ ttype = "i32" }, doc.types.MyInteger)
    local work = doc.structs.Work
    assert.are.same({ "num1", "num2", "op", "comment" }, names(work.fields))
    assert.are.equal(0, field(work, "num1").default)
    assert.are.equal("integer", math.type(field(work, "num1").default))
    assert.is_nil(field(work, "num2").default)
    assert.are.equal(op, field(work, "op").type.enum)
    assert.are.equal("enum", field(work, "op").type.ttype)
    assert.are.equal("optional", field(work, "comment").required)
    assert.are.equal("default", field(work, "num1").required)
    assert.are.equal("exception", doc.structs.InvalidOperation.kind)
  end)

  it("keeps doc comments on the items they precede", function()
    assert.are.equal("Structs can also be exceptions, if they are nasty.",
      doc.structs.InvalidOperation.doc)
    local calc = doc.services.Calculator
    assert.is_truthy(calc.doc:find("^Ahh, now onto the cool part"))
    assert.is_truthy(calc.by_name.ping.doc:find("^A method definition looks like C code"))
    assert.is_truthy(calc.by_name.zip.doc:find("^This method has a oneway modifier"))
    assert.is_nil(calc.by_name.add.doc)
  end)

  it("records the declaration order", function()
    assert.are.same({
      { kind = "typedef", name = "MyInteger" },
      { kind = "const", name = "INT32CONSTANT" },
      { kind = "const", name = "MAPCONSTANT" },
      { kind = "enum", name = "Operation" },
      { kind = "struct", name = "Work" },
      { kind = "struct", name = "InvalidOperation" },
      { kind = "service", name = "Calculator" },
    }, doc.order)
  end)
end)

describe("idl.load of the pingpong example", function()
  it("has PingService.ping returning string and throwing AboutToShutDownException", function()
    local doc, err = idl.load("examples/pingpong/pingpong.thrift")
    assert(doc, err)
    local ping = doc.services.PingService.by_name.ping
    assert.are.equal("string", ping.returns.ttype)
    assert.are.equal(1, #ping.throws)
    assert.are.equal(doc.structs.AboutToShutDownException, ping.throws[1].type.struct)
    assert.are.equal("exception", ping.throws[1].type.struct.kind)
    assert.are.same({}, doc.structs.AboutToShutDownException.fields)
    assert.are.same({ "success", "e" }, names(ping.result.fields))
    assert.are.same({}, ping.args.fields)
  end)
end)

describe("idl.load of alltypes.thrift", function()
  local doc

  setup(function()
    doc = load("alltypes.thrift")
  end)

  it("maps every base type, i8 and byte to byte", function()
    local base = doc.structs.AllBase
    local got = {}
    for _, f in ipairs(base.fields) do
      got[#got + 1] = f.type.ttype
    end
    assert.are.same({ "bool", "byte", "byte", "i16", "i32", "i64", "double", "string", "binary" },
      got)
    assert.are.equal(field(base, "a_byte").type, field(base, "a_i8").type)
  end)

  it("nests containers to any depth", function()
    local c = doc.structs.Containers
    local deep = field(c, "deep").type
    assert.are.equal("map", deep.ttype)
    assert.are.equal("string", deep.key.ttype)
    assert.are.equal("list", deep.value.ttype)
    assert.are.equal("set", deep.value.elem.ttype)
    assert.are.equal("i32", deep.value.elem.elem.ttype)
    local cube = field(c, "cube").type
    assert.are.equal("double", cube.elem.elem.elem.ttype)
    local by_id = field(c, "points_by_id").type
    assert.are.equal(doc.structs.Point, by_id.value.value.struct)
    local color_maps = field(c, "color_maps").type
    assert.are.equal(doc.enums.Color, color_maps.elem.key.enum)
    local point_lists = field(doc.structs.Everything, "point_lists").type
    assert.are.equal(doc.structs.Point, point_lists.value.elem.struct)
  end)

  it("resolves typedefs away, forward references included", function()
    local c = doc.structs.Containers
    assert.are.equal(doc.types.PointMap, field(c, "named_points").type)
    assert.are.equal("map", doc.types.PointMap.ttype)
    assert.are.equal(doc.structs.Point, doc.types.PointMap.value.struct)
    assert.are.equal(doc.types.IntList, field(c, "ints").type)
    assert.are.same({ ttype = "list", elem = { ttype = "i32" } }, doc.types.IntList)
    assert.are.same({ ttype = "i32" }, doc.types.Int)
  end)

  it("shares one structdef between references, recursive ones included", function()
    local tree = doc.structs.Tree
    assert.are.equal(tree, field(tree, "children").type.elem.struct)
    assert.are.equal(field(doc.structs.Everything, "tree").type.struct, tree)
    local value = doc.structs.Value
    assert.are.equal(value, field(value, "list_value").type.elem.struct)
    assert.are.equal(value, field(value, "map_value").type.value.struct)
    local echo = doc.services.AllTypes.by_name.echo
    assert.are.equal(doc.structs.Everything, echo.returns.struct)
    assert.are.equal(doc.structs.Everything, echo.args.fields[1].type.struct)
  end)

  it("makes union members optional", function()
    local value = doc.structs.Value
    assert.are.equal("union", value.kind)
    for _, f in ipairs(value.fields) do
      assert.are.equal("optional", f.required)
    end
  end)

  it("keeps requiredness", function()
    local r = doc.structs.Requiredness
    assert.are.same({ "required", "optional", "default" },
      { r.fields[1].required, r.fields[2].required, r.fields[3].required })
  end)

  it("converts defaults to Lua values of the field type", function()
    local d = doc.structs.Defaults
    local function default(name)
      return field(d, name).default
    end
    assert.are.equal(true, default("b"))
    assert.are.equal(-1, default("y"))
    assert.are.equal(300, default("s"))
    assert.are.equal(16, default("i"))
    assert.are.equal(5000000000, default("l"))
    assert.are.equal("integer", math.type(default("l")))
    assert.are.equal(3.0, default("d"))
    assert.are.equal("float", math.type(default("d")))
    assert.are.equal("hello", default("str"))
    assert.are.equal("a\nb", default("bin"))
    assert.are.same({ 1, 2 }, default("li"))
    assert.are.same({ [3] = true }, default("si"))
    assert.are.same({ k = "v" }, default("m"))
    assert.are.equal(4, default("color"))
    assert.are.same({ x = 7, y = 8 }, default("p"))
    assert.are.equal(9, default("opt_default"))
    assert.are.equal("optional", field(d, "opt_default").required)
    assert.are.equal(10, default("req_default"))
    assert.are.equal(500, field(doc.structs.Failure, "code").default)
  end)

  it("numbers enum values implicitly from the previous one", function()
    local e = doc.enums.Implicit
    assert.are.same({ ZERO = 0, ONE = 1, TEN = 10, ELEVEN = 11, NEG = -5, NEG_NEXT = -4 },
      e.by_name)
    assert.are.same({ "ZERO", "ONE", "TEN", "ELEVEN", "NEG", "NEG_NEXT" }, names(e.values))
    assert.are.equal("Implicit values: previous + 1, starting at 0.", e.doc)
    assert.are.same({ MIN = -2147483648, MAX = 2147483647 }, doc.enums.Limits.by_name)
    assert.are.same({ [1] = "RED", [2] = "GREEN", [4] = "BLUE" }, doc.enums.Color.by_value)
  end)

  it("resolves constants of every kind", function()
    local c = doc.consts
    assert.are.equal(true, c.C_BOOL)
    assert.are.equal(-128, c.C_BYTE)
    assert.are.equal(127, c.C_I8)
    assert.are.equal("byte", doc.const_types.C_I8.ttype)
    assert.are.equal(-32768, c.C_I16)
    assert.are.equal(2147483647, c.C_I32)
    assert.are.equal(math.mininteger, c.C_I64)
    assert.are.equal(1500.0, c.C_DOUBLE)
    assert.are.equal(2.0, c.C_DOUBLE_INT)
    assert.are.equal("float", math.type(c.C_DOUBLE_INT))
    assert.are.equal("tab\tquote\"apostrophe'", c.C_STRING)
    assert.are.equal('single "quoted"', c.C_SINGLE)
    assert.are.equal("bytes", c.C_BINARY)
    assert.are.same({ 1, 2, 3 }, c.C_LIST)
    assert.are.same({ a = true, b = true }, c.C_SET)
    assert.are.same({ one = 1, two = 2 }, c.C_MAP)
    assert.are.same({ [1] = { "x", "y" }, [2] = {} }, c.C_NESTED)
    assert.are.equal(2, c.C_COLOR)
    assert.are.equal(doc.enums.Color, doc.const_types.C_COLOR.enum)
    assert.are.equal(4, c.C_COLOR_INT)
    assert.are.equal(2147483647, c.C_REF)
    assert.are.same({ x = 1, y = 2 }, c.C_POINT)
    assert.are.same({ { x = 1, y = 2 }, { x = 3, y = 4, label = "p" } }, c.C_POINTS)
    assert.are.same({ origin = { { x = 0, y = 0 } } }, c.C_POINT_LISTS)
  end)

  it("builds the service", function()
    local svc = doc.services.AllTypes
    assert.are.same({ "echo", "nothing", "fire", "add", "evaluate" }, names(svc.all_functions))
    assert.is_nil(svc.extends)
    assert.is_true(svc.by_name.fire.oneway)
    assert.are.equal(doc.structs.Failure, svc.by_name.add.throws[1].type.struct)
    local env = svc.by_name.evaluate.args.fields[2]
    assert.are.same({ 2, "env", "default" }, { env.id, env.name, env.required })
    assert.are.equal(doc.structs.Value, env.type.value.struct)
  end)
end)

describe("idl.load of syntax corners", function()
  local doc, warnings

  setup(function()
    warnings = {}
    doc = load("syntax.thrift", { warn = function(msg) warnings[#warnings + 1] = msg end })
  end)

  it("keeps namespaces of every scope and cpp_includes", function()
    assert.are.same({ py = "syntax.test", ["py.twisted"] = "syntax.twisted", ["*"] = "syntax" },
      doc.namespaces)
    assert.are.same({ "<unordered_map>", "<vector>" }, doc.cpp_includes)
  end)

  it("resolves typedef chains and tolerates cpp_type", function()
    assert.are.same({ ttype = "byte" }, doc.types.Tiny)
    assert.are.equal(doc.types.Tiny, doc.types.AlsoTiny)
    assert.are.same({ ttype = "map", key = { ttype = "i32" }, value = { ttype = "i32" } },
      doc.types.FastMap)
    assert.are.same({ ttype = "list", elem = { ttype = "string" } }, doc.types.Strings)
    -- Apache 0.18+ also takes it before the '<' of a list.
    local ast = assert(idl.parse('struct S { 1: list cpp_type "x" <i32> l }'))
    assert.are.equal("i32", ast.definitions[1].fields[1].type.elem.ttype)
  end)

  it("keeps annotations on types, fields, functions, services, enums and structs", function()
    assert.are.same({ ["python.type"] = "Str" }, doc.types.AnnotatedString.annotations)
    local node = doc.structs.Node
    assert.are.same({ final = "yes", empty = "1" }, node.annotations)
    assert.are.same({ ["cpp.ref"] = "true", flag = "1" }, field(node, "value").annotations)
    assert.are.same({ ["enum.tag"] = "m" }, doc.enums.Mode.annotations)
    assert.are.same({ deprecated = "use THIRD" }, doc.enums.Mode.values[2].annotations)
    assert.are.same({ base = "1" }, doc.services.Base.annotations)
    assert.are.same({ priority = "low" }, doc.services.Base.by_name.hi.annotations)
    local derived = doc.services.Derived
    assert.are.same({ idempotent = "1" }, derived.by_name.count.annotations)
    assert.are.same({ ["python.type"] = "Str" }, derived.by_name.echo.returns.annotations)
  end)

  it("keeps doc comments on enums, values, structs, fields, services and functions", function()
    assert.are.equal("A doc comment on an enum,\n  kept with its indentation.", doc.enums.Mode.doc)
    assert.are.equal("The first mode.", doc.enums.Mode.values[1].doc)
    assert.are.equal("Uses a struct defined later, and itself.", doc.structs.Node.doc)
    assert.are.equal("The value.", field(doc.structs.Node, "value").doc)
    assert.are.equal("The service.", doc.services.Base.doc)
    assert.are.equal("Says hi.", doc.services.Base.by_name.hi.doc)
  end)

  it("resolves forward and recursive references", function()
    local node = doc.structs.Node
    assert.are.equal(doc.structs.Later, field(node, "later").type.struct)
    assert.are.equal(node, field(node, "next").type.struct)
    assert.are.equal(node, field(node, "children").type.elem.struct)
    assert.are.same({}, field(node, "children").default)
  end)

  it("assigns implicit field ids like Apache Thrift, with a warning", function()
    local s = doc.structs.NoIds
    assert.are.same({ -1, -2, 3 }, { s.fields[1].id, s.fields[2].id, s.fields[3].id })
    assert.are.equal(
      FIX .. "syntax.thrift:44:3: field 'first' has no id, assigned -1: the protocol may not be "
      .. "backwards compatible", warnings[1])
    assert.are.equal(
      FIX .. "syntax.thrift:45:3: field 'second' has no id, assigned -2: the protocol may not be "
      .. "backwards compatible", warnings[2])
  end)

  it("ignores 'optional' in argument lists, with a warning", function()
    local what = doc.services.Derived.by_name.count.args.fields[1]
    assert.are.equal("default", what.required)
    assert.are.equal(FIX .. "syntax.thrift:73:13: 'optional' is ignored in argument lists "
      .. "(field 'what')", warnings[3])
    assert.are.equal(3, #warnings)
  end)

  it("ignores 'optional' in throws lists, with a warning that says so", function()
    local got = {}
    local d = assert(load_text([[
exception E {}
service S {
  void f(1: i32 a) throws (1: optional E e)
}
]], { warn = function(msg) got[#got + 1] = msg end }))
    assert.are.equal("default", d.services.S.by_name.f.throws[1].required)
    assert.are.equal(1, #got)
    assert.matches("t.thrift:3:28: 'optional' is ignored in throws lists (field 'e')", got[1],
      1, true)
  end)

  it("accepts , and ; separators and optional ones", function()
    assert.are.same({ 1, 2, 3 }, doc.consts.SEMI)
    assert.are.same({ a = "b", c = "d" }, doc.consts.NO_SEP)
    assert.are.same({ FIRST = 1, SECOND = 2, THIRD = -3 }, doc.enums.Mode.by_name)
    assert.are.same({ "hi", "fire", "count", "echo" }, names(doc.services.Derived.all_functions))
  end)

  it("resolves constant references and literals", function()
    local c = doc.consts
    assert.are.equal(127, c.TINY)
    assert.are.equal(2, c.M)
    assert.are.equal(-3, c.M_BARE)
    assert.are.equal(-16, c.HEX_NEG)
    assert.are.equal(-0.5, c.NEG_DOUBLE)
    assert.are.equal(0.01, c.EXP)
    assert.are.equal("\\ \" ' \n \r \t", c.ESCAPES)
  end)

  it("validates struct constants and fills in field defaults", function()
    assert.are.same({ value = 1, children = {}, next = { value = 2, children = {} } },
      doc.consts.NODE)
    assert.are_not.equal(doc.consts.NODE.children, field(doc.structs.Node, "children").default)
  end)

  it("applies one union default", function()
    assert.are.equal(1, field(doc.structs.Choice, "number").default)
  end)
end)

describe("idl.load of uuid", function()
  it("maps uuid to a string type and checks uuid literals", function()
    local doc = load("uuid.thrift")
    assert.are.equal("00112233-4455-6677-8899-aabbccddeeff", doc.consts.C_UUID)
    assert.are.equal("uuid", doc.const_types.C_UUID.ttype)
    local tagged = doc.structs.Tagged
    assert.are.equal("uuid", field(tagged, "id").type.ttype)
    assert.are.equal("uuid", field(tagged, "related").type.elem.ttype)
    assert.are.equal("ffffffff-0000-0000-0000-000000000000", field(tagged, "fallback").default)
    assert.are.equal("uuid", doc.services.Lookup.by_name.find.args.fields[1].type.ttype)
    assert.are.equal("2:16: const 'U': 'not-a-uuid' is not a uuid "
      .. "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", load_error("\nconst uuid U = 'not-a-uuid'"))
  end)
end)

describe("idl.load of Apache Thrift's leniencies", function()
  local doc, warnings

  setup(function()
    warnings = {}
    doc = load("apache_compat.thrift", { warn = function(msg) warnings[#warnings + 1] = msg end })
  end)

  local function warned(pattern)
    for _, w in ipairs(warnings) do
      if w:find(pattern, 1, true) then
        return w
      end
    end
    return nil
  end

  it("reads Other.VALUE as VALUE of the expected enum, with a warning", function()
    assert.are.equal(10, doc.consts.ODD_PREFIX)
    assert.are.equal(11, doc.consts.NO_SUCH_PREFIX)
    assert.are.equal(11, doc.consts.VIA_TYPEDEF)
    assert.are.equal(10, field(doc.structs.Record, "shade").default)
    assert.are.equal(FIX .. "apache_compat.thrift:13:26: const 'ODD_PREFIX': 'Fruit.PLUM' is "
      .. "taken as Shade.PLUM (10), the value of that name in the expected enum, as Apache "
      .. "Thrift does", warned("'ODD_PREFIX'"))
    assert.is_string(warned("'Paint.SLATE' is taken as Shade.SLATE (11)"))
    assert.is_string(warned("apache_compat.thrift:33:20: default of field 'shade'"))
    assert.is_nil(warned("VIA_TYPEDEF"))
    assert.are.equal("3:17: const 'X': unknown constant 'Fruit.SLATE'",
      load_error("enum Fruit { APPLE }\nenum Shade { SLATE }\nconst Fruit X = Fruit.SLATE"))
  end)

  it("takes true and false as 1 and 0, and any integer as a bool", function()
    local c = doc.consts
    assert.are.equal(1, c.YES_NUM)
    assert.are.equal("integer", math.type(c.YES_NUM))
    assert.are.equal(0.0, c.NO_NUM)
    assert.are.equal("float", math.type(c.NO_NUM))
    assert.are.equal(true, c.FROM_TWO)
    assert.are.equal(false, c.FROM_MINUS)
    assert.are.equal(1, c.FLAG_NUM)
    assert.are.equal(true, field(doc.structs.Record, "on").default)
    assert.are.equal("1:18: const 'S': expected a value of type string, found a boolean",
      load_error("const string S = true"))
  end)

  it("reads a uuid in braces and keeps it in lower case", function()
    assert.are.equal("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", doc.consts.BRACED)
    assert.are.equal("1:16: const 'U': '{00112233-4455-6677-8899-aabbccddeeff' is not a uuid "
      .. "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
      load_error("const uuid U = '{00112233-4455-6677-8899-aabbccddeeff'"))
  end)

  it("skips the xsd_optional, xsd_nillable and xsd_attrs field options", function()
    local record = doc.structs.Record
    assert.are.same({ "name", "size", "lang", "shade", "on" }, names(record.fields))
    assert.are.same({ note = "kept" }, field(record, "lang").annotations)
    assert.are.equal("1:42: expected a field or '}', found ')'",
      load_error("struct S { 1: i32 a xsd_attrs { 1: i32 b ) }"))
  end)

  it("makes a oneway function that is not void return nothing, with a warning", function()
    local push = doc.services.Feed.by_name.push
    assert.is_true(push.oneway)
    assert.is_nil(push.returns)
    assert.are.same({}, push.result.fields)
    assert.are.equal(FIX .. "apache_compat.thrift:39:3: oneway function 'push' should return "
      .. "void: its result type i32 is ignored", warned("'push'"))
    assert.are.equal(4, #warnings)
  end)

  it("names the modern form of the obsolete namespace headers", function()
    assert.are.equal("t.thrift:2:1: 'cpp_namespace' is obsolete and not supported, use "
      .. "'namespace cpp <name>'", parse_error("struct S {}\ncpp_namespace thrift.test"))
    assert.are.equal("t.thrift:1:1: 'java_package' is obsolete and not supported, use "
      .. "'namespace java <name>'", parse_error("java_package tutorial"))
    assert.are.equal("t.thrift:1:1: 'php_namespace' is obsolete and not supported, use "
      .. "'namespace php <name>'", parse_error("php_namespace tutorial"))
  end)
end)

describe("idl against Apache Thrift 0.17's compiler", function()
  it("refuses what Apache's grammar refuses", function()
    assert.are.equal("t.thrift:1:13: expected '{', found 'xsd_all'",
      parse_error("exception E xsd_all { 1: i32 a }"))
    assert.are.equal("t.thrift:1:15: expected a constant value, found '0X10'",
      parse_error("const i32 X = 0X10"))
    assert.are.equal("t.thrift:1:11: expected a field or '}', found '\\12'",
      parse_error("struct S {\f}"))
    assert.are.equal("t.thrift:2:1: expected a definition, found '\\11'",
      parse_error("struct S {}\n\vstruct T {}"))
  end)

  it("keeps the sign of -0.0, as Apache's lexer reads it", function()
    local doc = assert(load_text("const double Z = -0.0\nconst double R = Z\n"
      .. "const list<double> L = [-0.0, -0e5]\n"
      .. "struct S { 1: double d = -0.0, 2: double z = Z }"))
    local function negative_zero(v)
      return math.type(v) == "float" and v == 0 and 1 / v < 0
    end
    assert.is_true(negative_zero(doc.consts.Z))
    assert.is_true(negative_zero(doc.consts.R))
    assert.is_true(negative_zero(doc.consts.L[1]))
    assert.is_true(negative_zero(doc.consts.L[2]))
    assert.is_true(negative_zero(doc.structs.S.fields[1].default))
    assert.is_true(negative_zero(doc.structs.S.fields[2].default))
  end)

  it("cleans doc comments as Apache does", function()
    local ast = assert(idl.parse([[
/**
 *   indented
 *     more
 */
struct A {}
/**
    no stars
      indented
 */
struct B {}
/**
 * star
 plain
 */
struct C {}
/** first
 *   second
 *
 *     third
 */
struct D {}
]]))
    local d = ast.definitions
    assert.are.equal("indented\n  more", d[1].doc)
    assert.are.equal("no stars\n  indented", d[2].doc)
    assert.are.equal("* star\nplain", d[3].doc)
    assert.are.equal("first\nsecond\n\n  third", d[4].doc)
  end)

  it("gives a doc comment before a separator to the next item", function()
    local ast = assert(idl.parse([[
enum E { A /** of B */, B; /** of C */ C }
struct S { 1: i32 a /** of b */; 2: i32 b }
service X { void f() /** of g */, void g() }
const i32 K = 1 /** of T */;
struct T {}
]]))
    local d = ast.definitions
    assert.are.same({ "of B", "of C" }, { d[1].values[2].doc, d[1].values[3].doc })
    assert.is_nil(d[1].values[1].doc)
    assert.are.equal("of b", d[2].fields[2].doc)
    assert.are.equal("of g", d[3].functions[2].doc)
    assert.are.equal("of T", d[5].doc)
    assert.are.equal("t.thrift:1:12: expected an enum value or '}', found ','",
      parse_error("enum E { A,, B }"))
    assert.are.equal("t.thrift:1:12: expected a field or '}', found ','",
      parse_error("struct S { , 1: i32 a }"))
  end)

  it("gives a doc comment to the next item that starts, wherever it is written", function()
    local ast = assert(idl.parse([[
exception E {}
struct S {
  1: i32 /** in a */ a,
  2: i32 b = /** in b's default */ 2,
  3: i32 c xsd_attrs { /** of the attribute */ 1: i32 attr }
  4: i32 d
  /** at the end of the body */
}
service X { void f() /** before throws */ throws (1: E e) }
/** of the typedef */ typedef i32 T
struct U {} /** at the end of the file */
]]))
    local d = ast.definitions
    local f = d[2].fields
    assert.are.same({ "in a", "in b's default" }, { f[2].doc, f[3].doc })
    assert.is_nil(f[1].doc)
    assert.is_nil(f[4].doc)
    assert.are.equal("at the end of the body", d[3].doc)
    assert.are.equal("before throws", d[3].functions[1].throws[1].doc)
    assert.are.equal("of the typedef", d[4].doc)
    assert.is_nil(d[5].doc)
    -- Comments and strings that hold "/**" are not doc comments.
    ast = assert(idl.parse('// /** no */\n/* /** no */\nconst string C = "/** no */"\nstruct V {}'))
    assert.is_nil(ast.definitions[2].doc)
  end)

  it("keeps what is left of a line of blanks in a doc comment, as Apache does", function()
    local ast = assert(idl.parse("/**\n * a\n *   \n * b\n */\nstruct A {}"))
    assert.are.equal("a\n  \nb", ast.definitions[1].doc)
  end)

  it("takes a comment of stars only for a plain comment, as Apache does", function()
    local ast = assert(idl.parse("/** A. */\n/***/\nstruct A {}\n/** B. */\n"
      .. "/**********/\nstruct B {}\n/**/ struct C {}\n/*** C. */ struct D {}"))
    local d = ast.definitions
    assert.are.same({ "A.", "B.", "* C." }, { d[1].doc, d[2].doc, d[4].doc })
    assert.is_nil(d[3].doc)
  end)

  it("takes keywords as field names but the ones Apache keeps apart", function()
    local ast = assert(idl.parse("exception E {}\nstruct S { 1: i32 service; 2: string include;"
      .. " 3: bool oneway, 4: i32 uuid }\nservice V { void f(1: i32 throws) throws "
      .. "(1: E exception) }"))
    assert.are.same({ "service", "include", "oneway", "uuid" }, names(ast.definitions[2].fields))
    local f = ast.definitions[3].functions[1]
    assert.are.same({ "throws", "exception" }, { f.args[1].name, f.throws[1].name })
    for _, w in ipairs({ "true", "false", "cpp_type", "xsd_all", "xsd_optional", "xsd_nillable",
        "xsd_attrs", "senum", "slist" }) do
      assert.are.equal("t.thrift:1:19: expected a field name, found '" .. w .. "'",
        parse_error("struct S { 1: i32 " .. w .. " }"))
    end
  end)

  it("takes an empty annotation list as no annotations", function()
    local ast = assert(idl.parse("struct A { 1: i32 () a () } ()\nenum E { X () } ()"))
    local a = ast.definitions[1]
    assert.is_nil(a.annotations)
    assert.is_nil(a.fields[1].annotations)
    assert.is_nil(a.fields[1].type.annotations)
    assert.is_nil(ast.definitions[2].annotations)
    assert.is_nil(ast.definitions[2].values[1].annotations)
  end)

  it("takes {} as an empty list or set and [] as an empty map", function()
    local doc = assert(load_text("const set<i32> S = {}\nconst list<i32> L = {}\n"
      .. "const map<i32, i32> M = []\nstruct P { 1: set<string> s = {} }"))
    assert.are.same({}, doc.consts.S)
    assert.are.same({}, doc.consts.L)
    assert.are.same({}, doc.consts.M)
    assert.are.same({}, field(doc.structs.P, "s").default)
    assert.are.equal("1:20: const 'S': expected a value of type set<i32>, found a map",
      load_error("const set<i32> S = {1: 2}"))
    assert.are.equal("1:25: const 'M': expected a value of type map<i32,i32>, found a list",
      load_error("const map<i32, i32> M = [1]"))
  end)

  it("refuses a bare name that is both a value of the enum and another constant", function()
    assert.are.equal("3:13: const 'C': 'A' is both the value t.E.A (1) and the constant 'A' "
      .. "(2): write E.A or rename the constant",
      load_error("enum E { A = 1, B = 2 }\nconst E A = E.B\nconst E C = A"))
    local doc = assert(load_text("enum E { A = 1, B = 2 }\nconst E A = E.A\nconst E C = A\n"
      .. "const E D = E.A"))
    assert.are.same({ 1, 1, 1 }, { doc.consts.A, doc.consts.C, doc.consts.D })
  end)
end)

describe("idl.load of includes", function()
  it("loads a file included through two paths once", function()
    local doc = load("inc_diamond.thrift")
    local base = doc.includes.inc_base
    assert.are.equal("inc_base", base.name)
    assert.are.equal(base, doc.includes.inc_left.includes.inc_base)
    assert.are.equal(base, doc.includes.inc_right.includes.inc_base)
    assert.is_truthy(base.path:find("/tests/fixtures/idl/inc_base.thrift$"))
  end)

  it("resolves types, typedefs, enums and constants of included files", function()
    local doc = load("inc_diamond.thrift")
    local base = doc.includes.inc_base
    local both = doc.structs.Both
    assert.are.equal(doc.includes.inc_left.structs.Left, field(both, "left").type.struct)
    assert.are.equal(base.structs.Record, field(both, "record").type.struct)
    assert.are.equal(base.structs.Record,
      field(doc.includes.inc_left.structs.Left, "record").type.struct)
    assert.are.equal(base.types.Timestamp, field(both, "times").type.elem)
    assert.are.same({ ttype = "i64" }, base.types.Timestamp)
    assert.are.equal(10, field(both, "limit").default)
    assert.are.equal(2, field(doc.includes.inc_left.structs.Left, "level").default)
    assert.are.equal(1, doc.includes.inc_right.consts.RIGHT_LEVEL)
    assert.are.equal(base.enums.Level, doc.includes.inc_right.const_types.RIGHT_LEVEL.enum)
    assert.are.equal(10, doc.includes.inc_right.consts.COPIED_LIMIT)
  end)

  it("extends a service of an included file", function()
    local doc = load("inc_diamond.thrift")
    local svc = doc.services.Diamond
    local base_svc = doc.includes.inc_base.services.BaseService
    assert.are.equal(base_svc, svc.extends)
    assert.are.same({ "get", "both" }, names(svc.all_functions))
    assert.are.equal(base_svc.by_name.get, svc.by_name.get)
    assert.are.equal(doc.includes.inc_base.structs.BaseError,
      svc.by_name.both.throws[1].type.struct)
  end)

  it("searches include_dirs after the including file's folder", function()
    local doc = load("inc_search.thrift", { include_dirs = { "/nonexistent", FIX .. "search" } })
    assert.are.equal(doc.includes.searched.structs.Found,
      field(doc.structs.User, "found").type.struct)
  end)

  it("reports an unknown include file with where it looked", function()
    local doc, err = idl.load(FIX .. "inc_search.thrift", { include_dirs = { "/nowhere" } })
    assert.is_nil(doc)
    assert.are.equal(FIX .. "inc_search.thrift:2:1: cannot find include file 'searched.thrift' "
      .. "(searched " .. FIX .. "searched.thrift, /nowhere/searched.thrift)", err)
    doc, err = idl.load(FIX .. "inc_missing.thrift")
    assert.is_nil(doc)
    assert.are.equal(FIX .. "inc_missing.thrift:3:1: cannot find include file "
      .. "'no_such_file.thrift' (searched " .. FIX .. "no_such_file.thrift)", err)
  end)

  it("says why a path through a regular file cannot be read", function()
    local file = tmp_file("struct A {}", "regular.thrift")
    local doc, err = idl.load(file .. "/x.thrift")
    assert.is_nil(doc)
    assert.are.equal(file .. "/x.thrift: cannot read file: Not a directory", err)
    -- an include: each place searched with the reason, but for no file there
    local top = tmp_file('include "regular.thrift/x.thrift"', "through.thrift")
    doc, err = idl.load(top, { include_dirs = { "/nowhere" } })
    assert.is_nil(doc)
    assert.are.equal(top .. ":1:1: cannot find include file 'regular.thrift/x.thrift' (searched "
      .. file .. "/x.thrift: Not a directory, /nowhere/regular.thrift/x.thrift)", err)
    -- a reader of one's own says which failure is no file at all
    local function reader(path)
      if path == "top.thrift" then
        return 'include "a.thrift"'
      end
      return nil, "refused", false, path:find("^/nowhere/") ~= nil
    end
    doc, err = idl.load("top.thrift", { include_dirs = { "/nowhere" }, read_file = reader })
    assert.is_nil(doc)
    assert.are.equal("top.thrift:1:1: cannot find include file 'a.thrift' (searched a.thrift: "
      .. "refused, /nowhere/a.thrift)", err)
  end)

  it("reports an include cycle naming the cycle", function()
    local doc, err = idl.load(FIX .. "inc_cycle_a.thrift")
    assert.is_nil(doc)
    assert.are.equal(FIX .. "inc_cycle_b.thrift:2:1: include cycle: " .. FIX
      .. "inc_cycle_a.thrift -> " .. FIX .. "inc_cycle_b.thrift -> " .. FIX
      .. "inc_cycle_a.thrift", err)
  end)

  it("names the files of an include cycle through folders as the paths they are", function()
    assert(os.execute("mkdir -p '" .. tmp_dir .. "/cyc/sub' '" .. tmp_dir .. "/cyc/d1' '"
      .. tmp_dir .. "/cyc/d2'"))
    local top = tmp_file('include "sub/b.thrift"\n', "cyc/a.thrift")
    tmp_file('struct B {}\ninclude "../a.thrift"\n', "cyc/sub/b.thrift")
    local doc, err = idl.load(top)
    assert.is_nil(doc)
    local dir = tmp_dir .. "/cyc/"
    assert.are.equal(dir .. "sub/b.thrift:2:1: include cycle: " .. dir .. "a.thrift -> " .. dir
      .. "sub/b.thrift -> " .. dir .. "a.thrift", err)
    -- across sibling folders, and a file that includes itself
    top = tmp_file('include "../d2/b.thrift"\n', "cyc/d1/a.thrift")
    tmp_file('include "../d1/a.thrift"\n', "cyc/d2/b.thrift")
    doc, err = idl.load(top)
    assert.is_nil(doc)
    assert.are.equal(dir .. "d2/b.thrift:1:1: include cycle: " .. dir .. "d1/a.thrift -> " .. dir
      .. "d2/b.thrift -> " .. dir .. "d1/a.thrift", err)
    local self = tmp_file('include "../d1/./self.thrift"\n', "cyc/d1/self.thrift")
    doc, err = idl.load(self)
    assert.is_nil(doc)
    assert.are.equal(self .. ":1:1: include cycle: " .. self .. " -> " .. self, err)
    -- relative paths stay relative ('read_file' roots them at the folder)
    local function read_in(root)
      return function(path)
        local f, why = io.open(root .. "/" .. path, "rb")
        if not f then
          return nil, why, false
        end
        local text = f:read("a")
        f:close()
        return text
      end
    end
    doc, err = idl.load("./d1//a.thrift", { read_file = read_in(dir) })
    assert.is_nil(doc)
    assert.are.equal("d2/b.thrift:1:1: include cycle: d1/a.thrift -> d2/b.thrift -> d1/a.thrift",
      err)
  end)

  -- A reader that knows two paths of one file: 'link' is the folder
  -- itself, as a symlink 'link -> .' makes it, and the reader says so with
  -- the identity it returns (the server's returns the real path). Past
  -- ten 'link/' steps it answers as the system does for a symlink loop.
  local function linked_reader(files)
    return function(path)
      local real, steps = path, 0
      while real:sub(1, 5) == "link/" do
        real, steps = real:sub(6), steps + 1
      end
      if steps > 10 then
        return nil, "Too many levels of symbolic links", true, false
      end
      if not files[real] then
        return nil, "No such file or directory", false, true
      end
      return files[real], "/root/" .. real
    end
  end

  it("loads one file reached by two paths once, as its reader tells", function()
    local reader = linked_reader({
      ["top.thrift"] = 'include "b.thrift"\ninclude "c.thrift"\n'
        .. 'include "x.thrift"\ninclude "link/x.thrift"\n',
      ["b.thrift"] = 'include "x.thrift"\nstruct B { 1: x.X v }\n',
      ["c.thrift"] = 'include "link/x.thrift"\nstruct C { 1: x.X v }\n',
      ["x.thrift"] = "struct X { 1: i32 a }\n",
    })
    local doc, err = idl.load("top.thrift", { read_file = reader })
    assert(doc, err)
    local x = doc.includes.b.includes.x
    assert.are.equal(x, doc.includes.c.includes.x)
    assert.are.equal(x, doc.includes.x)
    assert.are.equal(field(doc.includes.b.structs.B, "v").type.struct,
      field(doc.includes.c.structs.C, "v").type.struct)
    -- the doc keeps the path it was first reached by
    assert.is_truthy(x.path:find("/x.thrift$"))
  end)

  it("reports an include cycle through another path of a file as a cycle", function()
    local reader = linked_reader({
      ["a.thrift"] = 'include "link/a.thrift"\n',
      ["p.thrift"] = 'include "q.thrift"\n',
      ["q.thrift"] = 'struct Q {}\ninclude "link/p.thrift"\n',
    })
    local doc, err = idl.load("a.thrift", { read_file = reader })
    assert.is_nil(doc)
    assert.are.equal("a.thrift:1:1: include cycle: a.thrift -> link/a.thrift (the same file "
      .. "as a.thrift)", err)
    doc, err = idl.load("p.thrift", { read_file = reader })
    assert.is_nil(doc)
    assert.are.equal("q.thrift:2:1: include cycle: p.thrift -> q.thrift -> link/p.thrift (the "
      .. "same file as p.thrift)", err)
  end)

  it("stops the search at a file that is there but cannot be read", function()
    assert(os.execute("mkdir -p '" .. tmp_dir .. "/stop/top' '" .. tmp_dir .. "/stop/first' '"
      .. tmp_dir .. "/stop/second'"))
    local dir = tmp_dir .. "/stop/"
    local top = tmp_file('include "x.thrift"\nstruct T { 1: x.X x }\n', "stop/top/t.thrift")
    tmp_file("struct X {}\n", "stop/second/x.thrift")
    local opts = { include_dirs = { dir .. "first", dir .. "second" } }
    assert(idl.load(top, opts))
    -- a symlink to itself: open() fails as it does for a file without
    -- permission (which no test run as root could show)
    assert(os.execute("ln -sfn x.thrift '" .. dir .. "first/x.thrift'"))
    local doc, err = idl.load(top, opts)
    assert.is_nil(doc)
    assert.are.equal(top .. ":1:1: cannot read include file 'x.thrift' (" .. dir
      .. "first/x.thrift): Too many levels of symbolic links", err)
    -- a reader of one's own says which failure finds a file
    local function reader(path)
      if path == "top.thrift" then
        return 'include "a.thrift"'
      end
      return nil, "Permission denied", true, false
    end
    doc, err = idl.load("top.thrift", { include_dirs = { "/later" }, read_file = reader })
    assert.is_nil(doc)
    assert.are.equal("top.thrift:1:1: cannot read include file 'a.thrift': Permission denied", err)
  end)

  it("names an included file by its normalized path in its errors", function()
    assert(os.execute("mkdir -p '" .. tmp_dir .. "/norm/d1' '" .. tmp_dir .. "/norm/d2'"))
    local dir = tmp_dir .. "/norm/"
    tmp_file("struct Bad {", "norm/d2/bad.thrift")
    tmp_file("struct Warn { i32 a }\nstruct Unknown { 1: Nope x }", "norm/d2/unknown.thrift")
    local warnings = {}
    local opts = { warn = function(msg) warnings[#warnings + 1] = msg end }
    local doc, err = idl.load(tmp_file('include "../d2/bad.thrift"', "norm/d1/a.thrift"), opts)
    assert.is_nil(doc)
    assert.are.equal(dir .. "d2/bad.thrift:1:13: expected a field or '}', found end of file", err)
    doc, err = idl.load(tmp_file('include "../d2/unknown.thrift"', "norm/d1/a.thrift"), opts)
    assert.is_nil(doc)
    assert.are.equal(dir .. "d2/unknown.thrift:2:21: unknown type 'Nope'", err)
    assert.are.same({ dir .. "d2/unknown.thrift:1:15: field 'a' has no id, assigned -1: the "
      .. "protocol may not be backwards compatible" }, warnings)
    doc, err = idl.load(tmp_file('include "../d2/none.thrift"', "norm/d1/a.thrift"),
      { include_dirs = { dir .. "d1/../d2/.." } })
    assert.is_nil(doc)
    assert.are.equal(dir .. "d1/a.thrift:1:1: cannot find include file '../d2/none.thrift' "
      .. "(searched " .. dir .. "d2/none.thrift, " .. tmp_dir .. "/d2/none.thrift)", err)
    assert(os.execute("mkdir -p '" .. dir .. "d2/adir'"))
    doc, err = idl.load(tmp_file('include "../d2/adir"', "norm/d1/a.thrift"))
    assert.is_nil(doc)
    assert.are.equal(dir .. "d1/a.thrift:1:1: cannot read include file '../d2/adir' (" .. dir
      .. "d2/adir): Is a directory", err)
  end)

  it("reports errors in an included file with that file's path", function()
    local bad = tmp_file("struct Bad { 1: Nope x }", "bad.thrift")
    local doc, err = load_text('include "' .. bad .. '"\n')
    assert.is_nil(doc)
    assert.are.equal(bad .. ":1:17: unknown type 'Nope'", err)
  end)

  it("reports a file that cannot be read", function()
    local doc, err = idl.load(FIX .. "nope.thrift")
    assert.is_nil(doc)
    assert.are.equal(FIX .. "nope.thrift: cannot read file: No such file or directory", err)
    doc, err = idl.load(42)
    assert.is_nil(doc)
    assert.are.equal("thriftcorn.idl.load: path must be a string", err)
  end)

  it("reports an include that cannot be read, or has no name, at its line", function()
    assert(os.execute("mkdir -p '" .. tmp_dir .. "/adir'"))
    assert.are.equal("2:1: cannot read include file 'adir' (" .. tmp_dir .. "/adir): Is a "
      .. "directory", load_error('struct S {}\ninclude "adir"'))
    assert(os.execute("mkdir -p '" .. tmp_dir .. "/searched.thrift'"))
    local doc, err = idl.load(FIX .. "inc_search.thrift", { include_dirs = { tmp_dir } })
    assert.is_nil(doc)
    assert.are.equal(FIX .. "inc_search.thrift:2:1: cannot read include file 'searched.thrift' ("
      .. tmp_dir .. "/searched.thrift): Is a directory", err)
    assert.are.equal("1:1: empty include file name", load_error('include ""'))
  end)

  it("resolves Enum.NAME as a constant of an included file named like the enum", function()
    tmp_file("const i32 K = 7\nstruct P {}", "E.thrift")
    local warnings = {}
    local doc = assert(load_text('include "E.thrift"\nenum E { A = 1 }\nconst i32 X = E.K\n'
      .. "const E Y = E.A\nstruct S { 1: E.P p }",
      { warn = function(msg) warnings[#warnings + 1] = msg end }))
    assert.are.same({ 7, 1 }, { doc.consts.X, doc.consts.Y })
    assert.are.equal(doc.includes.E.structs.P, field(doc.structs.S, "p").type.struct)
    assert.are.same({ tmp_dir .. "/t.thrift:2:1: enum 'E' has the name of an included file: "
      .. "in the module of this file, 'E' is the enum, not the included module" }, warnings)
  end)
end)

describe("idl.load errors", function()
  it("unknown type", function()
    assert.are.equal("2:22: unknown type 'Missing'",
      load_error("struct S {\n  1: list<i32> a, 2: Missing b\n}"))
    assert.are.equal("1:9: unknown type 'other.T'", load_error("typedef other.T X"))
    assert.are.equal("1:31: 'C' is a const, not a type",
      load_error("const i32 C = 1 struct S { 1: C c }"))
    assert.are.equal("1:30: 'Svc' is a service, not a type",
      load_error("service Svc {} struct S { 1: Svc c }"))
  end)

  it("duplicate field id and duplicate field name", function()
    assert.are.equal("3:3: duplicate field id 1 in struct 'S' ('a' and 'b')",
      load_error("struct S {\n  1: i32 a\n  1: i32 b\n}"))
    assert.are.equal("1:25: duplicate field name 'a' in exception 'E'",
      load_error("exception E { 1: i32 a, 2: i32 a }"))
    assert.are.equal("1:30: duplicate field id 1 in arguments of 'f' ('a' and 'b')",
      load_error("service S { void f(1: i32 a, 1: i32 b) }"))
    assert.are.equal("1:21: field id 32768 of 'a' is out of range (1..32767)",
      load_error("struct S { 1: i32 b 32768: i32 a }"))
  end)

  it("duplicate definition name", function()
    assert.are.equal("3:1: duplicate definition name 'S' (first defined at line 1)",
      load_error("struct S {}\n\nenum S { A }"))
    assert.are.equal("1:17: duplicate enum value name 'A' in enum 'E'",
      load_error("enum E { A = 1, A = 2 }"))
    assert.are.equal("1:23: duplicate function name 'f' in service 'S'",
      load_error("service S { void f(), i32 f(1: i32 a) }"))
  end)

  it("oneway with throws", function()
    assert.are.equal("1:28: oneway function 'f' cannot throw exceptions",
      load_error("exception E {} service S { oneway void f() throws (1: E e) }"))
  end)

  it("enum value out of i32 range", function()
    assert.are.equal("1:13: value 2147483648 of enum value 'E.B' is out of i32 range",
      load_error("enum E { A, B = 2147483648 }"))
    assert.are.equal("1:10: value -2147483649 of enum value 'E.A' is out of i32 range",
      load_error("enum E { A = -2147483649 }"))
    assert.are.equal("1:26: implicit value of enum value 'E.B' is out of i32 range",
      load_error("enum E { A = 0x7fffffff, B }"))
  end)

  it("constants that do not fit their type", function()
    assert.are.equal("1:15: const 'X': expected a value of type i32, found a string",
      load_error("const i32 X = 'a'"))
    assert.are.equal("1:16: const 'X': 300 is out of range for byte (-128..127)",
      load_error("const byte X = 300"))
    assert.are.equal("1:15: const 'X': 2147483648 is out of range for i32 "
      .. "(-2147483648..2147483647)", load_error("const i32 X = 2147483648"))
    assert.are.equal("1:15: const 'X': -32769 is out of range for i16 (-32768..32767)",
      load_error("const i16 X = -32769"))
    assert.are.equal("1:32: const 'M' map key: expected a value of type i32, found a string",
      load_error("const map<i32, i32> M = {1: 2, 'a': 3}"))
    assert.are.equal("1:29: const 'M' map value: expected a value of type i32, found a double",
      load_error("const map<i32, i32> M = {1: 2.5}"))
    assert.are.equal("1:30: const 'L': expected a value of type string, found an integer",
      load_error("const list<string> L = ['a', 1]"))
    assert.are.equal("1:16: const 'B': expected a value of type bool, found a double",
      load_error("const bool B = 1.0"))
    assert.are.equal("1:18: const 'D': expected a value of type double, found a string",
      load_error("const double D = '1.5'"))
    assert.are.equal("3:14: const 'E3': 3 is not a value of enum t.E",
      load_error("enum E { A = 1 }\nconst E E2 = A\nconst E E3 = 3"))
    assert.are.equal("1:20: const 'S': expected a value of type set<i32>, found a map",
      load_error("const set<i32> S = {1: 2}"))
  end)

  it("struct constants are checked field by field", function()
    local text = "struct P { 1: i32 x, 2: string s }\n"
    assert.are.equal("2:22: const 'C': t.P has no field 'z'",
      load_error(text .. "const P C = {'x': 1, 'z': 2}"))
    assert.are.equal("2:27: const 'C' field 's': expected a value of type string, found an "
      .. "integer", load_error(text .. "const P C = {'x': 1, 's': 2}"))
    assert.are.equal("2:14: const 'C': field names of t.P must be strings, found an integer",
      load_error(text .. "const P C = {1: 2}"))
  end)

  it("constant references must exist, not loop and fit", function()
    assert.are.equal("1:15: const 'X': unknown constant 'NOPE'", load_error("const i32 X = NOPE"))
    assert.are.equal("2:16: const 'B': constant 'A' of type i64 does not fit type byte",
      load_error("const i64 A = 1000\nconst byte B = A"))
    assert.are.equal("2:21: const 'L': constant 'A' of type list<string> does not fit type "
      .. "list<i32>", load_error("const list<string> A = ['a']\nconst list<i32> L = A"))
    local doc = assert(load_text("const i32 A = 100\nconst byte B = A\nconst double D = A\n"
      .. "const list<i32> L = [A, A]\nconst list<i64> L2 = L"))
    assert.are.equal(100, doc.consts.B)
    assert.are.equal(100.0, doc.consts.D)
    assert.are.equal("float", math.type(doc.consts.D))
    assert.are.same({ 100, 100 }, doc.consts.L2)
    assert.are_not.equal(doc.consts.L, doc.consts.L2)
  end)

  it("constant loops, named in full at the reference that closes them", function()
    assert.are.equal("1:15: constant 'A' refers to itself", load_error("const i32 A = A"))
    assert.are.equal("2:15: constant 'A' refers to 'B', which refers to 'A'",
      load_error("const i32 A = B\nconst i32 B = A"))
    assert.are.equal("3:15: constant 'A' refers to 'B', which refers to 'C', which refers to 'A'",
      load_error("const i32 A = B\nconst i32 B = C\nconst i32 C = A"))
    -- D leads into the loop but is not part of it
    assert.are.equal("3:15: constant 'A' refers to 'B', which refers to 'A'",
      load_error("const i32 D = A\nconst i32 A = B\nconst i32 B = A"))
    -- through the items of a list, the keys and values of a map, a struct's fields
    assert.are.equal("1:22: constant 'L' refers to itself", load_error("const list<i32> L = [L]"))
    assert.are.equal("2:15: constant 'L' refers to 'X', which refers to 'L'",
      load_error("const list<i32> L = [1, X]\nconst i32 X = L"))
    assert.are.equal("2:25: constant 'K' refers to 'M', which refers to 'K'",
      load_error("const i32 K = M\nconst map<i32,i32> M = {K: 1}"))
    assert.are.equal("2:15: constant 'M' refers to 'V', which refers to 'M'",
      load_error("const map<i32,i32> M = {1: V}\nconst i32 V = M"))
    assert.are.equal("3:15: constant 'C' refers to 'Y', which refers to 'C'",
      load_error("struct P { 1: i32 x }\nconst P C = {'x': Y}\nconst i32 Y = C"))
    -- through the default of a field that a struct constant leaves out
    assert.are.equal("1:23: constant 'C' refers to the default of field 'a' in struct 'S', "
      .. "which refers to 'C'", load_error("struct S { 1: i32 a = C }\nconst S C = {}"))
    assert.are.equal("3:15: constant 'C' refers to the default of field 'a' in struct 'S', "
      .. "which refers to 'D', which refers to 'C'",
      load_error("struct S { 1: i32 a = D }\nconst S C = {}\nconst i32 D = C"))
  end)

  it("copies the struct keys of sets and maps in constants and the defaults they take", function()
    local doc = assert(load_text('struct In { 1: i32 a }\n'
      .. 'struct W { 1: set<In> si = [{"a": 1}], 2: map<In, i32> mi = {{"a": 2}: 5} }\n'
      .. 'const W D = {}\nconst W E = D\n'))
    local W = doc.structs.W
    local all = { next(W.fields[1].default), next(W.fields[2].default), next(doc.consts.D.si),
      next(doc.consts.D.mi), next(doc.consts.E.si), next(doc.consts.E.mi) }
    for i = 1, #all do
      for j = i + 1, #all do
        assert.are_not.equal(all[i], all[j]) -- copies, not one key table in two values
      end
    end
    assert.are.same({ a = 1 }, all[5])
    assert.are.same({ a = 2 }, all[6])
  end)

  it("constants built from constants are copied within a budget", function()
    -- C<i> = [C<i-1>, C<i-1>]: twice the values at every step
    local function chain(n)
      local lines, t = { "const list<i32> C0 = [1, 2]" }, "list<i32>"
      for i = 1, n do
        t = "list<" .. t .. ">"
        lines[#lines + 1] = string.format("const %s C%d = [C%d, C%d]", t, i, i - 1, i - 1)
      end
      return table.concat(lines, "\n")
    end
    local doc = assert(load_text(chain(6)))
    assert.are.same({ { 1, 2 }, { 1, 2 } }, doc.consts.C1)
    assert.are.equal(2, doc.consts.C6[2][1][2][1][2][1][2])
    assert.are_not.equal(doc.consts.C6[1], doc.consts.C6[2]) -- copies, not one table twice
    local col = #string.format("const %s C17 = [", ("list<"):rep(18) .. "i32"
      .. (">"):rep(18)) + 1
    local msg = string.format("18:%d: const 'C17': copying constant 'C16' here takes the copies "
      .. "of constants in this load over 16 MiB (each reference to a constant is a copy of its "
      .. "whole value)", col)
    assert.are.equal(msg, load_error(chain(22))) -- 2^24 values, once written out
    -- many references to one constant count too, strings by their bytes
    local err = load_error("const string S = '" .. ("x"):rep(1000) .. "'\nconst list<string> L = ["
      .. ("S, "):rep(20000) .. "]")
    assert.truthy(err:find("^2:%d+: const 'L': copying constant 'S' here takes the copies"), err)
    -- and so do the defaults a struct constant takes
    local text = chain(12) .. "\nstruct S { 1: " .. ("list<"):rep(13) .. "i32" .. (">"):rep(13)
      .. " a = C12 }\nconst list<S> L = [" .. ("{}, "):rep(1000) .. "]"
    err = load_error(text)
    assert.truthy(err:find("^15:%d+: const 'L': copying the default of field 'a' here takes"), err)
  end)

  it("default values that do not fit", function()
    assert.are.equal("1:23: default of field 'a': expected a value of type i32, found a string",
      load_error("struct S { 1: i32 a = 'x' }"))
    assert.are.equal("1:25: union 'U' has more than one default value",
      load_error("union U { 1: i32 a = 1, 2: string b = 'x' }"))
  end)

  it("default value loops, named in full at the struct value that closes them", function()
    -- a struct value that leaves a field out refers to that field's default
    assert.are.equal("1:30: the default of field 'a' in struct 'S' refers to itself",
      load_error("struct S { 1: optional S a = {} }"))
    assert.are.equal("1:37: the default of field 'a' in struct 'S' refers to itself",
      load_error("struct S { 1: optional list<S> a = [{}] }"))
    assert.are.equal("2:30: the default of field 'a' in struct 'S' refers to the default of "
      .. "field 'b' in struct 'T', which refers to the default of field 'a' in struct 'S'",
      load_error("struct S { 1: optional T a = {} }\nstruct T { 1: optional S b = {} }"))
    assert.are.equal("3:20: the default of field 'a' in struct 'S' refers to the default of "
      .. "field 'b' in exception 'E', which refers to the default of field 'c' in union 'U', "
      .. "which refers to the default of field 'a' in struct 'S'",
      load_error("struct S { 1: optional E a = {} }\nexception E { 1: optional U b = {} }\n"
        .. "union U { 1: S c = {} }"))
    -- C leads into the loop but is not part of it
    assert.are.equal("2:30: the default of field 'a' in struct 'S' refers to itself",
      load_error("const S C = {}\nstruct S { 1: optional S a = {} }"))
    -- through a constant that the default names
    assert.are.equal("4:30: the default of field 'a' in struct 'S' refers to 'K', which refers "
      .. "to the default of field 'b' in struct 'T', which refers to the default of field 'a' "
      .. "in struct 'S'", load_error("const S C = {}\nstruct S { 1: optional T a = K }\n"
        .. "const T K = {}\nstruct T { 1: optional S b = {} }"))
  end)

  it("union constants with more than one field set", function()
    local text = "union U { 1: i32 a, 2: string b }\n"
    assert.are.equal("2:23: const 'C': union t.U holds one field, 'a' and 'b' are set",
      load_error(text .. "const U C = { 'a': 1, 'b': 'x' }"))
    assert.are.equal("3:24: default of field 'u': union t.U holds one field, 'b' and 'a' are set",
      load_error(text .. "struct S {\n  1: U u = { 'b': 'x', 'a': 1 } }"))
  end)

  it("unknown service in extends", function()
    assert.are.equal("1:19: unknown service 'Nope' in extends",
      load_error("service A extends Nope {}"))
    assert.are.equal("1:19: unknown service 'x.Nope' in extends",
      load_error("service A extends x.Nope {}"))
    assert.are.equal("1:31: 'S' is a struct, not a service",
      load_error("struct S {} service A extends S {}"))
    assert.are.equal("2:23: function 'f' is already defined in extended service 't.A'",
      load_error("service A { void f() }\nservice B extends A { void f() }"))
  end)

  it("extends cycles, named in full at the extends that closes them", function()
    assert.are.equal("1:19: service 'A' extends itself", load_error("service A extends A {}"))
    assert.are.equal("2:19: service 'A' extends 'B', which extends 'A'",
      load_error("service A extends B {}\nservice B extends A {}"))
    assert.are.equal("1:42: service 'A' extends 'B', which extends 'A'",
      load_error("service A extends B {} service B extends A {}"))
    -- A leads into the cycle but is not part of it
    assert.are.equal("4:19: service 'B' extends 'C', which extends 'D', which extends 'B'",
      load_error("service A extends B {}\nservice B extends C { void f() }\n"
        .. "service C extends D {}\nservice D extends B {}"))
    -- across files, the files include each other: that is the error
    tmp_file('include "ext_b.thrift"\nservice A extends ext_b.B {}', "ext_a.thrift")
    tmp_file('include "ext_a.thrift"\nservice B extends ext_a.A {}', "ext_b.thrift")
    local doc, err = idl.load(tmp_dir .. "/ext_a.thrift")
    assert.is_nil(doc)
    assert.are.equal(tmp_dir .. "/ext_b.thrift:1:1: include cycle: " .. tmp_dir
      .. "/ext_a.thrift -> " .. tmp_dir .. "/ext_b.thrift -> " .. tmp_dir .. "/ext_a.thrift", err)
  end)

  it("names reserved for the module of a file", function()
    assert.are.equal("2:1: the name '__doc' is reserved: the module of a loaded file keeps its "
      .. "doc there", load_error("struct S {}\nstruct __doc { 1: i32 a }"))
    assert.are.equal("1:1: the name '__path' is reserved: the module of a loaded file keeps its "
      .. "path there", load_error("const string __path = 'x'"))
  end)

  it("an exception named 'success' in a function that returns a value", function()
    assert.are.equal("2:29: throws of 'f': an exception may not be named 'success', the name "
      .. "of the result of a function that is not void",
      load_error("exception E {}\nservice X { i32 f() throws (1: E success) }"))
    local doc = assert(load_text("exception E {}\nservice X { void f() throws (1: E success) }"))
    assert.are.same({ "success" }, names(doc.services.X.by_name.f.result.fields))
  end)

  it("throws with a non-exception type", function()
    assert.are.equal("1:42: throws of 'f': t.S is not an exception",
      load_error("struct S {} service X { void f() throws (1: S e) }"))
    assert.are.equal("1:30: throws of 'f': i32 is not an exception",
      load_error("service X { void f() throws (1: i32 e) }"))
  end)

  it("typedef loops, named in full at the reference that closes them, used or not", function()
    assert.are.equal("1:9: typedef 'Foo' refers to itself", load_error("typedef Foo Foo"))
    assert.are.equal("1:14: typedef 'Foo' refers to itself",
      load_error("typedef list<Foo> Foo\nstruct S { 1: Foo f }"))
    assert.are.equal("2:9: typedef 'B' refers to 'A', which refers to 'B'",
      load_error("typedef A B\ntypedef B A"))
    assert.are.equal("3:14: typedef 'C' refers to 'B', which refers to 'A', which refers to 'C'",
      load_error("typedef B C\ntypedef A B\ntypedef list<C> A\nstruct S { 1: C c }"))
    -- D leads into the loop but is not part of it
    assert.are.equal("3:9: typedef 'A' refers to 'B', which refers to 'A'",
      load_error("typedef A D\ntypedef B A\ntypedef A B"))
  end)

  it("never raises, even for internal errors in warn", function()
    local doc, err = load_text("struct S { i32 a }", { warn = function() error("boom", 0) end })
    assert.is_nil(doc)
    assert.are.equal("thriftcorn.idl: boom", err)
  end)
end)
