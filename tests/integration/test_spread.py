# SPDX-License-Identifier: Apache-2.0
"""Connections spread over the workers: clients that connect one after
another while the server is idle are shared out among the workers instead
of going nearly all to the one whose process the kernel runs first (the
balance board, src/worker/board.h), and a worker that cannot accept, busy
in a long call, does not keep new clients waiting."""

import collections
import socket
import struct
import time
import unittest

import harness

IDL = "service Who {\n  string who(),\n  void nap(1: double seconds),\n}\n"

# who() names the worker process (its pid, from /proc) and the handler
# thread's Lua state (one per thread) that serves the connection.
HANDLER = """
local thriftcorn = require("thriftcorn")
local f = assert(io.open("/proc/self/stat"))
local pid = f:read("n")
f:close()
local id = pid .. "/" .. tostring({}):gsub("^table: ", "")
return {
  who = function() return id end,
  nap = function(seconds) thriftcorn.sleep(seconds) end,
}
"""


def config(workers, threads):
    return ('workers = %d\nthreads = %d\ntransport = "framed"\nprotocol = "binary"\n'
            'service = { idl = "who.thrift", name = "Who", handler = "who.lua" }\n'
            % (workers, threads))


def call_bytes(name, args=b"", seqid=1):
    body = struct.pack("!iI", -2147418111, len(name)) + name + struct.pack("!i", seqid)
    body += args + b"\x00"
    return struct.pack("!I", len(body)) + body


def read_reply(sock):
    frame = harness.read_frame(sock)[4:]  # after the frame length
    # version, name, seqid, then the result struct: field 0 of type string
    (nlen,) = struct.unpack("!I", frame[4:8])
    at = 8 + nlen + 4
    if frame[at:at + 1] == b"\x00":
        return None  # void
    assert frame[at:at + 3] == b"\x0b\x00\x00", frame
    (slen,) = struct.unpack("!I", frame[at + 3:at + 7])
    return frame[at + 7:at + 7 + slen].decode()


def who(sock):
    sock.sendall(call_bytes(b"who"))
    return read_reply(sock)


class SpreadTest(unittest.TestCase):
    def server(self, workers, threads):
        srv = harness.Server(config(workers, threads),
                             files={"who.thrift": IDL, "who.lua": HANDLER})
        self.addCleanup(srv.stop)
        return srv

    def connect_one_by_one(self, srv, n):
        """Open n connections in turn, each with one call answered before the
        next connects; returns the connections and the server identity each one
        named."""
        socks, names = [], []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            self.addCleanup(s.close)
            socks.append(s)
            names.append(who(s))
        return socks, names

    def test_clients_connecting_in_turn_spread_over_the_workers(self):
        srv = self.server(workers=2, threads=1)
        harness.wait_for(lambda: len(srv.worker_pids()) == 2)
        pids = {str(p) for p in srv.worker_pids()}
        for rnd in range(3):
            socks, names = self.connect_one_by_one(srv, 64)
            per_worker = collections.Counter(n.split("/")[0] for n in names)
            self.assertLessEqual(set(per_worker), pids)
            # as even as the order the workers post in allows: 32 each, give or take
            self.assertEqual(len(per_worker), 2, "round %d: %s" % (rnd, dict(per_worker)))
            self.assertGreaterEqual(min(per_worker.values()), 28,
                                    "round %d: %s" % (rnd, dict(per_worker)))
            self.close_all(socks)

    @staticmethod
    def close_all(socks):
        """Close the connections and wait until the server has closed each."""
        for s in socks:
            s.shutdown(socket.SHUT_WR)
        for s in socks:
            assert s.recv(1) == b""
            s.close()
        time.sleep(0.05)  # the worker gives its count back right after its close

    def test_a_worker_busy_in_a_call_keeps_no_client_waiting(self):
        srv = self.server(workers=2, threads=1)
        harness.wait_for(lambda: len(srv.worker_pids()) == 2)
        # one worker's only thread naps for 4 s: it accepts nobody meanwhile
        busy = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        self.addCleanup(busy.close)
        busy_pid = who(busy).split("/")[0]
        busy.sendall(call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 4.0), seqid=2))
        time.sleep(0.2)
        t0 = time.monotonic()
        socks, names = self.connect_one_by_one(srv, 20)
        took = time.monotonic() - t0
        # every one answered by the other worker, none left for the nap's end
        self.assertNotIn(busy_pid, {n.split("/")[0] for n in names})
        self.assertLess(took, 2.0, "20 connections took %.2f s" % took)
        self.assertIsNone(read_reply(busy))
        self.close_all(socks + [busy])


if __name__ == "__main__":
    unittest.main()
