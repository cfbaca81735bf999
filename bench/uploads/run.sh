#!/usr/bin/env bash
# Upload throughput: one client streams SIZE bytes over the WebSocket upload stream (SHA-256 on the
# fly, fdatasync every --upload-ack-bytes, type check and a stored document at the end), against a
# plain TCP copy of the same bytes over the same loopback into a file on the same filesystem
# (fdatasync at the end). Both in one run; prints MB/s, the ratio, and the server's RSS.
#
#   bench/uploads/run.sh [SIZE_MIB=512] [CHUNK=1048576] [RUNS=3]
#
# BELLHOP_BIN picks the server (default build-uprel/bellhop, a RelWithDebInfo build). The data dir
# is a fresh directory under BENCH_DIR (default /tmp), so server and sink write to one filesystem.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
size_mib=${1:-512}
chunk=${2:-1048576}
runs=${3:-3}
size=$((size_mib * 1024 * 1024))
bin=${BELLHOP_BIN:-$root/build-uprel/bellhop}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/bellhop-upbench.XXXXXX")
trap 'kill $srv_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

cc -O2 -Wall -Wextra -o "$work/up_client" "$here/up_client.c"
cc -O2 -Wall -Wextra -o "$work/tcp_sink" "$here/tcp_sink.c"

max=$((size + 1024 * 1024))
# Many uploads at once from one address and one user: lift the admission limits.
BELLHOP_MAX_CONNS_PER_IP=0 BELLHOP_MAX_CONNS_PER_USER=0 BELLHOP_HANDSHAKE_RATE=0 BELLHOP_WS_MSG_RATE=0 \
"$bin" serve --bind 127.0.0.1 --port 0 --data-dir "$work/data" --demo --log-level warn \
  --upload-max-csv "$max" --upload-max-active 100000 ${SERVER_ARGS:-} >"$work/server.out" 2>"$work/server.log" &
srv_pid=$!
for _ in $(seq 100); do
  port=$(grep -o 'port=[0-9]*' "$work/server.log" "$work/server.out" 2>/dev/null | head -1 | cut -d= -f2 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "${port:-}" ]; then
  # --log-level warn hides the listening line: find the port from the process instead.
  port=$(ss -ltnp 2>/dev/null | grep "pid=$srv_pid," | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2)
fi
[ -n "$port" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }
token=$("$bin" token --org 1 --user 1 --role owner --data-dir "$work/data")
guest=$(curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"propertyId":1,"name":"Bench Guest"}' "http://127.0.0.1:$port/guests/checkin" |
  grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$srv_pid/status"; }
# Each transfer starts from the same memory state: written back and, where allowed (root), with
# the page cache dropped, so that neither pays for reclaiming the other's pages.
settle() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 1 >/proc/sys/vm/drop_caches; fi; sleep 0.2; }
echo "# bellhop upload benchmark: ${size_mib} MiB, ${chunk}-byte chunks, $runs runs; $(nproc) cores; $(uname -r); load1 $(cut -d" " -f1 /proc/loadavg)"
echo "# server: $bin  data: $work/data ($(df -T "$work" | awk 'NR==2 {print $2}'))"
printf '%-4s %-6s %10s %9s %9s %12s\n' run mode bytes seconds MB/s server_rss
for r in $(seq "$runs"); do
  # Plain TCP copy into a file, then the upload; each the same bytes.
  settle
  rm -f "$work/port"
  "$work/tcp_sink" "$work/port" "$work/copy.bin" &
  sink=$!
  while [ ! -s "$work/port" ]; do sleep 0.01; done
  read -r tcp_line < <("$work/up_client" tcp 127.0.0.1 "$(cat "$work/port")" "$size" "$chunk")
  wait $sink
  rm -f "$work/copy.bin"
  settle
  peak=0
  ( while kill -0 $srv_pid 2>/dev/null; do rss_kib; sleep 0.05; done ) >"$work/rss.$r" &
  sampler=$!
  ws_line=$("$work/up_client" ws 127.0.0.1 "$port" "$token" "$guest" 1 "$size" "$chunk")
  kill $sampler 2>/dev/null || true
  wait $sampler 2>/dev/null || true
  peak=$(sort -n "$work/rss.$r" | tail -1)
  set -- $tcp_line; printf '%-4s %-6s %10s %9s %9s %12s\n' "$r" tcp "$2" "$3" "$4" -
  tcp_mbs=$4
  set -- $ws_line; printf '%-4s %-6s %10s %9s %9s %9s KiB\n' "$r" ws "$2" "$3" "$4" "$peak"
  awk -v w="$4" -v t="$tcp_mbs" 'BEGIN { printf "     ws/tcp %.0f%%\n", 100 * w / t }'
  # Stored documents are not part of the next run.
  rm -rf "$work/data/documents/1"
done
# The plain copy with no disk at all: the network path's own ceiling on this machine.
rm -f "$work/port"
"$work/tcp_sink" "$work/port" - &
sink=$!
while [ ! -s "$work/port" ]; do sleep 0.01; done
set -- $("$work/up_client" tcp 127.0.0.1 "$(cat "$work/port")" "$size" "$chunk")
wait $sink
echo "# tcp to /dev/null (no disk): $4 MB/s"
echo "# server RSS after the runs: $(rss_kib) KiB"
