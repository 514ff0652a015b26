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

VERSION=${SLUICE_OS_VERSION:-2.19.6}
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}/opensearch-$VERSION
HOME_DIR=$CACHE/opensearch-$VERSION
DIR=${SLUICE_SCRATCH:-/tmp/sluice-services}/opensearch
PORT=${SLUICE_OS_PORT:-59210}
TPORT=${SLUICE_OS_TRANSPORT_PORT:-$((PORT + 100))}
OS_USER=${SLUICE_OS_USER:-sluice-os}
HEAP=${SLUICE_OS_HEAP:-384m}
PIDFILE=$DIR/run/opensearch.pid   # in a directory the user owns: OpenSearch writes it itself
START_TIMEOUT=${SLUICE_OS_START_TIMEOUT:-180}
JAVA_HOME_OS=${SLUICE_OS_JAVA_HOME:-$(ls -d /usr/lib/jvm/java-17-openjdk-* 2>/dev/null | head -n1)}
URL=http://127.0.0.1:$PORT

fetch() { fetch_maven_zip "org.opensearch.distribution.integ-test-zip:opensearch:$VERSION:zip" "$CACHE" "opensearch-$VERSION"; }

ensure_user() { ensure_system_user "$OS_USER"; }

# os_home: the distribution as the user can read it.
os_home() { OSH=$(readable_home "$OS_USER" "$HOME_DIR" opensearch "$DIR" "$VERSION"); }

configure() {
  mkdir -p "$DIR/config" "$DIR/data" "$DIR/logs" "$DIR/tmp" "$DIR/run"
  # The distribution's jvm.options, log4j2 config etc., plus our settings.
  cp -r "$HOME_DIR/config/." "$DIR/config/"
  # jvm.options names logs/ and data relative to the working directory (the
  # read-only home): point them into the scratch dir.
  sed -i -e "s|=logs/|=$DIR/logs/|g" -e "s|:logs/|:$DIR/logs/|g" -e "s|HeapDumpPath=data|HeapDumpPath=$DIR/data|" \
    "$DIR/config/jvm.options"
  cat >"$DIR/config/opensearch.yml" <<EOF
cluster.name: sluice-test-os
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
  if [ "$(id -u)" = 0 ]; then chown -R "$OS_USER": "$DIR/config" "$DIR/data" "$DIR/logs" "$DIR/tmp" "$DIR/run"; fi
}

pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE"; }
# Alive and really this node (guards against a recycled pid): an OpenSearch
# JVM whose OPENSEARCH_PATH_CONF is this scratch dir's config.
running() {
  local p; p=$(pid) || return 1
  kill -0 "$p" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'org.opensearch.bootstrap.OpenSearch' || return 1
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OPENSEARCH_PATH_CONF=$DIR/config"
}
# alive PID: the process exists and has not exited (a child that exited
# stays a zombie until this script ends).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }
healthy() { curl -fsS -m 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; }

start() {
  fetch
  if running; then echo "opensearch already running (pid $(pid)) on $URL"; return; fi
  [ -n "$JAVA_HOME_OS" ] || { echo "no Java 17 under /usr/lib/jvm (set SLUICE_OS_JAVA_HOME)" >&2; exit 1; }
  ensure_user
  os_home
  configure
  rm -f "$PIDFILE"
  # Not -d: OpenSearch's -d returns before the node writes its pid file, so
  # a node dying early would go unnoticed until the timeout. Started in the
  # background in its own session instead, the exec chain (setsid, setpriv,
  # env, the launcher) keeps one pid: the JVM's. The launcher runs
  # bin/opensearch-keystore by a relative path: start in the home.
  local cmd=(env OPENSEARCH_JAVA_HOME="$JAVA_HOME_OS" OPENSEARCH_PATH_CONF="$DIR/config"
    OPENSEARCH_TMPDIR="$DIR/tmp" OPENSEARCH_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP" PATH=/usr/bin:/bin
    "$OSH/bin/opensearch" -p "$PIDFILE")
  if [ "$(id -u)" = 0 ]; then
    cmd=(setpriv --reuid="$OS_USER" --regid="$OS_USER" --init-groups --reset-env "${cmd[@]}")
  fi
  (cd "$OSH" && exec setsid "${cmd[@]}" >"$DIR/logs/stdout.log" 2>&1 </dev/null) &
  local jvm=$! deadline=$((SECONDS + START_TIMEOUT))
  until healthy; do
    if ! alive "$jvm" || ((SECONDS >= deadline)); then
      echo "opensearch did not become ready (see $DIR/logs)" >&2
      tail -n 40 "$DIR/logs/stdout.log" "$DIR/logs/sluice-test-os.log" >&2 2>/dev/null || true
      alive "$jvm" && kill -KILL "$jvm"
      exit 1
    fi
    sleep 0.2
  done
  echo "opensearch $VERSION up on $URL (pid $(pid))"
}

stop() {
  if running; then
    local p deadline=$((SECONDS + 60)); p=$(pid)
    kill -TERM "$p"
    while kill -0 "$p" 2>/dev/null; do
      if ((SECONDS >= deadline)); then echo "opensearch: SIGKILL after 60 s" >&2; kill -KILL "$p"; fi
      sleep 0.2
    done
  fi
  rm -f "$PIDFILE"
  echo "opensearch stopped"
}

case "${1:-}" in
  fetch)   fetch; echo "opensearch $VERSION in $HOME_DIR" ;;
  start)   start ;;
  stop)    stop ;;
  restart) stop; start ;;
  status)  if running; then echo "opensearch: running (pid $(pid)) on $URL"; else echo "opensearch: stopped"; exit 1; fi ;;
  url)     echo "$URL" ;;
  *) echo "usage: $0 fetch|start|stop|restart|status|url" >&2; exit 2 ;;
esac
