#!/usr/bin/env bash
# Runs the bench rig that measured the peer figures the issues quote (../shared/bench-rig,
# RESULTS.md there) with hoplens as its `custom` subject beside nginx1, from a copy in a temp
# dir (the rig writes its work files next to itself). Prints the rig's summary.
#   bench/rig_custom.sh                          every metric, 3 interleaved repetitions
#   MODE=explicit bench/rig_custom.sh            hoplens as an explicit (CONNECT) proxy
#   REPS=1 DURATION=3 bench/rig_custom.sh        a quick pass
# Env: RIG (the rig's folder; default ../shared/bench-rig beside this repository),
# HOPLENS_BIN (default build/proxy/hoplens), MODE (reverse|explicit), SUBJECTS ("nginx1
# custom"), and the rig's own knobs (REPS, DURATION, BULK_RUNS; LIMITS=1 and BUFFERED=1 for
# its limits pass and its buffered-mitmproxy run, off here).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rig=${RIG:-$here/../../shared/bench-rig}
[ -f "$rig/run-all.sh" ] || { echo "no bench rig at $rig (set RIG)" >&2; exit 2; }
export HOPLENS_RIG_BIN
HOPLENS_RIG_BIN=$(realpath "${HOPLENS_BIN:-$here/../build/proxy/hoplens}")
[ -x "$HOPLENS_RIG_BIN" ] || { echo "no hoplens binary at $HOPLENS_RIG_BIN (build first)" >&2; exit 2; }

work=$(mktemp -d /tmp/hoplens-rig-XXXXXX)
chmod 755 "$work" # the origin's nginx workers serve files from inside it
cp -r "$rig" "$work/bench"
export PROXY_MODE=${MODE:-reverse}
# hoplens mints from the rig's interception CA in both modes, so clients trust that one.
export PROXY_CLIENT_CA="$work/bench/work/certs/intercept-ca.crt"
# The rig runs PROXY_CMD with bash -c, its variables exported (README.md of the rig). A
# reverse subject gets a name target, verified as origin.test: the rig's clients dial
# 127.0.0.1 without SNI and get a leaf naming both.
export PROXY_CMD='spec=explicit
  [ "$PROXY_MODE" = reverse ] && spec="reverse:https://origin.test:$ORIGIN_PORT"
  d="$RUN_DIR/hoplens-data" && mkdir -p "$d" && chmod 700 "$d" &&
  cp "$MITM_CA_CERT" "$d/ca.pem" && cp "$MITM_CA_KEY" "$d/ca.key" && chmod 600 "$d/ca.key" &&
  exec "$HOPLENS_RIG_BIN" --listen "$spec@$LISTEN_HOST:$LISTEN_PORT" --data-dir "$d" \
    --upstream-ca "$ORIGIN_CA" --map "origin.test=$ORIGIN_HOST" --threads 1 --diag off \
    --log-level warn'
export LIMITS=${LIMITS:-0} BUFFERED=${BUFFERED:-0} SUBJECTS=${SUBJECTS:-"nginx1 custom"} REPS=${REPS:-3}
(cd "$work" && bench/run-all.sh)
echo
cat "$work"/bench/results/summary-*.md
echo
echo "raw results: $(ls "$work"/bench/results/raw-*.txt)"
