# SPDX-License-Identifier: Apache-2.0
"""Connections spread over the workers: clients that connect one after
another while the server is idle are shared out among the workers instead
of going nearly all to the one whose process the kernel runs first (the
balance board, src/worker/board.h), and a worker that cannot accept, busy
in a long call, does not keep new clients waiting. Within a worker, the
same over its accepting threads: the thread that accepts a client hands
it to the accepting thread that holds the fewest connections."""

import collections
import os
import re
import signal
import socket
import struct
import threading
import time
import unittest

import harness
from thrift.Thrift import TMessageType, TType
from thrift.protocol import THeaderProtocol
from thrift.transport import THeaderTransport, TSocket, TTransport

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


def header_protocol(trans):
    return THeaderProtocol.THeaderProtocol(trans, [THeaderTransport.THeaderClientType.HEADERS])


def header_reply(sock):
    """The next THeader reply on `sock`: the method's name and the string it
    returned, or None for a void."""
    t = TSocket.TSocket()
    t.handle = sock
    p = header_protocol(t)
    (name, mtype, _) = p.readMessageBegin()
    assert mtype == TMessageType.REPLY, mtype
    p.readStructBegin()
    (_, ftype, fid) = p.readFieldBegin()
    if ftype == TType.STOP:
        return name, None
    assert (ftype, fid) == (TType.STRING, 0), (ftype, fid)
    return name, p.readString()


def header_who(sock):
    """who() in a THeader frame on `sock`, which speaks THeader."""
    buf = TTransport.TMemoryBuffer()
    p = header_protocol(buf)
    p.writeMessageBegin("who", TMessageType.CALL, 1)
    p.writeStructBegin("who_args")
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()
    p.trans.flush()
    sock.sendall(buf.getvalue())
    return header_reply(sock)[1]


def header_nap(seconds, pad):
    """A zlib-compressed THeader frame of nap(seconds) that carries a field
    the method does not have, `pad` zero bytes long."""
    buf = TTransport.TMemoryBuffer()
    p = header_protocol(buf)
    p.trans.add_transform(THeaderTransport.THeaderTransformID.ZLIB)
    p.writeMessageBegin("nap", TMessageType.CALL, 2)
    p.writeStructBegin("nap_args")
    p.writeFieldBegin("seconds", TType.DOUBLE, 1)
    p.writeDouble(seconds)
    p.writeFieldEnd()
    p.writeFieldBegin("pad", TType.STRING, 99)
    p.writeBinary(bytes(pad))
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()
    p.trans.flush()
    return buf.getvalue()


class SpreadTest(unittest.TestCase):
    def server(self, workers, threads):
        """Every worker ready, and so open on the board: a worker still
        booting (slow under ThreadSanitizer) is left no client, so the first
        clients would all go to the others."""
        srv = harness.Server(config(workers, threads),
                             files={"who.thrift": IDL, "who.lua": HANDLER})
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1"), srv.log())
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

    def both_serving(self, srv, n):
        """At least n connections opened in turn, until both workers serve
        some (a worker is left clients only once it is ready: a slow boot
        can leave the first ones all to the other); returns them by the
        worker that serves them, the one with fewer first."""
        by_pid = collections.defaultdict(list)
        for _ in range(64):
            socks, names = self.connect_one_by_one(srv, 1)
            by_pid[names[0].split("/")[0]].append(socks[0])
            if len(by_pid) == 2 and sum(len(v) for v in by_pid.values()) >= n:
                return sorted(by_pid.items(), key=lambda kv: len(kv[1]))
        self.fail("64 connections, all to one worker")

    def one_napping(self, srv, n):
        """Both workers serving (both_serving()), then the one with fewer
        keeps one connection, whose call naps 4 s from now on. Returns that
        worker's pid, the napping connection and the other's connections."""
        (napper_pid, napper), (_, others) = self.both_serving(srv, n)
        for s in napper[1:]:
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(s.recv(1), b"")
        time.sleep(0.05)
        napping = napper[0]
        napping.sendall(call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 4.0), seqid=2))
        self.assertTrue(harness.wait_read(srv, napping), srv.log())  # the nap runs
        return napper_pid, napping, others

    def test_clients_connecting_in_turn_spread_over_the_workers(self):
        srv = self.server(workers=2, threads=1)
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

    def test_clients_with_quiet_spells_between_spread_too(self):
        # a worker that left a client to the other and then saw it taken
        # must weigh the next client again, however long after it comes
        srv = self.server(workers=2, threads=1)
        for rnd in range(3):
            socks, per_worker = [], collections.Counter()
            for _ in range(40):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                self.addCleanup(s.close)
                socks.append(s)
                per_worker[who(s).split("/")[0]] += 1
                time.sleep(0.01)
            self.assertEqual(len(per_worker), 2, "round %d: %s" % (rnd, dict(per_worker)))
            self.assertGreaterEqual(min(per_worker.values()), 17,
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
        # one worker's only thread naps for 4 s: it accepts nobody meanwhile
        busy = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        self.addCleanup(busy.close)
        busy_pid = who(busy).split("/")[0]
        busy.sendall(call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 4.0), seqid=2))
        self.assertTrue(harness.wait_read(srv, busy), srv.log())  # the nap runs
        t0 = time.monotonic()
        socks, names = self.connect_one_by_one(srv, 20)
        took = time.monotonic() - t0
        # every one answered by the other worker, none left for the nap's end
        self.assertNotIn(busy_pid, {n.split("/")[0] for n in names})
        self.assertLess(took, 2.0, "20 connections took %.2f s" % took)
        self.assertIsNone(read_reply(busy))
        self.close_all(socks + [busy])

    def test_a_client_left_to_a_busy_worker_is_taken_behind_calls_too(self):
        """The worker that left a client to one busy in a long call takes it as
        its wait ends, also when its own connections keep it in calls: the
        calls ready before the client must not make it weigh the client again
        (and leave it again, until the other worker's call ends)."""
        srv = self.server(workers=2, threads=1)
        # the napping worker holds one connection, the other three or more
        napper_pid, napping, others = self.one_napping(srv, 8)
        self.assertGreaterEqual(len(others), 3, len(others))
        # the other worker's connections keep its thread in short calls
        stop = threading.Event()
        naps = []

        def hammer(s):
            while not stop.is_set():
                s.sendall(call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 0.004)))
                read_reply(s)
                naps.append(s)

        threads = [threading.Thread(target=hammer, args=(s,)) for s in others[:3]]
        for t in threads:
            t.start()
        try:
            # every hammering connection has had a call answered
            self.assertTrue(harness.wait_for(lambda: len(set(naps)) == len(threads)), srv.log())
            t0 = time.monotonic()
            late = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            self.addCleanup(late.close)
            name = who(late)
            took = time.monotonic() - t0
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertNotEqual(name.split("/")[0], napper_pid, "waited for the nap's end")
        self.assertLess(took, 1.0, "the client waited %.2f s" % took)
        self.assertIsNone(read_reply(napping))

    def test_clients_connecting_at_once_to_a_busy_worker_are_taken_at_once(self):
        """Many clients connect at once while the worker that holds fewer is
        busy in a long call: the other takes those waiting as its wait ends,
        not one a wait (a client a millisecond: the 800th would wait 0.8 s)."""
        srv = self.server(workers=2, threads=1)
        napper_pid, napping, _ = self.one_napping(srv, 4)
        t0 = time.monotonic()
        many = []
        for _ in range(800):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            self.addCleanup(s.close)
            many.append(s)
        for s in many:
            s.sendall(call_bytes(b"who"))
        served_by = collections.Counter(read_reply(s).split("/")[0] for s in many)
        took = time.monotonic() - t0
        self.assertNotIn(napper_pid, served_by, "waited for the nap's end")
        self.assertLess(took, 0.6, "800 clients took %.2f s" % took)
        self.assertIsNone(read_reply(napping))


# The worker notes when its loops run: until then the kernel's backlog
# takes the clients, and a loop still loading its handler accepts none.
READY = """
local here = debug.getinfo(1, "S").source:match("^@(.*)/")
post_worker_init = function() assert(io.open(here .. "/ready", "w")):close() end
"""

# The connection hooks note, one file per loop thread, which thread each
# connection is connected and closed on.
HOOKS = """
local function note(what, w, c)
  local f = assert(io.open(here .. "/conn-" .. w.thread .. ".txt", "a"))
  f:write(what, " ", w.thread, " ", c.peer, "\\n")
  f:close()
end
on_connected = function(w, c) note("connected", w, c) end
post_connect_closed = function(w, c) note("closed", w, c) end
"""


class ThreadSpreadTest(unittest.TestCase):
    """One worker, several threads: the loops that accept share the clients."""

    connect_one_by_one = SpreadTest.connect_one_by_one
    close_all = staticmethod(SpreadTest.close_all)

    def accepting_loops(self, threads):
        """min(threads, CPUs this process may run on), or skip when that is 1."""
        n = min(threads, len(os.sched_getaffinity(0)))
        if n < 2:
            self.skipTest("one accepting thread: %d thread(s), %d CPU(s) in the affinity mask"
                          % (threads, len(os.sched_getaffinity(0))))
        return n

    def server(self, threads, settings="", preexec_fn=None):
        """One worker whose loops all run."""
        srv = harness.Server(config(1, threads) + READY + settings,
                             files={"who.thrift": IDL, "who.lua": HANDLER}, preexec_fn=preexec_fn)
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_for(lambda: os.path.exists(os.path.join(srv.dir, "ready")),
                                         15), srv.log())
        return srv

    def spread_rounds(self, threads, rounds=3, n=64):
        naccept = self.accepting_loops(threads)
        srv = self.server(threads)
        (pid,) = srv.worker_pids()
        for rnd in range(rounds):
            socks, names = self.connect_one_by_one(srv, n)
            # every reply names this worker and one handler thread's Lua state
            for name in names:
                self.assertRegex(name, r"^%d/0x[0-9a-f]+$" % pid)
            per_loop = collections.Counter(names)
            # n // naccept each, give or take the one a loop that accepts holds more
            self.assertEqual(len(per_loop), naccept, "round %d: %s" % (rnd, sorted(
                per_loop.values())))
            self.assertGreaterEqual(min(per_loop.values()), n // naccept - 2,
                                    "round %d: %s" % (rnd, sorted(per_loop.values())))
            self.close_all(socks)
        return srv

    def test_clients_connecting_in_turn_spread_over_two_threads(self):
        self.spread_rounds(threads=2)

    def test_clients_connecting_in_turn_spread_over_the_accepting_threads_of_four(self):
        # the threads past the CPUs are spares: they accept nothing
        self.spread_rounds(threads=4)

    def test_clients_connecting_at_once_spread_over_the_threads(self):
        """64 clients connect before any calls: a loop that accepts many of
        them in one go deals them out too, counting those it handed over."""
        naccept = self.accepting_loops(2)
        srv = self.server(2)
        for rnd in range(3):
            socks = []
            for _ in range(64):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                self.addCleanup(s.close)
                socks.append(s)
            names = [who(s) for s in socks]
            per_loop = collections.Counter(names)
            self.assertEqual(len(per_loop), naccept, "round %d: %s" % (rnd, per_loop))
            self.assertGreaterEqual(min(per_loop.values()), 64 // naccept - 2,
                                    "round %d: %s" % (rnd, sorted(per_loop.values())))
            self.close_all(socks)

    def test_a_thread_busy_in_a_call_keeps_no_client_waiting(self):
        """A thread whose only connection naps keeps its turn to accept (no
        other connection to move), and holds fewer connections than the
        other: a client handed to it is moved on by the watchdog, not left
        for the nap's end."""
        self.accepting_loops(2)
        srv = self.server(2)
        socks, names = self.connect_one_by_one(srv, 3)  # two on one thread, one on the other
        per_loop = collections.Counter(names)
        self.assertEqual(sorted(per_loop.values()), [1, 2], per_loop)
        (alone,) = [s for s, n in zip(socks, names) if per_loop[n] == 1]
        napping = who(alone)
        alone.sendall(call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 4.0), seqid=2))
        self.assertTrue(harness.wait_read(srv, alone), srv.log())  # the nap runs
        t0 = time.monotonic()
        more, more_names = self.connect_one_by_one(srv, 20)
        took = time.monotonic() - t0
        self.assertLess(took, 2.0, "20 connections took %.2f s" % took)
        self.assertNotIn(napping, more_names)
        self.assertIsNone(read_reply(alone))
        self.close_all(socks + more)

    def test_threads_share_the_clients_again_after_a_call_blocked_one(self):
        """The watchdog moves the turn to accept of a thread blocked in a call
        to an idle thread; when that one accepts already, the turns must not
        merge into one: once the call ends, both threads share new clients."""
        self.accepting_loops(2)
        srv = self.server(2)
        socks, names = self.connect_one_by_one(srv, 3)  # two on one thread, one on the other
        per_loop = collections.Counter(names)
        self.assertEqual(sorted(per_loop.values()), [1, 2], per_loop)
        # a nap on the thread with two: its other connection and its turn move
        (napping, _) = [s for s, n in zip(socks, names) if per_loop[n] == 2]
        napping.sendall(call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 0.3), seqid=2))
        self.assertIsNone(read_reply(napping))
        self.close_all(socks)
        for rnd in range(2):
            more, more_names = self.connect_one_by_one(srv, 20)
            per_loop = collections.Counter(more_names)
            self.assertEqual(len(per_loop), 2, "round %d: %s" % (rnd, sorted(per_loop.values())))
            self.assertGreaterEqual(min(per_loop.values()), 8,
                                    "round %d: %s" % (rnd, sorted(per_loop.values())))
            self.close_all(more)

    def test_connections_handed_to_a_thread_that_blocks_before_it_takes_them_move_on(self):
        """The watchdog hands the connections of a thread blocked in a call
        to a thread that is between calls; when that one enters a long call
        before it takes them (its client's THeader frame inflates first), it
        holds them, counted as its own: the watchdog moves them on to a thread
        that is free, and they are not left waiting for the call's end."""
        self.accepting_loops(2)
        pad = 48 << 20  # inflating it takes the thread a while, outside any call
        srv = self.server(3, 'transport = "auto"\nmax_message_size = %d\n' % (pad + 4096))
        socks, names, theader = [], [], set()
        for i in range(12):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            self.addCleanup(s.close)
            socks.append(s)
            if i % 3 == 2:
                theader.add(s)
                names.append(header_who(s))
            else:
                names.append(who(s))
        # three framed connections on one thread, one THeader connection on
        # another, none on the third: the thread with none is dealt the first
        # connection moved, the one with one the second
        ((busy_name, _),) = collections.Counter(
            n for s, n in zip(socks, names) if s not in theader).most_common(1)
        napping, first, second = [s for s, n in zip(socks, names)
                                  if n == busy_name and s not in theader][:3]
        inflating, inflating_name = [(s, n) for s, n in zip(socks, names)
                                     if s in theader and n != busy_name][0]
        self.close_all([s for s in socks if s not in (napping, first, second, inflating)])
        inflating.sendall(header_nap(4.0, pad))
        napping.sendall(call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 4.0), seqid=2))
        t0 = time.monotonic()
        served = [who(first), who(second)]
        took = time.monotonic() - t0
        self.assertLess(took, 2.0, "a connection moved waited %.2f s for a call to end" % took)
        self.assertNotIn(busy_name, served)
        self.assertNotIn(inflating_name, served)
        self.assertIsNone(read_reply(napping))
        self.assertEqual(header_reply(inflating), ("nap", None))
        self.close_all([napping, first, second, inflating])

    def test_a_turn_to_accept_handed_to_a_thread_that_blocks_before_it_takes_it_moves_on(self):
        """On one CPU one thread of three accepts. The watchdog hands the turn
        to accept of that thread, blocked in a call, to a thread that is
        between calls; when that one enters a long call before it takes the
        turn (its client's THeader frame inflates first), the turn counts as
        its own: the watchdog hands it on to the thread that is free, and a
        new client is not left waiting for a call's end."""
        pad = 48 << 20  # inflating it takes the thread a while, outside any call
        cpu = min(os.sched_getaffinity(0))
        srv = self.server(3, 'transport = "auto"\nmax_message_size = %d\n' % (pad + 4096),
                          preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
        socks = []
        for _ in range(6):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            self.addCleanup(s.close)
            socks.append(s)
        inflating, framed = socks[0], socks[1:]
        # all on the thread that accepts; a nap there deals the five framed
        # connections out to the other two (three and two), and its turn
        inflating_name = header_who(inflating)
        self.assertEqual({who(s) for s in framed}, {inflating_name})
        inflating.sendall(header_nap(0.3, 16))
        self.assertEqual(header_reply(inflating), ("nap", None))
        by_loop = collections.defaultdict(list)
        for s in framed:
            by_loop[who(s)].append(s)
        self.assertEqual(len(by_loop), 2, by_loop.keys())
        self.assertNotIn(inflating_name, by_loop)
        # the thread that has the turn now keeps one connection, which naps;
        # the other keeps two or more: the THeader connection's thread, with
        # one, is the first to be handed the turn
        probe = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        self.addCleanup(probe.close)
        turn_name = who(probe)
        self.assertIn(turn_name, by_loop)
        napping = by_loop[turn_name][0]
        ((_, kept),) = [(n, v) for n, v in by_loop.items() if n != turn_name]
        self.assertGreaterEqual(len(kept), 2)
        self.close_all([probe] + by_loop[turn_name][1:])
        napping.sendall(call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 4.0), seqid=2))
        self.assertTrue(harness.wait_read(srv, napping), srv.log())  # the nap runs
        inflating.sendall(header_nap(4.0, pad))
        t0 = time.monotonic()
        late = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        self.addCleanup(late.close)
        late_name = who(late)
        took = time.monotonic() - t0
        self.assertLess(took, 2.0, "a new client waited %.2f s for a call to end" % took)
        self.assertNotIn(late_name, (turn_name, inflating_name))
        self.assertIsNone(read_reply(napping))
        self.assertEqual(header_reply(inflating), ("nap", None))
        self.close_all([napping, inflating, late] + kept)

    def test_a_connection_that_takes_no_replies_keeps_its_stop_wait_when_moved(self):
        """In a graceful stop, past the wait for first calls, a connection
        whose client takes none of its replies waits for room to write at
        most half that wait at a time (then closes). When its thread then
        blocks in a call and the watchdog moves it, that bound moves with
        it: it is not waited for until the other thread's own wait ends."""
        idl = IDL[:-2] + "  string big(1: i32 n),\n}\n"
        handler = HANDLER.replace("return {",
                                  "return {\n  big = function(n) return ('x'):rep(n) end,")
        # on one CPU one thread accepts, and a call that computes is not
        # moved off it for 50 ms: the connections stay on it until the nap
        cpu = min(os.sched_getaffinity(0))
        srv = harness.Server(config(1, 2) + READY + "graceful_timeout = 30\nclient_timeout = 60\n",
                             files={"who.thrift": idl, "who.lua": handler},
                             preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_for(lambda: os.path.exists(os.path.join(srv.dir, "ready")),
                                         15), srv.log())
        socks, names = self.connect_one_by_one(srv, 3)
        self.assertEqual(len(set(names)), 1, names)
        quiet, stuck, napper = socks
        # 'stuck' and 'napper' send calls whose replies fill their buffers
        # and read none: their calls are held back, the nap last of them;
        # 'quiet' begins a call and sends no more of it
        big = call_bytes(b"big", b"\x08\x00\x01" + struct.pack("!i", 1 << 20))
        stuck.sendall(big * 12)
        napper.sendall(big * 12 + call_bytes(b"nap", b"\x04\x00\x01" + struct.pack("!d", 4.0)))
        quiet.sendall(call_bytes(b"who")[:6])
        for s in (stuck, napper, quiet):
            self.assertTrue(harness.wait_read(srv, s), srv.log())
        srv.kill(signal.SIGTERM)
        # the stop's wait for first calls and the rest of messages is over:
        # 'quiet' is closed, and 'stuck' waits for room to write, bounded
        self.assertEqual(quiet.recv(1), b"")
        t0 = time.monotonic()
        # 'napper' takes its replies: its nap runs, and the watchdog moves 'stuck'
        replies = []
        reader = threading.Thread(target=lambda: replies.extend(read_reply(napper)
                                                                for _ in range(13)))
        reader.start()
        self.addCleanup(reader.join, 10)
        closed = "127.0.0.1:%d: closed: replies not taken within the stop's wait" % (
            stuck.getsockname()[1])
        self.assertTrue(harness.wait_log(srv, closed, 10), srv.log())
        took = time.monotonic() - t0
        # two looks at it 0.5 s apart (half the wait for first calls): about
        # 1 s; 2 s and more when the move lost the bound until the other
        # thread's wait for first calls, which the move starts, ended
        self.assertLess(took, 1.7, "closed %.2f s after the wait for first calls" % took)
        reader.join(10)
        self.assertEqual(len(replies), 13)
        self.assertIsNone(replies[-1])

    def test_connection_hooks_run_on_the_thread_that_owns_the_connection(self):
        """A connection handed to another thread has on_connected run there,
        where its calls are served and post_connect_closed runs."""
        naccept = self.accepting_loops(2)
        srv = self.server(2, HOOKS)
        rounds = []
        for _ in range(3):
            socks, names = self.connect_one_by_one(srv, 64)
            rounds.append((["127.0.0.1:%d" % s.getsockname()[1] for s in socks], names))
            self.close_all(socks)

        def notes():
            found = []
            for t in range(2):
                text = harness.read_text(os.path.join(srv.dir, "conn-%d.txt" % t))
                found += re.findall(r"^(connected|closed) (\d+) (\S+)$", text, re.M)
            return found

        every = {peer for peers, _ in rounds for peer in peers}
        self.assertTrue(harness.wait_for(
            lambda: every <= {peer for what, _, peer in notes() if what == "closed"}), notes())
        # (the clients close first: their ports stay in TIME_WAIT, none comes again)
        connected = {peer: t for what, t, peer in notes() if what == "connected"}
        closed = {peer: t for what, t, peer in notes() if what == "closed"}
        thread_of_state = {}
        for rnd, (peers, names) in enumerate(rounds):
            for peer, name in zip(peers, names):
                self.assertEqual(connected[peer], closed[peer], peer)
                # the thread that ran on_connected is the one whose state served the calls
                self.assertEqual(thread_of_state.setdefault(name, connected[peer]),
                                 connected[peer], "%s: %s" % (peer, name))
            per_thread = collections.Counter(connected[p] for p in peers)
            self.assertEqual(len(per_thread), naccept, "round %d: %s" % (rnd, per_thread))
            self.assertGreaterEqual(min(per_thread.values()), 64 // naccept - 2,
                                    "round %d: %s" % (rnd, per_thread))

if __name__ == "__main__":
    unittest.main()
