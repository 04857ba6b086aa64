# SPDX-License-Identifier: Apache-2.0
"""examples/calculator (the Apache Thrift tutorial) and examples/pingpong,
served by the real binary and called by Apache Thrift's Python client over
every transport and protocol."""

import os
import unittest

import harness

CALC = os.path.join(harness.SOURCE_DIR, "examples", "calculator")
PING = os.path.join(harness.SOURCE_DIR, "examples", "pingpong")


def example_settings(folder, transport, protocol, extra=""):
    """The example's own config, with the transport and protocol to test."""
    with open(os.path.join(folder, "thriftcorn.lua")) as f:
        text = f.read()
    lines = [l for l in text.splitlines()
             if not l.startswith(("bind", "transport", "protocol", "workers"))]
    text = "\n".join(lines) + "\n"
    text = text.replace('"tutorial.thrift"', '"%s/tutorial.thrift"' % folder)
    text = text.replace('"handler.lua"', '"%s/handler.lua"' % folder)
    text = text.replace('"pingpong.thrift"', '"%s/pingpong.thrift"' % folder)
    return 'workers = 1\ntransport = "%s"\nprotocol = "%s"\n%s%s' % (transport, protocol, text,
                                                                   extra)


class CalculatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(CALC, "tutorial.thrift"))
        cls.Calculator = harness.load_gen("tutorial.Calculator")
        cls.ttypes = harness.load_gen("tutorial.ttypes")
        cls.shared = harness.load_gen("shared.ttypes")

    def check_calculator(self, transport, protocol):
        T = self.ttypes
        with harness.Server(example_settings(CALC, transport, protocol)) as srv:
            c, trans = harness.client(self.Calculator, srv.port, transport, protocol)
            try:
                self.assertIsNone(c.ping())
                self.assertEqual(c.add(1, 2), 3)
                self.assertEqual(c.add(-5, 2), -3)
                self.assertEqual(c.calculate(1, T.Work(num1=7, num2=6, op=T.Operation.MULTIPLY)),
                                 42)
                self.assertEqual(c.calculate(2, T.Work(num1=1, num2=9, op=T.Operation.SUBTRACT)),
                                 -8)
                self.assertEqual(c.calculate(3, T.Work(num1=9, num2=2, op=T.Operation.DIVIDE)), 4)
                with self.assertRaises(T.InvalidOperation) as ctx:
                    c.calculate(4, T.Work(num1=1, num2=0, op=T.Operation.DIVIDE))
                self.assertEqual(ctx.exception.whatOp, T.Operation.DIVIDE)
                self.assertEqual(ctx.exception.why, "Cannot divide by 0")
                with self.assertRaises(T.InvalidOperation) as ctx:
                    c.calculate(5, T.Work(num1=1, num2=1, op=99))
                self.assertEqual(ctx.exception.why, "Invalid operation")
                # Work.num1 has a default of 0 in the IDL; the client sends it
                self.assertEqual(c.calculate(6, T.Work(num2=5, op=T.Operation.ADD)), 5)
                c.zip()  # oneway: no reply, and the next call still works
                s = c.getStruct(1)
                self.assertEqual(s, self.shared.SharedStruct(key=1, value="42"))
                self.assertEqual(c.add(2, 3), 5)
            finally:
                trans.close()

    def test_buffered_binary(self):
        self.check_calculator("buffered", "binary")

    def test_buffered_compact(self):
        self.check_calculator("buffered", "compact")

    def test_framed_binary(self):
        self.check_calculator("framed", "binary")

    def test_framed_compact(self):
        self.check_calculator("framed", "compact")


class PingPongTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(PING, "pingpong.thrift"))
        cls.PingService = harness.load_gen("pingpong.PingService")
        cls.ttypes = harness.load_gen("pingpong.ttypes")

    def test_every_transport_and_protocol(self):
        for transport in harness.TRANSPORTS:
            for protocol in harness.PROTOCOLS:
                with self.subTest(transport=transport, protocol=protocol):
                    with harness.Server(example_settings(PING, transport, protocol)) as srv:
                        c, trans = harness.client(self.PingService, srv.port, transport, protocol)
                        self.assertEqual(c.ping(), "pong")
                        self.assertEqual(c.ping(), "pong")
                        trans.close()

    def test_declared_exception(self):
        with harness.Server(example_settings(PING, "buffered", "binary"),
                            env={"about_to_shutdown": "1"}) as srv:
            c, trans = harness.client(self.PingService, srv.port)
            with self.assertRaises(self.ttypes.AboutToShutDownException):
                c.ping()
            with self.assertRaises(self.ttypes.AboutToShutDownException):
                c.ping()
            trans.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
