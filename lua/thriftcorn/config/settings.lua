-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.config.settings: every setting of thriftcorn.lua, its kind, its
-- bounds and its default (M.list), and its names: the lookup by name and by
-- a near spelling, and the command line's "--name[=VALUE]" (M.parse_flag(),
-- read by main.c; M.apply(), which lays those values over the file's).
-- docs/configuration.md lists the same settings, and a test checks the two agree.
local check = require("thriftcorn.config.check")

local M = {}

-- ---- the settings ----

-- kind: int, number, bool, string, enum (one of `values`), list (of strings),
-- services, function. `flag` is the command-line form. `min` and `max` bound
-- numbers (every one has a max, so that the C side's conversions fit; a
-- number must be finite). `nilable` ones accept nil/false for "never".
-- `binds`: a list whose items are bind addresses, checked for their form
-- (at least one). `path`: a string naming a file, never empty; `dash` when
-- '-' (the error log's stderr, the access log's stdout) is one too.
local YEAR = 365 * 24 * 3600
local INT32_MAX = 2147483647
M.list = {
  { name = "bind", kind = "list", default = { "127.0.0.1:9090" }, binds = true,
    doc = "Addresses to listen on: HOST:PORT, [V6]:PORT, unix:PATH or fd://N. Repeatable." },
  { name = "workers", kind = "int", default = 1, min = 1, max = 4096, -- TC_CONFIG_WORKERS_MAX
    doc = "Worker processes." },
  { name = "threads", kind = "int", default = 4, min = 1, max = 4096,
    doc = "Handler threads per worker, each with its own Lua state." },
  { name = "transport", kind = "enum", default = "auto",
    values = { "auto", "buffered", "framed", "header" },
    doc = "How messages are delimited on a connection; auto: detected per connection." },
  { name = "protocol", kind = "enum", default = "auto", values = { "auto", "binary", "compact" },
    doc = "How values are encoded; auto: detected per connection." },
  { name = "client_timeout", kind = "number", default = 30, min = 0, max = YEAR, nilable = true,
    doc = "Seconds a connection may stay silent between messages, or take to send one; "
      .. "nil or 0: never." },
  { name = "max_frame_size", kind = "int", default = 16384000, min = 16, max = INT32_MAX,
    doc = "Largest frame a framed client may send, in bytes (Apache Thrift's default)." },
  { name = "max_message_size", kind = "int", default = 16384000, min = 16, max = INT32_MAX,
    doc = "Largest message, in bytes; also bounds every string and container size." },
  { name = "max_depth", kind = "int", default = 64, min = 1, max = 256,
    doc = "Deepest nesting of structs and containers in a message." },
  { name = "max_lua_memory", kind = "int", default = 0, min = 0, max = 1 << 50,
    doc = "Most bytes the Lua state of each handler thread may hold (the loaded handlers, "
      .. "a call's decoded arguments, what the handler builds); 0: no limit." },
  { name = "expose_errors", kind = "bool", default = false,
    doc = "Send a handler's Lua error text to the client in INTERNAL_ERROR replies." },
  { name = "loglevel", kind = "enum", default = "info",
    values = { "debug", "info", "warning", "error", "critical" },
    doc = "Least severe log level written." },
  { name = "client_warning_rate", kind = "int", default = 10, min = 0, max = 1000000,
    doc = "Warnings about a client's messages each handler thread logs a second, after a "
      .. "burst of as many (10 at least); the others are counted; 0: no limit." },
  { name = "errorlog", kind = "string", default = "-", path = true, dash = true,
    doc = "Where the log goes: a file path, or - for stderr." },
  { name = "include_dirs", kind = "list", default = {},
    doc = "Folders searched for IDL includes after the including file's own folder." },
  { name = "services", kind = "servicelist", default = nil,
    doc = "Several services on one port, called as Service:method: a list of "
      .. "{ idl = PATH, name = SERVICE, handler = PATH, default = true }." },
  { name = "service", kind = "services", default = nil,
    doc = "The service to serve: { idl = PATH, name = SERVICE, handler = PATH, plugin = PATH }; "
      .. "handler (Lua) or plugin (C, docs/plugins.md) or both." },
  -- process management (docs/operations.md)
  { name = "graceful_timeout", kind = "number", default = 30, min = 0, max = YEAR,
    doc = "Seconds a stopping worker gets to finish the calls it has read before SIGKILL." },
  { name = "timeout", kind = "number", default = 30, min = 0, max = YEAR, nilable = true,
    doc = "Seconds a worker may go without a heartbeat (a handler call stuck this long, "
      .. "or a boot this long) before it is killed and replaced; nil or 0: never." },
  { name = "max_requests", kind = "int", default = 0, min = 0, max = INT32_MAX,
    doc = "Calls a worker serves before it restarts gracefully; 0: never." },
  { name = "max_requests_jitter", kind = "int", default = 0, min = 0, max = INT32_MAX,
    doc = "Up to this many calls added at random to max_requests, per worker." },
  { name = "backlog", kind = "int", default = 2048, min = 1, max = INT32_MAX,
    doc = "Listen backlog of every bind." },
  { name = "worker_connections", kind = "int", default = 1000, min = 1, max = 1048576,
    doc = "Connections a worker holds at once; past it the worker stops accepting until one "
      .. "closes, and new clients wait in the listen backlog." },
  { name = "reuse_port", kind = "bool", default = false,
    doc = "Set SO_REUSEPORT on TCP binds." },
  { name = "pidfile", kind = "string", default = nil, path = true,
    doc = "File the arbiter writes its PID to; nil: none." },
  { name = "daemon", kind = "bool", default = false,
    doc = "Detach from the terminal and run in the background." },
  { name = "user", kind = "id", default = nil,
    doc = "User (name or id) the workers run as; nil: unchanged." },
  { name = "group", kind = "id", default = nil,
    doc = "Group (name or id) the workers run as; nil: unchanged." },
  { name = "umask", kind = "umask", default = nil,
    doc = "File mode mask of the arbiter and workers (unix sockets, logs, pidfile), an integer "
      .. "or an octal string like \"022\"; a reload applies it; nil: the umask at start." },
  { name = "accesslog", kind = "string", default = nil, path = true, dash = true,
    doc = "Where the access log goes (one line per call): a file path, - for stdout, nil: off." },
  { name = "access_log_format", kind = "string", default = "%t %h %m %s %D", nonempty = true,
    placeholders = "thmsDMLp%",
    doc = "Access log line format; see docs/operations.md." },
  { name = "access_log_buffer", kind = "int", default = 0, min = 0, max = 64 << 20,
    doc = "Bytes of access log lines each handler thread gathers before one write(2); "
      .. "0: each line written at once." },
  { name = "access_log_flush", kind = "number", default = 1, min = 0.01, max = 3600,
    doc = "Seconds a line may wait in an access_log_buffer before it is written." },
  { name = "proc_name", kind = "string", default = nil, nonempty = true,
    doc = "Name shown in the process titles; nil: the config file's name." },
}

--- Hooks: Lua functions in the config file, called at points of the process
--- life cycle (docs/operations.md lists their arguments).
M.hooks = {
  "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
  "worker_int", "worker_abort", "worker_exit", "nworkers_changed", "on_exit",
  "on_connected", "post_connect_closed",
}
for _, name in ipairs(M.hooks) do
  M.list[#M.list + 1] = { name = name, kind = "function", default = nil,
    doc = "Hook: see docs/operations.md." }
end

M.by_name = {}
for _, s in ipairs(M.list) do
  M.by_name[s.name] = s
end

--- The setting whose name is nearest to `name` in spelling, with case,
--- '_' and '-' ignored ("treads" -> threads, "error_log" -> errorlog), if one
--- is within a third of its length; nil otherwise.
function M.suggest(name)
  local names = {}
  for i, s in ipairs(M.list) do
    names[i] = s.name
  end
  return require("thriftcorn.spell").nearest(name, names)
end

-- ---- the command line ----

-- Convert a command-line string to the setting's kind; nil and a message
-- (without the flag's name: the caller puts "--flag: " in front) if it does not read.
local function from_flag(s, text)
  if s.kind == "int" or s.kind == "number" then
    local n = tonumber(text)
    if n == nil then
      return nil, string.format("expected %s, got '%s'",
        s.kind == "int" and "an integer" or "a number", text)
    end
    if s.kind == "int" then
      n = math.tointeger(n) or n
    end
    return n
  elseif s.kind == "function" then
    return nil, "a hook is a Lua function; set it in the config file"
  elseif s.kind == "services" or s.kind == "servicelist" then
    return nil, "takes a table; set it in the config file"
  elseif s.kind == "umask" then
    if not text:match("^[0-7]+$") then
      return nil, string.format("expected an octal string such as 022, got '%s'", text)
    end
    return text -- check.value() reads it, and names it as written if it is too big
  elseif s.kind == "bool" then
    if text == "true" or text == "1" or text == "yes" then
      return true
    elseif text == "false" or text == "0" or text == "no" then
      return false
    end
    return nil, string.format("expected true or false (or yes, no, 1, 0), got '%s'", text)
  end
  return text
end

-- Whether setting `s` has a command-line flag: hooks and the service tables have none.
local function has_flag(s)
  return s.kind ~= "function" and s.kind ~= "services" and s.kind ~= "servicelist"
end

--- "--flag: unknown option", with a flag whose name is close when there is
--- one (never a hook's or a service table's, which have no flag).
local function unknown_flag(flag)
  local names = {}
  for _, s in ipairs(M.list) do
    if has_flag(s) then
      names[#names + 1] = s.name
    end
  end
  local hint = require("thriftcorn.spell").nearest((flag:gsub("^%-%-", ""):gsub("-", "_")), names)
  return string.format("%s: unknown option%s", flag,
    hint and string.format(" (did you mean --%s?)", hint:gsub("_", "-")) or "")
end

--- Read one command-line flag naming a setting: `arg` is "--name" or
--- "--name=VALUE", `following` the argument after it (nil at the end).
--- A yes/no setting's bare flag means true and never takes `following`
--- ("--daemon app.lua": app.lua stays the config path); "--daemon=no" sets
--- it. Any other flag takes its value after '=' or from `following`.
--- Returns the setting's name, its value as text (checked by thriftcorn.config.load()) and
--- whether `following` was used; or nil, "--flag: message" and the exit
--- status, 2 as for any command line that cannot be read: a flag that
--- names no setting, one set in the file only (a hook, service, services),
--- a missing value.
function M.parse_flag(arg, following)
  local flag, value = arg:match("^(%-%-[^=]*)=(.*)$")
  flag = flag or arg
  local s = flag:sub(1, 2) == "--" and M.by_name[(flag:sub(3):gsub("-", "_"))]
  if not s then
    return nil, unknown_flag(flag), 2
  end
  local dashed = "--" .. s.name:gsub("_", "-")
  if not has_flag(s) then
    -- no flag: say so before the next argument is taken for a value
    return nil, string.format("%s: %s", dashed, select(2, from_flag(s, ""))), 2
  elseif value == nil and s.kind == "bool" then
    return s.name, "true", false
  elseif value == nil and following == nil then
    return nil, dashed .. ": needs a value", 2
  end
  return s.name, value or following, value == nil
end

--- Lay the command line's `overrides` (a list of { name = setting, value =
--- string }) over the settings of `cfg`: they win over the file. A list flag
--- adds its item, the first one in place of the file's list. Each bad one
--- adds "--flag: message" to `errors`. Returns the set of the names given.
function M.apply(cfg, overrides, errors)
  local flagged, replaced = {}, {}
  for _, o in ipairs(overrides or {}) do
    flagged[o.name] = true
    local s = M.by_name[o.name]
    if not s then
      errors[#errors + 1] = unknown_flag("--" .. o.name:gsub("_", "-"))
    else
      local v, msg = from_flag(s, o.value)
      if msg == nil then
        -- a list flag's item is checked alone, so that each bad one is named once
        v, msg = check.value(s, v)
      end
      if msg == nil and s.kind == "list" then
        -- a repeated flag adds; the first one replaces the file's list
        if not replaced[o.name] then
          cfg[o.name] = {}
          replaced[o.name] = true
        end
        local list = cfg[o.name]
        for i, x in ipairs(s.binds and list or {}) do
          -- as in the file: the same address twice would fail to listen
          if x == v[1] and not check.any_port(x) then
            msg = string.format("'%s' is given twice (items %d and %d)", x, i, #list + 1)
          end
        end
        list[#list + 1] = v[1]
        v = list
      end
      if msg then
        errors[#errors + 1] = string.format("--%s: %s", o.name:gsub("_", "-"), msg)
      else
        cfg[o.name] = v
      end
    end
  end
  return flagged
end


return M
