-- SPDX-License-Identifier: Apache-2.0
-- Thrift IDL loader. An LPeg grammar turns one .thrift text into an AST
-- (M.parse); the resolver turns a file and its includes into the doc that
-- the C schema compiler and thriftcorn.schema build on (M.load).
-- The doc shape is a contract, described in docs/idl.md.

local lpeg = require("lpeg")

local M = {}

local P, R, S, V = lpeg.P, lpeg.R, lpeg.S, lpeg.V
local C, Cc, Cg, Ct, Cp = lpeg.C, lpeg.Cc, lpeg.Cg, lpeg.Ct, lpeg.Cp
local Cmt, Carg, Cf, Cs = lpeg.Cmt, lpeg.Carg, lpeg.Cf, lpeg.Cs

local INT32_MIN, INT32_MAX = -2147483648, 2147483647

-- ---- positions and errors ----

-- Errors travel as a table with this metatable, so that load and parse can
-- tell them from bugs, and leave as one "file:line:col: message" string.
local Failure = {}

local function raise(msg)
  error(setmetatable({ msg = msg }, Failure), 0)
end

local function fail_at(file, line, col, msg)
  raise(string.format("%s:%d:%d: %s", file, line, col, msg))
end

local function line_starts(text)
  local starts, n, i = { 1 }, 1, 1
  while true do
    local j = text:find("\n", i, true)
    if not j then
      return starts
    end
    n = n + 1
    starts[n] = j + 1
    i = j + 1
  end
end

-- Parse state 'st' = { text, name, starts }: line/col of a byte offset.
local function locate(st, pos)
  local starts = st.starts
  if not starts then
    starts = line_starts(st.text)
    st.starts = starts
  end
  local lo, hi = 1, #starts
  while lo < hi do
    local mid = (lo + hi + 1) // 2
    if starts[mid] <= pos then
      lo = mid
    else
      hi = mid - 1
    end
  end
  return lo, pos - starts[lo] + 1
end

-- ---- lexical patterns ----

local alpha = R("az", "AZ") + P("_")
local alnum = alpha + R("09")
local word_end = -alnum
local digit = R("09")
local hexdigit = R("09", "af", "AF")

local nl = P("\n")
local space = S(" \t\r\n\f\v") ^ 1
local line_comment = (P("//") + P("#")) * (1 - nl) ^ 0
local block_comment = P("/*") * (1 - P("*/")) ^ 0 * P("*/")
local doc_comment = P("/**") * -P("/") * (1 - P("*/")) ^ 0 * P("*/")

-- Matches 'p' only to fail with 'msg' at its start.
local function fail_on(p, msg)
  return Cmt(Cp() * p * Carg(1), function(_, _, start, st)
    local line, col = locate(st, start)
    fail_at(st.name, line, col, msg)
  end)
end

local open_comment = fail_on(P("/*"), "unterminated comment")
local ws = (space + line_comment + block_comment + open_comment) ^ 0

-- Doc comment text without the comment markers and the leading '*' of
-- each line, trimmed of blank first and last lines.
local function clean_doc(raw)
  local lines = {}
  for line in (raw:sub(4, -3) .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = line:match("^%s*%*? ?(.-)%s*$")
  end
  while #lines > 0 and lines[1] == "" do
    table.remove(lines, 1)
  end
  while #lines > 0 and lines[#lines] == "" do
    lines[#lines] = nil
  end
  if #lines == 0 then
    return nil
  end
  return table.concat(lines, "\n")
end

local function last_doc(docs)
  if #docs == 0 then
    return nil
  end
  return clean_doc(docs[#docs])
end

-- Whitespace before an item: its value is the last doc comment, or nil.
local docws = Ct((space + line_comment + C(doc_comment) + block_comment + open_comment) ^ 0)
  / last_doc

local KEYWORDS = {
  "include", "cpp_include", "namespace", "const", "typedef", "enum", "senum", "struct",
  "union", "exception", "service", "extends", "throws", "oneway", "async", "void",
  "required", "optional", "bool", "byte", "i8", "i16", "i32", "i64", "double", "string",
  "binary", "uuid", "map", "list", "set", "slist", "true", "false", "cpp_type",
  "xsd_all", "xsd_optional", "xsd_nillable", "xsd_attrs",
}
local keyword = P(false)
for _, w in ipairs(KEYWORDS) do
  keyword = keyword + P(w) * word_end
end

local simple_raw = -keyword * C(alpha * alnum ^ 0)
-- "enum.tag" is an identifier, as in Apache's longest-match lexer.
local dotted_raw = -(keyword * -P(".")) * C(alpha * alnum ^ 0 * (P(".") * alpha * alnum ^ 0) ^ 0)
local any_word_raw = C(alpha * alnum ^ 0)

local function kw(w)
  return ws * P(w) * word_end
end

local function sym(s)
  return ws * P(s)
end

local sep = sym(",") + sym(";")

local ESCAPES = { n = "\n", r = "\r", t = "\t", ['"'] = '"', ["'"] = "'", ["\\"] = "\\" }
local bad_escape = fail_on(P("\\"), "bad escape sequence in string literal")

local function quoted(q)
  local esc = (P("\\") * C(S("nrt\"'\\"))) / ESCAPES + bad_escape
  return P(q) * Cs(((1 - S(q .. "\\\n")) + esc) ^ 0) * P(q)
end

local literal_raw = quoted('"') + quoted("'")
  + fail_on(S("\"'"), "unterminated string literal")

-- Integer literal text to a Lua integer, nil when it does not fit i64
-- (hex too, as Apache Thrift's strtoll does).
local function to_int(text)
  local neg = text:sub(1, 1) == "-"
  local t = text:gsub("^[+-]", "")
  local v
  if t:find("^0[xX]") then
    local h = t:sub(3):gsub("^0+", "")
    if #h > 16 or (#h == 16 and h:sub(1, 1):lower() > "7") then
      return nil
    end
    v = h == "" and 0 or tonumber(h, 16)
  else
    local d = t:gsub("^0+", "")
    if #d > 19 or (#d == 19 and d > "9223372036854775807") then
      if neg and d == "9223372036854775808" then
        return math.mininteger
      end
      return nil
    end
    v = d == "" and 0 or math.tointeger(tonumber(d))
  end
  return neg and -v or v
end

local sign = S("+-") ^ -1
local exponent = S("eE") * sign * digit ^ 1
local int_text = sign * (P("0") * S("xX") * hexdigit ^ 1 + digit ^ 1) * -(alnum + P("."))
local int_raw = Cmt(C(int_text) * Carg(1), function(_, pos, text, st)
  local v = to_int(text)
  if not v then
    local line, col = locate(st, pos - #text)
    fail_at(st.name, line, col, "integer constant " .. text .. " does not fit in 64 bits")
  end
  return pos, v
end)
local double_raw = C(sign * (digit ^ 0 * P(".") * digit ^ 1 * exponent ^ -1 + digit ^ 1 * exponent))
  * word_end / function(text) return tonumber((text:gsub("^%+", ""))) + 0.0 end

-- Token at a position for "found ..." in messages.
local token_pat = C(S("+-") ^ -1 * (alnum + P(".")) ^ 1)
  + C(S("\"'") * (1 - S("\"'\n")) ^ 0 * S("\"'") ^ -1)
  + C(P(1) * R("\128\191") ^ 0)

local function describe(st, pos)
  local p = lpeg.match(ws, st.text, pos, st) or pos
  local line, col = locate(st, p)
  if p > #st.text then
    return "end of file", line, col
  end
  local tok = lpeg.match(token_pat, st.text, p)
  if #tok > 40 then
    tok = tok:sub(1, 37) .. "..."
  end
  return "'" .. tok .. "'", line, col
end

local function expected(what)
  return Cmt(Carg(1), function(_, pos, st)
    local found, line, col = describe(st, pos)
    fail_at(st.name, line, col, "expected " .. what .. ", found " .. found)
  end)
end

local function expect(p, what)
  return p + expected(what)
end

local at = Cg(Cp() * Carg(1) / function(p, st) return (locate(st, p)) end, "line")
  * Cg(Cp() * Carg(1) / function(p, st)
    local _, col = locate(st, p)
    return col
  end, "col")

local function kind(k)
  return Cg(Cc(k), "kind")
end

local function obsolete(word)
  return fail_on(P(word) * word_end, "'" .. word .. "' is obsolete and not supported")
end

-- ---- grammar ----

local function struct_rule(word, what)
  return kw(word) * kind(word)
    * Cg(expect(ws * simple_raw, what), "name")
    * kw("xsd_all") ^ -1
    * expect(sym("{"), "'{'")
    * Cg(V("fields"), "fields")
    * expect(sym("}"), "a field or '}'")
    * Cg(V("annotations"), "annotations") ^ -1
end

local BASE_TYPES = { "bool", "byte", "i8", "i16", "i32", "i64", "double", "string", "binary",
  "uuid" }
local base_kw = P(false)
for _, w in ipairs(BASE_TYPES) do
  base_kw = base_kw + C(P(w)) * word_end
end

local grammar = P({
  "document",
  document = Ct(V("item") ^ 0) * ws * expect(-P(1), "a definition"),

  item = Ct(Cg(docws, "doc") * at * (
    V("include") + V("cpp_include") + V("namespace") + V("typedef") + V("const")
    + V("enum") + V("struct") + V("union") + V("exception") + V("service")
    + obsolete("senum")
  )) * sep ^ -1,

  include = kw("include") * kind("include")
    * Cg(expect(ws * literal_raw, "a file name string"), "path"),
  cpp_include = kw("cpp_include") * kind("cpp_include")
    * Cg(expect(ws * literal_raw, "a file name string"), "path"),
  namespace = kw("namespace") * kind("namespace")
    * Cg(expect(sym("*") * Cc("*") + ws * dotted_raw, "a namespace scope"), "scope")
    * Cg(expect(ws * dotted_raw, "a namespace name"), "name")
    * Cg(V("annotations"), "annotations") ^ -1,

  typedef = kw("typedef") * kind("typedef")
    * Cg(expect(V("field_type"), "a type"), "type")
    * Cg(expect(ws * simple_raw, "a typedef name"), "name")
    * Cg(V("annotations"), "annotations") ^ -1,

  const = kw("const") * kind("const")
    * Cg(expect(V("field_type"), "a type"), "type")
    * Cg(expect(ws * simple_raw, "a constant name"), "name")
    * expect(sym("="), "'='")
    * Cg(expect(V("const_value"), "a constant value"), "value"),

  enum = kw("enum") * kind("enum")
    * Cg(expect(ws * simple_raw, "an enum name"), "name")
    * expect(sym("{"), "'{'")
    * Cg(Ct(V("enum_value") ^ 0), "values")
    * expect(sym("}"), "an enum value or '}'")
    * Cg(V("annotations"), "annotations") ^ -1,
  enum_value = Ct(Cg(docws, "doc") * at * Cg(simple_raw, "name")
    * (sym("=") * Cg(expect(ws * int_raw, "an integer"), "value")) ^ -1
    * Cg(V("annotations"), "annotations") ^ -1) * sep ^ -1,

  struct = struct_rule("struct", "a struct name"),
  union = struct_rule("union", "a union name"),
  exception = struct_rule("exception", "an exception name"),

  fields = Ct(V("field") ^ 0),
  field = Ct(Cg(docws, "doc") * at * V("field_head")
    * sym("&") ^ -1
    * Cg(expect(ws * any_word_raw, "a field name"), "name")
    * (sym("=") * Cg(expect(V("const_value"), "a default value"), "default")) ^ -1
    * Cg(V("annotations"), "annotations") ^ -1) * sep ^ -1,
  field_head = Cg(ws * int_raw, "id") * expect(sym(":"), "':'")
      * Cg(V("requiredness"), "required") ^ -1
      * Cg(expect(V("field_type"), "a field type"), "type")
    + Cg(V("requiredness"), "required") * Cg(expect(V("field_type"), "a field type"), "type")
    + Cg(V("field_type"), "type"),
  requiredness = kw("required") * Cc("required") + kw("optional") * Cc("optional"),

  service = kw("service") * kind("service")
    * Cg(expect(ws * simple_raw, "a service name"), "name")
    * (kw("extends") * Cg(expect(ws * Ct(at * Cg(dotted_raw, "name")), "a service name"),
      "extends")) ^ -1
    * expect(sym("{"), "'{'")
    * Cg(Ct(V("function") ^ 0), "functions")
    * expect(sym("}"), "a function or '}'")
    * Cg(V("annotations"), "annotations") ^ -1,
  ["function"] = Ct(Cg(docws, "doc") * at
    * (Cg((kw("oneway") + kw("async")) * Cc(true), "oneway")
        * Cg(expect(V("return_type"), "a return type"), "returns")
      + Cg(V("return_type"), "returns"))
    * Cg(expect(ws * simple_raw, "a function name"), "name")
    * expect(sym("("), "'('")
    * Cg(V("fields"), "args")
    * expect(sym(")"), "a parameter or ')'")
    * (kw("throws") * expect(sym("("), "'('") * Cg(V("fields"), "throws")
      * expect(sym(")"), "an exception or ')'")) ^ -1
    * Cg(V("annotations"), "annotations") ^ -1) * sep ^ -1,
  return_type = ws * Ct(kind("void") * at * P("void") * word_end) + V("field_type"),

  field_type = V("base_type") + V("map_type") + V("set_type") + V("list_type")
    + ws * obsolete("slist") + V("type_ref"),
  base_type = ws * Ct(kind("base") * at * Cg(base_kw, "ttype")
    * Cg(V("annotations"), "annotations") ^ -1),
  map_type = ws * Ct(kind("map") * at * P("map") * word_end * V("cpp_type") ^ -1
    * expect(sym("<"), "'<'")
    * Cg(expect(V("field_type"), "a key type"), "key")
    * expect(sym(","), "','")
    * Cg(expect(V("field_type"), "a value type"), "value")
    * expect(sym(">"), "'>'")
    * Cg(V("annotations"), "annotations") ^ -1),
  set_type = ws * Ct(kind("set") * at * P("set") * word_end * V("cpp_type") ^ -1
    * expect(sym("<"), "'<'")
    * Cg(expect(V("field_type"), "an element type"), "elem")
    * expect(sym(">"), "'>'")
    * Cg(V("annotations"), "annotations") ^ -1),
  list_type = ws * Ct(kind("list") * at * P("list") * word_end * V("cpp_type") ^ -1
    * expect(sym("<"), "'<'")
    * Cg(expect(V("field_type"), "an element type"), "elem")
    * expect(sym(">"), "'>'")
    * V("cpp_type") ^ -1
    * Cg(V("annotations"), "annotations") ^ -1),
  cpp_type = Cg(kw("cpp_type") * expect(ws * literal_raw, "a string"), "cpp_type"),
  type_ref = ws * Ct(kind("ref") * at * Cg(dotted_raw, "name")),

  annotations = sym("(")
    * Cf(Ct(true) * Cg(ws * dotted_raw
      * (sym("=") * expect(ws * literal_raw, "an annotation value string") + Cc("1"))
      * sep ^ -1) ^ 0, rawset)
    * expect(sym(")"), "an annotation or ')'"),

  const_value = ws * (V("const_double") + V("const_int") + V("const_string") + V("const_bool")
    + V("const_ident") + V("const_list") + V("const_map")),
  const_double = Ct(kind("double") * at * Cg(double_raw, "value")),
  const_int = Ct(kind("int") * at * Cg(int_raw, "value")),
  const_string = Ct(kind("string") * at * Cg(literal_raw, "value")),
  const_bool = Ct(kind("bool") * at * Cg(P("true") * word_end * Cc(true)
    + P("false") * word_end * Cc(false), "value")),
  const_ident = Ct(kind("ident") * at * Cg(dotted_raw, "name")),
  const_list = Ct(kind("list") * at * P("[")
    * Cg(Ct((V("const_value") * sep ^ -1) ^ 0), "items")
    * expect(sym("]"), "a value or ']'")),
  const_map = Ct(kind("map") * at * P("{")
    * Cg(Ct(V("map_entry") ^ 0), "entries")
    * expect(sym("}"), "a map entry or '}'")),
  map_entry = Ct(Cg(V("const_value"), "key") * expect(sym(":"), "':'")
    * Cg(expect(V("const_value"), "a value"), "value")) * sep ^ -1,
})

-- ---- parse ----

local function protect(f, ...)
  local ok, res = pcall(f, ...)
  if ok then
    return res
  end
  if getmetatable(res) == Failure then
    return nil, res.msg
  end
  return nil, "thriftcorn.idl: " .. tostring(res)
end

local function parse(text, filename)
  local st = { text = text, name = filename }
  local init = text:sub(1, 3) == "\239\187\191" and 4 or 1
  local ok, items = pcall(lpeg.match, grammar, text, init, st)
  if not ok then
    if getmetatable(items) == Failure then
      error(items, 0)
    end
    -- LPeg's own limits: backtrack stack and capture nesting.
    raise(string.format("%s: nested too deeply (%s)", filename,
      tostring(items):gsub("^.-:%d+: ", "")))
  end
  local ast = {
    filename = filename, includes = {}, cpp_includes = {}, namespaces = {}, definitions = {},
  }
  for _, it in ipairs(items) do
    local k = it.kind
    local list = ast.definitions
    if k == "include" then
      list = ast.includes
    elseif k == "cpp_include" then
      list = ast.cpp_includes
    elseif k == "namespace" then
      list = ast.namespaces
    end
    list[#list + 1] = it
  end
  return ast
end

-- Parse one IDL text. Returns the AST, or nil and "file:line:col: message".
function M.parse(text, filename)
  if type(text) ~= "string" then
    return nil, "thriftcorn.idl.parse: text must be a string"
  end
  return protect(parse, text, filename or "<string>")
end

-- ---- paths and files ----

local function normalize(path)
  local absolute = path:sub(1, 1) == "/"
  local parts = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then
      if #parts > 0 and parts[#parts] ~= ".." then
        parts[#parts] = nil
      elseif not absolute then
        parts[#parts + 1] = ".."
      end
    elseif seg ~= "." then
      parts[#parts + 1] = seg
    end
  end
  return (absolute and "/" or "") .. table.concat(parts, "/")
end

local function dirname(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir == nil then
    return "."
  end
  return dir == "" and "/" or dir
end

local function join(dir, name)
  if name:sub(1, 1) == "/" or dir == "." then
    return name
  end
  if dir:sub(-1) == "/" then
    return dir .. name
  end
  return dir .. "/" .. name
end

local function stem_of(path)
  return (path:match("([^/]*)$"):gsub("%.[^.]*$", ""))
end

local function getcwd()
  local pwd = os.getenv("PWD")
  if pwd and pwd:sub(1, 1) == "/" then
    return pwd
  end
  local ok, pipe = pcall(io.popen, "pwd")
  if ok and pipe then
    local dir = pipe:read("l")
    pipe:close()
    return dir
  end
  return nil
end

local function absolute(ctx, path)
  if path:sub(1, 1) == "/" or not ctx.cwd then
    return normalize(path)
  end
  return normalize(ctx.cwd .. "/" .. path)
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, (err:gsub("^.-: ", "", 1))
  end
  local text, rerr = f:read("a")
  f:close()
  if not text then
    return nil, rerr or "read failed"
  end
  return text
end

-- ---- resolution: names and types ----

-- File context 'fc': { ctx, doc, ast, name (path as given), defs (name ->
-- AST definition), state (AST node -> "busy" | "done") }.

local function fail_node(fc, node, fmt, ...)
  fail_at(fc.name, node.line or 0, node.col or 0, string.format(fmt, ...))
end

local function warn(fc, node, fmt, ...)
  fc.ctx.warn(string.format("%s:%d:%d: %s", fc.name, node.line or 0, node.col or 0,
    string.format(fmt, ...)))
end

local function type_name(t)
  local tt = t.ttype
  if tt == "list" or tt == "set" then
    return tt .. "<" .. type_name(t.elem) .. ">"
  elseif tt == "map" then
    return "map<" .. type_name(t.key) .. "," .. type_name(t.value) .. ">"
  elseif tt == "struct" then
    return t.struct.fullname
  elseif tt == "enum" then
    return t.enum.fullname
  end
  return tt
end

-- One type table per struct and per enum within a load, so that references
-- share it (and the structdef it points to).
local function struct_type(ctx, sd)
  local t = ctx.struct_types[sd]
  if not t then
    t = { ttype = "struct", struct = sd }
    ctx.struct_types[sd] = t
  end
  return t
end

local function enum_type(ctx, ed)
  local t = ctx.enum_types[ed]
  if not t then
    t = { ttype = "enum", enum = ed }
    ctx.enum_types[ed] = t
  end
  return t
end

local function split_last(name)
  return name:match("^(.*)%.([^.]+)$")
end

local resolve_type

local function resolve_typedef(fc, def)
  local state = fc.state[def]
  if state == "done" then
    return fc.doc.types[def.name]
  elseif state == "busy" then
    fail_node(fc, def, "typedef '%s' refers to itself", def.name)
  end
  fc.state[def] = "busy"
  local t = resolve_type(fc, def.type)
  fc.doc.types[def.name] = t
  fc.state[def] = "done"
  return t
end

-- Type named 'name' (maybe "include.Name"); nil plus what it is otherwise.
local function lookup_type(fc, name)
  local doc, ctx = fc.doc, fc.ctx
  local prefix, base = split_last(name)
  if not prefix then
    local def = fc.defs[name]
    if not def then
      return nil
    end
    local k = def.kind
    if k == "typedef" then
      return resolve_typedef(fc, def)
    elseif k == "enum" then
      return enum_type(ctx, doc.enums[name])
    elseif k == "struct" or k == "union" or k == "exception" then
      return struct_type(ctx, doc.structs[name])
    end
    return nil, k
  end
  local inc = doc.includes[prefix]
  if not inc then
    return nil
  end
  if inc.types[base] then
    return inc.types[base]
  elseif inc.enums[base] then
    return enum_type(ctx, inc.enums[base])
  elseif inc.structs[base] then
    return struct_type(ctx, inc.structs[base])
  elseif inc.services[base] then
    return nil, "service"
  elseif inc.consts[base] ~= nil then
    return nil, "const"
  end
  return nil
end

function resolve_type(fc, node)
  local k = node.kind
  if k == "base" then
    local tt = node.ttype == "i8" and "byte" or node.ttype
    if node.annotations then
      return { ttype = tt, annotations = node.annotations }
    end
    local base = fc.ctx.base_types
    if not base[tt] then
      base[tt] = { ttype = tt }
    end
    return base[tt]
  elseif k == "list" or k == "set" then
    return { ttype = k, elem = resolve_type(fc, node.elem), annotations = node.annotations }
  elseif k == "map" then
    return { ttype = "map", key = resolve_type(fc, node.key),
             value = resolve_type(fc, node.value), annotations = node.annotations }
  end
  local t, what = lookup_type(fc, node.name)
  if not t then
    if what then
      fail_node(fc, node, "'%s' is a %s, not a type", node.name, what)
    end
    fail_node(fc, node, "unknown type '%s'", node.name)
  end
  return t
end

-- ---- resolution: constant values ----

local INT_RANGE = {
  byte = { -128, 127 }, i16 = { -32768, 32767 }, i32 = { INT32_MIN, INT32_MAX },
  i64 = { math.mininteger, math.maxinteger },
}

local UUID_PAT = "^" .. ("%x"):rep(8) .. "%-" .. ("%x"):rep(4) .. "%-" .. ("%x"):rep(4) .. "%-"
  .. ("%x"):rep(4) .. "%-" .. ("%x"):rep(12) .. "$"

local VALUE_WORDS = {
  int = "an integer", double = "a double", string = "a string", bool = "a boolean",
  list = "a list", map = "a map",
}

local function deep_copy(v)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = deep_copy(x)
  end
  return out
end

local resolve_value

-- A field's default value, resolving it now if needed (struct literals
-- fill in defaults of fields they do not set).
local function field_default(ctx, field)
  local p = ctx.pending_defaults[field]
  if not p then
    return field.default
  end
  if p.busy then
    fail_node(p.fc, p.node, "default value of field '%s' depends on itself", field.name)
  end
  p.busy = true
  field.default = resolve_value(p.fc, p.node, field.type, "default of field '" .. field.name .. "'")
  ctx.pending_defaults[field] = nil
  return field.default
end

local function resolve_const(fc, def)
  local doc = fc.doc
  local state = fc.state[def]
  if state == "done" then
    return doc.consts[def.name], doc.const_types[def.name]
  elseif state == "busy" then
    fail_node(fc, def, "constant '%s' refers to itself", def.name)
  end
  fc.state[def] = "busy"
  local t = resolve_type(fc, def.type)
  local v = resolve_value(fc, def.value, t, "const '" .. def.name .. "'")
  doc.consts[def.name], doc.const_types[def.name] = v, t
  fc.state[def] = "done"
  return v, t
end

-- Value and type of a constant reference: CONST, Enum.VALUE, inc.CONST,
-- inc.Enum.VALUE. Nil when unknown.
local function lookup_const(fc, name)
  local doc, ctx = fc.doc, fc.ctx
  local prefix, last = split_last(name)
  if not prefix then
    local def = fc.defs[name]
    if def and def.kind == "const" then
      return resolve_const(fc, def)
    end
    return nil
  end
  local def = fc.defs[prefix]
  if def and def.kind == "enum" then
    local ed = doc.enums[prefix]
    if ed.by_name[last] ~= nil then
      return ed.by_name[last], enum_type(ctx, ed)
    end
    return nil
  end
  local inc = doc.includes[prefix]
  if inc and inc.consts[last] ~= nil then
    return inc.consts[last], inc.const_types[last]
  end
  local p2, ename = split_last(prefix)
  inc = p2 and doc.includes[p2]
  local ed = inc and inc.enums[ename]
  if ed and ed.by_name[last] ~= nil then
    return ed.by_name[last], enum_type(ctx, ed)
  end
  return nil
end

-- Fit an already resolved constant 'v' of type 'src' into type 't'.
local function coerce(v, src, t)
  local tt = t.ttype
  if tt == "bool" then
    if type(v) == "boolean" then
      return true, v
    elseif math.type(v) == "integer" and (v == 0 or v == 1) then
      return true, v == 1
    end
  elseif INT_RANGE[tt] then
    local r = INT_RANGE[tt]
    if math.type(v) == "integer" and v >= r[1] and v <= r[2] then
      return true, v
    end
  elseif tt == "double" then
    if type(v) == "number" then
      return true, v + 0.0
    end
  elseif tt == "string" or tt == "binary" then
    if type(v) == "string" then
      return true, v
    end
  elseif tt == "uuid" then
    if type(v) == "string" and v:find(UUID_PAT) then
      return true, v
    end
  elseif tt == "enum" then
    if math.type(v) == "integer" and t.enum.by_value[v] then
      return true, v
    end
  elseif tt == "list" and src.ttype == "list" then
    local out = {}
    for i, x in ipairs(v) do
      local ok, y = coerce(x, src.elem, t.elem)
      if not ok then
        return false
      end
      out[i] = y
    end
    return true, out
  elseif tt == "set" and src.ttype == "set" then
    local out = {}
    for x in pairs(v) do
      local ok, y = coerce(x, src.elem, t.elem)
      if not ok then
        return false
      end
      out[y] = true
    end
    return true, out
  elseif tt == "map" and src.ttype == "map" then
    local out = {}
    for k, x in pairs(v) do
      local ok1, k2 = coerce(k, src.key, t.key)
      local ok2, x2 = coerce(x, src.value, t.value)
      if not (ok1 and ok2) then
        return false
      end
      out[k2] = x2
    end
    return true, out
  elseif tt == "struct" and src.ttype == "struct" and src.struct == t.struct then
    return true, deep_copy(v)
  end
  return false
end

local function resolve_ident(fc, node, t, what)
  local name = node.name
  if t.ttype == "enum" then
    -- VALUE, Enum.VALUE or inc.Enum.VALUE of the expected enum.
    local ed = t.enum
    local prefix, last = split_last(name)
    last = last or name
    if ed.by_name[last] ~= nil and (prefix == nil or prefix == ed.name
        or prefix == ed.fullname or prefix:sub(-#ed.name - 1) == "." .. ed.name) then
      return ed.by_name[last]
    end
  end
  local v, src = lookup_const(fc, name)
  if src == nil then
    fail_node(fc, node, "%s: unknown constant '%s'", what, name)
  end
  local ok, out = coerce(v, src, t)
  if not ok then
    fail_node(fc, node, "%s: constant '%s' of type %s does not fit type %s", what, name,
      type_name(src), type_name(t))
  end
  return out
end

local function struct_literal(fc, node, sd, what)
  local by_name = {}
  for _, f in ipairs(sd.fields) do
    by_name[f.name] = f
  end
  local v, any = {}, false
  for _, e in ipairs(node.entries) do
    local key = e.key
    if key.kind ~= "string" then
      fail_node(fc, key, "%s: field names of %s must be strings, found %s", what, sd.fullname,
        VALUE_WORDS[key.kind] or ("'" .. tostring(key.name) .. "'"))
    end
    local f = by_name[key.value]
    if not f then
      fail_node(fc, key, "%s: %s has no field '%s'", what, sd.fullname, key.value)
    end
    v[f.name] = resolve_value(fc, e.value, f.type, what .. " field '" .. f.name .. "'")
    any = true
  end
  if not (sd.kind == "union" and any) then
    for _, f in ipairs(sd.fields) do
      if v[f.name] == nil then
        local d = field_default(fc.ctx, f)
        if d ~= nil then
          v[f.name] = deep_copy(d)
        end
      end
    end
  end
  return v
end

local function mismatch(fc, node, t, what)
  fail_node(fc, node, "%s: expected a value of type %s, found %s", what, type_name(t),
    VALUE_WORDS[node.kind])
end

-- The Lua value of constant AST 'node' for type 't' ('what' names the
-- constant or field in messages).
function resolve_value(fc, node, t, what)
  local k, tt = node.kind, t.ttype
  if k == "ident" then
    return resolve_ident(fc, node, t, what)
  end
  if tt == "bool" then
    if k == "bool" then
      return node.value
    elseif k == "int" and (node.value == 0 or node.value == 1) then
      return node.value == 1
    end
  elseif INT_RANGE[tt] then
    if k == "int" then
      local r = INT_RANGE[tt]
      if node.value < r[1] or node.value > r[2] then
        fail_node(fc, node, "%s: %d is out of range for %s (%d..%d)", what, node.value, tt,
          r[1], r[2])
      end
      return node.value
    end
  elseif tt == "double" then
    if k == "int" or k == "double" then
      return node.value + 0.0
    end
  elseif tt == "string" or tt == "binary" then
    if k == "string" then
      return node.value
    end
  elseif tt == "uuid" then
    if k == "string" then
      if not node.value:find(UUID_PAT) then
        fail_node(fc, node, "%s: '%s' is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
          what, node.value)
      end
      return node.value
    end
  elseif tt == "enum" then
    if k == "int" then
      if not t.enum.by_value[node.value] then
        fail_node(fc, node, "%s: %d is not a value of enum %s", what, node.value,
          t.enum.fullname)
      end
      return node.value
    end
  elseif tt == "list" or tt == "set" then
    if k == "list" then
      local out = {}
      for i, item in ipairs(node.items) do
        local x = resolve_value(fc, item, t.elem, what)
        if tt == "list" then
          out[i] = x
        else
          out[x] = true
        end
      end
      return out
    end
  elseif tt == "map" then
    if k == "map" then
      local out = {}
      for _, e in ipairs(node.entries) do
        local key = resolve_value(fc, e.key, t.key, what .. " map key")
        out[key] = resolve_value(fc, e.value, t.value, what .. " map value")
      end
      return out
    end
  elseif tt == "struct" then
    if k == "map" then
      return struct_literal(fc, node, t.struct, what)
    end
  end
  mismatch(fc, node, t, what)
end

-- ---- resolution: definitions ----

local function build_enum(fc, def)
  local ed = {
    name = def.name, fullname = fc.doc.name .. "." .. def.name,
    values = {}, by_name = {}, by_value = {}, annotations = def.annotations, doc = def.doc,
  }
  local prev = -1
  for _, n in ipairs(def.values) do
    local v = n.value
    if v == nil then
      if prev == INT32_MAX then
        fail_node(fc, n, "implicit value of enum value '%s.%s' is out of i32 range",
          def.name, n.name)
      end
      v = prev + 1
    elseif v < INT32_MIN or v > INT32_MAX then
      fail_node(fc, n, "value %d of enum value '%s.%s' is out of i32 range", v, def.name, n.name)
    end
    prev = v
    if ed.by_name[n.name] ~= nil then
      fail_node(fc, n, "duplicate enum value name '%s' in enum '%s'", n.name, def.name)
    end
    ed.values[#ed.values + 1] = { name = n.name, value = v, annotations = n.annotations,
                                   doc = n.doc }
    ed.by_name[n.name] = v
    if ed.by_value[v] == nil then
      ed.by_value[v] = n.name
    end
  end
  return ed
end

-- Field tables of one field list. mode: "struct", "union", "args" (also
-- throws: Apache ignores 'optional' in the argument lists of a service).
local function build_fields(fc, nodes, where, mode)
  local fields, by_id, by_name = {}, {}, {}
  local next_auto = -1
  local defaults = 0
  for _, n in ipairs(nodes) do
    local id = n.id
    if id == nil or id <= 0 then
      if id == nil then
        warn(fc, n, "field '%s' has no id, assigned %d: the protocol may not be backwards "
          .. "compatible", n.name, next_auto)
      else
        warn(fc, n, "field id %d of '%s' is not positive, assigned %d", id, n.name, next_auto)
      end
      id = next_auto
      next_auto = next_auto - 1
    elseif id > 32767 then
      fail_node(fc, n, "field id %d of '%s' is out of range (1..32767)", id, n.name)
    end
    if by_id[id] then
      fail_node(fc, n, "duplicate field id %d in %s ('%s' and '%s')", id, where,
        by_id[id].name, n.name)
    end
    if by_name[n.name] then
      fail_node(fc, n, "duplicate field name '%s' in %s", n.name, where)
    end
    local req = n.required or "default"
    if mode == "args" and req == "optional" then
      warn(fc, n, "'optional' is ignored in argument lists (field '%s')", n.name)
      req = "default"
    elseif mode == "union" then
      if req == "required" then
        warn(fc, n, "union members are optional, 'required' ignored (field '%s')", n.name)
      end
      req = "optional"
    end
    local f = { id = id, name = n.name, type = resolve_type(fc, n.type), required = req,
                annotations = n.annotations, doc = n.doc }
    if n.default then
      defaults = defaults + 1
      if mode == "union" and defaults > 1 then
        fail_node(fc, n, "%s has more than one default value", where)
      end
      fc.ctx.pending_defaults[f] = { fc = fc, node = n.default }
      fc.defaulted[#fc.defaulted + 1] = f
    end
    fields[#fields + 1] = f
    by_id[id], by_name[n.name] = f, f
  end
  return fields
end

local build_service

local function lookup_service(fc, ref)
  local prefix, base = split_last(ref.name)
  if not prefix then
    local def = fc.defs[ref.name]
    if def and def.kind == "service" then
      return build_service(fc, def)
    elseif def then
      fail_node(fc, ref, "'%s' is a %s, not a service", ref.name, def.kind)
    end
  else
    local inc = fc.doc.includes[prefix]
    if inc and inc.services[base] then
      return inc.services[base]
    end
  end
  fail_node(fc, ref, "unknown service '%s' in extends", ref.name)
end

local function build_function(fc, svc, n)
  local name = n.name
  local fd = { name = name, service = svc, oneway = n.oneway == true,
               annotations = n.annotations, doc = n.doc }
  if n.returns.kind ~= "void" then
    fd.returns = resolve_type(fc, n.returns)
  end
  local args = build_fields(fc, n.args, "arguments of '" .. name .. "'", "args")
  local throws_nodes = n.throws or {}
  local throws = build_fields(fc, throws_nodes, "throws of '" .. name .. "'", "args")
  for i, f in ipairs(throws) do
    local t = f.type
    if t.ttype ~= "struct" or t.struct.kind ~= "exception" then
      fail_node(fc, throws_nodes[i], "throws of '%s': %s is not an exception", name,
        type_name(t))
    end
  end
  if fd.oneway then
    if fd.returns then
      fail_node(fc, n, "oneway function '%s' must return void, not %s", name,
        type_name(fd.returns))
    end
    if #throws > 0 then
      fail_node(fc, n, "oneway function '%s' cannot throw exceptions", name)
    end
  end
  local result = {}
  if fd.returns then
    result[1] = { id = 0, name = "success", type = fd.returns, required = "optional" }
  end
  for _, f in ipairs(throws) do
    result[#result + 1] = { id = f.id, name = f.name, type = f.type, required = "optional",
                            annotations = f.annotations, doc = f.doc }
  end
  local prefix = svc.name .. "." .. name
  fd.args = { kind = "struct", name = name .. "_args", fullname = prefix .. "_args",
              fields = args }
  fd.result = { kind = "struct", name = name .. "_result", fullname = prefix .. "_result",
                fields = result }
  fd.throws = throws
  return fd
end

function build_service(fc, def)
  local svc = fc.doc.services[def.name]
  local state = fc.state[def]
  if state == "done" then
    return svc
  elseif state == "busy" then
    fail_node(fc, def.extends or def, "service '%s' extends itself", def.name)
  end
  fc.state[def] = "busy"
  if def.extends then
    local parent = lookup_service(fc, def.extends)
    svc.extends = parent
    for _, fd in ipairs(parent.all_functions) do
      svc.all_functions[#svc.all_functions + 1] = fd
      svc.by_name[fd.name] = fd
    end
  end
  for _, n in ipairs(def.functions) do
    local prev = svc.by_name[n.name]
    if prev and prev.service == svc then
      fail_node(fc, n, "duplicate function name '%s' in service '%s'", n.name, def.name)
    elseif prev then
      fail_node(fc, n, "function '%s' is already defined in extended service '%s'", n.name,
        prev.service.fullname)
    end
    local fd = build_function(fc, svc, n)
    svc.functions[#svc.functions + 1] = fd
    svc.all_functions[#svc.all_functions + 1] = fd
    svc.by_name[n.name] = fd
  end
  fc.state[def] = "done"
  return svc
end

local ORDER_KIND = { union = "struct", exception = "struct" }

-- Shells for every definition, so that forward references resolve.
local function declare(fc)
  local doc = fc.doc
  for _, def in ipairs(fc.ast.definitions) do
    local name, k = def.name, def.kind
    local prev = fc.defs[name]
    if prev then
      fail_node(fc, def, "duplicate definition name '%s' (first defined at line %d)", name,
        prev.line)
    end
    fc.defs[name] = def
    local fullname = doc.name .. "." .. name
    if k == "enum" then
      doc.enums[name] = build_enum(fc, def)
    elseif k == "struct" or k == "union" or k == "exception" then
      doc.structs[name] = { kind = k, name = name, fullname = fullname, fields = {},
                            annotations = def.annotations, doc = def.doc }
    elseif k == "service" then
      doc.services[name] = { name = name, fullname = fullname, functions = {},
                             all_functions = {}, by_name = {},
                             annotations = def.annotations, doc = def.doc }
    end
    doc.order[#doc.order + 1] = { kind = ORDER_KIND[k] or k, name = name }
  end
end

local function resolve(fc)
  local doc = fc.doc
  declare(fc)
  local defs = fc.ast.definitions
  for _, def in ipairs(defs) do
    if def.kind == "typedef" then
      resolve_typedef(fc, def)
    end
  end
  for _, def in ipairs(defs) do
    local k = def.kind
    if k == "struct" or k == "union" or k == "exception" then
      local where = k .. " '" .. def.name .. "'"
      local fields = build_fields(fc, def.fields, where, k == "union" and "union" or "struct")
      table.move(fields, 1, #fields, 1, doc.structs[def.name].fields)
    end
  end
  for _, def in ipairs(defs) do
    if def.kind == "service" then
      build_service(fc, def)
    end
  end
  for _, def in ipairs(defs) do
    if def.kind == "const" then
      resolve_const(fc, def)
    end
  end
  for _, f in ipairs(fc.defaulted) do
    field_default(fc.ctx, f)
  end
end

-- ---- load ----

local function find_include(ctx, from, inc)
  local candidates = {}
  if inc:sub(1, 1) == "/" then
    candidates[1] = inc
  else
    candidates[1] = join(dirname(from), inc)
    for _, dir in ipairs(ctx.include_dirs) do
      candidates[#candidates + 1] = join(dir, inc)
    end
  end
  for _, path in ipairs(candidates) do
    local f = io.open(path, "rb")
    if f then
      f:close()
      return path
    end
  end
  return nil, candidates
end

local load_file

local function load_includes(fc)
  local ctx, doc = fc.ctx, fc.doc
  for _, inc in ipairs(fc.ast.includes) do
    local path, searched = find_include(ctx, fc.name, inc.path)
    if not path then
      fail_node(fc, inc, "cannot find include file '%s' (searched %s)", inc.path,
        table.concat(searched, ", "))
    end
    local abs = absolute(ctx, path)
    for i, entry in ipairs(ctx.stack) do
      if entry.abs == abs then
        local chain = {}
        for j = i, #ctx.stack do
          chain[#chain + 1] = ctx.stack[j].name
        end
        chain[#chain + 1] = path
        fail_node(fc, inc, "include cycle: %s", table.concat(chain, " -> "))
      end
    end
    local sub = ctx.cache[abs] or load_file(ctx, path, abs)
    local stem = stem_of(inc.path)
    if doc.includes[stem] and doc.includes[stem] ~= sub then
      fail_node(fc, inc, "two included files are named '%s'", stem)
    end
    doc.includes[stem] = sub
  end
end

function load_file(ctx, path, abs)
  local text, err = read_file(path)
  if not text then
    raise(path .. ": cannot read file: " .. err)
  end
  local ast, perr = M.parse(text, path)
  if not ast then
    raise(perr)
  end
  local doc = {
    path = abs, name = stem_of(path), namespaces = {}, cpp_includes = {}, includes = {},
    types = {}, enums = {}, structs = {}, consts = {}, const_types = {}, services = {},
    order = {},
  }
  for _, ns in ipairs(ast.namespaces) do
    doc.namespaces[ns.scope] = ns.name
  end
  for i, ci in ipairs(ast.cpp_includes) do
    doc.cpp_includes[i] = ci.path
  end
  local fc = { ctx = ctx, doc = doc, ast = ast, name = path, defs = {}, state = {},
               defaulted = {} }
  ctx.stack[#ctx.stack + 1] = { abs = abs, name = path }
  load_includes(fc)
  resolve(fc)
  ctx.stack[#ctx.stack] = nil
  ctx.cache[abs] = doc
  return doc
end

-- Load a .thrift file with its includes and resolve it into a doc.
-- opts: include_dirs (list), warn (function(msg)), cwd (for doc.path).
-- Returns the doc, or nil and "file:line:col: message".
function M.load(path, opts)
  if type(path) ~= "string" then
    return nil, "thriftcorn.idl.load: path must be a string"
  end
  opts = opts or {}
  local ctx = {
    cache = {}, stack = {}, warn = opts.warn or function() end,
    include_dirs = opts.include_dirs or {}, cwd = opts.cwd or getcwd(),
    base_types = {}, struct_types = {}, enum_types = {}, pending_defaults = {},
  }
  return protect(function()
    return load_file(ctx, path, absolute(ctx, path))
  end)
end

return M
