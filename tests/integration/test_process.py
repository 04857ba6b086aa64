# SPDX-License-Identifier: Apache-2.0
"""Process management under load: SIGTTIN/SIGTTOU resize the pool, SIGTERM
stops gracefully (every call the server read gets its reply, then exit 0
within graceful_timeout; a call half sent gets 1 s for its rest),
graceful_timeout cuts a stop short, SIGINT stops at once. Every wait is
bounded; every call is counted."""

import os
import signal
import socket
import threading
import time
import unittest

from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

import harness
import loadgen
from test_server import encode_call

FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server")


def settings(extra=""):
    return ('service = { idl = "%s/svc.thrift", name = "TestService", handler = "%s/handler.lua" }\n'
            % (FIXTURE, FIXTURE)) + extra


class ProcessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(FIXTURE, "svc.thrift"))
        cls.S = harness.load_gen("svc.TestService")

    def sleeper(self, srv, ms, out):
        """A call to sleep_ms(ms) on its own connection, which a worker of
        `srv` has read (it runs) when this returns; a thread, returned, keeps
        its reply in `out`."""
        c, trans = harness.client(self.S, srv.port, timeout=30)
        c.send_sleep_ms(ms)
        self.assertTrue(harness.wait_read(srv, trans), srv.log())
        return harness.keep_reply(c.recv_sleep_ms, trans, out)

    def test_ttin_ttou_resize_the_pool_under_load(self):
        with harness.Server(settings("workers = 2\nthreads = 2\n")) as srv:
            self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2))
            load = loadgen.Load(self.S, srv.port, threads=3, duration=20).start()
            self.assertTrue(load.wait_calls(50), load.summary())
            srv.kill(signal.SIGTTIN)
            self.assertTrue(harness.wait_log(srv, "Number of workers: 3"), srv.log())
            self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 3), srv.log())
            self.assertTrue(load.wait_calls(50), load.summary())
            for n in (2, 1):
                srv.kill(signal.SIGTTOU)
                self.assertTrue(harness.wait_log(srv, "Number of workers: %d\n" % n), srv.log())
                self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == n, 15),
                                srv.log())
                self.assertTrue(load.wait_calls(50), load.summary())
            srv.kill(signal.SIGTTOU)
            self.assertTrue(harness.wait_log(srv, "Number of workers: 1, the minimum"))
            self.assertTrue(load.wait_calls(50), load.summary())
            self.assertEqual(len(srv.worker_pids()), 1)
            self.assertTrue(load.stop())
            self.assertEqual(load.failed, 0, load.summary())
            self.assertGreater(load.connections, 20, load.summary())

    def test_term_under_load_replies_to_every_call_read(self):
        srv = harness.Server(settings(
            "workers = 2\nthreads = 2\ngraceful_timeout = 8\n"
            "accesslog = debug.getinfo(1, 'S').source:match('^@(.*)/') .. '/access.log'\n"))
        try:
            access = os.path.join(srv.dir, "access.log")
            # calls in their handlers when TERM comes: read by an idle server at once
            slow = []
            sleepers = [self.sleeper(srv, 4000, slow) for _ in range(3)]
            load = loadgen.Load(self.S, srv.port, threads=4, duration=20).start()
            self.assertTrue(load.wait_calls(100), load.summary())
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            rc = srv.proc.wait(15)
            took = time.monotonic() - t0
            self.assertEqual(rc, 0, srv.log())
            self.assertLess(took, 12, "the stop took %.1fs" % took)
            self.assertGreater(took, 0.5, "the stop did not wait for the calls in progress")
            self.assertTrue(load.join(15))
            for t in sleepers:
                t.join(10)
            self.assertEqual(slow, ["slept 4000"] * 3)
            self.assertEqual(load.failed, 0, load.summary())
            self.assertGreater(load.refused, 0, "the load never saw the server gone")
            # every call the server handled was answered, and no other one
            with open(access) as f:
                handled = sum(1 for line in f if "TestService." in line)
            self.assertEqual(handled, load.ok + len(slow), load.summary())
            log = srv.log()
            self.assertIn("Handling signal: term", log)
            self.assertIn("Shutting down: Master", log)
            self.assertNotIn("killing it", log)
        finally:
            srv.stop()

    def test_term_answers_the_first_call_of_a_new_connection(self):
        # A connection accepted just before the stop has not sent its call
        # yet: the stopping worker waits for it (up to 1 s) and answers it,
        # where closing it at once would reset the call. One that has
        # already made its calls and is idle is closed at once. One thread:
        # one loop holds all three, so that 'used' closing shows the stop
        # reached the loop of 'fresh' before 'fresh' sends its call.
        srv = harness.Server(settings("workers = 1\nthreads = 1\n"))
        try:
            fresh, fresh_trans = harness.client(self.S, srv.port)  # connected, nothing sent
            used, used_trans = harness.client(self.S, srv.port)
            self.assertEqual(used.echo("used"), "used")
            silent = socket.create_connection(("127.0.0.1", srv.port))  # never sends
            self.assertTrue(harness.wait_accepted(srv, fresh_trans), srv.log())
            self.assertTrue(harness.wait_accepted(srv, silent), srv.log())
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            self.assertTrue(harness.wait_log(srv, "worker 0: graceful stop"), srv.log())
            self.assertTrue(harness.wait_closed(srv, used_trans), srv.log())
            self.assertEqual(fresh.echo("fresh"), "fresh")
            self.assertEqual(srv.proc.wait(10), 0, srv.log())
            # the silent one held the stop for the 1 s wait, not graceful_timeout's 30
            self.assertLess(time.monotonic() - t0, 8)
            with self.assertRaises(TTransport.TTransportException):
                used.echo("again")  # closed at the stop, idle
            silent.settimeout(5)
            self.assertEqual(silent.recv(1), b"")  # closed after the wait, not reset
            silent.close()
            fresh_trans.close()
            used_trans.close()
        finally:
            srv.stop()

    def test_term_answers_every_pipelined_call_the_kernel_holds(self):
        # 1002 calls in one send: a slow one first, then echoes sized so
        # that the worker's 16 KiB reads end exactly on a message's end.
        # A stop meanwhile answers all of them (the calls still in the
        # socket are read on), then closes; none is reset.
        msgs = [encode_call("sleep_ms", 0, self.S.sleep_ms_args(ms=500)),
                encode_call("echo", 1, self.S.echo_args(s="x" * 12))]
        msgs += [encode_call("echo", i + 2, self.S.echo_args(s="y" * 40)) for i in range(1000)]
        self.assertEqual((len(msgs[0]), len(msgs[1]), len(msgs[2])), (28, 36, 64))
        srv = harness.Server(settings("workers = 1\nthreads = 1\ngraceful_timeout = 20\n"))
        try:
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
            payload = b"".join(msgs)
            sock.sendall(payload)
            # the worker's first read took the slow call, which now runs
            self.assertTrue(harness.wait_read(srv, sock, left=len(payload) - 1), srv.log())
            srv.kill(signal.SIGTERM)
            data = harness.read_to_end(sock)  # a reset raises here
            sock.close()
            b = TTransport.TMemoryBuffer(data)
            p = TBinaryProtocol.TBinaryProtocol(b)
            seqids = []
            while len(seqids) < len(msgs):
                _, _, seqid = p.readMessageBegin()
                p.skip(12)
                p.readMessageEnd()
                seqids.append(seqid)
            self.assertEqual(seqids, list(range(len(msgs))))
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
        finally:
            srv.stop()

    def test_term_does_not_reset_a_reply_the_client_is_still_reading(self):
        # The worker has written a reply of 3 MB, which the kernel holds
        # for a client that reads slowly, when the stop comes; the client
        # then sends its next call. Closing with that call unread would
        # reset the connection and destroy the rest of the reply: the
        # worker shuts its side instead, drops the call, and the client
        # reads the whole reply, then the end of the stream.
        srv = harness.Server(settings("workers = 1\nthreads = 1\ngraceful_timeout = 20\n"))
        try:
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            size = 3 << 20
            sock.sendall(encode_call("echo", 1, self.S.echo_args(s="x" * size)))

            def written():
                ends = harness.tcp_ends(srv, sock)
                c, s = ends["client"], ends["server"]
                return (c is not None and s is not None and s["unread"] == 0
                        and s["unacked"] + c["unread"] >= size)
            self.assertTrue(harness.wait_for(written, 20), srv.log())
            srv.kill(signal.SIGTERM)
            # the worker ends its side: FIN_WAIT1, its FIN behind the reply
            self.assertTrue(harness.wait_for(
                lambda: harness.tcp_ends(srv, sock)["server"]["state"] == 4, 10), srv.log())
            data = sock.recv(65536)
            sock.sendall(encode_call("echo", 2, self.S.echo_args(s="next")))
            data += harness.read_to_end(sock)  # a reset raises here
            sock.close()
            b = TTransport.TMemoryBuffer(data)
            p = TBinaryProtocol.TBinaryProtocol(b)
            self.assertEqual(p.readMessageBegin()[2], 1)
            result = self.S.echo_result()
            result.read(p)
            p.readMessageEnd()
            self.assertEqual(result.success, "x" * size)
            self.assertEqual(b.read(1), b"")  # nothing after it
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
        finally:
            srv.stop()

    def test_term_is_not_held_by_a_client_that_calls_on(self):
        # A client sends a call every 10 ms without waiting for the replies,
        # calls that take 20 ms: the kernel always holds more of them. The
        # stop answers those it holds when it reaches the connection, reads
        # nothing after them and closes once the replies are taken: it ends
        # long before graceful_timeout (which would kill the worker, and
        # lose the replies of the calls it had run), every call run is
        # answered, in order, and the stream ends without a reset.
        srv = harness.Server(settings(
            "workers = 1\nthreads = 1\ngraceful_timeout = 8\n"
            "accesslog = debug.getinfo(1, 'S').source:match('^@(.*)/') .. '/access.log'\n"))
        try:
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
            stop = threading.Event()
            sent = []

            def write():
                while not stop.is_set() and len(sent) < 1000:
                    try:
                        sock.sendall(encode_call("sleep_ms", len(sent),
                                                 self.S.sleep_ms_args(ms=20)))
                    except OSError:
                        return  # the server has closed
                    sent.append(time.monotonic())
                    time.sleep(0.01)
            writer = threading.Thread(target=write, daemon=True)
            writer.start()
            self.assertTrue(harness.wait_for(lambda: len(sent) >= 30), srv.log())
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            data = b""
            try:
                data = harness.read_to_end(sock, 65536)  # a reset raises here
            finally:
                stop.set()
                writer.join(10)
                sock.close()
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
            self.assertLess(time.monotonic() - t0, 6, "the stop took graceful_timeout")
            self.assertNotIn("killing it", srv.log())
            b = TTransport.TMemoryBuffer(data)
            p = TBinaryProtocol.TBinaryProtocol(b)
            seqids = []
            while b.cstringio_buf.tell() < len(data):
                seqids.append(p.readMessageBegin()[2])
                result = self.S.sleep_ms_result()
                result.read(p)
                p.readMessageEnd()
                self.assertEqual(result.success, "slept 20")
            self.assertEqual(seqids, list(range(len(seqids))))
            self.assertLess(len(seqids), len(sent))
            with open(os.path.join(srv.dir, "access.log")) as f:
                handled = sum(1 for line in f if "TestService.sleep_ms" in line)
            self.assertEqual(handled, len(seqids))
        finally:
            srv.stop()

    def test_connections_handed_over_as_the_stop_begins_are_answered(self):
        # On one CPU with two threads: the watchdog hands loop A's idle
        # connections to loop B while B is inside a slow post_connect_closed
        # hook, then the worker is told to stop. B must take them and answer
        # their calls before it leaves its loop, not strand them (their
        # clients reset at exit, and closing them then reached A's freed
        # memory: a use-after-free under ASan).
        d = harness.tempdir("tc-it-")
        flag = os.path.join(d, "spin")
        spinning = os.path.join(d, "spinning")  # the hook says it spins
        hook = ('post_connect_closed = function()\n'
                '  local f = io.open(%r)\n'
                '  if f then\n'
                '    f:close()\n'
                '    assert(io.open(%r, "w")):close()\n'
                '    local t = os.clock() while os.clock() - t < 1.5 do end\n'
                '  end\n'
                'end\n' % (flag, spinning))
        mask = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(mask)})  # the server inherits one CPU
        try:
            srv = harness.Server(settings("workers = 1\nthreads = 2\ngraceful_timeout = 20\n"
                                          + hook))
        finally:
            os.sched_setaffinity(0, mask)

        def conn():
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
            return sock

        def roundtrip(sock, msg):
            sock.sendall(msg)
            return sock.recv(65536)
        try:
            z, w = conn(), conn()
            for s in (z, w):
                self.assertTrue(harness.wait_accepted(srv, s), srv.log())
            self.assertTrue(roundtrip(w, encode_call("sleep_ms", 1, self.S.sleep_ms_args(ms=300))))
            ys = [conn() for _ in range(5)]
            v = conn()
            for s in ys + [v]:
                self.assertTrue(harness.wait_accepted(srv, s), srv.log())
            self.assertTrue(roundtrip(v, encode_call("sleep_ms", 2, self.S.sleep_ms_args(ms=300))))
            for y in ys:
                self.assertTrue(roundtrip(y, encode_call("echo", 3, self.S.echo_args(s="a"))))
            open(flag, "w").close()
            v.close()  # its loop spins in the hook
            self.assertTrue(harness.wait_for(lambda: os.path.exists(spinning)), srv.log())
            w.sendall(encode_call("sleep_ms", 4, self.S.sleep_ms_args(ms=800)))
            self.assertTrue(harness.wait_read(srv, w), srv.log())  # the call runs
            # The watchdog hands the other connections of w's loop over once
            # the call has run 5 ms (it looks every 2 ms), and nothing outside
            # the worker shows it: this pause is that hand-over's margin only,
            # as every state it follows on is waited for above.
            time.sleep(0.2)
            os.unlink(flag)
            (worker,) = srv.worker_pids()
            os.kill(worker, signal.SIGTERM)
            for y in ys:
                y.sendall(encode_call("echo", 5, self.S.echo_args(s="b")))
            for y in ys:
                data = b""
                while True:
                    chunk = y.recv(65536)  # a reset raises here
                    if not chunk:
                        break
                    data += chunk
                self.assertIn(b"echo", data)
                y.close()
            z.close()
            w.close()
            # the arbiter logs the exit once it has reaped the worker
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited with code 0" % worker,
                                             20), srv.log())
        finally:
            srv.stop()
        self.assertNotIn("AddressSanitizer", srv.log())

    def test_term_moves_the_connections_of_a_thread_blocked_in_a_long_call(self):
        # Two threads, each in a call when the stop comes: d's 1 s call on
        # one, a's 4 s call on the other, which also holds b (idle) and c
        # (a call sent, unread: its thread is blocked). The watchdog moved
        # a, b and c off d's thread as d's call began, and no thread is
        # free to take b and c before the stop. Once d's call ends, its
        # thread takes them, in the stop too: b is closed and c answered
        # then, not when a's call ends 3 s later (as before: the watchdog
        # moved nothing in a stop, and the free thread left at once).
        srv = harness.Server(settings("workers = 1\nthreads = 2\ngraceful_timeout = 20\n"))
        try:
            conns = {}
            for name in "dabc":
                c, trans = harness.client(self.S, srv.port, timeout=20)
                self.assertEqual(c.echo(name), name)
                conns[name] = c, trans
            events = {}

            def reply(name, recv):
                def run():
                    try:
                        events[name] = recv(), time.monotonic()
                    except Exception as e:  # reported by the test's assertion
                        events[name] = repr(e), time.monotonic()
                t = threading.Thread(target=run, daemon=True)
                t.start()
                return t
            d, a, c = conns["d"][0], conns["a"][0], conns["c"][0]
            d.send_sleep_ms(1000)
            self.assertTrue(harness.wait_read(srv, conns["d"][1]), srv.log())
            threads = [reply("d", d.recv_sleep_ms)]
            time.sleep(0.2)  # a, b and c leave d's thread within milliseconds
            a.send_sleep_ms(4000)
            self.assertTrue(harness.wait_read(srv, conns["a"][1]), srv.log())
            threads.append(reply("a", a.recv_sleep_ms))
            c.send_echo("quick")
            threads.append(reply("c", c.recv_echo))
            b_sock = conns["b"][1].tsocket.handle
            threads.append(reply("b", lambda: b_sock.recv(100)))
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
            for t in threads:
                t.join(5)
            self.assertEqual(events["d"][0], "slept 1000")
            self.assertEqual(events["a"][0], "slept 4000")
            self.assertEqual(events["c"][0], "quick")
            self.assertEqual(events["b"][0], b"")  # the end of the stream, no reset
            # within 1 s of d's reply, long before a's
            for name in "bc":
                self.assertLess(events[name][1] - events["d"][1], 1.0, (name, srv.log()))
            self.assertGreater(events["a"][1] - t0, 3.0)
            self.assertNotIn("killing it", srv.log())
            for _, trans in conns.values():
                trans.close()
        finally:
            srv.stop()

    def test_first_call_wait_fits_a_short_graceful_timeout(self):
        # the wait for a first call is at most half of graceful_timeout: a
        # connection that never sends does not get its worker killed
        srv = harness.Server(settings("workers = 1\nthreads = 2\ngraceful_timeout = 0.6\n"))
        try:
            silent = socket.create_connection(("127.0.0.1", srv.port))
            self.assertTrue(harness.wait_accepted(srv, silent), srv.log())
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(10), 0, srv.log())
            self.assertLess(time.monotonic() - t0, 3)
            log = srv.log()
            self.assertIn("worker 0 exiting", log)
            self.assertRegex(log, r"Worker \(pid:\d+\) exited with code 0")
            self.assertNotIn("killing it", log)
            silent.settimeout(5)
            self.assertEqual(silent.recv(1), b"")
            silent.close()
        finally:
            srv.stop()

    def half_sent(self, srv, framed):
        """A connection to `srv` that has sent half of an echo call and whose
        bytes a worker has read; returns it and the rest of the call. Framed:
        the frame's length and half its body."""
        call = encode_call("echo", 7, self.S.echo_args(s="half" * 8))
        if framed:
            call = len(call).to_bytes(4, "big") + call
        cut = 4 + (len(call) - 4) // 2 if framed else len(call) // 2
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
        sock.sendall(call[:cut])
        self.assertTrue(harness.wait_read(srv, sock), srv.log())
        return sock, call[cut:]

    def echo_reply(self, data, framed):
        """The string of the one echo reply (seqid 7) that is all of `data`."""
        if framed:
            self.assertEqual(int.from_bytes(data[:4], "big"), len(data) - 4)
            data = data[4:]
        b = TTransport.TMemoryBuffer(data)
        p = TBinaryProtocol.TBinaryProtocol(b)
        self.assertEqual(p.readMessageBegin()[2], 7)
        result = self.S.echo_result()
        result.read(p)
        p.readMessageEnd()
        self.assertEqual(b.read(1), b"")  # nothing after it
        return result.success

    def test_term_answers_a_call_half_sent_whose_rest_comes_within_the_wait(self):
        # Two connections have sent half a call each (one framed: the
        # frame's length and half its body) when the stop comes. They get
        # the same wait as a first call (1 s): the rest sent within it, each
        # call is answered, then the stream ends. One thread: the idle 'used'
        # closing shows the stop has reached the loop of both.
        srv = harness.Server(settings("workers = 1\nthreads = 1\ngraceful_timeout = 30\n"))
        try:
            used, used_trans = harness.client(self.S, srv.port)
            self.assertEqual(used.echo("used"), "used")
            halves = [self.half_sent(srv, framed) for framed in (False, True)]
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            self.assertTrue(harness.wait_closed(srv, used_trans), srv.log())
            for sock, rest in halves:
                sock.sendall(rest)
            for (sock, _), framed in zip(halves, (False, True)):
                data = harness.read_to_end(sock)  # a reset raises here
                sock.close()
                self.assertEqual(self.echo_reply(data, framed), "half" * 8)
            self.assertEqual(srv.proc.wait(10), 0, srv.log())
            self.assertLess(time.monotonic() - t0, 8)
            log = srv.log()
            self.assertNotIn("message not finished", log)
            self.assertNotIn("killing it", log)
            used_trans.close()
        finally:
            srv.stop()

    def test_term_is_not_held_by_a_call_half_sent(self):
        # Two connections have sent half a call each (buffered, and framed)
        # and then nothing, when the stop comes; a sleep_ms(2000) runs, and
        # an echo was sent whole. The stop waits for the rest of the halves
        # as for a first call (1 s), then closes them (the end of the
        # stream, no reset): the worker exits once the calls sent whole are
        # answered, about 2 s after the stop, not after graceful_timeout's
        # 30 s (as before: the halves held the stop until client_timeout or
        # the SIGKILL, whichever came first).
        srv = harness.Server(settings("workers = 1\nthreads = 2\ngraceful_timeout = 30\n"))
        try:
            slow = []
            sleeper = self.sleeper(srv, 2000, slow)
            halves = [self.half_sent(srv, framed) for framed in (False, True)]
            quick, quick_trans = harness.client(self.S, srv.port, timeout=20)
            self.assertEqual(quick.echo("before"), "before")
            quick.send_echo("in flight")
            self.assertTrue(harness.wait_read(srv, quick_trans), srv.log())
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            self.assertEqual(quick.recv_echo(), "in flight")
            self.assertTrue(harness.wait_for(lambda: srv.proc.poll() is not None, 10),
                            "the stop was held by the half-sent calls:\n" + srv.log())
            took = time.monotonic() - t0
            for sock, _ in halves:
                self.assertEqual(harness.read_to_end(sock), b"")  # a reset raises here
                sock.close()
            self.assertEqual(srv.proc.returncode, 0, srv.log())
            self.assertLess(took, 8, "the stop took %.1fs" % took)
            sleeper.join(10)
            self.assertEqual(slow, ["slept 2000"])
            log = srv.log()
            self.assertEqual(log.count("closed: message not finished within the stop's wait"), 2,
                             log)
            # each line says what came, as the close at client_timeout does
            whole = len(encode_call("echo", 7, self.S.echo_args(s="half" * 8)))
            buffered = whole - len(halves[0][1])
            framed = whole + 4 - len(halves[1][1])
            self.assertIn("closed: message not finished within the stop's wait: %d bytes came, "
                          "the start of a buffered binary message\n" % buffered, log)
            self.assertIn("closed: message not finished within the stop's wait: %d bytes came, "
                          "the start of a framed binary message; its frame of %d bytes lacks %d\n"
                          % (framed, whole, whole + 4 - framed), log)
            self.assertNotIn("killing it", log)
            quick_trans.close()
        finally:
            srv.stop()

    def test_term_is_not_held_by_a_client_that_reads_no_replies(self):
        # A client pipelines 100 echoes of 100 KB and reads none of the
        # replies: past the 4 MiB output bound the worker holds its calls
        # back (backpressure) and waits for it. A stop must not wait for it
        # until graceful_timeout, whose SIGKILL loses every call still
        # running: at the end of the stop's wait the calls held back are
        # dropped unrun, the replies owed get half that wait more, and the
        # connection is closed.
        alog = os.path.join(harness.tempdir("tc-proc-"), "access.log")
        srv = harness.Server(settings(
            "workers = 1\nthreads = 1\ngraceful_timeout = 30\nclient_timeout = 60\n"
            "accesslog = '%s'\n" % alog))
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.connect(("127.0.0.1", srv.port))
            calls = b"".join(encode_call("echo", i, self.S.echo_args(s="x" * 100000))
                             for i in range(100))

            def write():
                try:
                    sock.sendall(calls)
                except OSError:
                    pass  # the stop closed the connection: the calls left are not run
            writer = threading.Thread(target=write, daemon=True)
            writer.start()

            def handled():
                return harness.read_text(alog).count("TestService.echo")

            # the worker stops making progress: its calls are held back
            self.assertTrue(harness.wait_for(lambda: handled() > 0, 10), srv.log())
            last = -1
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and handled() != last:
                last = handled()
                time.sleep(1.0)
            self.assertLess(handled(), 100)
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            self.assertTrue(harness.wait_for(lambda: srv.proc.poll() is not None, 10),
                            "the stop was held by a client that reads no replies:\n" + srv.log())
            took = time.monotonic() - t0
            self.assertEqual(srv.proc.returncode, 0, srv.log())
            self.assertLess(took, 8, "the stop took %.1fs" % took)
            log = srv.log()
            self.assertNotIn("killing it", log)
            self.assertEqual(log.count("closed: replies not taken within the stop's wait: "), 1,
                             log)
            sock.close()
            writer.join(10)
        finally:
            srv.stop()

    def test_max_requests_stop_is_not_held_by_a_call_half_sent(self):
        # The worker's own graceful stop (max_requests) waits for a half-sent
        # call as SIGTERM's does: it exits soon after, and its replacement
        # answers calls; graceful_timeout (30 s) never comes into it.
        srv = harness.Server(settings("workers = 1\nthreads = 1\ngraceful_timeout = 30\n"
                                      "max_requests = 3\n"))
        try:
            (first,) = srv.worker_pids()
            sock, _ = self.half_sent(srv, True)
            c, trans = harness.client(self.S, srv.port, timeout=20)
            for i in range(3):
                self.assertEqual(c.echo("call %d" % i), "call %d" % i)
            t0 = time.monotonic()
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited with code 0" % first,
                                             10), srv.log())
            self.assertLess(time.monotonic() - t0, 8)
            self.assertEqual(harness.read_to_end(sock), b"")  # a reset raises here
            sock.close()
            trans.close()
            c, trans = harness.client(self.S, srv.port, timeout=20)
            self.assertEqual(c.echo("next"), "next")
            trans.close()
            log = srv.log()
            self.assertIn("closed: message not finished within the stop's wait", log)
            self.assertNotIn("killing it", log)
        finally:
            srv.stop()

    def test_graceful_timeout_kills_what_is_left(self):
        srv = harness.Server(settings("workers = 1\nthreads = 2\ngraceful_timeout = 1\n"))
        try:
            out = []
            t = self.sleeper(srv, 10000, out)  # in its handler
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            rc = srv.proc.wait(10)
            took = time.monotonic() - t0
            self.assertEqual(rc, 0, srv.log())
            self.assertGreater(took, 0.9)
            self.assertLess(took, 4.0)
            t.join(5)
            self.assertEqual(len(out), 1)
            self.assertNotEqual(out[0], "slept 10000")
            self.assertIn("did not stop within 1 s; killing it", srv.log())
        finally:
            srv.stop()

    def test_int_stops_at_once(self):
        srv = harness.Server(settings("workers = 2\nthreads = 2\n"))
        try:
            out = []
            t = self.sleeper(srv, 5000, out)  # in its handler
            t0 = time.monotonic()
            srv.kill(signal.SIGINT)
            rc = srv.proc.wait(10)
            self.assertEqual(rc, 0, srv.log())
            self.assertLess(time.monotonic() - t0, 2.0)
            t.join(5)
            self.assertIn("Handling signal: int", srv.log())
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
