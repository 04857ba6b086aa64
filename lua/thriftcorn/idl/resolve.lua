-- SPDX-License-Identifier: Apache-2.0
-- Thrift IDL resolver: turns the AST of one file (thriftcorn.idl.grammar),
-- its includes already loaded, into its doc: typedefs, constants and
-- defaults, enums, structs, services and their inheritance (type references
-- through thriftcorn.idl.types), with every check raising a Failure
-- (thriftcorn.idl.failure) at the node's position. The doc shape is a
-- contract, described in docs/idl.md.

local failure = require("thriftcorn.idl.failure")
local types = require("thriftcorn.idl.types")

local M = {}

local fail_node, cycle_message = failure.fail_node, failure.cycle_message
local type_name, enum_type, split_last = types.name, types.enum_type, types.split_last
local resolve_typedef, lookup_type, resolve_type = types.typedef, types.lookup, types.resolve

local INT32_MIN, INT32_MAX = -2147483648, 2147483647

-- ---- file context ----

-- File context 'fc': { ctx, doc, ast, name (path, normalized), defs (name
-- -> AST definition), state (AST node -> "busy" | "done"), typedef_stack,
-- service_stack and const_stack (the typedefs, services, and constants and
-- field defaults being resolved, in the order one led to the next) }.

local function warn(fc, node, fmt, ...)
  fc.ctx.warn(string.format("%s:%d:%d: %s", fc.name, node.line or 0, node.col or 0,
    string.format(fmt, ...)))
end

-- ---- resolution: constant values ----

local INT_RANGE = {
  byte = { -128, 127 }, i16 = { -32768, 32767 }, i32 = { INT32_MIN, INT32_MAX },
  i64 = { math.mininteger, math.maxinteger },
}

local UUID_PAT = "^" .. ("%x"):rep(8) .. "%-" .. ("%x"):rep(4) .. "%-" .. ("%x"):rep(4) .. "%-"
  .. ("%x"):rep(4) .. "%-" .. ("%x"):rep(12) .. "$"

-- A uuid literal in canonical lowercase form, or nil. Apache Thrift 0.19+
-- also takes the Windows GUID form in braces, "{xxxxxxxx-...}".
local function canonical_uuid(s)
  if #s == 38 and s:sub(1, 1) == "{" and s:sub(-1) == "}" then
    s = s:sub(2, -2)
  end
  if s:find(UUID_PAT) then
    return s:lower()
  end
  return nil
end

local VALUE_WORDS = {
  int = "an integer", double = "a double", string = "a string", bool = "a boolean",
  list = "a list", map = "a map",
}

-- Keys too: those of a set or map of structs or containers are tables, which
-- two values must not share (a change to one would show in the other).
local function deep_copy(v)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[deep_copy(k)] = deep_copy(x)
  end
  return out
end

-- Apache Thrift writes out in full every constant a value refers to, and so
-- does the loader: each reference is a copy. Copies are charged to the load
-- ('ctx.copy_left'), so that constants built from constants (C1 = [C0, C0],
-- C2 = [C1, C1], ...) fail with a message instead of doubling the memory
-- and time taken at every step. A copy costs 16 bytes per value, key and
-- entry, plus the bytes of its strings; see docs/idl.md.
local COPY_BUDGET = 16 * 1024 * 1024

-- What copying 'v' costs, or nil when that is more than 'left'.
local function copy_cost(v, left)
  local tv = type(v)
  if tv == "string" then
    local c = 16 + #v
    return c <= left and c or nil
  elseif tv ~= "table" then
    return 16 <= left and 16 or nil
  end
  local c = 16
  for k, x in pairs(v) do
    local ck = copy_cost(k, left - c)
    if not ck then
      return nil
    end
    c = c + ck
    local cx = copy_cost(x, left - c)
    if not cx then
      return nil
    end
    c = c + cx
  end
  return c
end

-- Charge the copy of 'v' ('whence' says from what) to the load, failing at
-- 'node' when it would take the load's copies over COPY_BUDGET.
local function charge_copy(fc, node, v, what, whence)
  local ctx = fc.ctx
  local left = ctx.copy_left or COPY_BUDGET
  local c = copy_cost(v, left)
  if not c then
    fail_node(fc, node, "%s: copying %s here takes the copies of constants in this load over "
      .. "%d MiB (each reference to a constant is a copy of its whole value)", what, whence,
      COPY_BUDGET >> 20)
  end
  ctx.copy_left = left - c
end

local resolve_value

-- A step of a constant cycle: a constant, or the default of a field.
local function const_step(step)
  if step.where then
    return string.format("the default of field '%s' in %s", step.name, step.where)
  end
  return "'" .. step.name .. "'"
end

-- A field's default value, resolving it now if needed (struct literals
-- fill in defaults of fields they do not set). While it resolves, the
-- default is a step of 'const_stack', as a constant that leaves the field
-- out refers to it. 'ref', in the file of 'fc', is the struct literal that
-- leaves the field out, where a cycle through the default closes.
local function field_default(fc, field, ref)
  local ctx = fc.ctx
  local p = ctx.pending_defaults[field]
  if not p then
    return field.default
  end
  local stack = p.fc.const_stack
  if p.busy then
    fail_node(fc, ref or p.node, "%s", cycle_message(nil, "refers to", stack, p, const_step))
  end
  p.busy = true
  stack[#stack + 1] = p
  field.default = resolve_value(p.fc, p.node, field.type, "default of field '" .. field.name .. "'")
  stack[#stack] = nil
  ctx.pending_defaults[field] = nil
  return field.default
end

-- Value and type of constant 'def'; 'ref' is the reference that led here,
-- where a constant cycle closes.
local function resolve_const(fc, def, ref)
  local doc = fc.doc
  local state = fc.state[def]
  if state == "done" then
    return doc.consts[def.name], doc.const_types[def.name]
  elseif state == "busy" then
    fail_node(fc, ref, "%s", cycle_message("constant", "refers to", fc.const_stack, def,
      const_step))
  end
  fc.state[def] = "busy"
  fc.const_stack[#fc.const_stack + 1] = def
  local t = resolve_type(fc, def.type)
  local v = resolve_value(fc, def.value, t, "const '" .. def.name .. "'")
  doc.consts[def.name], doc.const_types[def.name] = v, t
  fc.const_stack[#fc.const_stack] = nil
  fc.state[def] = "done"
  return v, t
end

-- Value and type of constant reference 'ref': CONST, Enum.VALUE,
-- inc.CONST, inc.Enum.VALUE. Nil when unknown.
local function lookup_const(fc, ref)
  local doc, ctx = fc.doc, fc.ctx
  local name = ref.name
  local prefix, last = split_last(name)
  if not prefix then
    local def = fc.defs[name]
    if def and def.kind == "const" then
      return resolve_const(fc, def, ref)
    end
    return nil
  end
  local def = fc.defs[prefix]
  if def and def.kind == "enum" then
    local ed = doc.enums[prefix]
    if ed.by_name[last] ~= nil then
      return ed.by_name[last], enum_type(ctx, ed)
    end
    -- Not a value: maybe a constant of an included file of the same name.
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
  if type(v) == "boolean" and tt ~= "bool" then
    v = v and 1 or 0 -- true and false are the integers 1 and 0 to Apache
  end
  if tt == "bool" then
    if type(v) == "boolean" then
      return true, v
    elseif math.type(v) == "integer" then
      return true, v > 0
    end
  elseif INT_RANGE[tt] then
    local r = INT_RANGE[tt]
    if math.type(v) == "integer" and v >= r[1] and v <= r[2] then
      return true, v
    end
  elseif tt == "double" then
    if type(v) == "number" then
      return true, v * 1.0 -- not v + 0.0, which turns -0.0 into 0.0
    end
  elseif tt == "string" or tt == "binary" then
    if type(v) == "string" then
      return true, v
    end
  elseif tt == "uuid" then
    local u = type(v) == "string" and canonical_uuid(v)
    if u then
      return true, u
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
    -- VALUE, Enum.VALUE or inc.Enum.VALUE of the expected enum. As in
    -- Apache Thrift, whose compiler looks only at the part after the last
    -- dot, any prefix is taken (Other.VALUE is VALUE of the expected enum),
    -- with a warning when it does not name that enum.
    local ed = t.enum
    local prefix, last = split_last(name)
    last = last or name
    if ed.by_name[last] ~= nil then
      local def = not prefix and fc.defs[name]
      if def and def.kind == "const" and fc.state[def] ~= "busy" then
        -- Apache refuses every bare name here; the one that is also a
        -- constant of another value would read two ways.
        local v, src = resolve_const(fc, def, node)
        local ok, out = coerce(v, src, t)
        if not ok or out ~= ed.by_name[name] then
          fail_node(fc, node, "%s: '%s' is both the value %s.%s (%d) and the constant '%s' (%s): "
            .. "write %s.%s or rename the constant", what, name, ed.fullname, name,
            ed.by_name[name], name, tostring(v), ed.name, name)
        end
      end
      if prefix and prefix ~= ed.fullname and lookup_type(fc, prefix) ~= t then
        warn(fc, node, "%s: '%s' is taken as %s.%s (%d), the value of that name in the "
          .. "expected enum, as Apache Thrift does", what, name, ed.name, last, ed.by_name[last])
      end
      return ed.by_name[last]
    end
  end
  local v, src = lookup_const(fc, node)
  if src == nil then
    fail_node(fc, node, "%s: unknown constant '%s'", what, name)
  end
  charge_copy(fc, node, v, what, "constant '" .. name .. "'")
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
    -- Apache's compiler takes two, but no encoder can send such a union
    local other = sd.kind == "union" and next(v)
    if other and other ~= f.name then
      fail_node(fc, key, "%s: union %s holds one field, '%s' and '%s' are set", what,
        sd.fullname, other, f.name)
    end
    v[f.name] = resolve_value(fc, e.value, f.type, what .. " field '" .. f.name .. "'")
    any = true
  end
  if not (sd.kind == "union" and any) then
    for _, f in ipairs(sd.fields) do
      if v[f.name] == nil then
        local d = field_default(fc, f, node)
        if d ~= nil then
          charge_copy(fc, node, d, what, "the default of field '" .. f.name .. "'")
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
  if k == "bool" and tt ~= "bool" and (INT_RANGE[tt] or tt == "double" or tt == "enum") then
    -- Apache's lexer reads true and false as the integers 1 and 0.
    node = { kind = "int", value = node.value and 1 or 0, line = node.line, col = node.col }
    k = "int"
  end
  if tt == "bool" then
    if k == "bool" then
      return node.value
    elseif k == "int" then
      return node.value > 0 -- as the code Apache Thrift generates reads it
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
      return node.value * 1.0 -- not + 0.0, which turns -0.0 into 0.0
    end
  elseif tt == "string" or tt == "binary" then
    if k == "string" then
      return node.value
    end
  elseif tt == "uuid" then
    if k == "string" then
      local u = canonical_uuid(node.value)
      if not u then
        fail_node(fc, node, "%s: '%s' is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
          what, node.value)
      end
      return u
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
    -- Apache takes an empty '{}' for an empty list or set (and '[]' for an
    -- empty map below); with items it would drop them, so those are refused.
    if k == "list" or (k == "map" and #node.entries == 0) then
      local out = {}
      for i, item in ipairs(node.items or {}) do
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
    if k == "map" or (k == "list" and #node.items == 0) then
      local out = {}
      for _, e in ipairs(node.entries or {}) do
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

-- Field tables of one field list. mode: "struct", "union", "args" or
-- "throws" (Apache ignores 'optional' in the argument and throws lists of a
-- service).
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
    if (mode == "args" or mode == "throws") and req == "optional" then
      warn(fc, n, "'optional' is ignored in %s lists (field '%s')",
        mode == "args" and "argument" or "throws", n.name)
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
      fc.ctx.pending_defaults[f] = { fc = fc, node = n.default, name = n.name, where = where }
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
      return build_service(fc, def, ref)
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
  local throws = build_fields(fc, throws_nodes, "throws of '" .. name .. "'", "throws")
  for i, f in ipairs(throws) do
    local t = f.type
    if t.ttype ~= "struct" or t.struct.kind ~= "exception" then
      fail_node(fc, throws_nodes[i], "throws of '%s': %s is not an exception", name,
        type_name(t))
    end
  end
  if fd.oneway then
    if fd.returns then
      -- Apache Thrift only warns: no reply is ever sent, so no result either.
      warn(fc, n, "oneway function '%s' should return void: its result type %s is ignored",
        name, type_name(fd.returns))
      fd.returns = nil
    end
    if #throws > 0 then
      fail_node(fc, n, "oneway function '%s' cannot throw exceptions", name)
    end
  end
  local result = {}
  if fd.returns then
    result[1] = { id = 0, name = "success", type = fd.returns, required = "optional" }
    for i, f in ipairs(throws) do
      -- Apache takes it, but the result struct would hold two 'success'.
      if f.name == "success" then
        fail_node(fc, throws_nodes[i], "throws of '%s': an exception may not be named "
          .. "'success', the name of the result of a function that is not void", name)
      end
    end
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

-- The service of definition 'def'; 'ref' is the extends that led here,
-- where an extends cycle closes. (Services of other files are already
-- built: a cycle through one would be an include cycle.)
function build_service(fc, def, ref)
  local svc = fc.doc.services[def.name]
  local state = fc.state[def]
  if state == "done" then
    return svc
  elseif state == "busy" then
    fail_node(fc, ref, "%s", cycle_message("service", "extends", fc.service_stack, def))
  end
  fc.state[def] = "busy"
  fc.service_stack[#fc.service_stack + 1] = def
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
  fc.service_stack[#fc.service_stack] = nil
  fc.state[def] = "done"
  return svc
end

local ORDER_KIND = { union = "struct", exception = "struct" }

-- Keys of the module of a file (thriftcorn.schema) that are not definitions.
local MODULE_KEYS = { __doc = true, __path = true }

-- Shells for every definition, so that forward references resolve.
local function declare(fc)
  local doc = fc.doc
  for _, def in ipairs(fc.ast.definitions) do
    local name, k = def.name, def.kind
    local prev = fc.defs[name]
    if prev then
      fail_node(fc, def, "duplicate definition name '%s' (first defined at line %d)", name,
        prev.line)
    elseif MODULE_KEYS[name] then
      fail_node(fc, def, "the name '%s' is reserved: the module of a loaded file keeps its %s "
        .. "there", name, name == "__doc" and "doc" or "path")
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
  fc.typedef_stack, fc.service_stack, fc.const_stack = {}, {}, {}
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
    field_default(fc, f)
  end
  -- thriftcorn.schema puts both in the module; the definition wins there.
  for _, def in ipairs(defs) do
    local t = def.kind == "typedef" and doc.types[def.name]
    if doc.includes[def.name] and (not t or t.ttype == "struct" or t.ttype == "enum") then
      warn(fc, def, "%s '%s' has the name of an included file: in the module of this file, "
        .. "'%s' is the %s, not the included module", def.kind, def.name, def.name, def.kind)
    end
  end
end

-- Resolve file context 'fc' into fc.doc. Raises a Failure.
M.file = resolve

return M
