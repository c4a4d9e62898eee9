#!/usr/bin/env bash
# Installs every dependency, builds everything (proxy, tests, benchmarks) and runs the whole
# test suite under ctest. What CI runs (.ci/run); the ctest summary is the last thing printed.
#   scripts/test.sh                 Release build in build/
#   BUILD_DIR=b scripts/test.sh     elsewhere
#   CLANG=0 scripts/test.sh         without the clang build
# Before the GCC build's suite, the tree is also built with clang (GCC alone let code that
# clang rejects land unnoticed), and there the unit tests and the fuzz targets' corpus
# replays run; the integration tests run once, with the GCC build.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
scripts/install-deps.sh
# tshark picks a TCP conversation's dissector by its ports before any heuristic: a connection
# whose ephemeral port tshark registers for another protocol (44818 EtherNet/IP, 57000 IRC,
# ...) is not read as HTTP, and a capture test counting HTTP requests fails by chance. The
# kernel hands out none of those ports from here on, until a reboot (root only; ports
# reserved before stay reserved).
if [ -w /proc/sys/net/ipv4/ip_local_reserved_ports ]; then
    read -r low high < /proc/sys/net/ipv4/ip_local_port_range
    { cat /proc/sys/net/ipv4/ip_local_reserved_ports
      tshark -G decodes 2>/dev/null | awk -F'\t' -v lo="$low" -v hi="$high" \
          '$1 == "tcp.port" && $2 >= lo && $2 <= hi { print $2 }'
    } | tr ',' '\n' | grep -v '^$' | sort -un | paste -sd, - > /proc/sys/net/ipv4/ip_local_reserved_ports || true
fi
if [ "${CLANG:-1}" != 0 ]; then
    CC=clang CXX=clang++ cmake -S . -B "$build_dir-clang" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
    cmake --build "$build_dir-clang" -j "$(nproc)"
    ctest --test-dir "$build_dir-clang" --output-on-failure -j 2 --timeout 900 -LE integration
fi
cmake -S . -B "$build_dir" -G Ninja
cmake --build "$build_dir" -j "$(nproc)"
exec ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 900
