#!/usr/bin/env bash
# debezium.sh fetch | serve RUN_DIR PROPERTIES | record [postgres|mariadb [MODE...]] | props SOURCE MODE
#             | modes [SOURCE] | clean
#             | record-smt [MODE...] | props-smt MODE | modes-smt | clean-smt
#             | record-avro [postgres|mariadb] | props-avro SOURCE | clean-avro
#
# Records what the real Debezium Server 3.6.1.Final writes to Kafka for the
# fixtures in testdata/debezium/<source>/ and stores it, one JSON line per
# record, as the golden files testdata/golden/debezium/<source>/<mode>/ that
# sluice's Debezium-compatibility test compares against. Only this script
# needs Java; the project's tests read the recorded files.
#
#   fetch   downloads io.debezium:debezium-server-dist:3.6.1.Final:tar.gz from
#           Maven Central (~0.8 GB, seconds to a minute here) and unpacks it once into
#           ${SLUICE_CACHE:-~/.cache/sluice}/debezium-server-3.6.1.Final (marker
#           .complete; the tarball is deleted after unpacking).
#   serve   runs Debezium Server in the foreground with a properties file of
#           the caller's, from a run dir of the caller's (sluice-bench
#           -debezium); the process becomes the JVM.
#   record  with no argument records every mode of both sources (~8-10 min here);
#           `record postgres` all PostgreSQL modes; `record mariadb defaults
#           schemas` only those. Each mode: recreate the database `dbz` from
#           schema.sql + snapshot.sql, recreate the topics, start Debezium
#           Server (initial snapshot), wait until it streams, run stream.sql,
#           read the topics with internal/tools/topicdump until the
#           end_marker row has arrived and the topics are quiet, stop
#           Debezium, drop the slot, database and topics.
#   props   prints the application.properties of one mode.
#   modes   lists the modes (of one source): defaults, decimal-string,
#           decimal-double, time-connect, binary-base64, interval-string (postgres),
#           bigint-precise (mariadb), transaction-metadata, schemas, skipped-none;
#           each adds one property (see props, and the README of the goldens).
#   clean   stops a recorder's Debezium left running, drops its slot,
#           databases and topics, deletes the scratch dir.
#
# SMT modes (PostgreSQL only; a separate set, kept out of
# testdata/golden/debezium/ so TestDebeziumGolden does not see them): the
# same recording with a single message transform (SMT) configured, into
# testdata/golden/debezium-smt/postgres/<mode>/, with a database, slot,
# publication and topic prefix of their own (dbzsmt, dbzsmt_record, dbzsmt)
# so they can run beside the modes above (and other users of dbz*).
#   record-smt  with no argument every SMT mode; `record-smt unwrap outbox` only those.
#   props-smt   prints the application.properties of one SMT mode.
#   modes-smt   lists them: unwrap, unwrap-schemas, unwrap-rewrite,
#               unwrap-rewrite-schemas, unwrap-drop, unwrap-delete-to-tombstone,
#               unwrap-rewrite-with-tombstone, unwrap-skipped-none
#               (ExtractNewRecordState on the postgres fixtures), outbox,
#               outbox-schemas, outbox-jsonb-expand (the outbox EventRouter on
#               testdata/debezium/postgres-outbox/), route, route-schemas,
#               route-key-field, route-no-uniqueness (ByLogicalTableRouter),
#               headers (two InsertHeader); *-schemas: key and value
#               schemas enabled. See testdata/golden/debezium-smt/README.md.
#   clean-smt   stops an SMT recorder's Debezium left running, drops only the
#               dbzsmt slot, publication, database and topics (not dbz/dbz_record).
#
# Avro (record-avro [postgres|mariadb], props-avro SOURCE, clean-avro): the
# `defaults` recording with Avro keys and values through Apicurio's serde and
# the registry of scripts/apicurio.sh, into testdata/golden/debezium-avro/;
# implemented in scripts/debezium-avro.sh (which sources this file).
# Outbox: table.include.list is the outbox table alone; the router sends
# each row to outbox.event.<aggregatetype> (no topic prefix), so those topics
# (OUTBOX_TOPICS below: one per aggregatetype of the fixtures) are created
# beforehand like the others, and the end marker is itself an outbox row of
# aggregatetype end_marker (topic outbox.event.end_marker).
#
# Services: the ones of scripts/services.sh (PostgreSQL on
# ${SLUICE_PG_PORT:-55432} as the superuser `sluice`, MariaDB on
# ${SLUICE_MARIADB_PORT:-53306}, root over its socket for setup and `sluice`
# over TCP for Debezium, Kafka PLAINTEXT on ${SLUICE_KAFKA_PORT:-59092}); they
# must be running. Per source a lock serialises recorders.
#
# Where things go:
#   dist (read-only once unpacked)  ${SLUICE_CACHE:-~/.cache/sluice}/debezium-server-3.6.1.Final
#   run dir of a source             ${SLUICE_SCRATCH:-/tmp/sluice-services}/debezium/run-<source>:
#     a scratch copy of the dist made of symlinks, with its own
#     config/application.properties and data/ (offsets, schema history)
#     and debezium.log; deleted and made again at every mode, the last one is
#     kept for inspection
#   goldens                         testdata/golden/debezium/<source>/<mode>/
#     <topic>.jsonl (topicdump lines) + application.properties (as used)
#
# Facts and pitfalls:
# - The dist unpacks to debezium-server/ with run.sh, lib/ and config/ (not
#   conf/): Quarkus reads config/application.properties relative to the
#   working directory, and run.sh uses relative paths too, so it runs from
#   the run dir, never from the cache (concurrent runs stay independent).
# - Java >= 21 is required (class version 65); Temurin 25 is in
#   /usr/lib/jvm. JAVA_HOME or SLUICE_DEBEZIUM_JAVA_HOME is used when it is
#   >= 21, else the newest JDK >= 21 under /usr/lib/jvm, else `java` on PATH.
#   Heap: -Xmx1g (SLUICE_DEBEZIUM_JAVA_OPTS overrides). On Java >= 24 Quarkus
#   needs --add-opens java.base/java.lang=ALL-UNNAMED (passed here).
# - PostgreSQL: a database of its own (`dbz`): on a database holding many
#   user-defined types left by other tests 3.6.1 failed at start with a
#   NullPointerException in TypeRegistry.prime. The publication `dbz_record`
#   (FOR ALL TABLES) is made here (publication.autocreate.mode=disabled);
#   Debezium makes the slot `dbz_record`, and this script drops it after
#   every run and on exit: a leaked slot pins WAL. Creating the slot waits
#   for every transaction open on the cluster (other tests'), so a mode
#   sometimes needs a minute to start.
# - MariaDB: database `dbz`; schema history in a file
#   (FileSchemaHistory, data/schemahistory.dat) holding only the captured
#   database's DDL, and snapshot.locking.mode=none (no global read lock that
#   would stall other tests sharing the server). Schema changes go to the
#   topic named like topic.prefix (`dbzmaria`). With transaction metadata
#   the connector writes BEGIN/END for *every* binlog transaction, other
#   databases' too: the recorder runs stream.sql with SELECT @@last_gtid
#   after each statement and keeps only those transactions' records.
# - MariaDB's client may default to utf8mb3 (emoji become ????): it runs
#   with --default-character-set=utf8mb4, and the fixtures SET NAMES.
# - Kafka: the broker does not auto-create topics, and Debezium Server's
#   producer stalls on UNKNOWN_TOPIC_OR_PARTITION: every topic it may write
#   (one per table, <prefix>.transaction, PostgreSQL's <prefix>.message,
#   MariaDB's <prefix>) is created beforehand (1 partition).
# - Debezium Server adds headers of its own, __debezium.context.*
#   (connectorLogicalName, taskId, connectorName): not the connector's, so
#   topicdump drops them. Connector headers (__debezium.oldkey/newkey on a
#   primary-key change) are kept.
# - Offsets (data/offsets.dat) and schema history are in the run dir and
#   deleted between runs, or Debezium would resume from the old position
#   and skip the snapshot.
# - Records are keyed and valued by the JSON converter with the String
#   serializer: the Kafka bytes are exactly the converter's output.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VERSION=3.6.1.Final
URL=https://repo1.maven.org/maven2/io/debezium/debezium-server-dist/$VERSION/debezium-server-dist-$VERSION.tar.gz
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}/debezium-server-$VERSION
SCRATCH=${SLUICE_SCRATCH:-/tmp/sluice-services}
DIR=$SCRATCH/debezium
PG_PORT=${SLUICE_PG_PORT:-55432}
MARIADB_PORT=${SLUICE_MARIADB_PORT:-53306}
MARIADB_SOCK=$SCRATCH/mariadb/mariadb.sock
KAFKA=127.0.0.1:${SLUICE_KAFKA_PORT:-59092}
FIXTURES=$ROOT/testdata/debezium
GOLDEN=$ROOT/testdata/golden/debezium
START_TIMEOUT=${SLUICE_DEBEZIUM_START_TIMEOUT:-300}
# --add-opens: on Java >= 24 Quarkus' jboss-threads otherwise throws IllegalAccessError
# ("thread-local-reset capability") from its HTTP worker threads.
JAVA_OPTS_DBZ=${SLUICE_DEBEZIUM_JAVA_OPTS:--Xms256m -Xmx1g -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError --add-opens java.base/java.lang=ALL-UNNAMED}

DB=dbz                      # database of its own in each server
PG_PREFIX=dbzpg             # topic.prefix (also source.name and schema names)
MARIADB_PREFIX=dbzmaria
PG_SLOT=dbz_record          # replication slot and publication
PG_FIXTURES=postgres        # testdata/debezium/<this>/ (SMT outbox modes: postgres-outbox)
MARIADB_SERVER_ID=5400      # database.server.id (the server itself is 1)

PG_MODES="defaults decimal-string decimal-double time-connect binary-base64 interval-string transaction-metadata schemas skipped-none"
MARIADB_MODES="defaults decimal-string decimal-double time-connect binary-base64 bigint-precise transaction-metadata schemas skipped-none"

log() { echo "debezium.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- fetch

fetch() {
  [ -f "$CACHE/.complete" ] && return
  local parent; parent=$(dirname "$CACHE")
  mkdir -p "$parent"
  local work; work=$(mktemp -d "$parent/.debezium-fetch.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  log "fetching Debezium Server $VERSION (~0.8 GB) from Maven Central ..."
  if command -v curl >/dev/null; then
    curl -fL --retry 3 --silent --show-error -o "$work/dist.tar.gz" "$URL"
  else
    wget -q -O "$work/dist.tar.gz" "$URL"
  fi
  log "unpacking ..."
  tar -xzf "$work/dist.tar.gz" -C "$work"
  rm -f "$work/dist.tar.gz"
  [ -f "$work/debezium-server/run.sh" ] && [ -d "$work/debezium-server/config" ] ||
    die "unexpected layout of the dist (no debezium-server/run.sh or config/)"
  rm -rf "$CACHE"
  mv "$work/debezium-server" "$CACHE"
  rm -rf "$work"
  trap - EXIT
  touch "$CACHE/.complete"
}

# ---------------------------------------------------------------- java

java_major() { # JAVA_BIN -> major version (8 for 1.8)
  "$1" -XshowSettings:properties -version 2>&1 |
    awk -F' = ' '/java.specification.version/ {v=$2; sub(/^1\./, "", v); print v; exit}'
}

find_java_home() {
  local c v best= bestv=0
  for c in "${SLUICE_DEBEZIUM_JAVA_HOME:-}" "${JAVA_HOME:-}"; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] || continue
    v=$(java_major "$c/bin/java")
    if [[ $v =~ ^[0-9]+$ ]] && ((v >= 21)); then echo "$c"; return; fi
  done
  for c in /usr/lib/jvm/*/; do
    c=${c%/}
    [ -x "$c/bin/java" ] && [ ! -L "$c" ] || continue
    v=$(java_major "$c/bin/java")
    if [[ $v =~ ^[0-9]+$ ]] && ((v >= 21 && v > bestv)); then best=$c; bestv=$v; fi
  done
  if [ -n "$best" ]; then echo "$best"; return; fi
  if c=$(command -v java); then
    v=$(java_major "$c")
    if [[ $v =~ ^[0-9]+$ ]] && ((v >= 21)); then dirname "$(dirname "$(readlink -f "$c")")"; return; fi
  fi
  die "Debezium Server needs Java >= 21 (none found; set SLUICE_DEBEZIUM_JAVA_HOME)"
}

# ---------------------------------------------------------------- databases

pg() { PGPASSWORD=sluice psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U sluice "$@"; }
maria() { mariadb --no-defaults --default-character-set=utf8mb4 --protocol=socket --socket="$MARIADB_SOCK" -uroot "$@"; }

pg_drop() {
  # The slot first: a logical slot on the database blocks DROP DATABASE.
  pg -d postgres -A -t -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '$PG_SLOT' AND active_pid IS NOT NULL" >/dev/null
  local i
  for i in $(seq 50); do
    pg -d postgres -A -t -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$PG_SLOT' AND NOT active" >/dev/null 2>&1 || true
    [ -z "$(pg -d postgres -A -t -c "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$PG_SLOT'")" ] && break
    sleep 0.2
  done
  pg -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null
}

pg_prepare() {
  pg_drop
  pg -d postgres -c "CREATE DATABASE $DB"
  pg -d "$DB" -f "$FIXTURES/$PG_FIXTURES/schema.sql" -f "$FIXTURES/$PG_FIXTURES/snapshot.sql" >/dev/null
  pg -d "$DB" -c "CREATE PUBLICATION $PG_SLOT FOR ALL TABLES"
}

pg_tables() { pg -d "$DB" -A -t -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"; }

maria_drop() { maria -e "DROP DATABASE IF EXISTS $DB"; }

maria_prepare() {
  maria_drop
  maria -e "CREATE DATABASE $DB"
  maria "$DB" <"$FIXTURES/mariadb/schema.sql"
  maria "$DB" <"$FIXTURES/mariadb/snapshot.sql"
}

maria_tables() { maria -N -B -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$DB' ORDER BY 1"; }

# ---------------------------------------------------------------- config

# props SOURCE MODE: the application.properties of one run.
props() {
  local source=$1 mode=$2
  if [ "$source" = postgres-smt ]; then props_smt "$mode"; return; fi
  # The Avro recordings (scripts/debezium-avro.sh, which sources this file).
  case $source in *-avro) props_avro "${source%-avro}"; return ;; esac
  cat <<EOF
# Debezium Server $VERSION, source $source, mode $mode (generated by scripts/debezium.sh)
debezium.sink.type=kafka
debezium.sink.kafka.producer.bootstrap.servers=$KAFKA
debezium.sink.kafka.producer.key.serializer=org.apache.kafka.common.serialization.StringSerializer
debezium.sink.kafka.producer.value.serializer=org.apache.kafka.common.serialization.StringSerializer
debezium.format.key=json
debezium.format.value=json
EOF
  if [ "$mode" = schemas ]; then
    echo "debezium.format.key.schemas.enable=true"
    echo "debezium.format.value.schemas.enable=true"
  else
    echo "debezium.format.key.schemas.enable=false"
    echo "debezium.format.value.schemas.enable=false"
  fi
  cat <<EOF
debezium.source.offset.storage.file.filename=data/offsets.dat
debezium.source.offset.flush.interval.ms=0
EOF
  case $source in
    postgres) cat <<EOF
debezium.source.connector.class=io.debezium.connector.postgresql.PostgresConnector
debezium.source.database.hostname=127.0.0.1
debezium.source.database.port=$PG_PORT
debezium.source.database.user=sluice
debezium.source.database.password=sluice
debezium.source.database.dbname=$DB
debezium.source.topic.prefix=$PG_PREFIX
debezium.source.plugin.name=pgoutput
debezium.source.slot.name=$PG_SLOT
debezium.source.publication.name=$PG_SLOT
debezium.source.publication.autocreate.mode=disabled
EOF
    ;;
    mariadb) cat <<EOF
debezium.source.connector.class=io.debezium.connector.mariadb.MariaDbConnector
debezium.source.database.hostname=127.0.0.1
debezium.source.database.port=$MARIADB_PORT
debezium.source.database.user=sluice
debezium.source.database.password=sluice
debezium.source.database.server.id=$MARIADB_SERVER_ID
debezium.source.database.include.list=$DB
debezium.source.topic.prefix=$MARIADB_PREFIX
debezium.source.schema.history.internal=io.debezium.storage.file.history.FileSchemaHistory
debezium.source.schema.history.internal.file.filename=data/schemahistory.dat
debezium.source.schema.history.internal.store.only.captured.databases.ddl=true
debezium.source.snapshot.locking.mode=none
EOF
    ;;
  esac
  case $mode in
    defaults | schemas) ;;
    decimal-string) echo "debezium.source.decimal.handling.mode=string" ;;
    decimal-double) echo "debezium.source.decimal.handling.mode=double" ;;
    time-connect) echo "debezium.source.time.precision.mode=connect" ;;
    binary-base64) echo "debezium.source.binary.handling.mode=base64" ;;
    interval-string) echo "debezium.source.interval.handling.mode=string" ;;
    bigint-precise) echo "debezium.source.bigint.unsigned.handling.mode=precise" ;;
    transaction-metadata) echo "debezium.source.provide.transaction.metadata=true" ;;
    skipped-none) echo "debezium.source.skipped.operations=none" ;;
    *) die "unknown mode $mode" ;;
  esac
  quarkus_props
}

# quarkus_props: Debezium Server's own HTTP endpoint and logging, the
# same for every run.
quarkus_props() {
  cat <<EOF
quarkus.http.host=127.0.0.1
quarkus.http.port=0
quarkus.log.console.json=false
EOF
}

modes_of() {
  case $1 in
    postgres) echo "$PG_MODES" ;;
    mariadb) echo "$MARIADB_MODES" ;;
    *) die "unknown source $1 (postgres or mariadb)" ;;
  esac
}

# ---------------------------------------------------------------- Debezium Server

RUN= DBZ_PID= JAVA_HOME_DBZ= TOPICDUMP=

# link_dist DIR: DIR made anew as a scratch copy of the dist (symlinks)
# with its own config/ and data/ (no application.properties yet).
link_dist() {
  rm -rf "$1"
  mkdir -p "$1/config" "$1/data"
  local f
  for f in "$CACHE"/* "$CACHE"/config/*; do
    case ${f#"$CACHE"/} in
      # The dist's examples would only make Quarkus warn.
      config | config/application.properties | config/*.example | config/application.yaml*) ;;
      config/*) ln -s "$f" "$1/config/" ;;
      *) ln -s "$f" "$1/" ;;
    esac
  done
}

# make_run_dir SOURCE MODE: the run dir of a recording, with its properties.
make_run_dir() {
  RUN=$DIR/run-$1
  link_dist "$RUN"
  props "$1" "$2" >"$RUN/config/application.properties"
}

# serve RUN_DIR PROPERTIES: Debezium Server in the foreground with the
# given application.properties, from RUN_DIR (made anew by link_dist;
# offsets and logs land there). The script execs run.sh, which execs
# java: the pid of `debezium.sh serve` is the JVM's, which is what
# sluice-bench -debezium measures.
serve() {
  local run=$1 properties=$2
  [ -f "$CACHE/.complete" ] || die "Debezium Server $VERSION is not in $CACHE: run $0 fetch"
  [ -f "$properties" ] || die "no properties file $properties"
  run=$(mkdir -p "$run" && cd "$run" && pwd)
  link_dist "$run"
  cp "$properties" "$run/config/application.properties"
  local java_home; java_home=$(find_java_home)
  cd "$run"
  JAVA_HOME=$java_home JAVA_OPTS="$JAVA_OPTS_DBZ -Djava.io.tmpdir=$run/data" exec ./run.sh
}

dbz_running() { [ -n "$DBZ_PID" ] && kill -0 "$DBZ_PID" 2>/dev/null; }

# start_debezium READY_REGEX: start in $RUN and wait until the log matches.
start_debezium() {
  local ready=$1
  # run.sh execs java: $! is the JVM.
  (
    cd "$RUN"
    JAVA_HOME=$JAVA_HOME_DBZ JAVA_OPTS="$JAVA_OPTS_DBZ -Djava.io.tmpdir=$RUN/data" \
      exec ./run.sh >"$RUN/debezium.log" 2>&1 </dev/null
  ) &
  DBZ_PID=$!
  echo "$DBZ_PID" >"$RUN/debezium.pid"
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -Eq "$ready" "$RUN/debezium.log" 2>/dev/null; do
    if ! dbz_running || ((SECONDS >= deadline)); then
      tail -n 40 "$RUN/debezium.log" >&2 || true
      stop_debezium
      die "Debezium Server did not reach streaming (see $RUN/debezium.log)"
    fi
    sleep 0.5
  done
}

stop_debezium() {
  dbz_running || { DBZ_PID=; return 0; }
  kill -TERM "$DBZ_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while dbz_running; do
    if ((SECONDS >= deadline)); then log "SIGKILL after 60 s"; kill -KILL "$DBZ_PID" 2>/dev/null || true; fi
    sleep 0.2
  done
  wait "$DBZ_PID" 2>/dev/null || true
  DBZ_PID=
}

# ---------------------------------------------------------------- recording

topicdump() { "$TOPICDUMP" -brokers "$KAFKA" "$@"; }

build_topicdump() {
  mkdir -p "$DIR"
  TOPICDUMP=$DIR/topicdump
  (cd "$ROOT" && go build -o "$TOPICDUMP" ./internal/tools/topicdump) || die "cannot build internal/tools/topicdump"
}

CLEANUP_SOURCE=
cleanup() {
  stop_debezium
  case $CLEANUP_SOURCE in
    postgres) pg_drop >/dev/null 2>&1 || log "could not drop slot $PG_SLOT / database $DB: drop them by hand" ;;
    mariadb) maria_drop >/dev/null 2>&1 || true ;;
  esac
  CLEANUP_SOURCE=
}

# drain_run LABEL MARKER TOPIC...: dump TOPICs into $RUN/out until a record
# on MARKER (then a quiet spell), then stop Debezium, delete the topics and
# drop the database (cleanup).
drain_run() {
  local label=$1 marker=$2; shift 2
  topicdump -until "$marker" -quiet "${SLUICE_DEBEZIUM_QUIET:-5s}" -timeout 5m -dir "$RUN/out" "$@" ||
    { tail -n 30 "$RUN/debezium.log" >&2; die "$label: the end marker never arrived"; }
  if grep -q ' ERROR ' "$RUN/debezium.log"; then
    log "$label: Debezium logged errors:"; grep ' ERROR ' "$RUN/debezium.log" | head -n 5 >&2
  fi
  stop_debezium
  topicdump -delete "$@"
  cleanup
}

# store_golden LABEL DST T0: swap $RUN/out, with the properties used, in
# whole as the golden directory DST.
store_golden() {
  local label=$1 dst=$2 t0=$3
  grep -v '^#' "$RUN/config/application.properties" >"$RUN/out/application.properties"
  mkdir -p "$(dirname "$dst")"
  rm -rf "$dst"
  cp -r "$RUN/out" "$dst"
  log "$label: $(cat "$dst"/*.jsonl | wc -l) records in $(ls "$dst"/*.jsonl | wc -l) topics, $((SECONDS - t0)) s"
}

# record_mode SOURCE MODE
record_mode() {
  local source=$1 mode=$2 t0=$SECONDS prefix ready tables topics=() t
  case $source in
    postgres)
      prefix=$PG_PREFIX
      # Streaming has begun once the replication stream is consumed.
      ready='Processing messages|Streaming requested from LSN'
      ;;
    mariadb)
      prefix=$MARIADB_PREFIX
      ready='Connected to binlog at|Keepalive thread is running'
      ;;
  esac
  log "$source/$mode: preparing database $DB ..."
  CLEANUP_SOURCE=$source
  if [ "$source" = postgres ]; then pg_prepare; tables=$(pg_tables); else maria_prepare; tables=$(maria_tables); fi
  for t in $tables; do
    if [ "$source" = postgres ]; then topics+=("$prefix.public.$t"); else topics+=("$prefix.$DB.$t"); fi
  done
  topics+=("$prefix.transaction")
  if [ "$source" = postgres ]; then topics+=("$prefix.message"); else topics+=("$prefix"); fi
  topicdump -recreate "${topics[@]}"

  make_run_dir "$source" "$mode"
  log "$source/$mode: starting Debezium Server ..."
  start_debezium "$ready"
  log "$source/$mode: streaming after $((SECONDS - t0)) s; running stream.sql ..."
  if [ "$source" = postgres ]; then
    pg -d "$DB" -f "$FIXTURES/$PG_FIXTURES/stream.sql" >/dev/null
  else
    # The same session, with SELECT @@last_gtid after every statement (a
    # line ending in ';'): the GTIDs of the fixture's own transactions.
    awk '{ print } /;[[:space:]]*$/ && !/^[[:space:]]*--/ { print "SELECT @@last_gtid;" }' \
      "$FIXTURES/mariadb/stream.sql" | maria -N -B "$DB" | sed '/^$/d' | sort -u >"$RUN/gtids"
  fi
  local marker=$prefix.public.end_marker
  [ "$source" = mariadb ] && marker=$prefix.$DB.end_marker
  drain_run "$source/$mode" "$marker" "${topics[@]}"
  if [ "$source" = mariadb ] && [ -f "$RUN/out/$prefix.transaction.jsonl" ]; then
    # Debezium's MariaDB connector writes BEGIN and END (event_count 0) for
    # every transaction in the binlog, other databases' too: keep the
    # fixture's own (a session sharing the server would otherwise show up).
    local f=$RUN/out/$prefix.transaction.jsonl n
    sed 's/.*/"key":"{\\"id\\":\\"&\\"}"/' "$RUN/gtids" >"$RUN/gtid-patterns"
    n=$(wc -l <"$f")
    grep -F -f "$RUN/gtid-patterns" "$f" >"$f.own" || true
    mv "$f.own" "$f"
    log "$source/$mode: kept $(wc -l <"$f") of $n transaction records (the others are other sessions' transactions)"
  fi
  store_golden "$source/$mode" "$GOLDEN/$source/$mode" "$t0"
}

# record_source SOURCE [MODE...]
record_source() {
  local source=$1; shift
  local modes=("$@")
  [ ${#modes[@]} -gt 0 ] || read -r -a modes <<<"$(modes_of "$source")"
  local m
  for m in "${modes[@]}"; do
    [[ " $(modes_of "$source") " == *" $m "* ]] || die "mode $m does not apply to $source ($(modes_of "$source"))"
  done
  mkdir -p "$DIR"
  exec 9>"$DIR/$source.lock"
  flock -n 9 || { log "another recorder holds $DIR/$source.lock; waiting ..."; flock 9; }
  for m in "${modes[@]}"; do record_mode "$source" "$m"; done
  exec 9>&-
}

# recorder_setup: the dist, Java, topicdump, and cleanup on exit.
recorder_setup() {
  fetch
  JAVA_HOME_DBZ=$(find_java_home)
  log "Java: $JAVA_HOME_DBZ ($(java_major "$JAVA_HOME_DBZ/bin/java"))"
  build_topicdump
  trap 'cleanup' EXIT
  trap 'exit 130' INT TERM
}

record() {
  recorder_setup
  local t0=$SECONDS
  if [ $# -eq 0 ]; then
    record_source postgres
    record_source mariadb
  else
    record_source "$@"
  fi
  log "recorded in $((SECONDS - t0)) s into $GOLDEN"
}

# stop_left_debezium RUNDIR: stop a Debezium Server left running by a
# killed recorder: by its pid file, and only if that process still runs
# from the run dir.
stop_left_debezium() {
  local p
  [ -f "$1/debezium.pid" ] || return 0
  p=$(cat "$1/debezium.pid")
  if kill -0 "$p" 2>/dev/null && [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$1" ]; then
    DBZ_PID=$p
    stop_debezium
  fi
}

clean() {
  local run
  for run in "$DIR"/run-*; do stop_left_debezium "$run"; done
  pg_drop >/dev/null 2>&1 || true
  maria_drop >/dev/null 2>&1 || true
  if [ -x "$DIR/topicdump" ]; then
    TOPICDUMP=$DIR/topicdump
    local t topics=()
    for t in $(awk '/^CREATE TABLE/ {print $3}' "$FIXTURES/postgres/schema.sql"); do topics+=("$PG_PREFIX.public.$t"); done
    for t in $(awk '/^CREATE TABLE/ {print $3}' "$FIXTURES/mariadb/schema.sql"); do topics+=("$MARIADB_PREFIX.$DB.$t"); done
    topics+=("$PG_PREFIX.transaction" "$PG_PREFIX.message" "$MARIADB_PREFIX.transaction" "$MARIADB_PREFIX")
    topicdump -delete "${topics[@]}" || true
  fi
  rm -rf "$DIR"
  echo "debezium recorder state removed"
}

# ---------------------------------------------------------------- SMT modes (PostgreSQL)

SMT_DB=dbzsmt
SMT_PREFIX=dbzsmt
SMT_SLOT=dbzsmt_record
SMT_GOLDEN=$ROOT/testdata/golden/debezium-smt
PG_SMT_MODES="unwrap unwrap-schemas unwrap-rewrite unwrap-rewrite-schemas unwrap-drop unwrap-delete-to-tombstone unwrap-rewrite-with-tombstone unwrap-skipped-none outbox outbox-schemas outbox-jsonb-expand route route-schemas route-key-field route-no-uniqueness headers"
# The route* modes merge rid_default and rid_full into one topic, and
# nopk_full into another (ROUTE_TOPICS).
ROUTE_TOPICS="$SMT_PREFIX.public.rid $SMT_PREFIX.public.nopk"
# One topic per aggregatetype in testdata/debezium/postgres-outbox/*.sql (the
# broker does not auto-create topics), end_marker included.
OUTBOX_TOPICS="outbox.event.order outbox.event.customer outbox.event.end_marker"

# smt_use: point the PostgreSQL globals at the SMT modes' own database, slot,
# publication, prefix and goldens (for the rest of the process).
smt_use() { DB=$SMT_DB; PG_PREFIX=$SMT_PREFIX; PG_SLOT=$SMT_SLOT; GOLDEN=$SMT_GOLDEN; }

smt_check_mode() { [[ " $PG_SMT_MODES " == *" $1 "* ]] || die "unknown SMT mode $1 ($PG_SMT_MODES)"; }

# props_smt MODE: the shared PostgreSQL properties (those of `defaults`, or
# of `schemas` for the *-schemas modes) on the SMT database, plus the transform.
props_smt() {
  local mode=$1 base=defaults
  smt_check_mode "$mode"
  [[ $mode == *-schemas ]] && base=schemas
  echo "# Debezium Server $VERSION, source postgres, SMT mode $mode (generated by scripts/debezium.sh)"
  (smt_use; props postgres "$base") | sed -e '/^#/d' -e '/^quarkus\./d'
  case $mode in
    unwrap*)
      [ "$mode" = unwrap-skipped-none ] && echo "debezium.source.skipped.operations=none"
      echo "debezium.transforms=unwrap"
      echo "debezium.transforms.unwrap.type=io.debezium.transforms.ExtractNewRecordState"
      ;;
    outbox*)
      cat <<EOF
debezium.source.table.include.list=public.outbox
debezium.transforms=outbox
debezium.transforms.outbox.type=io.debezium.transforms.outbox.EventRouter
debezium.transforms.outbox.table.fields.additional.placement=tenant:header:tenantId
EOF
      ;;
    route*)
      cat <<EOF
debezium.transforms=route
debezium.transforms.route.type=io.debezium.transforms.ByLogicalTableRouter
debezium.transforms.route.topic.regex=$SMT_PREFIX\\\\.public\\\\.(rid|nopk)_.*
debezium.transforms.route.topic.replacement=$SMT_PREFIX.public.\$1
EOF
      ;;
    headers)
      cat <<EOF
debezium.transforms=tenant,shard
debezium.transforms.tenant.type=org.apache.kafka.connect.transforms.InsertHeader
debezium.transforms.tenant.header=tenant
debezium.transforms.tenant.value.literal=acme
debezium.transforms.shard.type=org.apache.kafka.connect.transforms.InsertHeader
debezium.transforms.shard.header=shard
debezium.transforms.shard.value.literal=42
EOF
      ;;
  esac
  case $mode in
    route-key-field) cat <<EOF
debezium.transforms.route.key.field.name=shard
debezium.transforms.route.key.field.regex=$SMT_PREFIX\\\\.public\\\\.[a-z]+_(.*)
debezium.transforms.route.key.field.replacement=\$1
EOF
    ;;
    route-no-uniqueness) echo "debezium.transforms.route.key.enforce.uniqueness=false" ;;
    unwrap-rewrite | unwrap-rewrite-schemas) cat <<EOF
debezium.transforms.unwrap.delete.tombstone.handling.mode=rewrite
debezium.transforms.unwrap.add.fields=op,table,lsn,source.ts_ms
debezium.transforms.unwrap.add.headers=db,op
EOF
    ;;
    unwrap-drop) echo "debezium.transforms.unwrap.delete.tombstone.handling.mode=drop" ;;
    unwrap-delete-to-tombstone) echo "debezium.transforms.unwrap.delete.tombstone.handling.mode=delete-to-tombstone" ;;
    unwrap-rewrite-with-tombstone) echo "debezium.transforms.unwrap.delete.tombstone.handling.mode=rewrite-with-tombstone" ;;
    outbox-jsonb-expand) echo "debezium.transforms.outbox.table.expand.json.payload=true" ;;
  esac
  quarkus_props
}

# smt_topics MODE: every topic the run may write.
smt_topics() {
  local t
  case $1 in
    outbox*) echo "$SMT_PREFIX.public.outbox $OUTBOX_TOPICS" ;;
    route*) echo "$ROUTE_TOPICS" ;&
    *)
      for t in $(awk '/^CREATE TABLE/ {print $3}' "$FIXTURES/postgres/schema.sql"); do echo "$SMT_PREFIX.public.$t"; done
      ;;
  esac
  echo "$SMT_PREFIX.transaction $SMT_PREFIX.message"
}

# record_smt_mode MODE: as record_mode for postgres, with the SMT's props,
# fixtures, topics and end marker.
record_smt_mode() {
  local mode=$1 t0=$SECONDS topics marker
  read -r -a topics <<<"$(smt_topics "$mode" | tr '\n' ' ')"
  case $mode in
    outbox*) PG_FIXTURES=postgres-outbox; marker=outbox.event.end_marker ;;
    *) PG_FIXTURES=postgres; marker=$PG_PREFIX.public.end_marker ;;
  esac
  log "postgres-smt/$mode: preparing database $DB ..."
  CLEANUP_SOURCE=postgres
  pg_prepare
  topicdump -recreate "${topics[@]}"
  make_run_dir postgres-smt "$mode"
  log "postgres-smt/$mode: starting Debezium Server ..."
  start_debezium 'Processing messages|Streaming requested from LSN'
  log "postgres-smt/$mode: streaming after $((SECONDS - t0)) s; running $PG_FIXTURES/stream.sql ..."
  pg -d "$DB" -f "$FIXTURES/$PG_FIXTURES/stream.sql" >/dev/null
  drain_run "postgres-smt/$mode" "$marker" "${topics[@]}"
  store_golden "postgres-smt/$mode" "$GOLDEN/postgres/$mode" "$t0"
}

record_smt() {
  local modes=("$@") m
  [ ${#modes[@]} -gt 0 ] || read -r -a modes <<<"$PG_SMT_MODES"
  for m in "${modes[@]}"; do smt_check_mode "$m"; done
  smt_use
  recorder_setup
  exec 9>"$DIR/postgres-smt.lock"
  flock -n 9 || { log "another SMT recorder holds $DIR/postgres-smt.lock; waiting ..."; flock 9; }
  local t0=$SECONDS
  for m in "${modes[@]}"; do record_smt_mode "$m"; done
  exec 9>&-
  log "recorded in $((SECONDS - t0)) s into $GOLDEN/postgres"
}

clean_smt() {
  smt_use
  stop_left_debezium "$DIR/run-postgres-smt"
  pg_drop >/dev/null 2>&1 || true
  if [ -x "$DIR/topicdump" ]; then
    TOPICDUMP=$DIR/topicdump
    local topics
    read -r -a topics <<<"$( (smt_topics route; smt_topics outbox) | tr '\n' ' ')"
    topicdump -delete "${topics[@]}" || true
  fi
  rm -rf "$DIR/run-postgres-smt"
  echo "debezium SMT recorder state removed"
}

# Sourced (by scripts/debezium-avro.sh): only the definitions above.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "${1:-}" in
  fetch) fetch; echo "Debezium Server $VERSION in $CACHE" ;;
  serve) serve "${2:?run dir}" "${3:?application.properties}" ;;
  record) shift; record "$@" ;;
  props) props "${2:?source}" "${3:?mode}" ;;
  modes) if [ -n "${2:-}" ]; then modes_of "$2"; else echo "postgres: $PG_MODES"; echo "mariadb: $MARIADB_MODES"; fi ;;
  clean) clean ;;
  record-smt) shift; record_smt "$@" ;;
  props-smt) props_smt "${2:?mode}" ;;
  modes-smt) echo "$PG_SMT_MODES" ;;
  clean-smt) clean_smt ;;
  record-avro | props-avro | clean-avro) a=${1%-avro}; shift; exec "$HERE/debezium-avro.sh" "$a" "$@" ;;
  *) echo "usage: $0 fetch | serve RUN_DIR PROPERTIES | record [postgres|mariadb [MODE...]] | props SOURCE MODE | modes [SOURCE] | clean | record-smt [MODE...] | props-smt MODE | modes-smt | clean-smt | record-avro [postgres|mariadb] | props-avro SOURCE | clean-avro" >&2; exit 2 ;;
esac
