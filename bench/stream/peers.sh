#!/usr/bin/env bash
# bellhop against peer servers, all driven by ONE load generator: the peers' own `loadgen`
# (it speaks bellhop's protocol: token on the upgrade, JSON handshake, JSON publish body).
# The peers harness is read-only reference material and stays OUTSIDE this repository: make a
# scratch copy and pass its path. Nothing of it is copied here; this script only runs it.
#
#   cp -r /work/shared/peers /tmp/peers
#   bench/stream/peers.sh /tmp/peers                         # rawb uws bellhop, all points, once
#   SERVERS="rawb bellhop" TESTS="max1k" REPS=2 bench/stream/peers.sh /tmp/peers
#   SMOKE=1 bench/stream/peers.sh /tmp/peers                 # 200 connections, 5 s
#
# Environment: SERVERS (rawb uws bellhop; also raw ws lws nats socketio), TESTS, REPS, SMOKE,
#   N, T, SIZE, BUILD, BELLHOP_BIN, OUT as in run.sh; WORKERS (1 here, see below);
#   CROSS=1   also run our bh_load on every point (cross-check of the two load generators;
#             not for socketio/nats, whose protocols bh_load does not speak);
#   INSTALL=0 never apt-get/npm: fail if something is missing.
#   SYSCALLS=1 also count the server's write/writev/read/epoll_wait calls during each point (perf);
#   PROFILE=1  instead record the server with `perf record -g` ($OUT/<point>.perf.data).
# Build of the peers (per their README): apt-get install build-essential libssl-dev
# [libwebsockets-dev for lws] [nats-server for nats]; npm ci (for ws, socketio, uws); make.
# Each point runs on a freshly started server; all servers once, then all again for REPS > 1.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
PEERS=$(cd "${1:?usage: peers.sh /path/to/scratch/copy/of/peers}" && pwd -P) || exit 2
case "$PEERS/" in
  "$ROOT/"*) echo "peers.sh: the peers copy must live outside the repository ($PEERS)" >&2; exit 2 ;;
esac
[ -f "$PEERS/loadgen.c" ] && [ -f "$PEERS/servers/run.sh" ] ||
  { echo "peers.sh: $PEERS is not a copy of the peers harness" >&2; exit 2; }
cd "$ROOT"
# One event-loop worker by default: the peers compared here (rawfanout, uWebSockets.js, ws) are
# single-threaded, and on a 2-core machine the load generator needs the other core. With two
# workers bellhop takes ~125 % CPU and leaves the load generator ~60 %, which the load generator
# then reports as latency (docs/BENCHMARKS.md shows both). WORKERS=2 for the server's default.
WORKERS=${WORKERS:-1}
SERVERS=${SERVERS:-"rawb uws bellhop"}
TESTS=${TESTS:-"hold10k hold19900 max1k fan20 fan100"}
REPS=${REPS:-1}
SIZE=${SIZE:-200}
if [ "${SMOKE:-0}" = 1 ]; then N=${N:-200}; T=${T:-5}; fi
# shellcheck source=lib.sh
. "$ROOT/bench/stream/lib.sh"
for t in $TESTS; do test_point "$t" >/dev/null || exit 2; done

# ---- peer endpoints (from the peers README's server table) ----
peer_port() { case $1 in raw) echo 9000;; rawb) echo 9007;; ws) echo 9001;; socketio) echo 9002;;
  nats) echo "9003 4222";; uws) echo 9005;; lws) echo 9006;; *) return 1;; esac; }
peer_url() { case $1 in socketio) echo "ws://127.0.0.1:9002/socket.io/?EIO=4&transport=websocket";;
  *) echo "ws://127.0.0.1:$(peer_port "$1" | cut -d' ' -f1)/";; esac; }
peer_pub() { case $1 in nats) echo "nats://127.0.0.1:4222/events";;
  *) echo "http://127.0.0.1:$(peer_port "$1")/publish";; esac; }
peer_proto() { # sets PROTO: protocol arguments of the peers' loadgen
  PROTO=()
  case $1 in
    socketio) PROTO=(-w -m 40 --ping-match 2 --ping-reply 3) ;;
    nats) PROTO=(-m 'CONNECT {"verbose":false}\r\nSUB events 1\r\n' --ping-contains
                 --ping-match 'PING\r\n' --ping-reply 'PONG\r\n') ;;
  esac
}
for s in $SERVERS; do
  [ "$s" = bellhop ] || peer_port "$s" >/dev/null ||
    { echo "peers.sh: unknown server $s (bellhop raw rawb ws socketio nats uws lws)" >&2; exit 2; }
done
has() { case " $SERVERS " in *" $1 "*) return 0;; esac; return 1; }

# ---- build ----
pkgs=(build-essential libssl-dev)
has lws && pkgs+=(libwebsockets-dev)
has nats && pkgs+=(nats-server)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${INSTALL:-1}" != 0 ] || { echo "peers.sh: missing packages: ${missing[*]}" >&2; exit 1; }
  log "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=120 install -y "${missing[@]}" >/dev/null ||
    { apt-get -o DPkg::Lock::Timeout=120 update >/dev/null &&
      apt-get -o DPkg::Lock::Timeout=120 install -y "${missing[@]}" >/dev/null; } || exit 1
fi
make -s -C "$PEERS" loadgen rawfanout || exit 1
if has lws; then make -s -C "$PEERS" lwsfanout || exit 1; fi
if { has ws || has socketio || has uws; } && [ ! -d "$PEERS/node_modules" ]; then
  [ "${INSTALL:-1}" != 0 ] || { echo "peers.sh: run npm ci in $PEERS" >&2; exit 1; }
  (cd "$PEERS" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
if has bellhop || [ "${CROSS:-0}" = 1 ]; then bh_build || exit 1; fi

stamp=$(date +%Y%m%d-%H%M%S)
suffix=-peers; [ "${SMOKE:-0}" = 1 ] && suffix=-peers-smoke
OUT=${OUT:-$ROOT/bench/results/$stamp$suffix}
mkdir -p "$OUT"
SUM=$OUT/summary.tsv
: >"$SUM"
{
  env_snapshot
  echo "peers: $PEERS (loadgen: $PEERS/loadgen for every server${CROSS:+; CROSS=$CROSS: bh_load too})"
  echo "node: $(node --version 2>/dev/null)"
  for p in ws socket.io uwebsockets; do
    v=$(cd "$PEERS" && node -p "require('./node_modules/$p/package.json').version" 2>/dev/null) &&
      echo "npm $p: $v"
  done
  echo "servers: $SERVERS"
  echo "tests: $TESTS  reps: $REPS  size: $SIZE${N:+  N override: $N}${T:+  T override: $T}"
} >"$OUT/env.txt"

# Starts a peer server in the foreground of a background job (run.sh execs, so $! is the server)
# and waits for its ports.
peer_start() { # name logfile
  local port ok
  for port in $(peer_port "$1"); do
    if ss -Hltn "sport = :$port" | grep -q .; then
      echo "port $port is already in use: cannot start $1" >&2; return 1
    fi
  done
  "$PEERS/servers/run.sh" "$1" >"$2" 2>&1 &
  SPID=$!
  for port in $(peer_port "$1"); do
    ok=0
    for _ in $(seq 100); do
      if ss -Hltn "sport = :$port" | grep -q LISTEN; then ok=1; break; fi
      kill -0 "$SPID" 2>/dev/null || break
      sleep 0.1
    done
    [ $ok = 1 ] || { echo "$1 did not listen on $port (log: $2)" >&2; server_stop; return 1; }
  done
  sleep 0.5
}

# One load-generator run against the server started for this point. $1 server, $2 test,
# $3 rep, $4 which loadgen (peers | bh_load). Appends to summary.tsv.
run_point() {
  local s=$1 t=$2 rep=$3 lg=$4 base url rc line load1
  base=$OUT/$s-$t-$rep-$lg
  load1=$(cut -d' ' -f1 /proc/loadavg)
  test_point "$t"
  if [ "$s" = bellhop ]; then
    bh_start "$base.server.log" || { printf '%s\t%s\t%s\t%s\t%s\tstart_failed\tRESULT label=%s/%s/%s\n' \
      "$s" "$t" "$rep" "$lg" "$load1" "$s" "$t" "$rep" >>"$SUM"; return; }
    url="ws://127.0.0.1:$BH_PORT/v2/realtime/stream"
  else
    peer_start "$s" "$base.server.log" || { printf '%s\t%s\t%s\t%s\t%s\tstart_failed\tRESULT label=%s/%s/%s\n' \
      "$s" "$t" "$rep" "$lg" "$load1" "$s" "$t" "$rep" >>"$SUM"; return; }
    url=$(peer_url "$s")
  fi
  local args=() perf_pid=
  # SYSCALLS=1: count the server's system calls during the run (perf tracepoints), to tell
  # deliveries per write apart from the cost of each write.
  if [ "${SYSCALLS:-0}" = 1 ]; then
    perf stat -x, -e syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait \
      -p "$SPID" -o "$base.syscalls" 2>/dev/null &
    perf_pid=$!
  elif [ "${PROFILE:-0}" = 1 ]; then
    perf record -g -F 999 -p "$SPID" -o "$base.perf.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  if [ "$lg" = peers ]; then
    args=(-q -n "$TN" --mode "$TMODE" -T "$TT" --server-pid "$SPID" --label "$s/$t/$rep")
    [ "$TMODE" = hold ] && args+=(--connect-timeout "$TEXTRA_CT" --hs-timeout 5)
    [ "$TMODE" = fanout ] && args+=(-r "$TRATE" --window 16 --size "$SIZE")
    if [ "$s" = bellhop ]; then
      args+=(-H "Authorization: Bearer $SUB_TOKEN" -m "$BH_HANDSHAKE")
      [ "$TMODE" = fanout ] && args+=(--pub "http://127.0.0.1:$BH_PORT/v2/realtime/publish"
        --pub-header "Authorization: Bearer $SVC_TOKEN" --pub-header 'Content-Type: application/json'
        --pub-body "$BH_PUB_BODY")
    else
      peer_proto "$s"
      args+=("${PROTO[@]}")
      [ "$TMODE" = fanout ] && args+=(--pub "$(peer_pub "$s")")
    fi
    timeout -k 5 300 "$PEERS/loadgen" "${args[@]}" "$url" >"$base.log" 2>&1
  else
    args=(-q -n "$TN" -m "$TMODE" -T "$TT" --connect-timeout "$TEXTRA_CT" -p "$SPID"
          --label "$s/$t/$rep")
    [ "$TMODE" = fanout ] && args+=(-r "$TRATE" -W 16 -s "$SIZE")
    if [ "$s" = bellhop ]; then
      args+=(-t "$SUB_TOKEN")
      [ "$TMODE" = fanout ] && args+=(-S "$SVC_TOKEN")
    else
      args+=(--handshake '' --pub "$(peer_pub "$s")" --pub-body '{PAYLOAD}'
             --pub-header 'Content-Type: text/plain')
    fi
    timeout -k 5 300 "$BH_LOAD" "${args[@]}" "$url" >"$base.log" 2>&1
  fi
  rc=$?
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null; fi
  if [ -f "$base.syscalls" ]; then
    log "  syscalls: $(grep -v '^#' "$base.syscalls" | awk -F, 'NF > 2 {printf "%s=%s ", $3, $1}')"; fi
  [ "$s" = bellhop ] && bh_metrics "$base.metrics.json"
  server_stop
  line=$(grep '^RESULT' "$base.log" | tail -1)
  [ -n "$line" ] || line="RESULT label=$s/$t/$rep loadgen_rc=$rc"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$t" "$rep" "$lg" "$load1" "$SERVER_STATUS" "$line" >>"$SUM"
  log "[$(( $(date +%s) - t0 ))s] $s $t rep$rep $lg (server $SERVER_STATUS, load $load1): ${line#RESULT }" | cut -c1-250
  sleep 1
}

SPID=
trap 'server_stop; exit 130' INT TERM
t0=$(date +%s)
for rep in $(seq 1 "$REPS"); do
  for s in $SERVERS; do
    for t in $TESTS; do
      run_point "$s" "$t" "$rep" peers
      if [ "${CROSS:-0}" = 1 ] && [ "$s" != socketio ] && [ "$s" != nats ]; then
        run_point "$s" "$t" "$rep" bh_load
      fi
    done
  done
done
log "done in $(( $(date +%s) - t0 ))s: $OUT"
"$ROOT/bench/stream/report.sh" "$OUT" | tee "$OUT/summary.md"
