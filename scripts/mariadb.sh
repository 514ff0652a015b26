#!/usr/bin/env bash
# mariadb.sh start|stop|restart|status
#
# Runs the MariaDB 10.11 server that sluice's MySQL-protocol integration tests
# use, without Docker: the Debian `mariadb-server` package (installed with apt
# on first use; its postinst cannot start the system service, which is fine),
# a private datadir made by mariadb-install-db and `mariadbd --no-defaults`
# (so /etc/mysql and the system service are never read or touched).
#
#   TCP    127.0.0.1:${SLUICE_MARIADB_PORT:-53306}, plaintext or TLS (the client
#          chooses; require_secure_transport stays OFF)
#   data, socket, pid, error log: ${SLUICE_SCRATCH:-/tmp/sluice-services}/mariadb
#   TLS    a throw-away test CA made with openssl once per scratch dir, in
#          .../mariadb/tls: ca.pem (export SLUICE_TEST_MYSQL_CA_FILE=<it>),
#          server.crt/server.key for 127.0.0.1 and localhost, and a client
#          certificate client.crt/client.key for the REQUIRE X509 account
#
# Binary log on, ROW format, FULL row image and row metadata, GTID strict mode
# (MariaDB GTIDs are always on), server_id 1. Server time zone stays SYSTEM;
# utf8mb4 by default. Durability is relaxed for speed
# (innodb_flush_log_at_trx_commit=2, sync_binlog=0): data survives a clean
# stop/restart (what the restart-mid-stream test needs) but not a host crash.
# Binlogs are never expired.
#
# Accounts (created idempotently at every start):
#   sluice@127.0.0.1, sluice@localhost  password sluice: the CDC privileges
#       (SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE/CLIENT, BINLOG
#       MONITOR, LOCK TABLES), BINLOG ADMIN + SUPER (SET GLOBAL binlog_*),
#       CONNECTION ADMIN + PROCESS (KILL other sessions), ALL on `sluice`.*
#   norepl@127.0.0.1  password norepl: ALL on `sluice`.* only (for the
#       missing-privilege error tests)
#   sluicetls@127.0.0.1  password sluicetls, REQUIRE SSL, and
#   sluicex509@127.0.0.1 password sluicex509, REQUIRE X509 (client.crt): the
#       sluice grants, for the TLS tests (a plaintext connection is refused)
#   root@localhost    no password, unix socket only (--skip-name-resolve, and
#       any other root accounts are dropped)
#
# `restart` keeps the datadir and binlogs.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRATCH=${SLUICE_SCRATCH:-/tmp/sluice-services}
DIR=$SCRATCH/mariadb
DATA=$DIR/data
SOCK=$DIR/mariadb.sock
PIDFILE=$DIR/mariadb.pid
ERRLOG=$DIR/error.log
TLSDIR=$DIR/tls
PORT=${SLUICE_MARIADB_PORT:-53306}
START_TIMEOUT=${SLUICE_MARIADB_START_TIMEOUT:-60}
STOP_TIMEOUT=60
# /usr/sbin is not on a non-root PATH.
MARIADBD=$(command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd)
# The server needs --user=root when run as root; otherwise it runs as us.
RUN_USER=$(id -un)

ensure_installed() {
  [ -x "$MARIADBD" ] && return
  # The postinst fails to start the system service here (no init); that is fine.
  apt_install mariadb-server
  MARIADBD=$(command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd)
  [ -x "$MARIADBD" ] || { echo "mariadbd still missing after apt-get install" >&2; exit 1; }
}

# Create the datadir once (idempotent). The marker is written only after a
# successful mariadb-install-db, so a half-made datadir is made again.
init() {
  [ -f "$DATA/.sluice-initialised" ] && return
  rm -rf "$DATA"
  mkdir -p "$DATA" "$DIR/tmp"
  mariadb-install-db --no-defaults --user="$RUN_USER" --datadir="$DATA" \
    --auth-root-authentication-method=normal --skip-test-db >"$DIR/install-db.log" 2>&1 ||
    { tail -n 30 "$DIR/install-db.log" >&2; exit 1; }
  touch "$DATA/.sluice-initialised"
}

# The test CA and server certificate (lib.sh), plus a client certificate
# signed by the same CA for the REQUIRE X509 account.
certs() {
  test_certs "$TLSDIR"
  [ -f "$TLSDIR/client.crt" ] && return
  (
    cd "$TLSDIR"
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=sluice test client" -keyout client.key -out client.csr 2>/dev/null
    openssl x509 -req -sha256 -days 3650 -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out client.crt.tmp 2>/dev/null
    mv client.crt.tmp client.crt
  ) || { echo "mariadb: cannot make the test client certificate with openssl" >&2; exit 1; }
}

pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE"; }
# Alive and really our server (guards against a recycled pid).
running() {
  local p; p=$(pid) || return 1
  kill -0 "$p" 2>/dev/null && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "mariadbd --no-defaults --datadir=$DATA "
}

# Client over the private socket as root (local-socket only).
sql() { mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot "$@"; }
ping() { mariadb-admin --no-defaults --protocol=socket --socket="$SOCK" -uroot --connect-timeout=2 ping >/dev/null 2>&1; }

start() {
  ensure_installed
  local state=up
  if running; then
    state="already running"
  else
    init
    certs
    local from=0; [ -f "$ERRLOG" ] && from=$(stat -c %s "$ERRLOG")
    setsid nohup "$MARIADBD" --no-defaults --datadir="$DATA" --user="$RUN_USER" \
      --bind-address=127.0.0.1 --port="$PORT" --socket="$SOCK" \
      --pid-file="$DIR/mariadbd.pid" --log-error="$ERRLOG" --tmpdir="$DIR/tmp" \
      --skip-name-resolve \
      --server-id=1 --log-bin=mysql-bin --binlog-format=ROW --binlog-row-image=FULL \
      --binlog-row-metadata=FULL --gtid-strict-mode=ON --log-slave-updates \
      --binlog-expire-logs-seconds=0 \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
      --innodb-buffer-pool-size=64M --innodb-log-file-size=32M --performance-schema=OFF \
      --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
      --max-allowed-packet=64M --max-connections=200 \
      --ssl-ca="$TLSDIR/ca.pem" --ssl-cert="$TLSDIR/server.crt" --ssl-key="$TLSDIR/server.key" \
      >"$DIR/stdout.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local deadline=$((SECONDS + START_TIMEOUT))
    until ping; do
      if ! running || ((SECONDS >= deadline)); then
        echo "mariadb failed to start on 127.0.0.1:$PORT (see $DIR)" >&2
        tail -c +$((from + 1)) "$ERRLOG" 2>/dev/null | tail -n 30 >&2 || true
        tail -n 10 "$DIR/stdout.log" >&2 2>/dev/null || true
        stop >/dev/null 2>&1 || true
        exit 1
      fi
      sleep 0.2
    done
  fi
  bootstrap
  echo "mariadb $state on 127.0.0.1:$PORT (pid $(pid))"
}

# Database and accounts, idempotently (passwords and grants are re-applied).
# Not binlogged: tests reading the binlog see no setup events, and repeated
# starts do not advance the GTID position.
bootstrap() {
  sql <<'SQL'
SET SESSION sql_log_bin = 0;
CREATE DATABASE IF NOT EXISTS sluice;
CREATE USER IF NOT EXISTS 'sluice'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'sluice'@'localhost';
CREATE USER IF NOT EXISTS 'norepl'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'sluicetls'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'sluicex509'@'127.0.0.1';
ALTER USER 'sluice'@'127.0.0.1' IDENTIFIED BY 'sluice';
ALTER USER 'sluice'@'localhost' IDENTIFIED BY 'sluice';
ALTER USER 'norepl'@'127.0.0.1' IDENTIFIED BY 'norepl';
ALTER USER 'sluicetls'@'127.0.0.1' IDENTIFIED BY 'sluicetls' REQUIRE SSL;
ALTER USER 'sluicex509'@'127.0.0.1' IDENTIFIED BY 'sluicex509' REQUIRE X509;
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR,
      LOCK TABLES, BINLOG ADMIN, SUPER, CONNECTION ADMIN, PROCESS
   ON *.* TO 'sluice'@'127.0.0.1', 'sluice'@'localhost', 'sluicetls'@'127.0.0.1', 'sluicex509'@'127.0.0.1';
GRANT ALL ON sluice.* TO 'sluice'@'127.0.0.1', 'sluice'@'localhost', 'sluicetls'@'127.0.0.1', 'sluicex509'@'127.0.0.1';
GRANT ALL ON sluice.* TO 'norepl'@'127.0.0.1';
-- Scratch databases of tests that capture a whole database (sluice_*).
GRANT ALL ON `sluice\_%`.* TO 'sluice'@'127.0.0.1';
SQL
  # Root stays on the unix socket: drop any root@<host> but root@localhost.
  local host
  sql -N -B -e "SELECT host FROM mysql.global_priv WHERE user = 'root' AND host <> 'localhost'" |
    while IFS= read -r host; do
      sql -e "SET SESSION sql_log_bin = 0; DROP USER 'root'@'$host'"
    done
}

stop() {
  if running; then
    local p deadline=$((SECONDS + STOP_TIMEOUT)); p=$(pid)
    kill -TERM "$p"
    while kill -0 "$p" 2>/dev/null; do
      if ((SECONDS >= deadline)); then echo "mariadb: SIGKILL after $STOP_TIMEOUT s" >&2; kill -KILL "$p"; fi
      sleep 0.2
    done
  fi
  rm -f "$PIDFILE"
  echo "mariadb stopped"
}

case "${1:-}" in
  start)   start ;;
  stop)    stop ;;
  restart) stop; start ;;
  status)  if running; then echo "mariadb: running (pid $(pid)) on 127.0.0.1:$PORT"; else echo "mariadb: stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
