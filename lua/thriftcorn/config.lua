-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.config: the settings of thriftcorn.lua, their defaults and their
-- validation. The arbiter runs this in a config-only Lua state; the result
-- is frozen into a C struct (src/config/config.c). docs/configuration.md
-- lists the same settings, and a test checks the two agree.
local M = {}

-- kind: int, number, bool, string, enum (one of `values`), list (of strings),
-- services, function. `flag` is the command-line form. `min` and `max` bound
-- numbers (every one has a max, so that the C side's conversions fit; a
-- number must be finite). `nilable` ones accept nil/false for "never".
-- `binds`: a list whose items are bind addresses, checked for their form
-- (at least one). `path`: a string naming a file, never empty; `dash` when
-- '-' (the error log's stderr, the access log's stdout) is one too.
local YEAR = 365 * 24 * 3600
local INT32_MAX = 2147483647
M.settings = {
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
  M.settings[#M.settings + 1] = { name = name, kind = "function", default = nil,
    doc = "Hook: see docs/operations.md." }
end

M.by_name = {}
for _, s in ipairs(M.settings) do
  M.by_name[s.name] = s
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

local function join(dir, path)
  if path:sub(1, 1) == "/" or dir == "." then
    return path
  end
  return dir .. "/" .. path
end

-- A plain copy of `v`, read raw: no metamethod of the file's tables runs
-- (an __index, __len or __pairs would show the check other items than the
-- C side reads), and a table that holds itself is copied once.
local function deep_copy(v, seen)
  if type(v) ~= "table" then
    return v
  end
  seen = seen or {}
  if seen[v] then
    return seen[v]
  end
  local t = {}
  seen[v] = t
  for k, x in next, v do
    t[k] = deep_copy(x, seen)
  end
  return t
end

-- Whether bind `x` (of a valid form) is TCP at port 0, which the kernel
-- picks: a path of unix:PATH may end in ":0" too.
local function any_port(x)
  return x:find("^unix:") == nil and x:find(":0+$") ~= nil
end

-- Why string `v` cannot be handed to C, or nil: C would cut it at a NUL
-- byte, and serve another file or name than the one written.
local function has_nul(v)
  local at = v:find("\0", 1, true)
  return at and string.format("contains a NUL byte (at byte %d)", at) or nil
end

-- Why table `t` is not a list (keys 1 to n, none missing), or nil when it
-- is one. ipairs() and the C side's length would otherwise drop what
-- follows a hole, or a key that is not an index, without a word.
local function not_a_list(t)
  local last, count = 0, 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then
      return string.format("expected a list: the key %s is not an index of one",
        type(k) == "string" and ("'" .. k .. "'") or tostring(k))
    end
    last = k > last and k or last
    count = count + 1
  end
  -- a hole: the first is at most count + 1 (however large the last index)
  for i = 1, last > count and count + 1 or 0 do
    if rawget(t, i) == nil then
      return string.format("expected a list without holes: item %d is nil but item %d is set",
        i, last)
    end
  end
  return nil
end

--- The setting whose name is nearest to `name` in spelling, with case,
--- '_' and '-' ignored ("treads" -> threads, "error_log" -> errorlog), if one
--- is within a third of its length; nil otherwise.
local function suggest(name)
  local names = {}
  for i, s in ipairs(M.settings) do
    names[i] = s.name
  end
  return require("thriftcorn.spell").nearest(name, names)
end

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
    return text -- check() reads it, and names it as written if it is too big
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

--- "--flag: unknown option", with a setting whose name is close when there is one.
local function unknown_flag(flag)
  local hint = suggest((flag:gsub("^%-%-", ""):gsub("-", "_")))
  return string.format("%s: unknown option%s", flag,
    hint and string.format(" (did you mean --%s?)", hint:gsub("_", "-")) or "")
end

--- Read one command-line flag naming a setting: `arg` is "--name" or
--- "--name=VALUE", `following` the argument after it (nil at the end).
--- A yes/no setting's bare flag means true and never takes `following`
--- ("--daemon app.lua": app.lua stays the config path); "--daemon=no" sets
--- it. Any other flag takes its value after '=' or from `following`.
--- Returns the setting's name, its value as text (checked by M.load()) and
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
  if s.kind == "function" or s.kind == "services" or s.kind == "servicelist" then
    -- no flag: say so before the next argument is taken for a value
    return nil, string.format("%s: %s", dashed, select(2, from_flag(s, ""))), 2
  elseif value == nil and s.kind == "bool" then
    return s.name, "true", false
  elseif value == nil and following == nil then
    return nil, dashed .. ": needs a value", 2
  end
  return s.name, value or following, value == nil
end

-- keys of `service` only ('name' may as well be meant as 'proc_name')
local SERVICE_KEYS = { idl = true, handler = true, plugin = true }

-- What is wrong with the service table `v` (of `service`, or an item of
-- `services` when `item`, which may also have `default`), or nil.
local function check_service(v, item)
  for _, key in ipairs({ "idl", "name", "handler", "plugin" }) do
    local optional = (key == "handler" and v.plugin ~= nil) or key == "plugin"
    if type(v[key]) ~= "string" and not (optional and v[key] == nil) then
      return string.format("'%s' must be a string, got %s", key, type(v[key]))
    end
    if v[key] == "" then
      return string.format("'%s' must not be empty", key)
    end
    local nul = v[key] and has_nul(v[key])
    if nul then
      return string.format("'%s' %s", key, nul)
    end
  end
  for key in pairs(v) do
    if key ~= "idl" and key ~= "name" and key ~= "handler" and key ~= "plugin"
        and not (item and (key == "default" or key == "multiplexed_name")) then
      return string.format("unknown key '%s' (expected idl, name, handler, plugin%s)",
        tostring(key), item and ", default, multiplexed_name" or "")
    end
  end
  local mux = v.multiplexed_name
  if item and mux ~= nil then
    if type(mux) ~= "string" then
      return string.format("'multiplexed_name' must be a string, got %s", type(mux))
    end
    if mux == "" then
      return "'multiplexed_name' must not be empty"
    end
    if has_nul(mux) then
      return "'multiplexed_name' " .. has_nul(mux)
    end
    if mux:find(":", 1, true) then
      -- a call is routed at the first ':' of "Name:method": this name would never match
      return string.format("'multiplexed_name' must not contain ':', got '%s'", mux)
    end
  end
  return nil
end

-- Check one value against its setting; returns the normalized value or nil, message.
local function check(s, v)
  local k = s.kind
  if v == nil or (v == false and s.nilable) then
    return nil
  end
  if k == "int" or k == "number" then
    if type(v) ~= "number" then
      return nil, string.format("expected %s, got %s", k == "int" and "an integer" or "a number",
        type(v))
    end
    if v ~= v or v == math.huge or v == -math.huge then
      return nil, "expected a finite number, got " .. tostring(v)
    end
    -- a float with an integer value (2.0, 2^20) is an integer, as for Lua's own
    -- functions and as on the command line
    if k == "int" and v ~= math.floor(v) then
      return nil, "expected an integer, got " .. tostring(v)
    end
    if s.min and v < s.min then
      return nil, string.format("must be at least %s, got %s", s.min, v)
    end
    if s.max and v > s.max then
      return nil, string.format("must be at most %s, got %s", s.max, v)
    end
    return k == "int" and math.tointeger(v) or v
  elseif k == "bool" then
    if type(v) ~= "boolean" then
      return nil, "expected true or false, got " .. type(v)
    end
    return v
  elseif k == "string" then
    if type(v) ~= "string" then
      return nil, "expected a string, got " .. type(v)
    end
    if has_nul(v) then
      return nil, has_nul(v)
    end
    if s.path and v == "" then
      return nil, string.format("expected a file path%s, got an empty string",
        s.dash and " or '-'" or "")
    end
    if s.nonempty and v == "" then
      -- an empty title or log line says nothing: the default does
      return nil, "must not be empty (leave it unset for the default)"
    end
    if s.placeholders then
      local at = 1
      while true do
        local pos = v:find("%", at, true)
        if not pos then
          break
        end
        local c = v:sub(pos + 1, pos + 1)
        if c == "" or not s.placeholders:find(c, 1, true) then
          local known = s.placeholders:gsub(".", " %%%0"):sub(2)
          -- gunicorn's %(h)s, of a placeholder there is: say how it is written here
          local atom = c == "(" and v:match("^%((%a)%)s", pos + 1)
          atom = atom and s.placeholders:find(atom, 1, true) and atom
          return nil, string.format("%s at byte %d; the placeholders are %s",
            c == "" and "a '%' with no placeholder after it"
              or atom and string.format("unknown placeholder '%%(%s)s' (gunicorn's form: write "
                .. "%%%s)", atom, atom)
              or string.format("unknown placeholder '%%%s'", c),
            pos, known)
        end
        at = pos + 2
      end
    end
    return v
  elseif k == "enum" then
    for _, x in ipairs(s.values) do
      if v == x then
        return v
      end
    end
    return nil, string.format("expected one of %s, got %s", table.concat(s.values, ", "),
      type(v) == "string" and ("'" .. v .. "'") or type(v))
  elseif k == "list" then
    if type(v) == "string" then
      v = { v }
    end
    if type(v) ~= "table" then
      return nil, "expected a string or a list of strings, got " .. type(v)
    end
    local shape = not_a_list(v)
    if shape then
      return nil, shape
    end
    if s.binds and #v == 0 then
      return nil, "expected at least one address, got an empty list"
    end
    local seen = {}
    for i, x in ipairs(v) do
      if type(x) ~= "string" then
        return nil, string.format("item %d: expected a string, got %s", i, type(x))
      end
      if has_nul(x) then
        return nil, string.format("item %d: %s", i, has_nul(x))
      end
      if x == "" and not s.binds then
        -- it would name the config file's folder without saying so
        return nil, string.format("item %d: expected a folder, got an empty string", i)
      end
      if s.binds then
        local ok, why = require("thriftcorn.core").check_bind(x)
        if not ok then
          return nil, why
        end
        -- the same address twice would fail to listen at start (port 0
        -- opens a socket at a port of its own each time, so it may repeat)
        if seen[x] and not any_port(x) then
          return nil, string.format("'%s' is given twice (items %d and %d)", x, seen[x], i)
        end
        seen[x] = seen[x] or i
      end
    end
    return v
  elseif k == "function" then
    if type(v) ~= "function" then
      return nil, "expected a function, got " .. type(v)
    end
    return v
  elseif k == "id" then
    v = math.type(v) == "float" and math.tointeger(v) or v -- 1000.0, as integer settings take it
    if math.type(v) == "integer" and v >= 0 then
      v = tostring(v) -- looked up as the text of the id is
    end
    if type(v) ~= "string" or v == "" then
      local got = v == "" and "an empty string"
        or type(v) == "number" and tostring(v)
        or type(v)
      return nil, "expected a name or a non-negative integer id, got " .. got
    end
    if has_nul(v) then
      return nil, has_nul(v)
    end
    local ok, why = require("thriftcorn.core").check_id(s.name, v)
    if not ok then
      return nil, why
    end
    return v
  elseif k == "umask" then
    local text = v
    v = math.type(v) == "float" and math.tointeger(v) or v -- 18.0, as integer settings take it
    if type(v) == "string" and v:match("^[0-7]+$") then
      -- at most 3 digits after leading zeros: tonumber() wraps longer ones
      v = #v:match("^0*(.*)$") <= 3 and tonumber(v, 8) or math.huge
    end
    if math.type(v) ~= "integer" or v < 0 or v > 511 then
      return nil, "expected an integer 0-511 or an octal string such as \"022\", got "
        .. (type(text) == "string" and ("'" .. text .. "'")
          or type(v) == "number" and tostring(v) or type(v))
    end
    return v
  elseif k == "servicelist" then
    local shape = type(v) == "table" and not_a_list(v)
    if shape then
      return nil, shape
    end
    if type(v) ~= "table" or #v == 0 then
      return nil, "expected a list of { idl = ..., name = ..., handler = ... }, got "
        .. (type(v) == "table" and "an empty table" or type(v))
    end
    local names, dflt = {}, nil
    for i, e in ipairs(v) do
      if type(e) ~= "table" then
        return nil, string.format("item %d: expected a table, got %s", i, type(e))
      end
      local msg = check_service(e, true)
      if msg then
        return nil, string.format("item %d: %s", i, msg)
      end
      if e.default ~= nil and type(e.default) ~= "boolean" then
        return nil, string.format("item %d: 'default' must be true or false, got %s", i,
          type(e.default))
      end
      if e.default then
        if dflt then
          return nil, string.format("items %d and %d: only one service may be the default",
            dflt, i)
        end
        dflt = i
      end
      -- the name calls use: two entries may serve one IDL service under two names
      local as = e.multiplexed_name or e.name
      if names[as] then
        local other = v[names[as]]
        return nil, string.format("items %d and %d: both are called as '%s'%s", names[as], i, as,
          (other.multiplexed_name or e.multiplexed_name) and "" or string.format(
            " (give one a multiplexed_name to serve service '%s' twice)", as))
      end
      names[as] = i
    end
    return v
  elseif k == "services" then
    if type(v) ~= "table" then
      return nil, "expected a table { idl = ..., name = ..., handler = ... }, got " .. type(v)
    end
    local msg = check_service(v, false)
    if msg then
      return nil, msg
    end
    return v
  end
  return v
end

-- Order of error lines: by file, then line number (line 9 before line 10),
-- then text; lines without a place ("--flag: ...") by text, after them.
local function by_place(a, b)
  local fa, la = a:match("^(.-):(%d+): ")
  local fb, lb = b:match("^(.-):(%d+): ")
  if fa and fb then
    if fa ~= fb then
      return fa < fb
    end
    if la ~= lb then
      return tonumber(la) < tonumber(lb)
    end
    return a < b
  elseif fa or fb then
    return fa ~= nil
  end
  return a < b
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

--- Evaluate the config file `path` in a fresh environment and validate it.
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
-- would break the checks below and every later reload with a traceback from
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

--- `overrides` is a list of { name = setting, value = string } from the
--- command line; they win over the file. `source`, when given, is the text to
--- evaluate as `path` (already a real path) instead of reading the file: a
--- reload checks and applies the text it read once, and a worker's loop
--- thread evaluates the text the arbiter read, not the file as it is now.
--- Returns the config table (its `source` the text evaluated), or nil and a
--- list of error lines "file:line: message".
function M.load(path, overrides, source)
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
  local env = setmetatable({}, {
    __index = function(_, key)
      local v = values[key]
      if v == nil then
        v = _G[key]
      end
      -- a name that is nothing (a typo: bind = BIND_ADR) would read as nil and
      -- silently leave a setting to its default; a setting not set yet is nil
      if v == nil and not M.by_name[key] then
        error(string.format("'%s' is not defined (neither a setting, nor a global of Lua's, "
          .. "nor a name set above)", tostring(key)), 2)
      end
      return v
    end,
    __newindex = function(_, key, v)
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
  for _, st in ipairs(M.settings) do
    in_g[st.name] = rawget(_G, st.name)
  end
  rawset(os, "exit", no_exit)
  libs.os.copy.exit = no_exit
  local changed
  local res = table.pack(xpcall(chunk, function(e)
    changed = restore_libs(libs) -- before raised() calls them
    return raised(path, e)
  end))
  running = false
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
  for _, st in ipairs(M.settings) do
    if rawget(_G, st.name) ~= in_g[st.name] then
      rawset(_G, st.name, in_g[st.name])
      return nil, { string.format("%s: '_G.%s' was set, which is Lua's global table, not the "
        .. "settings: set it as a global (%s = ...)", path, st.name, st.name) }
    end
  end

  local errors = {}
  local cfg = { path = path, dir = dirname(path), lines = lines, files = files, source = source }
  local function fail(key, msg)
    errors[#errors + 1] = string.format("%s: %s", M.place(cfg, key), msg)
  end
  local function unknown(key)
    local hint = suggest(key)
    hint = hint and string.format(" (did you mean '%s'?)", hint)
      -- a key of the service written on its own: 'handler = "h.lua"'
      or SERVICE_KEYS[key] and string.format(" ('%s' is a key of service = { idl = ..., "
        .. "name = ..., handler = ... })", key)
      or (key == "host" or key == "port" or key == "listen")
        and " (did you mean bind = \"HOST:PORT\"?)"
    fail(key, string.format("unknown setting '%s'%s (helpers in the config should be local)",
      tostring(key), hint or ""))
  end
  for key in pairs(lines) do
    -- a typo set to nil is one too: 'wokers = os.getenv("WORKERS")' while it is unset
    if values[key] == nil and not M.by_name[key] then
      unknown(key)
    end
  end
  for key, v in pairs(values) do
    if not M.by_name[key] then
      unknown(key)
    else
      local s = M.by_name[key]
      -- checked as a plain copy, which the C side reads with no metamethod to run
      local nv, msg = check(s, deep_copy(v))
      if msg then
        fail(key, string.format("%s: %s", key, msg))
      else
        cfg[key] = nv
      end
    end
  end
  local flagged = {}
  for _, o in ipairs(overrides or {}) do
    flagged[o.name] = true
    local s = M.by_name[o.name]
    if not s then
      errors[#errors + 1] = unknown_flag("--" .. o.name:gsub("_", "-"))
    else
      local v, msg = from_flag(s, o.value)
      if msg == nil then
        -- a list flag's item is checked alone, so that each bad one is named once
        v, msg = check(s, v)
      end
      if msg == nil and s.kind == "list" then
        -- a repeated flag adds; the first one replaces the file's list
        if not cfg["_flag_" .. o.name] then
          cfg[o.name] = {}
          cfg["_flag_" .. o.name] = true
        end
        local list = cfg[o.name]
        for i, x in ipairs(s.binds and list or {}) do
          -- as in the file: the same address twice would fail to listen
          if x == v[1] and not any_port(x) then
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
  for _, s in ipairs(M.settings) do
    -- a nilable setting the file sets, even to nil, keeps that: nil means never
    if cfg[s.name] == nil and s.default ~= nil and not (s.nilable and lines[s.name] ~= nil) then
      cfg[s.name] = deep_copy(s.default)
    end
    cfg["_flag_" .. s.name] = nil
  end
  if cfg.client_timeout == 0 then
    cfg.client_timeout = nil
  end
  if cfg.timeout == 0 then
    cfg.timeout = nil
  end
  -- a reload keeps a worker count changed by SIGTTIN/SIGTTOU unless this is set
  cfg.workers_set = values.workers ~= nil or flagged.workers == true
  if cfg.services then
    if values.service ~= nil then
      fail("services", "service and services are mutually exclusive: set one of them")
    end
    local dflt = cfg.services[1]
    for _, e in ipairs(cfg.services) do
      for _, key in ipairs({ "idl", "handler", "plugin" }) do
        if type(e[key]) == "string" then
          e[key] = join(cfg.dir, e[key])
        end
      end
      if e.default then
        dflt = e
      end
    end
    -- 'service' names the default service (or the first) for what serves one only
    cfg.service = deep_copy(dflt)
    cfg.service.default = nil
  elseif values.service == nil and values.services == nil and cfg.service == nil then
    errors[#errors + 1] = string.format("%s: no service configured: set service = "
      .. "{ idl = ..., name = ..., handler = ... }", path)
  elseif cfg.service then
    cfg.service.idl = join(cfg.dir, cfg.service.idl)
    cfg.service.handler = cfg.service.handler and join(cfg.dir, cfg.service.handler)
    cfg.service.plugin = cfg.service.plugin and join(cfg.dir, cfg.service.plugin)
  end
  for i, d in ipairs(cfg.include_dirs or {}) do
    cfg.include_dirs[i] = join(cfg.dir, d)
  end
  if #errors > 0 then
    table.sort(errors, by_place)
    return nil, errors
  end
  return cfg
end

--- "file:line" where setting `key` of the loaded config `cfg` was last set:
--- the config file, or the file of a chunk it ran in its environment;
--- "file:?" when the line is not known.
function M.place(cfg, key)
  local files = cfg.files or {}
  return string.format("%s:%s", files[key] or cfg.path, cfg.lines[key] or "?")
end

--- Load the IDL of every configured service and check that the service
--- exists. Returns true, or nil and a list of error lines. The IDL loader's
--- warnings ("file:line:col: message", each once) go to cfg.idl_warnings,
--- for the server to log.
function M.check_services(cfg)
  local thriftcorn = require("thriftcorn")
  local errors = {}
  local warnings, seen = {}, {}
  cfg.idl_warnings = warnings
  local opts = {
    include_dirs = cfg.include_dirs,
    warn = function(msg)
      if not seen[msg] then
        seen[msg] = true
        warnings[#warnings + 1] = msg
      end
    end,
  }
  for i, e in ipairs(cfg.services or {}) do
    local where = M.place(cfg, "services")
    local ok, mod = pcall(thriftcorn.load, e.idl, opts)
    if not ok then
      errors[#errors + 1] = string.format("%s: services[%d].idl: %s", where, i, tostring(mod))
    elseif type(mod[e.name]) ~= "table" or mod[e.name].all_functions == nil then
      errors[#errors + 1] = string.format("%s: services[%d].name: %s defines no service '%s'",
        where, i, e.idl, e.name)
    end
  end
  if #errors > 0 then
    return nil, errors
  end
  local svc = cfg.service
  local where = M.place(cfg, "service")
  local ok, mod = pcall(thriftcorn.load, svc.idl, opts)
  if not ok then
    errors[#errors + 1] = string.format("%s: service.idl: %s", where, tostring(mod))
  elseif type(mod[svc.name]) ~= "table" or mod[svc.name].all_functions == nil then
    errors[#errors + 1] = string.format("%s: service.name: %s defines no service '%s'", where,
      svc.idl, svc.name)
  else
    svc.schema = mod[svc.name]
  end
  if #errors > 0 then
    return nil, errors
  end
  return true
end

return M
