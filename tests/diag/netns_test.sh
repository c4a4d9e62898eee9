#!/bin/bash
# diag end to end in a private network namespace (counters, somaxconn and the TIME_WAIT table
# are per namespace, so nothing else on the machine disturbs the numbers). diag_probe plays
# the proxy: a listener that never accepts (backlog 4), one that accepts and closes first
# (backlog 200 > the namespace's somaxconn 64), and 30 upstream connections it closes first.
# Checks /diag against ss and nstat, /metrics with promtool, the page in Chromium, and the
# host report (`hoplens diag` path). Exit 0 pass, 77 skip, else fail.
set -euo pipefail
: "${DIAG_PROBE:?}" "${HOPLENS_SOURCE_DIR:?}" "${HOPLENS_ARTIFACTS:?}"
if [[ "${1:-}" != inner ]]; then
    [[ $(id -u) == 0 ]] || { echo "SKIP: needs root for unshare -n"; exit 77; }
    exec timeout 150 unshare -n "$0" inner
fi

ip link set lo up
sysctl -qw net.core.somaxconn=64
work=$(mktemp -d)
export NSTAT_HISTORY=$work/nstat.history
mkdir -p "$HOPLENS_ARTIFACTS"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# An upstream that reads until we close: the TIME_WAIT lands on our (the probe's) side.
python3 -c '
import socket, threading
s = socket.socket(); s.bind(("127.0.0.1", 9443)); s.listen(64)
def drain(c):
    while c.recv(4096): pass
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()
' & pids+=($!)
for _ in $(seq 50); do ss -Hltn '( sport = :9443 )' | grep -q . && break; sleep 0.1; done

mkfifo "$work/probe.in"
"$DIAG_PROBE" serve 4 200 9443 30 < "$work/probe.in" > "$work/probe.out" & pids+=($!)
exec 3> "$work/probe.in"
for _ in $(seq 100); do grep -q diag= "$work/probe.out" && break; sleep 0.1; done
read -r stuck closer diagp < <(sed 's/[a-z]*=//g' "$work/probe.out")
[[ -n "$diagp" ]] || fail "probe did not start"
url=http://127.0.0.1:$diagp
echo "stuck=$stuck closer=$closer diag=$diagp"

overflows() { nstat -asz TcpExtListenOverflows | awk '/TcpExtListenOverflows/ {print $2}'; }
before=$(overflows)

# Fill the accept queue of the listener that never accepts: 12 clients for a limit of 4.
python3 -c '
import socket, sys, time
cs = []
for _ in range(12):
    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", int(sys.argv[1]))); cs.append(c)
time.sleep(float(sys.argv[2]))
' "$stuck" 1.5 & clients=$!
sleep 1
read -r recvq sendq < <(ss -Hlnt "( sport = :$stuck )" | awk '{print $2, $3}')
diag=$(curl -sf "$url/diag")
q_now=$(jq -r ".listeners[] | select(.address == \"127.0.0.1:$stuck\") | .accept_queue.current" <<<"$diag")
q_max=$(jq -r ".listeners[] | select(.address == \"127.0.0.1:$stuck\") | .accept_queue.max" <<<"$diag")
echo "ss -lnt: Recv-Q $recvq Send-Q $sendq; /diag: current $q_now max $q_max"
[[ "$q_max" == "$sendq" && "$q_max" == 4 ]] || fail "accept queue max $q_max vs ss $sendq"
[[ "$q_now" == "$recvq" && "$q_now" == 5 ]] || fail "accept queue now $q_now vs ss $recvq"
jq -e '.advice[] | select(.id == "accept_queue_full")' <<<"$diag" >/dev/null ||
    fail "no accept_queue_full advice"

wait "$clients"   # the clients close: no more retransmitted ACKs to count
sleep 0.5
after=$(overflows)
diag=$(curl -sf "$url/diag")
since=$(jq -r .kernel.listen_overflows_since_start <<<"$diag")
drops=$(jq -r ".listeners[] | select(.address == \"127.0.0.1:$stuck\") | .drops" <<<"$diag")
echo "nstat ListenOverflows delta $((after - before)); /diag since_start $since; listener drops $drops"
[[ $((after - before)) -gt 0 && "$since" == $((after - before)) ]] || fail "overflow counts differ"
[[ "$drops" -ge "$since" ]] || fail "listener drops $drops < overflows $since"

# 200 short connections that the closer listener closes first.
python3 -c '
import socket, sys
for _ in range(200):
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    c.recv(1); c.close()
' "$closer"
sleep 0.3
# ss first: the /diag request itself leaves one more TIME_WAIT (on the diag port) after it.
ss_in=$(ss -Htan state time-wait "( sport = :$closer )" | wc -l)
ss_out=$(ss -Htan state time-wait '( dport = :9443 )' | wc -l)
ss_host=$(ss -Htan state time-wait | wc -l)
diag=$(curl -sf "$url/diag")
read -r own_in own_out host own < <(jq -r '.time_wait | "\(.own_inbound) \(.own_outbound) \(.host) \(.own)"' <<<"$diag")
echo "TIME_WAIT inbound $own_in (ss $ss_in) outbound $own_out (ss $ss_out) host $host (ss $ss_host)"
# Not always exactly 200: a client port reused for the same 4-tuple takes over the old
# server-side TIME_WAIT (RFC 6191 with timestamps). What matters is agreeing with ss.
[[ "$own_in" == "$ss_in" && "$own_in" -ge 190 ]] || fail "own_inbound"
# Outbound too: with tcp_tw_reuse (2 = loopback, the default) a connect() after a second
# boundary may take over an earlier connection's TIME_WAIT toward the same port.
[[ "$own_out" == "$ss_out" && "$own_out" -ge 25 ]] || fail "own_outbound"
[[ "$host" == "$ss_host" && "$own" == $((own_in + own_out)) ]] || fail "host / own"

# The clamp: backlog 200 above the namespace's somaxconn 64, both numbers in the message.
clamp=$(jq -r '.advice[] | select(.id == "somaxconn_clamps_backlog") | .message' <<<"$diag")
echo "clamp advice: $clamp"
[[ "$clamp" == *200* && "$clamp" == *64* ]] || fail "clamp advice missing numbers"
[[ $(jq -r ".listeners[] | select(.mode == \"sni\") | .backlog_effective" <<<"$diag") == 64 ]] ||
    fail "backlog_effective"

# Exactly DESIGN.md's top-level keys.
[[ $(jq -c 'keys' <<<"$diag") == '["advice","kernel","listeners","proxy","sysctl","tcp_states","time_wait"]' ]] ||
    fail "top-level keys $(jq -c keys <<<"$diag")"

curl -sf "$url/metrics" > "$HOPLENS_ARTIFACTS/diag_metrics.txt"
promtool check metrics < "$HOPLENS_ARTIFACTS/diag_metrics.txt" || fail "promtool"
grep -q "hoplens_listener_accept_queue_max{listener=\"explicit@127.0.0.1:$stuck\",socket=\"0\"} 4" \
    "$HOPLENS_ARTIFACTS/diag_metrics.txt" || fail "metrics listener label"
[[ $(curl -sf "$url/healthz") == ok ]] || fail healthz
[[ $(curl -sf "$url/ca.pem") == probe-ca ]] || fail ca.pem

# The page in headless Chromium: the listener and the advice are on it.
if [[ -x /usr/bin/chromium && -d "$HOPLENS_SOURCE_DIR/tests/js/node_modules/playwright-core" ]]; then
    NODE_PATH="$HOPLENS_SOURCE_DIR/tests/js/node_modules" node "$HOPLENS_SOURCE_DIR/tests/diag/page_check.js" \
        "$url/" "127.0.0.1:$stuck" somaxconn_clamps_backlog "$HOPLENS_ARTIFACTS/diag_page.png" "$work/chrome" ||
        fail "page check"
else
    echo "note: chromium or playwright-core missing, page check not run"
fi

# The host report (`hoplens diag`): this namespace's listeners, filtered by port.
host=$("$DIAG_PROBE" host --json "$closer")
[[ $(jq '.listeners | length' <<<"$host") == 1 ]] || fail "host report port filter"
[[ $(jq -r '.time_wait.own_inbound' <<<"$host") == "$ss_in" ]] || fail "host report TIME_WAIT"
"$DIAG_PROBE" host | grep -q "127.0.0.1:$stuck" || fail "host report text"

if [[ -x "${HOPLENS_BIN:-}" ]]; then
    "$HOPLENS_BIN" diag --port "$stuck" | grep -q "127.0.0.1:$stuck" || fail "hoplens diag"
fi
echo PASS
