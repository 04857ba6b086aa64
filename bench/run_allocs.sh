#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Heap allocations per call on the hot path (docs/performance.md): each
# server of the benchmark (Lua handler, C plugin) runs under valgrind with
# one worker and one thread, answers FEW and then MANY calls, and the
# worker's "total heap usage" (malloc, calloc, realloc, memalign: every
# allocation of the process) is compared. (allocs after MANY - allocs after
# FEW) / (MANY - FEW) is the allocations per call once warm. Prints a
# markdown table.
#   bench/run_allocs.sh BUILD_DIR [CALL...]      (default calls: ping roundtrip)
# env: FEW (1000), MANY (11000), PORT (19191)
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [CALL...]" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
shift
CALLS=("$@")
if [ ${#CALLS[@]} -eq 0 ]; then
    CALLS=(ping roundtrip)
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
FEW=${FEW:-1000}
MANY=${MANY:-11000}
PORT=${PORT:-19191}
BENCH=$BUILD/thriftcorn-bench
command -v valgrind >/dev/null || { echo "run_allocs.sh: valgrind is not installed" >&2; exit 1; }
WORK=$(mktemp -d /tmp/tc-allocs.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# allocs CONFIG CALL N: the worker's allocation count after N calls
allocs() {
    local config=$1 call=$2 n=$3 pid f
    rm -f "$WORK"/vg.*
    valgrind --log-file="$WORK/vg.%p" "$BUILD/thriftcorn" "$config" --bind "127.0.0.1:$PORT" \
        --workers 1 --threads 1 >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        if "$BENCH" --port "$PORT" -c 1 -n 1 --warmup 0 --timeout 20 --call ping --json \
            >/dev/null 2>&1; then
            break
        fi
        sleep 0.2
    done
    if ! "$BENCH" --port "$PORT" -c 4 -n "$n" --warmup 0 --timeout 60 --call "$call" --json \
        >"$WORK/bench.json" 2>&1; then
        echo "run_allocs.sh: $call against $config failed:" >&2
        cat "$WORK/bench.json" >&2
        kill -TERM "$pid"
        exit 1
    fi
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    # the worker is the process that is not the arbiter
    for f in "$WORK"/vg.*; do
        if [ "${f##*.}" != "$pid" ]; then
            grep -o 'total heap usage: [0-9,]* allocs' "$f" | tr -dc '0-9'
            return 0
        fi
    done
    echo "run_allocs.sh: no worker summary" >&2
    exit 1
}

echo "| handler | call | worker allocations after $FEW calls | after $MANY calls | per call |"
echo "| --- | --- | ---: | ---: | ---: |"
for handler in "Lua handler|$SRC/bench/thriftcorn.lua" "C plugin|$SRC/bench/thriftcorn-c.lua"; do
    name=${handler%%|*}
    config=${handler#*|}
    for call in "${CALLS[@]}"; do
        a=$(THRIFTCORN_BENCH_PLUGIN=$BUILD/bench/libbench_c.so allocs "$config" "$call" "$FEW")
        b=$(THRIFTCORN_BENCH_PLUGIN=$BUILD/bench/libbench_c.so allocs "$config" "$call" "$MANY")
        per=$(python3 -c "print(f'{max(0.0, ($b - $a) / ($MANY - $FEW)):.2f}')")
        echo "| $name | \`$call\` | $a | $b | $per |"
    done
done
