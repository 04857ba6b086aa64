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

-- ENOENT and ENOTDIR, the errno values of io.open() when there is no file
-- at the path, or a name on the way is a file and not a folder: 2 and 20 on
-- every system Lua runs on (Lua gives errno values no names).
local ENOENT, ENOTDIR = 2, 20

-- Read a whole file with io.open(), as the reader contract of
-- thriftcorn.idl.load() says: the text, or nil, the reason, whether a file
-- is there all the same and whether there is no file at the path at all.
-- It gives no identity, so a file is known by its path's text. The reader
-- of a load without opts.read_file; a FIFO or a device blocks it, so the
-- server passes one that refuses them.
local function io_read_file(path)
  local f, err, code = io.open(path, "rb")
  if not f then
    return nil, (err:gsub("^.-: ", "", 1)), code ~= ENOENT and code ~= ENOTDIR, code == ENOENT
  end
  local text, rerr = f:read("a")
  f:close()
  if not text then
    return nil, rerr or "read failed", true
  end
  return text
end

-- Read the file at 'path' through ctx.read_file: { text, key } where 'key'
-- tells the file apart from every other file (two paths of one file, as
-- through a symlink, have one key): the identity the reader gives, else the
-- path's text made absolute and normalized. Or, when it cannot be read,
-- { err, found, missing }: the reason, whether the search for an include
-- stops at 'path' all the same, whether there is no file there at all.
local function read_at(ctx, path)
  local text, id, found, missing = ctx.read_file(path)
  if text then
    return { text = text, key = id or absolute(ctx, path) }
  end
  return { err = id, found = found, missing = missing }
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
  -- the first where a file is, read at once (not opened twice): a file
  -- there that cannot be read ("Permission denied", a folder) is reported,
  -- not passed over for a later folder, as by gcc and Apache's compiler
  local searched = {}
  for _, path in ipairs(candidates) do
    local read = read_at(ctx, path)
    if read.text or read.found then
      return path, nil, read
    end
    -- the reason, unless there is simply no file there ("Not a directory"
    -- for a path through a regular file)
    searched[#searched + 1] = normalize(path)
      .. (read.missing and "" or ": " .. tostring(read.err))
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
    for i, entry in ipairs(ctx.stack) do
      if entry.key == read.key then
        local chain = {}
        for j = i, #ctx.stack do
          chain[#chain + 1] = ctx.stack[j].name
        end
        -- the file as this include names it, and which it is when that
        -- path is another (a symlink: "d/link/a.thrift" for "d/a.thrift")
        local name = normalize(path)
        chain[#chain + 1] = name
        fail_node(fc, inc, "include cycle: %s%s", table.concat(chain, " -> "),
          name == entry.name and "" or " (the same file as " .. entry.name .. ")")
      end
    end
    local sub = ctx.cache[read.key] or load_file(ctx, path, read, fc, inc)
    local stem = stem_of(inc.path)
    if doc.includes[stem] and doc.includes[stem] ~= sub then
      fail_node(fc, inc, "two included files are named '%s'", stem)
    end
    doc.includes[stem] = sub
  end
end

-- Load the file at 'path', which 'read' holds (read_at()); 'from' and 'inc'
-- are the file context and include node that name it, nil for the file
-- given to load. Messages name the file 'path' normalized: 'b.thrift', not
-- 'dir/../b.thrift' for the include "../b.thrift" of 'dir/a.thrift'.
function load_file(ctx, path, read, from, inc)
  local name = normalize(path)
  local text, err = read.text, read.err
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
    path = absolute(ctx, path), name = stem_of(path), namespaces = {}, cpp_includes = {},
    includes = {}, types = {}, enums = {}, structs = {}, consts = {}, const_types = {},
    services = {}, order = {},
  }
  for _, ns in ipairs(ast.namespaces) do
    doc.namespaces[ns.scope] = ns.name
  end
  for i, ci in ipairs(ast.cpp_includes) do
    doc.cpp_includes[i] = ci.path
  end
  local fc = { ctx = ctx, doc = doc, ast = ast, name = name, defs = {}, state = {},
               defaulted = {} }
  ctx.stack[#ctx.stack + 1] = { key = read.key, name = name }
  load_includes(fc)
  resolve.file(fc)
  ctx.stack[#ctx.stack] = nil
  ctx.cache[read.key] = doc
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
  return load_file(ctx, path, read_at(ctx, path))
end

return M
