#!/usr/bin/env bash
# apicurio.sh fetch|start|stop|restart|status|url
#
# Runs an Apicurio Registry (the schema registry sluice's Avro tests and
# scripts/debezium.sh record-avro use), without Docker: the Quarkus fast-jar
# io.apicurio:apicurio-registry-app:VERSION:tar.gz:all (~160 MB) from Maven
# Central, downloaded and unpacked once into
# ${SLUICE_CACHE:-~/.cache/sluice}/apicurio-registry-VERSION (quarkus-run.jar,
# lib/, app/, quarkus/; marker .complete; the tarball is deleted after
# unpacking). Storage is in memory: every start begins with no schemas.
#
#   HTTP 127.0.0.1:${SLUICE_REGISTRY_PORT:-58081}
#     Confluent-compatible API  /apis/ccompat/v7 (what sluice and franz-go's pkg/sr speak)
#     Apicurio's own API        /apis/registry/v3 (what Apicurio's Kafka serdes speak)
#   management (health, metrics) 127.0.0.1:${SLUICE_REGISTRY_MANAGEMENT_PORT:-58082}
#     (Quarkus' default would be 0.0.0.0:9000)
#   log, pid, tmp: ${SLUICE_SCRATCH:-/tmp/sluice-services}/registry
#
# Needs Java >= 21 (class version 65; Java 17 fails with
# UnsupportedClassVersionError): SLUICE_REGISTRY_JAVA_HOME or JAVA_HOME when
# it is >= 21, else the newest JDK >= 21 under /usr/lib/jvm (Temurin 25 there).
# Heap: -Xmx384m (SLUICE_REGISTRY_JAVA_OPTS overrides). Ready when
# GET /apis/ccompat/v7/subjects answers 200 (~25 s here), within
# ${SLUICE_REGISTRY_START_TIMEOUT:-180} s.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=${SLUICE_REGISTRY_VERSION:-3.3.3}
ARTIFACT_URL=https://repo1.maven.org/maven2/io/apicurio/apicurio-registry-app/$VERSION/apicurio-registry-app-$VERSION-all.tar.gz
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}/apicurio-registry-$VERSION
DIR=${SLUICE_SCRATCH:-/tmp/sluice-services}/registry
PORT=${SLUICE_REGISTRY_PORT:-58081}
MPORT=${SLUICE_REGISTRY_MANAGEMENT_PORT:-58082}
URL=http://127.0.0.1:$PORT
PIDFILE=$DIR/registry.pid
LOG=$DIR/registry.log
START_TIMEOUT=${SLUICE_REGISTRY_START_TIMEOUT:-180}
# --add-opens: on Java >= 24 Quarkus' jboss-threads otherwise fails with an
# IllegalAccessError ("thread-local-reset capability").
JAVA_OPTS_REG=${SLUICE_REGISTRY_JAVA_OPTS:--Xms64m -Xmx384m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError --add-opens java.base/java.lang=ALL-UNNAMED}

fetch() {
  [ -f "$CACHE/.complete" ] && return
  local parent work; parent=$(dirname "$CACHE")
  mkdir -p "$parent"
  work=$(mktemp -d "$parent/.apicurio-fetch.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  echo "fetching Apicurio Registry $VERSION (~160 MB) from Maven Central ..." >&2
  if command -v curl >/dev/null; then
    curl -fL --retry 3 --silent --show-error -o "$work/app.tar.gz" "$ARTIFACT_URL"
  else
    wget -q -O "$work/app.tar.gz" "$ARTIFACT_URL"
  fi
  mkdir "$work/app"
  tar -xzf "$work/app.tar.gz" -C "$work/app"
  if [ ! -f "$work/app/quarkus-run.jar" ] || [ ! -d "$work/app/lib" ]; then
    echo "apicurio: unexpected layout of $ARTIFACT_URL (no quarkus-run.jar or lib/)" >&2
    exit 1
  fi
  rm -rf "$CACHE"
  mv "$work/app" "$CACHE"
  rm -rf "$work"
  trap - EXIT
  touch "$CACHE/.complete"
}

pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE"; }
# Alive and really our registry (guards against a recycled pid): a
# quarkus-run.jar JVM whose working directory is our scratch dir.
running() {
  local p; p=$(pid) || return 1
  kill -0 "$p" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "$CACHE/quarkus-run.jar" &&
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$DIR" ]
}
ready() { curl -fsS -m 5 -o /dev/null "$URL/apis/ccompat/v7/subjects" 2>/dev/null; }

start() {
  fetch
  if running; then echo "apicurio-registry already running (pid $(pid)) on $URL"; return; fi
  local java_home
  java_home=$(java_home_at_least 21 "${SLUICE_REGISTRY_JAVA_HOME:-}") ||
    { echo "apicurio: Apicurio Registry $VERSION needs Java >= 21: none found (JAVA_HOME, /usr/lib/jvm, PATH); set SLUICE_REGISTRY_JAVA_HOME" >&2; exit 1; }
  if ready; then echo "apicurio: port $PORT is already answering, but not with our registry (set SLUICE_REGISTRY_PORT)" >&2; exit 1; fi
  mkdir -p "$DIR/tmp"
  rm -f "$PIDFILE"
  # shellcheck disable=SC2086 # JAVA_OPTS_REG is a list of options
  (
    cd "$DIR"
    exec setsid nohup "$java_home/bin/java" $JAVA_OPTS_REG -Djava.io.tmpdir="$DIR/tmp" \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
      -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$MPORT" \
      -jar "$CACHE/quarkus-run.jar" >"$LOG" 2>&1 </dev/null
  ) &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until ready; do
    if ! running || ((SECONDS >= deadline)); then
      echo "apicurio-registry did not become ready on $URL within $START_TIMEOUT s (see $LOG):" >&2
      tail -n 40 "$LOG" >&2 2>/dev/null || true
      stop >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "apicurio-registry $VERSION up on $URL (pid $(pid)), Confluent API $URL/apis/ccompat/v7"
}

stop() {
  if running; then
    local p deadline=$((SECONDS + 60)); p=$(pid)
    kill -TERM "$p"
    while kill -0 "$p" 2>/dev/null; do
      if ((SECONDS >= deadline)); then echo "apicurio: SIGKILL after 60 s" >&2; kill -KILL "$p"; fi
      sleep 0.2
    done
  fi
  rm -f "$PIDFILE"
  echo "apicurio-registry stopped"
}

case "${1:-}" in
  fetch)   fetch; echo "Apicurio Registry $VERSION in $CACHE" ;;
  start)   start ;;
  stop)    stop ;;
  restart) stop; start ;;
  status)  if running; then echo "apicurio-registry: running (pid $(pid)) on $URL"; else echo "apicurio-registry: stopped"; exit 1; fi ;;
  url)     echo "$URL/apis/ccompat/v7" ;;
  *) echo "usage: $0 fetch|start|stop|restart|status|url" >&2; exit 2 ;;
esac
