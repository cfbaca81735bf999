#!/usr/bin/env bash
# Scale-out benchmark: three bellhop nodes on one Redis against one node with the in-process
# broker, same machine, same load generator (bench/loadgen/bh_load), same run.
#
#   bench/cluster/run.sh                       # fan-out and max-throughput points, both setups
#   N=2000 T=5 bench/cluster/run.sh            # smoke
#
# Points (each on a fresh data dir, fresh Redis data):
#   single-fan   1 node  (--workers SINGLE_WORKERS, in-process broker), N subscribers, RATE ev/s
#   cluster-fan  3 nodes (--workers NODE_WORKERS each, BELLHOP_REDIS_URL), N subscribers spread
#                round-robin over the nodes (bh_load --targets), events published through node 2
#   single-max / cluster-max  closed loop (-r 0, window 16) with MAXN subscribers: events/s
#
# Environment: N (15000), RATE (50), T (30 s), DRAIN (s the load generator waits for late
# deliveries after the last publish before it counts the rest as lost; 5), MAXN (1000), MAXT (10 s), SINGLE_WORKERS (2),
# NODE_WORKERS (1), LG_PROCS (bh_load -j: processes owning the subscribers, 1), BUILD=0 /
# BELLHOP_BIN, OUT (bench/results/<stamp>-cluster).
# Redis runs as `redis-server` from Debian (apt install redis-server), AOF on, fsync every second.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${N:-15000}; RATE=${RATE:-50}; T=${T:-30}; DRAIN=${DRAIN:-5}; LG_PROCS=${LG_PROCS:-1}; MAXN=${MAXN:-1000}; MAXT=${MAXT:-10}
SINGLE_WORKERS=${SINGLE_WORKERS:-2}; NODE_WORKERS=${NODE_WORKERS:-1}
WORKERS=$SINGLE_WORKERS
# shellcheck source=../stream/lib.sh
. "$ROOT/bench/stream/lib.sh"
command -v redis-server >/dev/null || { echo "redis-server is not installed (apt install redis-server)" >&2; exit 1; }
bh_build || exit 1

stamp=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$ROOT/bench/results/$stamp-cluster}
mkdir -p "$OUT"
SUM=$OUT/summary.tsv
: >"$SUM"
{ env_snapshot; echo "N=$N RATE=$RATE T=$T MAXN=$MAXN MAXT=$MAXT single --workers $SINGLE_WORKERS, nodes --workers $NODE_WORKERS"; } >"$OUT/env.txt"

PIDS=(); PORTS=(); DATA=; RPID=; RDIR=
stop_all() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  PIDS=(); PORTS=()
  if [ -n "$RPID" ]; then kill -KILL "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; RPID=; fi
  [ -n "$RDIR" ] && rm -rf "$RDIR"; RDIR=
  [ -n "$DATA" ] && rm -rf "$DATA"; DATA=
}
trap 'stop_all; exit 130' INT TERM

start_redis() {
  RDIR=$(mktemp -d /tmp/bellhop-bench-redis.XXXXXX)
  RPORT=$(bh_free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$RDIR" --save '' --appendonly yes \
    --appendfsync everysec --protected-mode no >"$RDIR/redis.log" 2>&1 &
  RPID=$!
  for _ in $(seq 100); do redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  echo "redis-server did not start" >&2; return 1
}

# start_node LOG WORKERS [REDIS_URL]
start_node() {
  local port; port=$(bh_free_port)
  env BELLHOP_LOG_LEVEL=warn BELLHOP_MAX_CONNS_PER_IP=0 BELLHOP_MAX_CONNS_PER_USER=0 \
    BELLHOP_HANDSHAKE_RATE=0 BELLHOP_WS_MSG_RATE=0 ${3:+BELLHOP_REDIS_URL=$3} \
    "$BH_BIN" serve --bind 127.0.0.1 --port "$port" --data-dir "$DATA" --workers "$2" >"$1" 2>&1 &
  PIDS+=($!); PORTS+=("$port")
  for _ in $(seq 100); do curl -sf -m 1 "http://127.0.0.1:$port/health" >/dev/null && return 0; sleep 0.1; done
  echo "bellhop did not come up (log $1)" >&2; return 1
}

# point NAME SETUP(single|cluster) MODE(fan|max)
point() {
  local name=$1 setup=$2 mode=$3 base=$OUT/$1
  DATA=$(mktemp -d /tmp/bellhop-bench.XXXXXX)
  if [ "$setup" = cluster ]; then
    start_redis || return 1
    start_node "$base.node1.log" "$NODE_WORKERS" "redis://127.0.0.1:$RPORT" || return 1
    start_node "$base.node2.log" "$NODE_WORKERS" "redis://127.0.0.1:$RPORT" || return 1
    start_node "$base.node3.log" "$NODE_WORKERS" "redis://127.0.0.1:$RPORT" || return 1
  else
    start_node "$base.node1.log" "$SINGLE_WORKERS" || return 1
  fi
  local sub svc pubport targets
  sub=$("$BH_BIN" token --org 1 --user 1 --role owner --data-dir "$DATA")
  svc=$("$BH_BIN" token --org 1 --user 90 --role service --data-dir "$DATA")
  pubport=${PORTS[$(( ${#PORTS[@]} > 1 ? 1 : 0 ))]}
  targets=$(IFS=,; echo "${PORTS[*]}")
  local args=(-q -j "$LG_PROCS" -m fanout -W 16 -s 200 -S "$svc" -t "$sub" --label "$name" --connect-timeout 60
              --targets "$targets" --pub "http://127.0.0.1:$pubport/v2/realtime/publish")
  if [ "$mode" = fan ]; then args+=(-n "$N" -r "$RATE" -T "$T" --drain "$DRAIN"); else args+=(-n "$MAXN" -r 0 -T "$MAXT"); fi
  local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
  timeout -k 5 600 "$BH_LOAD" "${args[@]}" "ws://127.0.0.1:${PORTS[0]}/v2/realtime/stream" >"$base.log" 2>&1
  for i in "${!PORTS[@]}"; do
    curl -s -m 5 -H "Authorization: Bearer $sub" "http://127.0.0.1:${PORTS[$i]}/v2/realtime/metrics" \
      >"$base.node$((i + 1)).metrics.json" 2>/dev/null
  done
  stop_all
  local line; line=$(grep '^RESULT' "$base.log" | tail -1)
  # The servers' own view: publish -> socket write p99 (worst node), copies written, 4429 closes.
  local sp99 sdel=0 sslow=0 f
  sp99=$(cat "$base".node*.metrics.json 2>/dev/null | grep -o '"p99": *[0-9.]*' | grep -o '[0-9.]*$' | sort -g | tail -1)
  for f in "$base".node*.metrics.json; do
    sdel=$(( sdel + $(grep -o '"eventsDelivered": *[0-9]*' "$f" | grep -o '[0-9]*$' || echo 0) ))
    sslow=$(( sslow + $(grep -o '"slowConsumerCloses": *[0-9]*' "$f" | grep -o '[0-9]*$' || echo 0) ))
  done
  line="${line:-RESULT label=$name failed} srv_p99_ms=${sp99:-na} srv_written=$sdel srv_slow_closes=$sslow"
  printf '%s\t%s\t%s\n' "$name" "$load1" "$line" >>"$SUM"
  log "$name (load $load1): ${line#RESULT }" | cut -c1-260
}

t0=$(date +%s)
point single-fan single fan
point cluster-fan cluster fan
point single-max single max
point cluster-max cluster max
log "done in $(( $(date +%s) - t0 ))s: $OUT"

# The comparison the issue asks for: cluster p99 against 2x single p99, loss, throughput ratio.
awk -F'\t' '
function kv(line, n, i, a, p) { delete R; n = split(line, a, " ");
  for (i = 2; i <= n; i++) { p = index(a[i], "="); if (p) R[substr(a[i], 1, p - 1)] = substr(a[i], p + 1) } }
{ kv($3); p99[$1] = R["p99_ms"]; p50[$1] = R["p50_ms"]; loss[$1] = R["loss"]; dps[$1] = R["deliveries_per_s"];
  evs[$1] = R["pub_rate"]; held[$1] = R["held"]; exp_[$1] = R["expected"]; sp99[$1] = R["srv_p99_ms"];
  sw[$1] = R["srv_written"]; ss[$1] = R["srv_slow_closes"] }
END {
  printf "| point | subscribers held | p50 ms | p99 ms | not received (in the drain window) | events/s | deliveries/s | server p99 ms (worst node) | copies written by the servers | 4429 closes |\n|---|---|---|---|---|---|---|---|---|---|\n"
  split("single-fan cluster-fan single-max cluster-max", o, " ")
  for (i = 1; i <= 4; i++) { k = o[i]; printf "| %s | %s | %s | %s | %s of %s | %s | %s | %s | %s | %s |\n", k, held[k], p50[k], p99[k], loss[k], exp_[k], evs[k], dps[k], sprintf("%.0f", sp99[k]), sw[k], ss[k] }
  if (p99["single-fan"] > 0) printf "\ncluster p99 / single p99 = %.2f (target <= 2)\n", p99["cluster-fan"] / p99["single-fan"]
  if (evs["single-max"] > 0) printf "throughput with Redis / in-process (closed loop, events/s) = %.2f\n", evs["cluster-max"] / evs["single-max"]
}' "$SUM" | tee "$OUT/summary.md"
