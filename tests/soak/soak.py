# SPDX-License-Identifier: Apache-2.0
"""Soak test (not in CI; docs/reliability.md, "Soak"): thriftcorn serving
bench/thriftcorn.lua (the Lua handler of bench/bench.thrift) for a bounded
time, with

- several clients calling the whole time, a mix of ping, echo, add,
  roundtrip, batch, fail (a declared exception) and fire (oneway), over
  buffered and framed, binary and compact; every reply is checked;
- a SIGHUP (reload: a new generation of workers) every --hup-every seconds;
- a SIGKILL of one worker of the serving generation every --kill-every
  seconds (the first halfway between two reloads);
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

Every worker's life is accounted for from the server's error log (the
arbiter's "Booting worker", "Reloading: starting generation", "Generation G
is ready; stopping generation H", "Handling signal" and "Worker (pid:N)
exited with code C" / "was sent SIGx!" lines, and the worker's own
"graceful stop"):
- every SIGHUP sent was handled and made a new generation ready (or, sent
  while one was still in progress, made the one more reload that followed
  it); none failed;
- every worker exit is explained: a worker this script SIGKILLed died of
  that SIGKILL, and every other worker exited with code 0 through a graceful
  stop after the arbiter retired it (its generation replaced by a reload, or
  the final TERM); any other exit code or signal, or an exit of a worker
  nobody retired, is a crash;
- every boot is explained: the first generation, the workers of each reload,
  one replacement for each killed worker of the serving generation;
- a retry happens only while a reload retires the old generation (from its
  "is ready" line to 2 s after the last old worker exited), at most one per
  client and thread of an old worker in each reload (a client holds one
  connection at a time, and each thread of a stopping worker accepts no
  new one once it has closed its idle ones, so it can close at most one of
  each client's); calls lost to a kill are at most one per client per kill.

It fails (exit 1) on any failed call, a failed reload, an unexplained worker
exit, boot or retry, a server that does not stop cleanly on TERM, a
sanitizer report in the log, or memory that is not flat:
- the arbiter's largest sample in the last half of the run is at most
  FLAT_MARGIN above its largest in the first half;
- the largest worker sample in the last quarter of the run is at most
  FLAT_MARGIN above the largest in the first quarter (every worker lives at
  most one reload period, so this compares generations).
FLAT_MARGIN is max(4 MiB, 10%).

Usage (from the repository root):
    /usr/bin/python3 tests/soak/soak.py [--minutes 10] [--bin build/thriftcorn]
        [--hup-every 30] [--kill-every 60] [--config bench/thriftcorn.lua]
"""

import argparse
import datetime
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
RETRY_SLACK = 2.0  # seconds after a reload's last old worker exited that a retry may come
KILL_WINDOW = 5.0  # seconds after a kill that a cut connection of an unknown worker is its

LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) ([+-]\d{4})\] \[(\d+)\] \[\w+\] "
                      r"(.*)$")


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
        self.retry_times = []  # wall clock of every retry
        self.lost = []  # (wall clock, worker pid or None) of every call lost to a kill
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
        self.kills = []  # (wall clock, pid) of every SIGKILL sent
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
        srv.config = self.o.config
        self.srv = srv.start()

    def workers(self):
        """The workers of the newest generation (the serving one, halfway
        between two reloads)."""
        gens = {}
        for pid in self.srv.worker_pids():
            m = re.search(r" worker .* gen (\d+)", harness.process_title(pid))
            if m:
                gens.setdefault(int(m.group(1)), []).append(pid)
        return gens[max(gens)] if gens else []

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
                "name": "%s/%s" % (transport, protocol), "opened": time.monotonic()}

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
                self.stats.lost.append((time.time(), worker))
                return False
            # a kill can only cut a connection that was open when it came: one
            # opened since (a reconnect after the kill, say) and closed before
            # its reply is a reload's close, to be retried
            recent_kill = any(time.monotonic() - t < KILL_WINDOW and t >= conn["opened"]
                              for t in self.kill_times)
            if worker is None and recent_kill and not timeout:
                self.stats.lost_unattributed += 1
                self.stats.lost.append((time.time(), None))
                return False
            # nothing of the reply came: the connection was closed before the
            # server read the call; a oneway is sent again only when its own
            # send failed (once it is sent, nothing tells whether it was read)
            unsent = conn["s"].write_failed or kind != "fire"
            if conn["s"].got == 0 and not timeout and attempt < 3 and unsent:
                self.stats.retried += 1
                self.stats.retry_times.append(time.time())
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
                        self.kills.append((time.time(), victim))
                    os.kill(victim, signal.SIGKILL)
                next_kill += self.o.kill_every
            if self.srv.proc.poll() is not None:
                raise RuntimeError("the arbiter died:\n" + self.srv.log()[-4000:])
            time.sleep(0.2)
        self.sample(time.monotonic() - t0)

    def settle(self, timeout=60.0):
        """Wait until the arbiter has finished with every SIGHUP sent (the
        last one may still be booting its generation)."""
        def done():
            log = self.srv.log()
            begun = log.count("Hang up: Master")
            ended = (log.count(" is ready; stopping generation ") + log.count("Reload failed; ")
                     + log.count("Reload failed: generation "))
            # a SIGHUP during a reload is followed by one more once it ends
            return (begun == ended and begun + log.count("Reload already in progress") >= self.hups
                    and log.rfind("Reload already in progress") < log.rfind("Hang up: Master"))
        harness.wait_for(done, timeout, 0.2)

    # ---- report ----

    def account(self, log):
        """Explain every worker boot and exit, every retry and every call lost
        to a kill from the error log and what this script did. Returns the
        report's lines and the problems found."""
        arbiter = self.srv.proc.pid
        st = self.stats
        problems = []
        gen = {}  # pid -> generation
        alive = set()
        retired = set()  # pids the arbiter asked to stop gracefully
        graceful = set()  # pids that logged their graceful stop
        exits = {}  # pid -> (wall clock, how)
        how = {"killed": 0, "retired": 0, "unexplained": 0}
        boots = {"first generation": 0, "reloads": 0, "replacements of dead workers": 0}
        windows = []  # reloads: {"start", "pids"}
        cur, pend, pend_left, first_left, owed = 1, None, 0, self.o.workers, 0
        stopping = False
        hup_handled = 0
        for line in log.splitlines():
            m = LOG_LINE.match(line)
            if not m:
                continue
            wall = datetime.datetime.strptime(m.group(1) + " " + m.group(3),
                                              "%Y-%m-%d %H:%M:%S %z").timestamp() \
                + int(m.group(2)) / 1000.0
            pid, msg = int(m.group(4)), m.group(5)
            if pid != arbiter:
                if re.match(r"worker \d+: graceful stop$", msg):
                    graceful.add(pid)
                continue
            if msg == "Handling signal: hup":
                hup_handled += 1
            elif msg in ("Handling signal: term", "Handling signal: int",
                         "Handling signal: quit"):
                stopping = True
                retired |= alive
            elif re.match(r"Reloading: starting generation \d+ with \d+ worker", msg):
                g, n = map(int, re.findall(r"\d+", msg)[:2])
                pend, pend_left = g, n
            elif re.match(r"Generation \d+ is ready; stopping generation \d+$", msg):
                g = int(re.findall(r"\d+", msg)[0])
                old = [p for p in alive if gen[p] != g and p not in retired]
                retired.update(old)
                windows.append({"start": wall, "pids": old, "retries": 0})
                cur, pend, pend_left = g, None, 0
            elif re.match(r"Reload failed: generation \d+ ", msg):
                g = int(re.findall(r"\d+", msg)[0])
                retired.update(p for p in alive if gen[p] == g)
                pend, pend_left = None, 0
            elif re.match(r"Stopping worker \(pid:\d+\)$", msg):
                retired.add(int(re.findall(r"\d+", msg)[0]))
            elif msg.startswith("Booting worker with pid: "):
                p = int(msg.split(": ")[1])
                if pend_left > 0:
                    gen[p], pend_left = pend, pend_left - 1
                    boots["reloads"] += 1
                else:
                    gen[p] = cur
                    if first_left > 0:
                        first_left -= 1
                        boots["first generation"] += 1
                    elif owed > 0:
                        owed -= 1
                        boots["replacements of dead workers"] += 1
                    else:
                        problems.append("worker %d booted (generation %d) with no kill or "
                                        "reload to explain it: %s" % (p, cur, line))
                alive.add(p)
            elif re.match(r"Worker \(pid:\d+\) (exited with code|was sent SIG)", msg):
                p = int(re.findall(r"\d+", msg)[0])
                exits[p] = (wall, msg)
                if p not in gen:
                    problems.append("exit of a worker that never booted: " + line)
                    continue
                alive.discard(p)
                if p in self.killed and msg.endswith("was sent SIGKILL! Perhaps out of memory?"):
                    how["killed"] += 1
                elif p in retired and msg.endswith("exited with code 0") and p in graceful:
                    how["retired"] += 1
                else:
                    how["unexplained"] += 1
                    problems.append("worker %d (generation %d) exited with no kill or reload "
                                    "to explain it: %s" % (p, gen[p], line))
                if p not in retired and gen[p] == cur and not stopping:
                    owed += 1  # the arbiter replaces it
            elif ("WORKER TIMEOUT" in msg or "did not stop within" in msg
                  or "Workers keep dying" in msg):
                problems.append(line)
        for p in sorted(alive):
            problems.append("worker %d (generation %d) never exited" % (p, gen[p]))
        for _, p in self.kills:
            if p not in exits:
                problems.append("worker %d was SIGKILLed but its exit is not in the log" % p)
        ready = log.count(" is ready; stopping generation ")
        ignored = log.count("Reload already in progress")
        begun = log.count("Hang up: Master")
        # each SIGHUP begins a reload, or comes during one and is folded into
        # the one more reload that follows it (several into one)
        if (hup_handled != self.hups or begun != ready or ready > self.hups
                or ready + ignored < self.hups
                or log.rfind("Reload already in progress") > log.rfind("Hang up: Master")):
            problems.append("%d SIGHUP sent, %d handled, %d reloads begun, %d new generations "
                            "ready, %d during a reload" % (self.hups, hup_handled, begun, ready,
                                                           ignored))

        # a retry is a connection an old worker closed while it stopped
        for w in windows:
            ends = [exits[p][0] for p in w["pids"] if p in exits]
            w["end"] = max(ends + [w["start"]]) + RETRY_SLACK
        outside = []
        for t in st.retry_times:
            w = next((w for w in windows if w["start"] - 0.5 <= t <= w["end"]), None)
            if w is None:
                outside.append(t)
            else:
                w["retries"] += 1
        for t in outside[:10]:
            problems.append("a retry at %s, outside every reload (a connection closed with no "
                            "reply by a live worker)"
                            % time.strftime("%H:%M:%S", time.localtime(t)))
        if len(outside) > 10:
            problems.append("%d more retries outside every reload" % (len(outside) - 10))
        for w in windows:
            w["most"] = self.o.clients * len(w["pids"]) * self.o.threads
            if w["retries"] > w["most"]:
                problems.append("%d retries in the reload at %s: more than the %d connections "
                                "it can close" % (w["retries"], time.strftime(
                                    "%H:%M:%S", time.localtime(w["start"])), w["most"]))

        # a kill cuts at most the one connection of each client to its victim
        cut = {p: 0 for _, p in self.kills}
        for t, p in st.lost:
            if p is None:
                before = [k for k in self.kills if k[0] <= t + 0.5]
                p = before[-1][1] if before else None
            if p in cut:
                cut[p] += 1
        for p, n in cut.items():
            if n > self.o.clients:
                problems.append("%d calls lost to the kill of worker %d: more than the %d "
                                "connections it can cut" % (n, p, self.o.clients))

        lines = [
            "SIGHUP sent: %d; handled: %d; new generations ready: %d; during a reload "
            "(followed by one more): %d; failed: %d"
            % (self.hups, hup_handled, ready, ignored, log.count("Reload failed")),
            "workers SIGKILLed: %d; booted: %d (%s)" % (
                len(self.kills), sum(boots.values()),
                ", ".join("%s %d" % kv for kv in boots.items())),
            "worker exits: %d (killed by this script %d, retired by a reload or the stop %d, "
            "unexplained %d)" % (len(exits), how["killed"], how["retired"], how["unexplained"]),
            "retries: %d, each within a reload: %s; most in one reload: %d (at most clients x "
            "old workers x threads, %d)" % (
                len(st.retry_times), "yes" if not outside else "NO, %d outside" % len(outside),
                max([w["retries"] for w in windows] + [0]),
                max([w["most"] for w in windows] + [0])),
            "calls lost to kills: most for one kill %d (at most %d)" % (
                max(list(cut.values()) + [0]), self.o.clients),
        ]
        return lines, problems

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
            self.settle()
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
        lines, acc = self.account(log)
        print("\n".join(lines))
        problems += acc
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
    p.add_argument("--config", default=os.path.join(BENCH_DIR, "thriftcorn.lua"),
                   help="a config serving bench.thrift (default: bench/thriftcorn.lua)")
    o = p.parse_args()
    if not 0 < o.minutes <= 24 * 60:
        p.error("--minutes: expected 0 < minutes <= 1440")
    sys.exit(Soak(o).run())


if __name__ == "__main__":
    main()
