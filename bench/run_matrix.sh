#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The load matrix of docs/performance.md: thriftcorn with the Lua handler
# (bench/thriftcorn.lua) and with the C plugin (bench/thriftcorn-c.lua, the
# build's bench/libbench_c.so) and Apache Thrift's C++ servers
# (thriftcorn-anchor-server) under the same
# calls from thriftcorn-bench; the ping tables also have the I/O ceiling, a
# bare epoll loop that answers ping and nothing else (thriftcorn-raw-ping). Every server runs on CPU 0 and the load on
# CPU 1, framed binary, one fresh server per run, WARMUP s then DURATION s.
# The results replace the generated part of docs/performance.md (between
# its "run_matrix.sh" marker comments; the rest of the file is left alone).
# Builds nothing: build first, e.g.
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2
#   bench/run_matrix.sh build-bench
# env: DURATION (3), WARMUP (1), PORT (19090), POOL (64: thread-manager size
# of the pooled anchors), DOC (docs/performance.md), SERVER_CPU (0), LOAD_CPU (1),
# PASSES (3: the whole matrix is run that many times over, and each table
# gives the medians of the passes, the ratios with their range);
# on a shared machine: QUIET_WAIT (15 s to wait for idle CPUs before a run),
# NOISE_MAX (15: % of the CPUs other processes may use before a run is
# repeated), ATTEMPTS (3 per run), RETRY_BUDGET (150 s of repeats per pass);
# COMMIT names what BUILD_DIR was built from (default: git describe of this
# tree, "-dirty" when it has changes).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
PORT=${PORT:-19090}
POOL=${POOL:-64}
DOC=${DOC:-$SRC/docs/performance.md}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
QUIET_WAIT=${QUIET_WAIT:-15}
NOISE_MAX=${NOISE_MAX:-15}
ATTEMPTS=${ATTEMPTS:-3}
RETRY_BUDGET=${RETRY_BUDGET:-150}
PASSES=${PASSES:-3}
TC=$BUILD/thriftcorn
BENCH=$BUILD/thriftcorn-bench
ANCHOR=$BUILD/thriftcorn-anchor-server
RAW=$BUILD/thriftcorn-raw-ping
PLUGIN=$BUILD/bench/libbench_c.so
for exe in "$TC" "$BENCH" "$ANCHOR" "$RAW"; do
    if [ ! -x "$exe" ]; then
        echo "run_matrix.sh: $exe is not built" >&2
        exit 1
    fi
done
for tool in /usr/bin/time taskset; do
    if ! command -v "$tool" >/dev/null; then
        echo "run_matrix.sh: $tool is missing (Debian packages time, util-linux)" >&2
        exit 1
    fi
done
if [ ! -f "$PLUGIN" ]; then
    echo "run_matrix.sh: $PLUGIN is not built (target bench_c)" >&2
    exit 1
fi
WORK=$(mktemp -d /tmp/tc-matrix.XXXXXX)
RESULTS=$WORK/results.tsv
SERVER_PID=""
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

# name|command of each server; @PORT@ is replaced by the port. The names of
# thriftcorn's rows start with "thriftcorn", the raw loop's with "raw" (it
# runs in the ping tables only); every other row is an Apache one.
SERVERS=(
    "thriftcorn, Lua handler|$TC $SRC/bench/thriftcorn.lua --bind 127.0.0.1:@PORT@ --errorlog $WORK/thriftcorn.log"
    "thriftcorn, C plugin|env THRIFTCORN_BENCH_PLUGIN=$PLUGIN $TC $SRC/bench/thriftcorn-c.lua --bind 127.0.0.1:@PORT@ --errorlog $WORK/thriftcorn.log"
    "TNonblockingServer, handlers on its I/O thread|$ANCHOR --server nonblocking --workers 0 --port @PORT@"
    "TNonblockingServer + $POOL-thread pool|$ANCHOR --server nonblocking --workers $POOL --port @PORT@"
    "TThreadPoolServer, $POOL threads|$ANCHOR --server threadpool --workers $POOL --port @PORT@"
    "TThreadedServer|$ANCHOR --server threaded --port @PORT@"
    "raw epoll loop, ping only|$RAW --port @PORT@"
)
# call|connections
CALLS=("ping|32" "ping|64" "roundtrip|64" "batch:100|64" "sleep:10|64")

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

# CPU ticks (user+system) of a process and its children processes
proc_ticks() {
    local total=0 p
    for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        if [ -r "/proc/$p/stat" ]; then
            total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
        fi
    done
    echo "$total"
}

# busy ticks of the two CPUs (everything but idle and iowait)
cpu_busy_ticks() {
    awk -v a="cpu$SERVER_CPU" -v b="cpu$LOAD_CPU" \
        '$1 == a || $1 == b { s += $2 + $3 + $4 + $7 + $8 + $9 } END { print s }' /proc/stat
}

start_server() {
    local cmd=${1//@PORT@/$PORT}
    if port_open; then
        echo "run_matrix.sh: something already listens on port $PORT" >&2
        exit 1
    fi
    # shellcheck disable=SC2086
    taskset -c "$SERVER_CPU" $cmd >"$WORK/server.out" 2>&1 &
    SERVER_PID=$!
    # ready when it answers a ping (thriftcorn listens before its workers boot)
    for _ in $(seq 100); do
        if port_open && "$BENCH" --port "$PORT" -c 1 -n 1 --warmup 0 --timeout 5 --call ping \
            --json >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "run_matrix.sh: the server did not start: $cmd" >&2
    cat "$WORK/server.out" >&2
    exit 1
}

stop_server() {
    if [ -z "$SERVER_PID" ]; then
        return 0
    fi
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# Wait (at most QUIET_WAIT s) until both CPUs are at least 90% idle over
# half a second: other users' jobs on a shared machine make runs noisy.
wait_quiet() {
    local a b busy idle deadline=$((SECONDS + QUIET_WAIT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        a=$(awk -v x="cpu$SERVER_CPU" -v y="cpu$LOAD_CPU" \
            '$1 == x || $1 == y { b += $2 + $3 + $4 + $7 + $8 + $9; i += $5 + $6 } END { print b, i }' /proc/stat)
        sleep 0.5
        b=$(awk -v x="cpu$SERVER_CPU" -v y="cpu$LOAD_CPU" \
            '$1 == x || $1 == y { b += $2 + $3 + $4 + $7 + $8 + $9; i += $5 + $6 } END { print b, i }' /proc/stat)
        busy=$((${b% *} - ${a% *}))
        idle=$((${b#* } - ${a#* }))
        if [ $((busy * 10)) -le $((busy + idle)) ]; then
            return 0
        fi
    done
    echo "run_matrix.sh: the CPUs are not quiet; running anyway" >&2
}

# One run: prints "rps p50_us p99_us errors server_cpu other_cpu cpu_us_per_call",
# tab-separated; the last is the server's CPU time over every call answered.
run_one() {
    local cmd=$1 what=$2 c=$3 s0 s1 b0 b1 t0 t1 json
    start_server "$cmd"
    s0=$(proc_ticks "$SERVER_PID")
    b0=$(cpu_busy_ticks)
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    /usr/bin/time -o "$WORK/time" -f "%U %S" taskset -c "$LOAD_CPU" \
        "$BENCH" --port "$PORT" $BENCH_ARGS -c "$c" --call "$what" \
        >"$WORK/out.json" 2>"$WORK/err.txt" || true
    t1=$(date +%s.%N)
    s1=$(proc_ticks "$SERVER_PID")
    b1=$(cpu_busy_ticks)
    stop_server
    json=$(grep '^{' "$WORK/out.json" || echo '{}')
    # server CPU as a share of one CPU; "other": what else ran on the two
    # CPUs during the run, the load generator's own time taken out
    python3 - "$json" "$s0" "$s1" "$b0" "$b1" "$t0" "$t1" "$HZ" "$WORK/time" <<'EOF'
import json, sys
j = json.loads(sys.argv[1])
s0, s1, b0, b1 = (int(x) for x in sys.argv[2:6])
t0, t1, hz = float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
u, s = (float(x) for x in open(sys.argv[9]).read().split()[-2:])
wall = t1 - t0
server = (s1 - s0) / hz
other = max(0.0, (b1 - b0) / hz - server - (u + s))
answered = j.get("answered", 0)
print("\t".join(str(x) for x in (j.get("rps", 0), j.get("p50_us", 0), j.get("p99_us", 0),
                                  j.get("errors", "failed"), round(100 * server / wall),
                                  round(100 * other / wall),
                                  round(1e6 * server / answered, 1) if answered else 0)))
EOF
}

BENCH_ARGS="--transport framed --protocol binary -d $DURATION --warmup $WARMUP --json"
HZ=$(getconf CLK_TCK)
printf 'server\tcall\tconns\trps\tp50_us\tp99_us\terrors\tserver_cpu\tother_cpu\tcpu_us\tattempts\tpass\n' \
    >"$RESULTS"
runs=0
# pass by pass; in a pass call by call, every server in turn: the servers
# compared in one table run close together in time, and the passes show
# how much a ratio moves with the machine
for pass in $(seq "$PASSES"); do
    RETRY_DEADLINE=$((SECONDS + RETRY_BUDGET))
    for call in "${CALLS[@]}"; do
        c=${call#*|}
        what=${call%%|*}
        for server in "${SERVERS[@]}"; do
            name=${server%%|*}
            cmd=${server#*|}
            if [[ $name == raw* && $what != ping ]]; then
                continue
            fi
            # a run disturbed by other processes is repeated (up to ATTEMPTS times
            # in all, within RETRY_BUDGET s for the whole pass); the least
            # disturbed attempt is kept
            best=""
            attempt=0
            while :; do
                attempt=$((attempt + 1))
                wait_quiet
                line=$(run_one "$cmd" "$what" "$c")
                other=$(echo "$line" | cut -f6)
                if [ -z "$best" ] || [ "$other" -lt "$(echo "$best" | cut -f6)" ]; then
                    best=$line
                fi
                if [ "$other" -le "$NOISE_MAX" ] || [ "$attempt" -ge "$ATTEMPTS" ] ||
                    [ "$SECONDS" -ge "$RETRY_DEADLINE" ]; then
                    break
                fi
            done
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$what" "$c" "$best" "$attempt" "$pass" \
                >>"$RESULTS"
            printf 'pass %s: %-48s %-10s c=%-3s %s (attempts: %s)\n' "$pass" "$name" "$what" "$c" \
                "$best" "$attempt"
            if [ -s "$WORK/err.txt" ]; then
                sed 's/^/    /' "$WORK/err.txt" | head -5
            fi
            runs=$((runs + 1))
        done
    done
done

# ---- the document ----
COMMIT=${COMMIT:-$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)}
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
THRIFT_VERSION=$(pkg-config --modversion thrift 2>/dev/null || echo unknown)
export COMMIT BUILD_TYPE MODEL THRIFT_VERSION DURATION WARMUP POOL SERVER_CPU LOAD_CPU
export BENCH_ARGS PORT SRC BUILD NOISE_MAX ATTEMPTS PASSES
export SERVER_LIST
SERVER_LIST=$(printf '%s\n' "${SERVERS[@]}")
python3 - "$RESULTS" "$DOC" <<'EOF'
import datetime, os, platform, sys

results, doc_path = sys.argv[1], sys.argv[2]
env = os.environ
rows = [l.rstrip("\n").split("\t") for l in open(results)][1:]
BEGIN = "<!-- run_matrix.sh: begin (generated by bench/run_matrix.sh; do not edit by hand) -->"
END = "<!-- run_matrix.sh: end -->"
src = env["SRC"]

def short(path):
    return path.replace(src + "/", "").replace("/tmp/", "")

def num(x):
    try:
        return float(x)
    except ValueError:
        return 0.0

calls = []
for r in rows:
    if (r[1], r[2]) not in calls:
        calls.append((r[1], r[2]))
passes = sorted({r[11] for r in rows}, key=int)

def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return 0.0
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2

def spread(xs, fmt):
    """The median of the passes' values, and their range when there are several."""
    m = fmt % median(xs)
    return m if len(xs) < 2 else "%s (%s–%s)" % (m, fmt % min(xs), fmt % max(xs))

intro = ("Generated by `bench/run_matrix.sh` on %s. Machine: %d CPUs (`nproc`), %s, Linux %s. "
         "thriftcorn `%s` (%s build), Apache Thrift %s (Debian's libthrift). Each run starts a "
         "fresh server pinned to CPU %s and `thriftcorn-bench` pinned to CPU %s, framed binary, "
         "%s s of warm-up then %s s measured; the whole matrix ran %d times over (passes), "
         "and every number below is the median of the passes, a ratio followed by its range "
         "over the passes. Calls/s and latency are the tool's; server CPU "
         "is the server's share of one CPU, and CPU µs per call its CPU time over every call it "
         "answered (warm-up included): the measure least disturbed by other processes. "
         "\"other CPU\" is what other processes used of "
         "the two CPUs meanwhile, in %% of one CPU: a run with more than %s%% was repeated, "
         "up to %s runs, and the least disturbed one kept (\"runs\", summed over the passes). "
         "thriftcorn serves the "
         "calls twice: with the Lua handler (`bench/handler.lua`) and with the C plugin "
         "(`bench/plugin/bench_plugin.c`), on the same settings. \"vs fastest Apache\" is "
         "thriftcorn's calls/s divided by those of the fastest Apache server of the same call "
         "in the same pass; "
         "\"leanest / thriftcorn\" is the CPU per call of the Apache server that needs the "
         "least, divided by thriftcorn's (above 1: thriftcorn needs less). The `ping` tables "
         "also run the I/O ceiling, `thriftcorn-raw-ping` (`bench/anchors/raw_ping.c`): one "
         "epoll loop that answers every call as `ping` is answered, with a `read` and a "
         "`write` per batch and nothing else, no Thrift library; \"of the raw loop\" is "
         "thriftcorn's calls/s over its calls/s in the same pass."
         % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            os.cpu_count(), env["MODEL"], platform.release(), env["COMMIT"],
            env["BUILD_TYPE"] or "unknown", env["THRIFT_VERSION"], env["SERVER_CPU"],
            env["LOAD_CPU"], env["WARMUP"], env["DURATION"], len(passes), env["NOISE_MAX"],
            env["ATTEMPTS"]))

def thriftcorn(r):
    return r[0].startswith("thriftcorn")

def raw(r):
    return r[0].startswith("raw")

def apache(r):
    return not thriftcorn(r) and not raw(r)

summary = ["| call | connections | thriftcorn handler | thriftcorn calls/s | fastest Apache server "
           "| its calls/s | thriftcorn / fastest | thriftcorn CPU µs per call "
           "| leanest Apache server | its CPU µs per call | leanest / thriftcorn "
           "| of the raw loop |",
           "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"]
sections = []
for call, conns in calls:
    sel = [r for r in rows if r[1] == call and r[2] == conns]
    names = []
    for r in sel:
        if r[0] not in names:
            names.append(r[0])
    # per server: its runs, one per pass
    runs_of = {n: [r for r in sel if r[0] == n] for n in names}
    clean = {n: all(r[6] == "0" for r in runs_of[n]) for n in names}
    med = {n: {k: median([num(r[k]) for r in runs_of[n]]) for k in (3, 4, 5, 7, 8, 9)}
           for n in names}
    # per pass: the fastest clean Apache server, and the raw loop
    best_in, raw_in = {}, {}
    for ps in passes:
        cands = [r for r in sel if r[11] == ps and apache(r) and r[6] == "0" and num(r[3]) > 0]
        if cands:
            best_in[ps] = max(cands, key=lambda r: num(r[3]))
        ceil = [r for r in sel if r[11] == ps and raw(r) and r[6] == "0" and num(r[3]) > 0]
        if ceil:
            raw_in[ps] = ceil[0]
    ap = [n for n in names if not n.startswith(("thriftcorn", "raw")) and clean[n]]
    best = max(ap, key=lambda n: med[n][3], default=None)
    lean = min((n for n in ap if med[n][9] > 0), key=lambda n: med[n][9], default=None)
    sections += ["### `%s`, %s connections" % (call, conns), "",
                 "| server | calls/s | p50 ms | p99 ms | errors | server CPU | CPU µs per call "
                 "| other CPU | runs | vs fastest Apache | of the raw loop |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in names:
        rs = runs_of[n]
        m = med[n]
        ratio = of_raw = ""
        if n.startswith("thriftcorn"):
            vs = [num(r[3]) / num(best_in[r[11]][3]) for r in rs if r[11] in best_in]
            vr = [num(r[3]) / num(raw_in[r[11]][3]) for r in rs if r[11] in raw_in]
            if vs:
                ratio = "**%s**" % spread(vs, "%.2fx")
            if vr:
                of_raw = spread([100 * x for x in vr], "%.0f%%")
            if best is not None and vs:
                eff = ("| %s | %.1f | %.2f" % (lean, med[lean][9], med[lean][9] / m[9])
                       if lean is not None and m[9] > 0 else "| | |")
                handler = n.split(", ", 1)[1] if ", " in n else ""
                summary.append("| `%s` | %s | %s | %.0f | %s | %.0f | %s | %.1f %s | %s |"
                               % (call, conns, handler, m[3], best, med[best][3],
                                  spread(vs, "%.2f"), m[9], eff, of_raw))
        errors = sum(int(r[6]) if r[6].isdigit() else 0 for r in rs)
        failed = any(not r[6].isdigit() for r in rs)
        sections.append("| %s | %.0f | %.2f | %.2f | %s | %.0f%% | %.1f | %.0f%% | %d | %s | %s |"
                        % (n, m[3], m[4] / 1000, m[5] / 1000,
                           "failed" if failed else errors, m[7], m[9], m[8],
                           sum(int(r[10]) for r in rs), ratio, of_raw))
    sections.append("")

out = [BEGIN, "", "## Load: thriftcorn against Apache Thrift's C++ servers", "", intro, ""]
out += summary + [""] + sections
out.append("### Commands")
out.append("")
out.append("```sh")
out.append("bench/run_matrix.sh BUILD_DIR   # DURATION=%s WARMUP=%s POOL=%s PORT=%s PASSES=%s"
           % (env["DURATION"], env["WARMUP"], env["POOL"], env["PORT"], env["PASSES"]))
out.append("# each server, started fresh for each run:")
for s in env["SERVER_LIST"].splitlines():
    name, cmd = s.split("|", 1)
    cmd = (cmd.replace(env["BUILD"] + "/", "BUILD_DIR/").replace(src + "/", "")
           .replace("@PORT@", env["PORT"]))
    words = [w if not w.startswith("/") else "BUILD_DIR/" + os.path.basename(w) for w in cmd.split()]
    if "--errorlog" in words:
        i = words.index("--errorlog")
        words[i + 1] = "LOG"
    out.append("taskset -c %s %s" % (env["SERVER_CPU"], " ".join(words)))
out.append("# the load, for each CALL and CONNECTIONS of the tables:")
out.append("taskset -c %s BUILD_DIR/thriftcorn-bench --port %s %s -c CONNECTIONS --call CALL"
           % (env["LOAD_CPU"], env["PORT"], env["BENCH_ARGS"]))
out.append("```")
out.append("")
out.append(END)
block = "\n".join(out)

try:
    text = open(doc_path).read()
except FileNotFoundError:
    text = "# Performance\n\n" + BEGIN + "\n" + END + "\n"
if BEGIN in text and END in text:
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    text = head + block + tail
else:
    # first time: after the title, before any other section (e.g. "## Codec")
    lines = text.split("\n")
    at = next((i for i, l in enumerate(lines) if l.startswith("## ")), len(lines))
    text = "\n".join(lines[:at]).rstrip("\n") + "\n\n" + block + "\n\n" + "\n".join(lines[at:])
open(doc_path, "w").write(text.rstrip("\n") + "\n")
print("run_matrix.sh: wrote %s" % doc_path)
EOF
echo "run_matrix.sh: $runs runs"
