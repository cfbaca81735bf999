#!/usr/bin/env bash
# Runs load-test.yml against a freshly started bellhop and checks the outcome: every virtual user
# completed, none failed, no errors, one ack per connection, and bellhop's own metrics saw all the
# connections open at the same time.
#
#   bench/artillery/run.sh                          # 1,000 connections, 10 s ramp, 30 s hold
#   CONNS=200 RAMP_S=5 HOLD_S=10 bench/artillery/run.sh
#
# Environment: CONNS (1000), RAMP_S (10), HOLD_S (30), WORKERS (bellhop --workers, 2),
#   BUILD=0 / BELLHOP_BIN=path as in bench/stream/run.sh, OUT (bench/results/<stamp>-artillery).
# Installs artillery from package-lock.json into bench/artillery/node_modules when missing.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
WORKERS=${WORKERS:-2}
export CONNS=${CONNS:-1000} RAMP_S=${RAMP_S:-10} HOLD_S=${HOLD_S:-30}
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 ARTILLERY_DISABLE_TELEMETRY=true
# shellcheck source=../stream/lib.sh
. "$ROOT/bench/stream/lib.sh"

[ "$HOLD_S" -gt "$RAMP_S" ] || { echo "HOLD_S must exceed RAMP_S" >&2; exit 2; }
if [ ! -x "$HERE/node_modules/.bin/artillery" ]; then
  log "installing artillery (npm ci in bench/artillery)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
bh_build || exit 1

stamp=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$ROOT/bench/results/$stamp-artillery}
mkdir -p "$OUT"
{ env_snapshot; echo "artillery: $("$HERE/node_modules/.bin/artillery" version 2>/dev/null | grep -m1 -i 'artillery' | tr -s ' ')";
  echo "conns: $CONNS  ramp: ${RAMP_S}s  hold: ${HOLD_S}s"; } >"$OUT/env.txt"

SPID=
sampler=
cleanup() { [ -n "$sampler" ] && kill "$sampler" 2>/dev/null; server_stop; }
trap 'cleanup; exit 130' INT TERM
bh_start "$OUT/server.log" || exit 1
export BELLHOP_URL="ws://127.0.0.1:$BH_PORT" BELLHOP_TOKEN=$SUB_TOKEN

# bellhop's view: the largest activeConnections seen, sampled every second.
( peak=0
  while :; do
    n=$(curl -s -m 2 -H "Authorization: Bearer $SUB_TOKEN" "http://127.0.0.1:$BH_PORT/v2/realtime/metrics" |
        sed -n 's/.*"activeConnections":\([0-9]*\).*/\1/p')
    [ -n "$n" ] && [ "$n" -gt "$peak" ] && { peak=$n; echo "$peak" >"$OUT/peak_connections"; }
    sleep 1
  done ) &
sampler=$!

log "artillery: $CONNS connections over ${RAMP_S}s, each held ${HOLD_S}s, bellhop on port $BH_PORT"
timeout -k 10 $((RAMP_S + HOLD_S + 120)) "$HERE/node_modules/.bin/artillery" run --output "$OUT/report.json" \
  "$HERE/load-test.yml" >"$OUT/artillery.log" 2>&1
rc=$?
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; sampler=
bh_metrics "$OUT/metrics.json"
server_stop
peak=$(cat "$OUT/peak_connections" 2>/dev/null || echo 0)

# Verdict from the JSON report.
node -e '
  const [file, conns, rc, peak, status] = process.argv.slice(1);
  let c = {};
  try { c = JSON.parse(require("fs").readFileSync(file, "utf8")).aggregate.counters || {}; } catch (e) {}
  const errors = Object.entries(c).filter(([k]) => k.startsWith("errors."));
  const n = (k) => c[k] || 0;
  const checks = [
    ["artillery exit status 0", rc === "0"],
    [`vusers.created = ${conns}`, n("vusers.created") === +conns],
    [`vusers.completed = ${conns}`, n("vusers.completed") === +conns],
    ["vusers.failed = 0", n("vusers.failed") === 0],
    ["no errors.*", errors.length === 0],
    [`acks received = ${conns}`, n("websocket.messages_received") === +conns],
    [`bellhop saw ${conns} open at once (peak ${peak})`, +peak === +conns],
    [`bellhop stopped cleanly (${status})`, status === "ok"],
  ];
  console.log(`created ${n("vusers.created")}, completed ${n("vusers.completed")}, failed ${n("vusers.failed")}, ` +
              `messages sent ${n("websocket.messages_sent")}, received ${n("websocket.messages_received")}` +
              (errors.length ? `, errors ${JSON.stringify(Object.fromEntries(errors))}` : ""));
  let ok = true;
  for (const [what, pass] of checks) { console.log(`${pass ? "ok" : "not ok"} - ${what}`); ok = ok && pass; }
  console.log(ok ? "PASS" : "FAIL");
  process.exit(ok ? 0 : 1);
' "$OUT/report.json" "$CONNS" "$rc" "$peak" "$SERVER_STATUS" | tee "$OUT/verdict.txt"
verdict=${PIPESTATUS[0]}
log "results: $OUT"
exit "$verdict"
