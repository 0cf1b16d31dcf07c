#!/usr/bin/env bash
# benches/mqtt.sh [BIN]: MQTT connector throughput against a local mosquitto, with mosquitto alone
# as the baseline, all in one sitting. N messages of ~100 B are published with `mosquitto_pub -l`.
#   baseline:    mosquitto_pub -> mosquitto -> mosquitto_sub           (QoS 0 and 1)
#   mqtt-source: mosquitto_pub -> mosquitto -> mqtt-source -> weft     (QoS 0 and 1), timed until
#                `weft consume` has read all N from the topic
#   mqtt-sink:   weft topic (N records, produced first) -> mqtt-sink -> mosquitto -> mosquitto_sub,
#                timed from the worker's start until mosquitto_sub has all N
# Prints records/s per run, the source/baseline ratio and the worker's CPU seconds for the N source
# messages. Needs mosquitto and mosquitto-clients.
set -eu
BIN=${1:-weft}
N=${N:-100000}
D=$(mktemp -d /var/tmp/mqttbench.XXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQ=$(free_port); KP=$(free_port)
mkdir -p $D/mq
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n' $MQ > $D/mosquitto.conf
mosquitto -c $D/mosquitto.conf > $D/mosquitto.log 2>&1 & MPID=$!
$BIN up --listeners PLAINTEXT://127.0.0.1:$KP --log-dirs $D/data --no-connect > $D/broker.log 2>&1 & BPID=$!
cleanup() { kill $MPID $BPID ${WPID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf $D; }
trap cleanup EXIT
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$KP) 2>/dev/null && (echo > /dev/tcp/127.0.0.1/$MQ) 2>/dev/null && break; sleep 0.1; done
python3 -c "
import sys
for i in range($N): print('{\"device\":\"dev-%d\",\"seq\":%d,\"celsius\":21.5,\"pad\":\"%s\"}' % (i % 10, i, 'x'*40))" > $D/lines
# mosquitto_pub -l (2.0.11) stops at the first PUBACK whose 16-bit message id equals its last one's:
# past 65535 QoS 1 messages that comes early (100k lines: it disconnects after 34,465 and the
# rest are never sent, so the readers wait for ever). Publish in parts of 50,000 lines instead.
split -l 50000 $D/lines $D/part.
publish() { # QOS TOPIC
  for p in $D/part.*; do mosquitto_pub -p $MQ -q $1 -t $2 -l < $p; done
}
now() { date +%s.%N; }
# A process's CPU time (user + system) in clock ticks (1/100 s): steadier than wall time on a
# loaded machine.
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
rate() { python3 -c "print(f'{$N/($2-$1):,.0f}')"; }

baseline() { # QOS
  mosquitto_sub -p $MQ -q $1 -t bench/base -C $N > /dev/null & local S=$!
  sleep 0.5
  local t0=$(now); publish $1 bench/base; wait $S; local t1=$(now)
  echo "baseline QoS $1: $(rate $t0 $t1) msg/s"; BASE[$1]=$(python3 -c "print($N/($t1-$t0))")
}

worker() { # NAME CONFIG-LINES...
  local name=$1; shift
  printf 'bootstrap.servers=127.0.0.1:%s\nlisteners=http://127.0.0.1:0\noffset.storage.file.filename=%s/%s.offsets\nkey.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n' $KP $D $name > $D/$name-worker.properties
  printf '%s\n' "$@" > $D/$name.properties
  (cd $D && exec $BIN connect standalone $name-worker.properties $name.properties > $D/$name.log 2>&1) & WPID=$!
}

source_run() { # QOS
  local topic=src$1
  $BIN topics create $topic -b 127.0.0.1:$KP > /dev/null
  worker src$1 name=src$1 connector.class=mqtt-source mqtt.server.uri=tcp://127.0.0.1:$MQ \
    capability.mqtt.urls=tcp://127.0.0.1:$MQ mqtt.client.id=bench-src$1 mqtt.topics=bench/src$1 \
    mqtt.qos=$1 kafka.topic=$topic batch.size=5000
  until grep -q "subscribed to" $D/src$1.log 2>/dev/null; do sleep 0.1; done
  local c0=$(cpu $WPID) t0=$(now)
  publish $1 bench/src$1 &
  $BIN consume $topic -b 127.0.0.1:$KP --from-beginning --max-messages $N --format '\n' > /dev/null
  local t1=$(now) c1=$(cpu $WPID)
  kill $WPID; wait $WPID 2>/dev/null || true; WPID=
  local r=$(python3 -c "print($N/($t1-$t0))")
  echo "mqtt-source QoS $1: $(rate $t0 $t1) records/s  (ratio to baseline: $(python3 -c "print(f'{$r/${BASE[$1]}:.2f}')"); worker CPU $(python3 -c "print(f'{($c1-$c0)/100:.2f}')") s)"
}

sink_run() {
  $BIN perf produce -b 127.0.0.1:$KP --topic cmds --records $N --record-size 100 --throughput -1 > /dev/null 2>&1
  mosquitto_sub -p $MQ -q 1 -t 'bench/out/#' -C $N > /dev/null & local S=$!
  sleep 0.5
  local t0=$(now)
  worker sink name=sink connector.class=mqtt-sink topics=cmds mqtt.server.uri=tcp://127.0.0.1:$MQ \
    capability.mqtt.urls=tcp://127.0.0.1:$MQ mqtt.client.id=bench-sink 'mqtt.topic=bench/out/${topic}' mqtt.qos=1 \
    consumer.override.max.poll.records=2000
  wait $S; local t1=$(now)
  kill $WPID; wait $WPID 2>/dev/null || true; WPID=
  echo "mqtt-sink QoS 1: $(rate $t0 $t1) records/s (including the worker's start)"
}

declare -A BASE
baseline 0; baseline 1
source_run 0; source_run 1
sink_run
