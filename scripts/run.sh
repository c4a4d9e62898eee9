#!/usr/bin/env bash
# Installs what building needs, builds the proxy and runs it with its defaults (an explicit
# proxy on 127.0.0.1:8080, diagnostics on 127.0.0.1:9090). Extra arguments go to hoplens.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
scripts/install-deps.sh --build
cmake -S . -B "$build_dir" -G Ninja
cmake --build "$build_dir" --target hoplens -j "$(nproc)"
exec "$build_dir/proxy/hoplens" "$@"
