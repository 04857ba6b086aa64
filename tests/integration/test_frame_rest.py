# SPDX-License-Identifier: Apache-2.0
"""Bytes after the message in a frame (framed and THeader, binary and
compact), sent as raw bytes to a real server: a second message or garbage
after the first is ignored, as Apache Thrift's servers do, but not
silently. The client gets the first message's reply, the connection serves
its next call, and the error log has one warning naming the peer, how many
bytes were left and the message's name (escaped: a client chose it). A
whole message in its frame, and messages back to back on a buffered
connection (whose end is where the message ends), get no such warning.
A client that sends such frames as fast as it can gets each answered, but
its warnings are limited per thread (client_warning_rate), the others
counted in one line. Every wait is bounded."""

import re
import socket
import struct
import time
import unittest

import harness
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport import TTransport

THEADER_PROTO = {"binary": 0, "compact": 2}


def proto_of(pname, buf):
    return (TCompactProtocol.TCompactProtocol(buf) if pname == "compact"
            else TBinaryProtocol.TBinaryProtocol(buf))


def message(S, pname, name, seqid, text):
    """A call of echo(text) named `name`, unframed."""
    buf = TTransport.TMemoryBuffer()
    proto = proto_of(pname, buf)
    proto.writeMessageBegin(name, TMessageType.CALL, seqid)
    S.echo_args(s=text).write(proto)
    proto.writeMessageEnd()
    return buf.getvalue()


def framed(transport, pname, payload):
    """`payload` in one framed or THeader frame (THeader: the protocol's id,
    no transforms, the header block padded to a word)."""
    if transport == "header":
        block = bytes([THEADER_PROTO[pname], 0, 0, 0])
        payload = struct.pack(">HHiH", 0x0FFF, 0, 7, len(block) // 4) + block + payload
    return struct.pack(">i", len(payload)) + payload


def read_reply(s, transport, pname):
    """One reply's message bytes off `s`, out of its frame."""
    body = harness.read_frame(s)[4:]
    if transport == "header":
        (words,) = struct.unpack(">H", body[8:10])
        body = body[10 + 4 * words:]
    return proto_of(pname, TTransport.TMemoryBuffer(body))


class FrameRestTest(harness.ServiceTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # every warning counts here: none held back by client_warning_rate
        cls.srv = harness.Server("workers = 1\nclient_warning_rate = 0\n"
                                 + harness.service(harness.SERVICE_FIXTURE))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.check_sanitizers()

    def echo_reply(self, proto, seqid):
        name, mtype, got = proto.readMessageBegin()
        self.assertEqual((name, mtype, got), ("echo", TMessageType.REPLY, seqid))
        result = self.S.echo_result()
        result.read(proto)
        return result.success

    def warnings(self, offset, peer):
        """The lines about bytes left in a frame, since `offset`, about `peer`."""
        text = self.srv.log()[offset:]
        return re.findall(r"\[warning\] %s: (\d+ bytes after the message .*)"
                          % re.escape(peer), text)

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        return s, "127.0.0.1:%d" % s.getsockname()[1]

    def test_rest_of_a_frame(self):
        for transport in ("framed", "header"):
            for pname in ("binary", "compact"):
                with self.subTest(transport=transport, protocol=pname):
                    self.rest_of_a_frame(transport, pname)

    def rest_of_a_frame(self, transport, pname):
        S = self.S
        offset = len(self.srv.log())
        pids = self.srv.worker_pids()
        s, peer = self.connect()
        try:
            # a whole message alone in its frame: no warning
            s.sendall(framed(transport, pname, message(S, pname, "echo", 1, "alone")))
            self.assertEqual(self.echo_reply(read_reply(s, transport, pname), 1), "alone")
            # two messages in one frame: the first is answered, the second is the rest
            second = message(S, pname, "echo", 3, "second")
            s.sendall(framed(transport, pname, message(S, pname, "echo", 2, "first") + second))
            self.assertEqual(self.echo_reply(read_reply(s, transport, pname), 2), "first")
            # garbage after a message
            junk = b"\x00\xffjunk\n"
            s.sendall(framed(transport, pname, message(S, pname, "echo", 4, "then") + junk))
            self.assertEqual(self.echo_reply(read_reply(s, transport, pname), 4), "then")
            # a method the service lacks, its name with a line break, and bytes after it
            s.sendall(framed(transport, pname, message(S, pname, "no\r\nx", 5, "z") + junk))
            proto = read_reply(s, transport, pname)
            name, mtype, seqid = proto.readMessageBegin()
            self.assertEqual((name, mtype, seqid), ("no\r\nx", TMessageType.EXCEPTION, 5))
            ex = TApplicationException()
            ex.read(proto)
            self.assertEqual(ex.type, TApplicationException.UNKNOWN_METHOD)
            # the connection serves its next call, which gets no warning
            s.sendall(framed(transport, pname, message(S, pname, "echo", 6, "next")))
            self.assertEqual(self.echo_reply(read_reply(s, transport, pname), 6), "next")
        finally:
            s.close()
        self.assertEqual(self.warnings(offset, peer), [
            "%d bytes after the message 'echo' in its frame, ignored" % len(second),
            "%d bytes after the message 'echo' in its frame, ignored" % len(junk),
            "%d bytes after the message 'no\\x0d\\x0ax' in its frame, ignored" % len(junk),
        ])
        self.assertEqual(self.srv.worker_pids(), pids)

    def test_buffered_back_to_back(self):
        """Buffered: each message ends where its bytes say; two sent at once
        are two calls, both answered, and no byte is left over."""
        S = self.S
        for pname in ("binary", "compact"):
            with self.subTest(protocol=pname):
                offset = len(self.srv.log())
                s, peer = self.connect()
                try:
                    two = message(S, pname, "echo", 1, "a") + message(S, pname, "echo", 2, "b")
                    s.sendall(two)
                    trans = TTransport.TBufferedTransport(_Sock(s))
                    proto = proto_of(pname, trans)
                    self.assertEqual(self.echo_reply(proto, 1), "a")
                    self.assertEqual(self.echo_reply(proto, 2), "b")
                finally:
                    s.close()
                self.assertEqual(self.warnings(offset, peer), [])


# The line that counts the client warnings not logged.
NOT_LOGGED = re.compile(r"\[warning\] (\d+) more client warnings not logged in the last "
                        r"(\d+\.\d) s \(client_warning_rate (\d+)\)\n")


class WarningRateTest(harness.ServiceTest):
    CALLS = 300

    def flood(self, rate):
        """CALLS framed calls of echo, each with bytes after the message, sent
        at once over one connection to a worker of one thread; every reply
        read. Returns the server, the peer, and the seconds it took."""
        S = self.S
        srv = harness.Server("workers = 1\nthreads = 1\nclient_warning_rate = %d\n" % rate
                             + harness.service(harness.SERVICE_FIXTURE))
        self.addCleanup(srv.check_sanitizers)
        self.addCleanup(srv.stop)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        peer = "127.0.0.1:%d" % s.getsockname()[1]
        try:
            frames = b"".join(framed("framed", "binary",
                                     message(S, "binary", "echo", i, "m%d" % i) + b"\x00junk")
                              for i in range(1, self.CALLS + 1))
            t0 = time.monotonic()
            s.sendall(frames)
            for i in range(1, self.CALLS + 1):
                self.assertEqual(FrameRestTest.echo_reply(self, read_reply(s, "framed", "binary"),
                                                          i), "m%d" % i)
            took = time.monotonic() - t0
        finally:
            s.close()
        return srv, peer, took

    def count(self, srv, peer):
        """The warnings about `peer`'s frames logged, and the counts of those
        that were not."""
        log = srv.log()
        warned = log.count("[warning] %s: 5 bytes after the message 'echo' in its frame, "
                           "ignored\n" % peer)
        return warned, [(int(n), int(r)) for n, _, r in NOT_LOGGED.findall(log)]

    def test_a_flood_of_warnings_is_limited_and_counted(self):
        # A burst of 10, then 10 a second: the client sends its calls in
        # well under the second the first report waits for, so the log has
        # at most the burst and what the rate gave meanwhile, and, once the
        # client is quiet, a line (the timer's) that counts the rest.
        srv, peer, took = self.flood(10)
        self.assertTrue(harness.wait_for(lambda: sum(
            n for n, _ in self.count(srv, peer)[1]) + self.count(srv, peer)[0] >= self.CALLS,
            timeout=10), srv.log()[-2000:])
        warned, reports = self.count(srv, peer)
        self.assertGreaterEqual(warned, 10)
        self.assertLessEqual(warned, 10 + int(10 * took) + 1, (took, reports))
        self.assertTrue(reports, srv.log()[-2000:])
        self.assertEqual([r for _, r in reports], [10] * len(reports))
        self.assertEqual(warned + sum(n for n, _ in reports), self.CALLS, reports)
        self.assertIsNone(srv.proc.poll())

    def test_no_limit(self):
        # client_warning_rate = 0: every warning is logged
        srv, peer, _ = self.flood(0)
        self.assertTrue(harness.wait_for(lambda: self.count(srv, peer)[0] >= self.CALLS))
        self.assertEqual(self.count(srv, peer), (self.CALLS, []))


class _Sock(TTransport.TTransportBase):
    """A connected socket as a Thrift transport."""

    def __init__(self, s):
        self.s = s

    def isOpen(self):
        return True

    def read(self, sz):
        data = self.s.recv(sz)
        if not data:
            raise TTransport.TTransportException(TTransport.TTransportException.END_OF_FILE)
        return data


if __name__ == "__main__":
    unittest.main()
