#!/usr/bin/env bash
# The chat benchmark: bellhop's collaboration chat (every message persisted) against a plain
# socket.io rooms chat without persistence (bench/chat/socketio_rooms.js, on a scratch copy of
# ../shared/peers), at the same load, in the same run, with the same load generator
# (bench/chat/chat_load).
#
#   bench/chat/run.sh                                  # 5000 users, 100 rooms, 1000 msg/s, 20 s
#   N=500 ROOMS=10 RATE=100 T=5 bench/chat/run.sh      # a small run
#   SERVERS=bellhop REPS=2 bench/chat/run.sh
#
# For each server and repetition: a fresh server process (bellhop: temporary data dir, --demo,
# --workers $WORKERS, BELLHOP_LOG_LEVEL=warn, a random BELLHOP_JWT_SECRET that chat_load mints
# the users' tokens with, and ROOMS tasks created over REST as the rooms task-<id>); chat_load
# connects N users (user i in room i mod ROOMS), sends RATE messages a second for T seconds from
# the users themselves, and waits for every delivery. For bellhop, the server's own metrics are
# saved too, and the rows of chat_messages are counted (column "stored", to compare with "acked").
#
# Environment: N ROOMS RATE T SIZE (text bytes, 100) REPS (1) SERVERS ("bellhop socketio")
#   WORKERS (2) BUILD=0 (do not rebuild) BELLHOP_BIN PEERS (/tmp/peers-chat) OUT
# Writes OUT/{env.txt, summary.tsv, summary.md, <server>-<rep>.{log,server.log,metrics.json}}.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${N:-5000}
ROOMS=${ROOMS:-100}
RATE=${RATE:-1000}
T=${T:-20}
SIZE=${SIZE:-100}
REPS=${REPS:-1}
SERVERS=${SERVERS:-"bellhop socketio"}
WORKERS=${WORKERS:-2}
PEERS=${PEERS:-/tmp/peers-chat}
LOAD=$ROOT/bench/chat/chat_load
# shellcheck source=../stream/lib.sh
. "$ROOT/bench/stream/lib.sh" # log, bh_free_port, server_stop, env_snapshot; BH_BIN

build() {
  if [ "${BUILD:-1}" != 0 ] && [ -z "${BELLHOP_BIN:-}" ]; then
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
      cmake --build "$ROOT/build" -j "$(nproc)" >/dev/null || { echo "bellhop build failed" >&2; return 1; }
  fi
  [ -x "$BH_BIN" ] || { echo "no bellhop binary at $BH_BIN" >&2; return 1; }
  make -s -C "$ROOT/bench/chat" chat_load || return 1
  case " $SERVERS " in *" socketio "*)
    if [ ! -d "$PEERS/node_modules/socket.io" ]; then
      # A scratch copy of the peers (read-only where they live), with their pinned packages.
      rm -rf "$PEERS" && cp -r "$ROOT/../shared/peers" "$PEERS" && chmod -R u+w "$PEERS" &&
        (cd "$PEERS" && npm ci --no-audit --no-fund >/dev/null) || { echo "peers setup failed" >&2; return 1; }
    fi ;;
  esac
}

# Starts bellhop on a fresh data dir; sets SPID, PORT, BH_DATA, SECRET, OWNER, ROOM_LIST.
start_bellhop() {
  BH_DATA=$(mktemp -d /tmp/bellhop-chatbench.XXXXXX)
  PORT=$(bh_free_port) || return 1
  SECRET=$(openssl rand -hex 32)
  # Thousands of connections from one address: lift the per-address limits (docs/OPERATIONS.md).
  BELLHOP_MAX_CONNS_PER_IP=0 BELLHOP_HANDSHAKE_RATE=0 BELLHOP_MAX_CONNS_PER_USER=0 \
  BELLHOP_JWT_SECRET=$SECRET BELLHOP_LOG_LEVEL=warn "$BH_BIN" serve --demo --bind 127.0.0.1 \
    --port "$PORT" --data-dir "$BH_DATA" --workers "$WORKERS" >"$1" 2>&1 &
  SPID=$!
  for _ in $(seq 100); do
    curl -sf -m 1 "http://127.0.0.1:$PORT/health" >/dev/null && break
    kill -0 "$SPID" 2>/dev/null || return 1
    sleep 0.1
  done
  OWNER=$(BELLHOP_JWT_SECRET=$SECRET "$BH_BIN" token --org 1 --user 1 --role owner --data-dir "$BH_DATA") || return 1
  ROOM_LIST=
  for _ in $(seq "$ROOMS"); do
    local id
    id=$(curl -sf -m 5 -H "Authorization: Bearer $OWNER" -H 'Content-Type: application/json' \
      -d '{"propertyId":1,"title":"bench room"}' "http://127.0.0.1:$PORT/tasks" |
      python3 -c 'import sys, json; print(json.load(sys.stdin)["task"]["id"])') || return 1
    ROOM_LIST="$ROOM_LIST${ROOM_LIST:+,}task-$id"
  done
}

start_socketio() {
  PORT=$(bh_free_port) || return 1
  NODE_PATH=$PEERS/node_modules PORT=$PORT node "$ROOT/bench/chat/socketio_rooms.js" >"$1" 2>&1 &
  SPID=$!
  for _ in $(seq 100); do
    curl -sf -m 1 "http://127.0.0.1:$PORT/stats" >/dev/null && return 0
    kill -0 "$SPID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

build || exit 1
stamp=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$ROOT/bench/results/$stamp-chat-n$N-r$RATE}
mkdir -p "$OUT"
SUM=$OUT/summary.tsv
: >"$SUM"
{
  env_snapshot
  echo "load: bench/chat/chat_load -n $N -R $ROOMS -r $RATE -T $T --size $SIZE"
  echo "socket.io: bench/chat/socketio_rooms.js on $PEERS ($(cd "$PEERS" 2>/dev/null && node -e 'console.log(require("socket.io/package.json").version)' 2>/dev/null)), node $(node --version)"
} >"$OUT/env.txt"
trap 'server_stop; exit 130' INT TERM

for rep in $(seq 1 "$REPS"); do
  for s in $SERVERS; do
    base=$OUT/$s-$rep
    load1=$(cut -d' ' -f1 /proc/loadavg)
    SPID=
    if [ "$s" = bellhop ]; then
      start_bellhop "$base.server.log" || { log "bellhop did not start: $base.server.log"; server_stop; continue; }
      timeout -k 5 600 "$LOAD" -q -n "$N" -R "$ROOMS" -r "$RATE" -T "$T" --size "$SIZE" \
        --rooms "$ROOM_LIST" --secret "$SECRET" --server-pid "$SPID" --label "bellhop/$rep" \
        "ws://127.0.0.1:$PORT/v2/collaboration/chat/stream" >"$base.log" 2>&1
      curl -s -m 5 -H "Authorization: Bearer $OWNER" \
        "http://127.0.0.1:$PORT/v2/collaboration/metrics" >"$base.metrics.json" 2>/dev/null
      # Every message persisted: count the rows (the server still runs; WAL readers do not block).
      if command -v sqlite3 >/dev/null; then
        stored=$(sqlite3 "file:$BH_DATA/bellhop.db?mode=ro" 'SELECT COUNT(*) FROM chat_messages' 2>/dev/null)
      else
        stored=$(python3 -c 'import sys, json; print(json.load(open(sys.argv[1]))["messagesStored"])' "$base.metrics.json" 2>/dev/null)
      fi
    else
      start_socketio "$base.server.log" || { log "socket.io did not start"; server_stop; continue; }
      timeout -k 5 600 "$LOAD" -q --proto socketio -n "$N" -R "$ROOMS" -r "$RATE" -T "$T" \
        --size "$SIZE" --server-pid "$SPID" --label "socketio/$rep" \
        "ws://127.0.0.1:$PORT/socket.io/?EIO=4&transport=websocket" >"$base.log" 2>&1
      stored=-
    fi
    server_stop
    line=$(grep '^RESULT' "$base.log" | tail -1)
    [ -n "$line" ] || line="RESULT label=$s/$rep failed=1"
    printf '%s\t%s\t%s\t%s\tstored=%s\t%s\n' "$s" "$rep" "$load1" "$SERVER_STATUS" "$stored" "$line" >>"$SUM"
    log "$s rep$rep (server $SERVER_STATUS, load $load1, stored $stored): ${line#RESULT }" | cut -c1-400
    sleep 1
  done
done

# The table: one row per run.
python3 - "$SUM" >"$OUT/summary.md" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    server, rep, load, status, stored, result = line.rstrip('\n').split('\t')
    kv = dict(x.split('=', 1) for x in result.split()[1:] if '=' in x)
    rows.append((server, rep, load, status, stored.split('=')[1], kv))
print('| server | rep | users/rooms | msg/s x s | sent | acked | stored | deliveries | lost | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | server CPU % | client CPU % | server RSS MiB (joined / end / peak) | status |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
for server, rep, load, status, stored, kv in rows:
    g = lambda k: kv.get(k, '?')
    mib = lambda k: f"{int(kv[k]) / 1024:.0f}" if kv.get(k, '-1').lstrip('-').isdigit() and int(kv[k]) >= 0 else '?'
    print(f"| {server} | {rep} | {g('users')}/{g('rooms')} | {g('rate')} x {g('secs')} | {g('sent')} | {g('acked')} | {stored} | "
          f"{g('received')} of {g('expected')} | {g('lost')} | {g('p50_ms')} | {g('p90_ms')} | {g('p99_ms')} | {g('p999_ms')} | {g('max_ms')} | "
          f"{g('server_cpu_pct')} | {g('client_cpu_pct')} | {mib('server_rss_joined_kib')} / {mib('server_rss_kib')} / {mib('server_hwm_kib')} | {status} |")
PY
cat "$OUT/summary.md"
log "results: $OUT"
