#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install, build and run every test, in two builds (docs/reliability.md,
# "Sanitizers"). Exits non-zero on any failed test.
#  1. build-test: -Werror, AddressSanitizer and UndefinedBehaviorSanitizer,
#     every CTest label. LeakSanitizer checks the unit tests and the arbiter
#     at exit; workers check themselves at a graceful stop where a test asks
#     for it (THRIFTCORN_LEAK_CHECK=1: test_leaks.py).
#  2. build-test-tsan: -Werror, ThreadSanitizer, the unit and integration
#     tests but test_cpp_client and test_cli (the C++ client's transport and
#     protocol matrix and the command line, which the Python tests cover on
#     the same server paths; left out to keep the run short). A TSan report
#     in a test or in a server's log fails the test.
# Usage: sh scripts/test.sh [extra ctest args, given to both runs]
# Environment: TC_TEST_BUILD_DIR, TC_TEST_TSAN_BUILD_DIR (build folders),
# TC_TEST_TSAN=0 (skip the TSan build).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh test
build=${TC_TEST_BUILD_DIR:-build-test}
tsan=${TC_TEST_TSAN_BUILD_DIR:-build-test-tsan}
jobs=$(nproc)

echo "== ASan+UBSan build: $build, every test"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DTC_WERROR=ON -DTC_ASAN=ON -DTC_REQUIRE_TESTS=ON
cmake --build "$build" -j"$jobs"
(cd "$build" && ctest --output-on-failure --no-tests=error -j2 "$@")

if [ "${TC_TEST_TSAN:-1}" = 0 ]; then
    echo "== TSan build skipped (TC_TEST_TSAN=0)"
    exit 0
fi
echo "== TSan build: $tsan, unit and integration tests"
cmake -S . -B "$tsan" -DCMAKE_BUILD_TYPE=Debug -DTC_WERROR=ON -DTC_TSAN=ON -DTC_REQUIRE_TESTS=ON
cmake --build "$tsan" -j"$jobs"
cd "$tsan"
ctest --output-on-failure --no-tests=error -j2 -L 'unit|integration' -E 'integration/test_(cpp_client|cli)$' "$@"
