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

VERSION=${SLUICE_ES_VERSION:-8.19.7}
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}/elasticsearch-$VERSION
HOME_DIR=$CACHE/elasticsearch-$VERSION
DIR=${SLUICE_SCRATCH:-/tmp/sluice-services}/es
PORT=${SLUICE_ES_PORT:-59200}
TPORT=${SLUICE_ES_TRANSPORT_PORT:-$((PORT + 100))}
ES_USER=${SLUICE_ES_USER:-sluice-es}
PIDFILE=$DIR/run/es.pid   # in a directory the ES user owns: it writes the file itself
START_TIMEOUT=${SLUICE_ES_START_TIMEOUT:-180}
# ES 8.x runs on Java 17; ES 9.x would need Java >= 21 (Temurin 25 is under /usr/lib/jvm).
JAVA_HOME_ES=${SLUICE_ES_JAVA_HOME:-$(ls -d /usr/lib/jvm/java-17-openjdk-* 2>/dev/null | head -n1)}
URL=http://127.0.0.1:$PORT

fetch() { fetch_maven_zip "org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" "$CACHE" "elasticsearch-$VERSION"; }

# as_es CMD...: run as the unprivileged ES user when we are root.
as_es() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups --reset-env "$@"
  else
    "$@"
  fi
}

ensure_user() { ensure_system_user "$ES_USER"; }

# es_home: the distribution as the ES user can read it.
es_home() { ESH=$(readable_home "$ES_USER" "$HOME_DIR" elasticsearch "$DIR" "$VERSION"); }

configure() {
  mkdir -p "$DIR/config" "$DIR/data" "$DIR/logs" "$DIR/tmp" "$DIR/run"
  # The distribution's jvm.options, log4j2 config etc., plus our settings.
  cp -r "$HOME_DIR/config/." "$DIR/config/"
  cat >"$DIR/config/elasticsearch.yml" <<EOF
cluster.name: sluice-test
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
  # Not the linked home: its files share inodes with the cache.
  if [ "$(id -u)" = 0 ]; then chown -R "$ES_USER": "$DIR/config" "$DIR/data" "$DIR/logs" "$DIR/tmp" "$DIR/run"; fi
}

pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE"; }
# Alive and really this node (guards against a recycled pid): an ES JVM
# whose ES_PATH_CONF is this scratch dir's config.
running() {
  local p; p=$(pid) || return 1
  kill -0 "$p" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'org.elasticsearch.bootstrap.Elasticsearch' || return 1
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "ES_PATH_CONF=$DIR/config"
}
healthy() { curl -fsS -m 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; }

start() {
  fetch
  if running; then echo "elasticsearch already running (pid $(pid)) on $URL"; return; fi
  [ -n "$JAVA_HOME_ES" ] || { echo "no Java 17 under /usr/lib/jvm (set SLUICE_ES_JAVA_HOME)" >&2; exit 1; }
  ensure_user
  es_home
  configure
  rm -f "$PIDFILE"
  # -d daemonizes once the node has started; -p writes the pid file.
  if ! as_es env ES_JAVA_HOME="$JAVA_HOME_ES" ES_PATH_CONF="$DIR/config" ES_TMPDIR="$DIR/tmp" \
      ES_JAVA_OPTS="-Xms512m -Xmx512m" PATH=/usr/bin:/bin \
      "$ESH/bin/elasticsearch" -d -p "$PIDFILE" >"$DIR/logs/stdout.log" 2>&1 </dev/null; then
    echo "elasticsearch failed to start (see $DIR/logs)" >&2
    tail -n 40 "$DIR/logs/stdout.log" "$DIR/logs/sluice-test.log" >&2 2>/dev/null || true
    exit 1
  fi
  local deadline=$((SECONDS + START_TIMEOUT))
  until healthy; do
    if ! running || ((SECONDS >= deadline)); then
      echo "elasticsearch did not become ready (see $DIR/logs)" >&2
      tail -n 40 "$DIR/logs/sluice-test.log" >&2 2>/dev/null || true
      stop >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.2
  done
  echo "elasticsearch $VERSION up on $URL (pid $(pid))"
}

stop() {
  if running; then
    local p deadline=$((SECONDS + 60)); p=$(pid)
    kill -TERM "$p"
    while kill -0 "$p" 2>/dev/null; do
      if ((SECONDS >= deadline)); then echo "elasticsearch: SIGKILL after 60 s" >&2; kill -KILL "$p"; fi
      sleep 0.2
    done
  fi
  rm -f "$PIDFILE"
  echo "elasticsearch stopped"
}

case "${1:-}" in
  fetch)   fetch; echo "elasticsearch $VERSION in $HOME_DIR" ;;
  start)   start ;;
  stop)    stop ;;
  restart) stop; start ;;
  status)  if running; then echo "elasticsearch: running (pid $(pid)) on $URL"; else echo "elasticsearch: stopped"; exit 1; fi ;;
  url)     echo "$URL" ;;
  *) echo "usage: $0 fetch|start|stop|restart|status|url" >&2; exit 2 ;;
esac
