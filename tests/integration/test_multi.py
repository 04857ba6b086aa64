# SPDX-License-Identifier: Apache-2.0
"""One server, one port, every client: transport = "auto" and protocol =
"auto" answer Apache Thrift's Python clients over buffered, framed and
header transports with binary and compact protocols, all at once; bytes
that fit no form close the connection with a log line."""

import os
import socket
import threading
import time
import unittest

import harness
from test_calculator import CALC, PING
from thrift.protocol import TBinaryProtocol, TCompactProtocol, THeaderProtocol
from thrift.transport import THeaderTransport, TSocket, TTransport

TRANSPORTS = ("buffered", "framed", "header")
PROTOCOLS = ("binary", "compact")


def settings(extra=""):
    return ('service = { idl = "%s/tutorial.thrift", name = "Calculator", '
            'handler = "%s/handler.lua" }\n' % (CALC, CALC)) + extra


def client(module, port, transport, protocol, timeout=10.0):
    """An Apache Thrift Python client of `module` over `transport` and `protocol`."""
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(timeout * 1000)
    if transport == "header":
        pid = (THeaderTransport.THeaderSubprotocolID.COMPACT if protocol == "compact"
               else THeaderTransport.THeaderSubprotocolID.BINARY)
        proto = THeaderProtocol.THeaderProtocol(
            sock, [THeaderTransport.THeaderClientType.HEADERS], default_protocol=pid)
        trans = proto.trans
    else:
        trans = (TTransport.TFramedTransport(sock) if transport == "framed"
                 else TTransport.TBufferedTransport(sock))
        proto = (TCompactProtocol.TCompactProtocol(trans) if protocol == "compact"
                 else TBinaryProtocol.TBinaryProtocol(trans))
    trans.open()
    return module.Client(proto), trans, proto


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
                    c, trans, _ = client(self.Calculator, self.srv.port, transport, protocol)
                    try:
                        self.calls(c, 7)
                    finally:
                        trans.close()

    def test_all_at_once(self):
        errors = []

        def run(transport, protocol, k):
            try:
                c, trans, _ = client(self.Calculator, self.srv.port, transport, protocol)
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

    def test_unknown_bytes_close_with_a_log_line(self):
        for junk in (b"\xff\xff\xff\xff", b"\x00\x00\x00\x10\x01\x02", b"\x81\x01"):
            self.assertEqual(harness.raw_call(self.srv.port, junk), b"")
        deadline = time.monotonic() + 5
        while ("fit no Thrift transport" not in self.srv.log()
               and time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertIn("the first bytes fit no Thrift transport and protocol", self.srv.log())
        c, trans, _ = client(self.Calculator, self.srv.port, "framed", "compact")
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
            data = s.recv(4)
            n = int.from_bytes(data, "big")
            body = b""
            while len(body) < n:
                body += s.recv(n - len(body))
        finally:
            s.close()
        rbuf = TTransport.TMemoryBuffer(body)
        r = self.Calculator.Client(TCompactProtocol.TCompactProtocol(rbuf))
        self.assertEqual(r.recv_add(), 42)


class FixedTest(unittest.TestCase):
    """A fixed setting still refuses other clients, with a log line naming what came."""

    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(CALC, "tutorial.thrift"))
        cls.Calculator = harness.load_gen("tutorial.Calculator")

    def test_fixed_protocol_with_auto_transport(self):
        with harness.Server(settings('transport = "auto"\nprotocol = "compact"\n')) as srv:
            for transport in TRANSPORTS:
                c, trans, _ = client(self.Calculator, srv.port, transport, "compact")
                self.assertEqual(c.add(3, 4), 7)
                trans.close()
            c, trans, _ = client(self.Calculator, srv.port, "framed", "binary")
            with self.assertRaises(Exception):
                c.add(1, 2)
            trans.close()
            deadline = time.monotonic() + 5
            while "a framed binary client" not in srv.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("a framed binary client, but transport is auto and protocol compact",
                          srv.log())

    def test_header_transport(self):
        with harness.Server(settings('transport = "header"\n')) as srv:
            for protocol in PROTOCOLS:
                c, trans, _ = client(self.Calculator, srv.port, "header", protocol)
                self.assertEqual(c.add(3, 4), 7)
                trans.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
