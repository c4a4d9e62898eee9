#!/bin/bash
# issue 6 §5 with the real proxy, in a private network namespace: accept-queue limit and
# overflow count against ss/nstat while hoplens is SIGSTOPped, own_inbound TIME_WAIT against
# ss, the somaxconn clamp advice, /metrics through promtool, the page in Chromium.
# (tests/diag/netns_test.sh covers the same with diag_probe standing in for the proxy.)
set -euo pipefail
if [[ ! -x "${HOPLENS_BIN:-}" ]]; then echo "SKIP: hoplens binary not built yet"; exit 77; fi
if [[ "${1:-}" != inner ]]; then
    [[ $(id -u) == 0 ]] || { echo "SKIP: needs root for unshare -n"; exit 77; }
    exec timeout 300 unshare -n "$0" inner
fi
ip link set lo up
sysctl -qw net.core.somaxconn=64
work=$(mktemp -d); export NSTAT_HISTORY=$work/nstat.history HOPLENS_DATA_DIR=$work/data
mkdir -p "$HOPLENS_ARTIFACTS"
pid=
cleanup() { [[ -n "$pid" ]] && { kill -CONT "$pid"; kill "$pid"; wait "$pid"; } 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
P=18080 D=19090 url=http://127.0.0.1:19090

start() { # BACKLOG
    "$HOPLENS_BIN" --listen "explicit@127.0.0.1:$P" --diag "127.0.0.1:$D" --backlog "$1" \
        --threads 1 > "$work/hoplens.log" 2>&1 & pid=$!
    for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && return; sleep 0.1; done
    cat "$work/hoplens.log"; fail "hoplens did not start"
}
stop() { kill -CONT "$pid"; kill "$pid"; wait "$pid" || true; pid=; }
overflows() { nstat -asz TcpExtListenOverflows | awk '/TcpExtListenOverflows/ {print $2}'; }

start 4
before=$(overflows)
kill -STOP "$pid"
python3 -c '
import socket, time
cs = []
for _ in range(12):
    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", 18080)); cs.append(c)
time.sleep(1.5)
' & clients=$!
sleep 1
read -r recvq sendq < <(ss -Hlnt "( sport = :$P )" | awk '{print $2, $3}')
wait "$clients"; sleep 0.5
after=$(overflows)
kill -CONT "$pid"
diag=$(curl -sf --max-time 10 "$url/diag")
q_max=$(jq -r '.listeners[0].accept_queue.max' <<<"$diag")
since=$(jq -r .kernel.listen_overflows_since_start <<<"$diag")
echo "ss: Recv-Q $recvq Send-Q $sendq; /diag max $q_max; overflows nstat +$((after - before)) /diag +$since"
[[ "$q_max" == "$sendq" && "$sendq" == 4 && "$recvq" == 5 ]] || fail "accept queue limit"
[[ "$since" == $((after - before)) && "$since" -gt 0 ]] || fail "overflows since start"

# 200 short connections that hoplens closes first (a malformed request gets 400 and a close).
python3 -c '
import socket
for _ in range(200):
    c = socket.create_connection(("127.0.0.1", 18080)); c.sendall(b"BAD\r\n\r\n")
    while c.recv(4096): pass
    c.close()
'
sleep 0.3
ss_in=$(ss -Htan state time-wait "( sport = :$P )" | wc -l)
own_in=$(curl -sf "$url/diag" | jq -r .time_wait.own_inbound)
echo "own_inbound $own_in, ss $ss_in"
[[ "$own_in" == "$ss_in" && "$own_in" -ge 150 ]] || fail "own_inbound"
curl -sf "$url/metrics" > "$HOPLENS_ARTIFACTS/diag_proxy_metrics.txt"
promtool check metrics < "$HOPLENS_ARTIFACTS/diag_proxy_metrics.txt" || fail promtool
stop

start 200
clamp=$(curl -sf "$url/diag" | jq -r '.advice[] | select(.id == "somaxconn_clamps_backlog") | .message')
echo "clamp: $clamp"
[[ "$clamp" == *200* && "$clamp" == *64* ]] || fail "clamp advice"
NODE_PATH="$HOPLENS_SOURCE_DIR/tests/js/node_modules" node "$HOPLENS_SOURCE_DIR/tests/diag/page_check.js" \
    "$url/" "127.0.0.1:$P" somaxconn_clamps_backlog "$HOPLENS_ARTIFACTS/diag_proxy_page.png" "$work/chrome" ||
    fail "page"
echo PASS
