#!/usr/bin/env bash
# opensearch.sh fetch|start|stop|restart|status|url
#
# Runs a single-node OpenSearch 2.x for the opensearch sink's integration
# tests, the way elasticsearch.sh runs Elasticsearch: the `integ-test-zip`
# distribution from Maven Central (fetched with maven-dependency-plugin into
# ~/.m2, unpacked once into ${SLUICE_CACHE:-~/.cache/sluice}/opensearch-VERSION),
# started on Java 17. That distribution holds only transport-netty4: no
# security plugin (plain http, no credentials), no painless, no ingest.
# 2.19.6 is the newest release that runs on Java 17 (3.x needs Java 21).
#
#   HTTP      127.0.0.1:${SLUICE_OS_PORT:-59210}
#   transport 127.0.0.1:${SLUICE_OS_TRANSPORT_PORT:-HTTP port + 100}
#   config, data, logs, pid: ${SLUICE_SCRATCH:-/tmp/sluice-services}/opensearch
#
# OpenSearch refuses to run as root: as root this script creates the system
# user ${SLUICE_OS_USER:-sluice-os}, gives it the scratch directory (the
# unpacked home in the cache stays root-owned and read-only;
# OPENSEARCH_PATH_CONF points into the scratch dir, where OpenSearch writes
# its keystore) and starts the node with setpriv. A cache the user cannot
# read (e.g. under /root) is linked (cp -al, or copied) into the scratch dir.
#
# The heap is 384 MiB (SLUICE_OS_HEAP): the tests index a few thousand
# small documents, and CI runs this next to Kafka and Elasticsearch on 2
# cores. `stop` and `start` keep the data dir. `stop` only stops the node
# whose pid file is in this scratch dir and whose environment names this
# config dir (OPENSEARCH_PATH_CONF), so it never touches another instance.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=opensearch
VERSION=${SLUICE_OS_VERSION:-2.19.6}
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}/opensearch-$VERSION
HOME_DIR=$CACHE/opensearch-$VERSION
DIR=${SLUICE_SCRATCH:-/tmp/sluice-services}/opensearch
PORT=${SLUICE_OS_PORT:-59210}
TPORT=${SLUICE_OS_TRANSPORT_PORT:-$((PORT + 100))}
CLUSTER=sluice-test-os
NODE_USER=${SLUICE_OS_USER:-sluice-os}
NODE_CLASS=org.opensearch.bootstrap.OpenSearch
NODE_CONF_VAR=OPENSEARCH_PATH_CONF
HEAP=${SLUICE_OS_HEAP:-384m}
PIDFILE=$DIR/run/opensearch.pid   # in a directory the user owns: OpenSearch writes it itself
START_TIMEOUT=${SLUICE_OS_START_TIMEOUT:-180}
NODE_JAVA_VAR=SLUICE_OS_JAVA_HOME
NODE_JAVA=${SLUICE_OS_JAVA_HOME:-$(ls -d /usr/lib/jvm/java-17-openjdk-* 2>/dev/null | head -n1)}
URL=http://127.0.0.1:$PORT

fetch() { fetch_maven_zip "org.opensearch.distribution.integ-test-zip:opensearch:$VERSION:zip" "$CACHE" "opensearch-$VERSION"; }

configure() {
  node_dirs
  # jvm.options names logs/ and data relative to the working directory (the
  # read-only home): point them into the scratch dir.
  sed -i -e "s|=logs/|=$DIR/logs/|g" -e "s|:logs/|:$DIR/logs/|g" -e "s|HeapDumpPath=data|HeapDumpPath=$DIR/data|" \
    "$DIR/config/jvm.options"
  cat >"$DIR/config/opensearch.yml" <<EOF
cluster.name: $CLUSTER
node.name: sluice-os
discovery.type: single-node
network.host: 127.0.0.1
http.port: $PORT
transport.port: $TPORT
path.data: $DIR/data
path.logs: $DIR/logs
# Test disks here are sometimes over 90% full: never block writes for it.
cluster.routing.allocation.disk.threshold_enabled: false
node.store.allow_mmap: false
EOF
  node_own
}

# alive PID: the process exists and has not exited (a child that exited
# stays a zombie until this script ends).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }

launch() {
  # Not -d: OpenSearch's -d returns before the node writes its pid file, so
  # a node dying early would go unnoticed until the timeout. Started in the
  # background in its own session instead, the exec chain (setpriv, setsid,
  # env, the launcher) keeps one pid: the JVM's. The launcher runs
  # bin/opensearch-keystore by a relative path: start in the home.
  (cd "$NODE_HOME" && exec_as "$NODE_USER" setsid env OPENSEARCH_JAVA_HOME="$NODE_JAVA" \
    OPENSEARCH_PATH_CONF="$DIR/config" OPENSEARCH_TMPDIR="$DIR/tmp" OPENSEARCH_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP" \
    PATH=/usr/bin:/bin "$NODE_HOME/bin/opensearch" -p "$PIDFILE" >"$DIR/logs/stdout.log" 2>&1 </dev/null) &
  local jvm=$!
  node_await alive "$jvm" || { alive "$jvm" && kill -KILL "$jvm"; exit 1; }
}

node_main "$@"
