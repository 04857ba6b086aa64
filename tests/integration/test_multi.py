# SPDX-License-Identifier: Apache-2.0
"""One server, one port, every client: transport = "auto" and protocol =
"auto" answer Apache Thrift's Python clients over buffered, framed and
header transports with binary and compact protocols, all at once; bytes
that fit no form close the connection with a log line. services = { ... }
serves several services on that port, called plain (the default service)
or multiplexed (TMultiplexedProtocol); THeader info headers reach handlers
and come back on replies, with or without ZLIB (once or more), the reply
frames byte for byte those of Apache's Python THeader server."""

import os
import socket
import struct
import subprocess
import threading
import time
import unittest

import harness
from test_calculator import CALC, PING
from thrift.protocol import TBinaryProtocol, TCompactProtocol, THeaderProtocol, TMultiplexedProtocol
from thrift.Thrift import TApplicationException, TMessageType
from thrift.TMultiplexedProcessor import TMultiplexedProcessor
from thrift.transport import THeaderTransport, TSocket, TTransport

TRANSPORTS = ("buffered", "framed", "header")
PROTOCOLS = ("binary", "compact")


def settings(extra=""):
    return ('service = { idl = "%s/tutorial.thrift", name = "Calculator", '
            'handler = "%s/handler.lua" }\n' % (CALC, CALC)) + extra


FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "multi")


def multi_settings(extra=""):
    return ("""transport = "auto"
protocol = "auto"
threads = 2
services = {
  { name = "Calculator", idl = "%s/tutorial.thrift", handler = "%s/handler.lua", default = true },
  { name = "PingService", idl = "%s/pingpong.thrift", handler = "%s/handler.lua" },
  { name = "HeaderService", idl = "%s/headers.thrift", handler = "%s/headers.lua" },
}
""" % (CALC, CALC, PING, PING, FIXTURE, FIXTURE)) + extra


# calculate()'s arguments that do not decode: cut in the 'num2' of its Work
CUT_IN_WORK = "tutorial.Calculator.calculate: arguments: tutorial.Work.num2: message truncated"


def call_cut_in_work(port, name):
    """Send calculate(1, Work) as a call named `name` (framed binary), cut
    after the first byte of Work's 'num2'. Returns the reply's name and the
    TApplicationException it carries, and the peer as the log names it."""
    body = (struct.pack(">bhi", 8, 1, 1)  # logid
            + struct.pack(">bh", 12, 2)  # w: a Work
            + struct.pack(">bh", 8, 2) + b"\x00")  # num2, one byte of its four
    msg = (struct.pack(">Ii", 0x80010001, len(name)) + name.encode() + struct.pack(">i", 9)
           + body)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        peer = "127.0.0.1:%d: " % s.getsockname()[1]
        s.sendall(struct.pack(">i", len(msg)) + msg)
        proto = TBinaryProtocol.TBinaryProtocol(
            TTransport.TMemoryBuffer(harness.read_frame(s)[4:]))
        got, mtype, seqid = proto.readMessageBegin()
        if (mtype, seqid) != (TMessageType.EXCEPTION, 9):
            raise AssertionError("%s: reply of type %d, seqid %d" % (name, mtype, seqid))
        ex = TApplicationException()
        ex.read(proto)
    return got, ex, peer


class AutoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(CALC, "tutorial.thrift"))
        cls.Calculator = harness.load_gen("tutorial.Calculator")
        cls.T = harness.load_gen("tutorial.ttypes")
        cls.srv = harness.Server(settings('transport = "auto"\nprotocol = "auto"\nthreads = 2\n'))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def calls(self, c, k):
        T = self.T
        self.assertEqual(c.add(k, 2), k + 2)
        self.assertEqual(c.calculate(1, T.Work(num1=k, num2=6, op=T.Operation.MULTIPLY)), 6 * k)
        with self.assertRaises(T.InvalidOperation):
            c.calculate(2, T.Work(num1=1, num2=0, op=T.Operation.DIVIDE))
        c.zip()
        self.assertIsNone(c.ping())

    def test_every_transport_and_protocol(self):
        for transport in TRANSPORTS:
            for protocol in PROTOCOLS:
                with self.subTest(transport=transport, protocol=protocol):
                    c, trans = harness.client(self.Calculator, self.srv.port, transport, protocol)
                    try:
                        self.calls(c, 7)
                    finally:
                        trans.close()

    def test_all_at_once(self):
        errors = []

        def run(transport, protocol, k):
            try:
                c, trans = harness.client(self.Calculator, self.srv.port, transport, protocol)
                for i in range(20):
                    if c.add(k, i) != k + i:
                        errors.append("%s %s: wrong sum" % (transport, protocol))
                trans.close()
            except Exception as e:  # reported below
                errors.append("%s %s: %r" % (transport, protocol, e))

        threads = [threading.Thread(target=run, args=(t, p, k))
                   for k, (t, p) in enumerate((t, p) for t in TRANSPORTS for p in PROTOCOLS
                                              for _ in range(3))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual([t for t in threads if t.is_alive()], [], "clients still calling")

    def test_unknown_bytes_close_with_a_log_line(self):
        for junk in (b"\xff\xff\xff\xff", b"\x00\x00\x00\x10\x01\x02", b"\x81\x01"):
            self.assertEqual(harness.raw_call(self.srv.port, junk), b"")
        harness.wait_log(self.srv, "fit no Thrift transport", 5)
        self.assertIn("the first bytes fit no Thrift transport and protocol", self.srv.log())
        c, trans = harness.client(self.Calculator, self.srv.port, "framed", "compact")
        self.assertEqual(c.add(1, 1), 2)
        trans.close()

    def test_detection_waits_for_bytes_one_at_a_time(self):
        buf = TTransport.TMemoryBuffer()
        proto = TCompactProtocol.TCompactProtocol(buf)
        c = self.Calculator.Client(proto)
        c.send_add(20, 22)
        msg = buf.getvalue()
        frame = len(msg).to_bytes(4, "big") + msg
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        try:
            for b in frame:
                s.sendall(bytes([b]))
                time.sleep(0.002)
            body = harness.read_frame(s)[4:]
        finally:
            s.close()
        rbuf = TTransport.TMemoryBuffer(body)
        r = self.Calculator.Client(TCompactProtocol.TCompactProtocol(rbuf))
        self.assertEqual(r.recv_add(), 42)


class MultiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(CALC, "tutorial.thrift"))
        harness.gen_py(os.path.join(PING, "pingpong.thrift"))
        harness.gen_py(os.path.join(FIXTURE, "headers.thrift"))
        cls.Calculator = harness.load_gen("tutorial.Calculator")
        cls.T = harness.load_gen("tutorial.ttypes")
        cls.PingService = harness.load_gen("pingpong.PingService")
        cls.HeaderService = harness.load_gen("headers.HeaderService")
        cls.srv = harness.Server(multi_settings())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def conversation(self, transport, protocol, k):
        """Plain and multiplexed calls to each service over one kind of client."""
        port = self.srv.port
        T = self.T
        opened = []
        try:
            c, trans = harness.client(self.Calculator, port, transport, protocol)
            opened.append(trans)
            self.assertEqual(c.add(k, 1), k + 1)
            mc, trans = harness.client(self.Calculator, port, transport, protocol,
                                       service="Calculator")
            opened.append(trans)
            self.assertEqual(mc.add(k, 2), k + 2)
            self.assertEqual(mc.calculate(1, T.Work(num1=k, num2=3, op=T.Operation.MULTIPLY)),
                             3 * k)
            with self.assertRaises(T.InvalidOperation):
                mc.calculate(2, T.Work(num1=1, num2=0, op=T.Operation.DIVIDE))
            mc.zip()
            self.assertEqual(mc.add(k, 3), k + 3)
            pc, trans = harness.client(self.PingService, port, transport, protocol,
                                       service="PingService")
            opened.append(trans)
            self.assertEqual(pc.ping(), "pong")
            hc, trans = harness.client(self.HeaderService, port, transport, protocol,
                                       service="HeaderService")
            opened.append(trans)
            if transport == "header":
                trans.set_header(b"client", b"%d" % k)
            got = hc.headers("reply", "r%d" % k)
            if transport == "header":
                self.assertEqual(got, {"client": "%d" % k, "set": "true"})
                self.assertEqual(trans.get_headers().get(b"reply"), b"r%d" % k)
            else:
                self.assertEqual(got, {"set": "false"})
            self.assertEqual(hc.echo("x" * k), "x" * k)
        finally:
            for t in opened:
                t.close()

    def test_every_client_plain_and_multiplexed(self):
        for transport in TRANSPORTS:
            for protocol in PROTOCOLS:
                with self.subTest(transport=transport, protocol=protocol):
                    self.conversation(transport, protocol, 5)

    def test_every_client_at_once(self):
        errors = []

        def run(transport, protocol, k):
            try:
                for i in range(3):
                    self.conversation(transport, protocol, k + i)
            except Exception as e:  # reported below
                errors.append("%s %s: %r" % (transport, protocol, e))

        kinds = [(t, p) for t in TRANSPORTS for p in PROTOCOLS] * 2
        threads = [threading.Thread(target=run, args=(t, p, 10 * k))
                   for k, (t, p) in enumerate(kinds)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertEqual(errors, [])
        self.assertEqual([t for t in threads if t.is_alive()], [], "clients still calling")

    def test_unknown_service_and_method(self):
        c, trans = harness.client(self.Calculator, self.srv.port, "framed", "binary",
                                  service="Nope")
        with self.assertRaises(TApplicationException) as ctx:
            c.add(1, 2)
        self.assertEqual(ctx.exception.type, TApplicationException.UNKNOWN_METHOD)
        self.assertEqual(ctx.exception.message, "Unknown service: 'Nope'")
        trans.close()
        # a method the named service lacks: its own UNKNOWN_METHOD, the connection stays
        c, trans = harness.client(self.Calculator, self.srv.port, "buffered", "compact",
                                  service="PingService")
        with self.assertRaises(TApplicationException) as ctx:
            c.add(1, 2)
        self.assertEqual(ctx.exception.type, TApplicationException.UNKNOWN_METHOD)
        self.assertEqual(ctx.exception.message, "Invalid method name: 'add'")
        trans.close()

    def test_arguments_that_do_not_decode_name_the_method(self):
        """A call whose arguments do not decode, multiplexed or plain (the
        default service): the PROTOCOL_ERROR and the log line name the
        service and the method before the innermost struct and field."""
        for name in ("Calculator:calculate", "calculate"):
            with self.subTest(name=name):
                got, ex, peer = call_cut_in_work(self.srv.port, name)
                self.assertEqual((got, ex.type, ex.message),
                                 ("calculate", TApplicationException.PROTOCOL_ERROR, CUT_IN_WORK))
                self.assertTrue(harness.wait_log(self.srv, peer + CUT_IN_WORK), self.srv.log())

    def test_header_zlib(self):
        for protocol in PROTOCOLS:
            c, trans = harness.client(self.HeaderService, self.srv.port, "header", protocol,
                                      service="HeaderService")
            trans.add_transform(THeaderTransport.THeaderTransformID.ZLIB)
            big = "thriftcorn " * 20000
            self.assertEqual(c.echo(big), big)
            trans.set_header(b"k", b"v")
            self.assertEqual(c.headers("z", "1"), {"k": "v", "set": "true"})
            self.assertEqual(trans.get_headers().get(b"z"), b"1")
            trans.close()

    def test_header_zlib_twice(self):
        # add_transform() appends: a client that calls it twice sends ZLIB
        # twice, which Apache's servers (C++, Python, Go) undo twice
        c, trans = harness.client(self.HeaderService, self.srv.port, "header", "compact",
                                  service="HeaderService")
        trans.add_transform(THeaderTransport.THeaderTransformID.ZLIB)
        trans.add_transform(THeaderTransport.THeaderTransformID.ZLIB)
        big = "twice " * 5000
        self.assertEqual(c.echo(big), big)
        self.assertEqual(c.echo("x"), "x")
        trans.close()

    def test_header_replies_as_apache_writes_them(self):
        """The reply frame to a THeader call is, byte for byte, the one
        Apache's Python server (THeaderProtocol 0.17, as TSimpleServer runs
        it) writes: the request's flags, sequence id and protocol id, and no
        transform even for a compressed request (as Apache's C++ and Go
        servers too; Apache's C++ client overruns its read buffer inflating
        a compressed reply)."""
        HS = self.HeaderService

        class Handler:
            def echo(self, s):
                return s

        class Pipe(TTransport.TTransportBase):
            """A server's socket: reads the request, keeps what is written."""

            def __init__(self, data):
                self.rbuf = TTransport.TMemoryBuffer(data)
                self.out = b""

            def isOpen(self):
                return True

            def read(self, sz):
                return self.rbuf.read(sz)

            def write(self, buf):
                self.out += buf

            def flush(self):
                pass

        def request(pid, transforms, seqid):
            out = TTransport.TMemoryBuffer()
            proto = THeaderProtocol.THeaderProtocol(
                out, [THeaderTransport.THeaderClientType.HEADERS], default_protocol=pid)
            for t in transforms:
                proto.trans.add_transform(t)
            proto.trans.set_header(b"trace", b"t%d" % seqid)
            c = HS.Client(TMultiplexedProtocol.TMultiplexedProtocol(proto, "HeaderService"))
            c._seqid = seqid
            c.send_echo("thriftcorn " * 40)
            return out.getvalue()

        def apache_reply(req):
            pipe = Pipe(req)
            proto = THeaderProtocol.THeaderProtocol(
                pipe, [THeaderTransport.THeaderClientType.HEADERS])
            mux = TMultiplexedProcessor()
            mux.registerProcessor("HeaderService", HS.Processor(Handler()))
            mux.process(proto, proto)
            return pipe.out

        ZLIB = THeaderTransport.THeaderTransformID.ZLIB
        seqid = 40
        for pid in (0, 2):
            for transforms in ([], [ZLIB], [ZLIB, ZLIB]):
                with self.subTest(protocol=pid, transforms=len(transforms)):
                    s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
                    try:
                        for _ in range(2):  # two calls on one connection
                            seqid += 1
                            req = request(pid, transforms, seqid)
                            want = apache_reply(req)
                            self.assertEqual(want[14:16], bytes([pid, 0]))  # no transform
                            s.sendall(req)
                            got = harness.read_frame(s)
                            self.assertEqual(got.hex(), want.hex())
                    finally:
                        s.close()

    def test_header_reply_ids(self):
        """The reply frame carries the request frame's flags and sequence id,
        also when the frame's sequence id is not its message's (Apache's
        servers write the reply message's there; their clients send one id
        in both places), and none of the request's info headers."""
        out = TTransport.TMemoryBuffer()
        proto = THeaderProtocol.THeaderProtocol(
            out, [THeaderTransport.THeaderClientType.HEADERS])
        proto.trans.set_header(b"not", b"echoed")
        c = self.HeaderService.Client(
            TMultiplexedProtocol.TMultiplexedProtocol(proto, "HeaderService"))
        c._seqid = 5
        c.send_echo("ids")
        req = bytearray(out.getvalue())
        self.assertEqual(req[6:12], bytes.fromhex("000000000005"))  # flags, sequence id
        req[6:12] = bytes.fromhex("0001" "00000063")  # flags 1, sequence id 99
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        try:
            s.sendall(bytes(req))
            got = harness.read_frame(s)
        finally:
            s.close()
        self.assertEqual(got[4:12], bytes.fromhex("0fff" "0001" "00000063"))
        rc = self.HeaderService.Client(THeaderProtocol.THeaderProtocol(
            TTransport.TMemoryBuffer(got), [THeaderTransport.THeaderClientType.HEADERS]))
        self.assertEqual(rc._iprot.readMessageBegin(), ("echo", TMessageType.REPLY, 5))
        self.assertEqual(rc._iprot.trans.get_headers(), {})

    def test_reply_headers_fit_apache_cpp_client(self):
        # Apache's C++ client refuses a header block of 16384 words or more
        # ("Header size is unreasonable"): the reply's headers are capped
        # below that (65,520 bytes, each header its key and value plus 10)
        for size, taken in ((65509, True), (65510, False)):
            out = TTransport.TMemoryBuffer()
            p = THeaderProtocol.THeaderProtocol(
                out, [THeaderTransport.THeaderClientType.HEADERS])
            mc = self.HeaderService.Client(
                TMultiplexedProtocol.TMultiplexedProtocol(p, "HeaderService"))
            mc.send_headers("k", "v" * size)
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
            try:
                s.sendall(out.getvalue())
                got = harness.read_frame(s)
            finally:
                s.close()
            self.assertLess(int.from_bytes(got[12:14], "big"), 16384)
            r = TTransport.TMemoryBuffer(got)
            rc = self.HeaderService.Client(THeaderProtocol.THeaderProtocol(
                r, [THeaderTransport.THeaderClientType.HEADERS]))
            self.assertEqual(rc.recv_headers(), {"set": "true" if taken else "nil"})
            self.assertEqual(len(rc._iprot.trans.get_headers().get(b"k", b"")),
                             size if taken else 0)

    def test_zlib_inflated_size_is_capped(self):
        with harness.Server(multi_settings("max_message_size = 100000\n")) as srv:
            c, trans = harness.client(self.HeaderService, srv.port, "header", "binary",
                                      service="HeaderService")
            trans.add_transform(THeaderTransport.THeaderTransformID.ZLIB)
            self.assertEqual(c.echo("y" * 50000), "y" * 50000)
            with self.assertRaises(Exception):
                c.echo("y" * 200000)  # 2 KiB on the wire, 200 KB inflated
            trans.close()
            harness.wait_log(srv, "inflated message", 5)
            self.assertIn("invalid THeader frame: the inflated message is over max_message_size",
                          srv.log())

    def test_access_log_names_the_service(self):
        access = os.path.join(harness.tempdir("tc-multi-"), "access.log")
        extra = 'accesslog = "%s"\naccess_log_format = "%%m %%s"\n' % access
        with harness.Server(multi_settings(extra)) as srv:
            c, trans = harness.client(self.Calculator, srv.port, "framed", "binary")
            self.assertEqual(c.add(1, 2), 3)  # plain: the default service
            trans.close()
            mc, trans = harness.client(self.Calculator, srv.port, "framed", "binary",
                                       service="Calculator")
            self.assertEqual(mc.add(2, 2), 4)
            with self.assertRaises(self.T.InvalidOperation):
                mc.calculate(1, self.T.Work(num1=1, num2=0, op=self.T.Operation.DIVIDE))
            trans.close()
            pc, trans = harness.client(self.PingService, srv.port, "buffered", "compact",
                                       service="PingService")
            self.assertEqual(pc.ping(), "pong")
            trans.close()
            for service in ("PingService", "Nope"):
                c, trans = harness.client(self.Calculator, srv.port, "framed", "binary",
                                          service=service)
                with self.assertRaises(TApplicationException):
                    c.add(1, 2)
                trans.close()
            want = ["Calculator.add ok", "Calculator.add ok", "Calculator.calculate exception",
                    "PingService.ping ok", "PingService.add UNKNOWN_METHOD",
                    "Nope.add UNKNOWN_METHOD"]

            def lines():
                return harness.read_text(access).splitlines()

            self.assertTrue(harness.wait_for(lambda: len(lines()) >= len(want)), srv.log())
            self.assertEqual(lines(), want)
            # the two bad calls: one warning each in the error log, beside
            # their access log lines
            for why in ("Invalid method name: 'add'", "Unknown service: 'Nope'"):
                self.assertTrue(harness.wait_for(lambda: why in srv.log()), srv.log())
                got = [ln for ln in srv.log().splitlines() if why in ln]
                self.assertEqual(len(got), 1, got)
                self.assertIn("[warning] 127.0.0.1:", got[0])

    def test_one_service_under_two_multiplexed_names(self):
        """The same IDL service twice, as Apache's TMultiplexedProcessor
        registers any processor under any name: Calculator with the example
        handler (the default), and CalculatorV2 with another. Each name
        reaches its own handler, and the access log names the one called,
        as do the errors of its calls, to the client (expose_errors) and in
        the error log: a PROTOCOL_ERROR, a handler that raises, a result
        that does not fit, a oneway handler that raises."""
        d = harness.tempdir("tc-multi-")
        with open(os.path.join(d, "v2.lua"), "w") as f:
            f.write("local H = {}\n"
                    "function H.ping() end\n"
                    "function H.add(a, b)\n"
                    "  if a == 13 then error('v2 refuses 13', 0) end\n"
                    "  if a == 14 then return 'not an i32' end\n"
                    "  return 1000 + a + b\n"
                    "end\n"
                    "function H.calculate(id, w) return -1 end\n"
                    "function H.zip() error('zip refused', 0) end\n"
                    "function H.getStruct(key) return { key = key, value = 'v2' } end\n"
                    "return H\n")
        access = os.path.join(d, "access.log")
        settings = ("threads = 2\nexpose_errors = true\naccesslog = %r\n"
                    "access_log_format = \"%%m %%s\"\n"
                    "services = {\n"
                    "  { name = \"Calculator\", idl = \"%s/tutorial.thrift\", "
                    "handler = \"%s/handler.lua\", default = true },\n"
                    "  { name = \"Calculator\", multiplexed_name = \"CalculatorV2\", "
                    "idl = \"%s/tutorial.thrift\", handler = \"%s/v2.lua\" },\n"
                    "}\n" % (access, CALC, CALC, CALC, d))
        with harness.Server(settings) as srv:
            for transport, protocol in (("framed", "binary"), ("buffered", "compact")):
                c, trans = harness.client(self.Calculator, srv.port, transport, protocol)
                self.assertEqual(c.add(1, 2), 3)  # plain: the default
                trans.close()
                c, trans = harness.client(self.Calculator, srv.port, transport, protocol,
                                          service="Calculator")
                self.assertEqual(c.add(1, 2), 3)
                trans.close()
                c, trans = harness.client(self.Calculator, srv.port, transport, protocol,
                                          service="CalculatorV2")
                self.assertEqual(c.add(1, 2), 1003)
                self.assertEqual(c.getStruct(5).value, "v2")
                trans.close()
            want = ["Calculator.add ok", "Calculator.add ok", "CalculatorV2.add ok",
                    "CalculatorV2.getStruct ok"] * 2

            def lines():
                return harness.read_text(access).splitlines()

            self.assertTrue(harness.wait_for(lambda: len(lines()) >= len(want)), srv.log())
            self.assertEqual(lines(), want)
            # arguments that do not decode: the client and the error log are
            # told of the service by the name called, as the access log has it
            cut = CUT_IN_WORK.replace("tutorial.Calculator.", "CalculatorV2.", 1)
            got, ex, peer = call_cut_in_work(srv.port, "CalculatorV2:calculate")
            self.assertEqual((got, ex.type, ex.message),
                             ("calculate", TApplicationException.PROTOCOL_ERROR, cut))
            self.assertTrue(harness.wait_log(srv, peer + cut), srv.log())
            want.append("CalculatorV2.calculate PROTOCOL_ERROR")
            self.assertTrue(harness.wait_for(lambda: len(lines()) >= len(want)), srv.log())
            self.assertEqual(lines(), want)
            # a handler that raises, a result that does not fit, a oneway
            # handler that raises: named as called, to the client and in the log
            c, trans = harness.client(self.Calculator, srv.port, "framed", "binary",
                                      service="CalculatorV2")
            self.addCleanup(trans.close)
            peer = "127.0.0.1:%d: " % harness.local_port(trans)
            for a, text in ((13, "CalculatorV2.add: v2 refuses 13\n"),
                            (14, "CalculatorV2.add returned a value that does not fit: ")):
                with self.assertRaises(TApplicationException) as ctx:
                    c.add(a, 0)
                self.assertEqual(ctx.exception.type, TApplicationException.INTERNAL_ERROR)
                self.assertTrue(ctx.exception.message.startswith(text), ctx.exception.message)
                self.assertTrue(harness.wait_log(srv, peer + text), srv.log())
            c.zip()
            self.assertTrue(harness.wait_log(srv, peer + "CalculatorV2.zip (oneway): zip refused\n"),
                            srv.log())
            self.assertEqual(c.add(1, 2), 1003)  # and the connection serves on
            want += ["CalculatorV2.add INTERNAL_ERROR"] * 2 + ["CalculatorV2.zip INTERNAL_ERROR",
                                                                 "CalculatorV2.add ok"]
            self.assertTrue(harness.wait_for(lambda: len(lines()) >= len(want)), srv.log())
            self.assertEqual(lines(), want)
            # the IDL's name of the service, which no call used, is in no line
            self.assertNotIn("tutorial.Calculator.", srv.log())

    def test_no_default_service(self):
        access = os.path.join(harness.tempdir("tc-multi-"), "access.log")
        extra = 'accesslog = "%s"\naccess_log_format = "%%m %%s"\n' % access
        settings = multi_settings(extra).replace(", default = true", "")
        with harness.Server(settings) as srv:
            c, trans = harness.client(self.Calculator, srv.port, "buffered", "binary")
            with self.assertRaises(TApplicationException) as ctx:
                c.add(1, 2)
            self.assertEqual(ctx.exception.type, TApplicationException.UNKNOWN_METHOD)
            self.assertIn("no default service", ctx.exception.message)
            trans.close()
            # no service took the plain name: logged as sent, under no service's name

            def lines():
                return harness.read_text(access).splitlines()

            self.assertTrue(harness.wait_for(lambda: len(lines()) >= 1), srv.log())
            self.assertEqual(lines(), ["add UNKNOWN_METHOD"])

    def test_logs_escape_client_bytes(self):
        """A name a client chose is escaped in both logs, each control byte,
        DEL and backslash as \\xHH: one line per call in each log, none
        split or forged. The reply carries the name as sent."""
        access = os.path.join(harness.tempdir("tc-multi-"), "access.log")
        extra = 'accesslog = "%s"\naccess_log_format = "%%h %%m %%s"\n' % access
        forging = "no\r\n[forged] [1] [info] line\x1b[2J\x7f\\x0a"
        esc = "no\\x0d\\x0a[forged] [1] [info] line\\x1b[2J\\x7f\\x5cx0a"
        calls = [  # the name sent, the name replied, %m, what the client is told
            (forging, forging, "Calculator." + esc, "Invalid method name: '%s'"),
            ("PingService:" + forging, forging, "PingService." + esc,
             "Invalid method name: '%s'"),
            (forging + ":add", forging + ":add", esc + ".add", "Unknown service: '%s'"),
        ]
        with harness.Server(multi_settings(extra)) as srv:
            want = []
            for name, replied, method, why in calls:
                # by hand, not harness.client(): a generated client cannot
                # send a method name of the test's choosing
                sock = TSocket.TSocket("127.0.0.1", srv.port)
                sock.setTimeout(10000)
                trans = TTransport.TFramedTransport(sock)
                proto = TBinaryProtocol.TBinaryProtocol(trans)
                trans.open()
                proto.writeMessageBegin(name, TMessageType.CALL, 7)
                self.Calculator.add_args(num1=1, num2=2).write(proto)
                proto.writeMessageEnd()
                trans.flush()
                got = proto.readMessageBegin()
                ex = TApplicationException()
                ex.read(proto)
                proto.readMessageEnd()
                self.assertEqual((got, ex.type, ex.message),
                                 ((replied, TMessageType.EXCEPTION, 7),
                                  TApplicationException.UNKNOWN_METHOD, why % forging))
                peer = "127.0.0.1:%d" % sock.handle.getsockname()[1]
                trans.close()
                want.append((peer, "%s %s UNKNOWN_METHOD" % (peer, method), why % esc))

            def access_log():
                return harness.read_text(access)

            self.assertTrue(harness.wait_for(lambda: access_log().count("\n") >= len(want)),
                            access_log())
            self.assertEqual(access_log(), "".join(line + "\n" for _, line, _ in want))
            # the error log: one warning for each, its bytes escaped
            for peer, _, why in want:
                self.assertTrue(harness.wait_log(srv, peer + ": "), srv.log())
                got = [ln for ln in srv.log().split("\n") if peer + ": " in ln]
                self.assertEqual(len(got), 1, got)
                self.assertTrue(got[0].endswith("[warning] %s: %s" % (peer, why)), got)
            self.assertNotIn("\n[forged]", srv.log())
            self.assertNotIn("\x1b", srv.log())


def family_settings(extra=""):
    """Base and Derived (which extends Base) of tests/fixtures/multi, each
    its own service with its own handler; Derived the default."""
    return ("""threads = 1
expose_errors = true
services = {
  { name = "Base", idl = "%s/family.thrift", handler = "%s/base.lua" },
  { name = "Derived", idl = "%s/family.thrift", handler = "%s/derived.lua", default = true },
}
""" % (FIXTURE, FIXTURE, FIXTURE, FIXTURE)) + extra


class FamilyTest(unittest.TestCase):
    """Two services of one IDL, the one extending the other: each call,
    inherited ones included, goes to the handler of the service it names."""

    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(FIXTURE, "family.thrift"))
        cls.Base = harness.load_gen("family.Base")
        cls.Derived = harness.load_gen("family.Derived")
        cls.srv = harness.Server(family_settings())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_inherited_methods_reach_the_named_service(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                b, trans = harness.client(self.Base, self.srv.port, transport, "compact",
                                          service="Base")
                self.addCleanup(trans.close)
                d, trans = harness.client(self.Derived, self.srv.port, transport, "compact",
                                          service="Derived")
                self.addCleanup(trans.close)
                p, trans = harness.client(self.Derived, self.srv.port, transport, "binary")
                self.addCleanup(trans.close)
                self.assertEqual(b.whoami(), "base")
                self.assertEqual(d.whoami(), "derived")
                self.assertEqual(p.whoami(), "derived")  # plain: the default
                self.assertEqual(d.add(40, 2), 42)

    def test_a_failure_names_the_service_that_served_it(self):
        """An inherited method that fails is reported under the service that
        served it, not the one that declares it: Base and Derived both serve
        fail(), and the log and the reply tell which one failed. One
        connection carries both services, and serves on after each failure."""
        sock = TSocket.TSocket("127.0.0.1", self.srv.port)
        sock.setTimeout(10000)
        trans = TTransport.TFramedTransport(sock)
        trans.open()
        self.addCleanup(trans.close)
        proto = TBinaryProtocol.TBinaryProtocol(trans)
        b = self.Base.Client(TMultiplexedProtocol.TMultiplexedProtocol(proto, "Base"))
        d = self.Derived.Client(TMultiplexedProtocol.TMultiplexedProtocol(proto, "Derived"))
        peer = "127.0.0.1:%d: " % sock.handle.getsockname()[1]
        for client, service in ((d, "Derived"), (b, "Base"), (d, "Derived")):
            with self.assertRaises(TApplicationException) as ctx:
                client.fail()
            self.assertEqual(ctx.exception.type, TApplicationException.INTERNAL_ERROR)
            self.assertTrue(ctx.exception.message.startswith(
                "family.%s.fail returned a value that does not fit: " % service),
                ctx.exception.message)
            self.assertEqual(client.whoami(), service.lower())
        d.fire()
        d.fire()
        self.assertEqual(d.count(), 2)
        self.assertTrue(harness.wait_log(self.srv, peer, count=3), self.srv.log())
        got = [ln.split(peer, 1)[1].split(" returned")[0]
               for ln in self.srv.log().splitlines() if peer in ln]
        self.assertEqual(got, ["family.Derived.fail", "family.Base.fail", "family.Derived.fail"])

    def test_a_reply_to_an_unknown_service_is_an_invalid_message_type(self):
        """A REPLY sent to a server is refused for its type before its name
        is routed, as Apache's TMultiplexedProcessor does, whether or not it
        names a service; the reply carries the name and seqid as sent."""
        for name, replied in (("Nope:whoami", "Nope:whoami"), ("Base:whoami", "whoami"),
                              ("whoami", "whoami")):
            with self.subTest(name=name):
                sock = TSocket.TSocket("127.0.0.1", self.srv.port)
                sock.setTimeout(10000)
                trans = TTransport.TFramedTransport(sock)
                trans.open()
                self.addCleanup(trans.close)
                proto = TBinaryProtocol.TBinaryProtocol(trans)
                proto.writeMessageBegin(name, TMessageType.REPLY, 31)
                self.Base.whoami_result(success="x").write(proto)
                proto.writeMessageEnd()
                trans.flush()
                got = proto.readMessageBegin()
                ex = TApplicationException()
                ex.read(proto)
                proto.readMessageEnd()
                self.assertEqual((got, ex.type, ex.message),
                                 ((replied, TMessageType.EXCEPTION, 31),
                                  TApplicationException.INVALID_MESSAGE_TYPE,
                                  "Invalid message type"))
                # the connection serves on
                c = self.Base.Client(TMultiplexedProtocol.TMultiplexedProtocol(proto, "Base"))
                self.assertEqual(c.whoami(), "base")


CPP_CLIENT = os.environ.get("TC_CPP_CALC_CLIENT")


@unittest.skipUnless(CPP_CLIENT, "built without a C++ compiler or libthrift-dev")
class CppTest(unittest.TestCase):
    """Apache Thrift's C++ clients, plain and multiplexed, over every
    transport and protocol, against one server at once. The C++ client
    checks the method name of every reply."""

    def test_every_client_at_once(self):
        # One handler thread: the tutorial's getStruct reads what calculate
        # stored in the Lua state of the thread that ran it, and with twelve
        # clients at once on a slow (sanitizer) build a call can take over
        # 5 ms, which makes the worker move that thread's other connections
        # to another thread, whose state lacks the entry (handlers.md, "State").
        with harness.Server(multi_settings().replace("threads = 2", "threads = 1")) as srv:
            runs = []
            for transport in TRANSPORTS:
                for protocol in PROTOCOLS:
                    for mux in ([], ["mux"]):
                        runs.append(([CPP_CLIENT, str(srv.port), transport, protocol] + mux,
                                     subprocess.Popen(
                                         [CPP_CLIENT, str(srv.port), transport, protocol] + mux,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)))
            for args, proc in runs:
                out, err = proc.communicate(timeout=60)
                with self.subTest(args=" ".join(args[2:])):
                    self.assertEqual(proc.returncode, 0, err + srv.log())
                    self.assertEqual(out.strip(), "ok")


CALC_C = os.path.join(os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR, "build")),
                      "examples", "libcalculator_c.so")


@unittest.skipUnless(os.path.exists(CALC_C), "the C plugin example is not built")
class PluginTest(unittest.TestCase):
    """A service of the list served by a C plugin, beside Lua ones."""

    def test_plugin_service_multiplexed(self):
        harness.gen_py(os.path.join(CALC, "tutorial.thrift"))
        harness.gen_py(os.path.join(PING, "pingpong.thrift"))
        Calculator = harness.load_gen("tutorial.Calculator")
        PingService = harness.load_gen("pingpong.PingService")
        settings = multi_settings().replace(
            'handler = "%s/handler.lua", default = true' % CALC,
            'plugin = "%s", default = true' % CALC_C)
        self.assertIn(CALC_C, settings)
        with harness.Server(settings) as srv:
            for transport in TRANSPORTS:
                c, trans = harness.client(Calculator, srv.port, transport, "compact",
                                          service="Calculator")
                self.assertEqual(c.add(40, 2), 42)
                trans.close()
                c, trans = harness.client(Calculator, srv.port, transport, "binary")
                self.assertEqual(c.add(1, 2), 3)
                trans.close()
                p, trans = harness.client(PingService, srv.port, transport, "binary",
                                          service="PingService")
                self.assertEqual(p.ping(), "pong")
                trans.close()
            # arguments that do not decode, refused naming the method
            got, ex, peer = call_cut_in_work(srv.port, "Calculator:calculate")
            self.assertEqual((got, ex.type, ex.message),
                             ("calculate", TApplicationException.PROTOCOL_ERROR, CUT_IN_WORK))
            self.assertTrue(harness.wait_log(srv, peer + CUT_IN_WORK), srv.log())


class CheckConfigTest(unittest.TestCase):
    def test_every_service_is_checked(self):
        srv = harness.Server(multi_settings(), start=False)
        out = subprocess.run([harness.BIN, "--check-config", srv.config],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        # the third service's handler lacks a method: named, though it is not the default
        with open(os.path.join(srv.dir, "bad.lua"), "w") as f:
            f.write("return { headers = function() return {} end }\n")
        bad = multi_settings().replace('handler = "%s/headers.lua"' % FIXTURE,
                                       'handler = "bad.lua"')
        with open(srv.config, "w") as f:
            f.write(bad)
        out = subprocess.run([harness.BIN, "--check-config", srv.config],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertEqual(out.stderr, "service HeaderService: %s/bad.lua: no function for "
                         "method 'echo'\n" % os.path.realpath(srv.dir))


class ServiceErrorsTest(unittest.TestCase):
    """What the operator is told when one service of several cannot be
    loaded: the service is named, at --check-config and at start, also when
    loading it crashes or ends the process."""

    def check(self, settings, files=None):
        srv = harness.Server(settings, files=files, start=False)
        return subprocess.run([harness.BIN, "--check-config", srv.config],
                              capture_output=True, text=True, timeout=60), srv

    def test_the_ok_line_lists_every_service(self):
        out, _ = self.check(family_settings())
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(": ok (service Base from %s/family.thrift, handler %s/base.lua; "
                      "service Derived (default) from %s/family.thrift, handler %s/derived.lua)"
                      % (FIXTURE, FIXTURE, FIXTURE, FIXTURE), out.stdout)
        # an entry with a multiplexed_name: that name, then the IDL's
        settings = family_settings().replace(
            'name = "Base",', 'name = "Base", multiplexed_name = "BaseV2",', 1)
        self.assertNotEqual(settings, family_settings())
        out, _ = self.check(settings)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(": ok (service BaseV2 (Base) from %s/family.thrift, handler %s/base.lua; "
                      % (FIXTURE, FIXTURE), out.stdout)

    def test_a_missing_handler_names_its_service(self):
        settings = family_settings().replace("%s/base.lua" % FIXTURE, "nothere.lua")
        out, srv = self.check(settings)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertEqual(out.stderr, "service Base: cannot open %s/nothere.lua: No such file "
                         "or directory\n" % os.path.realpath(srv.dir))
        # at start: the worker's boot fails, and the server exits 1
        run = subprocess.run([harness.BIN, srv.config], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn("worker failed to load the handler: service Base: cannot open ",
                      run.stderr)

    def test_max_lua_memory_too_small_names_the_service(self):
        out, _ = self.check(family_settings("max_lua_memory = 200000\n"))
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertTrue(out.stderr.startswith(
            "service Base: max_lua_memory (200000) is too small to load the handlers: "),
            out.stderr)

    def test_a_crash_or_exit_while_loading_names_its_service(self):
        # Base, the first service and not the default, ends the check
        # process while its handler module runs: killed by a signal, or by
        # exit()
        kill = ('local f = assert(io.open("/proc/self/stat"))\n'
                'local pid = f:read("n")\nf:close()\n'
                'os.execute("kill -KILL " .. pid)\n')
        for text, how in ((kill, "crashed (signal 9)"),
                          ("os.exit(3)\n", "exited with status 3, giving no reason"),
                          # exit(0) too: a worker would not boot
                          ("os.exit(0)\n", "exited with status 0, giving no reason")):
            with self.subTest(how=how):
                settings = family_settings().replace("%s/base.lua" % FIXTURE, "ends.lua")
                out, srv = self.check(settings, files={"ends.lua": text})
                want = ("loading the handlers of service Base (handler %s/ends.lua) %s"
                        % (os.path.realpath(srv.dir), how))
                self.assertEqual((out.returncode, out.stderr), (1, want + "\n"), out.stdout)

    def test_a_list_with_a_hole_is_refused(self):
        # the third entry after a nil was dropped (and with [4] = ..., the
        # server aborted): every entry is read, or the list is refused
        settings = family_settings().replace(
            "services = {", "local extra = { name = 'X', idl = 'x.thrift', handler = 'x.lua' }\n"
            "services = {").replace("default = true },\n}", "default = true },\n  [4] = extra,\n}")
        out, srv = self.check(settings)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertEqual(out.stderr, "%s:9: services: expected a list without holes: item 3 is "
                         "nil but item 4 is set\n" % os.path.realpath(srv.config))


class FixedTest(unittest.TestCase):
    """A fixed setting still refuses other clients, with a log line naming what came."""

    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(CALC, "tutorial.thrift"))
        cls.Calculator = harness.load_gen("tutorial.Calculator")

    def test_fixed_protocol_with_auto_transport(self):
        with harness.Server(settings('transport = "auto"\nprotocol = "compact"\n')) as srv:
            for transport in TRANSPORTS:
                c, trans = harness.client(self.Calculator, srv.port, transport, "compact")
                self.assertEqual(c.add(3, 4), 7)
                trans.close()
            c, trans = harness.client(self.Calculator, srv.port, "framed", "binary")
            with self.assertRaises(Exception):
                c.add(1, 2)
            trans.close()
            harness.wait_log(srv, "a framed binary client", 5)
            self.assertIn("a framed binary client, but transport is auto and protocol compact",
                          srv.log())

    def test_header_transport(self):
        with harness.Server(settings('transport = "header"\n')) as srv:
            for protocol in PROTOCOLS:
                c, trans = harness.client(self.Calculator, srv.port, "header", protocol)
                self.assertEqual(c.add(3, 4), 7)
                trans.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
