#!/usr/bin/env bash
# The container use case, for real: build docker/Dockerfile with buildah (no Docker daemon
# here; TESTING-NOTES.md) on a debian:bookworm base made locally with debootstrap, run it with
# podman with the data dir on a volume, and check the proxy inside: the CA created on the
# volume (key 0600), /healthz and /ca.pem from the diag endpoint, a clean exit on SIGTERM.
# Skips (77) only when Debian's mirror cannot be reached for the base image.
set -euo pipefail
src=${HOPLENS_SOURCE_DIR:?}
work=$(mktemp -d /tmp/hoplens-docker-XXXXXX)
base_cache=/var/tmp/hoplens-debian-bookworm-rootfs.tar
storage=(--storage-driver vfs)
podman_run=(podman "${storage[@]}" --runtime /usr/sbin/runc --cgroup-manager cgroupfs
            --events-backend file run --pull=never --network host
            --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
cleanup() {
    podman "${storage[@]}" --runtime /usr/sbin/runc --cgroup-manager cgroupfs --events-backend file \
        rm -f hoplens-test >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$work/run.log" ] && tail -20 "$work/run.log"; exit 1; }

for tool in buildah podman debootstrap; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done

if ! buildah "${storage[@]}" images -q docker.io/library/debian:bookworm 2>/dev/null | grep -q .; then
    if [ ! -s "$base_cache" ]; then
        mirror=http://deb.debian.org/debian
        if ! timeout 600 debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/deboot.log" 2>&1; then
            echo "SKIP: debootstrap could not fetch a Debian 12 base from $mirror"; tail -3 "$work/deboot.log"
            exit 77
        fi
        tar -C "$work/rootfs" -cf "$base_cache.tmp" . && mv "$base_cache.tmp" "$base_cache"
    fi
    mkdir -p "$work/base"
    cp "$base_cache" "$work/base/rootfs.tar"
    printf 'FROM scratch\nADD rootfs.tar /\nCMD ["/bin/bash"]\n' >"$work/base/Containerfile"
    buildah "${storage[@]}" bud --isolation chroot -t docker.io/library/debian:bookworm \
        -f "$work/base/Containerfile" "$work/base" >"$work/base.log" 2>&1 || fail "base image: $(tail -3 "$work/base.log")"
fi

timeout 900 buildah "${storage[@]}" bud --isolation chroot --pull=never -t hoplens-test \
    -f "$src/docker/Dockerfile" "$src" >"$work/build.log" 2>&1 || fail "image build: $(tail -5 "$work/build.log")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
proxy_port=$(free_port); diag_port=$(free_port)
mkdir -p "$work/data"
"${podman_run[@]}" --name hoplens-test -v "$work/data:/data" hoplens-test \
    --listen "explicit@127.0.0.1:$proxy_port" --diag "127.0.0.1:$diag_port" >"$work/run.log" 2>&1 &
runner=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$diag_port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
[ "$(curl -fsS "http://127.0.0.1:$diag_port/healthz")" = "ok" ] || fail "/healthz did not answer ok"
[ -f "$work/data/ca.pem" ] || fail "no ca.pem on the volume"
[ "$(stat -c %a "$work/data/ca.key")" = "600" ] || fail "ca.key mode is $(stat -c %a "$work/data/ca.key")"
curl -fsS "http://127.0.0.1:$diag_port/ca.pem" | cmp - "$work/data/ca.pem" || fail "/ca.pem differs from the volume's"
# The proxy answers through the container: a target nobody listens on gives hoplens's 502.
code=$(curl -s -o "$work/body" -w '%{http_code}' -x "http://127.0.0.1:$proxy_port" http://127.0.0.1:9/ || true)
[ "$code" = "502" ] && grep -q "cannot connect" "$work/body" || fail "proxy answered $code: $(cat "$work/body")"
podman "${storage[@]}" --runtime /usr/sbin/runc --cgroup-manager cgroupfs --events-backend file \
    kill --signal TERM hoplens-test >/dev/null
status=0; wait "$runner" || status=$?
[ "$status" = "0" ] || fail "container exit status $status after SIGTERM"
grep -q "stopping" "$work/run.log" || fail "no drain log line"
echo "PASS: image built, proxy ran in the container with its CA on the volume, exited 0 on SIGTERM"
