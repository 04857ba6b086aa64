# SPDX-License-Identifier: Apache-2.0
"""Resource limits on the real server: worker_connections (past it the
worker stops accepting, the listen backlog holds the next client, and the
worker does not spin), and backpressure on a pipelining client that does not
read its replies (the server stops handling its calls instead of buffering
their replies)."""

import os
import select
import socket
import time
import unittest

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

import harness

FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server")
SERVICE = ('service = { idl = "%s/svc.thrift", name = "TestService", handler = "%s/handler.lua" }\n'
           % (FIXTURE, FIXTURE))


def cpu_seconds(pid):
    """utime + stime of every thread of `pid`, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def readable(trans, timeout):
    """True if the client's socket has bytes (or EOF) within `timeout` seconds."""
    r, _, _ = select.select([trans.handle], [], [], timeout)
    return bool(r)


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(FIXTURE, "svc.thrift"))
        cls.S = harness.load_gen("svc.TestService")

    def open_client(self, port, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(20)
        s.connect(("127.0.0.1", port))
        sock = TSocket.TSocket()
        sock.handle = s
        trans = TTransport.TBufferedTransport(sock)
        return self.S.Client(TBinaryProtocol.TBinaryProtocolAccelerated(trans)), sock

    def test_worker_connections(self):
        n = 3
        settings = SERVICE + "workers = 1\nthreads = 2\nclient_timeout = 120\n"
        with harness.Server(settings + "worker_connections = %d\n" % n) as srv:
            pids = srv.worker_pids()
            self.assertEqual(len(pids), 1)
            held = []
            for i in range(n):
                c, sock = self.open_client(srv.port)
                self.assertEqual(c.echo("held %d" % i), "held %d" % i)
                held.append((c, sock))

            # the next one connects (the kernel's backlog) but is not served
            c, sock = self.open_client(srv.port)
            c.send_echo("waiting")
            before = cpu_seconds(pids[0])
            t0 = time.monotonic()
            self.assertFalse(readable(sock, 1.5), "a reply past worker_connections")
            used = cpu_seconds(pids[0]) - before
            elapsed = time.monotonic() - t0
            # a worker that spun on accept would use about `elapsed` seconds
            self.assertLess(used, 0.3 * elapsed, "the worker at its limit used %.2f s of CPU in "
                            "%.2f s" % (used, elapsed))
            self.assertTrue(harness.wait_log(srv, "worker_connections (3) reached", timeout=5))

            # one of the first closes: the waiting one is accepted and answered
            held[0][1].close()
            self.assertTrue(readable(sock, 15), "no reply after a connection closed")
            self.assertEqual(c.recv_echo(), "waiting")
            held[0] = (c, sock)

            # full again: one more waits, and the limit is not logged again
            c2, sock2 = self.open_client(srv.port)
            c2.send_echo("again")
            self.assertFalse(readable(sock2, 1.0), "a reply past worker_connections")
            for i, (hc, _) in enumerate(held):
                self.assertEqual(hc.add(i, 1), i + 1)
            held[1][1].close()
            self.assertTrue(readable(sock2, 15), "no reply after a connection closed")
            self.assertEqual(c2.recv_echo(), "again")
            self.assertEqual(srv.log().count("worker_connections (3) reached"), 1)
            for hc, hs in held[2:] + [(c2, sock2)]:
                self.assertEqual(hc.echo("still"), "still")
                hs.close()
            self.assertEqual(srv.worker_pids(), pids)

    def test_pipelining_client_that_does_not_read(self):
        """Every call gets a 400 KB reply; 100 of them would be 40 MB. The
        server stops at its 4 MiB output bound plus the socket buffers, then
        answers every call once the client reads."""
        self.pipeline(100, half_close=False)

    def test_pipelining_client_that_half_closes(self):
        """The same, but the client shuts its sending side after its calls:
        the calls held back are still whole in the server's input and are
        answered, not taken for a message cut by the close."""
        self.pipeline(60, half_close=True)

    def pipeline(self, calls, half_close):
        size = 100000
        alog = os.path.join(harness.tempfile.mkdtemp(prefix="tc-lim-"), "access.log")
        settings = SERVICE + 'workers = 1\nthreads = 1\naccesslog = "%s"\n' % alog
        with harness.Server(settings) as srv:
            c, sock = self.open_client(srv.port, rcvbuf=65536)
            for _ in range(calls):
                c.send_range(size)
            if half_close:
                sock.handle.shutdown(socket.SHUT_WR)

            def handled():
                return harness.read_text(alog).count("range")

            # wait until the server stops making progress, then count
            last = -1
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                time.sleep(1.0)
                now = handled()
                if now == last and now > 0:
                    break
                last = now
            held_back = handled()
            self.assertGreater(held_back, 0)
            # 4 MiB + a 4 MB kernel send buffer + 64 KB receive buffer: about 21 replies
            self.assertLess(held_back, calls // 2,
                            "%d of %d replies buffered for a client that reads none"
                            % (held_back, calls))

            # another client of the same (only) thread is served meanwhile
            other, osock = self.open_client(srv.port)
            self.assertEqual(other.echo("meanwhile"), "meanwhile")
            osock.close()

            for _ in range(calls):
                got = c.recv_range()
                self.assertEqual(len(got), size)
                self.assertEqual((got[0], got[-1]), (1, size))
            self.assertEqual(handled(), calls)
            sock.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
