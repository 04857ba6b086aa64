-- SPDX-License-Identifier: Apache-2.0
-- Helpers of idl_conformance_spec.lua (not a spec itself): readers of what
-- Apache Thrift's compiler writes with --gen json and --gen xml, and the
-- canonical forms that a doc of thriftcorn.idl and those outputs are turned
-- into, to be compared with diff().
local M = {}

-- ---- JSON, numbers kept as their text ----

local NUM = {} -- metatable of { text = "..." }: a JSON number as written

local function json_decode(s)
  return require("codec_util").json_decode(s, function(text)
    return setmetatable({ text = text }, NUM)
  end)
end

-- ---- XML (what Apache's xml generator writes) ----

local XML_ENTITIES = { lt = "<", gt = ">", amp = "&", quot = '"', apos = "'" }

local function xml_unescape(s)
  return (s:gsub("&(#?)(%w+);", function(hash, name)
    if hash == "#" then
      return utf8.char(tonumber(name))
    end
    return XML_ENTITIES[name]
  end))
end

-- Elements as { tag, attrs = {}, kids = {} }; text is dropped.
local function xml_decode(s)
  local root = { tag = "#root", attrs = {}, kids = {} }
  local stack = { root }
  local pos = 1
  while true do
    local a = s:find("<", pos, true)
    if not a then
      break
    end
    if s:sub(a, a + 3) == "<!--" then
      pos = assert(s:find("-->", a, true)) + 3
    elseif s:sub(a, a + 1) == "<?" then
      pos = assert(s:find("?>", a, true)) + 2
    elseif s:sub(a, a + 1) == "</" then
      stack[#stack] = nil
      pos = assert(s:find(">", a, true)) + 1
    else
      local tag, p = s:match("^<([%w_:%-]+)()", a)
      local el = { tag = tag, attrs = {}, kids = {} }
      local parent = stack[#stack]
      parent.kids[#parent.kids + 1] = el
      while true do
        p = s:find("[^ \t\r\n]", p)
        if s:sub(p, p + 1) == "/>" then
          pos = p + 2
          break
        elseif s:sub(p, p) == ">" then
          stack[#stack + 1] = el
          pos = p + 1
          break
        end
        local name, value, q = s:match('^([%w_:%-%.]+)="([^"]*)"()', p)
        assert(name, "XML: attribute expected at " .. p)
        el.attrs[name] = xml_unescape(value)
        p = q
      end
    end
  end
  return root
end

local function xml_kids(el, tag)
  local out = {}
  for _, k in ipairs(el.kids) do
    if k.tag == tag then
      out[#out + 1] = k
    end
  end
  return out
end

local function xml_kid(el, tag)
  return xml_kids(el, tag)[1]
end

-- ---- canonical forms ----
-- Both sides become the same shape of nested tables whose leaves are
-- strings: types as "map<string,list<i32>>", "struct:shared.S",
-- "enum:E" (relative to the file: names of the file itself are bare),
-- values as canonical text.

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function annotations_suffix(ann)
  if not ann or next(ann) == nil then
    return ""
  end
  local parts = {}
  for _, k in ipairs(sorted_keys(ann)) do
    parts[#parts + 1] = k .. "=" .. ann[k]
  end
  return "(" .. table.concat(parts, ",") .. ")"
end

local function qualify(cur, fullname)
  local prefix = cur.name .. "."
  if fullname:sub(1, #prefix) == prefix then
    return fullname:sub(#prefix + 1)
  end
  return fullname
end

-- thriftcorn's type 't'. view.enum_as_i32: as Apache 0.17's JSON writes
-- enums; view.annotations: with the annotations of containers.
local function tc_type(cur, t, view)
  local tt = t.ttype
  local s
  if tt == "list" or tt == "set" then
    s = tt .. "<" .. tc_type(cur, t.elem, view) .. ">"
  elseif tt == "map" then
    s = "map<" .. tc_type(cur, t.key, view) .. "," .. tc_type(cur, t.value, view) .. ">"
  elseif tt == "struct" then
    return t.struct.kind .. ":" .. qualify(cur, t.struct.fullname)
  elseif tt == "enum" then
    return view.enum_as_i32 and "i32" or "enum:" .. qualify(cur, t.enum.fullname)
  else
    return tt == "byte" and "i8" or tt
  end
  return s .. (view.annotations and annotations_suffix(t.annotations) or "")
end

-- The JSON's type: its typeId and, for containers, structs and enums, its
-- type object.
local function json_type(id, spec)
  local s
  if id == "list" or id == "set" then
    s = id .. "<" .. json_type(spec.elemTypeId, spec.elemType) .. ">"
  elseif id == "map" then
    s = "map<" .. json_type(spec.keyTypeId, spec.keyType) .. ","
      .. json_type(spec.valueTypeId, spec.valueType) .. ">"
  elseif id == "struct" or id == "union" or id == "exception" or id == "enum" then
    return id .. ":" .. spec.class
  else
    return id
  end
  return s .. annotations_suffix(spec.annotations)
end

local XML_TYPE_TAGS = { typedef = true, enum = true, struct = true, union = true,
  exception = true }

-- The type definitions of an XML document element, by name.
local function xml_types(xdoc)
  local out = {}
  for _, def in ipairs(xdoc.kids) do
    if XML_TYPE_TAGS[def.tag] then
      out[def.attrs.name] = def
    end
  end
  return out
end

-- The XML's type of element 'el' (a field, arg, const, typedef, ...) in the
-- file of module 'cur'; 'types' holds xml_types() of every module by name.
local function xml_type(types, cur, el)
  local ty = el.attrs.type
  if ty == "list" or ty == "set" then
    return ty .. "<" .. xml_type(types, cur, xml_kid(el, "elemType")) .. ">"
  elseif ty == "map" then
    return "map<" .. xml_type(types, cur, xml_kid(el, "keyType")) .. ","
      .. xml_type(types, cur, xml_kid(el, "valueType")) .. ">"
  elseif ty ~= "id" then
    return ty
  end
  local module, name = el.attrs["type-module"], el.attrs["type-id"]
  local def = assert(assert(types[module], "no XML of module " .. module)[name],
    "XML: no definition of " .. module .. "." .. name)
  if def.tag == "typedef" then
    return xml_type(types, cur, def)
  end
  return def.tag .. ":" .. (module == cur and name or module .. "." .. name)
end

local function fmt_double(x)
  return string.format("%.15g", x) -- as Apache's JSON writes a double
end

local function join_sorted(items, open, close)
  table.sort(items)
  return open .. table.concat(items, ", ") .. close
end

local INT_TYPES = { byte = true, i16 = true, i32 = true, i64 = true, enum = true }

-- thriftcorn's value 'v' of type 't'.
local function tc_value(cur, t, v)
  local tt = t.ttype
  if tt == "bool" then
    return tostring(v)
  elseif INT_TYPES[tt] then
    return string.format("%d", v)
  elseif tt == "double" then
    return fmt_double(v)
  elseif tt == "string" or tt == "binary" or tt == "uuid" then
    return string.format("%q", v)
  elseif tt == "list" then
    local items = {}
    for i, x in ipairs(v) do
      items[i] = tc_value(cur, t.elem, x)
    end
    return "[" .. table.concat(items, ", ") .. "]"
  elseif tt == "set" then
    local items = {}
    for x in pairs(v) do
      items[#items + 1] = tc_value(cur, t.elem, x)
    end
    return join_sorted(items, "{", "}")
  elseif tt == "map" then
    local items = {}
    for k, x in pairs(v) do
      items[#items + 1] = tc_value(cur, t.key, k) .. ": " .. tc_value(cur, t.value, x)
    end
    return join_sorted(items, "{", "}")
  end
  local sd = t.struct
  local items = {}
  for _, f in ipairs(sd.fields) do
    if v[f.name] ~= nil then
      items[#items + 1] = f.name .. "=" .. tc_value(cur, f.type, v[f.name])
    end
  end
  return qualify(cur, sd.fullname) .. "{" .. table.concat(items, ", ") .. "}"
end

local function num_text(jv)
  if getmetatable(jv) ~= NUM then
    error("not a number: " .. tostring(jv), 0)
  end
  return jv.text
end

-- A double as the JSON writes it: an integer literal as written (a
-- constant given as an integer), a double with 15 digits.
local function json_double(text)
  if text == "-0" or text:find("[.eE]") then
    return text
  end
  return fmt_double(math.tointeger(tonumber(text)) * 1.0)
end

local json_val

-- A key of a JSON object (always a string) as a value of type 't'.
local function json_key(cur, t, k)
  local tt = t.ttype
  if tt == "string" or tt == "binary" or tt == "uuid" then
    return json_val(cur, t, k)
  end
  return json_val(cur, t, setmetatable({ text = k }, NUM))
end

-- The JSON's value 'jv' read as type 't' (thriftcorn's type of the same
-- item). A struct value lists only the fields it sets: the others take
-- their defaults, as thriftcorn's doc has them (compared on their own).
function json_val(cur, t, jv)
  local tt = t.ttype
  if tt == "bool" then
    return tostring(tonumber(num_text(jv)) > 0)
  elseif INT_TYPES[tt] then
    return num_text(jv)
  elseif tt == "double" then
    return json_double(num_text(jv))
  elseif tt == "string" or tt == "binary" or tt == "uuid" then
    if type(jv) ~= "string" then
      error("not a string", 0)
    end
    return string.format("%q", tt == "uuid" and jv:lower() or jv)
  elseif tt == "list" or tt == "set" then
    local items = {}
    for i, x in ipairs(jv) do
      items[i] = json_val(cur, t.elem, x)
    end
    if tt == "set" then
      return join_sorted(items, "{", "}")
    end
    return "[" .. table.concat(items, ", ") .. "]"
  elseif tt == "map" then
    local items = {}
    for k, x in pairs(jv) do
      items[#items + 1] = json_key(cur, t.key, k) .. ": " .. json_val(cur, t.value, x)
    end
    return join_sorted(items, "{", "}")
  end
  local sd = t.struct
  local known, items, any = {}, {}, next(jv) ~= nil
  for _, f in ipairs(sd.fields) do
    known[f.name] = true
    if jv[f.name] ~= nil then
      items[#items + 1] = f.name .. "=" .. json_val(cur, f.type, jv[f.name])
    elseif f.default ~= nil and not (sd.kind == "union" and any) then
      items[#items + 1] = f.name .. "=" .. tc_value(cur, f.type, f.default)
    end
  end
  for k in pairs(jv) do
    if not known[k] then
      error("no field " .. k, 0)
    end
  end
  return qualify(cur, sd.fullname) .. "{" .. table.concat(items, ", ") .. "}"
end

-- A doc comment as thriftcorn keeps it: Apache's, without the blank lines
-- before and after it and its final newline (docs/idl.md).
local function json_doc(s)
  if s == nil then
    return nil
  end
  s = s:gsub("^[ \t\n]*\n", ""):gsub("[ \t\n]+$", "")
  return s ~= "" and s or nil
end

local REQUIRED = { required = "required", req_out = "default", optional = "optional" }

local function names_of(list)
  local out = {}
  for i, x in ipairs(list) do
    out[i] = x.name
  end
  return table.concat(out, ",")
end

local function by_name(list, canon, ...)
  local out = {}
  for _, x in ipairs(list) do
    out[x.name] = canon(x, ...)
  end
  return out
end

-- ---- the thriftcorn side ----

local function tc_field(f, cur, view)
  local c = { key = tostring(f.id), type = tc_type(cur, f.type, view), required = f.required,
              doc = f.doc, annotations = f.annotations }
  if f.default ~= nil then
    c.default = tc_value(cur, f.type, f.default)
  end
  return c
end

local function tc_fields(list, cur, view)
  return by_name(list, tc_field, cur, view), names_of(list)
end

local function tc_order(doc, kind)
  local out = {}
  for _, o in ipairs(doc.order) do
    if o.kind == kind then
      out[#out + 1] = o
    end
  end
  return out
end

local function tc_function(fd, cur, view)
  local c = { returns = fd.returns and tc_type(cur, fd.returns, view) or "void",
              oneway = tostring(fd.oneway), doc = fd.doc, annotations = fd.annotations }
  c.arguments, c.argument_order = tc_fields(fd.args.fields, cur, view)
  c.exceptions, c.exception_order = tc_fields(fd.throws, cur, view)
  return c
end

-- The canonical form of thriftcorn's doc 'doc'.
local function tc_canon(doc, view)
  local cur = doc -- the file whose names are bare
  local c = { namespaces = doc.namespaces, enums = {}, typedefs = {}, structs = {},
              constants = {}, services = {} }
  local incs = sorted_keys(doc.includes)
  c.includes = table.concat(incs, ",")
  local enum_order = tc_order(doc, "enum")
  c.enum_order = names_of(enum_order)
  for _, o in ipairs(enum_order) do
    local ed = doc.enums[o.name]
    local e = { doc = ed.doc, annotations = ed.annotations, members = {},
                member_order = names_of(ed.values) }
    for _, v in ipairs(ed.values) do
      e.members[v.name] = { value = tostring(v.value), doc = v.doc }
    end
    c.enums[o.name] = e
  end
  local typedef_order = tc_order(doc, "typedef")
  c.typedef_order = names_of(typedef_order)
  for _, o in ipairs(typedef_order) do
    c.typedefs[o.name] = { type = tc_type(cur, doc.types[o.name], view) }
  end
  local struct_order = tc_order(doc, "struct")
  c.struct_order = names_of(struct_order)
  for _, o in ipairs(struct_order) do
    local sd = doc.structs[o.name]
    local s = { kind = sd.kind, doc = sd.doc, annotations = sd.annotations }
    s.fields, s.field_order = tc_fields(sd.fields, cur, view)
    c.structs[o.name] = s
  end
  local const_order = tc_order(doc, "const")
  c.const_order = names_of(const_order)
  for _, o in ipairs(const_order) do
    local t = doc.const_types[o.name]
    c.constants[o.name] = { type = tc_type(cur, t, view),
                            value = tc_value(cur, t, doc.consts[o.name]) }
  end
  local service_order = tc_order(doc, "service")
  c.service_order = names_of(service_order)
  for _, o in ipairs(service_order) do
    local svc = doc.services[o.name]
    c.services[o.name] = {
      extends = svc.extends and qualify(cur, svc.extends.fullname),
      doc = svc.doc, annotations = svc.annotations,
      functions = by_name(svc.functions, tc_function, cur, view),
      function_order = names_of(svc.functions),
    }
  end
  return c
end

-- ---- the compiler's side ----

local function json_field(f, tc_f, cur)
  local c = { key = num_text(f.key), type = json_type(f.typeId, f.type),
              required = REQUIRED[f.required], doc = json_doc(f.doc),
              annotations = f.annotations }
  if f.default ~= nil then
    if tc_f then
      local ok, v = pcall(json_val, cur, tc_f.type, f.default)
      c.default = ok and v or "(unreadable as thriftcorn's type: " .. v .. ")"
    else
      c.default = "(a default)"
    end
  end
  return c
end

local function find(list, name)
  for _, x in ipairs(list or {}) do
    if x.name == name then
      return x
    end
  end
  return nil
end

local function json_fields(list, tc_list, cur)
  local out = {}
  for _, f in ipairs(list) do
    out[f.name] = json_field(f, find(tc_list, f.name), cur)
  end
  return out, names_of(list)
end

-- The canonical form of the compiler's JSON 'j' of the file whose
-- thriftcorn doc is 'doc' (for the types of values).
local function json_canon(j, doc)
  local cur = doc
  local c = { namespaces = j.namespaces, enums = {}, typedefs = {}, structs = {},
              constants = {}, services = {} }
  local incs = {}
  for i, name in ipairs(j.includes) do
    incs[i] = name
  end
  table.sort(incs)
  c.includes = table.concat(incs, ",")
  c.enum_order = names_of(j.enums)
  for _, e in ipairs(j.enums) do
    local members = {}
    for _, v in ipairs(e.members) do
      members[v.name] = { value = num_text(v.value), doc = json_doc(v.doc) }
    end
    c.enums[e.name] = { doc = json_doc(e.doc), annotations = e.annotations, members = members,
                        member_order = names_of(e.members) }
  end
  c.typedef_order = names_of(j.typedefs)
  for _, t in ipairs(j.typedefs) do
    c.typedefs[t.name] = { type = json_type(t.typeId, t.type), annotations = t.annotations }
  end
  c.struct_order = names_of(j.structs)
  for _, s in ipairs(j.structs) do
    local kind = s.isException and "exception" or s.isUnion and "union" or "struct"
    local sd = doc.structs[s.name]
    local cs = { kind = kind, doc = json_doc(s.doc), annotations = s.annotations }
    cs.fields, cs.field_order = json_fields(s.fields, sd and sd.fields, cur)
    c.structs[s.name] = cs
  end
  c.const_order = names_of(j.constants)
  for _, k in ipairs(j.constants) do
    local t = doc.const_types[k.name]
    local value = "(a value)"
    if t then
      local ok, v = pcall(json_val, cur, t, k.value)
      value = ok and v or "(unreadable as thriftcorn's type: " .. v .. ")"
    end
    c.constants[k.name] = { type = json_type(k.typeId, k.type), value = value }
  end
  c.service_order = names_of(j.services)
  for _, s in ipairs(j.services) do
    local svc = doc.services[s.name]
    local functions = {}
    for _, f in ipairs(s.functions) do
      local fd = svc and svc.by_name[f.name]
      local cf = { returns = json_type(f.returnTypeId, f.returnType),
                   oneway = tostring(f.oneway), doc = json_doc(f.doc),
                   annotations = f.annotations }
      cf.arguments, cf.argument_order = json_fields(f.arguments, fd and fd.args.fields, cur)
      cf.exceptions, cf.exception_order = json_fields(f.exceptions, fd and fd.throws, cur)
      functions[f.name] = cf
    end
    c.services[s.name] = { extends = s.extends, doc = json_doc(s.doc),
                           annotations = s.annotations, functions = functions,
                           function_order = names_of(s.functions) }
  end
  return c
end

-- The types of the compiler's XML document 'xdoc' (module 'cur'), in the
-- shape of tc_canon's; 'types' as for xml_type().
local function xml_canon(types, cur, xdoc)
  local c = { typedefs = {}, structs = {}, constants = {}, services = {} }
  local function fields(list)
    local out = {}
    for _, f in ipairs(list) do
      out[f.attrs.name] = { type = xml_type(types, cur, f) }
    end
    return out
  end
  for _, def in ipairs(xdoc.kids) do
    local tag, name = def.tag, def.attrs.name
    if tag == "typedef" then
      c.typedefs[name] = { type = xml_type(types, cur, def) }
    elseif tag == "const" then
      c.constants[name] = { type = xml_type(types, cur, def) }
    elseif tag == "struct" or tag == "union" or tag == "exception" then
      c.structs[name] = { fields = fields(xml_kids(def, "field")) }
    elseif tag == "service" then
      local functions = {}
      for _, m in ipairs(xml_kids(def, "method")) do
        functions[m.attrs.name] = { returns = xml_type(types, cur, xml_kid(m, "returns")),
                                    arguments = fields(xml_kids(m, "arg")),
                                    exceptions = fields(xml_kids(m, "throws")) }
      end
      c.services[name] = { functions = functions }
    end
  end
  return c
end

-- Only the types of a canonical form, without empty tables (nor the
-- annotations and namespaces, whose keys could be "type").
local function types_only(c)
  local out = {}
  for k, v in pairs(c) do
    if type(v) == "table" and k ~= "annotations" and k ~= "namespaces" then
      local sub = types_only(v)
      if next(sub) ~= nil then
        out[k] = sub
      end
    elseif k == "type" or k == "returns" then
      out[k] = v
    end
  end
  return out
end

-- ---- comparing ----

local function show(v)
  if v == nil then
    return "nothing"
  elseif type(v) == "table" then
    return "{" .. table.concat(sorted_keys(v), ",") .. "}"
  end
  return string.format("%q", v)
end

-- Differences between canonical forms 'a' (thriftcorn) and 'b' (compiler),
-- appended to 'out' as { path, tc, compiler }.
local function diff(a, b, path, out)
  if type(a) == "table" and type(b) == "table" then
    local keys = {}
    for k in pairs(a) do
      keys[k] = true
    end
    for k in pairs(b) do
      keys[k] = true
    end
    for _, k in ipairs(sorted_keys(keys)) do
      diff(a[k], b[k], path == "" and k or path .. "." .. k, out)
    end
  elseif a ~= b then
    out[#out + 1] = { path = path, tc = show(a), compiler = show(b) }
  end
  return out
end

M.sorted_keys = sorted_keys
M.json_decode = json_decode
M.xml_decode = xml_decode
M.xml_kid = xml_kid
M.xml_types = xml_types
M.tc_canon = tc_canon
M.json_canon = json_canon
M.xml_canon = xml_canon
M.types_only = types_only
M.diff = diff

return M
