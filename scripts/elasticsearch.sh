#!/usr/bin/env bash
# elasticsearch.sh fetch|start|stop|restart|status|url
#
# Runs a single-node Elasticsearch 8.x for sluice's integration tests,
# without Docker: the `integ-test-zip` distribution from Maven Central
# (fetched with maven-dependency-plugin into ~/.m2, unpacked once into
# ${SLUICE_CACHE:-~/.cache/sluice}/elasticsearch-VERSION), started on Java 17.
# That distribution is minimal: transport-netty4, x-pack core and security
# (disabled here); no painless, ingest, reindex or *_by_query.
#
#   HTTP      127.0.0.1:${SLUICE_ES_PORT:-59200}
#   transport 127.0.0.1:${SLUICE_ES_TRANSPORT_PORT:-HTTP port + 100}
#   config, data, logs, pid: ${SLUICE_SCRATCH:-/tmp/sluice-services}/es
#
# Elasticsearch refuses to run as root, with no override: as root this
# script creates the system user ${SLUICE_ES_USER:-sluice-es}, gives it the
# scratch directory (the unpacked home in the cache stays root-owned and
# read-only: ES_PATH_CONF points into the scratch dir, where ES writes its
# keystore) and starts the node with setpriv.
#
# When the cache is not readable by that user (e.g. it is under /root), the
# home is linked (cp -al, or copied) into the scratch directory once.
#
# `stop` and `start` keep the data dir (the outage test stops the node for
# 30 s). `stop` only stops the node whose pid file is in this scratch dir
# and whose environment names this config dir (ES_PATH_CONF), so it never
# touches another instance.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=elasticsearch
VERSION=${SLUICE_ES_VERSION:-8.19.7}
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}/elasticsearch-$VERSION
HOME_DIR=$CACHE/elasticsearch-$VERSION
DIR=${SLUICE_SCRATCH:-/tmp/sluice-services}/es
PORT=${SLUICE_ES_PORT:-59200}
TPORT=${SLUICE_ES_TRANSPORT_PORT:-$((PORT + 100))}
CLUSTER=sluice-test
NODE_USER=${SLUICE_ES_USER:-sluice-es}
NODE_CLASS=org.elasticsearch.bootstrap.Elasticsearch
NODE_CONF_VAR=ES_PATH_CONF
PIDFILE=$DIR/run/es.pid   # in a directory the ES user owns: it writes the file itself
START_TIMEOUT=${SLUICE_ES_START_TIMEOUT:-180}
# ES 8.x runs on Java 17; ES 9.x would need Java >= 21 (Temurin 25 is under /usr/lib/jvm).
NODE_JAVA_VAR=SLUICE_ES_JAVA_HOME
NODE_JAVA=${SLUICE_ES_JAVA_HOME:-$(ls -d /usr/lib/jvm/java-17-openjdk-* 2>/dev/null | head -n1)}
URL=http://127.0.0.1:$PORT

fetch() { fetch_maven_zip "org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" "$CACHE" "elasticsearch-$VERSION"; }

configure() {
  node_dirs
  cat >"$DIR/config/elasticsearch.yml" <<EOF
cluster.name: $CLUSTER
node.name: sluice-es
discovery.type: single-node
network.host: 127.0.0.1
http.port: $PORT
transport.port: $TPORT
path.data: $DIR/data
path.logs: $DIR/logs
xpack.security.enabled: false
# Test disks here are sometimes over 90% full: never block writes for it.
cluster.routing.allocation.disk.threshold_enabled: false
node.store.allow_mmap: false
EOF
  node_own
}

launch() {
  # -d daemonizes once the node has started; -p writes the pid file.
  if ! (exec_as "$NODE_USER" env ES_JAVA_HOME="$NODE_JAVA" ES_PATH_CONF="$DIR/config" ES_TMPDIR="$DIR/tmp" \
      ES_JAVA_OPTS="-Xms512m -Xmx512m" PATH=/usr/bin:/bin \
      "$NODE_HOME/bin/elasticsearch" -d -p "$PIDFILE" >"$DIR/logs/stdout.log" 2>&1 </dev/null); then
    echo "elasticsearch failed to start (see $DIR/logs)" >&2
    node_logs
    exit 1
  fi
  node_await node_running || { node_stop >/dev/null 2>&1 || true; exit 1; }
}

node_main "$@"
