-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.idl against Apache Thrift's own compiler: every .thrift file
-- under tests/fixtures (the conformance/ corpus among them) and a generated
-- long file are loaded by thriftcorn and compiled by `thrift -r --gen json`
-- and `--gen xml`; whatever both describe must agree. From the JSON: every
-- struct, union and exception with each field's id, name, type (typedefs
-- resolved; container annotations), requiredness, default value, doc and
-- annotations; enums with their values and docs; typedefs; constants with
-- their values; services with their functions, arguments, throws, return
-- types, oneway and extends; namespaces, includes, the order of the
-- definitions. From the XML, which names what the JSON of Apache Thrift
-- 0.17 reduces to i32: the enum of every type.
--
-- Not compared, as thriftcorn's doc has no place for them: the doc comment
-- of the file, of a typedef and of a constant. Annotations on base types
-- appear in neither output. Deliberate differences are listed in EXPECTED
-- (each must occur); files that one side refuses in REFUSED.

local idl = require("thriftcorn.idl")
local cu = require("idl_conformance_util")

local FIXTURES = "tests/fixtures"

-- ---- expectations ----

local UUID = "Apache Thrift 0.17 has no uuid type (0.19+ has); thriftcorn takes it "
  .. "(docs/idl.md, What is supported)"

-- Files that the compiler or thriftcorn refuses, by path. compiler: a text
-- of the compiler's error (true: any failure); thriftcorn: a text of
-- thriftcorn's error; may_accept: a newer compiler takes the file, and it is
-- then compared as any other.
local REFUSED = {
  ["idl/uuid.thrift"] = { compiler = 'Type "uuid" not defined', why = UUID, may_accept = true },
  ["idl/apache_compat.thrift"] = { compiler = 'Type "uuid" not defined', why = UUID,
    may_accept = true },
  ["codec_c.thrift"] = { compiler = 'Type "uuid" not defined', why = UUID, may_accept = true },
  ["defaults_c.thrift"] = { compiler = 'Type "uuid" not defined', why = UUID,
    may_accept = true },
  ["idl/syntax.thrift"] = { compiler = "identifier THIRD is unqualified",
    why = "a bare enum value as an enum constant: Apache 0.17 refuses it, thriftcorn takes it "
      .. "(docs/idl.md, What is supported)" },
  ["idl/inc_cycle_a.thrift"] = { compiler = true, thriftcorn = "include cycle",
    why = "an include cycle (Apache 0.17's compiler crashes on it)" },
  ["idl/inc_cycle_b.thrift"] = { compiler = true, thriftcorn = "include cycle",
    why = "an include cycle (Apache 0.17's compiler crashes on it)" },
  ["idl/inc_missing.thrift"] = { compiler = "Parser error during include pass",
    thriftcorn = "cannot find include file", why = "an include file that does not exist" },
  ["idl/conformance/obsolete_senum.thrift"] = { compiler = '"senum" is no longer supported',
    thriftcorn = "'senum' is obsolete and not supported", why = "'senum' is obsolete" },
  ["idl/conformance/obsolete_namespace.thrift"] = {
    compiler = "Unsupported declaration 'java_package'. Use 'namespace java' instead.",
    thriftcorn = "'java_package' is obsolete and not supported, use 'namespace java <name>'",
    why = "a namespace header of Thrift before 0.9" },
  ["idl/conformance/big_field_id.thrift"] = { thriftcorn = "out of range (1..32767)",
    why = "a field id above 32767 does not fit the wire's 16 bits: Apache 0.17 only warns "
      .. "(docs/idl.md, Apache Thrift semantics kept)" },
}

-- Include folders (-I) of files that need them, by path.
local INCLUDE_DIRS = {
  ["idl/inc_search.thrift"] = { FIXTURES .. "/idl/search" },
}

local ONEWAY = "a oneway function that is not void loses its return type, as no reply is "
  .. "sent (docs/idl.md, Apache Thrift semantics kept)"
local TYPEDEF_ANNOTATIONS = "annotations after a typedef's name are not kept in the doc "
  .. "(docs/idl.md, The doc)"

-- Deliberate differences: [path]["view path"] = why. The view is json or xml;
-- the path is the one a difference is reported at.
local EXPECTED = {
  ["idl/conformance/annotations.thrift"] = {
    ["json typedefs.StringDeque.annotations"] = TYPEDEF_ANNOTATIONS,
  },
  ["idl/conformance/legacy.thrift"] = {
    ["json services.Legacy.functions.fire_counted.returns"] = ONEWAY,
    ["xml services.Legacy.functions.fire_counted.returns"] = ONEWAY,
  },
}

-- ---- running the compiler ----

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Output (stdout and stderr) and success of a shell command.
local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok == true
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err
  end
  local s = f:read("a")
  f:close()
  return s
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local THRIFT
do
  local out, ok = run("command -v thrift")
  THRIFT = ok and out:match("^(%S+)") or nil
end

-- Runs `thrift -r --gen json --gen xml` on 'path' into 'dir' (made if
-- needed). Returns the output and whether it succeeded. The compiler runs
-- without the sanitizer runtime that an ASan build preloads into lua5.4
-- (tests/CMakeLists.txt): it is not ours, and would run much slower.
local function compile(path, dir, include_dirs)
  local args = { "mkdir -p", shell_quote(dir), "&& env -u LD_PRELOAD", shell_quote(THRIFT),
                 "-r --gen json --gen xml -out", shell_quote(dir) }
  for _, d in ipairs(include_dirs or {}) do
    args[#args + 1] = "-I " .. shell_quote(d)
  end
  args[#args + 1] = shell_quote(path)
  return run(table.concat(args, " "))
end

-- ---- the corpus ----

local function find_thrift_files()
  local out = run("find " .. FIXTURES .. " -name '*.thrift' -type f | LC_ALL=C sort")
  local files = {}
  for line in out:gmatch("[^\n]+") do
    files[#files + 1] = line:sub(#FIXTURES + 2)
  end
  return files
end

-- A long file of many definitions of every kind, each unlike the last.
local function long_idl(n)
  local out = { "namespace py conformance.long", "namespace java org.example.long", "" }
  local function add(fmt, ...)
    out[#out + 1] = string.format(fmt, ...)
  end
  local seps = { ",", ";", "" }
  for i = 1, n // 10 do
    add("/** Enum %d. */", i)
    add("enum E%d { A%d, B%d = %d%s C%d%s D%d = 0x%x }", i, i, i, i * 3, seps[i % 3 + 1], i,
      seps[(i + 1) % 3 + 1], i, i * 7)
    add("typedef list<E%d> EList%d", i, i)
  end
  for i = 1, n do
    local e = (i - 1) % (n // 10) + 1
    add("typedef i%d Int%d", ({ 16, 32, 64 })[i % 3 + 1], i)
    add("typedef Int%d IntAlias%d", i, i)
    add("/**\n * Struct %d,\n * with a doc of two lines.\n */", i)
    -- a union may give a default to one member only
    local union = i % 4 == 3
    add("%s S%d {", ({ "struct", "struct", "exception", "union" })[i % 4 + 1], i)
    add("  1: %sIntAlias%d a = %d%s // field a", union and "" or "required ", i, -i,
      seps[i % 3 + 1])
    add("  2: optional map<string, list<E%d>> b%s%s", e, union and "" or string.format(
      " = {\"k%d\": [E%d.A%d, E%d.D%d]}", i, e, e, e, e), seps[(i + 1) % 3 + 1])
    add("  3: %s c (note = \"%d\")", i > 1 and "S" .. (i - 1) or "string", i)
    add("  /** field d */ 4: double d%s,", union and "" or " = "
      .. ({ "1e3", "-2.5", ".125", "7" })[i % 4 + 1])
    add("  5: set<EList%d> e", e)
    add("}%s", i % 5 == 0 and " (long.index = \"" .. i .. "\")" or "")
    add("const Int%d K%d = %s", i, i, i % 2 == 0 and tostring(i * 10) or "0x" .. i)
    add("const map<string, list<i32>> M%d = {\"a\": [%d, %d], \"b\": []}", i, i, -i)
  end
  for i = 1, n // 10 do
    add("service Svc%d%s {", i, i > 1 and " extends Svc" .. (i - 1) or "")
    for k = 1, 10 do
      local s = (i - 1) * 10 + k
      if k == 10 then
        add("  oneway void fire%d_%d(1: string what)", i, k)
      else
        add("  S%d call%d_%d(1: IntAlias%d a, 2: list<S%d> b) throws (1: S%d ex)%s", s, i, k,
          s, s, ((s - 1) // 4) * 4 + 2, seps[k % 3 + 1])
      end
    end
    add("}")
  end
  return table.concat(out, "\n") .. "\n"
end

-- ---- the spec ----

describe("thriftcorn.idl against Apache Thrift's compiler", function()
  local tmp_dir = os.tmpname()
  os.remove(tmp_dir)
  assert(os.execute("mkdir -p " .. shell_quote(tmp_dir)))
  local enum_as_i32
  local counter = 0
  local long_path = tmp_dir .. "/long.thrift"

  -- A new folder for the compiler's output.
  local function out_dir()
    counter = counter + 1
    return string.format("%s/%d", tmp_dir, counter)
  end

  teardown(function()
    os.execute("rm -rf " .. shell_quote(tmp_dir))
  end)

  lazy_setup(function()
    -- Never skipped: thrift-compiler is a test dependency
    -- (scripts/packages-test.txt).
    assert(THRIFT, "the thrift compiler (Debian package thrift-compiler) is not installed")
    -- Apache Thrift 0.17's JSON writes an enum type as i32; later ones say
    -- "enum" and name it.
    local probe, dir = tmp_dir .. "/probe.thrift", out_dir()
    write_file(probe, "enum E { A }\nstruct S { 1: E e }\n")
    local out, ok = compile(probe, dir)
    assert(ok, out)
    local j = cu.json_decode(assert(read_file(dir .. "/probe.json")))
    enum_as_i32 = j.structs[1].fields[1].typeId == "i32"
    write_file(long_path, long_idl(400))
  end)

  -- Loads 'path' and compiles it, then compares every file of its include
  -- tree. Returns the differences ("view path" -> a line that tells it), or
  -- nil, thriftcorn's error and the compiler's output when the compiler
  -- refuses the file.
  local function compare(path, include_dirs)
    local dir = out_dir()
    local doc, err = idl.load(path, { include_dirs = include_dirs })
    local out, ok = compile(path, dir, include_dirs)
    if not ok then
      return nil, err, out
    end
    assert(doc, "thriftcorn refuses what the compiler takes: " .. tostring(err))
    -- Every file of the include tree, each once: the compiler wrote
    -- <stem>.json and <stem>.xml for each.
    local docs, seen, stems = {}, {}, {}
    local function walk(d)
      if seen[d] then
        return
      end
      seen[d] = true
      assert(not stems[d.name], "two included files named " .. d.name)
      stems[d.name] = true
      docs[#docs + 1] = d
      for _, stem in ipairs(cu.sorted_keys(d.includes)) do
        walk(d.includes[stem])
      end
    end
    walk(doc)
    local xdocs, xtypes = {}, {}
    for _, d in ipairs(docs) do
      local x = cu.xml_decode(assert(read_file(dir .. "/" .. d.name .. ".xml")))
      xdocs[d.name] = cu.xml_kid(cu.xml_kid(x, "idl"), "document")
      xtypes[d.name] = cu.xml_types(xdocs[d.name])
    end
    local found = {}
    for _, d in ipairs(docs) do
      local j = cu.json_decode(assert(read_file(dir .. "/" .. d.name .. ".json")))
      local view = { enum_as_i32 = enum_as_i32, annotations = true }
      local jd = cu.diff(cu.tc_canon(d, view), cu.json_canon(j, d), "", {})
      local xd = cu.diff(cu.types_only(cu.tc_canon(d, {})),
        cu.types_only(cu.xml_canon(xtypes, d.name, xdocs[d.name])), "", {})
      for view_name, list in pairs({ json = jd, xml = xd }) do
        for _, x in ipairs(list) do
          local key = view_name .. " " .. x.path
          if d ~= doc then
            key = view_name .. " " .. d.name .. ".thrift: " .. x.path
          end
          found[key] = string.format("%s: thriftcorn %s, compiler %s", key, x.tc, x.compiler)
        end
      end
    end
    return found
  end

  local function check(rel, path)
    local found, err, out = compare(path, INCLUDE_DIRS[rel])
    local refused = REFUSED[rel]
    if not found then
      assert(refused and refused.compiler, "the compiler refuses " .. rel .. ":\n" .. out)
      if refused.compiler ~= true then
        assert(out:find(refused.compiler, 1, true), "the compiler refuses " .. rel
          .. " for another reason than " .. refused.why .. ":\n" .. out)
      end
      if refused.thriftcorn then
        assert(err and err:find(refused.thriftcorn, 1, true), "thriftcorn should refuse " .. rel
          .. " (" .. refused.why .. "), " .. (err and "but says " .. err or "but loads it"))
      else
        assert(err == nil, "thriftcorn refuses " .. rel .. ": " .. tostring(err))
      end
      return
    end
    assert(not (refused and refused.compiler and not refused.may_accept),
      "the compiler now takes " .. rel .. ": remove it from REFUSED")
    local expected = EXPECTED[rel] or {}
    local unexpected, missing = {}, {}
    for _, key in ipairs(cu.sorted_keys(found)) do
      if not expected[key] then
        unexpected[#unexpected + 1] = found[key]
      end
    end
    for _, key in ipairs(cu.sorted_keys(expected)) do
      if not found[key] then
        missing[#missing + 1] = key .. " (" .. expected[key] .. ")"
      end
    end
    if #unexpected > 60 then
      local n = #unexpected
      table.move({ "... and " .. (n - 60) .. " more" }, 1, 1, 61, unexpected)
      for i = 62, n do
        unexpected[i] = nil
      end
    end
    assert(#unexpected == 0, rel .. ": thriftcorn and the compiler differ:\n  "
      .. table.concat(unexpected, "\n  "))
    assert(#missing == 0, rel .. ": expected differences that did not occur:\n  "
      .. table.concat(missing, "\n  "))
  end

  -- thriftcorn's own refusals: the compiler takes the file, thriftcorn
  -- must refuse it with the documented message.
  local function check_tc_refusal(rel, path)
    local refused = REFUSED[rel]
    local doc, err = idl.load(path, { include_dirs = INCLUDE_DIRS[rel] })
    assert.is_nil(doc)
    assert.is_truthy(err:find(refused.thriftcorn, 1, true), err)
    local out, ok = compile(path, out_dir(), INCLUDE_DIRS[rel])
    assert(ok, "the compiler refuses " .. rel .. " too: remove it from REFUSED:\n" .. out)
  end

  for _, rel in ipairs(find_thrift_files()) do
    local refused = REFUSED[rel]
    local path = FIXTURES .. "/" .. rel
    if refused and not refused.compiler then
      it("refuses " .. rel .. ", which the compiler takes: " .. refused.why, function()
        check_tc_refusal(rel, path)
      end)
    elseif refused then
      it("agrees on " .. rel .. " or both see why it is refused: " .. refused.why, function()
        check(rel, path)
      end)
    else
      it("agrees with the compiler on " .. rel, function()
        check(rel, path)
      end)
    end
  end

  it("agrees with the compiler on a long generated file", function()
    check("long.thrift", long_path)
  end)

  it("lists only paths of files that exist", function()
    local exists = {}
    for _, rel in ipairs(find_thrift_files()) do
      exists[rel] = true
    end
    for _, t in ipairs({ REFUSED, INCLUDE_DIRS, EXPECTED }) do
      for rel in pairs(t) do
        assert.is_true(exists[rel], rel)
      end
    end
  end)
end)
