#!/usr/bin/env bash
# HTTP baseline: wrk against bellhop's GET /health and against nginx (2 workers, access_log off)
# serving a static file with the same bytes, alternating, REPS times each. Prints every run and the
# medians, and the ratio bellhop/nginx.
#
#   bench/http/run.sh [path/to/bellhop]      env: REPS (5), DURATION (5s), CONNS (64), THREADS (1)
set -euo pipefail
BIN=${1:-build/bellhop}
REPS=${REPS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
BH_PORT=${BH_PORT:-4811}
NG_PORT=${NG_PORT:-4812}
work=$(mktemp -d /tmp/bellhop-bench-http.XXXXXX)
trap 'kill $(cat $work/bh.pid 2>/dev/null) 2>/dev/null || true; nginx -c $work/nginx.conf -p $work -s stop 2>/dev/null || true; rm -rf $work' EXIT

# bellhop without its per-request access log, as nginx runs without one.
BELLHOP_LOG_LEVEL=warn "$BIN" serve --bind 127.0.0.1 --port $BH_PORT --data-dir $work/data \
  --workers 2 >/dev/null 2>$work/bh.log & echo $! > $work/bh.pid
for _ in $(seq 100); do curl -sf http://127.0.0.1:$BH_PORT/health >/dev/null && break; sleep 0.1; done
mkdir -p $work/www
curl -sf http://127.0.0.1:$BH_PORT/health > $work/www/health.json
cat > $work/nginx.conf <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  server {
    listen 127.0.0.1:$NG_PORT reuseport;
    location = /health { alias $work/www/health.json; }
  }
}
NGINX
nginx -c $work/nginx.conf -p $work
for _ in $(seq 100); do curl -sf http://127.0.0.1:$NG_PORT/health >/dev/null && break; sleep 0.1; done
echo "body: $(wc -c < $work/www/health.json) bytes; wrk -t$THREADS -c$CONNS -d$DURATION, $REPS runs each, alternating"

rps() { wrk -t$THREADS -c$CONNS -d$DURATION "$1" | awk '/Requests\/sec/ {print $2}'; }
bh=(); ng=()
for i in $(seq $REPS); do
  b=$(rps http://127.0.0.1:$BH_PORT/health); n=$(rps http://127.0.0.1:$NG_PORT/health)
  bh+=($b); ng+=($n)
  printf 'run %d: bellhop %s req/s, nginx %s req/s\n' "$i" "$b" "$n"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mb=$(median "${bh[@]}"); mn=$(median "${ng[@]}")
printf 'median: bellhop %s req/s, nginx %s req/s, ratio %.2f\n' "$mb" "$mn" "$(echo "$mb / $mn" | bc -l)"
