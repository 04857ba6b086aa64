-- SPDX-License-Identifier: Apache-2.0
-- Specs of services = { ... } in lua/thriftcorn/config.lua: several
-- services on one port, each validated like `service`, at most one default.
local config = require("thriftcorn.config")

local dir

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function load(text)
  local path = dir .. "/thriftcorn.lua"
  write(path, text)
  return config.load(path)
end

local PING = '{ idl = "ping.thrift", name = "PingService", handler = "h.lua"%s }'
local ECHO = '{ idl = "echo.thrift", name = "Echo", handler = "e.lua"%s }'

describe("thriftcorn.config services", function()
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    write(dir .. "/ping.thrift", "service PingService {\n  string ping()\n}\n")
    write(dir .. "/echo.thrift", "service Echo {\n  string echo(1: string s)\n}\n")
  end)

  teardown(function()
    os.execute("rm -rf " .. dir)
  end)

  it("resolves every entry's paths and names the default as service", function()
    local cfg, errs = load("services = { " .. PING:format("") .. ", "
      .. ECHO:format(", default = true") .. " }\n")
    assert.is_nil(errs)
    assert.equal(2, #cfg.services)
    assert.equal(dir .. "/ping.thrift", cfg.services[1].idl)
    assert.equal(dir .. "/e.lua", cfg.services[2].handler)
    assert.is_true(cfg.services[2].default)
    assert.equal("Echo", cfg.service.name)
    assert.is_nil(cfg.service.default)
    assert.is_true(config.check_services(cfg))
  end)

  it("takes the first entry as service when none is the default", function()
    local cfg = load("services = { " .. PING:format("") .. ", " .. ECHO:format("") .. " }\n")
    assert.equal("PingService", cfg.service.name)
  end)

  it("rejects two defaults, a service listed twice and bad entries", function()
    local cases = {
      { PING:format(", default = true") .. ", " .. ECHO:format(", default = true"),
        "items 1 and 2: only one service may be the default" },
      { PING:format("") .. ", " .. PING:format(""),
        "items 1 and 2: both are called as 'PingService' (give one a multiplexed_name to "
          .. "serve service 'PingService' twice)" },
      { PING:format("") .. ", " .. PING:format(', multiplexed_name = "Echo"') .. ", "
          .. ECHO:format(""),
        "items 2 and 3: both are called as 'Echo'" },
      { PING:format(', multiplexed_name = "a:b"'),
        "item 1: 'multiplexed_name' must not contain ':', got 'a:b'" },
      { PING:format(', multiplexed_name = ""'), "item 1: 'multiplexed_name' must not be empty" },
      { PING:format(", multiplexed_name = 7"),
        "item 1: 'multiplexed_name' must be a string, got number" },
      { '{ idl = "ping.thrift", name = "PingService" }', "item 1: 'handler' must be a string" },
      { PING:format(", default = 1"), "item 1: 'default' must be true or false, got number" },
      { PING:format(", port = 1"),
        "item 1: unknown key 'port' (expected idl, name, handler, plugin, default, "
          .. "multiplexed_name)" },
      -- every entry is read, or the list refused: ipairs() and the C side's
      -- length would drop what follows a hole (the default among them)
      { PING:format("") .. ", nil, " .. ECHO:format(", default = true"),
        "expected a list without holes: item 2 is nil but item 3 is set" },
      { PING:format("") .. ", [4] = " .. ECHO:format(""),
        "expected a list without holes: item 2 is nil but item 4 is set" },
      { PING:format("") .. ", extra = " .. ECHO:format(""),
        "expected a list: the key 'extra' is not an index of one" },
      { "extra = " .. ECHO:format(""), "expected a list: the key 'extra' is not an index of one" },
      { '"ping.thrift"', "item 1: expected a table, got string" },
      { "", "expected a list of" },
    }
    for _, c in ipairs(cases) do
      local cfg, errs = load("services = { " .. c[1] .. " }\n")
      assert.is_nil(cfg)
      assert.matches("thriftcorn.lua:1: services: " .. c[2]:gsub("[%(%)%.%-%[%]]", "%%%0"),
        errs[1], 1)
    end
  end)

  it("serves one IDL service twice under two multiplexed names", function()
    local cfg, errs = load("services = { " .. PING:format(", default = true") .. ", "
      .. PING:format(', multiplexed_name = "PingV2"') .. " }\n")
    assert.is_nil(errs)
    assert.equal("PingV2", cfg.services[2].multiplexed_name)
    assert.equal("PingService", cfg.services[2].name)
    assert.is_nil(cfg.service.multiplexed_name)
    assert.is_true(config.check_services(cfg))
  end)

  it("keeps multiplexed_name to services", function()
    local cfg, errs = load("service = " .. PING:format(', multiplexed_name = "P"') .. "\n")
    assert.is_nil(cfg)
    assert.matches("service: unknown key 'multiplexed_name' (expected idl, name, handler, "
      .. "plugin)", errs[1], 1, true)
  end)

  it("refuses service and services together", function()
    local cfg, errs = load("service = " .. PING:format("") .. "\nservices = { "
      .. ECHO:format("") .. " }\n")
    assert.is_nil(cfg)
    assert.matches("thriftcorn.lua:2: service and services are mutually exclusive", errs[1], 1,
      true)
  end)

  it("checks that every entry's IDL defines its service", function()
    local cfg = load("services = { " .. PING:format("") .. ", "
      .. '{ idl = "echo.thrift", name = "Nope", handler = "e.lua" } }\n')
    local ok, errs = config.check_services(cfg)
    assert.is_nil(ok)
    assert.matches("services[2].name: " .. dir .. "/echo.thrift defines no service 'Nope'",
      errs[1], 1, true)
  end)
end)
