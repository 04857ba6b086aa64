-- SPDX-License-Identifier: Apache-2.0
-- thriftcorn.config: the settings of thriftcorn.lua, their defaults and their
-- validation. The arbiter runs this in a config-only Lua state; the result
-- is frozen into a C struct (src/config/config.c). M.load() puts the parts
-- together: thriftcorn.config.file evaluates the file and notes where each
-- setting was set, thriftcorn.config.check checks each value against its
-- setting in thriftcorn.config.settings, which also lays the command line's
-- values over the file's; then the defaults, and the service's paths.
local settings = require("thriftcorn.config.settings")
local file = require("thriftcorn.config.file")
local check = require("thriftcorn.config.check")

local M = {}

--- The settings in the order of docs/configuration.md, the hooks' names,
--- and each setting by its name (thriftcorn.config.settings).
M.settings = settings.list
M.hooks = settings.hooks
M.by_name = settings.by_name

M.parse_flag = settings.parse_flag
--- "file:line" where a setting of a loaded config was set (thriftcorn.config.file).
M.place = file.place

-- keys of `service` only ('name' may as well be meant as 'proc_name')
local SERVICE_KEYS = { idl = true, handler = true, plugin = true }

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

--- Evaluate the config file `path` in a fresh environment and validate it.
--- `overrides` is a list of { name = setting, value = string } from the
--- command line; they win over the file. `source`, when given, is the text to
--- evaluate as `path` (already a real path) instead of reading the file: a
--- reload checks and applies the text it read once, and a worker's loop
--- thread evaluates the text the arbiter read, not the file as it is now.
--- Returns the config table (its `source` the text evaluated), or nil and a
--- list of error lines "file:line: message".
function M.load(path, overrides, source)
  local run, err = file.evaluate(path, source)
  if not run then
    return nil, err
  end
  path, source = run.path, run.source
  local values, lines, files = run.values, run.lines, run.files
  local errors = {}
  local cfg = { path = path, dir = file.dirname(path), lines = lines, files = files,
    source = source }
  local function fail(key, msg)
    errors[#errors + 1] = string.format("%s: %s", file.place(cfg, key), msg)
  end
  local function unknown(key)
    local hint = settings.suggest(key)
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
    if values[key] == nil and not settings.by_name[key] then
      unknown(key)
    end
  end
  for key, v in pairs(values) do
    if not settings.by_name[key] then
      unknown(key)
    else
      local s = settings.by_name[key]
      -- checked as a plain copy, which the C side reads with no metamethod to run
      local nv, msg = check.value(s, check.deep_copy(v))
      if msg then
        fail(key, string.format("%s: %s", key, msg))
      else
        cfg[key] = nv
      end
    end
  end
  local flagged = settings.apply(cfg, overrides, errors)
  for _, s in ipairs(settings.list) do
    -- a nilable setting the file sets, even to nil, keeps that: nil means never
    if cfg[s.name] == nil and s.default ~= nil and not (s.nilable and lines[s.name] ~= nil) then
      cfg[s.name] = check.deep_copy(s.default)
    end
  end
  if cfg.client_timeout == 0 then
    cfg.client_timeout = nil
  end
  if cfg.timeout == 0 then
    cfg.timeout = nil
  end
  -- how a line about a file or a bind the arbiter opens, or about the switch
  -- to 'user' and 'group', names the setting: "FILE:LINE: pidfile" or
  -- "--pidfile" where it was set, nil for a default
  cfg.named = {}
  for _, key in ipairs({ "errorlog", "pidfile", "accesslog", "bind", "user", "group" }) do
    cfg.named[key] = flagged[key] and "--" .. key
      or lines[key] ~= nil and string.format("%s: %s", file.place(cfg, key), key)
      or nil
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
          e[key] = file.join(cfg.dir, e[key])
        end
      end
      if e.default then
        dflt = e
      end
    end
    -- 'service' names the default service (or the first) for what serves one only
    cfg.service = check.deep_copy(dflt)
    cfg.service.default = nil
  elseif values.service == nil and values.services == nil and cfg.service == nil then
    errors[#errors + 1] = string.format("%s: no service configured: set service = "
      .. "{ idl = ..., name = ..., handler = ... }", path)
  elseif cfg.service then
    cfg.service.idl = file.join(cfg.dir, cfg.service.idl)
    cfg.service.handler = cfg.service.handler and file.join(cfg.dir, cfg.service.handler)
    cfg.service.plugin = cfg.service.plugin and file.join(cfg.dir, cfg.service.plugin)
  end
  for i, d in ipairs(cfg.include_dirs or {}) do
    cfg.include_dirs[i] = file.join(cfg.dir, d)
  end
  if #errors > 0 then
    table.sort(errors, by_place)
    return nil, errors
  end
  return cfg
end

-- Whether a value of a loaded IDL module is a service. An enum's table
-- raises on a missing key, so look at the field itself.
local function is_service(v)
  return type(v) == "table" and rawget(v, "all_functions") ~= nil
end

-- "IDL defines no service 'NAME'", and the services it does define: a
-- service is named as the IDL names it, not by the full name of the logs.
local function no_service(idl, mod, name)
  local names = {}
  for key, v in pairs(mod) do
    if type(key) == "string" and is_service(v) then
      names[#names + 1] = key
    end
  end
  table.sort(names)
  return string.format("%s defines no service '%s' (%s)", idl, name,
    #names > 0 and "its services: " .. table.concat(names, ", ") or "it defines none")
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
    elseif not is_service(mod[e.name]) then
      errors[#errors + 1] = string.format("%s: services[%d].name: %s", where, i,
        no_service(e.idl, mod, e.name))
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
  elseif not is_service(mod[svc.name]) then
    errors[#errors + 1] = string.format("%s: service.name: %s", where,
      no_service(svc.idl, mod, svc.name))
  else
    svc.schema = mod[svc.name]
  end
  if #errors > 0 then
    return nil, errors
  end
  return true
end

return M
