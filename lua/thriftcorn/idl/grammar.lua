-- SPDX-License-Identifier: Apache-2.0
-- Thrift IDL grammar: LPeg turns one .thrift text into an AST whose nodes
-- carry file:line:col positions (M.parse). No includes, no resolution: that
-- is thriftcorn.idl.resolve. The AST shape is described in docs/idl.md.

local lpeg = require("lpeg")
local failure = require("thriftcorn.idl.failure")

local M = {}

local P, R, S, V = lpeg.P, lpeg.R, lpeg.S, lpeg.V
local C, Cc, Cg, Ct, Cp = lpeg.C, lpeg.Cc, lpeg.Cg, lpeg.Ct, lpeg.Cp
local Cmt, Carg, Cf, Cs = lpeg.Cmt, lpeg.Carg, lpeg.Cf, lpeg.Cs

local Failure, fail_at = failure.Failure, failure.fail_at

-- ---- positions ----

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

-- Parse state 'st' = { text, name, bom, starts, line }: line/col of a byte
-- offset. Columns count bytes; a byte order mark ('bom' bytes) is not
-- counted. Nodes are located in text order, so the search starts at the
-- line found last ('line') when it can.
local function locate(st, pos)
  local starts = st.starts
  if not starts then
    starts = line_starts(st.text)
    st.starts = starts
  end
  local lo, hi = 1, #starts
  local last = st.line
  if last and starts[last] <= pos and (last == hi or pos < starts[last + 1]) then
    lo = last
  elseif last and last < hi and starts[last + 1] <= pos
      and (last + 1 == hi or pos < starts[last + 2]) then
    lo = last + 1
  else
    while lo < hi do
      local mid = (lo + hi + 1) // 2
      if starts[mid] <= pos then
        lo = mid
      else
        hi = mid - 1
      end
    end
  end
  st.line = lo
  if lo == 1 then
    return 1, pos - st.bom
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
-- Apache's lexer takes only these as whitespace (not \f or \v).
local space = S(" \t\r\n") ^ 1
local line_comment = (P("//") + P("#")) * (1 - nl) ^ 0
local block_comment = P("/*") * (1 - P("*/")) ^ 0 * P("*/")
-- "/**/", "/***/", "/*****/" (stars only) are plain comments, as in Apache's
-- lexer: a banner line of stars does not take the place of a doc comment.
local doc_comment = P("/**") * -(P("*") ^ 0 * P("/")) * (1 - P("*/")) ^ 0 * P("*/")

-- Matches 'p' only to fail with 'msg' at its start.
local function fail_on(p, msg)
  return Cmt(Cp() * p * Carg(1), function(_, _, start, st)
    local line, col = locate(st, start)
    fail_at(st.name, line, col, msg)
  end)
end

local open_comment = fail_on(P("/*"), "unterminated comment")
local ws = (space + line_comment + block_comment + open_comment) ^ 0

-- Doc comment text without the comment markers, cleaned as Apache's
-- compiler does (clean_up_doctext): the first line loses its leading blanks;
-- when every other non-blank line has a '*' in the same column, that margin
-- goes; then the indentation the other lines share goes. Trailing blanks
-- are removed, but a line of blanks keeps what is left of them, as in
-- Apache; blank first and last lines are removed.
local function clean_doc(raw)
  local lines = {}
  for line in (raw:sub(4, -3):gsub("\r", "") .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = line
  end
  lines[1] = lines[1]:gsub("^[ \t]+", "")
  local star, margin = nil, true
  for i = 2, #lines do
    local pos = lines[i]:find("[^ \t]")
    if not pos then
      lines[i] = ""
    elseif lines[i]:sub(pos, pos) == "*" and (star == nil or star == pos) then
      star = pos
    else
      margin = false
      break
    end
  end
  local indent
  for i = 2, #lines do
    if margin and star then
      lines[i] = lines[i]:sub(star + 1)
    end
    local pos = lines[i]:find("[^ \t]")
    if pos and (not indent or pos < indent) then
      indent = pos
    end
  end
  for i = 1, #lines do
    if i > 1 and indent then
      lines[i] = lines[i]:sub(indent)
    end
    lines[i] = lines[i]:gsub("([^ \t])[ \t]+$", "%1")
  end
  while #lines > 0 and not lines[1]:find("[^ \t]") do
    table.remove(lines, 1)
  end
  while #lines > 0 and not lines[#lines]:find("[^ \t]") do
    lines[#lines] = nil
  end
  if #lines == 0 then
    return nil
  end
  return table.concat(lines, "\n")
end

-- ---- doc comments ----
-- As in Apache's compiler, whose lexer holds the last doc comment until an
-- item takes it: an item that starts (a definition, a header, an enum
-- value, a field, a function) gets the last doc comment written since the
-- item before it started, wherever that was (before a ',' or ';' after the
-- item before, in its middle, at the end of a body), or none. A header
-- takes one and drops it.

-- Every doc comment of a text in order, { pos = offset, raw = text }:
-- comments and string literals are skipped as the grammar reads them.
local string_skip = P('"') * (P("\\") * 1 + (1 - S('"\\\n'))) ^ 0 * P('"') ^ -1
  + P("'") * (P("\\") * 1 + (1 - S("'\\\n"))) ^ 0 * P("'") ^ -1
local doc_scan = Ct((Ct(Cg(Cp(), "pos") * Cg(C(doc_comment), "raw")) + block_comment
  + line_comment + string_skip + (1 - S("/#\"'")) ^ 1 + 1) ^ 0)

-- The doc of the item that starts at 'pos' (parse state 'st' holds the doc
-- comments and the next one to take).
local function take_doc(pos, st)
  local docs, i = st.docs, st.doc_next
  local raw
  while docs[i] and docs[i].pos < pos do
    raw = docs[i].raw
    i = i + 1
  end
  st.doc_next = i
  return raw and clean_doc(raw)
end

-- Whitespace before an item: its value is the item's doc, or nil.
local docws = ws * Cp() * Carg(1) / take_doc
-- The same, over the separator after the item before.
local docsep = ws * (S(",;") * ws) ^ -1 * Cp() * Carg(1) / take_doc

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
-- A field name may be a keyword, as in Apache 0.18+, but for those its
-- grammar keeps apart: the literals true/false, cpp_type, the xsd_ words
-- (options after a name) and the obsolete senum and slist.
local NOT_FIELD_NAMES = { "true", "false", "cpp_type", "xsd_all", "xsd_optional",
  "xsd_nillable", "xsd_attrs", "senum", "slist" }
local not_field_name = P(false)
for _, w in ipairs(NOT_FIELD_NAMES) do
  not_field_name = not_field_name + P(w) * word_end
end
local field_name_raw = -not_field_name * C(alpha * alnum ^ 0)

local function kw(w)
  return ws * P(w) * word_end
end

local function sym(s)
  return ws * P(s)
end

local sep = sym(",") + sym(";")

-- Items made by 'item(doc)' ('doc' is the pattern of the whitespace before
-- one), with an optional ',' or ';' after each: a table of their captures.
local function list_of(item)
  return Ct((item(docws) * item(docsep) ^ 0 * sep ^ -1) ^ -1)
end

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
  if t:find("^0x") then
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
-- Hex is "0x" only: Apache's lexer reads "0X10" as 0 and a name.
local int_text = sign * (P("0x") * hexdigit ^ 1 + digit ^ 1) * -(alnum + P("."))
-- The check runs at match time, so that the error comes before any later
-- one, but returns no value: LPeg keeps every value a match-time capture
-- returns until the match ends, and refuses more than 32767 of them (a file
-- with that many integers). The value comes from a plain function capture.
local int_raw = C(Cmt(Cp() * int_text * Carg(1), function(subject, pos, start, st)
  local text = subject:sub(start, pos - 1)
  if not to_int(text) then
    local line, col = locate(st, start)
    fail_at(st.name, line, col, "integer constant " .. text .. " does not fit in 64 bits")
  end
  return true
end)) / to_int
-- Times 1.0, not + 0.0, which turns -0.0 into 0.0.
local double_raw = C(sign * (digit ^ 0 * P(".") * digit ^ 1 * exponent ^ -1 + digit ^ 1 * exponent))
  * word_end / function(text) return tonumber((text:gsub("^%+", ""))) * 1.0 end

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
  -- Control characters as decimal escapes, as Lua writes them ('\12').
  local tok = lpeg.match(token_pat, st.text, p):gsub("%c", function(c)
    return "\\" .. c:byte()
  end)
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

-- The namespace headers of Thrift before 0.9 (cpp_namespace x.y, ...), which
-- Apache Thrift's compiler refuses too: an error that names the modern form.
local OLD_NAMESPACES = {
  cpp_namespace = "cpp", java_package = "java", php_namespace = "php", py_module = "py",
  perl_package = "perl", ruby_namespace = "rb", smalltalk_category = "st",
  smalltalk_prefix = "st", csharp_namespace = "csharp", delphi_namespace = "delphi",
  xsd_namespace = "xsd",
}
local old_namespace = P(false)
for word, scope in pairs(OLD_NAMESPACES) do
  old_namespace = old_namespace + fail_on(P(word) * word_end, "'" .. word
    .. "' is obsolete and not supported, use 'namespace " .. scope .. " <name>'")
end

-- ---- grammar ----

local function struct_rule(word, what)
  -- Apache takes 'xsd_all' after the name of a struct or a union only.
  local xsd_all = word == "exception" and P(true) or kw("xsd_all") ^ -1
  return kw(word) * kind(word)
    * Cg(expect(ws * simple_raw, what), "name")
    * xsd_all
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

-- A header or definition, after whitespace whose doc comment is 'doc's.
local function definition(doc)
  return Ct(Cg(doc, "doc") * at * (
    V("include") + V("cpp_include") + V("namespace") + V("typedef") + V("const")
    + V("enum") + V("struct") + V("union") + V("exception") + V("service")
    + obsolete("senum") + old_namespace))
end

-- The rules of the grammar but its start; grammar() makes one of them.
local rules = {
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
    * Cg(list_of(function(doc)
      return Ct(Cg(doc, "doc") * at * Cg(simple_raw, "name")
        * (sym("=") * Cg(expect(ws * int_raw, "an integer"), "value")) ^ -1
        * Cg(V("annotations"), "annotations") ^ -1)
    end), "values")
    * expect(sym("}"), "an enum value or '}'")
    * Cg(V("annotations"), "annotations") ^ -1,

  struct = struct_rule("struct", "a struct name"),
  union = struct_rule("union", "a union name"),
  exception = struct_rule("exception", "an exception name"),

  fields = list_of(function(doc)
    return Ct(Cg(doc, "doc") * at * V("field_head")
      * sym("&") ^ -1
      * Cg(expect(ws * field_name_raw, "a field name"), "name")
      * (sym("=") * Cg(expect(V("const_value"), "a default value"), "default")) ^ -1
      * V("xsd_options")
      * Cg(V("annotations"), "annotations") ^ -1)
  end),
  -- XML Schema options of Apache's xsd generator, in Apache's order: parsed
  -- (the attribute fields too) and dropped, as they mean nothing on the wire.
  -- The fields are dropped by a function capture, not '/ 0', which would not
  -- evaluate them: they take doc comments, as in Apache.
  xsd_options = kw("xsd_optional") ^ -1 * kw("xsd_nillable") ^ -1
    * (kw("xsd_attrs") * expect(sym("{"), "'{'") * V("fields") / function() end
      * expect(sym("}"), "a field or '}'")) ^ -1,
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
    * Cg(list_of(function(doc) return Ct(Cg(doc, "doc") * V("function")) end), "functions")
    * expect(sym("}"), "a function or '}'")
    * Cg(V("annotations"), "annotations") ^ -1,
  ["function"] = at
    * (Cg((kw("oneway") + kw("async")) * Cc(true), "oneway")
        * Cg(expect(V("return_type"), "a return type"), "returns")
      + Cg(V("return_type"), "returns"))
    * Cg(expect(ws * simple_raw, "a function name"), "name")
    * expect(sym("("), "'('")
    * Cg(V("fields"), "args")
    * expect(sym(")"), "a parameter or ')'")
    * (kw("throws") * expect(sym("("), "'('") * Cg(V("fields"), "throws")
      * expect(sym(")"), "an exception or ')'")) ^ -1
    * Cg(V("annotations"), "annotations") ^ -1,
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
  -- Apache's grammar: map and set take cpp_type before '<'; list takes it
  -- after '>' (0.17) or before '<' (0.18+).
  list_type = ws * Ct(kind("list") * at * P("list") * word_end * V("cpp_type") ^ -1
    * expect(sym("<"), "'<'")
    * Cg(expect(V("field_type"), "an element type"), "elem")
    * expect(sym(">"), "'>'")
    * V("cpp_type") ^ -1
    * Cg(V("annotations"), "annotations") ^ -1),
  cpp_type = Cg(kw("cpp_type") * expect(ws * literal_raw, "a string"), "cpp_type"),
  type_ref = ws * Ct(kind("ref") * at * Cg(dotted_raw, "name")),

  -- An empty list, '()', is no annotations (nil), as in Apache.
  annotations = sym("(")
    * Cf(Ct(true) * Cg(ws * dotted_raw
      * (sym("=") * expect(ws * literal_raw, "an annotation value string") + Cc("1"))
      * sep ^ -1) ^ 0, rawset) / function(t) return next(t) and t or nil end
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
}

local function grammar(start)
  local g = { "start", start = start }
  for name, rule in pairs(rules) do
    g[name] = rule
  end
  return P(g)
end

-- A document is list_of(definition), matched one definition at a time: LPeg
-- keeps every capture of a match until it ends, so that one match of a
-- whole 3 MB file would take about 5 times the memory of its AST.
local first_definition = grammar(definition(docws) * Cp())
local next_definition = grammar(definition(docsep) * Cp())
local empty_end = ws * expect(-P(1), "a definition")
local document_end = sep ^ -1 * empty_end

-- Where the definition that a match from 'init' tries starts.
local definition_start = (space + line_comment + block_comment) ^ 0 * S(",;") ^ -1
  * (space + line_comment + block_comment) ^ 0 * Cp()

-- The items of the document; st.from is where the last match started.
local function match_document(text, init, st)
  local items = {}
  st.from = init
  local item, pos = lpeg.match(first_definition, text, init, st)
  while item do
    items[#items + 1] = item
    init = pos
    st.from = init
    item, pos = lpeg.match(next_definition, text, init, st)
  end
  lpeg.match(#items > 0 and document_end or empty_end, text, init, st)
  return items
end


-- ---- parse ----

-- Parse one IDL text into its AST. Raises a Failure (thriftcorn.idl.failure)
-- with "file:line:col: message"; thriftcorn.idl.parse catches it.
function M.parse(text, filename)
  local init = text:sub(1, 3) == "\239\187\191" and 4 or 1
  local st = { text = text, name = filename, bom = init - 1, doc_next = 1,
               docs = lpeg.match(doc_scan, text, init) }
  local ok, items = pcall(match_document, text, init, st)
  if not ok then
    if getmetatable(items) == Failure then
      error(items, 0)
    end
    -- Memory runs out (max_lua_memory) as elsewhere, not as a nesting limit,
    -- and a bug shows as one.
    local msg = tostring(items)
    if not (msg:find("overflow", 1, true) or msg:find("too many", 1, true)
        or msg:find("nesting too deep", 1, true)) then
      error(items, 0)
    end
    -- LPeg's own limits: backtrack stack ("backtrack stack overflow") and
    -- capture nesting ("subcapture nesting too deep", a value of about 100
    -- levels of [ or 66 of {). They have no position: the definition that
    -- holds the nesting has one.
    local line, col = locate(st, lpeg.match(definition_start, text, st.from))
    fail_at(filename, line, col, string.format("nested too deeply (%s)",
      (msg:gsub("^.-:%d+: ", ""))))
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

return M
