# SPDX-License-Identifier: Apache-2.0
"""The leak check: 100 000 calls of every kind to the ASan build, then a
graceful stop (TERM), and no process may report a leak.

- A worker ends with _exit(), which skips LeakSanitizer's exit-time check, so
  in ASan builds with THRIFTCORN_LEAK_CHECK=1 a worker runs the check itself
  at the end of a graceful stop (worker.c, check_leaks()). The first test proves that it does: a C plugin
  call that leaks 100 bytes must give a LeakSanitizer report from the
  worker's pid, with the allocation under tc_host_call().
- The arbiter returns from main() after freeing what it owns, so
  LeakSanitizer's check at exit covers it.
- Calls: thriftcorn-bench (every reply checked by the tool) with ping,
  strings (echo), i64s (add), a struct with a list and a map (roundtrip),
  a list of structs (batch), a declared exception (fail), plus oneway calls
  sent as raw frames, each batch followed by a ping on the same connection
  that must be answered. Lua handler: 100 000 calls; C plugin: 20 000.
- Growth: the worker's resident memory after 100 000 calls may exceed what
  it was after the first 10 000 by at most RSS_GROWTH_MAX bytes. ASan's
  quarantine of freed memory is cut to 1 MiB here, so that its fill does not
  count as growth.

Runs only in an ASan build (TC_SANITIZE=address, set by CTest)."""

import os
import re
import socket
import struct
import unittest

import harness
from test_bench import BENCH_DIR, C_PLUGIN_ENV, result, run_bench
from test_plugin import IDL, LUA_REST, tp
from test_plugin import settings as plugin_settings

ASAN = os.environ.get("TC_SANITIZE") == "address"
ASAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=1",
            "THRIFTCORN_LEAK_CHECK": "1"}

# One round: 10 000 calls. (call, count) for thriftcorn-bench, then oneways.
ROUND = (("ping", 2000), ("echo:100", 1500), ("add", 1500), ("roundtrip", 1500),
         ("batch:5", 1000), ("fail:7", 1500))
ONEWAY_PER_ROUND = 1000
ROUND_CALLS = sum(n for _, n in ROUND) + ONEWAY_PER_ROUND
RSS_GROWTH_MAX = 6 * 1024 * 1024


def frame_call(name, seqid, args, oneway=False):
    """A framed, strict binary call: args is the encoded argument struct body
    (fields then the stop byte)."""
    mtype = 4 if oneway else 1
    body = (struct.pack(">I", 0x80010000 | mtype) + struct.pack(">I", len(name)) + name
            + struct.pack(">i", seqid) + args)
    return struct.pack(">I", len(body)) + body


def send_oneways(port, count):
    """`count` fire(x) oneway calls on one connection, then ping(): the ping's
    reply (a REPLY with the ping's seqid) shows that the server read them all
    and the connection is sound."""
    fire = b"".join(frame_call(b"fire", i, b"\x08\x00\x01" + struct.pack(">i", i) + b"\x00",
                               oneway=True) for i in range(count))
    seqid = count + 1
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(fire + frame_call(b"ping", seqid, b"\x00"))
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("connection closed before the ping's reply")
            data += chunk
    (size,) = struct.unpack(">I", data[:4])
    body = data[4:4 + size]
    (version,) = struct.unpack(">I", body[:4])
    (nlen,) = struct.unpack(">I", body[4:8])
    name = body[8:8 + nlen]
    (got_seqid,) = struct.unpack(">i", body[8 + nlen:12 + nlen])
    if version != 0x80010002 or name != b"ping" or got_seqid != seqid:
        raise AssertionError("wrong reply to the ping after %d oneways: %r" % (count, body))


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def bench_server(config, env):
    srv = harness.Server("", start=False, env=dict(ASAN_ENV, **(env or {})),
                         args=["--bind", "127.0.0.1:0", "--workers", "1", "--threads", "2"])
    srv.config = os.path.join(BENCH_DIR, config)
    return srv.start()


@unittest.skipUnless(ASAN, "the leak check needs an ASan build (LeakSanitizer): TC_ASAN=ON")
class LeakCheckTest(unittest.TestCase):

    def test_worker_runs_leak_check_at_graceful_stop(self):
        harness.gen_py(IDL)
        Calculator = harness.load_gen("tutorial.Calculator")
        T = harness.load_gen("tutorial.ttypes")
        srv = harness.Server(plugin_settings(tp("good"), handler="rest.lua"),
                             files={"rest.lua": LUA_REST}, env=ASAN_ENV)
        srv.check_sanitizers = lambda: None  # the leak is the point
        try:
            (worker,) = srv.worker_pids()
            c, trans = harness.client(Calculator, srv.port)
            self.assertEqual(c.calculate(-2, T.Work(num1=1, num2=2, op=1)), ord("x"))
            trans.close()
        finally:
            self.assertEqual(srv.stop(), 0, srv.log())
        log = srv.log()
        self.assertIn("==%d==ERROR: LeakSanitizer: detected memory leaks" % worker, log)
        self.assertRegex(log, r"Direct leak of 100 byte\(s\) in 1 object\(s\)")
        # the plugin is closed by then: its frame has no name, its caller has
        self.assertRegex(log, r"#\d+ 0x[0-9a-f]+ in tc_host_call ")
        self.assertEqual(log.count("ERROR: LeakSanitizer"), 1, log)

    def run_rounds(self, srv, rounds, rss_after_first=None):
        for r in range(rounds):
            for call, n in ROUND:
                rc, out, err = run_bench(srv.port, "-c", "4", "-n", str(n), "--warmup", "0",
                                         "--transport", "framed", "--call", call)
                self.assertEqual(rc, 0, "round %d, %s:\n%s%s" % (r, call, out, err))
                res = result(out)
                self.assertEqual((res["calls"], res["errors"]), (n, 0), out + err)
            send_oneways(srv.port, ONEWAY_PER_ROUND)
            if r == 0 and rss_after_first is not None:
                rss_after_first.append(rss(srv.worker_pids()[0]))

    def check_stop(self, srv, calls):
        (worker,) = srv.worker_pids()
        self.assertEqual(srv.stop(), 0, srv.log())  # fails on any sanitizer report
        log = srv.log()
        self.assertIn("Worker (pid:%d) exited with code 0" % worker, log)
        self.assertIn("worker 0 exiting", log)  # the graceful path, which runs the check
        self.assertNotIn("LeakSanitizer", log)
        print("%d calls, no leak reported by the arbiter or worker %d" % (calls, worker))

    def test_100k_calls_lua_handler(self):
        srv = bench_server("thriftcorn.lua", None)
        done = False
        try:
            first = []
            self.run_rounds(srv, 10, first)
            (worker,) = srv.worker_pids()
            last = rss(worker)
            print("worker RSS after 10 000 calls: %.1f MiB, after 100 000: %.1f MiB"
                  % (first[0] / 2**20, last / 2**20))
            self.assertLessEqual(last - first[0], RSS_GROWTH_MAX,
                                 "RSS grew from %d to %d bytes" % (first[0], last))
            done = True
        finally:
            if not done:
                srv.stop()
        self.check_stop(srv, 10 * ROUND_CALLS)

    def test_20k_calls_c_plugin(self):
        srv = bench_server("thriftcorn-c.lua", C_PLUGIN_ENV)
        done = False
        try:
            self.run_rounds(srv, 2)
            done = True
        finally:
            if not done:
                srv.stop()
        self.check_stop(srv, 2 * ROUND_CALLS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
