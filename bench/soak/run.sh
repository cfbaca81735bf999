#!/usr/bin/env bash
# Soak: the ASan+LSan build under connect/disconnect churn, uploads and chat for SOAK_SECONDS,
# then a SIGTERM drain. Fails on any sanitizer report (leaks are reported by LeakSanitizer at
# exit), on a non-zero exit, or if the server stops answering. Samples the server's RSS and open
# descriptors every 10 s so that unbounded growth shows in the report.
#
#   bench/soak/run.sh                       # SOAK_SECONDS=300, builds build-asan if needed
#   SOAK_SECONDS=600 BELLHOP_BIN=build-ops-asan/bellhop bench/soak/run.sh
#
# Output: $OUT (bench/results/<stamp>-soak): server.log, churn.log, rss.tsv, summary.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SOAK_SECONDS=${SOAK_SECONDS:-300}
BIN=${BELLHOP_BIN:-$ROOT/build-asan/bellhop}
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)-soak}
mkdir -p "$OUT"  # (made before the checks below; an empty one means the run never started)

if [ ! -x "$BIN" ]; then
  [ "$BIN" = "$ROOT/build-asan/bellhop" ] || { echo "soak: $BIN does not exist" >&2; exit 2; }
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DENABLE_SANITIZERS=ON >/dev/null
  cmake --build build-asan -j "$(nproc)" >/dev/null
fi
if [ "$(ldd "$BIN" | grep -c libasan)" = 0 ]; then
  echo "soak: $BIN is not an AddressSanitizer build (LeakSanitizer comes with it)" >&2; exit 2
fi
[ -d tests/integration/node_modules ] || (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)

DATA=$(mktemp -d /tmp/bellhop-soak-XXXXXX)
PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
# A smaller quarantine than the 256 MiB default keeps RSS readable as a growth signal.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:quarantine_size_mb=64
export UBSAN_OPTIONS=print_stacktrace=1
"$BIN" serve --demo --bind 127.0.0.1 --port "$PORT" --data-dir "$DATA" --workers 2 \
  --web-dir "$ROOT/web" --upload-ack-bytes 65536 >"$OUT/server.out" 2>"$OUT/server.log" &
PID=$!
trap 'kill -9 $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 150); do grep -q 'msg=listening' "$OUT/server.log" && break; sleep 0.1; done
grep -q 'msg=listening' "$OUT/server.log" || { echo "soak: the server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }

printf 's\trss_kib\tfds\tthreads\n' >"$OUT/rss.tsv"
( t=0; while kill -0 $PID 2>/dev/null; do
    rss=$(awk '/VmRSS/{print $2}' /proc/$PID/status 2>/dev/null || echo 0)
    thr=$(awk '/Threads/{print $2}' /proc/$PID/status 2>/dev/null || echo 0)
    fds=$(ls /proc/$PID/fd 2>/dev/null | wc -l)
    printf '%s\t%s\t%s\t%s\n' "$t" "$rss" "$fds" "$thr" >>"$OUT/rss.tsv"
    sleep 10; t=$((t + 10)); done ) &
SAMPLER=$!

START=$(date +%s)
set +e
BASE="http://127.0.0.1:$PORT" BELLHOP_BIN="$BIN" DATA_DIR="$DATA" SOAK_SECONDS="$SOAK_SECONDS" \
  node bench/soak/churn.mjs >"$OUT/churn.log" 2>&1
CHURN=$?
kill -TERM $PID
wait $PID
EXIT=$?
set -e
kill $SAMPLER 2>/dev/null || true
ELAPSED=$(( $(date +%s) - START ))

LEAKS=$(grep -c 'ERROR: LeakSanitizer' "$OUT/server.log" || true)
ASAN=$(grep -c 'ERROR: AddressSanitizer' "$OUT/server.log" || true)
UBSAN=$(grep -c 'runtime error:' "$OUT/server.log" || true)
{
  echo "soak: ${ELAPSED}s (SOAK_SECONDS=$SOAK_SECONDS), binary $BIN"
  echo "churn exit $CHURN; server exit $EXIT (after SIGTERM)"
  echo "sanitizer reports: LeakSanitizer $LEAKS, AddressSanitizer $ASAN, UBSan $UBSAN"
  echo "load: $(tail -1 "$OUT/churn.log")"
  echo "RSS/fds/threads (first, last 3 samples):"
  sed -n '2p' "$OUT/rss.tsv"; tail -3 "$OUT/rss.tsv"
  grep -E 'SUMMARY: (Address|Leak)Sanitizer' "$OUT/server.log" || true
} | tee "$OUT/summary.txt"
[ "$LEAKS" = 0 ] && [ "$ASAN" = 0 ] && [ "$UBSAN" = 0 ] && [ "$EXIT" = 0 ] && [ "$CHURN" = 0 ]
