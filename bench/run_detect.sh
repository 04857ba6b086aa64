#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What transport = "auto" / protocol = "auto" cost per call: the benchmark
# service (bench/thriftcorn.lua) with the same framed binary load, served
# with a fixed transport and protocol and with auto-detection, in
# alternating runs (server on CPU 0, load on CPU 1); prints each run and the
# median calls/s of each. Builds nothing:
#   bench/run_detect.sh BUILD_DIR
# env: ROUNDS (6), DURATION (2 s), CONNS (16), PIPELINE (8), PORT (19377)
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-2}
CONNS=${CONNS:-16}
PIPELINE=${PIPELINE:-8}
PORT=${PORT:-19377}
WORK=$(mktemp -d /tmp/tc-detect.XXXXXX)
PID=""
cleanup() {
    if [ -n "$PID" ]; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

run() { # mode transport protocol
    taskset -c 0 "$BUILD/thriftcorn" "$SRC/bench/thriftcorn.lua" --bind "127.0.0.1:$PORT" \
        --transport "$2" --protocol "$3" --errorlog "$WORK/$1.log" &
    PID=$!
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    taskset -c 1 "$BUILD/thriftcorn-bench" -p "$PORT" --call ping -c "$CONNS" -P "$PIPELINE" \
        -d "$DURATION" --warmup 0.5 --json >"$WORK/out.json"
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
    local rps
    rps=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["errors"] == 0; print(d["rps"])' "$WORK/out.json")
    echo "$1 $rps" >>"$WORK/results"
    echo "$1: $rps calls/s"
}

for _ in $(seq 1 "$ROUNDS"); do
    run fixed framed binary
    run auto auto auto
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    mode, rps = line.split()
    runs.setdefault(mode, []).append(float(rps))
fixed, auto = statistics.median(runs["fixed"]), statistics.median(runs["auto"])
print("median calls/s: fixed %.0f, auto %.0f (auto/fixed %.3f)" % (fixed, auto, auto / fixed))
PY
