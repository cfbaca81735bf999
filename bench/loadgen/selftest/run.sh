#!/usr/bin/env bash
# Self-test of bh_load's client side against fake_stream.js, a server that fragments messages,
# pings between fragments, dribbles frames out a few bytes at a time, batches two events in one
# message and uses 7-bit, 16-bit and 64-bit payload lengths. Passes when every published event
# reached every subscriber exactly once, no message "seq" was skipped and pings got pongs.
#
#   bench/loadgen/selftest/run.sh          (needs node; builds bh_load)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
make -s -C "$here/.." bh_load
work=$(mktemp -d /tmp/bh_load-selftest.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

node "$here/fake_stream.js" 0 >"$work/server.out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q '^listening' "$work/server.out" && break; sleep 0.1; done
port=$(awk '/^listening/ {print $2}' "$work/server.out")
[ -n "$port" ] || { echo "selftest: fake server did not start" >&2; cat "$work/server.out" >&2; exit 1; }

fail=0
check() { # label, RESULT line, pongs before
  local label=$1 line=$2
  local loss dups seq del exp
  loss=$(sed -n 's/.* loss=\([0-9]*\) .*/\1/p' <<<"$line")
  dups=$(sed -n 's/.* dups=\([0-9]*\) .*/\1/p' <<<"$line")
  seq=$(sed -n 's/.* seq_errs=\([0-9]*\) .*/\1/p' <<<"$line")
  del=$(sed -n 's/.* deliveries=\([0-9]*\) .*/\1/p' <<<"$line")
  exp=$(sed -n 's/.* expected=\([0-9]*\) .*/\1/p' <<<"$line")
  if [ "$loss" = 0 ] && [ "$dups" = 0 ] && [ "$seq" = 0 ] && [ "${del:-0}" -gt 0 ] && [ "$del" = "$exp" ]; then
    echo "ok - $label: deliveries=$del expected=$exp loss=0 dups=0 seq_errs=0"
  else
    echo "not ok - $label: $line"; fail=1
  fi
}

# 7-bit and 16-bit lengths (the batched message passes 126 bytes), fixed rate.
out=$("$here/../bh_load" -q -n 50 -m fanout -r 40 -T 2 --drain 2 -t selftest -S x -s 40 \
      ws://127.0.0.1:$port/v2/realtime/stream)
check "fixed rate, 40-byte payload" "$(grep '^RESULT' <<<"$out")"
# 64-bit lengths, closed loop.
out=$("$here/../bh_load" -q -n 20 -m fanout -r 0 -W 4 -T 2 --drain 2 -t selftest -S x -s 70000 \
      ws://127.0.0.1:$port/v2/realtime/stream)
check "closed loop, 70000-byte payload" "$(grep '^RESULT' <<<"$out")"
# A refused upgrade is a setup failure (exit 1), not a hang.
if "$here/../bh_load" -q -n 5 -m hold -T 1 -t wrong ws://127.0.0.1:$port/v2/realtime/stream \
     >/dev/null 2>&1; then
  echo "not ok - refused upgrade should exit non-zero"; fail=1
else
  echo "ok - refused upgrade exits non-zero"
fi
pongs=$(curl -s "http://127.0.0.1:$port/stats" | sed -n 's/.*"pongs":\([0-9]*\).*/\1/p')
if [ "${pongs:-0}" -gt 0 ]; then echo "ok - pings answered ($pongs pongs)"; else echo "not ok - no pongs"; fail=1; fi
exit $fail
