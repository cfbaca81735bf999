#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on loopback for the tests.
#
#   scripts/test-postgres.sh run CMD [ARGS...]   start a cluster, run CMD with BELLHOP_TEST_PG set
#                                                 to its url, stop and delete it (also on failure
#                                                 or Ctrl-C); exits with CMD's status
#   scripts/test-postgres.sh start DIR           start a cluster in DIR (created; must be empty
#                                                 or absent) and print its url
#   scripts/test-postgres.sh stop DIR            stop it and delete DIR
#
# The cluster trusts local connections (no password: nothing secret to leak), listens on
# 127.0.0.1 on a free port and a socket in DIR, and runs with fsync=off: its data is disposable.
# As root, the server runs as user postgres (it refuses to run as root), so DIR and its parents
# must be traversable by that user: DIR is made under /tmp with mode 0755 for that reason.
# Needs the Debian packages postgresql-15 and postgresql-client-15 (the Makefile installs them).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  # A random high port that nothing accepts on; pg_ctl start fails (and we retry) if we lose a
  # race for it.
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

start() {
  local dir=$1 port
  [[ -x $PGBIN/initdb ]] || { echo "test-postgres: $PGBIN/initdb not found (install postgresql-15)" >&2; exit 1; }
  mkdir -p "$dir"
  chmod 0755 "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    # Room for every test server's pool at once (2 tests in parallel, each up to 8 connections
    # per process, some with several processes).
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
         start >/dev/null; then
      echo "$port" >"$dir/port"
      echo "postgres://postgres@127.0.0.1:$port"
      return 0
    fi
  done
  echo "test-postgres: could not start PostgreSQL; log:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  local dir=$1
  [[ -d $dir/data ]] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf -- "$dir"
}

case ${1:-} in
  start) start "${2:?usage: $0 start DIR}" ;;
  stop) stop "${2:?usage: $0 stop DIR}" ;;
  run)
    shift
    [[ $# -gt 0 ]] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
    dir=$(mktemp -d /tmp/bellhop-pg-XXXXXX)
    trap 'stop "$dir"' EXIT
    trap 'exit 130' INT TERM
    url=$(start "$dir")
    echo "test-postgres: PostgreSQL 15 at 127.0.0.1:${url##*:} (data in $dir)" >&2
    status=0
    BELLHOP_TEST_PG=$url "$@" || status=$?
    exit $status
    ;;
  *) echo "usage: $0 run CMD [ARGS...] | start DIR | stop DIR" >&2; exit 2 ;;
esac
