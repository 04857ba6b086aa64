#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The codec micro-benchmark (docs/performance.md, "Codec"): decode+encode of
# bench.Item per second, thriftcorn's Lua-value codec against Apache Thrift's
# generated C++, binary and compact. Each run is pinned to one CPU; the
# median of REPS runs is reported with the ratio thriftcorn/Apache.
#
#   bench/run_codec.sh [BUILD_DIR]      (default: build-bench)
#   env: ITERATIONS (1000000), REPS (3), CPU (1)
#
# Build first: cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
#              cmake --build build-bench --target codec_bench codec_bench_cpp
set -eu

BUILD=${1:-build-bench}
ITERATIONS=${ITERATIONS:-1000000}
REPS=${REPS:-3}
CPU=${CPU:-1}
TC="$BUILD/bench/codec_bench"
CPP="$BUILD/bench/codec_bench_cpp"

if [ ! -x "$TC" ]; then
    echo "run_codec.sh: $TC not built" >&2
    exit 1
fi
PIN=""
if command -v taskset >/dev/null 2>&1; then
    PIN="taskset -c $CPU"
fi

# ops/s of one run: run EXE PROTOCOL
run() {
    $PIN "$1" "$2" "$ITERATIONS" | sed -n 's/.*ops_per_sec=\([0-9]*\).*/\1/p'
}

# The median of REPS runs: median EXE PROTOCOL
median() {
    i=0
    all=""
    while [ "$i" -lt "$REPS" ]; do
        v=$(run "$1" "$2")
        if [ -z "$v" ]; then
            echo "run_codec.sh: $1 $2 printed no result" >&2
            exit 1
        fi
        all="$all $v"
        i=$((i + 1))
    done
    echo "$all" | tr ' ' '\n' | sed '/^$/d' | sort -n |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

echo "codec micro-benchmark: bench.Item decode+encode, $ITERATIONS iterations," \
    "median of $REPS, ${PIN:-unpinned}"
echo
echo "| protocol | thriftcorn (Lua values) ops/s | Apache Thrift C++ ops/s | thriftcorn/Apache |"
echo "| --- | ---: | ---: | ---: |"
for proto in binary compact; do
    tc=$(median "$TC" "$proto")
    if [ -x "$CPP" ]; then
        cpp=$(median "$CPP" "$proto")
        ratio=$(awk -v a="$tc" -v b="$cpp" 'BEGIN { printf "%.2f", a / b }')
    else
        cpp="not built"
        ratio="n/a"
    fi
    echo "| $proto | $tc | $cpp | $ratio |"
done
