# SPDX-License-Identifier: Apache-2.0
"""Handler code that takes the Lua API apart: it compiles its own IDL once
more, or drops the fields that tie a loaded module to its compiled schema,
then lets the collector run. The worker must go on serving the calls it
knew (docs/handlers.md: nothing a handler does with its own Lua values can
end its worker), with no sanitizer report."""

import os
import unittest

import harness

FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server")

CALLS = """function H.echo(s)
  if s == "recompile" then
    -- a second compile of the module's own doc: every definition table
    -- gets new descriptors, and the first schema loses its last Lua owner
    thriftcorn.core.compile(svc.__doc)
    collectgarbage()
    collectgarbage()
    -- the memory the first schema held is reused at once
    local junk = {}
    for i = 1, 4000 do
      junk[i] = string.rep("\255", 100 + i % 4000)
    end
    return "recompiled"
  elseif s == "unanchor" then
    -- a module loaded during a call, its tables stripped of '_schema'
    local other = thriftcorn.load("other.thrift")
    for _, t in pairs({ other.Point, other.Points, other.Points.fields[1].type }) do
      rawset(t, "_schema", nil)
    end
    for _, t in pairs(other.__doc.structs) do
      rawset(t, "_schema", nil)
    end
    collectgarbage()
    collectgarbage()
    local big = {}
    for i = 1, 200 do
      big[i] = other.Point{ x = i, y = -i }
    end
    local bytes = assert(thriftcorn.encode(other.Points, { all = big }))
    local back = assert(thriftcorn.decode(other.Points, bytes))
    return ("%d %d"):format(#back.all, back.all[200].y)
  end
"""

OTHER = """struct Point {
  1: required i32 x,
  2: required i32 y,
}
struct Points {
  1: list<Point> all,
}
"""

SETTINGS = """
workers = 1
threads = 1
expose_errors = true
service = { idl = "svc.thrift", name = "TestService", handler = "handler.lua" }
"""


def handler_text():
    with open(os.path.join(FIXTURE, "handler.lua")) as f:
        text = f.read()
    out = text.replace("function H.echo(s)\n", CALLS, 1)
    assert out != text, "the fixture's handler changed"
    return out


class SchemaLifetimeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(FIXTURE, "svc.thrift"))
        cls.S = harness.load_gen("svc.TestService")
        with open(os.path.join(FIXTURE, "svc.thrift")) as f:
            idl = f.read()
        cls.files = {"svc.thrift": idl, "handler.lua": handler_text(), "other.thrift": OTHER}

    def serve(self):
        srv = harness.Server(SETTINGS, self.files)
        self.addCleanup(srv.stop)  # checks the log for sanitizer reports
        c, trans = harness.client(self.S, srv.port)
        self.addCleanup(trans.close)
        return srv, c

    def calls_still_served(self, srv, c):
        pids = srv.worker_pids()
        for _ in range(3):
            self.assertEqual(c.add(2, 3), 5)
            p = c.pair("k", 7)
            self.assertEqual((p.key, p.value), ("k", 7))
            self.assertEqual(c.greet("you", 2, None), "hello you hello you ")
            self.assertEqual(c.range(3), [1, 2, 3])
        self.assertEqual(srv.worker_pids(), pids, srv.log())
        self.assertNotIn("exited with", srv.log())

    def test_a_second_compile_of_the_handlers_idl(self):
        srv, c = self.serve()
        self.assertEqual(c.echo("recompile"), "recompiled")
        self.calls_still_served(srv, c)
        self.assertEqual(c.echo("recompile"), "recompiled")
        self.calls_still_served(srv, c)

    def test_a_loaded_module_without_its_schema_fields(self):
        srv, c = self.serve()
        self.assertEqual(c.echo("unanchor"), "200 -200")
        self.assertEqual(c.echo("unanchor"), "200 -200")
        self.calls_still_served(srv, c)


if __name__ == "__main__":
    unittest.main()
