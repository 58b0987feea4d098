# kafka.sh: the shell with-kafka, with-kafka-cluster and kafka-ctl share, to
# run real Apache Kafka (KRaft) from the Maven Central jars. Sourced, not run.
#
# A run directory holds one directory per node (node1, node2, ...), each
# with its server.properties, heap size (heap), PLAINTEXT port (port), JVM
# pid (pid, while it runs), data (data/) and logs (server.log, stdout.log);
# the run directory holds the log4j configuration, the certificates and
# bootstrap (the PLAINTEXT bootstrap list).

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
LOG4J_VERSION="${LOG4J_VERSION:-2.24.3}"
CACHE="${CACHE:-$HOME/.cache/alertbeam}"
KAFKA_CI="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_USER=alertbeam
KAFKA_PASSWORD=alertbeam-secret
KAFKA_STOREPASS=alertbeam-store

# kafka_classpath sets KAFKA_CP to Kafka's classpath (resolved by mvn once,
# cached in $CACHE) and KAFKA_CHECK_CP to it plus KafkaCheck, compiled once
# per version of its source.
kafka_classpath() {
  local kdir="$CACHE/kafka-$KAFKA_VERSION" pom sum csum
  mkdir -p "$kdir"
  # slf4j-api 2 for log4j's binding: Kafka's own 1.7 would make the brokers'
  # logs silent.
  pom="<project xmlns=\"http://maven.apache.org/POM/4.0.0\">
  <modelVersion>4.0.0</modelVersion>
  <groupId>alertbeam</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.16</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>"
  # The classpath is cached per pom: changing the pom resolves again.
  sum="$(printf '%s' "$pom" | sha256sum | cut -c1-12)"
  if [ ! -s "$kdir/classpath-$sum.txt" ]; then
    echo "kafka: resolving Apache Kafka $KAFKA_VERSION from Maven Central (cached after the first run)" >&2
    mkdir -p "$kdir/pom-$sum"
    printf '%s\n' "$pom" > "$kdir/pom-$sum/pom.xml"
    (cd "$kdir/pom-$sum" && mvn -q -B -Dstyle.color=never dependency:build-classpath -Dmdep.outputFile="classpath.$$" >&2)
    mv "$kdir/pom-$sum/classpath.$$" "$kdir/classpath-$sum.txt"
  fi
  KAFKA_CP="$(cat "$kdir/classpath-$sum.txt")"
  csum="$(sha256sum "$KAFKA_CI/KafkaCheck.java" | cut -c1-12)"
  KAFKA_CHECK_CP="$KAFKA_CP:$kdir/check-$csum"
  if [ ! -s "$kdir/check-$csum/KafkaCheck.class" ]; then
    javac -nowarn -cp "$KAFKA_CP" -d "$kdir/check-$csum.$$" "$KAFKA_CI/KafkaCheck.java" >&2
    # A run that compiled it meanwhile wins.
    mv -T "$kdir/check-$csum.$$" "$kdir/check-$csum" 2>/dev/null || rm -rf "$kdir/check-$csum.$$"
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# kafka_log4j RUN: warnings and errors of every node go to its server.log.
kafka_log4j() {
  cat > "$1/log4j2.properties" <<'L4J'
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=${sys:kafka.logs.dir}/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
L4J
}

# kafka_java_opts NODE: the JVM options of NODE (its heap, logs, log4j).
kafka_java_opts() {
  echo "-Xms256m -Xmx$(cat "$1/heap") -XX:+UseG1GC -Dkafka.logs.dir=$1 -Dlog4j2.configurationFile=$(dirname "$1")/log4j2.properties"
}

# kafka_common_props: the broker settings every node shares; each script
# adds node ids, listeners, replication. A deleted topic's files go after a
# second, not Kafka's default minute: bench deletes each phase's outputs
# (up to 22 GB at 50,000 alerts) before the next phase writes as much.
kafka_common_props() {
  cat <<PROPS
process.roles=broker,controller
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
num.partitions=4
offsets.topic.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=10485760
replica.fetch.max.bytes=10485760
log.retention.check.interval.ms=60000
file.delete.delay.ms=1000
PROPS
}

# kafka_certs DIR: a CA (ca.pem), a broker keystore signed by it for
# localhost/127.0.0.1 (broker.p12), one whose certificate expired yesterday
# (expired.p12), and an unrelated CA (wrong-ca.pem), for clients to trust
# or not.
kafka_certs() {
  local d="$1/tls"
  mkdir -p "$d/issued"
  : > "$d/index.txt"
  echo 01 > "$d/serial"
  cat > "$d/ca.cnf" <<CNF
[ ca ]
default_ca = alertbeam
[ alertbeam ]
database = $d/index.txt
new_certs_dir = $d/issued
serial = $d/serial
default_md = sha256
policy = anything
unique_subject = no
x509_extensions = server
[ anything ]
commonName = supplied
[ server ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
CNF
  local ca
  for ca in ca wrong-ca; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=alertbeam $ca" \
      -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$d/$ca.key" -out "$1/$ca.pem" 2>/dev/null
  done
  local name dates
  for name in broker expired; do
    dates=(-days 3)
    [ "$name" = expired ] && dates=(-startdate "$(date -u -d '-10 days' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)")
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
    openssl ca -batch -notext -config "$d/ca.cnf" -cert "$1/ca.pem" -keyfile "$d/ca.key" "${dates[@]}" \
      -in "$d/$name.csr" -out "$d/$name.pem" 2>"$d/$name.log" || { cat "$d/$name.log" >&2; return 1; }
    openssl pkcs12 -export -name broker -in "$d/$name.pem" -inkey "$d/$name.key" -certfile "$1/ca.pem" \
      -passout "pass:$KAFKA_STOREPASS" -out "$1/$name.p12"
  done
}

# kafka_format NODE UUID [StorageTool format flags...]: format NODE's data
# directory into cluster UUID.
kafka_format() {
  local node="$1" uuid="$2"
  shift 2
  # shellcheck disable=SC2046 # the options are words
  java -cp "$KAFKA_CP" $(kafka_java_opts "$node") kafka.tools.StorageTool format -t "$uuid" \
    -c "$node/server.properties" "$@" >"$node/format.log" 2>&1 || { cat "$node/format.log" >&2; return 1; }
}

# kafka_uuid prints a new cluster id.
kafka_uuid() { java -cp "$KAFKA_CP" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1; }

# kafka_alive PID: whether PID runs (a zombie does not).
kafka_alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# kafka_start NODE: start NODE's JVM in the background, detached from this
# shell, and wait until it listens.
kafka_start() {
  local node="$1" port pid
  port="$(cat "$node/port")"
  if [ -s "$node/pid" ] && kafka_alive "$(cat "$node/pid")"; then
    echo "kafka: $(basename "$node") is already running" >&2
    return 0
  fi
  # shellcheck disable=SC2046
  nohup java -cp "$KAFKA_CP" $(kafka_java_opts "$node") kafka.Kafka "$node/server.properties" \
    </dev/null >>"$node/stdout.log" 2>&1 &
  pid=$!
  echo "$pid" > "$node/pid"
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kafka_alive "$pid" || { echo "kafka: $(basename "$node") exited:" >&2; tail -50 "$node/stdout.log" "$node/server.log" >&2 2>/dev/null; return 1; }
    sleep 0.2
  done
  echo "kafka: $(basename "$node") did not listen on $port within 60s" >&2
  return 1
}

# kafka_stop NODE [KILL]: stop NODE's JVM and wait until it is gone:
# gracefully (SIGTERM, then SIGKILL after 60 s), or at once with KILL.
kafka_stop() {
  local node="$1" sig="${2:-TERM}" pid
  pid="$(cat "$node/pid" 2>/dev/null || true)"
  if [ -n "$pid" ]; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kafka_alive "$pid" || break; sleep 0.2; done
    if kafka_alive "$pid"; then
      echo "kafka: $(basename "$node") still running 60s after SIG$sig; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      while kafka_alive "$pid"; do sleep 0.1; done
    fi
  fi
  rm -f "$node/pid"
}

# kafka_stop_all RUN: stop every node of RUN at once and wait for them all.
kafka_stop_all() {
  local node pids=()
  for node in "$1"/node*; do
    [ -d "$node" ] || continue
    kafka_stop "$node" &
    pids+=($!)
  done
  [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
}

# kafka_check ARGS...: KafkaCheck (quorum and leader queries).
kafka_check() {
  java -cp "$KAFKA_CHECK_CP" -Xmx128m -Dkafka.logs.dir="$KAFKA_RUN" \
    -Dlog4j2.configurationFile="$KAFKA_RUN/log4j2.properties" KafkaCheck "$@"
}

# kafka_ctl RUN: write RUN/ctl, the control script tests get, which runs
# .ci/kafka-ctl on RUN.
kafka_ctl() {
  printf '#!/bin/sh\nexec "%s/kafka-ctl" "%s" "$@"\n' "$KAFKA_CI" "$1" > "$1/ctl"
  chmod +x "$1/ctl"
}

# kafka_tail_logs RUN: the last lines each node logged, after a failure.
kafka_tail_logs() {
  local node
  for node in "$1"/node*; do
    [ -f "$node/server.log" ] || continue
    echo "kafka: last lines of $(basename "$node")'s log:" >&2
    tail -20 "$node/server.log" >&2 || true
  done
}
