#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Instructions per call without the network (docs/performance.md, "Per call
# without the network"): bench/dispatch_bench runs under callgrind twice per
# call, with FEW and MANY measured calls, and (instructions of MANY - those
# of FEW) / (MANY - FEW) is what one warm call costs, start-up and warm-up
# cancelling out. Lua seeds its string hashes from the clock, so a count
# moves by about 2% from run to run: the median of REPS is printed. Prints a
# markdown table, Lua handler and C plugin side by side.
#
#   bench/run_dispatch.sh [BUILD_DIR] [CALL...]    (default: build-bench;
#       calls ping add echo:100 roundtrip batch:100)
#   env: FEW (200), MANY (1000), REPS (3), PROTOCOL (binary)
#
# Build first: cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
#              cmake --build build-bench --target dispatch_bench bench_c
set -eu

BUILD=${1:-build-bench}
[ $# -gt 0 ] && shift
CALLS=${*:-ping add echo:100 roundtrip batch:100}
FEW=${FEW:-200}
MANY=${MANY:-1000}
REPS=${REPS:-3}
PROTOCOL=${PROTOCOL:-binary}
SRC=$(cd "$(dirname "$0")/.." && pwd)
EXE="$BUILD/bench/dispatch_bench"
PLUGIN="$BUILD/bench/libbench_c.so"

command -v valgrind >/dev/null || { echo "run_dispatch.sh: valgrind is not installed" >&2; exit 1; }
for f in "$EXE" "$PLUGIN"; do
    [ -e "$f" ] || { echo "run_dispatch.sh: $f not built" >&2; exit 1; }
done
if [ "$MANY" -le "$FEW" ]; then
    echo "run_dispatch.sh: MANY ($MANY) must be more than FEW ($FEW)" >&2
    exit 2
fi
PLUGIN=$(cd "$(dirname "$PLUGIN")" && pwd)/libbench_c.so
WORK=$(mktemp -d /tmp/tc-dispatch.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# instructions CONFIG CALL N: callgrind's total for a run of N calls
instructions() {
    if ! THRIFTCORN_BENCH_PLUGIN=$PLUGIN valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null "$EXE" "$1" "$2" "$3" "$PROTOCOL" \
        >"$WORK/out" 2>"$WORK/err"; then
        echo "run_dispatch.sh: dispatch_bench $1 $2 $3 failed:" >&2
        cat "$WORK/out" "$WORK/err" >&2
        exit 1
    fi
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/err"
}

# per_call CONFIG CALL: the median over REPS of one warm call's instructions
per_call() {
    i=0
    all=""
    while [ "$i" -lt "$REPS" ]; do
        a=$(instructions "$1" "$2" "$FEW")
        b=$(instructions "$1" "$2" "$MANY")
        all="$all $(( (b - a) / (MANY - FEW) ))"
        i=$((i + 1))
    done
    echo $all | tr ' ' '\n' | sort -n | sed -n "$(( (REPS + 1) / 2 ))p"
}

# thousands separators, as the tables in docs/performance.md have them
commas() {
    echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'
}

cd "$SRC"
echo "Instructions per call, $PROTOCOL protocol, $(date -u '+%Y-%m-%d'), thriftcorn $(git describe --always --dirty 2>/dev/null || echo unknown): the median of $REPS differences of $MANY and $FEW calls"
echo
echo "| call | Lua handler | C plugin |"
echo "| --- | ---: | ---: |"
for call in $CALLS; do
    lua=$(per_call bench/thriftcorn.lua "$call")
    c=$(per_call bench/thriftcorn-c.lua "$call")
    echo "| \`$call\` | $(commas "$lua") | $(commas "$c") |"
done
