#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install what building (and with "test", testing) thriftcorn needs on
# Debian 12. Run as root. Only Debian's package archive is used. "interop"
# installs what the interop matrix needs: the test packages and the Apache
# Thrift client libraries of docs/interop.md, which "test" installs too
# (about 2.5 minutes more on a 2-core machine).
set -eu
here=$(dirname "$0")
pkgs=$(cat "$here/packages-build.txt")
if [ "${1:-}" = "test" ]; then
    pkgs="$pkgs $(cat "$here/packages-test.txt") $(cat "$here/packages-interop.txt")"
elif [ "${1:-}" = "interop" ]; then
    pkgs="$pkgs $(cat "$here/packages-test.txt" "$here/packages-interop.txt")"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
