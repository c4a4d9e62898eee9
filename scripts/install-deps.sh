#!/usr/bin/env bash
# Installs every build and test dependency of hoplens from Debian 12's packages, and the
# browser/HAR test drivers from npm into tests/js/node_modules (never global).
# Idempotent: a second run installs nothing new. Run as root (or with sudo).
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --build  only what building and running the proxy needs
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake ninja-build ccache pkg-config
    libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
    libssl-dev node-llhttp libspdlog-dev doctest-dev zlib1g-dev libbrotli-dev)
test_pkgs=(curl openssl nginx-light tshark chromium libnss3-tools nodejs npm prometheus
    iproute2 procps python3 python3-websockets strace wrk buildah podman runc debootstrap clang libclang-rt-14-dev)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
want=("${build_pkgs[@]}")
[ "${1:-}" = "--build" ] || want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere on the machine; do not fight a working install.
if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" != "--build" ] && [ ! -d tests/js/node_modules/playwright-core ] ||
   [ "${1:-}" != "--build" ] && [ ! -d tests/js/node_modules/har-validator ]; then
    (cd tests/js && npm ci --no-audit --no-fund 2>/dev/null || npm install --no-audit --no-fund)
fi
