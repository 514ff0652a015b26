#!/usr/bin/env bash
# services.sh up|down|status|env|clean
#
# Starts/stops every real service sluice's integration tests need, without
# Docker (see postgres.sh, mariadb.sh, kafka.sh, apicurio.sh, elasticsearch.sh
# and opensearch.sh): Postgres and MariaDB first (cheap), then Kafka, then the
# Apicurio schema registry, then Elasticsearch, then OpenSearch (JVMs, started
# one after the other, as the machine has only 2 cores).
# `env` prints the export lines the Go tests read, e.g.
#   eval "$(scripts/services.sh env)"
# `clean` = down, then delete the data (pg/, mariadb/, kafka/, registry/, es/ and opensearch/
# under the scratch dir); the download cache in ${SLUICE_CACHE:-~/.cache/sluice} is kept.
# Overrides: SLUICE_PG_PORT, SLUICE_PG_REPLICA_PORT, SLUICE_MARIADB_PORT,
# SLUICE_KAFKA_PORT, SLUICE_KAFKA_CONTROLLER_PORT, SLUICE_KAFKA_SECURE_PORT,
# SLUICE_REGISTRY_PORT, SLUICE_REGISTRY_MANAGEMENT_PORT, SLUICE_ES_PORT,
# SLUICE_ES_TRANSPORT_PORT, SLUICE_OS_PORT, SLUICE_OS_TRANSPORT_PORT, SLUICE_SCRATCH (default /tmp/sluice-services).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_PORT=${SLUICE_PG_PORT:-55432}
PG_REPLICA_PORT=${SLUICE_PG_REPLICA_PORT:-55433}
MARIADB_PORT=${SLUICE_MARIADB_PORT:-53306}
KAFKA_PORT=${SLUICE_KAFKA_PORT:-59092}
KAFKA_SECURE_PORT=${SLUICE_KAFKA_SECURE_PORT:-59094}
REGISTRY_PORT=${SLUICE_REGISTRY_PORT:-58081}
ES_PORT=${SLUICE_ES_PORT:-59200}
OS_PORT=${SLUICE_OS_PORT:-59210}

case "${1:-}" in
  up)     "$HERE/postgres.sh" start; "$HERE/mariadb.sh" start; "$HERE/kafka.sh" start; "$HERE/apicurio.sh" start; "$HERE/elasticsearch.sh" start; "$HERE/opensearch.sh" start ;;
  down)   rc=0; "$HERE/opensearch.sh" stop || rc=1; "$HERE/elasticsearch.sh" stop || rc=1; "$HERE/apicurio.sh" stop || rc=1; "$HERE/kafka.sh" stop || rc=1; "$HERE/mariadb.sh" stop || rc=1; "$HERE/postgres.sh" stop || rc=1; exit $rc ;;
  clean)  "$HERE/services.sh" down; rm -rf "${SLUICE_SCRATCH:-/tmp/sluice-services}"/{pg,mariadb,kafka,registry,es,opensearch} ;;
  status) rc=0; "$HERE/postgres.sh" status || rc=1; "$HERE/mariadb.sh" status || rc=1; "$HERE/kafka.sh" status || rc=1; "$HERE/apicurio.sh" status || rc=1; "$HERE/elasticsearch.sh" status || rc=1; "$HERE/opensearch.sh" status || rc=1; exit $rc ;;
  env)    cat <<EOF
export SLUICE_TEST_PG_DSN=postgres://sluice:sluice@127.0.0.1:$PG_PORT/sluice?sslmode=disable
export SLUICE_TEST_PG_CA_FILE=${SLUICE_SCRATCH:-/tmp/sluice-services}/pg/tls/ca.pem
export SLUICE_TEST_PG_REPLICA_DSN=postgres://sluice:sluice@127.0.0.1:$PG_REPLICA_PORT/sluice
export SLUICE_TEST_PG_NOREPL_DSN=postgres://norepl:norepl@127.0.0.1:$PG_PORT/sluice
export SLUICE_TEST_MYSQL_DSN='sluice:sluice@tcp(127.0.0.1:$MARIADB_PORT)/sluice'
export SLUICE_TEST_MYSQL_CA_FILE=${SLUICE_SCRATCH:-/tmp/sluice-services}/mariadb/tls/ca.pem
export SLUICE_TEST_MYSQL_NOPRIV_DSN='norepl:norepl@tcp(127.0.0.1:$MARIADB_PORT)/sluice'
export SLUICE_TEST_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export SLUICE_TEST_KAFKA_SECURE_BROKERS=127.0.0.1:$KAFKA_SECURE_PORT
export SLUICE_TEST_KAFKA_CA_FILE=${SLUICE_SCRATCH:-/tmp/sluice-services}/kafka/tls/ca.pem
export SLUICE_TEST_KAFKA_SASL_USERNAME=sluice
export SLUICE_TEST_KAFKA_SASL_PASSWORD=sluice-secret
export SLUICE_TEST_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
export SLUICE_TEST_ES_URL=http://127.0.0.1:$ES_PORT
export SLUICE_TEST_OPENSEARCH_URL=http://127.0.0.1:$OS_PORT
export SLUICE_SCRIPTS=$HERE
EOF
  ;;
  *) echo "usage: $0 up|down|status|env|clean" >&2; exit 2 ;;
esac
