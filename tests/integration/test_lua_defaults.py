# SPDX-License-Identifier: Apache-2.0
"""IDL defaults in Lua handlers: a value a handler builds with a struct's
constructor is its own copy of the IDL's defaults, keys of sets and maps of
structs included, and so is a constant that takes them, so what the handler
changes in either never reaches another call's defaults. An Apache Thrift
Python client calls through an IDL of the same wire that gives no defaults
(Python cannot hash the struct keys of the server's defaults) and sees the
IDL's default in every reply."""

import os
import unittest

import harness

SERVER_IDL = """struct In { 1: i32 a }
struct W {
  1: set<In> si = [{"a": 1}],
  2: map<In, i32> mi = {{"a": 2}: 5},
  3: set<list<i32>> sl = [[3]],
}
const W D = {}
service Keys { list<i32> keys(1: W w) }
"""

# The same wire without the defaults.
CLIENT_IDL = """struct In { 1: i32 a }
struct W { 1: set<In> si, 2: map<In, i32> mi, 3: set<list<i32>> sl }
service Keys { list<i32> keys(1: W w) }
"""

# keys() answers with the keys of the decoded defaults and of a new W{},
# then changes the keys of the W{} it built, which are its own, and those of
# the constant D (shared by the calls of the thread, but not with W's
# defaults).
HANDLER = """local thriftcorn = require("thriftcorn")
local m = thriftcorn.load("keys.thrift")
local H = {}
function H.keys(w)
  local fresh = m.W{}
  local out = { next(w.si).a, next(w.mi).a, next(w.sl)[1],
                next(fresh.si).a, next(fresh.mi).a, next(fresh.sl)[1] }
  next(fresh.si).a = 101
  next(fresh.mi).a = 102
  next(fresh.sl)[1] = 103
  next(m.D.si).a = 201
  next(m.D.mi).a = 202
  next(m.D.sl)[1] = 203
  return out
end
return H
"""

SETTINGS = """workers = 1
threads = 1
service = { idl = "keys.thrift", name = "Keys", handler = "handler.lua" }
"""


class LuaDefaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        gen = harness.tempdir("tc-keys-idl-")
        # a name of its own: another module's generated "keys" must not be taken for it
        idl = os.path.join(gen, "lua_default_keys.thrift")
        with open(idl, "w") as f:
            f.write(CLIENT_IDL)
        harness.gen_py(idl)
        cls.K = harness.load_gen("lua_default_keys.Keys")
        cls.T = harness.load_gen("lua_default_keys.ttypes")
        cls.srv = harness.Server(SETTINGS, {"keys.thrift": SERVER_IDL, "handler.lua": HANDLER})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_a_changed_default_key_stays_in_its_instance(self):
        c, trans = harness.client(self.K, self.srv.port)
        self.addCleanup(trans.close)
        # one thread, one Lua state: every call sees what the calls before left there
        for call in range(3):
            self.assertEqual([1, 2, 3, 1, 2, 3], c.keys(self.T.W()), "call %d" % (call + 1))


if __name__ == "__main__":
    unittest.main()
