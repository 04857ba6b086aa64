-- SPDX-License-Identifier: Apache-2.0
-- Thrift IDL type references: the type a type node of the AST names (base
-- types, list/set/map, typedefs and their cycles, enums and structs of the
-- file or of an include), for the resolver (thriftcorn.idl.resolve), whose
-- file context 'fc' it reads.

local failure = require("thriftcorn.idl.failure")

local M = {}

local fail_node, cycle_message = failure.fail_node, failure.cycle_message

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
local function cached_type(cache, ttype, def)
  local t = cache[def]
  if not t then
    t = { ttype = ttype, [ttype] = def } -- { ttype = "struct", struct = sd }
    cache[def] = t
  end
  return t
end

local function struct_type(ctx, sd)
  return cached_type(ctx.struct_types, "struct", sd)
end

local function enum_type(ctx, ed)
  return cached_type(ctx.enum_types, "enum", ed)
end

local function split_last(name)
  return name:match("^(.*)%.([^.]+)$")
end

local resolve_type

-- The type typedef 'def' names; 'ref' is the type reference that led here,
-- where a typedef cycle closes.
local function resolve_typedef(fc, def, ref)
  local state = fc.state[def]
  if state == "done" then
    return fc.doc.types[def.name]
  elseif state == "busy" then
    fail_node(fc, ref, "%s", cycle_message("typedef", "refers to", fc.typedef_stack, def))
  end
  fc.state[def] = "busy"
  fc.typedef_stack[#fc.typedef_stack + 1] = def
  local t = resolve_type(fc, def.type)
  fc.doc.types[def.name] = t
  fc.typedef_stack[#fc.typedef_stack] = nil
  fc.state[def] = "done"
  return t
end

-- Type named 'name' (maybe "include.Name"); nil plus what it is otherwise.
-- 'ref' is the type reference that names it, if any.
local function lookup_type(fc, name, ref)
  local doc, ctx = fc.doc, fc.ctx
  local prefix, base = split_last(name)
  if not prefix then
    local def = fc.defs[name]
    if not def then
      return nil
    end
    local k = def.kind
    if k == "typedef" then
      return resolve_typedef(fc, def, ref)
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
  local t, what = lookup_type(fc, node.name, node)
  if not t then
    if what then
      fail_node(fc, node, "'%s' is a %s, not a type", node.name, what)
    end
    fail_node(fc, node, "unknown type '%s'", node.name)
  end
  return t
end

-- The words for type 't' in messages: "i32", "list<t.P>", "map<string,i32>".
M.name = type_name
-- The one type table of enum 'ed' in load context 'ctx'.
M.enum_type = enum_type
-- "a.b.C" -> "a.b", "C"; nil for a name without a dot.
M.split_last = split_last
-- Resolve typedef 'def' of file context 'fc' (see resolve_typedef()).
M.typedef = resolve_typedef
-- Type named 'name', or nil plus what it is (see lookup_type()).
M.lookup = lookup_type
-- Type of type node 'node' of file context 'fc'. Raises a Failure.
M.resolve = resolve_type

return M
