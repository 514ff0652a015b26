# lib.sh — helpers the service scripts source.
# shellcheck shell=bash

# apt_install PKG...: install Debian packages, as root or through sudo.
apt_install() {
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "$* missing, not root and no sudo" >&2; exit 1; }
    sudo=sudo
  fi
  echo "installing $* ..." >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# test_certs DIR: make, once, a test CA (DIR/ca.pem, DIR/ca.key) and a server
# certificate for 127.0.0.1 and localhost signed by it (DIR/server.crt with key
# DIR/server.key), for the tests of sluice's TLS settings. Tests only: the keys
# are not protected.
test_certs() {
  local dir=$1
  [ -f "$dir/server.crt" ] && return
  command -v openssl >/dev/null || apt_install openssl
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=sluice test CA" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
    openssl x509 -req -sha256 -days 3650 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -extfile san.ext -out server.crt.tmp 2>/dev/null
    mv server.crt.tmp server.crt
  ) || { echo "cannot make the test certificates in $dir with openssl" >&2; exit 1; }
}

# java_major JAVA_BIN: the major version of that java (8 for 1.8).
java_major() {
  "$1" -XshowSettings:properties -version 2>&1 |
    awk -F' = ' '/java.specification.version/ {v=$2; sub(/^1\./, "", v); print v; exit}'
}

# java_home_at_least MIN [HOME...]: print a Java home of version >= MIN: the
# first given HOME (e.g. an override variable's value) or JAVA_HOME that is
# one, else the newest JDK under /usr/lib/jvm, else `java` on PATH. Returns 1
# when there is none.
java_home_at_least() {
  local min=$1 c v best='' bestv=0; shift
  for c in "$@" "${JAVA_HOME:-}"; do
    if [ -z "$c" ] || [ ! -x "$c/bin/java" ]; then continue; fi
    v=$(java_major "$c/bin/java")
    if [[ $v =~ ^[0-9]+$ ]] && ((v >= min)); then echo "$c"; return; fi
  done
  for c in /usr/lib/jvm/*/; do
    c=${c%/}
    if [ ! -x "$c/bin/java" ] || [ -L "$c" ]; then continue; fi
    v=$(java_major "$c/bin/java")
    if [[ $v =~ ^[0-9]+$ ]] && ((v >= min && v > bestv)); then best=$c; bestv=$v; fi
  done
  if [ -n "$best" ]; then echo "$best"; return; fi
  if c=$(command -v java); then
    v=$(java_major "$c")
    if [[ $v =~ ^[0-9]+$ ]] && ((v >= min)); then dirname "$(dirname "$(readlink -f "$c")")"; return; fi
  fi
  return 1
}

# fetch_maven_zip COORDS CACHE NAME: download the zip artifact COORDS
# (group:artifact:version:zip) from Maven Central once and unpack it into
# CACHE, where it makes the directory NAME (marker CACHE/.complete). The
# Elasticsearch and OpenSearch integ-test-zips are fetched this way.
fetch_maven_zip() {
  local coords=$1 cache=$2 name=$3 work zip
  [ -f "$cache/.complete" ] && return
  echo "fetching $coords from Maven Central ..." >&2
  work=$(mktemp -d)
  (cd "$work" && mvn -B -q -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy \
      -Dartifact="$coords" -DoutputDirectory="$work")
  zip=$(ls "$work"/*.zip)
  mkdir -p "$cache"
  rm -rf "${cache:?}/$name"
  if command -v unzip >/dev/null; then
    unzip -q "$zip" -d "$cache"
  else
    python3 -m zipfile -e "$zip" "$cache"
  fi
  rm -rf "$work"
  chmod -R a+rX "$cache/$name"
  chmod a+x "$cache/$name"/bin/*  # python's zipfile drops the mode bits
  touch "$cache/.complete"
}

# ensure_system_user NAME: create the system user NAME when running as root
# (Elasticsearch and OpenSearch refuse to run as root).
ensure_system_user() {
  [ "$(id -u)" = 0 ] || return 0
  id -u "$1" >/dev/null 2>&1 && return
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1"
}

# readable_home USER HOME BIN SCRATCH VERSION: print the unpacked
# distribution HOME as USER can read it: HOME itself, or, when USER cannot
# reach it (e.g. it is under /root), a copy (hard links where possible)
# made once per VERSION in SCRATCH/home.
readable_home() {
  local user=$1 home=$2 bin=$3 scratch=$4 version=$5 copy=$4/home
  if [ "$(id -u)" != 0 ] || setpriv --reuid="$user" --regid="$user" --init-groups test -x "$home/bin/$bin"; then
    echo "$home"
    return
  fi
  if [ ! -f "$copy/.version-$version" ]; then
    rm -rf "$copy"
    mkdir -p "$scratch"
    cp -al "$home" "$copy" 2>/dev/null || cp -r "$home" "$copy"
    touch "$copy/.version-$version"
  fi
  echo "$copy"
}

# ---------------------------------------------------------------- search nodes
# A single-node Elasticsearch or OpenSearch (elasticsearch.sh, opensearch.sh):
# a JVM started from the unpacked distribution HOME_DIR (as root: as the
# system user NODE_USER, as neither runs as root), with its config, data,
# logs, tmp and pid file in the scratch dir DIR. The script sets NAME (the
# distribution's and its launcher's name, also in messages), VERSION,
# HOME_DIR, DIR, PIDFILE (under DIR/run: the node writes it), URL, CLUSTER
# (cluster.name, also the name of its log), NODE_USER, NODE_CLASS (the JVM's
# main class), NODE_CONF_VAR (the variable naming the config dir), NODE_JAVA
# (a Java 17 home) and NODE_JAVA_VAR (the variable overriding it); it defines
# fetch, configure (node_dirs, its settings, node_own) and launch (start the
# node from NODE_HOME, wait with node_await, exit 1 on failure), and ends
# with node_main "$@".

# exec_as USER CMD...: exec CMD, as USER (setpriv, clean environment) when
# we are root. In a subshell CMD keeps the subshell's pid.
exec_as() {
  local user=$1; shift
  [ "$(id -u)" = 0 ] && exec setpriv --reuid="$user" --regid="$user" --init-groups --reset-env "$@"
  exec "$@"
}

# node_dirs: the scratch dirs, with the distribution's jvm.options, log4j2
# config etc. in DIR/config (the script adds its settings).
node_dirs() {
  mkdir -p "$DIR/config" "$DIR/data" "$DIR/logs" "$DIR/tmp" "$DIR/run"
  cp -r "$HOME_DIR/config/." "$DIR/config/"
}

# node_own: give the scratch dirs to NODE_USER (as root). Not the linked
# home: its files share inodes with the cache.
node_own() {
  if [ "$(id -u)" = 0 ]; then chown -R "$NODE_USER": "$DIR/config" "$DIR/data" "$DIR/logs" "$DIR/tmp" "$DIR/run"; fi
}

node_pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE"; }

# node_running: alive and really this node (guards against a recycled pid):
# a NODE_CLASS JVM whose NODE_CONF_VAR is this scratch dir's config.
node_running() {
  local p; p=$(node_pid) || return 1
  kill -0 "$p" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "$NODE_CLASS" || return 1
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "$NODE_CONF_VAR=$DIR/config"
}

node_healthy() { curl -fsS -m 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; }

# node_logs: the end of the node's output and log, to stderr.
node_logs() { tail -n 40 "$DIR/logs/stdout.log" "$DIR/logs/$CLUSTER.log" >&2 2>/dev/null || true; }

# node_await ALIVE...: wait until the node is healthy; return 1, with its
# logs, once the command ALIVE fails or after START_TIMEOUT s.
node_await() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until node_healthy; do
    if ! "$@" || ((SECONDS >= deadline)); then
      echo "$NAME did not become ready (see $DIR/logs)" >&2
      node_logs
      return 1
    fi
    sleep 0.2
  done
}

node_start() {
  fetch
  if node_running; then echo "$NAME already running (pid $(node_pid)) on $URL"; return; fi
  [ -n "$NODE_JAVA" ] || { echo "no Java 17 under /usr/lib/jvm (set $NODE_JAVA_VAR)" >&2; exit 1; }
  ensure_system_user "$NODE_USER"
  NODE_HOME=$(readable_home "$NODE_USER" "$HOME_DIR" "$NAME" "$DIR" "$VERSION")
  configure
  rm -f "$PIDFILE"
  launch
  echo "$NAME $VERSION up on $URL (pid $(node_pid))"
}

# node_stop: stop only this node (node_running), SIGKILL after 60 s. The
# data dir is kept.
node_stop() {
  if node_running; then
    local p deadline=$((SECONDS + 60)); p=$(node_pid)
    kill -TERM "$p"
    while kill -0 "$p" 2>/dev/null; do
      if ((SECONDS >= deadline)); then echo "$NAME: SIGKILL after 60 s" >&2; kill -KILL "$p"; fi
      sleep 0.2
    done
  fi
  rm -f "$PIDFILE"
  echo "$NAME stopped"
}

node_main() {
  case "${1:-}" in
    fetch)   fetch; echo "$NAME $VERSION in $HOME_DIR" ;;
    start)   node_start ;;
    stop)    node_stop ;;
    restart) node_stop; node_start ;;
    status)  if node_running; then echo "$NAME: running (pid $(node_pid)) on $URL"; else echo "$NAME: stopped"; exit 1; fi ;;
    url)     echo "$URL" ;;
    *) echo "usage: $0 fetch|start|stop|restart|status|url" >&2; exit 2 ;;
  esac
}
