#!/usr/bin/env bash
# pg-versions.sh VERSION[:all]...
#
# The PostgreSQL version matrix of `make test`, run after the whole suite
# on PostgreSQL 15: for each VERSION the PostgreSQL clusters are made
# again with that server (scripts/postgres.sh, SLUICE_PG_VERSION) while
# the other services keep running, and the tests that read PostgreSQL run
# against it, with the leak check around them:
#   - source/postgres: the golden encodings of every type, streaming of
#     in-progress transactions, failover slots (17+), decoding on a
#     standby (16+), the source's integration tests;
#   - the end-to-end tests of cmd/sluice that stream from PostgreSQL
#     ($PG_E2E).
# VERSION:all runs the whole suite (go test ./...) on that version instead.
# PostgreSQL 15 is started again at the end. Needs the services' env
# (eval "$(scripts/services.sh env)") and SLUICE_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SLUICE_BIN:?SLUICE_BIN is not set}"
GO=${GO:-go}
PG_E2E=${PG_E2E:-'^(TestKafkaChangeStream|TestDebeziumGolden|TestStopAndKillLoseNothing|TestSnapshotResumesAfterKill|TestExactlyOnceKillUnderLoad|TestPostgresHeartbeatRecords|TestTableJoinsPipeline)$'}
# Their parts that do not read PostgreSQL ran with the whole suite.
PG_E2E_SKIP=${PG_E2E_SKIP:-'^TestExactlyOnceKillUnderLoad$/^mariadb$'}

running=15
switch() {
  SLUICE_PG_VERSION=$running scripts/postgres.sh stop >/dev/null
  SLUICE_PG_VERSION=$1 scripts/postgres.sh start
  running=$1
}
trap 'switch 15 >/dev/null' EXIT

for arg in "$@"; do
  v=${arg%:all}
  began=$(date +%s)
  echo "== PostgreSQL $v"
  switch "$v"
  scripts/leaks.sh before bin/leaks.before
  # Exported for the tests that run scripts/postgres.sh themselves (a
  # restart, a standby): without it they would start PostgreSQL 15.
  export SLUICE_PG_VERSION=$v
  if [ "$arg" != "$v" ]; then
    $GO test -count=1 -p 1 -timeout 30m ./...
  else
    $GO test -count=1 -p 1 -timeout 30m ./source/postgres
    $GO test -count=1 -p 1 -timeout 30m -run "$PG_E2E" -skip "$PG_E2E_SKIP" ./cmd/sluice
  fi
  unset SLUICE_PG_VERSION
  scripts/leaks.sh after bin/leaks.before
  echo "== PostgreSQL $v: passed in $(($(date +%s) - began)) s"
done
