-- SPDX-License-Identifier: Apache-2.0
-- Thrift IDL loader: reads a file, parses it (thriftcorn.idl.grammar),
-- finds, loads and caches its includes (search path, cycles, name clashes)
-- and has each file resolved (thriftcorn.idl.resolve) into its doc.

local grammar = require("thriftcorn.idl.grammar")
local resolve = require("thriftcorn.idl.resolve")
local failure = require("thriftcorn.idl.failure")

local M = {}

local raise, fail_node, protect = failure.raise, failure.fail_node, failure.protect

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

-- ENOENT, the errno of io.open() when there is no file at the path: 2 on
-- every system Lua runs on (Lua gives errno values no names).
local ENOENT = 2

-- Read a whole file with io.open(): the text, or nil, the reason, whether
-- the file opened and whether there is no file at the path at all. The
-- reader of a load without opts.read_file; a FIFO or a device blocks it,
-- so the server passes one that refuses them.
local function io_read_file(path)
  local f, err, code = io.open(path, "rb")
  if not f then
    return nil, (err:gsub("^.-: ", "", 1)), false, code == ENOENT
  end
  local text, rerr = f:read("a")
  f:close()
  if not text then
    return nil, rerr or "read failed", true
  end
  return text
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
  -- the first that opens, read at once (not opened twice): a file there
  -- that cannot be read is reported, not passed over
  local searched = {}
  for _, path in ipairs(candidates) do
    local text, err, opened, missing = ctx.read_file(path)
    if text or opened then
      return path, nil, { text = text, err = err }
    end
    -- the reason, unless there is simply no file there ("Not a directory"
    -- for a path through a regular file, "Permission denied")
    searched[#searched + 1] = normalize(path) .. (missing and "" or ": " .. tostring(err))
  end
  return nil, searched
end

local load_file

local function load_includes(fc)
  local ctx, doc = fc.ctx, fc.doc
  for _, inc in ipairs(fc.ast.includes) do
    if inc.path == "" then
      fail_node(fc, inc, "empty include file name")
    end
    local path, searched, read = find_include(ctx, fc.name, inc.path)
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
        chain[#chain + 1] = entry.name
        fail_node(fc, inc, "include cycle: %s", table.concat(chain, " -> "))
      end
    end
    local sub = ctx.cache[abs] or load_file(ctx, path, abs, fc, inc, read)
    local stem = stem_of(inc.path)
    if doc.includes[stem] and doc.includes[stem] ~= sub then
      fail_node(fc, inc, "two included files are named '%s'", stem)
    end
    doc.includes[stem] = sub
  end
end

-- Load the file at 'path' ('abs' normalized); 'from' and 'inc' are the file
-- context and include node that name it, nil for the file given to load;
-- 'read' is what the search for an include read ({ text, err }). Messages
-- name the file 'path' normalized: 'b.thrift', not 'dir/../b.thrift' for
-- the include "../b.thrift" of 'dir/a.thrift'.
function load_file(ctx, path, abs, from, inc, read)
  local name = normalize(path)
  local text, err
  if read then
    text, err = read.text, read.err
  else
    text, err = ctx.read_file(path)
  end
  if not text and from then
    fail_node(from, inc, "cannot read include file '%s'%s: %s", inc.path,
      name == inc.path and "" or " (" .. name .. ")", err)
  elseif not text then
    raise(name .. ": cannot read file: " .. err)
  end
  local ast, perr = protect(grammar.parse, text, name)
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
  local fc = { ctx = ctx, doc = doc, ast = ast, name = name, defs = {}, state = {},
               defaulted = {} }
  ctx.stack[#ctx.stack + 1] = { abs = abs, name = name }
  load_includes(fc)
  resolve.file(fc)
  ctx.stack[#ctx.stack] = nil
  ctx.cache[abs] = doc
  return doc
end

-- The load context of M.load; opts as in thriftcorn.idl.load.
function M.context(opts)
  return {
    cache = {}, stack = {}, warn = opts.warn or function() end,
    include_dirs = opts.include_dirs or {}, cwd = opts.cwd or getcwd(),
    read_file = opts.read_file or io_read_file,
    base_types = {}, struct_types = {}, enum_types = {}, pending_defaults = {},
  }
end

-- Load and resolve the file at 'path' in context 'ctx'. Raises a Failure.
function M.load(ctx, path)
  return load_file(ctx, path, absolute(ctx, path))
end

return M
