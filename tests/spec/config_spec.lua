-- SPDX-License-Identifier: Apache-2.0
-- Specs of lua/thriftcorn/config.lua: defaults, validation with file:line,
-- command-line overrides, and docs/configuration.md agreeing with the code.
local config = require("thriftcorn.config")

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local dir

local function make_config(text)
  local path = dir .. "/thriftcorn.lua"
  write(path, text)
  return path
end

local SERVICE = 'service = { idl = "ping.thrift", name = "PingService", handler = "h.lua" }\n'

describe("thriftcorn.config", function()
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    write(dir .. "/ping.thrift", [[
exception AboutToShutDownException {}
service PingService {
  string ping() throws (1: AboutToShutDownException e)
}
]])
  end)

  teardown(function()
    os.execute("rm -rf " .. dir)
  end)

  it("fills every default and resolves paths against the config's folder", function()
    local cfg, errs = config.load(make_config(SERVICE))
    assert.is_nil(errs)
    assert.same({ "127.0.0.1:9090" }, cfg.bind)
    assert.equal(1, cfg.workers)
    assert.equal(4, cfg.threads)
    assert.equal("auto", cfg.transport)
    assert.equal("auto", cfg.protocol)
    assert.equal(30, cfg.client_timeout)
    assert.equal(16384000, cfg.max_frame_size)
    assert.equal(64, cfg.max_depth)
    assert.equal(0, cfg.max_lua_memory)
    assert.is_false(cfg.expose_errors)
    local real = require("thriftcorn.core").realpath(dir)
    assert.equal(real .. "/ping.thrift", cfg.service.idl)
    assert.equal(real .. "/h.lua", cfg.service.handler)
  end)

  it("accepts a list of binds and a client_timeout of nil meaning never", function()
    local cfg = assert(config.load(make_config(
      'bind = { "127.0.0.1:0", "unix:/tmp/x.sock" }\nclient_timeout = false\n' .. SERVICE)))
    assert.same({ "127.0.0.1:0", "unix:/tmp/x.sock" }, cfg.bind)
    assert.is_nil(cfg.client_timeout)
  end)

  it("names the file and line of a setting with the wrong type", function()
    local path = make_config("-- comment\n\nworkers = 'two'\n" .. SERVICE)
    local cfg, errs = config.load(path)
    assert.is_nil(cfg)
    assert.equal(1, #errs)
    assert.matches("thriftcorn%.lua:3: workers: expected an integer, got string", errs[1])
  end)

  it("names the file and line of a setting set by a chunk the config runs", function()
    -- a file run in the config's environment is named with its own line; a
    -- chunk of a string, by the config file's line that runs it
    write(dir .. "/common.lua", "-- shared settings\n\nworkers = 'two'\n")
    local path = make_config(SERVICE .. "-- two\nloadfile('" .. dir
      .. "/common.lua', 't', _ENV)()\nload('\\n\\nthreads = 0', '=inline', 't', _ENV)()\n")
    local cfg, errs = config.load(path)
    assert.is_nil(cfg)
    assert.equal(2, #errs)
    local all = table.concat(errs, "\n")
    assert.matches("common%.lua:3: workers: expected an integer, got string", all, 1, false)
    assert.matches("thriftcorn%.lua:4: threads: must be at least 1, got 0", all)
    assert.is_nil(all:find("thriftcorn.lua:3:", 1, true))
    -- set again in the config itself, the setting's place is the config's
    cfg, errs = config.load(make_config(SERVICE .. "loadfile('" .. dir
      .. "/common.lua', 't', _ENV)()\nworkers = 0\n"))
    assert.is_nil(cfg)
    assert.same({ path .. ":3: workers: must be at least 1, got 0" }, errs)
  end)

  it("rejects values out of range and outside an enum", function()
    local _, errs = config.load(make_config(
      "workers = 0\ntransport = 'http'\nmax_depth = 1000\nmax_lua_memory = -1\n"
        .. "max_message_size = 1.5\n" .. SERVICE))
    assert.equal(5, #errs)
    local all = table.concat(errs, "\n")
    assert.matches(":1: workers: must be at least 1, got 0", all)
    assert.matches(":2: transport: expected one of auto, buffered, framed, header, got 'http'", all)
    assert.matches(":3: max_depth: must be at most 256, got 1000", all)
    assert.matches(":4: max_lua_memory: must be at least 0, got %-1", all)
    assert.matches(":5: max_message_size: expected an integer, got 1%.5", all)
  end)

  it("checks access_log_buffer and access_log_flush", function()
    local cfg = assert(config.load(make_config(SERVICE)))
    assert.equal(0, cfg.access_log_buffer)
    assert.equal(1, cfg.access_log_flush)
    cfg = assert(config.load(make_config("access_log_buffer = 64 * 1024\naccess_log_flush = 0.5\n"
      .. SERVICE)))
    assert.equal(65536, cfg.access_log_buffer)
    assert.equal("integer", math.type(cfg.access_log_buffer))
    assert.equal(0.5, cfg.access_log_flush)
    local _, errs = config.load(make_config("access_log_buffer = 1 << 30\naccess_log_flush = 7200\n"
      .. SERVICE))
    local all = table.concat(errs, "\n")
    assert.matches(":1: access_log_buffer: must be at most 67108864, got 1073741824", all)
    assert.matches(":2: access_log_flush: must be at most 3600, got 7200", all)
    _, errs = config.load(make_config("access_log_buffer = 4096.5\naccess_log_flush = 0\n"
      .. SERVICE))
    all = table.concat(errs, "\n")
    assert.matches(":1: access_log_buffer: expected an integer, got 4096%.5", all)
    assert.matches(":2: access_log_flush: must be at least 0%.01, got 0", all)
    _, errs = config.load(make_config(SERVICE), {
      { name = "access_log_buffer", value = "64K" },
      { name = "access_log_flush", value = "-1" },
    })
    assert.same({
      "--access-log-buffer: expected an integer, got '64K'",
      "--access-log-flush: must be at least 0.01, got -1",
    }, errs)
  end)

  it("rejects numbers that are not finite, and any past its setting's largest", function()
    local _, errs = config.load(make_config(
      "graceful_timeout = 0/0\nclient_timeout = 1/0\ntimeout = 1e300\n"
        .. "max_frame_size = 1 << 40\nworkers = 1 << 33\nthreads = 4097\n" .. SERVICE))
    assert.equal(6, #errs)
    local all = table.concat(errs, "\n")
    assert.matches(":1: graceful_timeout: expected a finite number, got nan\n", all)
    assert.matches(":2: client_timeout: expected a finite number, got inf\n", all)
    assert.matches(":3: timeout: must be at most 31536000, got 1e%+300", all)
    assert.matches(":4: max_frame_size: must be at most 2147483647, got 1099511627776", all)
    assert.matches(":5: workers: must be at most 4096, got 8589934592", all)
    assert.matches(":6: threads: must be at most 4096, got 4097", all)
    -- every number has a largest value, so that the C side's conversions fit
    for _, s in ipairs(config.settings) do
      if s.kind == "int" or s.kind == "number" then
        assert.is_number(s.max, s.name .. " has no max")
      end
    end
  end)

  it("names where each file and bind the arbiter opens, and user and group, was set", function()
    local path = make_config(SERVICE .. 'pidfile = "/run/app.pid"\nbind = "unix:app.sock"\n'
      .. 'accesslog = "-"\nuser = "nobody"\n')
    local cfg = assert(config.load(path, { { name = "accesslog", value = "a.log" } }))
    assert.same({
      pidfile = cfg.path .. ":2: pidfile",
      bind = cfg.path .. ":3: bind",
      accesslog = "--accesslog",
      user = cfg.path .. ":5: user",
    }, cfg.named) -- errorlog: its default, named by the setting alone
  end)

  it("refuses an access log format with a placeholder it does not know", function()
    local _, errs = config.load(make_config('access_log_format = "%t %Z"\n' .. SERVICE))
    assert.matches(":1: access_log_format: unknown placeholder '%%Z' at byte 4; "
      .. "the placeholders are %%t %%h %%m %%s %%D %%M %%L %%p %%%%", errs[1])
    _, errs = config.load(make_config('access_log_format = "%m 100%"\n' .. SERVICE))
    assert.matches(":1: access_log_format: a '%%' with no placeholder after it at byte 7", errs[1])
    -- gunicorn's form is named as such
    _, errs = config.load(make_config('access_log_format = "%(h)s %(r)s"\n' .. SERVICE))
    assert.matches(":1: access_log_format: unknown placeholder '%%%(h%)s' %(gunicorn's form: "
      .. "write %%h%) at byte 1; the placeholders are %%t", errs[1])
    _, errs = config.load(make_config('access_log_format = "%(r)s"\n' .. SERVICE))
    assert.matches(":1: access_log_format: unknown placeholder '%%%(' at byte 1;", errs[1])
    local cfg = assert(config.load(make_config(
      'access_log_format = "%t %h %m %s %D %M %L %p 100%% [x]"\n' .. SERVICE)))
    assert.equal("%t %h %m %s %D %M %L %p 100%% [x]", cfg.access_log_format)
  end)

  it("refuses a list with a hole or a key that is not an index", function()
    local _, errs = config.load(make_config(
      'bind = { "127.0.0.1:0", nil, "unix:/tmp/x.sock" }\n' .. SERVICE))
    assert.matches(":1: bind: expected a list without holes: item 2 is nil but item 3 is set",
      errs[1], 1, true)
    -- found at once, however far the last index is
    _, errs = config.load(make_config(
      'bind = { "127.0.0.1:0", [math.maxinteger] = "127.0.0.1:1" }\n' .. SERVICE))
    assert.matches(":1: bind: expected a list without holes: item 2 is nil but item "
      .. math.maxinteger .. " is set", errs[1], 1, true)
    _, errs = config.load(make_config(
      'include_dirs = { "a", extra = "b" }\n' .. SERVICE))
    assert.matches(":1: include_dirs: expected a list: the key 'extra' is not an index of one",
      errs[1], 1, true)
  end)

  it("hands the C side plain copies, whatever metatables the file set", function()
    local cfg = assert(config.load(make_config(
      'include_dirs = setmetatable({ "a" }, { __len = function() return -1 end })\n'
      .. 'bind = setmetatable({ "127.0.0.1:0" }, { __name = "Binds" })\n'
      .. SERVICE)))
    assert.is_nil(getmetatable(cfg.include_dirs))
    assert.is_nil(getmetatable(cfg.bind))
    assert.equal(1, rawlen(cfg.include_dirs))
    assert.equal("127.0.0.1:0", rawget(cfg.bind, 1))
  end)

  it("refuses names and binds holding a NUL instead of cutting them short", function()
    local core = require("thriftcorn.core")
    local function refused(f, ...)
      local ok, err = pcall(f, ...)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("contains a NUL byte", 1, true), tostring(err))
    end
    refused(core.check_id, "user", "root\0x")
    refused(core.check_bind, "127.0.0.1:1\0junk")
    refused(core.realpath, "/\0x")
    assert.is_true(core.check_id("user", "root"))
  end)

  it("orders its errors by line number", function()
    local text = "workers = 'x'\n" .. string.rep("\n", 8) .. "threads = 0\n" .. SERVICE
    local _, errs = config.load(make_config(text))
    assert.equal(2, #errs)
    assert.matches(":1: workers:", errs[1])
    assert.matches(":10: threads:", errs[2])
  end)

  it("looks up user and group when it reads them, with the file's line", function()
    local _, errs = config.load(make_config(
      'user = "tc-no-such-user"\ngroup = "tc-no-such-group"\n' .. SERVICE))
    table.sort(errs)
    assert.equal(2, #errs)
    assert.matches(":1: user: user 'tc%-no%-such%-user' not found$", errs[1])
    assert.matches(":2: group: group 'tc%-no%-such%-group' not found$", errs[2])
    _, errs = config.load(make_config(SERVICE), { { name = "user", value = "tc-no-such-user" } })
    assert.matches("^%-%-user: user 'tc%-no%-such%-user' not found$", errs[1])
    -- root is in every passwd and group file; a numeric id needs no entry
    local cfg = assert(config.load(make_config('user = "root"\ngroup = 0\n' .. SERVICE)))
    assert.equal("root", cfg.user)
    assert.equal("0", cfg.group)
    assert(config.load(make_config('user = 4000000\n' .. SERVICE)))
  end)

  it("checks the form of every bind, in the file and on the command line", function()
    local _, errs = config.load(make_config(
      'bind = "127.0.0.1:99999"\n' .. SERVICE))
    assert.equal(1, #errs)
    assert.matches(":1: bind: 127%.0%.0%.1:99999: port 99999 out of range %(0%-65535%)", errs[1])
    _, errs = config.load(make_config(
      'bind = { "127.0.0.1:0", "999.1.1.1:80", "unix:" }\n' .. SERVICE))
    assert.matches(":1: bind: 999%.1%.1%.1:80: '999%.1%.1%.1' is not an IPv4 address", errs[1])
    _, errs = config.load(make_config(SERVICE), { { name = "bind", value = "[::1]9090" } })
    assert.matches("%-%-bind: %[::1%]9090: expected ':PORT' after ']'", errs[1])
    -- each bad one of repeated flags is named once, the good ones not at all
    _, errs = config.load(make_config(SERVICE), {
      { name = "bind", value = "127.0.0.1:99999" },
      { name = "bind", value = "127.0.0.1:1" },
      { name = "bind", value = "unix:" },
    })
    assert.equal(2, #errs)
    assert.matches("^%-%-bind: 127%.0%.0%.1:99999: port 99999 out of range", errs[1])
    assert.matches("^%-%-bind: unix:", errs[2])
    -- names are not looked up, nor descriptors checked: that happens when the bind opens
    assert(config.load(make_config(
      'bind = { "localhost:0", "host.invalid:9090", "[::]:0", "unix:./@x", "fd://3" }\n'
      .. SERVICE)))
    -- '@' is how an abstract socket is shown, not a file's name to make
    _, errs = config.load(make_config('bind = "unix:@x"\n' .. SERVICE))
    assert.equal(1, #errs)
    assert.matches(":1: bind: unix:@x: '@' names an abstract socket, which thriftcorn does not "
      .. "bind; for a file named @x, write unix:%./@x$", errs[1])
  end)

  it("reports an unknown setting with a suggestion", function()
    local _, errs = config.load(make_config("wokers = 4\n" .. SERVICE))
    assert.matches(":1: unknown setting 'wokers' %(did you mean 'workers'%?%)", errs[1])
  end)

  it("suggests the setting nearest in spelling, and none when none is near", function()
    local cases = {
      treads = "threads", Workers = "workers", bnd = "bind", error_log = "errorlog",
      accesslog_format = "access_log_format", max_request = "max_requests",
      daemonize = "daemon",
    }
    for typo, want in pairs(cases) do
      local _, errs = config.load(make_config(typo .. " = 1\n" .. SERVICE))
      assert.matches("unknown setting '" .. typo .. "' %(did you mean '" .. want .. "'%?%)",
        errs[1])
    end
    local _, errs = config.load(make_config("worker_class = 'sync'\n" .. SERVICE))
    assert.matches("unknown setting 'worker_class' %(helpers", errs[1])
    -- a name far longer than any setting's is compared with none (nor slowly)
    _, errs = config.load(make_config("_ENV[string.rep('w', 100000)] = 1\n" .. SERVICE))
    assert.matches("unknown setting 'www+' %(helpers", errs[1])
    assert.equal("--treads: unknown option (did you mean --threads?)",
      select(2, config.parse_flag("--treads", "2")))
  end)

  it("takes timeout and client_timeout set to nil as never, as false and 0", function()
    for _, v in ipairs({ "nil", "false", "0" }) do
      local cfg = assert(config.load(make_config(
        "timeout = " .. v .. "\nclient_timeout = " .. v .. "\n" .. SERVICE)))
      assert.is_nil(cfg.timeout, v)
      assert.is_nil(cfg.client_timeout, v)
    end
    -- not set at all: the default
    local cfg = assert(config.load(make_config(SERVICE)))
    assert.equal(30, cfg.timeout)
    assert.equal(30, cfg.client_timeout)
  end)

  it("takes a float with an integer value where an integer is meant, as a flag does", function()
    local cfg = assert(config.load(make_config(
      "workers = 2.0\nmax_lua_memory = 256 * 2^20\n" .. SERVICE)))
    assert.equal(2, cfg.workers)
    assert.equal("integer", math.type(cfg.workers))
    assert.equal(256 << 20, cfg.max_lua_memory)
    assert.equal("integer", math.type(cfg.max_lua_memory))
    local flagged = assert(config.load(make_config(SERVICE),
      { { name = "workers", value = "2.0" } }))
    assert.equal(2, flagged.workers)
    local _, errs = config.load(make_config("workers = 2.5\nthreads = 2^13\nbacklog = -1/0\n"
      .. SERVICE))
    assert.equal(3, #errs)
    assert.matches(":1: workers: expected an integer, got 2%.5$", errs[1])
    assert.matches(":2: threads: must be at most 4096, got 8192%.0$", errs[2])
    assert.matches(":3: backlog: expected a finite number, got %-inf$", errs[3])
  end)

  it("refuses a bind given twice, but for port 0", function()
    local _, errs = config.load(make_config(
      "bind = { '127.0.0.1:9090', 'unix:/tmp/a.sock', '127.0.0.1:9090' }\n" .. SERVICE))
    assert.same({ dir .. "/thriftcorn.lua:1: bind: '127.0.0.1:9090' is given twice "
      .. "(items 1 and 3)" }, errs)
    local cfg = assert(config.load(make_config(
      "bind = { '127.0.0.1:0', '127.0.0.1:0', '[::1]:00', '[::1]:00' }\n" .. SERVICE)))
    assert.same({ "127.0.0.1:0", "127.0.0.1:0", "[::1]:00", "[::1]:00" }, cfg.bind)
    -- a unix path that ends in ":0" is a file like another: one socket at most
    _, errs = config.load(make_config("bind = { 'unix:/tmp/a:0', 'unix:/tmp/a:0' }\n" .. SERVICE))
    assert.same({ dir .. "/thriftcorn.lua:1: bind: 'unix:/tmp/a:0' is given twice "
      .. "(items 1 and 2)" }, errs)
    _, errs = config.load(make_config(SERVICE), {
      { name = "bind", value = "unix:/tmp/a:0" }, { name = "bind", value = "unix:/tmp/a:0" } })
    assert.same({ "--bind: 'unix:/tmp/a:0' is given twice (items 1 and 2)" }, errs)
  end)

  it("refuses an empty bind list and empty paths, with the file and line", function()
    local _, errs = config.load(make_config(
      "bind = {}\nerrorlog = ''\npidfile = ''\naccesslog = ''\n" .. SERVICE))
    assert.equal(4, #errs)
    local all = table.concat(errs, "\n")
    assert.matches(":1: bind: expected at least one address, got an empty list", all)
    assert.matches(":2: errorlog: expected a file path or '%-', got an empty string", all)
    assert.matches(":3: pidfile: expected a file path, got an empty string", all)
    assert.matches(":4: accesslog: expected a file path or '%-', got an empty string", all)
    _, errs = config.load(make_config(SERVICE), { { name = "pidfile", value = "" } })
    assert.same({ "--pidfile: expected a file path, got an empty string" }, errs)
    for _, key in ipairs({ "idl", "name", "handler", "plugin" }) do
      local svc = { idl = '"ping.thrift"', name = '"PingService"', handler = '"h.lua"' }
      svc[key] = '""'
      _, errs = config.load(make_config(string.format(
        "service = { idl = %s, name = %s, handler = %s, plugin = %s }\n",
        svc.idl, svc.name, svc.handler, svc.plugin or "nil")))
      assert.matches(":1: service: '" .. key .. "' must not be empty", errs[1])
    end
  end)

  it("refuses a config file that returns a value: settings are globals", function()
    local _, errs = config.load(make_config(SERVICE .. "return { workers = 4 }\n"))
    assert.same({ dir .. "/thriftcorn.lua: the file returned a value (a table); settings are "
      .. "set as globals (workers = 4), not returned" }, errs)
    assert(config.load(make_config(SERVICE .. "return\n")))
  end)

  it("refuses reading a name that is not defined", function()
    local _, errs = config.load(make_config(SERVICE .. "bind = BIND_ADR\n"))
    assert.same({ dir .. "/thriftcorn.lua:2: 'BIND_ADR' is not defined (neither a setting, nor "
      .. "a global of Lua's, nor a name set above)" }, errs)
    -- a setting not set yet reads as nil; one set above, as its value
    local cfg = assert(config.load(make_config(SERVICE .. "assert(workers == nil)\n"
      .. "threads = 3\nworkers = threads - 1\n")))
    assert.equal(2, cfg.workers)
  end)

  it("names the file and line of a runtime error, whatever was raised", function()
    local cases = {
      ["error('boom', 0)"] = ":2: boom$",
      ["error()"] = ":2: %(error object is a nil value%)$",
      ["error({})"] = ":2: %(error object is a table value%)$",
      ["error(setmetatable({}, { __tostring = function() return 'mine' end }))"] = ":2: mine$",
      ["error(setmetatable({}, { __tostring = function() error('x') end }))"] =
        ":2: %(error object is a table value%)$",
      ["local t = nil; t.x = 1"] = ":2: attempt to index a nil value %(local 't'%)$",
    }
    for text, want in pairs(cases) do
      local _, errs = config.load(make_config("workers = 2\n" .. text .. "\n" .. SERVICE))
      assert.equal(1, #errs, text)
      assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/thriftcorn%.lua" .. want, errs[1])
    end
  end)

  it("names a long config path whole in Lua's syntax and runtime errors", function()
    local deep = dir .. "/" .. string.rep("a-long-folder-name/", 4)
    assert(os.execute("mkdir -p " .. deep))
    local path = deep .. "thriftcorn.lua"
    local quoted = path:gsub("%p", "%%%0")
    write(path, "workers = = 2\n")
    local _, errs = config.load(path)
    assert.matches("^" .. quoted .. ":1: unexpected symbol near '='$", errs[1])
    write(path, "\nlocal x = nil + 1\n")
    _, errs = config.load(path)
    assert.matches("^" .. quoted .. ":2: attempt to perform arithmetic on a nil value$", errs[1])
  end)

  it("requires a service", function()
    local _, errs = config.load(make_config("workers = 2\n"))
    assert.matches("no service configured", errs[1])
  end)

  it("reports a service table with a missing key", function()
    local _, errs = config.load(make_config('service = { idl = "ping.thrift", name = 1 }\n'))
    assert.matches(":1: service: 'name' must be a string, got number", errs[1])
  end)

  it("reports Lua syntax errors with their line", function()
    local _, errs = config.load(make_config("workers = = 2\n"))
    assert.matches("thriftcorn%.lua:1:", errs[1])
  end)

  it("reports a config file that does not exist", function()
    local _, errs = config.load(dir .. "/nope.lua")
    assert.matches("nope%.lua: cannot read the config file %(no such file or directory%)$",
      errs[1])
  end)

  it("keeps the IDL loader's warnings for the server to log", function()
    write(dir .. "/warn.thrift", "service W { oneway i32 push() }\n")
    local cfg = assert(config.load(make_config(
      'service = { idl = "warn.thrift", name = "W", handler = "h.lua" }\n')))
    assert.is_true(config.check_services(cfg))
    assert.equal(1, #cfg.idl_warnings)
    assert.matches("warn%.thrift:1:%d+: oneway function 'push' should return void",
      cfg.idl_warnings[1])
  end)

  it("reports a config folder as a file it cannot read", function()
    local _, errs = config.load(dir)
    assert.matches(": cannot read the config file %(", errs[1])
  end)

  it("skips a byte order mark and a first line starting with '#', as loadfile does", function()
    local cfg = assert(config.load(make_config("\239\187\191workers = 2\n" .. SERVICE)))
    assert.equal(2, cfg.workers)
    cfg = assert(config.load(make_config("#!/usr/bin/env thriftcorn\nworkers = 3\n" .. SERVICE)))
    assert.equal(3, cfg.workers)
    local _, errs = config.load(make_config("\239\187\191#!/usr/bin/thriftcorn\n\nworkers = = 1\n"))
    assert.matches("thriftcorn%.lua:3:", errs[1])
  end)

  it("evaluates the text it is given instead of reading the file again", function()
    local path = make_config("workers = 2\n" .. SERVICE)
    local cfg = assert(config.load(path))
    assert.equal("workers = 2\n" .. SERVICE, cfg.source)
    make_config("workers = 7\n" .. SERVICE)
    local again = assert(config.load(cfg.path, nil, cfg.source))
    assert.equal(2, again.workers)
    assert.equal(cfg.path, again.path)
    local _, errs = config.load(cfg.path, nil, "workers = = 1\n")
    assert.matches("^" .. cfg.path:gsub("%p", "%%%0") .. ":1:", errs[1])
  end)

  it("lets command-line flags win over the file", function()
    local cfg = assert(config.load(make_config("workers = 2\nbind = 'a:1'\n" .. SERVICE), {
      { name = "workers", value = "5" },
      { name = "bind", value = "127.0.0.1:1" },
      { name = "bind", value = "127.0.0.1:2" },
      { name = "expose_errors", value = "true" },
      { name = "client_timeout", value = "2.5" },
      { name = "max_lua_memory", value = "16777216" },
    }))
    assert.equal(5, cfg.workers)
    assert.equal(16777216, cfg.max_lua_memory)
    assert.same({ "127.0.0.1:1", "127.0.0.1:2" }, cfg.bind)
    assert.is_true(cfg.expose_errors)
    assert.equal(2.5, cfg.client_timeout)
  end)

  it("rejects bad flags naming the flag once, as --flag: message", function()
    local _, errs = config.load(make_config(SERVICE), {
      { name = "workers", value = "many" },
      { name = "client_timeout", value = "x" },
      { name = "umask", value = "9" },
      { name = "no_such_thing", value = "1" },
      { name = "max_lua_memory", value = "16M" },
    })
    assert.same({
      "--client-timeout: expected a number, got 'x'",
      "--max-lua-memory: expected an integer, got '16M'",
      "--no-such-thing: unknown option",
      "--umask: expected an octal string such as 022, got '9'",
      "--workers: expected an integer, got 'many'",
    }, errs)
  end)

  it("checks a raw copy of each value: metatables show the check nothing else", function()
    -- __index and __len would show the check a bind the C side never sees
    local _, errs = config.load(make_config(SERVICE .. "bind = setmetatable({}, { __index = "
      .. "function(_, i) return i == 1 and '127.0.0.1:0' or nil end, __len = function() return 1 "
      .. "end })\n"))
    assert.same({ dir .. "/thriftcorn.lua:2: bind: expected at least one address, got an empty "
      .. "list" }, errs)
    _, errs = config.load(make_config("service = setmetatable({}, { __index = { idl = "
      .. "'ping.thrift', name = 'PingService', handler = 'h.lua' } })\n"))
    assert.same({ dir .. "/thriftcorn.lua:1: service: 'idl' must be a string, got nil" }, errs)
    -- a __pairs that raises is not run; a list that holds itself is copied once
    local cfg = assert(config.load(make_config(SERVICE .. "include_dirs = setmetatable({ 'a' }, "
      .. "{ __pairs = function() error('boom') end })\n")))
    assert.equal(1, #cfg.include_dirs)
    _, errs = config.load(make_config(SERVICE .. "local b = { '127.0.0.1:0' }\nb[2] = b\n"
      .. "bind = b\n"))
    assert.same({ dir .. "/thriftcorn.lua:4: bind: item 2: expected a string, got table" }, errs)
  end)

  it("refuses a NUL byte in every string it hands on, with the file and line", function()
    local text = "errorlog = 'a\\0b'\npidfile = 'p\\0'\naccesslog = 'x\\0'\n"
      .. "proc_name = 'n\\0'\naccess_log_format = '%t\\0'\ninclude_dirs = { 'd', 'e\\0' }\n"
      .. "bind = '127.0.0.1:1\\0x'\nuser = 'root\\0x'\ngroup = 'root\\0x'\n"
      .. "service = { idl = 'ping.thrift\\0x', name = 'PingService', handler = 'h.lua' }\n"
    local _, errs = config.load(make_config(text))
    local where = dir .. "/thriftcorn.lua:"
    assert.same({
      where .. "1: errorlog: contains a NUL byte (at byte 2)",
      where .. "2: pidfile: contains a NUL byte (at byte 2)",
      where .. "3: accesslog: contains a NUL byte (at byte 2)",
      where .. "4: proc_name: contains a NUL byte (at byte 2)",
      where .. "5: access_log_format: contains a NUL byte (at byte 3)",
      where .. "6: include_dirs: item 2: contains a NUL byte (at byte 2)",
      where .. "7: bind: item 1: contains a NUL byte (at byte 12)",
      where .. "8: user: contains a NUL byte (at byte 5)",
      where .. "9: group: contains a NUL byte (at byte 5)",
      where .. "10: service: 'idl' contains a NUL byte (at byte 12)",
    }, errs)
    _, errs = config.load(make_config("services = { { idl = 'ping.thrift', "
      .. "name = 'PingService', handler = 'h.lua\\0' } }\n"))
    assert.same({ where .. "1: services: item 1: 'handler' contains a NUL byte (at byte 6)" },
      errs)
  end)

  it("refuses an octal umask longer than it can read, in the file and as a flag", function()
    -- 8^24 would wrap around to 0, and 2 * 8^24 + 18 to 022
    local _, errs = config.load(make_config(SERVICE .. "umask = '2000000000000000000000022'\n"))
    assert.same({ dir .. "/thriftcorn.lua:2: umask: expected an integer 0-511 or an octal string "
      .. "such as \"022\", got '2000000000000000000000022'" }, errs)
    _, errs = config.load(make_config(SERVICE),
      { { name = "umask", value = "1" .. ("0"):rep(24) } })
    assert.matches("^%-%-umask: expected an integer 0%-511", errs[1])
    local cfg = assert(config.load(make_config(SERVICE .. "umask = '000000000000000000000777'\n")))
    assert.equal(511, cfg.umask)
  end)

  it("takes an integer-valued float for umask, as for every integer setting", function()
    local cfg = assert(config.load(make_config(SERVICE .. "umask = 18.0\nworkers = 2.0\n")))
    assert.equal(18, cfg.umask)
    assert.equal("integer", math.type(cfg.umask))
    local _, errs = config.load(make_config(SERVICE .. "umask = 18.5\n"))
    assert.same({ dir .. "/thriftcorn.lua:2: umask: expected an integer 0-511 or an octal string "
      .. "such as \"022\", got 18.5" }, errs)
  end)

  it("refuses an empty proc_name or access_log_format", function()
    local _, errs = config.load(make_config(SERVICE .. "proc_name = ''\naccess_log_format = ''\n"))
    table.sort(errs)
    assert.same({
      dir .. "/thriftcorn.lua:2: proc_name: must not be empty (leave it unset for the default)",
      dir .. "/thriftcorn.lua:3: access_log_format: must not be empty (leave it unset for the "
        .. "default)",
    }, errs)
  end)

  it("looks up a numeric user or group id as it looks up its text", function()
    local _, errs = config.load(make_config(SERVICE .. "user = 4294967296\ngroup = 1 << 40\n"))
    assert.same({
      dir .. "/thriftcorn.lua:2: user: user '4294967296' not found",
      dir .. "/thriftcorn.lua:3: group: group '1099511627776' not found",
    }, errs)
    local cfg = assert(config.load(make_config(SERVICE .. "user = 0\n")))
    assert.equal("0", cfg.user)
    -- a float with an integer value is that integer, as for the integer settings
    cfg = assert(config.load(make_config(SERVICE .. "user = 0.0\ngroup = 2^0 - 1\n")))
    assert.equal("0", cfg.user)
    assert.equal("0", cfg.group)
  end)

  it("refuses a file that replaces Lua's own functions, and puts them back", function()
    local format, tostr, index = string.format, tostring, getmetatable("").__index
    local ppath = package.path
    local _, errs = config.load(make_config(SERVICE .. "string.format = nil\n"
      .. "_G.tostring = function() return 'x' end\ngetmetatable('').__index = {}\n"
      .. "_G.MY_HELPER = 1\npackage.path = package.path .. ';/nowhere/?.lua'\n"))
    assert.same({ dir .. "/thriftcorn.lua: the file replaced part of Lua's standard library "
      .. "(getmetatable('').__index, string.format, tostring), which thriftcorn's own code calls "
      .. "after the file runs: keep helpers in locals or a table of your own" }, errs)
    assert.equal(format, string.format)
    assert.equal(tostr, tostring)
    assert.equal(index, getmetatable("").__index)
    assert.equal(1, rawget(_G, "MY_HELPER"))
    rawset(_G, "MY_HELPER", nil)
    package.path = ppath
    -- an error raised after the change is reported as raised, with them already back
    _, errs = config.load(make_config(SERVICE .. "string.format = nil\nerror('no')\n"))
    assert.same({ dir .. "/thriftcorn.lua:3: no" }, errs)
    assert.equal(format, string.format)
  end)

  it("says what a user or group that is neither a name nor an id was", function()
    local _, errs = config.load(make_config(SERVICE .. "user = ''\ngroup = -1\n"),
      { { name = "user", value = "" } })
    assert.same({
      dir .. "/thriftcorn.lua:2: user: expected a name or a non-negative integer id, got an "
        .. "empty string",
      dir .. "/thriftcorn.lua:3: group: expected a name or a non-negative integer id, got -1",
      "--user: expected a name or a non-negative integer id, got an empty string",
    }, errs)
    _, errs = config.load(make_config(SERVICE .. "user = 1.5\ngroup = {}\n"))
    assert.same({
      dir .. "/thriftcorn.lua:2: user: expected a name or a non-negative integer id, got 1.5",
      dir .. "/thriftcorn.lua:3: group: expected a name or a non-negative integer id, got table",
    }, errs)
  end)

  it("names the line of the value that counts when a setting is set twice", function()
    local _, errs = config.load(make_config("workers = 2\n" .. SERVICE .. "workers = 'x'\n"))
    assert.same({ dir .. "/thriftcorn.lua:3: workers: expected an integer, got string" }, errs)
  end)

  it("refuses settings set around its environment instead of dropping them", function()
    local _, errs = config.load(make_config(SERVICE .. "rawset(_ENV, 'workers', 'x')\n"))
    assert.same({ dir .. "/thriftcorn.lua: 'workers' was set with rawset(); settings are set as "
      .. "globals (workers = 4)" }, errs)
    _, errs = config.load(make_config(SERVICE .. "setmetatable(_ENV, nil)\nworkers = 'x'\n"))
    assert.same({ dir .. "/thriftcorn.lua:2: cannot change a protected metatable" }, errs)
  end)

  it("refuses a file that returns values after a nil", function()
    local _, errs = config.load(make_config(SERVICE .. "return nil, { workers = 4 }\n"))
    assert.same({ dir .. "/thriftcorn.lua: the file returned a value (a table); settings are "
      .. "set as globals (workers = 4), not returned" }, errs)
  end)

  it("refuses os.exit() while the file runs, and leaves it to hooks", function()
    local exit = os.exit
    local _, errs = config.load(make_config(SERVICE .. "if true then\n  os.exit(0)\nend\n"))
    assert.same({ dir .. "/thriftcorn.lua:3: os.exit() called while the config file runs: the "
      .. "server would end here (raise an error to refuse the config)" }, errs)
    assert.equal(exit, os.exit)
    -- kept by the file for a hook: the real one once the file has run
    local cfg = assert(config.load(make_config(SERVICE
      .. "local quit = os.exit\non_exit = function() return quit end\n")))
    assert.equal(exit, os.exit)
    assert.is_function(cfg.on_exit())
  end)

  it("refuses a bind given twice on the command line, but for port 0", function()
    local _, errs = config.load(make_config(SERVICE), {
      { name = "bind", value = "unix:/tmp/a.sock" },
      { name = "bind", value = "127.0.0.1:1" },
      { name = "bind", value = "unix:/tmp/a.sock" },
    })
    assert.same({ "--bind: 'unix:/tmp/a.sock' is given twice (items 1 and 3)" }, errs)
    local cfg = assert(config.load(make_config(SERVICE), {
      { name = "bind", value = "127.0.0.1:0" }, { name = "bind", value = "127.0.0.1:0" } }))
    assert.same({ "127.0.0.1:0", "127.0.0.1:0" }, cfg.bind)
  end)

  describe("parse_flag", function()
    -- argv as src/main.c walks it: setting flags through parse_flag, the rest positional
    local function walk(args)
      local flags, rest, i = {}, {}, 1
      while i <= #args do
        if args[i]:sub(1, 2) == "--" then
          local name, value, used = config.parse_flag(args[i], args[i + 1])
          assert.is_truthy(name, value)
          flags[#flags + 1] = { name = name, value = value }
          i = i + (used and 2 or 1)
        else
          rest[#rest + 1] = args[i]
          i = i + 1
        end
      end
      return flags, rest
    end

    it("reads every yes/no setting's bare flag as true, never taking the next argument",
      function()
        local bools = {}
        for _, s in ipairs(config.settings) do
          if s.kind == "bool" then
            bools[#bools + 1] = s.name
            local flag = "--" .. s.name:gsub("_", "-")
            assert.same({ s.name, "true", false }, { config.parse_flag(flag, "app.lua") })
            assert.same({ s.name, "true", false }, { config.parse_flag(flag, nil) })
          end
        end
        table.sort(bools)
        assert.same({ "daemon", "expose_errors", "reuse_port" }, bools)
      end)

    it("leaves the config path after a bare yes/no flag", function()
      local flags, rest = walk({ "--daemon", "app.lua", "--reuse-port" })
      assert.same({ { name = "daemon", value = "true" }, { name = "reuse_port", value = "true" } },
        flags)
      assert.same({ "app.lua" }, rest)
      -- the old separate-word form: the word is a config path, as with gunicorn -D
      flags, rest = walk({ "--daemon", "yes", "app.lua" })
      assert.same({ { name = "daemon", value = "true" } }, flags)
      assert.same({ "yes", "app.lua" }, rest)
    end)

    it("sets a yes/no flag explicitly after '='", function()
      local path = make_config("daemon = true\nexpose_errors = true\n" .. SERVICE)
      for text, want in pairs({ ["true"] = true, yes = true, ["1"] = true,
                                ["false"] = false, no = false, ["0"] = false }) do
        local flags, rest = walk({ "--daemon=" .. text, "--reuse-port=" .. text, "app.lua" })
        assert.same({ "app.lua" }, rest)
        local cfg = assert(config.load(path, flags))
        assert.equal(want, cfg.daemon, text)
        assert.equal(want, cfg.reuse_port, text)
        assert.is_true(cfg.expose_errors)
      end
    end)

    it("refuses a bad value after a yes/no flag's '='", function()
      local flags = walk({ "--daemon=maybe", "--expose-errors=" })
      local _, errs = config.load(make_config(SERVICE), flags)
      assert.same({
        "--daemon: expected true or false (or yes, no, 1, 0), got 'maybe'",
        "--expose-errors: expected true or false (or yes, no, 1, 0), got ''",
      }, errs)
    end)

    it("takes any other flag's value after '=' or from the next argument", function()
      assert.same({ "workers", "4", true }, { config.parse_flag("--workers", "4") })
      assert.same({ "workers", "4", false }, { config.parse_flag("--workers=4", "app.lua") })
      assert.same({ "bind", "a=b:1", false }, { config.parse_flag("--bind=a=b:1", nil) })
      assert.same({ "client_timeout", "--daemon", true },
        { config.parse_flag("--client-timeout", "--daemon") })
      assert.same({ nil, "--client-timeout: needs a value", 2 },
        { config.parse_flag("--client-timeout", nil) })
    end)

    it("refuses a flag that names no setting, or one only the file sets", function()
      assert.same({ nil, "--bogus: unknown option", 2 }, { config.parse_flag("--bogus", "a.lua") })
      assert.same({ nil, "--bogus: unknown option", 2 }, { config.parse_flag("--bogus=1", nil) })
      assert.same({ nil, "--wokers: unknown option (did you mean --workers?)", 2 },
        { config.parse_flag("--wokers", "2") })
      assert.same({ nil, "--on-starting: a hook is a Lua function; set it in the config file", 2 },
        { config.parse_flag("--on-starting", "f") })
      assert.same({ nil, "--service: takes a table; set it in the config file", 2 },
        { config.parse_flag("--service", "s") })
    end)

    it("suggests only flags there are, never a hook's or a service's name", function()
      assert.same({ nil, "--workers_count: unknown option", 2 },
        { config.parse_flag("--workers_count", "3") })
      for _, s in ipairs(config.settings) do
        if s.kind == "function" or s.kind == "services" or s.kind == "servicelist" then
          local typo = "--" .. s.name:gsub("_", "-"):sub(1, -2)
          local _, msg = config.parse_flag(typo, "x")
          local hint = msg:match("did you mean (%-%-[%w-]+)%?")
          -- a near flag of another setting may be named, never one there is not
          assert.is_truthy(not hint or config.parse_flag(hint, "1"), msg)
        end
      end
    end)
  end)

  it("checks that the IDL loads and defines the service", function()
    local cfg = assert(config.load(make_config(SERVICE)))
    assert.is_true(config.check_services(cfg))
    cfg = assert(config.load(make_config(
      'service = { idl = "ping.thrift", name = "Nope", handler = "h.lua" }\n')))
    local ok, errs = config.check_services(cfg)
    assert.is_nil(ok)
    assert.matches(":1: service.name: .*ping%.thrift defines no service 'Nope' %(its "
      .. "services: PingService%)$", errs[1])
    -- the full name the logs give a call ("ping.PingService.ping") is not the service's
    cfg = assert(config.load(make_config(
      'service = { idl = "ping.thrift", name = "ping.PingService", handler = "h.lua" }\n')))
    ok, errs = config.check_services(cfg)
    assert.is_nil(ok)
    assert.matches("defines no service 'ping.PingService' %(its services: PingService%)$",
      errs[1])
    write(dir .. "/kinds.thrift", "enum Mode { SLOW = 1 }\nstruct Point { 1: i32 x }\n")
    for _, name in ipairs({ "Mode", "Point" }) do
      cfg = assert(config.load(make_config(
        'service = { idl = "kinds.thrift", name = "' .. name .. '", handler = "h.lua" }\n')))
      ok, errs = config.check_services(cfg)
      assert.is_nil(ok)
      assert.matches(":1: service.name: .*kinds%.thrift defines no service '" .. name
        .. "' %(it defines none%)$", errs[1])
      cfg = assert(config.load(make_config(
        'services = { { idl = "kinds.thrift", name = "' .. name .. '", handler = "h.lua" } }\n')))
      ok, errs = config.check_services(cfg)
      assert.is_nil(ok)
      assert.matches("services%[1%]%.name: .*kinds%.thrift defines no service '" .. name
        .. "' %(it defines none%)$", errs[1])
    end
    cfg = assert(config.load(make_config(
      'service = { idl = "missing.thrift", name = "X", handler = "h.lua" }\n')))
    ok, errs = config.check_services(cfg)
    assert.is_nil(ok)
    assert.matches("service.idl: .*missing%.thrift", errs[1])
  end)

  describe("docs/configuration.md", function()
    local rows = {}
    setup(function()
      local f = assert(io.open("docs/configuration.md"))
      for line in f:lines() do
        local name, flag, default, meaning = line:match("^| `([%w_]+)` | ([^|]+) | ([^|]+) |(.*)")
        if name then
          rows[name] = { flag = flag:gsub("%s+$", ""), default = default:gsub("%s+$", ""),
            meaning = meaning }
        end
      end
      f:close()
    end)

    local function render(v)
      if type(v) == "string" then
        return '`"' .. v .. '"`'
      elseif type(v) == "table" then
        if #v == 0 then
          return "`{}`"
        end
        return render(v[1])
      end
      return "`" .. tostring(v) .. "`"
    end

    it("documents every setting with its flag and default", function()
      for _, s in ipairs(config.settings) do
        local row = rows[s.name]
        assert.is_truthy(row, "docs/configuration.md lacks " .. s.name)
        if s.kind ~= "services" and s.kind ~= "servicelist" and s.kind ~= "function" then
          assert.equal("`--" .. s.name:gsub("_", "-") .. "`", row.flag)
          assert.equal(render(s.default), row.default, "default of " .. s.name)
        end
      end
    end)

    it("names each number's largest value, and its least when that is not 0 or 1", function()
      for _, s in ipairs(config.settings) do
        if s.kind == "int" or s.kind == "number" then
          local text = rows[s.name].meaning:lower()
          assert.is_truthy(text:find(string.format("%d", s.max), 1, true), "max of " .. s.name)
          if s.min ~= 0 and s.min ~= 1 then
            assert.is_truthy(text:find(string.format("from %s to", s.min), 1, true),
              "min of " .. s.name)
          end
        end
      end
    end)

    it("documents no setting the code lacks", function()
      for name in pairs(rows) do
        assert.is_truthy(config.by_name[name], "docs/configuration.md documents unknown " .. name)
      end
    end)
  end)
end)
