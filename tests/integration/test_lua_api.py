# SPDX-License-Identifier: Apache-2.0
"""The thriftcorn Lua module inside the server, as docs/lua-api.md and
docs/handlers.md describe it: a handler's misuse of a function is an
INTERNAL_ERROR naming the function, its argument and the handler's own
line; the call's THeader functions answer during a call, and outside one
(the config, the arbiter's and the worker's hooks, a handler module's top
level) give an empty table and false, never an error or a crash."""

import os
import re
import unittest

import harness
from thrift.Thrift import TApplicationException

FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server")
BUILD = os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR, "build"))
# tc_cmodule.so (tests/plugins/lua_cmodule.c): a Lua C module linked to no liblua
CMODULE_DIR = os.path.join(BUILD, "tests", "plugins")

# The fixture's handler, with echo() calling the API as the client asks.
CALLS = """function H.echo(s)
  if s == "encode" then
    return thriftcorn.encode(nil, {})
  elseif s == "decode" then
    return thriftcorn.decode(svc.TestService, "")
  elseif s == "encode_message" then
    return thriftcorn.encode_message("x", 1, 1, svc.TestService, {})
  elseif s == "decode_message" then
    -- not a tail call: that would leave no line of the handler to name
    local msg = thriftcorn.decode_message(svc.Pair, "")
    return msg
  elseif s == "sleep" then
    thriftcorn.sleep("soon")
  elseif s == "set_response_header" then
    thriftcorn.set_response_header("k", {})
  elseif s == "load" then
    thriftcorn.load("svc.thrift", { include_dirs = "." })
  elseif s == "headers" then
    local n = 0
    for _ in pairs(thriftcorn.request_headers()) do
      n = n + 1
    end
    return n .. " " .. tostring(thriftcorn.set_response_header("served-by", "lua"))
  elseif s == "top" then
    return TOP
  elseif s == "cmodule" then
    package.cpath = CMODULE_DIR .. "/?.so;" .. package.cpath
    local m = require("tc_cmodule")
    local c = m.counter(40)
    c:add(1)
    local ok, err = pcall(m.fail, "boom")
    local product = m.fold(function(a, b) return a * b end, 1, 2, 3, 4)
    return table.concat({ m.built_for, m.join("+", 1, "b", 2.5, true), product, c:add(1),
      tostring(ok), err }, " | ")
  elseif s == "raise bytes" then
    error("bad \\255 byte", 0)
  elseif s == "raise long" then
    error("x" .. string.rep("\\u{e9}", 300), 0)
  end
"""

# (what echo() is asked, the argument error its call raises)
MISUSES = (
    ("encode", "bad argument #1 to 'encode' (expected a struct from thriftcorn.load())"),
    ("decode", "bad argument #1 to 'decode' (expected a struct from thriftcorn.load())"),
    ("encode_message",
     "bad argument #4 to 'encode_message' (expected a struct from thriftcorn.load())"),
    ("decode_message",
     "bad argument #1 to 'decode_message' (expected a service from thriftcorn.load())"),
    ("sleep", "bad argument #1 to 'sleep' (number expected, got string)"),
    ("set_response_header",
     "bad argument #2 to 'set_response_header' (string expected, got table)"),
    ("load", "bad argument #2 to 'load' ('include_dirs' must be a list of strings)"),
)

# Each place outside a call prints what the THeader functions give there.
SETTINGS = """
local thriftcorn = require("thriftcorn")
local function outside(where)
  print(("outside a call: %s: %s %s"):format(where, next(thriftcorn.request_headers()),
    thriftcorn.set_response_header("k", "v")))
end
outside("config")
workers = 1
threads = 2
expose_errors = true
service = { idl = "svc.thrift", name = "TestService", handler = "handler.lua" }
when_ready = function() outside("when_ready") end
post_worker_init = function() outside("post_worker_init") end
on_connected = function() outside("on_connected") end
"""


def lua_string(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def handler_text():
    with open(os.path.join(FIXTURE, "handler.lua")) as f:
        text = f.read()
    out = text.replace("function H.echo(s)\n", CALLS, 1).replace(
        "local H = {}\n", "local H = {}\nlocal TOP = tostring(next(thriftcorn.request_headers()))"
        " .. ' ' .. tostring(thriftcorn.set_response_header('k', 'v'))\n"
        "local CMODULE_DIR = %s\n" % lua_string(CMODULE_DIR), 1)
    assert out.count("thriftcorn.request_headers()") == 2, "the fixture's handler changed"
    return out


class LuaApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(FIXTURE, "svc.thrift"))
        cls.S = harness.load_gen("svc.TestService")
        with open(os.path.join(FIXTURE, "svc.thrift")) as f:
            idl = f.read()
        cls.srv = harness.Server(SETTINGS, {"svc.thrift": idl, "handler.lua": handler_text()})
        cls.handler = os.path.join(cls.srv.dir, "handler.lua")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def client(self, transport="buffered"):
        c, trans = harness.client(self.S, self.srv.port, transport=transport)
        self.addCleanup(trans.close)
        return c, trans

    def test_misuse_names_the_function_and_the_handlers_line(self):
        for transport in ("buffered", "header"):
            c, _ = self.client(transport)
            for ask, why in MISUSES:
                with self.assertRaises(TApplicationException, msg=ask) as cm:
                    c.echo(ask)
                self.assertEqual(cm.exception.type, TApplicationException.INTERNAL_ERROR)
                first = cm.exception.message.split("\n")[0]  # then the traceback
                self.assertRegex(first, "^svc.TestService.echo: %s:[0-9]+: %s$"
                                 % (re.escape(self.handler), re.escape(why)))
            self.assertEqual(c.echo("alive"), "alive")

    def test_error_text_sent_as_utf8(self):
        # a Lua error is bytes; the exception's text is a Thrift string, which
        # the client decodes as UTF-8: other bytes come as \xHH, and the cut
        # to 511 bytes falls between characters
        c, _ = self.client()
        with self.assertRaises(TApplicationException) as cm:
            c.echo("raise bytes")
        self.assertEqual(cm.exception.message.split("\n")[0],
                         "svc.TestService.echo: bad \\xff byte")
        with self.assertRaises(TApplicationException) as cm:
            c.echo("raise long")
        text = cm.exception.message
        self.assertTrue(text.startswith("svc.TestService.echo: x" + "\u00e9" * 200), text)
        self.assertLessEqual(len(text.encode()), 511)
        self.assertGreater(len(text.encode()), 505)
        self.assertEqual(c.echo("alive"), "alive")

    def test_a_handler_requires_a_lua_c_module(self):
        # the module calls the Lua API it finds in the server (built as
        # Debian builds Lua C modules, linked to no liblua): lauxlib's
        # buffer, userdata with a metatable, a call back into Lua, an error
        # raised from C; with Lua linked in statically the server must
        # export all of it
        self.assertTrue(os.path.exists(os.path.join(CMODULE_DIR, "tc_cmodule.so")), CMODULE_DIR)
        c, _ = self.client()
        self.assertEqual(c.echo("cmodule"),
                         "Lua 5.4 | 1+b+2.5+true | 24 | 42 | false | tc_cmodule: boom (42)")
        self.assertEqual(c.echo("cmodule"),
                         "Lua 5.4 | 1+b+2.5+true | 24 | 42 | false | tc_cmodule: boom (42)")
        self.assertNotIn("undefined symbol", self.srv.log())

    def test_headers_in_a_call_and_outside_one(self):
        c, _ = self.client("buffered")
        self.assertEqual(c.echo("headers"), "0 false")
        self.assertEqual(c.echo("top"), "nil false")
        c, trans = self.client("header")
        trans.set_header(b"request-id", b"42")
        self.assertEqual(c.echo("headers"), "1 true")
        self.assertEqual(trans.get_headers().get(b"served-by"), b"lua")
        for where in ("config", "when_ready", "post_worker_init", "on_connected"):
            self.assertTrue(harness.wait_log(self.srv, "outside a call: %s: nil false" % where),
                            self.srv.log())
        self.assertNotIn("Hook", self.srv.log())
        self.assertEqual(c.echo("alive"), "alive")


if __name__ == "__main__":
    unittest.main()
