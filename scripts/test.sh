#!/bin/sh
# Install, build and run every test: a -Werror build with AddressSanitizer
# and UndefinedBehaviorSanitizer, all CTest labels. Exits non-zero on any
# failed test. Usage: sh scripts/test.sh [extra ctest args]
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh test
build=${TC_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DTC_WERROR=ON -DTC_ASAN=ON -DTC_REQUIRE_TESTS=ON
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j2 "$@"
