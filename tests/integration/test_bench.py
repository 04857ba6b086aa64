# SPDX-License-Identifier: Apache-2.0
"""thriftcorn-bench end to end: against thriftcorn serving bench/thriftcorn.lua
(the Lua handler) and bench/thriftcorn-c.lua (the C plugin) every benchmark
call succeeds with no error, and the two handlers give the same replies to
the same edge cases, as the C++ anchor does where bench.thrift defines the
result; against a handler that answers wrongly, or a server
that is not there, the tool counts errors, prints "ERRORS: N" and exits 1.
Every run is bounded by -n or -d and a timeout."""

import json
import os
import pty
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from thrift.Thrift import TApplicationException

BENCH = os.environ.get("THRIFTCORN_BENCH_BIN",
                       os.path.join(harness.SOURCE_DIR, "build", "thriftcorn-bench"))
BENCH_DIR = os.path.join(harness.SOURCE_DIR, "bench")
IDL = os.path.join(BENCH_DIR, "bench.thrift")
BUILD = os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR, "build"))
# bench/thriftcorn-c.lua finds the plugin of this build through the environment
C_PLUGIN_ENV = {"THRIFTCORN_BENCH_PLUGIN": os.path.join(BUILD, "bench", "libbench_c.so")}

# A bench.thrift service that gets things wrong in every way the tool must notice.
WRONG_HANDLER = """
local thriftcorn = require("thriftcorn")
local bench = thriftcorn.load(%r)
local H = {}
function H.ping() error("ping is broken") end        -- TApplicationException
function H.echo(s) return s:reverse() end
function H.add(a, b) return a + b + 1 end
function H.roundtrip(item) return item end            -- id not incremented
function H.batch(n)
  local items = {}
  for id = 0, n - 2 do                                -- one item short
    items[#items + 1] = { id = id, name = "item-" .. id, score = id / 2.0,
                          tags = { id, id + 1, id + 2 }, attrs = { k = "v" .. id } }
  end
  return items
end
function H.fail(code) error(bench.BenchError{ code = code + 1, message = "fail " .. code }) end
function H.fire() end
function H.sleep() end
return H
""" % IDL


def run_bench(port, *args, timeout=60):
    cmd = [BENCH, "--port", str(port), "--timeout", "5"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def result(stdout):
    m = re.search(r"^RESULT calls=(\d+) errors=(\d+) rps=([\d.]+) p50_us=([\d.]+) "
                  r"p90_us=([\d.]+) p99_us=([\d.]+) p999_us=([\d.]+) max_us=([\d.]+)$",
                  stdout, re.M)
    if m is None:
        raise AssertionError("no RESULT line in:\n" + stdout)
    return {"calls": int(m.group(1)), "errors": int(m.group(2)), "rps": float(m.group(3)),
            "p50": float(m.group(4)), "p99": float(m.group(6)), "max": float(m.group(8))}


def bench_server(config, env=None):
    """bench/CONFIG itself on a free port (a flag wins over the file), with an
    access log beside its error log."""
    srv = harness.Server("", start=False, args=["--bind", "127.0.0.1:0", "--threads", "8"],
                         env=env)
    srv.config = os.path.join(BENCH_DIR, config)
    srv.accesslog = os.path.join(srv.dir, "access.log")
    srv.args += ["--accesslog", srv.accesslog]
    return srv.start()


read = harness.read_text


def bench_item(i):
    """Item i of batch(n) in the binary protocol, as bench.thrift describes it."""
    name, v = b"item-%d" % i, b"v%d" % i
    return (b"\x0a\x00\x01" + struct.pack(">q", i)
            + b"\x0b\x00\x02" + struct.pack(">I", len(name)) + name
            + b"\x04\x00\x03" + struct.pack(">d", i / 2.0)
            + b"\x0f\x00\x04\x08" + struct.pack(">Iiii", 3, i, i + 1, i + 2)
            + b"\x0d\x00\x05\x0b\x0b" + struct.pack(">II", 1, 1) + b"k"
            + struct.pack(">I", len(v)) + v + b"\x00")


def batch_result(n):
    """The result struct of batch(n) in the binary protocol."""
    return (b"\x0f\x00\x00\x0c" + struct.pack(">I", n)
            + b"".join(bench_item(i) for i in range(n)) + b"\x00")


def message(name, seqid, body, mtype=2):
    """A strict binary message: header of type `mtype` (2: REPLY), then `body`."""
    return (struct.pack(">iI", -2147418112 | mtype, len(name)) + name + struct.pack(">i", seqid)
            + body)


def screen_lines(text):
    """The lines a terminal shows for `text`: a carriage return goes back to
    the line's start, ESC [K erases from there to its end, other characters
    overwrite the line from there."""
    lines, line, col, i = [], [], 0, 0
    while i < len(text):
        if text.startswith("\x1b[K", i):
            del line[col:]
            i += 3
            continue
        ch, i = text[i], i + 1
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("".join(line))
            line, col = [], 0
        else:
            line[col:col + 1] = [ch]
            col += 1
    return lines + ["".join(line)]


def read_terminal(master, on_read, seconds=30):
    """What the tool writes to the pty `master` until it closes or `seconds`
    pass; on_read(term) sees everything read so far after each read."""
    term = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not select.select([master], [], [], deadline - time.monotonic())[0]:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the tool has exited
            break
        if not chunk:
            break
        term += chunk
        on_read(term)
    return term


class FakeServer:
    """A binary-protocol Thrift server in threads of the test, framed or
    buffered, whose replies the test writes: reply(name, args) returns the
    result struct of the REPLY to a call. A buffered call's arguments are
    'args_len' bytes long. A reply is sent 'chunk' bytes at a time, with
    'pause' seconds after each piece. 'wire', when given, makes the messages
    sent for the n-th call of a connection (from 1): wire(name, seqid,
    result, n) returns a list of messages (see message()), sent together,
    or None to close the connection instead. 'times' holds, for each call
    answered, when its last byte was read and when its reply was sent
    (time.monotonic())."""

    def __init__(self, reply, framed=True, args_len=0, chunk=1 << 20, pause=0.0, wire=None):
        self.reply, self.framed, self.args_len = reply, framed, args_len
        self.chunk, self.pause = chunk, pause
        self.times = []
        self.wire = wire or (lambda name, seqid, result, n: [message(name, seqid, result)])
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read(c, buf, n):
        while len(buf) < n:
            d = c.recv(1 << 20)
            if not d:
                raise EOFError
            buf += d

    def _serve(self, c):
        buf = bytearray()
        calls = 0
        try:
            with c:
                while True:
                    if self.framed:
                        self._read(c, buf, 4)
                        size = 4 + struct.unpack(">I", buf[:4])[0]
                        self._read(c, buf, size)
                        msg, buf = bytes(buf[4:size]), buf[size:]
                    else:
                        self._read(c, buf, 8)
                        size = 12 + struct.unpack(">I", buf[4:8])[0] + self.args_len
                        self._read(c, buf, size)
                        msg, buf = bytes(buf[:size]), buf[size:]
                    read_at = time.monotonic()
                    nlen = struct.unpack(">I", msg[4:8])[0]
                    name, seqid = msg[8:8 + nlen], struct.unpack(">i", msg[8 + nlen:12 + nlen])[0]
                    calls += 1
                    msgs = self.wire(name, seqid, self.reply(name, msg[12 + nlen:]), calls)
                    if msgs is None:
                        return
                    if self.framed:
                        msgs = [struct.pack(">I", len(m)) + m for m in msgs]
                    out = b"".join(msgs)
                    for i in range(0, len(out), self.chunk):
                        c.sendall(out[i:i + self.chunk])
                        if self.pause:
                            time.sleep(self.pause)
                    self.times.append((read_at, time.monotonic()))
        except (OSError, EOFError):
            pass


class BenchToolTest(unittest.TestCase):
    """The Lua handler: bench/thriftcorn.lua."""
    CONFIG = "thriftcorn.lua"
    ENV = None

    @classmethod
    def setUpClass(cls):
        cls.srv = bench_server(cls.CONFIG, cls.ENV)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assert_clean(self, rc, out, err):
        self.assertEqual(rc, 0, out + err)
        r = result(out)
        self.assertEqual(r["errors"], 0, out + err)
        self.assertGreater(r["calls"], 0)
        self.assertNotIn("ERRORS", out + err)
        self.assertTrue(0 < r["p50"] <= r["p99"] <= r["max"], out)
        return r

    def test_every_benchmark_call(self):
        # fail's code is a signed i32: negative codes were refused
        for call in ("ping", "echo:0", "echo:1000", "add", "roundtrip", "batch:0", "batch:100",
                     "sleep:2", "fail:7", "fail:-7", "fail:-2147483648", "fail:2147483647"):
            with self.subTest(call=call):
                rc, out, err = run_bench(self.srv.port, "-c", "8", "-n", "2000", "--warmup",
                                         "0.1", "--call", call)
                r = self.assert_clean(rc, out, err)
                self.assertEqual(r["calls"], 2000, out)

    def test_duration_threads_pipeline_and_json(self):
        rc, out, err = run_bench(self.srv.port, "-c", "6", "-t", "2", "-P", "4", "-d", "0.5",
                                 "--warmup", "0.2", "--call", "roundtrip", "--json")
        self.assertEqual(rc, 0, out + err)
        j = json.loads(out)
        self.assertEqual(j["errors"], 0)
        self.assertGreater(j["calls"], 0)
        self.assertGreater(j["rps"], 0)
        self.assertGreater(j["conn_calls_min"], 0)
        self.assertLessEqual(j["p50_us"], j["p999_us"])
        self.assertEqual((j["interrupted"], j["dropped"]), (False, 0))

    def test_banner_counts_calls(self):
        # it said "1 connections x 1 in flight, ..., 1 calls"
        for n, conns, text in (("1", "1 connection x", ", 1 call after "),
                               ("2", "2 connections x", ", 2 calls after ")):
            with self.subTest(n=n):
                rc, out, err = run_bench(self.srv.port, "-c", n, "-n", n, "--warmup", "0")
                self.assert_clean(rc, out, err)
                self.assertIn(", %s 1 in flight, " % conns, out.splitlines()[0])
                self.assertIn(text, out.splitlines()[0])

    def test_generic_idl_method(self):
        rc, out, err = run_bench(self.srv.port, "-c", "4", "-n", "1000", "--warmup", "0",
                                 "--idl", IDL, "--method", "Bench.roundtrip", "--args",
                                 '{item = {id = 1, name = "n", score = 0.5, tags = {1, 2}, '
                                 'attrs = {a = "b"}}}')
        self.assert_clean(rc, out, err)
        # positional arguments, and a declared exception counts as a success
        rc, out, err = run_bench(self.srv.port, "-c", "2", "-n", "500", "--warmup", "0",
                                 "--idl", IDL, "--method", "Bench.fail", "--args", "{3}")
        self.assert_clean(rc, out, err)

    def test_requests_exact_with_threads_and_pipeline(self):
        # -n is split between the threads and sent P at a time: exactly that
        # many are measured, and the server served those and the warm-up's
        served = lambda: read(self.srv.accesslog).count(" Bench.add ok ")  # noqa: E731
        before = served()
        rc, out, err = run_bench(self.srv.port, "-c", "5", "-t", "3", "-P", "7", "-n", "1001",
                                 "--warmup", "0.2", "--call", "add", "--json")
        self.assertEqual(rc, 0, out + err)
        j = json.loads(out)
        self.assertEqual((j["calls"], j["errors"]), (1001, 0), out)
        self.assertGreater(j["answered"], 1001, out)
        self.assertTrue(harness.wait_for(lambda: served() - before == j["answered"], timeout=20),
                        "%d served: %s" % (served() - before, out))

    def test_fewer_calls_than_threads(self):
        # each thread measures its share of -n; with -n under -t, a thread
        # whose share was 0 ran by time instead: all through -d, counting
        # every call, or for an hour with -n alone
        for length in (["-d", "2"], []):
            with self.subTest(length=length):
                rc, out, err = run_bench(self.srv.port, "-c", "4", "-t", "4", "-n", "2",
                                         "--warmup", "0", *length, timeout=30)
                r = self.assert_clean(rc, out, err)
                self.assertEqual(r["calls"], 2, out)

    def test_json_of_any_call_spelling(self):
        # the call as spelt; a tab before N, which strtoll() let through
        # (and the JSON string escaped), is refused as the number it is not
        rc, out, err = run_bench(self.srv.port, "-c", "1", "-n", "10", "--warmup", "0",
                                 "--call", "fail:-5", "--json")
        self.assertEqual(rc, 0, out + err)
        j = json.loads(out)
        self.assertEqual(j["call"], "fail:-5")
        self.assertEqual(j["calls"], 10)
        rc, out, err = run_bench(self.srv.port, "-n", "1", "--call", "echo:\t5", "--json")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("--call echo:\t5: expected echo:N with 0 <= N <= 67108864", err)

    def test_a_report_that_cannot_be_written_fails(self):
        # SIGPIPE is ignored (for the sockets) and the writes were not
        # checked: a run whose report was lost to a full disk or a closed
        # pipe exited 0, as one that reported every call right
        for args in ([], ["--json"]):
            with self.subTest(args=args), open("/dev/full", "w") as full:
                p = subprocess.run([BENCH, "--port", str(self.srv.port), "-c", "1", "-n", "5",
                                    "--warmup", "0"] + args, stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=30)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertEqual(p.stderr, "thriftcorn-bench: cannot write the report to "
                                 "stdout: no space left on device\n")
        with open("/dev/full", "w") as full:
            p = subprocess.run([BENCH, "--version"], stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("thriftcorn-bench: cannot write the version to stdout: ", p.stderr)

    def test_fire(self):
        # oneway: thriftcorn-bench does not send it (no reply to check); the
        # access log shows each fire() served, and the connection goes on
        harness.gen_py(IDL)
        Bench = harness.load_gen("bench.Bench")
        c, trans = harness.client(Bench, self.srv.port, "framed")
        try:
            for x in range(5):
                c.fire(x)
            self.assertEqual(c.add(2, 3), 5)
        finally:
            trans.close()
        fired = lambda: read(self.srv.accesslog).count(" Bench.fire oneway ")  # noqa: E731
        self.assertEqual(harness.wait_for(lambda: fired() == 5, timeout=20), True,
                         read(self.srv.accesslog))
        self.assertNotRegex(read(self.srv.accesslog), r"Bench\.fire (?!oneway)")

    def test_bad_options_exit_2(self):
        for args in (["--call", "nope"], ["--call", "batch"], ["--idl", IDL, "--method",
                     "Bench.fire"], ["--idl", IDL, "--method", "Bench.add", "--args", "{c=1}"],
                     ["--transport", "udp"]):
            with self.subTest(args=args):
                rc, out, err = run_bench(self.srv.port, "-n", "1", *args)
                self.assertEqual(rc, 2, out + err)
                self.assertIn("thriftcorn-bench:", err)


class BenchOptionsTest(unittest.TestCase):
    """Bad values are refused before any connection: exit status 2 and a
    message naming the option (nothing listens on the port, so a value let
    through ends in connect errors and exit status 1)."""

    def test_bad_values_exit_2(self):
        port = harness.free_port()
        for args, msg in (
                (["--transport", "header"], "--transport header: expected framed or buffered"),
                (["--timeout", "0"], "--timeout must be above 0"),
                (["-n", "99999999999999999999"], "--requests 99999999999999999999: expected an "
                 "integer from 1 to 9223372036854775807"),
                (["-c", "0"], "--connections 0: expected an integer from 1 to 100000"),
                # (each connection's ring of calls in flight was allocated, -P slots each)
                (["-c", "100", "-P", "100000"], "--connections 100 x --pipeline 100000: "
                 "10000000 calls in flight, above the limit of 1048576"),
                (["-c", "16", "-P", "65537"], "--connections 16 x --pipeline 65537: "
                 "1048592 calls in flight, above the limit of 1048576"),
                (["-d", "abc"], "--duration abc: expected seconds from 0 to 86400"),
                (["--unix", "/tmp/" + "x" * 120], "longer than a unix socket address holds"),
                # (it was refused after the banner, in a message naming no option)
                (["--host", "nope.invalid"], "--host nope.invalid: "),
                # the IDL's and the table's errors name their option, with no Lua traceback
                (["--idl", "/nonexistent.thrift", "--method", "S.f"],
                 "--idl: /nonexistent.thrift: cannot open IDL file"),
                (["--idl", IDL, "--method", "Bench.add", "--args", "{1, a = 2, b = 3}"],
                 "--args: argument 'a' given twice, by name and by position"),
                (["--idl", IDL, "--method", "Bench.add", "--args", "{a = 'x'}"],
                 "--args: Bench.add_args.a: expected an integer (i64), got string"),
                # (each was left out of the call, which ran without it)
                (["--idl", IDL, "--method", "Bench.echo", "--args", "{s = hello}"],
                 "--args:1: 'hello' is no value (a string needs quotes)"),
                (["--idl", IDL, "--method", "Bench.roundtrip", "--args",
                  "{item = {id = 1, tags = {2}, nmae = 'x'}}"],
                 "--args: item: bench.Item has no field 'nmae'"),
                # (the values after the first were dropped, and the call ran without b)
                (["--idl", IDL, "--method", "Bench.add", "--args", "{a = 1}, {b = 2}"],
                 "--args: expected one table, got 2 values"),
                # (each said "--idl and --method go together", whichever was given)
                (["--args", "{a = 1}"], "--args: needs --idl and --method"),
                (["--method", "Bench.add", "--args", "{1, 2}"], "--method: needs --idl"),
                (["--idl", IDL], "--idl %s: needs --method Service.name" % IDL),
                # getopt's own message came first, naming the program by its
                # path, then "thriftcorn-bench: bad option"
                (["--frobnicate=3"], "--frobnicate: unknown option"),
                (["--json=yes"], "--json: takes no value"),
                (["--re"], "--re: the start of more than one option (--requests, --reconnect)"),
                (["--call"], "--call: needs a value"),
                (["--call", "fail:-2147483649"],
                 "--call fail:-2147483649: expected fail:N with -2147483648 <= N <= 2147483647"),
                (["--call", "echo:-1"], "--call echo:-1: expected echo:N with 0 <= N <= 67108864")):
            with self.subTest(args=args):
                rc, out, err = run_bench(port, "-n", "1", "--warmup", "0", *args, timeout=30)
                self.assertEqual(rc, 2, out + err)
                self.assertTrue(err.startswith("thriftcorn-bench: --"), err)
                self.assertIn(msg, err)
                self.assertNotIn("traceback", err)
                self.assertEqual(out, "")
                self.assertIn(msg, err.splitlines()[0])

    def test_a_list_with_keys_besides_its_elements_is_refused(self):
        # the codec sends a list's elements from 1 to the first gap: each of
        # these was let through and sent as a shorter list, [1, 2] or [1]
        port = harness.free_port()
        for tags, msg in (("{1, 2, x = 3}", "a list of 3 has its elements at 1 to 3, not at 'x'"),
                          ("{[1] = 1, [3] = 3}",
                           "a list of 2 has its elements at 1 to 2, not at 3"),
                          ("{[0] = 0, 1}", "a list of 2 has its elements at 1 to 2, not at 0"),
                          ("{1, 2, [2.5] = 3}",
                           "a list of 3 has its elements at 1 to 3, not at 2.5")):
            with self.subTest(tags=tags):
                rc, out, err = run_bench(port, "-n", "1", "--warmup", "0", "--idl", IDL,
                                         "--method", "Bench.roundtrip", "--args",
                                         "{item = {id = 1, tags = %s}}" % tags, timeout=30)
                self.assertEqual(rc, 2, out + err)
                self.assertEqual(err.splitlines(), ["thriftcorn-bench: --args: item.tags: " + msg])
                self.assertEqual(out, "")
        # a list whose keys are 1 to its length is let through (to connect errors: no server)
        rc, out, err = run_bench(port, "-n", "1", "--warmup", "0", "-c", "1", "--idl", IDL,
                                 "--method", "Bench.roundtrip", "--args",
                                 "{item = {tags = {[2] = 2, [1] = 1}}}", timeout=30)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(out, r"(?m)^ERRORS: 1 \(.*connect 1\)")

    def test_a_number_is_digits_only(self):
        # the C library's readers skip spaces and take a '+' or, for
        # seconds, a hexadecimal number: each of these ran ("-d 0x10" for
        # 16 s, "--call 'echo: 5'" named so in the report and the JSON)
        port = harness.free_port()
        for args, msg in ((["-c", " 10"], "--connections  10: expected an integer from 1 to"),
                          (["-P", "+2"], "--pipeline +2: expected an integer from 1 to"),
                          (["-n", " 1"], "--requests  1: expected an integer from 1 to"),
                          (["-d", "0x10"], "--duration 0x10: expected seconds from 0 to 86400"),
                          (["--timeout", " 1"], "--timeout  1: expected seconds from 0 to 86400"),
                          (["--warmup", "+0"], "--warmup +0: expected seconds from 0 to 86400"),
                          (["--call", "echo: 5"], "--call echo: 5: expected echo:N with 0 <= N"),
                          (["--call", "fail:+5"], "--call fail:+5: expected fail:N with")):
            with self.subTest(args=args):
                rc, out, err = run_bench(port, "-n", "1", "--warmup", "0", *args, timeout=30)
                self.assertEqual(rc, 2, out + err)
                self.assertTrue(err.startswith("thriftcorn-bench: " + msg), err)
                self.assertEqual(out, "")
        # as written, a number still reads: a fraction, an exponent, a negative fail:CODE
        rc, out, err = run_bench(port, "-n", "1", "--warmup", ".0", "-d", "1e1", "-c", "1",
                                 "--call", "fail:-5", timeout=30)
        self.assertEqual(rc, 1, out + err)  # let through: nothing listens
        self.assertRegex(out, r"(?m)^ERRORS: 1 \(.*connect 1\)")

    def test_an_empty_unix_path_is_refused(self):
        # it was let through to the abstract socket of 107 zero bytes:
        # "connect unix:: connection refused" for every connection
        p = subprocess.run([BENCH, "-n", "1", "--warmup", "0", "-c", "1", "--unix", ""],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertEqual(p.stderr.splitlines()[0],
                         "thriftcorn-bench: --unix: needs a path, not an empty one")
        self.assertEqual(p.stdout, "")

    def test_calls_that_do_not_fit_in_memory_are_refused(self):
        # each connection holds its request -P + 1 times and a reply: this
        # one connected, then wrote 100000 requests of 64 MiB into its
        # output buffer, and ended by the OOM killer or an abort
        port = harness.free_port()
        rc, out, err = run_bench(port, "-n", "1", "--warmup", "0", "-c", "1", "-P", "100000",
                                 "--call", "echo:67108864", timeout=30)
        self.assertEqual(rc, 2, out + err)
        self.assertRegex(err.splitlines()[0],
                         r"^thriftcorn-bench: --connections 1 x --pipeline 100000: about 6250\.2 "
                         r"GiB of calls in memory \(a request of 67108892 bytes held 100001 times "
                         r"a connection, and a reply of up to 67108928 bytes\), above the "
                         r"[\d.]+ GiB (this machine has|ulimit -v allows|ulimit -d allows)$")
        self.assertEqual(out, "")
        # what fits is let through (to connect errors: nothing listens)
        rc, out, err = run_bench(port, "-n", "1", "--warmup", "0", "-c", "2", "-P", "2",
                                 "--call", "echo:67108864", timeout=30)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(out, r"(?m)^ERRORS: 2 \(.*connect 2\)")

    def test_the_banner_names_the_seconds_given(self):
        # "%.1f" named -d 0.25 "0.2 s" and --warmup 0.05 "0.1 s"
        port = harness.free_port()
        for args, text in ((["-d", "0.25", "--warmup", "0.05"], "1 thread, 0.25 s after 0.05 s "
                            "warm-up\n"),
                           (["-d", "3", "--warmup", "1"], "1 thread, 3.0 s after 1.0 s warm-up\n")):
            with self.subTest(args=args):
                rc, out, err = run_bench(port, "-c", "1", *args, timeout=30)
                self.assertEqual(rc, 1, out + err)  # nothing listens
                self.assertTrue(out.splitlines(True)[0].endswith(text), out)

    def test_bad_short_options_exit_2(self):
        for args, msg in ((["-x"], "-x: unknown option"), (["--json", "-xc", "1"], "-x: unknown "
                          "option"), (["-c"], "-c: needs a value")):
            with self.subTest(args=args):
                p = subprocess.run([BENCH, "-n", "1"] + args, capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertEqual(p.stderr.splitlines(), ["thriftcorn-bench: " + msg,
                                                         "Try 'thriftcorn-bench --help'."])
                self.assertEqual(p.stdout, "")

    def test_calls_in_flight_at_the_limit_are_accepted(self):
        port = harness.free_port()
        rc, out, err = run_bench(port, "-c", "16", "-P", "65536", "-n", "1", "--warmup", "0",
                                 timeout=30)
        self.assertEqual(rc, 1, out + err)  # let through: every connection is refused
        self.assertRegex(out, r"(?m)^ERRORS: 16 \(.*connect 16\)")

    def test_unix_with_host_or_port_is_refused(self):
        # --unix used to win over --host and --port without a word: a run
        # given both loaded the unix socket's server, whatever the host
        d = tempfile.mkdtemp(prefix="tc-bench-")
        self.addCleanup(os.rmdir, d)
        path = os.path.join(d, "none.sock")
        for args, flags in ((["--port", "9"], "--port"), (["--host", "example.com"], "--host"),
                            (["-p", "9", "--host", "::1"], "--host and --port")):
            for order in (args + ["--unix", path], ["--unix", path] + args):
                with self.subTest(args=order):
                    p = subprocess.run([BENCH, "-n", "1", "--warmup", "0"] + order,
                                       capture_output=True, text=True, timeout=30)
                    self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                    self.assertEqual(p.stderr.splitlines()[0],
                                     "thriftcorn-bench: --unix %s: not with %s (a unix socket "
                                     "has no host or port)" % (path, flags))
                    self.assertEqual(p.stdout, "")
        # alone, it is the address
        p = subprocess.run([BENCH, "-n", "1", "--warmup", "0", "-c", "1", "--unix", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("connect unix:%s: no such file or directory" % path, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^ERRORS: 1 \(.*connect 1\)")

    def test_an_ipv6_host_is_named_in_brackets(self):
        # "connect ::1:9090" left unclear where the address ends and the port
        # begins; the banner named it so too
        port = harness.free_port()
        p = subprocess.run([BENCH, "--host", "::1", "--port", str(port), "-c", "1", "-n", "1",
                            "--warmup", "0", "--timeout", "5"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"^thriftcorn-bench \S+: \[::1\]:%d framed binary, " % port)
        self.assertIn("thriftcorn-bench: error: connection 0: connect [::1]:%d: " % port,
                      p.stderr)
        self.assertRegex(p.stdout, r"(?m)^ERRORS: 1 \(.*connect 1\)")

    def test_connections_and_the_open_file_limit(self):
        # a socket per connection: a soft limit too low is raised to fit -c
        # (before, the connections past it failed with "too many open files"),
        # and a hard limit too low refuses -c
        port = harness.free_port()
        cmd = [BENCH, "--port", str(port), "-c", "100", "-d", "0.2", "--warmup", "0",
               "--show-errors", "1000"]

        def limit(soft, hard):
            return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           preexec_fn=limit(64, 64))
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"^thriftcorn-bench: --connections 100: needs \d+ open files, "
                         r"above the limit of 64")
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        hard = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
        if hard < 200:
            self.skipTest("the hard limit of open files (%d) is below what -c 100 needs" % hard)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           preexec_fn=limit(64, hard))
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^ERRORS: 100 \(.*connect 100\)")
        self.assertEqual(p.stderr.count("connect 127.0.0.1:%d: connection refused" % port), 100,
                         p.stderr)


class BenchToolFakeServerTest(unittest.TestCase):
    """Replies of a server written by the test (FakeServer)."""

    def test_largest_echo_fits_the_default_max_reply(self):
        # echo:67108864 is the largest echo:SIZE; its reply is a few bytes
        # over 64 MiB, the --max-reply it used to get by default
        srv = FakeServer(lambda name, args: b"\x0b\x00\x00" + args[3:])  # field 1 -> 0
        try:
            rc, out, err = run_bench(srv.port, "-c", "1", "-n", "1", "--warmup", "0",
                                     "--timeout", "60", "--call", "echo:%d" % (64 << 20),
                                     timeout=180)
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(result(out)["calls"], 1, out)
            # a --max-reply given is kept, and the error names it
            rc, out, err = run_bench(srv.port, "-c", "1", "-n", "1", "--warmup", "0",
                                     "--max-reply", "1000", "--call", "echo:2000")
            self.assertEqual(rc, 1, out + err)
            self.assertIn("a reply over --max-reply (1000 bytes)", err)
        finally:
            srv.close()

    def test_buffered_reply_in_pieces(self):
        # buffered finds a reply's end by skipping it as its pieces come: a
        # 1.8 MB batch reply in some 110 pieces is found whole and checked
        # item by item. (The skip resumes where the last piece ended; before,
        # it started again from the reply's start at every read, which for a
        # 9 MB reply in 550 pieces took 3.9 s of the generator's CPU against
        # 0.8 s framed. That was measured, not tested: a timed check flakes.)
        n = 40000
        body = batch_result(n)
        srv = FakeServer(lambda name, args: body, framed=False, args_len=8,
                         chunk=16384, pause=0.001)
        try:
            rc, out, err = run_bench(srv.port, "--transport", "buffered", "-c", "1", "-n", "1",
                                     "--warmup", "0", "--timeout", "60",
                                     "--call", "batch:%d" % n, timeout=120)
        finally:
            srv.close()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(result(out)["calls"], 1, out)
        self.assertEqual(result(out)["errors"], 0, out)


class RawServer:
    """A server that answers the first bytes of each connection with the
    bytes `answer`, whatever they are, then waits for the client to close."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                try:
                    c.recv(1 << 16)
                    c.sendall(self.answer)
                    c.settimeout(10)
                    while c.recv(1 << 16):
                        pass
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.sock.close()
        return False


def appex(text, kind=6):
    """A TApplicationException's struct (binary): message, type (6: INTERNAL_ERROR)."""
    return (b"\x0b\x00\x01" + struct.pack(">I", len(text)) + text
            + b"\x08\x00\x02" + struct.pack(">i", kind) + b"\x00")


def ping_ok(name, args):
    return b"\x00"  # ping's result struct: empty


class BenchToolBadServerTest(unittest.TestCase):
    """A server that answers wrongly, closes, does not answer or does not
    accept: each call it spoils is an error of its kind, the run ends by
    itself, and the exit status is 1."""

    def assert_errors(self, rc, out, err, n, kind, calls=0):
        self.assertEqual(rc, 1, out + err)
        r = result(out)
        self.assertEqual((r["calls"], r["errors"]), (calls, n), out + err)
        self.assertRegex(out, r"(?m)^ERRORS: %d \(.*\b%s %d\b" % (n, kind, n))

    def test_wrong_replies_are_errors(self):
        def same(name, seqid, res, n):
            return [message(name, seqid, res)]
        cases = (
            ("seqid", ping_ok, lambda name, seqid, res, n: [message(name, seqid + 1, res)],
             "reply", "reply header: type 2, name 'ping', seqid 2; expected REPLY, 'ping', 1"),
            ("name", ping_ok, lambda name, seqid, res, n: [message(b"pong", seqid, res)],
             "reply", "name 'pong'"),
            ("type", ping_ok, lambda name, seqid, res, n: [message(name, seqid, res, 1)],
             "reply", "reply header: type 1"),
            ("exception", ping_ok,
             lambda name, seqid, res, n: [message(name, seqid, appex(b"boom"), 3)],
             "exception", "TApplicationException INTERNAL_ERROR: boom"),
            ("undeclared exception", lambda name, args: b"\x0c\x00\x01\x00\x00", same,
             "reply", "ping: unexpected field 1 of type struct in the result"),
            ("truncated", lambda name, args: b"", same, "reply", "malformed reply"),
            # a client reads them as the start of its next reply
            ("bytes after the result", lambda name, args: b"\x00\x00\x00\x00", same, "reply",
             "ping: 3 bytes after the result struct"),
        )
        for what, reply, wire, kind, text in cases:
            with self.subTest(what=what), FakeServer(reply, wire=wire) as srv:
                rc, out, err = run_bench(srv.port, "-c", "1", "-n", "5", "--warmup", "0")
                self.assert_errors(rc, out, err, 5, kind)
                self.assertIn(text, err)

    def test_bytes_that_are_no_reply_are_a_malformed_one(self):
        # What an HTTP server answers is no Thrift reply: its first bytes
        # read as a frame length (framed) or a name length (buffered) far
        # over --max-reply, which it used to be called. The error says the
        # reply is malformed, what is wrong and how it starts.
        http = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
        bad_type = message(b"ping", 1, b"\x63\x00\x01\x00")  # a field of type 99
        cases = (
            ("framed", http, 'a malformed reply: frame length 1213486160, then no binary message '
             'header (first bytes "HTTP/1.1 400 Bad"...)'),
            ("buffered", http, 'a malformed reply: no binary message header (first bytes '
             '"HTTP/1.1 400 Bad"...)'),
            ("framed", b"\xff\xff\xff\xfb\x00", 'a malformed reply: frame length -5 (first '
             'bytes "\\xff\\xff\\xff\\xfb\\x00")'),
            ("framed", struct.pack(">I", 5) + b"HELLO", 'a malformed reply: no binary message '
             'header (first bytes "HELLO")'),
            ("buffered", bad_type, "a malformed reply: bytes that are no binary value (an "
             "unknown type id or a negative size) after its message header (first bytes "
             '"\\x80\\x01\\x00\\x02\\x00\\x00\\x00\\x04ping\\x00\\x00\\x00\\x01"...)'),
        )
        for transport, answer, text in cases:
            with self.subTest(transport=transport, answer=answer), RawServer(answer) as srv:
                rc, out, err = run_bench(srv.port, "--transport", transport, "-c", "1", "-n", "1",
                                         "--warmup", "0")
                self.assert_errors(rc, out, err, 1, "reply")
                self.assertIn("connection 0: " + text, err)
                self.assertNotIn("max-reply", err)

    def test_a_reply_over_max_reply_is_called_so(self):
        # a reply that starts well and is too big: buffered, a string over
        # --max-reply (framed: test_largest_echo_fits_the_default_max_reply)
        echo = FakeServer(lambda name, args: b"\x0b\x00\x00" + args[3:], framed=False,
                          args_len=3 + 4 + 2000 + 1)
        with echo:
            rc, out, err = run_bench(echo.port, "--transport", "buffered", "-c", "1", "-n", "1",
                                     "--warmup", "0", "--max-reply", "1000", "--call", "echo:2000")
        self.assert_errors(rc, out, err, 1, "reply")
        self.assertIn("connection 0: a reply over --max-reply (1000 bytes) (1 calls in flight)",
                      err)

    def test_generic_mode_sees_bytes_after_the_result(self):
        with FakeServer(lambda name, args: b"\x00\x00\x00") as srv:
            rc, out, err = run_bench(srv.port, "-c", "1", "-n", "5", "--warmup", "0", "--idl", IDL,
                                     "--method", "Bench.ping")
        self.assert_errors(rc, out, err, 5, "reply")
        self.assertIn("Bench.ping: 2 bytes after the result struct", err)

    def test_generic_mode_sees_an_undeclared_exception(self):
        # a result struct with a field the IDL does not declare, an exception
        # the method does not throw, is an error, as the built-in --call
        # ping counts it; before, a void method's was a success (its decoded
        # result is as empty as a right one)
        undeclared = b"\x0c\x00\x02\x00\x00"  # field 2: an empty struct
        declared = b"\x0c\x00\x01\x08\x00\x01" + struct.pack(">i", 3) + b"\x00\x00"
        cases = (("Bench.ping", "{}", b"\x0c\x00\x01\x00\x00"),
                 ("Bench.sleep", "{1}", undeclared),
                 ("Bench.fail", "{3}", undeclared),
                 ("Bench.echo", "{'x'}", undeclared))
        for method, args, body in cases:
            with self.subTest(method=method), FakeServer(lambda name, a: body) as srv:
                rc, out, err = run_bench(srv.port, "-c", "1", "-n", "5", "--warmup", "0",
                                         "--idl", IDL, "--method", method, "--args", args)
                self.assert_errors(rc, out, err, 5, "reply")
                self.assertIn("%s: the reply has neither a result nor a declared exception"
                              % method, err)
        # what the IDL declares still passes: a void method's empty result, an exception it throws
        for method, args, body in (("Bench.ping", "{}", b"\x00"),
                                   ("Bench.fail", "{3}", declared)):
            with self.subTest(method=method, body=body), FakeServer(lambda name, a: body) as srv:
                rc, out, err = run_bench(srv.port, "-c", "1", "-n", "5", "--warmup", "0",
                                         "--idl", IDL, "--method", method, "--args", args)
                self.assertEqual(rc, 0, out + err)
                self.assertEqual((result(out)["calls"], result(out)["errors"]), (5, 0), out)

    def test_a_reply_to_no_call_after_the_last(self):
        # each reply sent twice: the second comes as the run ends, on a
        # connection with nothing in flight, and is an error (it went uncounted)
        with FakeServer(ping_ok, wire=lambda name, seqid, res, n: [message(name, seqid, res)] * 2
                        ) as srv:
            rc, out, err = run_bench(srv.port, "-c", "1", "-n", "1", "--warmup", "0")
        self.assert_errors(rc, out, err, 1, "reply", calls=1)
        self.assertIn("a reply to no call", err)

    def test_a_reply_to_a_call_not_sent_yet(self):
        # the first call answered with the replies of it and of the next four
        # seqids at once: the second comes before its call was written (the
        # server guessed it) and is an error (before, all five counted as
        # calls, the guessed ones with a latency of 0)
        def ahead(name, seqid, res, n):
            return [message(name, seqid + k, res) for k in range(5)] if n == 1 else []
        with FakeServer(ping_ok, wire=ahead) as srv:
            rc, out, err = run_bench(srv.port, "-c", "1", "-n", "5", "--warmup", "0")
        self.assert_errors(rc, out, err, 1, "reply", calls=1)
        self.assertIn("connection 0: a reply to a call not sent yet (1 calls in flight)", err)

    def test_an_error_erases_the_progress_line(self):
        # on a terminal the progress line is rewritten every second with no
        # newline after it: an error that comes while it shows erases it and
        # starts its own line. It used to follow the progress line's text.
        # The server closes the connection once the first progress line came
        shown = threading.Event()

        def close_once_shown(name, seqid, res, n):
            return None if shown.is_set() else [message(name, seqid, res)]
        master, slave = pty.openpty()
        try:
            with FakeServer(ping_ok, wire=close_once_shown) as srv:
                p = subprocess.Popen([BENCH, "--port", str(srv.port), "-c", "1", "-d", "20",
                                      "--warmup", "0"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=slave)
                os.close(slave)
                slave = None
                term = read_terminal(master,
                                     lambda t: shown.set() if b"calls/s" in t else None)
                out = p.communicate(timeout=30)[0].decode()
        finally:
            os.close(master)
            if slave is not None:
                os.close(slave)
        self.assertEqual(p.returncode, 1, out)
        text = term.decode()
        self.assertLess(text.find("calls/s"), text.find("thriftcorn-bench: error:"), repr(text))
        errors = [line for line in screen_lines(text) if "thriftcorn-bench: error:" in line]
        self.assertEqual(errors, ["thriftcorn-bench: error: connection 0: closed by the server "
                                  "(1 calls in flight); connection closed"], repr(text))

    def test_server_closes_mid_run(self):
        # each connection is closed at its third call: its two replies count,
        # the call in flight is an error, the connection is not reopened and
        # the run ends with no connection left, well before -n
        def close_at_3(name, seqid, res, n):
            return None if n == 3 else [message(name, seqid, res)]
        with FakeServer(ping_ok, wire=close_at_3) as srv:
            rc, out, err = run_bench(srv.port, "-c", "2", "-n", "1000", "--warmup", "0")
        self.assert_errors(rc, out, err, 2, "closed", calls=4)
        self.assertEqual(err.count("closed by the server (1 calls in flight)"), 2, err)

    def test_reconnect_goes_on_after_a_close(self):
        # --reconnect: each connection closed at its third call is opened
        # again at once and calls on. Every call of -n is sent: the lost
        # ones count as errors, the rest as calls, and nothing else
        def close_at_3(name, seqid, res, n):
            return None if n == 3 else [message(name, seqid, res)]
        with FakeServer(ping_ok, wire=close_at_3) as srv:
            rc, out, err = run_bench(srv.port, "-c", "2", "-n", "60", "--warmup", "0",
                                     "--reconnect", "--json", "--show-errors", "1000")
        self.assertEqual(rc, 1, out + err)
        j = json.loads(out)
        self.assertEqual(j["calls"] + j["errors"], 60, out)
        self.assertEqual(j["errors"], j["errors_by_kind"]["closed"], out)
        # two calls answered for each one lost, but for the last of each connection
        self.assertGreaterEqual(j["calls"], 38, out)
        self.assertLessEqual(j["calls"], 42, out)
        # each close is reopened unless it came as the run ended
        self.assertGreaterEqual(j["reconnects"], j["errors"] - 2, out)
        self.assertLessEqual(j["reconnects"], j["errors"], out)
        # a close announced for reopening in the round where the run ended
        # says that it was not after all (it was counted as reopened before)
        self.assertEqual(err.count("connection closed, to be opened again"),
                         j["reconnects"] + err.count("not opened again: the run has ended"),
                         err)

    def test_reconnect_that_fails_is_a_connect_error(self):
        # the server closes its listener with the first close: the connection
        # cannot be opened again, counts once as a connect error, and the run
        # ends with no connection left rather than spinning
        srv = None

        def close_all(name, seqid, res, n):
            srv.close()
            return None
        srv = FakeServer(ping_ok, wire=close_all)
        with srv:
            rc, out, err = run_bench(srv.port, "-c", "1", "-n", "100", "--warmup", "0",
                                     "--reconnect", "--json", "--timeout", "2")
        self.assertEqual(rc, 1, out + err)
        j = json.loads(out)
        self.assertEqual((j["calls"], j["reconnects"]), (0, 0), out)
        self.assertEqual((j["errors_by_kind"]["closed"], j["errors_by_kind"]["connect"]), (1, 1),
                         out)
        self.assertIn("connect 127.0.0.1:%d: connection refused" % srv.port, err)

    def test_server_never_answers(self):
        # the calls in flight at the end of -d wait --timeout, then count as
        # timeouts; --json keeps stdout one JSON object, errors on stderr
        with FakeServer(ping_ok, wire=lambda name, seqid, res, n: []) as srv:
            t = time.monotonic()
            rc, out, err = run_bench(srv.port, "-c", "2", "-P", "3", "-d", "0.3", "--warmup", "0",
                                     "--timeout", "1", "--json", timeout=30)
            took = time.monotonic() - t
        self.assertEqual(rc, 1, out + err)
        self.assertLess(took, 10)
        j = json.loads(out)
        self.assertEqual((j["calls"], j["errors"], j["errors_by_kind"]["timeout"]), (0, 6, 6), out)
        self.assertRegex(err, r"(?m)^ERRORS: 6 \(.*timeout 6")
        self.assertEqual(err.count("no reply within 1 s (3 calls in flight)"), 2, err)

    def test_server_never_accepts(self):
        # a full listen backlog drops the handshake: connect() waited for the
        # kernel to give up (over two minutes); now every connection of every
        # thread is open within one --timeout or counts as a connect error
        with socket.socket() as lsn:
            lsn.bind(("127.0.0.1", 0))
            lsn.listen(0)
            port = lsn.getsockname()[1]
            fill = [socket.socket() for _ in range(4)]
            try:
                for f in fill:
                    f.setblocking(False)
                    f.connect_ex(("127.0.0.1", port))
                t = time.monotonic()
                rc, out, err = run_bench(port, "-c", "3", "-t", "3", "-d", "0.3", "--warmup", "0",
                                         "--timeout", "2", timeout=60)
                took = time.monotonic() - t
            finally:
                for f in fill:
                    f.close()
        self.assert_errors(rc, out, err, 3, "connect")
        self.assertLess(took, 5.5)  # one --timeout for all three threads, not one each
        self.assertIn("connect 127.0.0.1:%d: not open within --timeout (2 s)" % port, err)

    def test_percentiles_of_known_latencies(self):
        # the n-th call of the connection is answered after n * 50 ms: the
        # nearest-rank percentiles of the 10 are the 5th, the 9th and the
        # 10th, each a little above its delay (the histogram reports the top
        # of a bucket, under 0.8% above the value)
        def slow(name, seqid, res, n):
            time.sleep(0.05 * n)
            return [message(name, seqid, res)]
        with FakeServer(ping_ok, wire=slow) as srv:
            rc, out, err = run_bench(srv.port, "-c", "1", "-n", "10", "--warmup", "0", "--json")
        self.assertEqual(rc, 0, out + err)
        j = json.loads(out)
        self.assertEqual(j["calls"], 10)
        for key, ms in (("p50_us", 250), ("p90_us", 450), ("p99_us", 500), ("p999_us", 500),
                        ("max_us", 500), ("mean_us", 275)):
            with self.subTest(key=key):
                self.assertGreaterEqual(j[key], ms * 1000, out)
                self.assertLess(j[key], (ms + 45) * 1000, out)

    def test_calls_per_second_of_known_latencies(self):
        # each call takes the server 0.3 s: 4 connections make 13.3 calls/s,
        # and a 1 s window holds 13.3 calls' worth of work. With a warm-up,
        # the calls in flight when the window opens end inside it (each
        # counts for its share there), and the calls in flight when it
        # closes count for theirs: before, the window ran from its start to
        # the last reply and counted only the calls sent in it, 10.6 calls/s
        def slow(name, seqid, res, n):
            time.sleep(0.3)
            return [message(name, seqid, res)]
        for warmup in ("0", "1"):
            with self.subTest(warmup=warmup), FakeServer(ping_ok, wire=slow) as srv:
                rc, out, err = run_bench(srv.port, "-c", "4", "-d", "1", "--warmup", warmup,
                                         "--json")
                self.assertEqual(rc, 0, out + err)
                j = json.loads(out)
                self.assertEqual(j["elapsed_s"], 1.0, out)
                self.assertAlmostEqual(j["rps"], 4 / 0.3, delta=1.0, msg=out)
                # every call the server answered was checked, warm-up ones too
                self.assertTrue(harness.wait_for(lambda: len(srv.times) == j["answered"]),
                                "%d answered: %s" % (len(srv.times), out))

    def test_latency_leaves_out_the_checking_of_replies(self):
        # a call's time runs from its write to its reply: checking the reply
        # before it is the generator's time. The 2nd and 4th of 5 replies are
        # lists of 300,000 empty items, each one a Lua table for the generic
        # mode's decoding; the others are empty lists. The server notes when
        # it read each call and sent its reply: the calls' mean latency is
        # the server's time and the last of the transfer, far under a fifth
        # of the time the generator took between a long reply and its next
        # call (before, the calls after the long replies held that time)
        n = 300000
        long = b"\x0f\x00\x00\x0c" + struct.pack(">I", n) + b"\x00" * n + b"\x00"
        empty = batch_result(0)

        def alternate(name, seqid, res, k):
            return [message(name, seqid, long if k % 2 == 0 else empty)]
        with FakeServer(ping_ok, wire=alternate) as srv:
            rc, out, err = run_bench(srv.port, "-c", "1", "-n", "5", "--warmup", "0", "--json",
                                     "--timeout", "60", "--idl", IDL, "--method", "Bench.batch",
                                     "--args", "{n = 1}", timeout=120)
        self.assertEqual(rc, 0, out + err)
        j = json.loads(out)
        self.assertEqual(j["calls"], 5, out)
        self.assertTrue(harness.wait_for(lambda: len(srv.times) == 5), srv.times)
        t = srv.times
        served = sum(sent - read for read, sent in t) / len(t)
        after_long = min(t[k + 1][0] - t[k][1] for k in (1, 3))
        self.assertLess(j["mean_us"] / 1e6 - served, after_long / 5,
                        "%.6f s served, %.6f s after a long reply: %s" % (served, after_long, out))


    def test_requests_shared_by_threads_of_unequal_connections(self):
        # -n is one count for every thread: each connection calls until it
        # runs out. Each thread used to measure an equal share of -n, so with
        # -c 3 -t 2 the thread of one connection made as many calls as the
        # thread of two, and ran on alone for the last third of the run: 15
        # calls on its connection against 7 or 8 on the others, and calls/s
        # two thirds of what the server served
        def slow(name, seqid, res, n):
            time.sleep(0.02)
            return [message(name, seqid, res)]
        for load in (["-c", "3", "-t", "2"], ["-c", "5", "-t", "3", "-P", "2"]):
            with self.subTest(load=load), FakeServer(ping_ok, wire=slow) as srv:
                rc, out, err = run_bench(srv.port, *load, "-n", "30", "--warmup", "0", "--json")
                self.assertEqual(rc, 0, out + err)
                j = json.loads(out)
                self.assertEqual((j["calls"], j["errors"]), (30, 0), out)
                self.assertTrue(harness.wait_for(lambda: len(srv.times) == 30),
                                "%d answered: %s" % (len(srv.times), out))
                self.assertLessEqual(j["conn_calls_max"] - j["conn_calls_min"], 2, out)

    def test_requests_exact_over_any_split(self):
        # the threads claim the calls of -n in chunks: whatever the split
        # (more threads than calls per thread, a count no chunk divides,
        # more calls in flight than -n), exactly -n calls are sent, and no
        # more reach the server
        for load, n in ((["-c", "16", "-t", "8", "-P", "3"], 37),
                        (["-c", "7", "-t", "3", "-P", "5"], 1001),
                        (["-c", "3", "-t", "3"], 4),
                        (["-c", "2", "-t", "2", "-P", "4"], 3)):
            with self.subTest(load=load, n=n), FakeServer(ping_ok) as srv:
                rc, out, err = run_bench(srv.port, *load, "-n", str(n), "--warmup", "0",
                                         "--json")
                self.assertEqual(rc, 0, out + err)
                j = json.loads(out)
                self.assertEqual((j["calls"], j["answered"], j["errors"]), (n, n, 0), out)
                self.assertTrue(harness.wait_for(lambda: len(srv.times) >= n),
                                "%d answered: %s" % (len(srv.times), out))
                self.assertEqual(len(srv.times), n, out)

    def test_requests_of_a_thread_that_fails_are_sent_by_the_others(self):
        # -c 2 -t 2: the first connection to send its 2nd call gets no reply,
        # and its thread ends at the timeout holding calls of -n it claimed
        # and could not send. It hands them back, and the other thread, out
        # of calls since, sends them: every call of -n is sent
        hung = []
        lock = threading.Lock()

        def hang_one(name, seqid, res, n):
            with lock:
                if n == 2 and not hung:
                    hung.append(seqid)
                    return []
            return [message(name, seqid, res)]
        with FakeServer(ping_ok, wire=hang_one) as srv:
            rc, out, err = run_bench(srv.port, "-c", "2", "-t", "2", "-n", "200", "--warmup",
                                     "0", "--timeout", "1", "--json")
            self.assertEqual(rc, 1, out + err)
            j = json.loads(out)
            self.assertEqual((j["calls"], j["errors"], j["errors_by_kind"]["timeout"]),
                             (199, 1, 1), out + err)
            # the server read 200 calls: 'times' holds the unanswered one too
            self.assertTrue(harness.wait_for(lambda: len(srv.times) >= 200),
                            "%d read: %s" % (len(srv.times), out))
            self.assertEqual(len(srv.times), 200, out)

    def test_the_window_holds_the_time_no_reply_came(self):
        # each connection's 6th call gets no reply: its 5 calls are answered
        # by 0.1 s, then nothing until --timeout. The window runs -d when the
        # run lasts that long, or to the run's end, the timeouts, when they
        # end it sooner: the server's silence is measured. It used to run to
        # the last reply, 0.1 s, whatever came after: some 100 calls/s
        def hang_at_6(name, seqid, res, n):
            if n >= 6:
                return []
            time.sleep(0.01)
            return [message(name, seqid, res)]
        for length, timeout in ((["-d", "1.5"], "3"), (["-n", "20"], "0.5")):
            with self.subTest(length=length), FakeServer(ping_ok, wire=hang_at_6) as srv:
                rc, out, err = run_bench(srv.port, "-c", "2", *length, "--warmup", "0",
                                         "--timeout", timeout, "--json")
                self.assertEqual(rc, 1, out + err)
                j = json.loads(out)
                self.assertEqual((j["calls"], j["errors_by_kind"]["timeout"]), (10, 2), out)
                if length[0] == "-d":
                    self.assertEqual(j["elapsed_s"], 1.5, out)
                    self.assertAlmostEqual(j["rps"], 10 / 1.5, delta=0.06, msg=out)
                else:
                    self.assertGreaterEqual(j["elapsed_s"], 0.5, out)
                    self.assertLessEqual(j["rps"], 10 / 0.5, out)

class DialServer:
    """A framed binary ping server in threads of the test, on 127.0.0.1 or on
    a unix socket, that numbers its connections in the order it accepts them
    (from 0). stall() makes connect() hang: the server stops accepting and
    fills its listen backlog with one connection of its own, so that a
    handshake gets no answer (TCP drops it, a unix socket's connect() would
    wait) until release(). plan(k, n) decides the n-th call (from 1) of
    connection k: "reply", "close" (without a reply), or "stall" (stall(),
    then close). 'calls' counts the calls answered on each connection."""

    def __init__(self, plan, expect, unix_dir=None):
        self.plan, self.expect = plan, expect
        self.calls = []
        self.cond = threading.Condition()
        self.accepting = True
        self.filler = None
        self.stalled_at = None  # calls[1] when the stall began
        if unix_dir is None:
            self.family, self.addr = socket.AF_INET, ("127.0.0.1", 0)
        else:
            self.family, self.addr = socket.AF_UNIX, os.path.join(unix_dir, "dial.sock")
        self.sock = socket.socket(self.family)
        self.sock.bind(self.addr)
        self.addr = self.sock.getsockname()
        self.sock.listen(16)
        self.sock.setblocking(False)
        threading.Thread(target=self._accept, daemon=True).start()

    def where(self):
        return ["--unix", self.addr] if self.family == socket.AF_UNIX else ["--port",
                                                                           str(self.addr[1])]

    def close(self):
        with self.cond:
            self.accepting = None
            self.cond.notify_all()
        self.sock.close()
        if self.filler is not None:
            self.filler.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _accept(self):
        # the lock is not held while waiting: a reply waits on no accept()
        while True:
            try:
                ready = select.select([self.sock], [], [], 0.05)[0]
            except (OSError, ValueError):
                return
            with self.cond:
                if self.accepting is None:
                    return
                if not self.accepting:
                    self.cond.wait(0.05)  # a stall: the backlog stays readable
                    continue
                if not ready:
                    continue
                try:
                    c, _ = self.sock.accept()
                except OSError:
                    continue
                c.setblocking(True)
                self.calls.append(0)
                self.cond.notify_all()
            threading.Thread(target=self._serve, args=(c, len(self.calls) - 1),
                             daemon=True).start()

    def stall(self):
        """No connection is accepted from now on, nor answered by the kernel."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.calls) >= self.expect, 10):
                raise AssertionError("the tool's connections were not all accepted")
            self.accepting = False
            self.sock.listen(0)  # one waiting connection fills the backlog
            self.filler = socket.socket(self.family)
            self.filler.settimeout(5)
            self.filler.connect(self.addr)  # accepted by the kernel, not by the server
            self.stalled_at = self.calls[1] if len(self.calls) > 1 else 0

    def release(self):
        """The filler is taken off the backlog, and accepting goes on."""
        with self.cond:
            self.sock.listen(16)
            self.sock.settimeout(5)
            self.sock.accept()[0].close()  # the filler, first in the queue
            self.sock.setblocking(False)
            self.accepting = True
            self.cond.notify_all()

    def _serve(self, c, k):
        buf = bytearray()
        n = 0
        try:
            with c:
                while True:
                    FakeServer._read(c, buf, 4)
                    size = 4 + struct.unpack(">I", buf[:4])[0]
                    FakeServer._read(c, buf, size)
                    msg, buf = bytes(buf[4:size]), buf[size:]
                    n += 1
                    what = self.plan(k, n)
                    if what == "stall":
                        self.stall()
                    if what != "reply":
                        return
                    nlen = struct.unpack(">I", msg[4:8])[0]
                    seqid = struct.unpack(">i", msg[8 + nlen:12 + nlen])[0]
                    reply = message(msg[8:8 + nlen], seqid, b"\x00")
                    c.sendall(struct.pack(">I", len(reply)) + reply)
                    with self.cond:
                        self.calls[k] += 1
                        self.cond.notify_all()
        except (OSError, EOFError):
            pass


def bench_at(where, *args, timeout=60):
    p = subprocess.run([BENCH] + where + list(args), capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class BenchReopenTest(unittest.TestCase):
    """--reconnect opens a connection again inside the thread's loop: the
    other connections of the thread are served while it waits for the
    server to accept it."""

    def reopen_run(self, unix_dir, release, timeout):
        """-c 2 on one thread; connection 0 is closed at its 3rd call as the
        server stops accepting. With 'release', the server accepts again
        once connection 1 has been answered 50 times since."""
        def plan(k, n):
            return "stall" if (k, n) == (0, 3) else "reply"
        with DialServer(plan, 2, unix_dir) as srv:
            def releaser():
                with srv.cond:
                    srv.cond.wait_for(lambda: srv.accepting is None or (
                        srv.stalled_at is not None and srv.calls[1] >= srv.stalled_at + 50), 20)
                    if srv.accepting is None:
                        return  # the run is over
                srv.release()
            if release:
                threading.Thread(target=releaser, daemon=True).start()
            rc, out, err = bench_at(srv.where(), "-c", "2", "-t", "1", "-d", "2.5",
                                    "--warmup", "0", "--timeout", timeout, "--reconnect",
                                    "--json", "--show-errors", "100")
            calls = list(srv.calls)
        self.assertEqual(rc, 1, out + err)
        return json.loads(out), err, calls

    def test_a_reopen_that_hangs_stalls_no_other_connection(self):
        # the server never accepts the new connection: it is a connect error
        # after --timeout (2 s), and connection 1 is served all along. The
        # reopen used to be a blocking connect(): the thread, connection 1
        # with it, waited the 2 s, and its call in flight took them
        for family, unix_dir in (("tcp", None), ("unix", "dir")):
            with self.subTest(family=family), tempfile.TemporaryDirectory() as d:
                j, err, calls = self.reopen_run(unix_dir and d, False, "2")
                self.assertEqual((j["errors"], j["errors_by_kind"]["closed"],
                                  j["errors_by_kind"]["connect"], j["reconnects"]), (2, 1, 1, 0),
                                 json.dumps(j) + err)
                self.assertIn("not open within --timeout (2 s)", err)
                self.assertLess(j["max_us"], 1e6, json.dumps(j))
                self.assertEqual(len(calls), 2, calls)

    def test_a_reopen_accepted_late_calls_on(self):
        # the server accepts again after connection 1 got 50 replies during
        # the stall: the new connection is opened (TCP: at the handshake's
        # first retry, 1 s on; a unix socket: at the next try, every tick),
        # counts as a reconnect, and its calls are answered. Before, no
        # reply came to connection 1 while the thread waited in connect()
        for family, unix_dir in (("tcp", None), ("unix", "dir")):
            with self.subTest(family=family), tempfile.TemporaryDirectory() as d:
                j, err, calls = self.reopen_run(unix_dir and d, True, "3")
                self.assertEqual((j["errors"], j["errors_by_kind"]["closed"], j["reconnects"]),
                                 (1, 1, 1), json.dumps(j) + err)
                self.assertEqual(len(calls), 3, calls)
                self.assertGreater(calls[2], 0, calls)
                self.assertLess(j["max_us"], 0.5e6, json.dumps(j))

    def test_no_reconnect_once_requests_ran_out(self):
        # -n 2 on -c 2: both calls are sent at once. Connection 0's is
        # closed unanswered; connection 1's reply waits until a third
        # connection comes (or 2 s). -n has run out: connection 0 is not
        # opened again for no call. It was, and counted as a reconnect
        def plan(k, n):
            if k == 0:
                return "close"
            with srv.cond:
                srv.cond.wait_for(lambda: len(srv.calls) > 2, 2)
            return "reply"
        with DialServer(plan, 2) as srv:
            rc, out, err = bench_at(srv.where(), "-c", "2", "-t", "1", "-n", "2", "--warmup",
                                    "0", "--reconnect", "--json")
            accepted = len(srv.calls)
        self.assertEqual(rc, 1, out + err)
        j = json.loads(out)
        self.assertEqual((j["calls"], j["errors_by_kind"]["closed"], j["reconnects"]), (1, 1, 0),
                         out + err)
        self.assertEqual(accepted, 2, out + err)
        self.assertIn("not opened again: the run has ended", err)


class BenchReconnectTest(unittest.TestCase):
    """--reconnect against thriftcorn recycling its worker every 150 calls
    (max_requests): the run goes on over each new worker."""

    def test_calls_go_on_over_recycled_workers(self):
        srv = harness.Server("", start=False, args=["--bind", "127.0.0.1:0", "--threads", "2",
                                                    "--max-requests", "150"])
        srv.config = os.path.join(BENCH_DIR, "thriftcorn.lua")
        srv.start()
        try:
            rc, out, err = run_bench(srv.port, "-c", "3", "-n", "1500", "--warmup", "0",
                                     "--call", "add", "--reconnect", "--json",
                                     "--show-errors", "1000")
        finally:
            srv.stop()
        j = json.loads(out)
        # a call sent as a worker closes its connection is lost (no reply
        # comes): an error of kind "closed", and nothing else goes wrong
        self.assertEqual(j["calls"] + j["errors"], 1500, out + err)
        self.assertEqual(j["errors"], j["errors_by_kind"]["closed"], out + err)
        self.assertEqual(rc, 1 if j["errors"] else 0, out + err)
        # 1500 calls are at least 8 workers' worth: each one's end closed the
        # 3 connections, and each was opened again
        self.assertGreaterEqual(j["reconnects"], 3 * 8, out + err)
        self.assertLessEqual(j["errors"], j["reconnects"] + 3, out + err)
        self.assertGreater(j["conn_calls_min"], 0, out)


def signal_bits(pid, field):
    """The signals of `field` (SigCgt, ShdPnd, ...) in /proc/PID/status, as
    a bit mask (bit n-1: signal n), and for SigPnd those of every thread."""
    paths = ["/proc/%d/status" % pid]
    if field == "SigPnd":
        paths = ["/proc/%d/task/%s/status" % (pid, t) for t in os.listdir("/proc/%d/task" % pid)]
    bits = 0
    for path in paths:
        try:
            text = read(path)
        except OSError:  # a thread that ended
            continue
        bits |= int(re.search(r"^%s:\s*([0-9a-f]+)$" % field, text, re.M).group(1), 16)
    return bits


def tcp_states(port):
    """The states of the IPv4 TCP sockets connecting to 127.0.0.1:`port`, from
    /proc/net/tcp, by name: 'established', 'syn_sent'."""
    names = {"01": "established", "02": "syn_sent"}
    states = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, rport = fields[2].split(":")
            if addr == "0100007F" and int(rport, 16) == port:
                states.append(names.get(fields[3], fields[3]))
    return states


class BenchInterruptTest(unittest.TestCase):
    """SIGINT and SIGTERM end the run early with its report; they used to
    kill it, with no report, the progress line left on the terminal."""

    @classmethod
    def setUpClass(cls):
        cls.srv = bench_server("thriftcorn.lua")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def served(self):
        return read(self.srv.accesslog).count(" Bench.sleep ok ")

    def start(self, *args, port=None, **kw):
        return subprocess.Popen([BENCH, "--port", str(port or self.srv.port), "--warmup", "0"]
                                + list(args), stdout=subprocess.PIPE, text=True, **kw)

    def stop(self, p):
        if p is not None and p.poll() is None:
            p.kill()
            p.communicate(timeout=30)

    def caught(self, p, sig):
        return p.poll() is not None or signal_bits(p.pid, "SigCgt") & 1 << (sig - 1)

    def test_sigint_ends_the_run_with_its_report(self):
        # 30 s asked; once calls are answered, SIGINT: the calls in flight
        # are answered, none is sent after, and what was measured is reported
        before = self.served()
        started = time.monotonic()
        p = self.start("-c", "2", "-d", "30", "--call", "sleep:20", "--json",
                       stderr=subprocess.PIPE)
        try:
            self.assertTrue(harness.wait_for(lambda: self.served() - before >= 5
                                             and self.caught(p, signal.SIGINT), timeout=20))
            self.assertIsNone(p.poll())
            sent_at = time.monotonic()
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=20)
        finally:
            self.stop(p)
        self.assertEqual(p.returncode, 130, out + err)
        j = json.loads(out)
        self.assertIs(j["interrupted"], True, out)
        self.assertEqual((j["errors"], j["dropped"]), (0, 0), out + err)
        self.assertGreater(j["calls"], 0, out)
        self.assertEqual(j["calls"], j["answered"], out)  # no warm-up: every call measured
        # the window ends at the interrupt, not at the last reply after it
        self.assertLess(j["elapsed_s"], sent_at - started + 0.5, out)
        self.assertTrue(harness.wait_for(lambda: self.served() - before == j["answered"],
                                         timeout=20), "%d served: %s" % (self.served() - before,
                                                                         out))

    def test_sigterm_on_a_terminal_erases_the_progress_line(self):
        master, slave = pty.openpty()
        term = b""
        p = None
        try:
            p = self.start("-c", "2", "-d", "30", "--call", "sleep:20", stdin=subprocess.DEVNULL,
                           stderr=slave)
            os.close(slave)
            slave = None
            signalled = []

            def signal_once_shown(t):
                if b"calls/s" in t and not signalled:
                    p.send_signal(signal.SIGTERM)
                    signalled.append(True)
            term = read_terminal(master, signal_once_shown)
            out = p.communicate(timeout=30)[0]
        finally:
            self.stop(p)
            os.close(master)
            if slave is not None:
                os.close(slave)
        self.assertEqual(p.returncode, 143, out + repr(term))
        self.assertIn("calls/s", term.decode())
        self.assertEqual([line for line in screen_lines(term.decode()) if line], [], repr(term))
        self.assertRegex(out, r"(?m)^  interrupted   after \d+\.\d\d s of 30\.0 s by SIGTERM, "
                         r"0 calls in flight dropped$")
        r = result(out)
        self.assertGreater(r["calls"], 0, out)
        self.assertEqual(r["errors"], 0, out)

    def test_calls_unanswered_after_an_interrupt_are_dropped(self):
        # a server that never answers: the calls in flight get 1 s (not
        # their --timeout of 30 s), then are dropped, counted as no error
        got = []  # the calls the server read, never answered
        with FakeServer(ping_ok, wire=lambda name, seqid, res, n: got.append(n) or []) as srv:
            p = self.start("-c", "2", "-P", "3", "-d", "30", "--timeout", "30", "--json",
                           port=srv.port, stderr=subprocess.PIPE)
            try:
                self.assertTrue(harness.wait_for(lambda: len(got) == 6, timeout=20), got)
                t = time.monotonic()
                p.send_signal(signal.SIGINT)
                out, err = p.communicate(timeout=20)
                took = time.monotonic() - t
            finally:
                self.stop(p)
        self.assertEqual(p.returncode, 130, out + err)
        self.assertLess(took, 10)
        j = json.loads(out)
        self.assertEqual((j["interrupted"], j["calls"], j["errors"], j["dropped"]),
                         (True, 0, 0, 6), out)
        self.assertIn("no call was measured", err)

    def interrupt_connecting(self, sig, *args):
        # a listener that accepts nothing, its backlog of 0 full after one
        # connection: the next connect waits for a handshake that never
        # comes, up to --timeout (30 s), unless the interrupt ends it
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        p = None
        try:
            ls.bind(("127.0.0.1", 0))
            ls.listen(0)
            port = ls.getsockname()[1]
            p = self.start("--host", "127.0.0.1", "-c", "8", "-d", "30", "--timeout", "30",
                           *args, port=port, stderr=subprocess.PIPE)
            self.assertTrue(harness.wait_for(lambda: p.poll() is not None
                                             or "syn_sent" in tcp_states(port), timeout=20))
            self.assertIsNone(p.poll())
            opened = tcp_states(port).count("established")
            t = time.monotonic()
            p.send_signal(sig)
            out, err = p.communicate(timeout=20)
            took = time.monotonic() - t
        finally:
            self.stop(p)
            ls.close()
        self.assertEqual(p.returncode, 128 + sig, out + err)
        self.assertLess(took, 10, out + err)
        self.assertGreater(opened, 0)
        self.assertLess(opened, 8)
        self.assertIn("no call was measured", err)
        return out, opened

    def test_sigint_while_connecting_ends_it_with_its_report(self):
        out, opened = self.interrupt_connecting(signal.SIGINT)
        self.assertRegex(out, r"(?m)^  interrupted   while connecting by SIGINT, %d of 8 "
                         r"connections open$" % opened)
        r = result(out)
        self.assertEqual((r["calls"], r["errors"]), (0, 0), out)

    def test_sigterm_while_connecting_ends_it_with_its_json(self):
        out, opened = self.interrupt_connecting(signal.SIGTERM, "--json")
        j = json.loads(out)
        self.assertEqual((j["interrupted"], j["connecting"], j["connected"], j["calls"],
                          j["errors"], j["elapsed_s"]), (True, True, opened, 0, 0, 0.0), out)

    def test_a_second_sigint_ends_it_at_once(self):
        # calls in flight to a server that never answers, which the first
        # SIGINT gives a grace of 1 s; the second ends the process there
        # and then, by SIGINT
        got = []
        srv = FakeServer(ping_ok, wire=lambda name, seqid, res, n: got.append(n) or [])
        p = self.start("-c", "1", "-d", "30", "--timeout", "30", "--json", port=srv.port,
                       stderr=subprocess.PIPE)
        try:
            self.assertTrue(harness.wait_for(lambda: got and self.caught(p, signal.SIGINT),
                                             timeout=20))
            p.send_signal(signal.SIGINT)
            bit = 1 << (signal.SIGINT - 1)
            # taken by a thread (not pending any more): a second one is not merged into it
            self.assertTrue(harness.wait_for(
                lambda: p.poll() is not None
                or not (signal_bits(p.pid, "ShdPnd") | signal_bits(p.pid, "SigPnd")) & bit,
                timeout=20))
            self.assertIsNone(p.poll())
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=20)
        finally:
            self.stop(p)
            srv.close()
        self.assertEqual(p.returncode, -signal.SIGINT, out + err)
        self.assertEqual(out, "")


class BenchToolCPluginTest(BenchToolTest):
    """The same calls against the C plugin: bench/thriftcorn-c.lua."""
    CONFIG = "thriftcorn-c.lua"
    ENV = C_PLUGIN_ENV


class BenchMultiplexedTest(unittest.TestCase):
    """--multiplexed NAME: calls named NAME:method reach the service a
    server multiplexes as NAME (thriftcorn's services = { ... }, with no
    default service), whose replies name the method alone; without it
    every call is refused, and a bad NAME is refused before the run."""

    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(
            "services = { { name = 'Bench', multiplexed_name = 'B2', idl = %r, handler = %r } }\n"
            "workers = 1\nthreads = 2\n"
            % (IDL, os.path.join(BENCH_DIR, "handler.lua")))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_benchmark_and_idl_calls(self):
        for args in (["--call", "roundtrip"], ["--call", "batch:10"],
                     ["--idl", IDL, "--method", "Bench.add", "--args", "{a = 1, b = 2}"]):
            with self.subTest(args=args):
                rc, out, err = run_bench(self.srv.port, "-c", "2", "-n", "200", "--warmup", "0",
                                         "--multiplexed", "B2", *args)
                self.assertEqual(rc, 0, out + err)
                r = result(out)
                self.assertEqual((r["calls"], r["errors"]), (200, 0), out + err)
                self.assertIn(", call B2:", out.splitlines()[0])
        # the server names no default service: a plain name is no call of it
        rc, out, err = run_bench(self.srv.port, "-c", "1", "-n", "5", "--warmup", "0",
                                 "--call", "roundtrip")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("\nERRORS: 5 (reply 0, exception 5, closed 0", out)
        self.assertIn("UNKNOWN_METHOD", err)

    def test_a_bad_name_is_refused(self):
        for name in ("", "B:2"):
            with self.subTest(name=name):
                rc, out, err = run_bench(self.srv.port, "-n", "1", "--multiplexed", name)
                self.assertEqual(rc, 2, out + err)
                self.assertEqual(err.splitlines()[0], "thriftcorn-bench: --multiplexed '%s': "
                                 "expected a service name, not empty and without ':'" % name)
                self.assertEqual(out, "")


class LuaAndCAgreeTest(unittest.TestCase):
    """Edge cases thriftcorn-bench does not send: the Lua handler and the C
    plugin give the same reply, exception or failure."""

    @classmethod
    def setUpClass(cls):
        harness.gen_py(IDL)
        cls.Bench = harness.load_gen("bench.Bench")
        cls.T = harness.load_gen("bench.ttypes")
        cls.servers = []
        cls.servers.append(bench_server("thriftcorn.lua"))
        cls.servers.append(bench_server("thriftcorn-c.lua", C_PLUGIN_ENV))

    @classmethod
    def tearDownClass(cls):
        for srv in cls.servers:
            srv.stop()

    def outcome(self, srv, method, *args):
        c, trans = harness.client(self.Bench, srv.port, "framed")
        try:
            return ("ok", getattr(c, method)(*args))
        except self.T.BenchError as e:
            return ("BenchError", e.code, e.message)
        except TApplicationException as e:
            return ("TApplicationException", e.type)
        finally:
            trans.close()

    def test_same_outcomes(self):
        T = self.T
        full = T.Item(id=41, name="n\u00e9", score=-0.25, tags=[7, -1], attrs={"a": "b", "": ""},
                      flag=False)
        cases = [
            ("ping",), ("echo", ""), ("echo", "x" * 100000), ("add", 2**63 - 1, 1),
            ("add", -5, 3), ("roundtrip", full), ("roundtrip", T.Item(id=-1)),
            ("roundtrip", T.Item(id=2**63 - 1, tags=[], attrs={})), ("roundtrip", T.Item()),
            ("batch", 0), ("batch", -3), ("batch", 3), ("fail", 0), ("fail", -2**31),
            ("sleep", 0), ("sleep", -1),
        ]
        for case in cases:
            with self.subTest(case=case[0], args=repr(case[1:])[:60]):
                lua, c = (self.outcome(srv, *case) for srv in self.servers)
                self.assertEqual(c, lua)
        # and what they agree on is what bench.thrift says
        self.assertEqual(self.outcome(self.servers[1], "roundtrip", full)[1],
                         T.Item(id=42, name="n\u00e9", score=-0.25, tags=[7, -1],
                                attrs={"a": "b", "": ""}, flag=False))
        self.assertEqual(self.outcome(self.servers[1], "add", 2**63 - 1, 1), ("ok", -2**63))
        self.assertEqual(self.outcome(self.servers[1], "batch", 2)[1], [
            T.Item(id=0, name="item-0", score=0.0, tags=[0, 1, 2], attrs={"k": "v0"}),
            T.Item(id=1, name="item-1", score=0.5, tags=[1, 2, 3], attrs={"k": "v1"})])
        self.assertEqual(self.outcome(self.servers[1], "fail", -2**31),
                         ("BenchError", -2**31, "fail -2147483648"))
        self.assertEqual(self.outcome(self.servers[1], "sleep", -1),
                         ("TApplicationException", TApplicationException.INTERNAL_ERROR))


ANCHOR = os.path.join(BUILD, "thriftcorn-anchor-server")


@unittest.skipUnless(os.path.exists(ANCHOR), "thriftcorn-anchor-server is not built "
                     "(it needs libthriftnb and libevent)")
@unittest.skipIf(os.environ.get("TC_SANITIZE") == "thread",
                 "a ThreadSanitizer build of the anchor stops at races TSan sees inside "
                 "libthrift, which is not built with it (TThreadedServer's protocol teardown)")
class AnchorAgreesTest(unittest.TestCase):
    """The C++ anchor (bench/anchors/anchor_server.cpp) answers the calls
    whose result bench.thrift defines as the Lua handler does, edge cases
    included: an anchor that answered otherwise, or died, would not be the
    same benchmark."""

    @classmethod
    def setUpClass(cls):
        harness.gen_py(IDL)
        cls.Bench = harness.load_gen("bench.Bench")
        cls.T = harness.load_gen("bench.ttypes")
        cls.lua = bench_server("thriftcorn.lua")
        cls.port = harness.free_port()
        cls.anchor = subprocess.Popen(
            [ANCHOR, "--server", "threaded", "--transport", "framed", "--port", str(cls.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def listening():
            try:
                socket.create_connection(("127.0.0.1", cls.port), 1).close()
                return True
            except OSError:
                return cls.anchor.poll() is not None
        if not harness.wait_for(listening) or cls.anchor.poll() is not None:
            cls.tearDownClass()
            raise AssertionError("thriftcorn-anchor-server did not listen")

    @classmethod
    def tearDownClass(cls):
        cls.lua.stop()
        cls.anchor.kill()
        cls.anchor.wait()
        cls.anchor.stderr.close()

    def outcome(self, port, method, *args):
        c, trans = harness.client(self.Bench, port, "framed")
        try:
            return ("ok", getattr(c, method)(*args))
        except self.T.BenchError as e:
            return ("BenchError", e.code, e.message)
        finally:
            trans.close()

    def test_same_results(self):
        T = self.T
        full = T.Item(id=41, name="n\u00e9", score=-0.25, tags=[7, -1], attrs={"a": "b"},
                      flag=True)
        cases = [
            ("ping",), ("echo", "\u00e9" * 1000), ("add", 2, 3), ("add", -5, 3),
            ("add", 2**63 - 1, 1), ("add", -2**63, -1), ("roundtrip", full),
            ("roundtrip", T.Item(id=2**63 - 1, name="", score=0.0, tags=[], attrs={})),
            ("batch", 0), ("batch", 3), ("fail", 7), ("fail", -2**31), ("sleep", 1),
        ]
        for case in cases:
            with self.subTest(case=case[0], args=repr(case[1:])[:60]):
                self.assertEqual(self.outcome(self.port, *case),
                                 self.outcome(self.lua.port, *case))
        # the anchor served every call and is still up
        rc = self.anchor.poll()
        self.assertIsNone(rc, "the anchor exited with %s: %s"
                          % (rc, self.anchor.stderr.read() if rc is not None else ""))


class BenchToolErrorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(
            'transport = "framed"\nthreads = 2\n'
            'service = { idl = "%s", name = "Bench", handler = "handler.lua" }\n' % IDL,
            files={"handler.lua": WRONG_HANDLER})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_wrong_replies_are_errors(self):
        for call, kind in (("add", "reply"), ("echo:10", "reply"), ("roundtrip", "reply"),
                           ("batch:5", "reply"), ("fail:3", "reply"), ("ping", "exception")):
            with self.subTest(call=call):
                rc, out, err = run_bench(self.srv.port, "-c", "2", "-n", "200", "--warmup", "0",
                                         "--call", call)
                self.assertEqual(rc, 1, out + err)
                r = result(out)
                self.assertEqual(r["calls"], 0, out)
                self.assertEqual(r["errors"], 200, out)
                self.assertRegex(out, r"(?m)^ERRORS: 200 \(.*%s 200" % kind)
                self.assertIn("error: connection", err)

    def test_right_calls_of_a_wrong_server_still_pass(self):
        rc, out, err = run_bench(self.srv.port, "-c", "2", "-n", "200", "--warmup", "0",
                                 "--call", "sleep:1")
        self.assertEqual(rc, 0, out + err)

    def test_generic_mode_sees_an_exception(self):
        rc, out, err = run_bench(self.srv.port, "-c", "1", "-n", "50", "--warmup", "0",
                                 "--idl", IDL, "--method", "Bench.ping")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("TApplicationException INTERNAL_ERROR", err)

    def test_nothing_listening(self):
        # a port that was just free: every connection fails, and that is an error too
        port = harness.free_port()
        rc, out, err = run_bench(port, "-c", "3", "-d", "0.2", "--warmup", "0")
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(out, r"(?m)^ERRORS: 3 \(.*connect 3")
        # one address: its error alone (several: each address with its error)
        self.assertIn("connect 127.0.0.1:%d: connection refused" % port, err)


class RawPingTest(unittest.TestCase):
    """thriftcorn-raw-ping, the ceiling of the matrix's ping tables: it answers
    ping as thriftcorn does, whole frames or split ones, and closes on
    anything that is not a framed binary call."""

    @classmethod
    def setUpClass(cls):
        cls.port = harness.free_port()
        cls.proc = subprocess.Popen([os.path.join(BUILD, "thriftcorn-raw-ping"), "--port",
                                     str(cls.port)], stderr=subprocess.PIPE, text=True)

        def listening():
            try:
                __import__("socket").create_connection(("127.0.0.1", cls.port), 1).close()
                return True
            except OSError:
                return False
        if not harness.wait_for(listening):
            raise AssertionError("thriftcorn-raw-ping did not listen: " + cls.proc.stderr.read())

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()

    def test_ping_under_load(self):
        rc, out, err = run_bench(self.port, "-c", "4", "-P", "8", "-n", "4000", "--warmup", "0",
                                 "--call", "ping")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(result(out)["calls"], 4000, out)

    def test_split_frame_and_refusal(self):
        import socket
        import struct
        name = b"ping"
        body = struct.pack(">iI", -2147418111, len(name)) + name + struct.pack(">i", 77) + b"\0"
        frame = struct.pack(">I", len(body)) + body
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
            c.sendall(frame[:6])
            __import__("time").sleep(0.05)
            c.sendall(frame[6:] + frame)  # the rest, then a whole second call
            want = (struct.pack(">I", 17) + struct.pack(">iI", -2147418110, 4) + name +
                    struct.pack(">i", 77) + b"\0")
            got = b""
            while len(got) < 2 * len(want):
                chunk = c.recv(4096)
                self.assertTrue(chunk, got)
                got += chunk
            self.assertEqual(want * 2, got)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
            c.sendall(body)  # unframed: the 'length' is the version word
            self.assertEqual(b"", c.recv(4096))


if __name__ == "__main__":
    unittest.main(verbosity=2)
