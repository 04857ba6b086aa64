# SPDX-License-Identifier: Apache-2.0
"""Soak test (not in CI; docs/reliability.md, "Soak"): thriftcorn serving
bench/thriftcorn.lua (the Lua handler of bench/bench.thrift) for a bounded
time, with

- several clients calling the whole time, a mix of ping, echo, add,
  roundtrip, batch, fail (a declared exception) and fire (oneway), over
  buffered and framed, binary and compact; every reply is checked;
- a SIGHUP (reload: a new generation of workers) every --hup-every seconds;
- a SIGKILL of one worker every --kill-every seconds;
- the resident memory (VmRSS) of the arbiter and every worker sampled every
  --sample-every seconds.

A call ends in one of these ways:
- ok: its correct reply;
- lost to a kill: its connection broke and the worker serving that
  connection was one this script SIGKILLed (found with `ss` when the
  connection opened); the client reconnects and goes on;
- retried: the connection was closed before one byte of the reply came (or,
  for a oneway call, before it could be sent) and its worker was not killed
  (a worker of an old generation closing an idle connection as it stops):
  the call is sent again on a new connection, and must then succeed;
- failed: anything else (a wrong reply, a timeout, a connection cut in the
  middle of a reply or with a live worker, a retry that fails).

It fails (exit 1) on any failed call, a failed reload, a server that does
not stop cleanly on TERM, a sanitizer report in the log, or memory that is
not flat:
- the arbiter's largest sample in the last half of the run is at most
  FLAT_MARGIN above its largest in the first half;
- the largest worker sample in the last quarter of the run is at most
  FLAT_MARGIN above the largest in the first quarter (every worker lives at
  most one reload period, so this compares generations).
FLAT_MARGIN is max(4 MiB, 10%).

Usage (from the repository root):
    /usr/bin/python3 tests/soak/soak.py [--minutes 10] [--bin build/thriftcorn]
"""

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))

import harness  # noqa: E402
from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402

BENCH_DIR = os.path.join(SOURCE_DIR, "bench")
MIB = 1024 * 1024


def flat_margin(base):
    return max(4 * MIB, base // 10)


class CountingSocket(TSocket.TSocket):
    """Counts the reply bytes read since the last write."""

    got = 0
    write_failed = False

    def write(self, buf):
        self.got = 0
        self.write_failed = False
        try:
            super().write(buf)
        except Exception:
            self.write_failed = True
            raise

    def read(self, sz):
        data = super().read(sz)
        self.got += len(data)
        return data


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}
        self.oneway = 0
        self.lost_to_kill = 0
        self.lost_unattributed = 0
        self.retried = 0
        self.failed = 0
        self.errors = []
        self.connections = 0

    def add_ok(self, kind):
        with self.lock:
            self.ok[kind] = self.ok.get(kind, 0) + 1

    def fail(self, what):
        with self.lock:
            self.failed += 1
            if len(self.errors) < 20:
                self.errors.append("%.1fs %s" % (time.monotonic() - START, what))


START = time.monotonic()


class Soak:
    def __init__(self, opts):
        self.o = opts
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.killed = set()  # worker pids this script SIGKILLed
        self.kill_times = []
        self.hups = 0
        self.rss = {}  # pid -> {"role": str, "samples": [(t, bytes)]}
        harness.gen_py(os.path.join(BENCH_DIR, "bench.thrift"))
        self.Bench = harness.load_gen("bench.Bench")
        self.T = harness.load_gen("bench.ttypes")

    # ---- server ----

    def start_server(self):
        harness.BIN = self.o.bin
        srv = harness.Server("", start=False, args=[
            "--bind", "127.0.0.1:0", "--workers", str(self.o.workers),
            "--threads", str(self.o.threads), "--transport", "auto", "--protocol", "auto"])
        srv.config = os.path.join(BENCH_DIR, "thriftcorn.lua")
        self.srv = srv.start()

    def workers(self):
        pids = []
        for pid in self.srv.worker_pids():
            if " worker " in harness.process_title(pid):
                pids.append(pid)
        return pids

    def conn_worker(self, local_port):
        """The worker pid holding the server side of our connection."""
        out = subprocess.run(
            ["ss", "-Htnp", "state", "established",
             "( sport = :%d and dport = :%d )" % (self.srv.port, local_port)],
            capture_output=True, text=True).stdout
        m = re.search(r"pid=(\d+)", out)
        return int(m.group(1)) if m else None

    # ---- clients ----

    def connect(self, n):
        transport = ("buffered", "framed")[n % 2]
        protocol = ("binary", "compact")[(n // 2) % 2]
        sock = CountingSocket("127.0.0.1", self.srv.port)
        sock.setTimeout(10000)
        trans = (TTransport.TFramedTransport(sock) if transport == "framed"
                 else TTransport.TBufferedTransport(sock))
        proto = (TCompactProtocol.TCompactProtocol(trans) if protocol == "compact"
                 else TBinaryProtocol.TBinaryProtocol(trans))
        trans.open()
        with self.stats.lock:
            self.stats.connections += 1
        return {"c": self.Bench.Client(proto), "t": trans, "s": sock, "worker": None,
                "name": "%s/%s" % (transport, protocol)}

    def call(self, c, kind, rnd):
        """Make one call of `kind`; return None when the reply is right, or
        what was wrong with it."""
        T = self.T
        if kind == "ping":
            r = c.ping()
            return None if r is None else "ping returned %r" % (r,)
        if kind == "echo":
            s = "".join(rnd.choice("abcdefghij\u00e9") for _ in range(rnd.randint(0, 300)))
            r = c.echo(s)
            return None if r == s else "echo(%r) returned %r" % (s[:20], r[:20])
        if kind == "add":
            a, b = rnd.randint(-2**40, 2**40), rnd.randint(-2**40, 2**40)
            r = c.add(a, b)
            return None if r == a + b else "add(%d, %d) returned %r" % (a, b, r)
        if kind == "roundtrip":
            i = rnd.randint(0, 10**6)
            item = T.Item(id=i, name="n%d" % i, score=i / 4.0, tags=[i, -i],
                          attrs={"a": str(i)}, flag=bool(i % 2))
            r = c.roundtrip(item)
            ok = (r.id == i + 1 and r.name == item.name and r.score == item.score
                  and r.tags == item.tags and r.attrs == item.attrs and r.flag == item.flag)
            return None if ok else "roundtrip(%d) returned %r" % (i, r)
        if kind == "batch":
            n = rnd.randint(0, 20)
            r = c.batch(n)
            ok = len(r) == n and all(
                it.id == k and it.name == "item-%d" % k and it.score == k / 2.0
                and it.tags == [k, k + 1, k + 2] and it.attrs == {"k": "v%d" % k}
                for k, it in enumerate(r))
            return None if ok else "batch(%d) returned %d items" % (n, len(r))
        if kind == "fail":
            code = rnd.randint(0, 1000)
            try:
                c.fail(code)
            except T.BenchError as e:
                ok = e.code == code and e.message == "fail %d" % code
                return None if ok else "fail(%d) raised %r" % (code, e)
            return "fail(%d) did not raise" % code
        if kind == "fire":
            c.fire(rnd.randint(0, 1000))
            return None
        raise ValueError(kind)

    def client(self, n):
        rnd = random.Random(n)
        kinds = ("ping", "echo", "add", "roundtrip", "batch", "fail", "fire")
        conn = None
        nconn = n
        left = 0
        while not self.stop_event.is_set():
            kind = rnd.choice(kinds)
            for attempt in range(4):
                if conn is None:
                    try:
                        conn = self.connect(nconn)
                    except Exception as e:  # noqa: BLE001
                        # the listener is the arbiter's: a refused connect is a failure
                        self.stats.fail("connect: %r" % (e,))
                        time.sleep(0.5)
                        break
                    nconn += 1
                    left = rnd.randint(50, 500)
                try:
                    wrong = self.call(conn["c"], kind, rnd)
                except Exception as e:  # noqa: BLE001
                    if self.broken(conn, kind, e, attempt):
                        conn = None
                        continue  # retry on a new connection
                    conn = None
                    break
                if wrong is not None:
                    self.stats.fail("%s on %s: %s" % (kind, conn["name"], wrong))
                elif kind == "fire":
                    with self.stats.lock:
                        self.stats.oneway += 1
                else:
                    self.stats.add_ok(kind)
                if conn["worker"] is None:
                    conn["worker"] = self.conn_worker(conn["s"].handle.getsockname()[1])
                left -= 1
                if left <= 0:
                    conn["t"].close()
                    conn = None
                break
        if conn is not None:
            conn["t"].close()

    def broken(self, conn, kind, exc, attempt):
        """Classify a call that raised. True: send it again."""
        try:
            conn["t"].close()
        except Exception:  # noqa: BLE001
            pass
        worker = conn["worker"]
        timeout = "timed out" in str(exc) or "timeout" in repr(exc).lower()
        with self.stats.lock:
            if worker is not None and worker in self.killed:
                self.stats.lost_to_kill += 1
                return False
            recent_kill = any(time.monotonic() - t < 5 for t in self.kill_times)
            if worker is None and recent_kill and not timeout:
                self.stats.lost_unattributed += 1
                return False
            # nothing of the reply came: the connection was closed before the
            # server read the call; a oneway is sent again only when its own
            # send failed (once it is sent, nothing tells whether it was read)
            unsent = conn["s"].write_failed or kind != "fire"
            if conn["s"].got == 0 and not timeout and attempt < 3 and unsent:
                self.stats.retried += 1
                return True
        self.stats.fail("%s on %s (worker %s, %d reply bytes, attempt %d): %r"
                        % (kind, conn["name"], worker, conn["s"].got, attempt, exc))
        return False

    # ---- chaos and sampling ----

    def sample(self, now):
        pids = [(self.srv.proc.pid, "arbiter")]
        for pid in self.srv.worker_pids():
            title = harness.process_title(pid)
            m = re.search(r" worker .* gen (\d+)", title)
            if m:
                pids.append((pid, "worker gen %s" % m.group(1)))
        for pid, role in pids:
            try:
                with open("/proc/%d/status" % pid) as f:
                    kb = int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))
            except (OSError, AttributeError):
                continue
            entry = self.rss.setdefault(pid, {"role": role, "samples": []})
            entry["samples"].append((now, kb * 1024))

    def chaos(self, duration):
        t0 = time.monotonic()
        next_hup = self.o.hup_every
        # halfway between two reloads: a worker killed while its generation
        # boots makes that reload fail, as it should (docs/operations.md)
        next_kill = self.o.hup_every / 2
        next_sample = 0.0
        while True:
            now = time.monotonic() - t0
            if now >= duration:
                break
            if now >= next_sample:
                self.sample(now)
                next_sample += self.o.sample_every
            if now >= next_hup:
                self.srv.kill(signal.SIGHUP)
                self.hups += 1
                next_hup += self.o.hup_every
            if now >= next_kill:
                ws = self.workers()
                if ws:
                    victim = random.choice(ws)
                    with self.stats.lock:
                        self.killed.add(victim)
                        self.kill_times.append(time.monotonic())
                    os.kill(victim, signal.SIGKILL)
                next_kill += self.o.kill_every
            if self.srv.proc.poll() is not None:
                raise RuntimeError("the arbiter died:\n" + self.srv.log()[-4000:])
            time.sleep(0.2)
        self.sample(time.monotonic() - t0)

    # ---- report ----

    def memory_report(self, duration):
        problems = []
        lines = ["%-8s %-14s %8s %8s %8s %8s %7s" % ("pid", "role", "first", "last", "max",
                                                     "samples", "life s")]
        for pid, e in sorted(self.rss.items(), key=lambda kv: kv[1]["samples"][0][0]):
            s = [b for _, b in e["samples"]]
            life = e["samples"][-1][0] - e["samples"][0][0]
            lines.append("%-8d %-14s %7.1fM %7.1fM %7.1fM %8d %7.0f" % (
                pid, e["role"], s[0] / MIB, s[-1] / MIB, max(s) / MIB, len(s), life))
        arb = self.rss.get(self.srv.proc.pid)
        if arb:
            first = [b for t, b in arb["samples"] if t < duration / 2]
            last = [b for t, b in arb["samples"] if t >= duration / 2]
            if first and last and max(last) > max(first) + flat_margin(max(first)):
                problems.append("arbiter RSS grew: max %d in the first half, %d in the last"
                                % (max(first), max(last)))
            lines.append("arbiter: max %.1f MiB in the first half, %.1f MiB in the last" % (
                max(first) / MIB, max(last) / MIB) if first and last else "arbiter: few samples")
        ws = [(t, b) for e in self.rss.values() if e["role"] != "arbiter"
              for t, b in e["samples"]]
        early = [b for t, b in ws if t < duration / 4]
        late = [b for t, b in ws if t >= duration * 3 / 4]
        if early and late:
            lines.append("workers: max %.1f MiB in the first quarter, %.1f MiB in the last" % (
                max(early) / MIB, max(late) / MIB))
            if max(late) > max(early) + flat_margin(max(early)):
                problems.append("worker RSS grew: max %d in the first quarter, %d in the last"
                                % (max(early), max(late)))
        return lines, problems

    def run(self):
        duration = self.o.minutes * 60
        self.start_server()
        print("thriftcorn %s on port %d, %d workers x %d threads, %d clients, %.1f minutes; "
              "log: %s" % (self.o.bin, self.srv.port, self.o.workers, self.o.threads,
                           self.o.clients, self.o.minutes, self.srv.log_path), flush=True)
        clients = [threading.Thread(target=self.client, args=(n,), daemon=True)
                   for n in range(self.o.clients)]
        for t in clients:
            t.start()
        problems = []
        try:
            self.chaos(duration)
        finally:
            self.stop_event.set()
            for t in clients:
                t.join(30)
            rc = self.srv.proc.poll()
            try:
                if rc is None:
                    rc = self.srv.stop()
            except AssertionError as e:  # a sanitizer report
                problems.append(str(e)[:2000])
        if rc != 0:
            problems.append("the server exited with %r on TERM" % (rc,))
        log = self.srv.log()
        st = self.stats
        calls = sum(st.ok.values())
        print("\n== calls")
        print("ok: %d (%s)" % (calls, ", ".join("%s %d" % kv for kv in sorted(st.ok.items()))))
        print("oneway sent: %d" % st.oneway)
        print("lost to a SIGKILL of their worker: %d (attributed by ss), %d (unattributed, "
              "within 5 s of a kill)" % (st.lost_to_kill, st.lost_unattributed))
        print("retried after a close before the reply: %d" % st.retried)
        print("failed: %d" % st.failed)
        for e in st.errors:
            print("  " + e)
        print("connections: %d" % st.connections)
        print("\n== server")
        reloaded = log.count(" is ready; stopping generation ")
        print("reloads: %d HUP sent, %d new generations ready, %d failed, %d ignored (one in "
              "progress); workers SIGKILLed: %d, workers booted: %d"
              % (self.hups, reloaded, log.count("Reload failed"),
                 log.count("Reload already in progress"), len(self.killed),
                 log.count("Booting worker")))
        if "Reload failed" in log:
            problems.append("a reload failed")
        print("\n== memory (VmRSS, MiB)")
        lines, mem = self.memory_report(duration)
        print("\n".join(lines))
        problems += mem
        if st.failed:
            problems.append("%d failed calls" % st.failed)
        if calls == 0:
            problems.append("no call succeeded")
        print("\n== result: %s" % ("FAIL\n" + "\n".join(problems) if problems else "PASS"))
        return 1 if problems else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--bin", default=os.environ.get(
        "THRIFTCORN_BIN", os.path.join(SOURCE_DIR, "build", "thriftcorn")))
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--hup-every", type=float, default=30.0)
    p.add_argument("--kill-every", type=float, default=60.0)
    p.add_argument("--sample-every", type=float, default=3.0)
    o = p.parse_args()
    if not 0 < o.minutes <= 24 * 60:
        p.error("--minutes: expected 0 < minutes <= 1440")
    sys.exit(Soak(o).run())


if __name__ == "__main__":
    main()
