#!/usr/bin/env bash
# Installs every dependency, builds everything (proxy, tests, benchmarks) and runs the whole
# test suite under ctest. What CI runs (.ci/run); the ctest summary is the last thing printed.
#   scripts/test.sh                 Release build in build/
#   BUILD_DIR=b scripts/test.sh     elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
scripts/install-deps.sh
cmake -S . -B "$build_dir" -G Ninja
cmake --build "$build_dir" -j "$(nproc)"
exec ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 900
