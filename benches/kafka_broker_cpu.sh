#!/usr/bin/env bash
# Apache Kafka's broker CPU per record on this machine, for comparison with benches/broker_cpu.sh:
# fetches Kafka's jars from Maven Central, starts a one-node KRaft broker with Kafka's defaults on a
# scratch directory, warms its JIT with one untimed produce/consume round, then runs `weft perf
# produce` and `weft perf consume` of N x 100 B records against it and prints the JVM's utime+stime
# from /proc divided by the records, as broker_cpu.sh does for Weft.
# Usage: benches/kafka_broker_cpu.sh [WEFT_BINARY] [PORT]   (N=records, default 5000000;
# KAFKA_VERSION, default 4.1.1; needs java 17+ and mvn; PORT and PORT+1 must be free)
set -euo pipefail
bin="${1:-target/release/weft}"
port="${2:-19392}"
n="${N:-5000000}"
version="${KAFKA_VERSION:-4.1.1}"
command -v mvn >/dev/null || { echo "mvn is needed to fetch Kafka's jars" >&2; exit 1; }
command -v java >/dev/null || { echo "java is needed to run Kafka" >&2; exit 1; }
dir="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$pid" ] && wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
cat >"$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weft.bench</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
EOF
mvn -q -B -f "$dir/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dir/lib" >"$dir/mvn.log" 2>&1 ||
  { cat "$dir/mvn.log" >&2; echo "could not fetch Kafka $version's jars" >&2; exit 1; }
cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$((port + 1))
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
EOF
kafka() { java -cp "$dir/lib/*" "$@"; }
cluster="$(kafka kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
kafka kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" >/dev/null 2>&1
# Kafka's bin/kafka-server-start.sh heap (1 GiB); no log4j configuration, so it logs nothing.
java -Xms1G -Xmx1G -cp "$dir/lib/*" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 &
pid=$!
for _ in $(seq 300); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
b="127.0.0.1:$port"
"$bin" topics create warm --partitions 1 -b "$b" >/dev/null
"$bin" topics create perf --partitions 1 -b "$b" >/dev/null
# The JIT compiles the produce and fetch paths during a first round, which is not counted.
"$bin" perf produce -b "$b" --topic warm --records "$n" --record-size 100 --throughput -1 >/dev/null
"$bin" perf consume -b "$b" --topic warm --records "$n" >/dev/null
. "$(dirname "$0")/broker_cpu_runs.sh"
broker_cpu_runs "$pid" "$bin" "$b" perf "$n" "Kafka $version "
