# Shared by bench/stream/run.sh and bench/stream/peers.sh (sourced, not run).
# Expects ROOT (the repository) and WORKERS; sets BH_BIN, BH_LOAD.

BH_BIN=${BELLHOP_BIN:-$ROOT/build/bellhop}
BH_LOAD=$ROOT/bench/loadgen/bh_load
BH_HANDSHAKE='{"services":["finance"],"version":1}'
BH_PUB_BODY='{"orgId":1,"service":"finance","type":"bench","data":{"note":"{PAYLOAD}"}}'

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# Builds bellhop (RelWithDebInfo into build/, as `make build` does) and bh_load. BUILD=0 skips
# the server build (BELLHOP_BIN must then exist).
bh_build() {
  if [ "${BUILD:-1}" != 0 ] && [ -z "${BELLHOP_BIN:-}" ]; then
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
      cmake --build "$ROOT/build" -j "$(nproc)" >/dev/null ||
      { echo "bellhop build failed (BUILD=0 or BELLHOP_BIN=... to use an existing binary)" >&2; return 1; }
  fi
  [ -x "$BH_BIN" ] || { echo "no bellhop binary at $BH_BIN" >&2; return 1; }
  make -s -C "$ROOT/bench/loadgen" bh_load
}

# A port nobody listens on, below the ephemeral range (32768+) that the load generators'
# outgoing connections use.
bh_free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return 0; }
  done
  return 1
}

# Starts a fresh bellhop (own temporary data dir, own port). Sets SPID, BH_PORT, BH_DATA,
# SUB_TOKEN (owner) and SVC_TOKEN (service). $1: the server log file.
bh_start() {
  BH_DATA=$(mktemp -d /tmp/bellhop-bench.XXXXXX)
  BH_PORT=$(bh_free_port) || { echo "no free port" >&2; return 1; }
  # Thousands of connections from a few addresses with one token: lift the admission limits
  # meant for real clients (docs/OPERATIONS.md).
  BELLHOP_LOG_LEVEL=warn BELLHOP_MAX_CONNS_PER_IP=0 BELLHOP_MAX_CONNS_PER_USER=0 \
    BELLHOP_HANDSHAKE_RATE=0 BELLHOP_WS_MSG_RATE=0 "$BH_BIN" serve --bind 127.0.0.1 --port "$BH_PORT" \
    --data-dir "$BH_DATA" --workers "$WORKERS" >"$1" 2>&1 &
  SPID=$!
  local ok=0
  for _ in $(seq 100); do
    if curl -sf -m 1 "http://127.0.0.1:$BH_PORT/health" >/dev/null; then ok=1; break; fi
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  if [ $ok != 1 ]; then
    echo "bellhop did not come up on port $BH_PORT (log: $1)" >&2
    server_stop
    return 1
  fi
  SUB_TOKEN=$("$BH_BIN" token --org 1 --user 1 --role owner --data-dir "$BH_DATA") &&
  SVC_TOKEN=$("$BH_BIN" token --org 1 --user 90 --role service --data-dir "$BH_DATA") || {
    echo "could not mint tokens" >&2
    server_stop
    return 1
  }
}

# The server's own view after a run (bellhop only): counters and its publish->write latency.
bh_metrics() {
  curl -s -m 5 -H "Authorization: Bearer $SUB_TOKEN" \
    "http://127.0.0.1:$BH_PORT/v2/realtime/metrics" >"$1" 2>/dev/null || true
}

# Stops the server of this point and says how it ended in SERVER_STATUS: "ok" (exited after
# SIGTERM), "exit=N" (non-zero exit after SIGTERM), "died=N" (gone before we stopped it: a crash),
# or "hung" (ignored SIGTERM for 10 s and was killed).
server_stop() {
  SERVER_STATUS=none
  [ -n "${SPID:-}" ] || return 0
  local rc
  if ! kill -0 "$SPID" 2>/dev/null; then
    wait "$SPID" 2>/dev/null; rc=$?
    SERVER_STATUS="died=$rc"
  else
    kill -TERM "$SPID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SPID" 2>/dev/null; then
      kill -KILL "$SPID" 2>/dev/null
      wait "$SPID" 2>/dev/null
      SERVER_STATUS=hung
    else
      wait "$SPID" 2>/dev/null; rc=$?
      if [ "$rc" = 0 ] || [ "$rc" = 143 ]; then SERVER_STATUS=ok; else SERVER_STATUS="exit=$rc"; fi
    fi
  fi
  SPID=
  if [ -n "${BH_DATA:-}" ]; then rm -rf "$BH_DATA"; BH_DATA=; fi
}

# Test points. Sets TN (connections), TT (seconds), TMODE, TRATE, TEXTRA_CT (connect-phase cap).
# N / T in the environment override the size and duration of every point (smoke runs).
test_point() {
  TRATE=0; TEXTRA_CT=30
  case $1 in
    hold10k)   TN=10000; TT=5;  TMODE=hold ;;
    hold19900) TN=19900; TT=5;  TMODE=hold; TEXTRA_CT=25 ;;
    max1k)     TN=1000;  TT=10; TMODE=fanout; TRATE=0 ;;
    fan20)     TN=10000; TT=15; TMODE=fanout; TRATE=20 ;;
    fan100)    TN=10000; TT=15; TMODE=fanout; TRATE=100 ;;
    *) echo "unknown test point $1 (hold10k hold19900 max1k fan20 fan100)" >&2; return 1 ;;
  esac
  TN=${N:-$TN}
  TT=${T:-$TT}
}

env_snapshot() {
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "kernel: $(uname -r)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
  echo "mem: $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "nofile: soft $(ulimit -Sn) hard $(ulimit -Hn)"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "bellhop: $BH_BIN ($("$BH_BIN" --version 2>/dev/null)), --workers $WORKERS, BELLHOP_LOG_LEVEL=warn"
}
