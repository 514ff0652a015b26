#!/usr/bin/env bash
# kafka.sh fetch|start|stop|restart|status|tool CLASS [ARGS...]
#
# Runs a single-node Apache Kafka 4.x broker (KRaft, combined broker+controller)
# for sluice's integration tests, without Docker and without the release
# tarball: the jars come from Maven Central through a throw-away pom and
# maven-dependency-plugin, cached in ${SLUICE_CACHE:-~/.cache/sluice}/kafka-VERSION/lib
# so only the first run downloads (~0.1 GB incl. ~/.m2).
# Kafka's POM lacks the log4j2 backend the tarball ships, so the pom adds
# slf4j2 + log4j2 and we pass a .properties log4j2 config.
#
#   PLAINTEXT 127.0.0.1:${SLUICE_KAFKA_PORT:-59092}
#   CONTROLLER 127.0.0.1:${SLUICE_KAFKA_CONTROLLER_PORT:-59093}
#   SASL_SSL   127.0.0.1:${SLUICE_KAFKA_SECURE_PORT:-59094}: TLS with a test CA made
#              here by openssl (tls/ca.pem), SASL PLAIN user sluice / sluice-secret,
#              for the tests of sluice's TLS and SASL settings
#   data, config, logs, pid: ${SLUICE_SCRATCH:-/tmp/sluice-services}/kafka
#
# `restart` keeps the data dir (used by the restart-mid-stream test).
# `tool` runs any Kafka class with the cached classpath, e.g.
#   kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:59092 --list
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=${SLUICE_KAFKA_VERSION:-4.1.1}
LOG4J_VERSION=2.24.3
SLF4J_VERSION=2.0.17
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}/kafka-$VERSION
LIB=$CACHE/lib
DIR=${SLUICE_SCRATCH:-/tmp/sluice-services}/kafka
PORT=${SLUICE_KAFKA_PORT:-59092}
CPORT=${SLUICE_KAFKA_CONTROLLER_PORT:-59093}
SPORT=${SLUICE_KAFKA_SECURE_PORT:-59094}
TLSDIR=$DIR/tls
PIDFILE=$DIR/kafka.pid
LOG=$DIR/logs/server.log
START_TIMEOUT=${SLUICE_KAFKA_START_TIMEOUT:-120}

fetch() {
  [ -f "$CACHE/.complete" ] && return
  local work; work=$(mktemp -d)
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sluice</groupId><artifactId>kafka-fetch</artifactId><version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  echo "fetching Kafka $VERSION jars from Maven Central ..." >&2
  (cd "$work" && mvn -B -q -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$work/lib")
  mkdir -p "$CACHE"
  rm -rf "$LIB" && mv "$work/lib" "$LIB" && rm -rf "$work"
  touch "$CACHE/.complete"
}

# A throw-away CA and a server certificate for 127.0.0.1, once per data dir.
# The broker reads key and chain from one PEM file (ssl.keystore.type=PEM).
certs() {
  [ -f "$TLSDIR/server.pem" ] && return
  test_certs "$TLSDIR"
  (
    cd "$TLSDIR"
    openssl pkcs8 -topk8 -nocrypt -in server.key -out server.p8
    cat server.p8 server.crt >server.pem.tmp && mv server.pem.tmp server.pem
  ) || { echo "kafka: cannot make the PEM key store with openssl" >&2; exit 1; }
}

configure() {
  mkdir -p "$DIR/data" "$DIR/logs" "$DIR/tmp"
  certs
  cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT,SASL_SSL://127.0.0.1:$SPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SPORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_sluice="sluice-secret";
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$TLSDIR/server.pem
log.dirs=$DIR/data
num.partitions=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
  cat >"$DIR/log4j2.properties" <<EOF
appender.file.type=File
appender.file.name=FILE
appender.file.fileName=$LOG
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=FILE
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
logger.network.name=kafka.network.RequestChannel\$
logger.network.level=WARN
logger.cleaner.name=kafka.log.LogCleaner
logger.cleaner.level=WARN
EOF
  # CLI tools (`kafka.sh tool`, StorageTool): warnings to stderr, like the tarball's tools config.
  cat >"$DIR/tools-log4j2.properties" <<EOF
appender.err.type=Console
appender.err.name=STDERR
appender.err.target=SYSTEM_ERR
appender.err.layout.type=PatternLayout
appender.err.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.err.ref=STDERR
EOF
}

# Run a Kafka CLI class with the cached classpath.
tool() {
  java -Djava.io.tmpdir="$DIR/tmp" -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="file:$DIR/tools-log4j2.properties" -cp "$LIB/*" "$@"
}

pid() { [ -f "$PIDFILE" ] && cat "$PIDFILE"; }
# Alive and really our broker (guards against a recycled pid).
running() {
  local p; p=$(pid) || return 1
  kill -0 "$p" 2>/dev/null && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "kafka.Kafka $DIR/server.properties"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$SPORT") 2>/dev/null; }

start() {
  fetch
  if running; then echo "kafka already running (pid $(pid)) on 127.0.0.1:$PORT"; return; fi
  configure
  if [ ! -f "$DIR/data/meta.properties" ]; then
    # Kafka cluster ids are 16 random bytes, base64url without padding.
    # One in 64 starts with "-": given as "-t ID" the tool reads it as an
    # option and fails, so it goes as --cluster-id=ID.
    local id; id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    tool kafka.tools.StorageTool format --cluster-id="$id" -c "$DIR/server.properties" --ignore-formatted >"$DIR/logs/format.out" 2>&1 ||
      { cat "$DIR/logs/format.out" >&2; exit 1; }
  fi
  local from=0; [ -f "$LOG" ] && from=$(stat -c %s "$LOG")
  setsid nohup java -Xms512m -Xmx512m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    -Djava.io.tmpdir="$DIR/tmp" -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="file:$DIR/log4j2.properties" -cp "$LIB/*" \
    kafka.Kafka "$DIR/server.properties" >"$DIR/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  # Ready = this run logged "Kafka Server started" and the listener accepts TCP.
  until tail -c +$((from + 1)) "$LOG" 2>/dev/null | grep -q 'Kafka Server started' && port_open; do
    if ! running || ((SECONDS >= deadline)); then
      echo "kafka failed to start (see $DIR/logs)" >&2
      tail -n 40 "$LOG" "$DIR/logs/stdout.log" >&2 2>/dev/null || true
      stop >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.2
  done
  echo "kafka up on 127.0.0.1:$PORT, SASL_SSL on 127.0.0.1:$SPORT (pid $(pid))"
}

stop() {
  if running; then
    local p deadline=$((SECONDS + 60)); p=$(pid)
    kill -TERM "$p"
    while kill -0 "$p" 2>/dev/null; do
      if ((SECONDS >= deadline)); then echo "kafka: SIGKILL after 60 s" >&2; kill -KILL "$p"; fi
      sleep 0.2
    done
  fi
  rm -f "$PIDFILE"
  echo "kafka stopped"
}

case "${1:-}" in
  fetch)   fetch; echo "kafka $VERSION jars in $LIB" ;;
  start)   start ;;
  stop)    stop ;;
  restart) stop; start ;;
  status)  if running; then echo "kafka: running (pid $(pid))"; else echo "kafka: stopped"; exit 1; fi ;;
  tool)    shift; fetch; configure; tool "$@" ;;
  *) echo "usage: $0 fetch|start|stop|restart|status|tool CLASS [ARGS...]" >&2; exit 2 ;;
esac
