# SPDX-License-Identifier: Apache-2.0
"""Two versions of one IDL, as a rolling deploy has them: Apache Thrift Python
clients of tests/fixtures/evolution/evo_v2.thrift call a thriftcorn server
of evo_v1.thrift, and clients of evo_v1.thrift one of evo_v2.thrift, with
the Lua handler there and with the C plugin of each version
(tests/plugins/evolution_plugin.c), over buffered, framed and THeader,
binary and compact. Each call's outcome must be what Apache Thrift's own
Python server of the same IDL, running the same handler, gives the same
client (the reference below, asked on a new connection per call), except
for the differences docs/interop.md lists; and every call of a client runs
on one connection, which must serve to the end."""

import os
import socket
import threading
import unittest

import harness
from thrift.Thrift import TApplicationException, TMessageType, TType
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TSocket, TTransport

FIXTURES = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "evolution")
IDL = {v: os.path.join(FIXTURES, "evo_v%s.thrift" % v) for v in ("1", "2")}
BUILD = os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR, "build"))
PLUGIN = {v: os.path.join(BUILD, "tests", "plugins", "libtp_evo_v%s.so" % v) for v in ("1", "2")}
TRANSPORTS = ("buffered", "framed", "header")


def outcome(fn):
    """What a call gave: ("ok", result), ("tae", type, message) for a
    TApplicationException, or ("raised", class name, text) for anything
    else (a declared exception, a transport failure)."""
    try:
        return ("ok", fn())
    except TApplicationException as e:
        return ("tae", e.type, e.message)
    except Exception as e:  # pylint: disable=broad-except
        return ("raised", type(e).__name__, str(e))


def show(v, T):
    """handler.lua's show() in Python."""
    if v is None:
        return "nil"
    if isinstance(v, T.Leaf):
        return "Leaf(%s,%s)" % (show(v.a, T), show(v.s, T))
    if isinstance(v, list):
        return "[" + ",".join(show(x, T) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class ReferenceHandler:
    """tests/fixtures/evolution/handler.lua for Apache Thrift's Python server."""

    def __init__(self, T, v2):
        self.T = T
        self.v2 = v2

    def _show(self, names, values):
        return " ".join("%s=%s" % (n, show(v, self.T)) for n, v in zip(names, values))

    def echo(self, r, *_):
        return r

    def typed(self, *a):
        return self._show(("x", "y", "z", "li", "after", "fb", "fi", "ls", "dd"), a)

    def added(self, *a):
        return self._show(("a", "o", "d", "dl", "ol") if self.v2 else ("a",), a)

    def req(self, *a):
        return self._show(("a", "r") if self.v2 else ("a",), a)

    def fail(self, which):
        if which == 1:
            raise self.T.OldErr(msg="old")
        if which == 2 and self.v2:
            raise self.T.NewErr(msg="new", code=7)
        return which

    def vfail(self, which):
        self.fail(which)

    def reply(self):
        T = self.T
        leaf = T.Leaf(a=2, s="x")
        if not self.v2:
            return T.Rec(id=1, leaf=leaf, leaves=[leaf, T.Leaf(a=3)], named={"k": leaf},
                         color=T.Color.GREEN, note="n", pick=T.Pick(s="p"))
        ex = T.Extra(q=1, more=[T.Extra(q=2, ids={5})], m={"z": [leaf]}, ids={1, 2})
        big = T.Leaf(a=9, nb=True, s="big", nx=ex, nd=1.5, np=T.Pick(leaf=leaf), nm={4: ex})
        return T.Rec(id=1, b=True, leaf=big, y=-3, leaves=[big, leaf], h=300, named={"k": big},
                     l=1 << 40, color=T.Color.GREEN, d=2.25, note="n", bin=b"\0\1z",
                     deep=[{"k": [big]}], tags={"t"}, byid={3: big}, other=big,
                     pick=T.Pick(leaf=big), c2=T.Color.BLUE, bools=[True, False], f=False,
                     ll=[[1], []], mm={"a": {"b": ex}}, far=ex, tb=True)

    def give(self, v):
        return v

    def ret_typed(self):
        return "42" if self.v2 else 42

    def brand_new(self, x):
        return x + 1

    def brand_new_oneway(self, x):
        pass


class Reference:
    """Apache Thrift's Python server of one IDL version, on a thread: the
    generated processor, serving one connection at a time as TSimpleServer
    does, on a port of 127.0.0.1."""

    def __init__(self, service, handler, transport, protocol):
        self.processor = service.Processor(handler)
        self.tf = (TTransport.TFramedTransportFactory() if transport == "framed"
                   else TTransport.TBufferedTransportFactory())
        self.pf = (TCompactProtocol.TCompactProtocolFactory() if protocol == "compact"
                   else TBinaryProtocol.TBinaryProtocolFactory())
        self.sock = TSocket.TServerSocket(host="127.0.0.1", port=0)
        self.sock.listen()
        self.port = self.sock.handle.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            client = self.sock.accept()
            if self.stopping:
                client.close()
                return
            trans = self.tf.getTransport(client)
            prot = self.pf.getProtocol(trans)
            try:
                while True:
                    self.processor.process(prot, prot)
            except Exception:  # pylint: disable=broad-except
                pass  # the client closed, or the server gave up on its bytes
            finally:
                trans.close()

    def stop(self):
        self.stopping = True
        socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        self.thread.join(10)
        self.sock.close()


class OnePerCall:
    """A client of `service` whose every call is on a new connection: the
    reference's answer to one call must not depend on what an earlier call
    left unread (Apache's server reads a list of another element type as
    its own, and may stop in the middle of the message)."""

    def __init__(self, service, port, transport, protocol):
        self._target = (service, port, transport, protocol)

    def __getattr__(self, name):
        def call(*a):
            c, trans = harness.client(*self._target, timeout=10)
            try:
                return getattr(c, name)(*a)
            finally:
                trans.close()
        return call


class EvolutionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for v in ("1", "2"):
            harness.gen_py(IDL[v])
        cls.E = {v: harness.load_gen("evo_v%s.Evo" % v) for v in ("1", "2")}
        cls.T = {v: harness.load_gen("evo_v%s.ttypes" % v) for v in ("1", "2")}

    # ---- what each client calls ----

    def full_rec(self):
        """A second-version Rec with every field set, new types at every depth."""
        T = self.T["2"]
        leaf = T.Leaf(a=2, s="x")
        ex = T.Extra(q=1, more=[T.Extra(q=2, ids={5}, more=[T.Extra(q=3)])],
                     m={"z": [leaf, T.Leaf(a=1, nb=False)], "e": []}, ids={1, 2})
        big = T.Leaf(a=9, nb=True, s="big", nx=ex, nd=1.5, np=T.Pick(leaf=leaf), nm={4: ex})
        return T.Rec(id=1, b=True, leaf=big, y=-3, leaves=[big, leaf, T.Leaf(a=4, nb=False, s="q")],
                     h=300, named={"k": big, "j": T.Leaf(nb=True, a=5)}, l=1 << 40,
                     color=T.Color.BLUE, d=2.25, note="n", bin=b"\0\1z", deep=[{"k": [big]}, {}],
                     tags={"t", "u"}, byid={3: big}, other=big, pick=T.Pick(leaf=big), c2=3,
                     bools=[True, False, True], f=False, ll=[[1], []], mm={"a": {"b": ex}, "c": {}},
                     far=ex, tb=True)

    def new_client_calls(self, c):
        """Calls of a second-version client: (name, call)."""
        T = self.T["2"]
        return [
            ("echo every new field", lambda: c.echo(self.full_rec(), self.full_rec(), 5)),
            ("echo with a new union member", lambda: c.echo(
                T.Rec(id=2, pick=T.Pick(leaf=T.Leaf(a=1)), mm={}, deep=[], tags=set()), None, None)),
            ("echo new fields only", lambda: c.echo(T.Rec(b=True, tb=False, far=T.Extra()), None, 1)),
            ("typed", lambda: c.typed("s", 1 << 40, [T.Leaf(a=1)], [], 9, 5, True, {1}, 7)),
            ("typed, a list of another element type", lambda: c.typed(
                "s", 1, [T.Leaf(a=1)], [1, 2], 9, 5, True, {1}, 7)),
            ("new arguments", lambda: c.added(1, 2, 3, T.Leaf(a=4, s="w"), [9])),
            ("new required argument", lambda: c.req(1, 2)),
            ("fail 0", lambda: c.fail(0)),
            ("fail 1", lambda: c.fail(1)),
            ("fail 2", lambda: c.fail(2)),
            ("vfail 2", lambda: c.vfail(2)),
            ("reply", c.reply),
            ("give an enum value the server lacks", lambda: c.give(3)),
            ("ret_typed, another result type", c.ret_typed),
            ("a method the server lacks", lambda: c.brand_new(4)),
            ("a oneway method the server lacks", lambda: c.brand_new_oneway(4)),
            ("after", lambda: c.fail(6)),
        ]

    def old_client_calls(self, c):
        """Calls of a first-version client: (name, call)."""
        T = self.T["1"]
        leaf = T.Leaf(a=2, s="x")
        return [
            ("echo", lambda: c.echo(T.Rec(id=1, leaf=leaf, leaves=[leaf], named={"k": leaf},
                                          color=2, note="n", pick=T.Pick(s="p")))),
            ("typed", lambda: c.typed(1, "y", leaf, None, 9, False, 3, [1], 1.5)),
            ("typed, a list of another element type", lambda: c.typed(
                1, "y", leaf, [1, 2], 9, True, 3, [1], 1.5)),
            ("arguments left out", lambda: c.added(1)),
            ("a required argument left out", lambda: c.req(1)),
            ("fail 1", lambda: c.fail(1)),
            ("an exception the client lacks", lambda: c.fail(2)),
            ("an exception the client lacks, void", lambda: c.vfail(2)),
            ("reply with new fields", c.reply),
            ("give an enum value the client lacks", lambda: c.give(3)),
            ("ret_typed, another result type", c.ret_typed),
            ("after", lambda: c.fail(4)),
        ]

    # ---- where thriftcorn answers otherwise (docs/interop.md) ----

    def differences(self, server_version):
        """Outcomes of thriftcorn that differ from the reference's, by call."""
        svc = "evo_v%s.Evo" % server_version
        other = "i32" if server_version == "1" else "i64"
        sent = "i64" if server_version == "1" else "i32"
        return {
            # Apache reads the elements as its own type: wrong values over binary
            "typed, a list of another element type": (
                "tae", TApplicationException.PROTOCOL_ERROR,
                "%s.typed: arguments: li (field 4): list of %s where the IDL has %s"
                % (svc, sent, other)),
            # Apache's C++ server closes the connection; Python passes None
            "a required argument left out": (
                "tae", TApplicationException.PROTOCOL_ERROR,
                "%s.req: arguments: r (field 2): required field is missing" % svc),
            # C++'s words (Python's: Unknown function brand_new)
            "a method the server lacks": (
                "tae", TApplicationException.UNKNOWN_METHOD, "Invalid method name: 'brand_new'"),
        }

    # ---- the runs ----

    def settings(self, version, transport, protocol, plugin):
        s = ('workers = 1\nthreads = 2\ntransport = "%s"\nprotocol = "%s"\n'
             'service = { idl = "%s", name = "Evo", ' % (transport, protocol, IDL[version]))
        if plugin:
            return s + 'plugin = "%s" }\n' % PLUGIN[version]
        return s + 'handler = "%s" }\n' % os.path.join(FIXTURES, "handler.lua")

    def reference(self, client_version, server_version, protocol):
        """The reference's outcome of each call, by transport (THeader: framed's)."""
        calls = self.new_client_calls if client_version == "2" else self.old_client_calls
        handler = ReferenceHandler(self.T[server_version], server_version == "2")
        got = {}
        for transport in ("buffered", "framed"):
            ref = Reference(self.E[server_version], handler, transport, protocol)
            try:
                c = OnePerCall(self.E[client_version], ref.port, transport, protocol)
                got[transport] = [(name, outcome(fn)) for name, fn in calls(c)]
            finally:
                ref.stop()
        got["header"] = got["framed"]
        return got

    def check(self, client_version, server_version, plugin):
        calls = self.new_client_calls if client_version == "2" else self.old_client_calls
        differ = self.differences(server_version)
        for protocol in harness.PROTOCOLS:
            want = self.reference(client_version, server_version, protocol)
            for transport in TRANSPORTS:
                with self.subTest(transport=transport, protocol=protocol):
                    settings = self.settings(server_version, transport, protocol, plugin)
                    with harness.Server(settings, env={"EVO_VERSION": server_version}) as srv:
                        c, trans = harness.client(self.E[client_version], srv.port, transport,
                                                  protocol)
                        try:
                            got = [(name, outcome(fn)) for name, fn in calls(c)]
                        finally:
                            trans.close()
                    for (name, g), (_, w) in zip(got, want[transport]):
                        if name in differ:
                            self.assertEqual(g, differ[name], name)
                            self.assertNotEqual(w, g, name + ": the reference answers the same")
                        else:
                            self.assertEqual(g, w, name)
                    self.assertEqual(got[-1][1][0], "ok", "the connection serves to the end")

    def test_new_client_old_lua_server(self):
        self.check("2", "1", plugin=False)

    def test_new_client_old_plugin_server(self):
        self.check("2", "1", plugin=True)

    def test_old_client_new_lua_server(self):
        self.check("1", "2", plugin=False)

    def test_old_client_new_plugin_server(self):
        self.check("1", "2", plugin=True)

    def test_what_the_reference_cannot_skip(self):
        """Unknown fields that Apache's Python 0.17 fails to skip (a binary
        that is not UTF-8, which it decodes as text; uuids, which it does
        not know) and negative field ids are skipped too, at every depth,
        and the known fields after them (by a short compact field delta
        across a skipped struct that used long ones) are kept."""
        def uuid_field(p, fid):
            if isinstance(p, TCompactProtocol.TCompactProtocol):
                # compact's type 13, which this library has no writer for
                p._TCompactProtocol__writeFieldHeader(13, fid)  # pylint: disable=protected-access
                p.trans.write(b"\x11" * 16)
            else:
                p.trans.write(bytes([16]) + fid.to_bytes(2, "big", signed=True) + b"\x22" * 16)

        def rec(p, extra):
            p.writeStructBegin("Rec")
            p.writeFieldBegin("id", TType.I32, 1)
            p.writeI32(5)
            p.writeFieldEnd()
            p.writeFieldBegin("leaf", TType.STRUCT, 3)
            p.writeStructBegin("Leaf")
            p.writeFieldBegin("a", TType.I32, 1)
            p.writeI32(7)
            p.writeFieldEnd()
            if extra:
                p.writeFieldBegin("x", TType.STRUCT, 2)
                p.writeStructBegin("X")
                p.writeFieldBegin("y", TType.I32, 200)
                p.writeI32(1)
                p.writeFieldEnd()
                uuid_field(p, 201)
                p.writeFieldBegin("z", TType.BOOL, -7)
                p.writeBool(True)
                p.writeFieldEnd()
                p.writeFieldStop()
                p.writeStructEnd()
                p.writeFieldEnd()
            p.writeFieldBegin("s", TType.STRING, 3)
            p.writeString("kept")
            p.writeFieldEnd()
            p.writeFieldStop()
            p.writeStructEnd()
            p.writeFieldEnd()
            if extra:
                p.writeFieldBegin("bin", TType.STRING, 12)
                p.writeBinary(b"\xff\xfe\x00")
                p.writeFieldEnd()
                uuid_field(p, -3)
                p.writeFieldBegin("n", TType.I32, -2)
                p.writeI32(1)
                p.writeFieldEnd()
            p.writeFieldBegin("note", TType.STRING, 11)
            p.writeString("note")
            p.writeFieldEnd()
            p.writeFieldStop()
            p.writeStructEnd()

        def request(protocol, extra):
            P = (TCompactProtocol.TCompactProtocol if protocol == "compact"
                 else TBinaryProtocol.TBinaryProtocol)
            p = P(TTransport.TMemoryBuffer())
            p.writeMessageBegin("echo", TMessageType.CALL, 1)
            p.writeStructBegin("echo_args")
            p.writeFieldBegin("r", TType.STRUCT, 1)
            rec(p, extra)
            p.writeFieldEnd()
            p.writeFieldStop()
            p.writeStructEnd()
            p.writeMessageEnd()
            return p.trans.getvalue()

        def answer(port, protocol, data):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            try:
                s.sendall(len(data).to_bytes(4, "big") + data)
                frame = harness.read_frame(s)[4:]
            finally:
                s.close()
            P = (TCompactProtocol.TCompactProtocol if protocol == "compact"
                 else TBinaryProtocol.TBinaryProtocol)
            p = P(TTransport.TMemoryBuffer(frame))
            _, mtype, _ = p.readMessageBegin()
            self.assertEqual(mtype, TMessageType.REPLY)
            result = self.E["1"].echo_result()
            result.read(p)
            return result.success

        T = self.T["1"]
        want = T.Rec(id=5, leaf=T.Leaf(a=7, s="kept"), note="note")
        for plugin in (False, True):
            for protocol in harness.PROTOCOLS:
                with self.subTest(plugin=plugin, protocol=protocol):
                    with harness.Server(self.settings("1", "framed", protocol, plugin),
                                        env={"EVO_VERSION": "1"}) as srv:
                        self.assertEqual(answer(srv.port, protocol, request(protocol, False)), want)
                        self.assertEqual(answer(srv.port, protocol, request(protocol, True)), want)


if __name__ == "__main__":
    unittest.main(verbosity=2)
