-- SPDX-License-Identifier: Apache-2.0
-- The thriftcorn module as docs/lua-api.md describes it: the examples of
-- that page, and each function's refusal of bad arguments (an error naming
-- the function and the argument, at the caller's line). The codec itself
-- is codec_spec.lua's.
local tc = require("thriftcorn")

local core = tc.core
local FIX = assert(core.realpath("tests/fixtures/idl")) .. "/"
local TUTORIAL = assert(core.realpath("examples/calculator/tutorial.thrift"))
local HERE = "api_spec.lua:"

-- The error 'f' raises, which must contain each of the plain texts 'wants'.
local function raises(f, ...)
  local wants = { ... }
  local ok, err = pcall(f)
  assert.is_false(ok, "no error")
  err = tostring(err)
  for _, want in ipairs(wants) do
    assert(err:find(want, 1, true), string.format("'%s' does not contain '%s'", err, want))
  end
  return err
end

describe("docs/lua-api.md's examples", function()
  it("encode and decode a Work in compact", function()
    local tutorial = tc.load(TUTORIAL)
    local work = tutorial.Work { num1 = 1, num2 = 2, op = tutorial.Operation.ADD }
    local bytes = assert(tc.encode(tutorial.Work, work, "compact"))
    local back = assert(tc.decode(tutorial.Work, bytes, "compact"))
    assert.equal("Work(num1=1, num2=2, op=1)", tostring(back))
    assert.equal(1, select("#", tc.decode(tutorial.Work, bytes, "compact")))
  end)

  it("write and read a call and a TApplicationException", function()
    local calc = tc.load(TUTORIAL).Calculator
    local MT = tc.MessageType
    local call = tc.encode_message("add", MT.CALL, 1, calc.by_name.add.args,
      { num1 = 1, num2 = 2 })
    local msg = assert(tc.decode_message(calc, call))
    assert.equal("add", msg.name)
    assert.equal(MT.CALL, msg.type)
    assert.equal(1, msg.seqid)
    assert.equal(1, msg.value.num1)
    local err = tc.encode_message("nope", MT.EXCEPTION, 1, nil,
      { type = tc.ApplicationException.UNKNOWN_METHOD, message = "Invalid method name: 'nope'" })
    assert.same({ name = "nope", type = MT.EXCEPTION, seqid = 1,
      value = { type = 1, type_name = "UNKNOWN_METHOD", message = "Invalid method name: 'nope'" } },
      tc.decode_message(calc, err))
  end)

  it("report a required field that is not set", function()
    local mod = tc.load(FIX .. "alltypes.thrift")
    local bytes, msg, code = tc.encode(mod.Point, { x = 1 })
    assert.is_nil(bytes)
    assert.equal("alltypes.Point.y: required field is not set", msg)
    assert.equal(-1007, code)
  end)

  it("encode a Point as the plain lua5.4 example prints it", function()
    local m = tc.load(FIX .. "alltypes.thrift")
    local bytes = assert(tc.encode(m.Point, m.Point { x = 1, y = 2 }, "compact"))
    assert.equal('"\\21\\2\\21\\4\\0"', ("%q"):format(bytes))
    assert.equal("Point(x=1, y=2)", tostring(tc.decode(m.Point, bytes, "compact")))
  end)
end)

describe("thriftcorn.load", function()
  it("refuses a path that is not a string or holds a NUL, at the caller's line", function()
    raises(function() tc.load() end, HERE, "bad argument #1 to 'load' (string expected, got nil)")
    raises(function() tc.load(42) end, HERE,
      "bad argument #1 to 'load' (string expected, got number)")
    raises(function() tc.load(FIX .. "alltypes.thrift\0.txt") end, HERE,
      "bad argument #1 to 'load' (contains a NUL byte)")
  end)

  it("refuses options that are not a table of include_dirs and warn", function()
    -- also for a file already loaded, whose options would not be read
    for _, file in ipairs({ "alltypes.thrift", "inc_search.thrift" }) do
      local path = FIX .. file
      raises(function() tc.load(path, 5) end, HERE,
        "bad argument #2 to 'load' (table expected, got number)")
      raises(function() tc.load(path, "include_dirs") end, HERE,
        "bad argument #2 to 'load' (table expected, got string)")
      raises(function() tc.load(path, { include_dirs = FIX .. "search" }) end, HERE,
        "bad argument #2 to 'load' ('include_dirs' must be a list of strings)")
      raises(function() tc.load(path, { include_dirs = { 5 } }) end, HERE,
        "bad argument #2 to 'load' ('include_dirs' must be a list of strings)")
      raises(function() tc.load(path, { warn = "print" }) end, HERE,
        "bad argument #2 to 'load' ('warn' must be a function)")
    end
    local callable = setmetatable({}, { __call = function() end })
    assert.is_table(tc.load(FIX .. "inc_search.thrift",
      { include_dirs = { FIX .. "search" }, warn = callable }))
  end)

  it("refuses a thriftcorn.include_dirs that is not a list of strings", function()
    local saved = tc.include_dirs
    tc.include_dirs = FIX .. "search"
    local ok, err = pcall(tc.load, FIX .. "inc_diamond.thrift")
    tc.include_dirs = saved
    assert.is_false(ok)
    assert.truthy(tostring(err):find("thriftcorn.include_dirs must be a list of strings", 1, true),
      tostring(err))
  end)

  it("raises 'no such file' at the caller's line and returns the same module twice", function()
    raises(function() tc.load(FIX .. "nope.thrift") end, HERE,
      FIX .. "nope.thrift: cannot open IDL file (no such file or directory)")
    assert.equal(tc.load(FIX .. "alltypes.thrift"), tc.load(FIX .. "../idl/alltypes.thrift"))
  end)

  it("says why a path through a regular file does not open, as the system says", function()
    raises(function() tc.load(FIX .. "alltypes.thrift/x.thrift") end, HERE,
      FIX .. "alltypes.thrift/x.thrift: cannot open IDL file (not a directory)")
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir '" .. dir .. "'"))
    dir = assert(core.realpath(dir))
    local path = dir .. "/through.thrift"
    local f = assert(io.open(path, "w"))
    f:write('include "through.thrift/x.thrift"\n')
    f:close()
    local ok, err = pcall(tc.load, path, { include_dirs = { dir .. "/none" } })
    os.remove(path)
    os.remove(dir)
    assert.is_false(ok)
    assert.equal(path .. ":1:1: cannot find include file 'through.thrift/x.thrift' (searched "
      .. path .. "/x.thrift: Not a directory, " .. dir .. "/none/through.thrift/x.thrift)", err)
  end)
end)

describe("thriftcorn.load of a file reached through a symlink", function()
  -- 'link -> .' in the folder: 'link/x.thrift' is 'x.thrift'
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "/first' '" .. dir .. "/second'"))
  dir = assert(core.realpath(dir))
  assert(os.execute("ln -s . '" .. dir .. "/link'"))
  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
    return dir .. "/" .. name
  end
  teardown(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("is one module, whichever path an include takes", function()
    write("x.thrift", "struct X { 1: i32 a }\n")
    write("b.thrift", 'include "x.thrift"\nstruct B { 1: x.X v }\n')
    write("c.thrift", 'include "link/x.thrift"\nstruct C { 1: x.X v }\n')
    local mod = tc.load(write("top.thrift", 'include "b.thrift"\ninclude "c.thrift"\n'
      .. 'include "x.thrift"\ninclude "link/x.thrift"\n'))
    assert.equal(mod.b.x, mod.c.x)
    assert.equal(mod.x, mod.c.x)
    local v = mod.x.X { a = 7 }
    local bytes = assert(tc.encode(mod.c.C, { v = v }))
    assert.same({ v = { a = 7 } }, assert(tc.decode(mod.b.B, bytes)))
    assert.equal(getmetatable(v), getmetatable(assert(tc.decode(mod.c.C, bytes)).v))
  end)

  it("is not taken for the file its path names once '..' is dropped from the text", function()
    -- 'up/inner/..' is the folder 'up', not the folder that holds 'up'
    assert(os.execute("mkdir -p '" .. dir .. "/up/inner'"))
    write("up/z.thrift", "struct Far {}\n")
    write("z.thrift", "struct Near {}\n")
    assert(os.execute("ln -s up/inner '" .. dir .. "/down'"))
    local ok, err = pcall(tc.load, write("near_far.thrift",
      'include "z.thrift"\ninclude "down/../z.thrift"\n'))
    assert.is_false(ok)
    assert.equal(dir .. "/near_far.thrift:2:1: two included files are named 'z'", err)
  end)

  it("that closes an include cycle is reported as the cycle", function()
    local a = write("a.thrift", 'include "link/a.thrift"\n')
    local ok, err = pcall(tc.load, a)
    assert.is_false(ok)
    assert.equal(a .. ":1:1: include cycle: " .. a .. " -> " .. dir .. "/link/a.thrift (the "
      .. "same file as " .. a .. ")", err)
  end)

  it("stops the search for an include at a file there that does not open", function()
    local top = write("first/top.thrift", 'include "y.thrift"\nstruct T { 1: y.Y y }\n')
    write("second/y.thrift", "struct Y {}\n")
    assert.is_table(tc.load(top, { include_dirs = { dir .. "/second" } }))
    -- a symlink to itself, which open() refuses as it refuses a file without permission
    assert(os.execute("ln -s y.thrift '" .. dir .. "/first/y.thrift'"))
    top = write("first/top2.thrift", 'include "y.thrift"\nstruct T { 1: y.Y y }\n')
    local ok, err = pcall(tc.load, top, { include_dirs = { dir .. "/second" } })
    assert.is_false(ok)
    assert.equal(top .. ":1:1: cannot read include file 'y.thrift' (" .. dir .. "/first/y.thrift"
      .. "): Too many levels of symbolic links", err)
  end)
end)

describe("thriftcorn.encode, decode and encode_message", function()
  local mod = tc.load(TUTORIAL)
  local add = mod.Calculator.by_name.add

  it("raise misuse errors at the caller's line, naming themselves", function()
    raises(function() tc.encode(mod.Calculator, {}) end, HERE,
      "bad argument #1 to 'encode' (expected a struct from thriftcorn.load())")
    raises(function() tc.encode(mod.Work, {}, "json") end, HERE,
      "bad argument #3 to 'encode' (invalid option 'json')")
    raises(function() tc.decode(add, "\0") end, HERE,
      "bad argument #1 to 'decode' (expected a struct from thriftcorn.load())")
    raises(function() tc.decode(mod.Work) end, HERE,
      "bad argument #2 to 'decode' (string expected, got no value)")
    raises(function() tc.decode(mod.Work, "\0", "xml") end, HERE,
      "bad argument #3 to 'decode' (invalid option 'xml')")
    raises(function() tc.encode_message("add", 1, 1, mod.Calculator, {}) end, HERE,
      "bad argument #4 to 'encode_message' (expected a struct from thriftcorn.load())")
    raises(function() tc.encode_message("add", 9, 1, add.args, {}) end, HERE,
      "bad argument #2 to 'encode_message' (invalid message type)")
    raises(function() tc.encode_message("add", 3, 1, nil, 5) end, HERE,
      "bad argument #5 to 'encode_message' (table expected, got number)")
  end)

  it("encode_message names its missing value, not a buffer of its own", function()
    -- with arguments left off, the function's scratch buffer once took
    -- their place: it was named as #5, or encoded as the value
    raises(function() tc.encode_message("x", 3, 1) end, HERE,
      "bad argument #5 to 'encode_message' (table expected, got no value)")
    raises(function() tc.encode_message("x", 3, 1, nil) end, HERE,
      "bad argument #5 to 'encode_message' (table expected, got no value)")
    raises(function() tc.encode_message("add", 1, 1, add.args) end, HERE,
      "bad argument #5 to 'encode_message' (value expected)")
    assert.same({ nil, "expected a table (Calculator.add_args), got nil", core.ETYPE },
      { tc.encode_message("add", 1, 1, add.args, nil) })
  end)

  it("return what the page says: decode the value alone", function()
    local bytes = assert(tc.encode(mod.Work, mod.Work { num2 = 2 }))
    local n = select("#", tc.decode(mod.Work, bytes))
    assert.equal(1, n)
    assert.same({ num1 = 0, num2 = 2 }, tc.decode(mod.Work, bytes))
    local v, msg, code = tc.decode(mod.Work, bytes:sub(1, 3))
    assert.is_nil(v)
    assert.equal("tutorial.Work.num1: message truncated", msg)
    assert.equal(core.EPROTO, code)
    -- the TApplicationException of encode_message takes nil or false for the struct
    assert.equal(tc.encode_message("x", 3, 1, nil, { type = 1 }),
      tc.encode_message("x", 3, 1, false, { type = 1 }))
  end)
end)

describe("thriftcorn.decode_message", function()
  local calc = tc.load(TUTORIAL)
  local svc = calc.Calculator
  local MT = tc.MessageType
  local call = assert(tc.encode_message("add", MT.CALL, 1, svc.by_name.add.args,
    { num1 = 1, num2 = 2 }))

  it("refuses anything but a service as #1", function()
    local want = "bad argument #1 to 'decode_message' (expected a service from thriftcorn.load())"
    for _, notsvc in ipairs({ calc.Work, svc.by_name.add, { by_name = svc.by_name }, calc }) do
      raises(function() tc.decode_message(notsvc, call) end, HERE, want)
    end
    raises(function() tc.decode_message(nil, call) end, HERE, want)
  end)

  it("names itself and its own positions for bad bytes and a bad protocol", function()
    raises(function() tc.decode_message(svc) end, HERE,
      "bad argument #2 to 'decode_message' (string expected, got nil)")
    raises(function() tc.decode_message(svc, {}) end, HERE,
      "bad argument #2 to 'decode_message' (string expected, got table)")
    raises(function() tc.decode_message(svc, call, "json") end, HERE,
      "bad argument #3 to 'decode_message' (invalid option 'json')")
    raises(function() tc.decode_message(svc, call, true) end, HERE,
      "bad argument #3 to 'decode_message' (string expected, got boolean)")
    assert.equal("add", assert(tc.decode_message(svc, call, "binary")).name)
  end)

  it("fails on a message type that is none of MessageType's", function()
    local body = assert(tc.encode(svc.by_name.add.args, { num1 = 1, num2 = 2 }))
    for _, mtype in ipairs({ 0, 5, 127 }) do
      local bytes = "\x80\1\0" .. string.char(mtype) .. string.pack(">s4i4", "add", 1) .. body
      local v, msg, code = tc.decode_message(svc, bytes)
      assert.is_nil(v)
      assert.equal("binary message header: invalid message type " .. mtype, msg)
      assert.equal(core.EPROTO, code)
    end
    local cbody = assert(tc.encode(svc.by_name.add.args, { num1 = 1, num2 = 2 }, "compact"))
    local v, msg, code = tc.decode_message(svc, "\x82" .. string.char(0x01 | (5 << 5))
      .. "\1\3add" .. cbody, "compact")
    assert.is_nil(v)
    assert.equal("compact message header: invalid message type 5", msg)
    assert.equal(core.EPROTO, code)
  end)
end)

describe("the functions of a handler's call", function()
  it("sleep takes seconds from 0 and refuses anything else", function()
    tc.sleep(0)
    tc.sleep(0.001)
    raises(function() tc.sleep() end, "bad argument #1 to 'sleep' (number expected, got no value)")
    raises(function() tc.sleep("soon") end,
      "bad argument #1 to 'sleep' (number expected, got string)")
    raises(function() tc.sleep(-1) end, "bad argument #1 to 'sleep' (seconds out of range)")
    raises(function() tc.sleep(0 / 0) end, "bad argument #1 to 'sleep' (seconds out of range)")
    raises(function() tc.sleep(math.huge) end, "bad argument #1 to 'sleep' (seconds out of range)")
  end)

  it("outside a call: request_headers() is empty, set_response_header() false", function()
    assert.same({}, tc.request_headers())
    assert.is_false(tc.set_response_header("served-by", "spec"))
    raises(function() tc.set_response_header() end,
      "bad argument #1 to 'set_response_header' (string expected, got no value)")
    raises(function() tc.set_response_header("k", {}) end,
      "bad argument #2 to 'set_response_header' (string expected, got table)")
  end)

  it("throw raises its value as error(ex, 0) does", function()
    local mod = tc.load(TUTORIAL)
    local ex = mod.InvalidOperation { whatOp = 4, why = "Cannot divide by 0" }
    local ok, err = pcall(tc.throw, ex)
    assert.is_false(ok)
    assert.equal(ex, err)
  end)
end)
