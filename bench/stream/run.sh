#!/usr/bin/env bash
# bellhop realtime-stream benchmark session with our own load generator (bench/loadgen/bh_load).
# Builds bellhop and bh_load, then for every test point starts a fresh bellhop (temporary data
# dir, free port, BELLHOP_LOG_LEVEL=warn, --workers 2), mints an owner and a service token, runs
# bh_load, fetches the server's /v2/realtime/metrics, and stops the server.
#
#   bench/stream/run.sh                         # hold10k hold19900 max1k fan20 fan100, once each
#   TESTS="max1k fan20" REPS=2 bench/stream/run.sh
#   SMOKE=1 bench/stream/run.sh                 # every point at 200 connections for 5 s
#
# Environment:
#   TESTS    points to run, in order (hold10k hold19900 max1k fan20 fan100)
#   REPS     repetitions; all points once, then all again (1)
#   SMOKE=1  shorthand for N=200 T=5
#   N, T     override every point's connection count / duration in seconds
#   SIZE     payload bytes of fan-out points (200)
#   WORKERS  bellhop --workers (2)
#   BUILD=0  do not rebuild bellhop; BELLHOP_BIN=path  use that binary
#   OUT      results directory (bench/results/<stamp>)
#
# Writes OUT/{env.txt, summary.tsv, summary.md, <test>-<rep>.{log,server.log,metrics.json}}
# and prints the Markdown summary. Every bh_load run is bounded by its own limits and `timeout`.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
WORKERS=${WORKERS:-2}
TESTS=${TESTS:-"hold10k hold19900 max1k fan20 fan100"}
REPS=${REPS:-1}
SIZE=${SIZE:-200}
if [ "${SMOKE:-0}" = 1 ]; then N=${N:-200}; T=${T:-5}; fi
# shellcheck source=lib.sh
. "$ROOT/bench/stream/lib.sh"

for t in $TESTS; do test_point "$t" >/dev/null || exit 2; done
bh_build || exit 1

stamp=$(date +%Y%m%d-%H%M%S)
suffix=; [ "${SMOKE:-0}" = 1 ] && suffix=-smoke
OUT=${OUT:-$ROOT/bench/results/$stamp$suffix}
mkdir -p "$OUT"
SUM=$OUT/summary.tsv
: >"$SUM"
{
  env_snapshot
  echo "loadgen: bench/loadgen/bh_load"
  echo "tests: $TESTS  reps: $REPS  size: $SIZE${N:+  N override: $N}${T:+  T override: $T}"
} >"$OUT/env.txt"

SPID=
trap 'server_stop; exit 130' INT TERM
t0=$(date +%s)
for rep in $(seq 1 "$REPS"); do
  for t in $TESTS; do
    test_point "$t"
    base=$OUT/$t-$rep
    load1=$(cut -d' ' -f1 /proc/loadavg)
    if ! bh_start "$base.server.log"; then
      printf 'bellhop\t%s\t%s\tbh_load\t%s\tstart_failed\tRESULT label=bellhop/%s/%s\n' \
        "$t" "$rep" "$load1" "$t" "$rep" >>"$SUM"
      continue
    fi
    args=(-q -n "$TN" -m "$TMODE" -T "$TT" --connect-timeout "$TEXTRA_CT"
          -t "$SUB_TOKEN" -p "$SPID" --label "bellhop/$t/$rep")
    [ "$TMODE" = fanout ] && args+=(-r "$TRATE" -W 16 -s "$SIZE" -S "$SVC_TOKEN")
    timeout -k 5 300 "$BH_LOAD" "${args[@]}" "ws://127.0.0.1:$BH_PORT/v2/realtime/stream" \
      >"$base.log" 2>&1
    rc=$?
    bh_metrics "$base.metrics.json"
    server_stop
    line=$(grep '^RESULT' "$base.log" | tail -1)
    [ -n "$line" ] || line="RESULT label=bellhop/$t/$rep loadgen_rc=$rc"
    printf 'bellhop\t%s\t%s\tbh_load\t%s\t%s\t%s\n' "$t" "$rep" "$load1" "$SERVER_STATUS" "$line" >>"$SUM"
    log "[$(( $(date +%s) - t0 ))s] $t rep$rep (server $SERVER_STATUS, load $load1): ${line#RESULT }" | cut -c1-250
    [ "$SERVER_STATUS" = ok ] || echo "  !! server $SERVER_STATUS: see $base.server.log" >&2
    sleep 1
  done
done
log "done in $(( $(date +%s) - t0 ))s: $OUT"
"$ROOT/bench/stream/report.sh" "$OUT" | tee "$OUT/summary.md"
