-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.config.file: the config file itself. Reads it, evaluates it in
-- an environment of its own that notes the file and line where each setting
-- was set, and keeps the file from changing what thriftcorn's own code
-- relies on (Lua's standard library, os.exit(), _G). Its errors are lines
-- "file:line: message".
local settings = require("thriftcorn.config.settings")

local M = {}

-- The folder of `path`, "." for a bare name.
function M.dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- `path` read from folder `dir`, as the paths in the config file are.
function M.join(dir, path)
  if path:sub(1, 1) == "/" or dir == "." then
    return path
  end
  return dir .. "/" .. path
end

--- The config text as loadfile() would read it: a UTF-8 byte order mark
--- and a first line starting with '#' (a shebang) skipped; the line's end
--- stays, so line numbers hold. Text that went through it once and loads
--- is left as it is by a second pass.
local function as_chunk(text)
  if text:sub(1, 3) == "\239\187\191" then
    text = text:sub(4)
  end
  if text:sub(1, 1) == "#" then
    text = text:gsub("^[^\n]*", "", 1)
  end
  return text
end

--- "path: cannot read the config file (why)", 'why' without the path that
--- io.open() and realpath() put in front of it.
local function unreadable(path, why)
  why = tostring(why)
  if why:sub(1, #path + 2) == path .. ": " then
    why = why:sub(#path + 3)
  end
  return string.format("%s: cannot read the config file (%s)", path, why)
end

--- Read the whole config file, or nil and an error line. The server reads
--- it in C (tc_config_read(): a regular file of at most 16 MiB) and passes
--- the text; this path serves Lua callers that give a path only.
local function read_source(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, unreadable(path, err)
  end
  local text, rerr = f:read("a")
  f:close()
  if not text then
    return nil, unreadable(path, rerr)
  end
  return text
end

--- Lua's name for the chunk of `path` in its messages: a long path is cut
--- to its last 60 bytes or so, behind "...".
local function short_src(path)
  return debug.getinfo(load("", "@" .. path), "S").short_src
end

--- A message of Lua's about the chunk `path` (a syntax error, a runtime
--- error), with the file named whole where Lua cut it short.
local function whole_path(path, msg)
  local short = short_src(path)
  if short ~= path and msg:sub(1, #short + 1) == short .. ":" then
    return path .. msg:sub(#short + 1)
  end
  return msg
end

--- The message handler of the config chunk: the error as one line
--- "path:line: message", whatever was raised: error("x", 0), error({}) and
--- errors of code the config calls name no place of the config itself.
local function raised(path, e)
  local msg = e
  if type(e) ~= "string" then
    local ok, s = pcall(tostring, e)
    local mt = getmetatable(e)
    msg = ok and type(s) == "string" and type(mt) == "table" and mt.__tostring and s
      or string.format("(error object is a %s value)", type(e))
  end
  msg = whole_path(path, msg)
  if msg:sub(1, #path + 1) == path .. ":" then
    return msg
  end
  -- the innermost line of the config file on the stack
  for level = 2, math.huge do
    local info = debug.getinfo(level, "Sl")
    if info == nil then
      break
    end
    if info.source == "@" .. path and info.currentline > 0 then
      return string.format("%s:%d: %s", path, info.currentline, msg)
    end
  end
  return string.format("%s: %s", path, msg)
end

-- Lua's own functions, which thriftcorn's Lua code calls after the file has
-- run: the base library's (in _G) and the standard libraries' tables, shared
-- with the file. 'package' is left out: a file may set package.path.
local SHARED_LIBS = { "_G", "string", "table", "math", "os", "io", "utf8", "coroutine", "debug" }
-- what restore_libs() calls, taken before any file runs
local ipairs, pairs, rawget, rawset, tostring = ipairs, pairs, rawget, rawset, tostring
local getmetatable, sort = getmetatable, table.sort

local function snapshot_libs()
  local snap = {}
  for _, name in ipairs(SHARED_LIBS) do
    local lib, copy = _G[name], {}
    if name == "_G" then
      lib = _G
    end
    for k, v in pairs(lib) do
      if type(v) == "function" or name == "_G" and type(v) == "table" then
        copy[k] = v
      end
    end
    snap[name] = { lib = lib, copy = copy }
  end
  snap.string_index = getmetatable("").__index
  return snap
end

-- Puts back what the file changed of Lua's functions (string.format = nil
-- would break the checks that follow and every later reload with a traceback from
-- thriftcorn's own code) and returns the names changed, sorted.
local function restore_libs(snap)
  local changed = {}
  for _, name in ipairs(SHARED_LIBS) do
    local lib, copy = snap[name].lib, snap[name].copy
    for k, v in pairs(copy) do
      if rawget(lib, k) ~= v then
        changed[#changed + 1] = (name == "_G" and "" or name .. ".") .. tostring(k)
        rawset(lib, k, v)
      end
    end
  end
  local meta = getmetatable("")
  if meta.__index ~= snap.string_index then
    changed[#changed + 1] = "getmetatable('').__index"
    meta.__index = snap.string_index
  end
  sort(changed)
  return changed
end

--- Evaluate the config file `path` in a fresh environment: `source`, when
--- given, is the text to evaluate as `path` (already a real path) instead of
--- reading the file. Returns a table { path (real), source (the text
--- evaluated), values (setting name -> value as set), lines, files (where
--- each was last set, see M.place()) }, or nil and a list of one error line.
function M.evaluate(path, source)
  if source == nil then
    local real, rerr0 = require("thriftcorn.core").realpath(path)
    if not real then
      return nil, { unreadable(path, rerr0) }
    end
    path = real
    local text, rerr1 = read_source(path)
    if not text then
      return nil, { rerr1 }
    end
    source = text
  end
  source = as_chunk(source)
  -- lines[key]: the line where setting 'key' was last set; files[key] the
  -- file when another than the config file
  local values, lines, files = {}, {}, {}
  -- true once the file has run: what a hook then sets of a setting would
  -- change nothing, as the settings were read when the file ran
  local ran = false
  local env = setmetatable({}, {
    __index = function(_, key)
      local v = values[key]
      if v == nil then
        v = _G[key]
      end
      -- a name that is nothing (a typo: bind = BIND_ADR) would read as nil and
      -- silently leave a setting to its default; a setting not set yet is nil
      if v == nil and not settings.by_name[key] then
        error(string.format("'%s' is not defined (neither a setting, nor a global of Lua's, "
          .. "nor a name set above)", tostring(key)), 2)
      end
      return v
    end,
    __newindex = function(_, key, v)
      if ran and settings.by_name[key] then
        error(string.format("%s: a hook cannot change a setting: settings are read once, when "
          .. "the config file runs (set it at the top level of the file, which a reload reads "
          .. "again%s)", tostring(key),
          key == "workers" and "; SIGTTIN and SIGTTOU change the number of workers" or ""), 2)
      end
      values[key] = v
      -- the place of the value that counts, the last one set: the innermost
      -- file on the stack, which is another than the config file's for a
      -- chunk it runs in its environment (loadfile("common.lua", "t", _ENV)),
      -- and the config file's line that runs a chunk of a string (load());
      -- false when no file is on the stack (a coroutine running such a chunk)
      lines[key], files[key] = false, nil
      for level = 2, math.huge do
        local info = debug.getinfo(level, "Sl")
        if info == nil then
          break
        end
        if info.source:sub(1, 1) == "@" and info.currentline > 0 then
          lines[key] = info.currentline
          files[key] = info.source ~= "@" .. path and info.source:sub(2) or nil
          break
        end
      end
    end,
    -- setmetatable(_ENV, nil) would make every later setting a plain key of
    -- the environment, dropped without a word
    __metatable = "the environment of the config file",
  })
  local chunk, err = load(source, "@" .. path, "t", env)
  if not chunk then
    err = whole_path(path, err)
    -- Lua names no place for a precompiled chunk ("attempt to load a binary chunk")
    if err:sub(1, #path + 1) ~= path .. ":" then
      err = string.format("%s: %s", path, err)
    end
    return nil, { err }
  end
  -- os.exit() while the file runs would end the server, or pass
  -- --check-config, without a word: it raises there (a hook may still call it)
  local exit, running = os.exit, true
  local function no_exit(...)
    if not running then
      return exit(...) -- kept by the file ('local exit = os.exit') for a hook
    end
    error("os.exit() called while the config file runs: the server would end here "
      .. "(raise an error to refuse the config)", 2)
  end
  local libs = snapshot_libs()
  -- _G.workers = 4 sets a global of Lua's, not the setting: seen once the file has run
  local in_g = {}
  for _, st in ipairs(settings.list) do
    in_g[st.name] = rawget(_G, st.name)
  end
  rawset(os, "exit", no_exit)
  libs.os.copy.exit = no_exit
  local changed
  local res = table.pack(xpcall(chunk, function(e)
    changed = restore_libs(libs) -- before raised() calls them
    return raised(path, e)
  end))
  running, ran = false, true
  changed = changed or restore_libs(libs)
  if rawget(os, "exit") == no_exit then
    rawset(os, "exit", exit)
  end
  local ok, rerr = res[1], res[2]
  for i = 3, res.n do
    rerr = rerr == nil and res[i] or rerr -- 'return nil, { ... }' returns a value too
  end
  if not ok then
    return nil, { rerr }
  elseif #changed > 0 then
    return nil, { string.format("%s: the file replaced part of Lua's standard library (%s), "
      .. "which thriftcorn's own code calls after the file runs: keep helpers in locals or a "
      .. "table of your own", path, table.concat(changed, ", ")) }
  elseif rerr ~= nil then
    -- 'return { workers = 4 }' would otherwise be dropped without a word
    return nil, { string.format("%s: the file returned a value (a %s); settings are set as "
      .. "globals (workers = 4), not returned", path, type(rerr)) }
  elseif next(env) ~= nil then
    -- rawset(_ENV, "workers", 4) goes around the environment's __newindex
    return nil, { string.format("%s: '%s' was set with rawset(); settings are set as "
      .. "globals (workers = 4)", path, tostring((next(env)))) }
  end
  for _, st in ipairs(settings.list) do
    if rawget(_G, st.name) ~= in_g[st.name] then
      rawset(_G, st.name, in_g[st.name])
      return nil, { string.format("%s: '_G.%s' was set, which is Lua's global table, not the "
        .. "settings: set it as a global (%s = ...)", path, st.name, st.name) }
    end
  end
  return { path = path, source = source, values = values, lines = lines, files = files }
end

--- "file:line" where setting `key` of the loaded config `cfg` was last set:
--- the config file, or the file of a chunk it ran in its environment;
--- "file:?" when the line is not known.
function M.place(cfg, key)
  local files = cfg.files or {}
  return string.format("%s:%s", files[key] or cfg.path, cfg.lines[key] or "?")
end

return M
