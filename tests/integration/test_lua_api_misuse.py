# SPDX-License-Identifier: Apache-2.0
"""Handler code that takes the Lua API apart: it compiles its own IDL once
more, or drops the fields that tie a loaded module to its compiled schema,
then lets the collector run; it hands thriftcorn.core.compile() a broken
doc, raises an exception its method does not declare, yields outside a
coroutine. The worker must go on serving the calls it knew
(docs/handlers.md: nothing a handler does with its own Lua values can end
its worker), with no sanitizer report, and a failed call's error must say
what was wrong."""

import os
import re
import unittest

import harness
from thrift.Thrift import TApplicationException

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


# echo() makes the mistake the client names; each fails that call alone.
MISTAKES = """function H.echo(s)
  local broken = {
    -- docs for thriftcorn.core.compile() with a value that is no table where
    -- one belongs: each was read as a table, and ended the worker (SIGSEGV)
    field = { structs = { { fullname = "x.S", kind = "struct", fields = { 5 } } } },
    ["function"] = { services = { { fullname = "x.Svc", all_functions = { "f" } } } },
    service = { services = { 7 } },
    include = { includes = { "other.thrift" } },
  }
  if broken[s] then
    thriftcorn.core.compile(broken[s])
  elseif s == "default" then
    -- a recursive struct whose default holds itself: compiled without end
    -- until the C stack ran out (SIGSEGV)
    local tree = { fullname = "x.Tree", kind = "struct" }
    local kids = {}
    kids[1] = { kids = kids }
    tree.fields = { { id = 1, name = "kids", default = kids,
                      type = { ttype = "list", elem = { ttype = "struct", struct = tree } } } }
    thriftcorn.core.compile({ structs = { tree } })
  elseif s == "chain" then
    -- each typedef uses the one before twice: compiled once per use, 2^40 of them
    local chain = thriftcorn.load("chain.thrift")
    local bytes = assert(thriftcorn.encode(chain.S, { x = { [{}] = {} } }))
    local back = assert(thriftcorn.decode(chain.S, bytes))
    return tostring(back)
  elseif s == "yield" then
    coroutine.yield(1) -- a handler runs in no coroutine of its own
  elseif s == "coroutine" then
    local co = coroutine.wrap(function(a)
      local b = coroutine.yield(a + 1)
      return b * 2
    end)
    return co(1) .. " " .. co(5)
  elseif s == "sleep nan" then
    thriftcorn.sleep(0 / 0)
  elseif s == "sleep negative" then
    thriftcorn.sleep(-1)
  elseif s == "undeclared" then
    error(svc.Oops{ code = 3, message = "m" })
  elseif s == "struct" then
    thriftcorn.throw(svc.Pair{ key = "k" })
  end
"""

CHAIN = "typedef i32 T0\n" + "".join(
    "typedef map<T%d, T%d> T%d\n" % (i - 1, i - 1, i) for i in range(1, 41)) + (
    "struct S { 1: T40 x }\n")


class ServedTest(unittest.TestCase):
    """One server for the class (setUpClass sets cls.srv, cls.S and
    cls.pids), a client per test; after each test a good call (alive())
    is answered and no worker was replaced. ask() makes the call a test
    names by a string."""

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()  # checks the log for sanitizer reports

    def setUp(self):
        self.c, trans = harness.client(self.S, self.srv.port)
        self.addCleanup(trans.close)

    def tearDown(self):
        self.alive()
        self.assertEqual(self.srv.worker_pids(), self.pids, self.srv.log())
        self.assertNotIn("exited with", self.srv.log())

    def internal_error(self, what):
        """The INTERNAL_ERROR text that ask(what) gets."""
        with self.assertRaises(TApplicationException, msg=what) as cm:
            self.ask(what)
        self.assertEqual(cm.exception.type, TApplicationException.INTERNAL_ERROR)
        return cm.exception.message


class HandlerMistakesTest(ServedTest):
    """What a handler can do wrong at run time fails that call alone, with
    an INTERNAL_ERROR (and a log line) that names the service, the method
    and what was wrong; the worker serves every other call on."""

    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(FIXTURE, "svc.thrift"))
        cls.S = harness.load_gen("svc.TestService")
        cls.T = harness.load_gen("svc.ttypes")
        with open(os.path.join(FIXTURE, "svc.thrift")) as f:
            idl = f.read()
        with open(os.path.join(FIXTURE, "handler.lua")) as f:
            text = f.read()
        handler = text.replace("function H.echo(s)\n", MISTAKES, 1)
        assert handler != text, "the fixture's handler changed"
        # a call that runs past 'timeout' costs its worker: the test sees it
        cls.srv = harness.Server(SETTINGS + "timeout = 5\n",
                                 {"svc.thrift": idl, "handler.lua": handler,
                                  "chain.thrift": CHAIN})
        cls.pids = cls.srv.worker_pids()

    def alive(self):
        self.assertEqual(self.c.add(2, 3), 5)

    def ask(self, what):
        return self.c.echo(what)

    def test_a_broken_doc_for_compile_fails_the_call(self):
        for ask, why in (("field", "a field is not a table (got number)"),
                         ("function", "a function is not a table (got string)"),
                         ("service", "a service is not a table (got number)"),
                         ("include", "an include is not a table (got string)"),
                         ("default", "a default value nests more than 1000 deep "
                                     "(or holds itself)")):
            first = self.internal_error(ask).split("\n")[0]  # then the traceback
            self.assertEqual(first, "svc.TestService.echo: thriftcorn.core.compile: " + why)
            self.assertEqual(self.c.echo("alive"), "alive")

    def test_coroutines_and_sleep(self):
        """Coroutines a handler makes work as in plain Lua, call after call;
        a yield outside them fails the call, as does a sleep of NaN or
        negative seconds (with the handler's line), never reaching
        nanosleep()."""
        self.assertEqual(self.c.echo("coroutine"), "2 10")
        handler = os.path.join(self.srv.dir, "handler.lua")
        for ask, why in (("yield", "attempt to yield from outside a coroutine"),
                         ("sleep nan", "%s:[0-9]+: bad argument #1 to 'sleep' "
                                       "\\(seconds out of range\\)" % re.escape(handler)),
                         ("sleep negative", "%s:[0-9]+: bad argument #1 to 'sleep' "
                                            "\\(seconds out of range\\)" % re.escape(handler))):
            first = self.internal_error(ask).split("\n")[0]
            self.assertRegex(first, "^svc\\.TestService\\.echo: %s$" % why)
        self.assertEqual(self.c.echo("coroutine"), "2 10")

    def test_types_shared_by_typedefs_compile_once(self):
        """41 typedefs, each a map of the one before: compiled anew at each
        use, the types took 2^40 steps and as much memory, until the worker
        was killed at 'timeout'."""
        self.assertEqual(self.c.echo("chain"), "S(x={[{}]={}})")

    def test_an_exception_the_method_does_not_declare_is_named(self):
        """A struct of the IDL raised by a method whose throws does not hold
        it: the log line and the reply say so, with the value's tostring()."""
        for ask, text in (("undeclared", 'raised svc.Oops, which it does not declare: '
                                         'Oops(code=3, message="m")'),
                          ("struct", 'raised svc.Pair, which it does not declare: '
                                     'Pair(key="k")')):
            self.assertEqual(self.internal_error(ask), "svc.TestService.echo " + text)
            self.assertTrue(harness.wait_log(self.srv, ": svc.TestService.echo " + text),
                            self.srv.log())
        # the method that declares it still sends it as its exception
        with self.assertRaises(self.T.Oops) as cm:
            self.c.fail(4)
        self.assertEqual(cm.exception.code, 4)


# A struct class (mod.Named) where a value of it belongs: its own keys
# ('name', 'kind', 'fullname', 'doc', ...) were read as the fields of those
# names, and raised, its text was "table: 0x...".
CLASSES_IDL = """exception Missing {
  1: string name,
}
struct Named {
  1: string name,
  2: optional string kind,
  3: optional string fullname,
  4: optional list<Named> more,
}
service Classes {
  Named get(1: string how) throws (1: Missing missing),
}
"""

CLASSES_HANDLER = """local thriftcorn = require("thriftcorn")
local m = thriftcorn.load("classes.thrift")
local H = {}
function H.get(how)
  if how == "class" then
    return m.Named
  elseif how == "nested class" then
    return m.Named{ name = "top", more = { m.Named{ name = "a" }, m.Named } }
  elseif how == "plain" then
    return { name = "plain", more = { { name = "b" } } }
  elseif how == "raise class" then
    error(m.Missing)
  elseif how == "throw class" then
    thriftcorn.throw(m.Named)
  elseif how == "raise" then
    error(m.Missing{ name = "n" })
  elseif how == "hole" then
    -- a filter that leaves holes: the list's length stops at the first
    local more = {}
    for i, name in ipairs({ "a", "", "c" }) do
      if name ~= "" then
        more[i] = m.Named{ name = name }
      end
    end
    return m.Named{ name = "hole", more = more }
  end
  return m.Named{ name = how }
end
return H
"""


class StructClassTest(ServedTest):
    """A handler that returns or raises a struct class where a value of it
    belongs (mod.Named for mod.Named{...}) fails the call with an
    INTERNAL_ERROR that says so, never sends the class's own keys as
    fields; values made by the constructor, the decoder or by hand are
    sent as before."""

    @classmethod
    def setUpClass(cls):
        folder = harness.tempdir("tc-classes-")
        idl = os.path.join(folder, "classes.thrift")
        with open(idl, "w") as f:
            f.write(CLASSES_IDL)
        harness.gen_py(idl)
        cls.S = harness.load_gen("classes.Classes")
        cls.T = harness.load_gen("classes.ttypes")
        cls.srv = harness.Server(SETTINGS.replace(
            'idl = "svc.thrift", name = "TestService"', 'idl = "classes.thrift", name = "Classes"'),
            {"classes.thrift": CLASSES_IDL, "handler.lua": CLASSES_HANDLER})
        cls.pids = cls.srv.worker_pids()

    def alive(self):
        self.assertEqual(self.c.get("alive").name, "alive")

    def ask(self, what):
        return self.c.get(what)

    def test_returned_class_is_refused(self):
        for how, where, cls in (("class", "Classes.get_result.success", "classes.Named"),
                                ("nested class", "classes.Named.more", "classes.Named")):
            text = ("classes.Classes.get returned a value that does not fit: %s: expected a "
                    "table (classes.Named), got the class %s, not a value of it (make one "
                    "with %s{...})" % (where, cls, cls))
            self.assertEqual(self.internal_error(how), text)
            self.assertTrue(harness.wait_log(self.srv, ": " + text), self.srv.log())

    def test_values_are_sent(self):
        got = self.c.get("plain")
        self.assertEqual((got.name, got.kind, got.more[0].name), ("plain", None, "b"))
        got = self.c.get("made")
        self.assertEqual((got.name, got.kind, got.fullname, got.more), ("made", None, None, None))
        with self.assertRaises(self.T.Missing) as cm:
            self.c.get("raise")
        self.assertEqual(cm.exception.name, "n")

    def test_a_list_with_a_hole_is_refused(self):
        """Elements after a hole were left out of the reply without a word."""
        text = ("classes.Classes.get returned a value that does not fit: classes.Named.more: "
                "a list of 1 has its elements at 1 to 1, not at 3")
        self.assertEqual(self.internal_error("hole"), text)
        self.assertTrue(harness.wait_log(self.srv, ": " + text), self.srv.log())

    def test_raised_class_is_named(self):
        for how, cls in (("raise class", "classes.Missing"), ("throw class", "classes.Named")):
            text = ("classes.Classes.get raised the class %s, not a value of it (make one "
                    "with %s{...})" % (cls, cls))
            self.assertEqual(self.internal_error(how), text)
            self.assertTrue(harness.wait_log(self.srv, ": " + text), self.srv.log())


if __name__ == "__main__":
    unittest.main()
