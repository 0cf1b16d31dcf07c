#!/usr/bin/env bash
# The Connect worker's speed figures (issue 8), each against a fresh `weft up` (broker and worker in one
# process) on a scratch directory:
#   start       time from exec to the broker accepting connections, and VmRSS 2 s later (worker idle);
#   datagen     datagen -> topic, N records of 100 B (record.size=100, ByteArrayConverter), records/s
#               from the connector's creation to the topic holding all N;
#   transforms  datagen quickstart=pageviews (JSON values) -> topic, without transforms, with two
#               that change nothing (DropHeaders: the floor of two stages) and with two that do
#               (InsertField$Value + MaskField$Value), records/s of each;
#   sink        topic (N x 100 B, written by `weft perf produce`) -> file-sink, records/s from the
#               connector's creation to the file holding all N lines, and from its first line on
#               (the group's first join waits group.initial.rebalance.delay.ms, 3 s);
#   jsonsink    topic (N pageviews written by datagen as JsonConverter with schemas, Kafka's default)
#               -> file-sink reading them back with JsonConverter, records/s as for sink;
#   first       POST /connectors to the first record in the topic (a consumer already waiting), with
#               the component already compiled and cached by an earlier connector;
#   stopped     VmRSS with 10 connectors created STOPPED (KIP-980 initial_state);
#   eos         datagen -> topic as `datagen`, through a standalone worker (`weft connect standalone`,
#               its own process) without and with exactly.once.source.support=enabled (one
#               transaction per poll, positions committed to connect-offsets; EOS_INTERVAL_MS=M:
#               one every M ms instead), records/s of each.
# Usage: benches/connect.sh [WEFT_BINARY] [TEST...]   (N, default 5000000; default: every test)
set -euo pipefail
bin="${1:-target/release/weft}"
shift || true
tests=("$@")
[ "${#tests[@]}" -gt 0 ] || tests=(start datagen transforms sink jsonsink first stopped eos)
n="${N:-5000000}"
port="${PORT:-19792}"
rest="${REST_PORT:-19793}"
command -v kcat >/dev/null || { echo "kcat is needed (apt-get install kcat)" >&2; exit 1; }

now_ms() { date +%s%3N; }
rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
records_in() { # topic
  curl -sf "http://127.0.0.1:$rest/metrics" |
    awk -v t="$1" '$1 ~ "^weft_topic_records_in_total\\{topic=\"" t "\"" { s += $2 } END { print s + 0 }'
}
create() { # json body (to the worker on $create_port, weft up's by default)
  curl -sf -X POST -H 'Content-Type: application/json' --data "$1" \
    "http://127.0.0.1:${create_port:-$rest}/connectors" >/dev/null
}
wait_records() { # topic count -> waits until the topic holds count records
  until [ "$(records_in "$1")" -ge "$2" ]; do weft_alive; sleep 0.05; done
}
# Waits until the topic holds all `count` records, then sets steady to the records/s between the
# first and the last record's timestamps (each set as the task handed it to its producer), and
# last_ms to the last one's (wall clock, ms): start-up and the component's compilation are left
# out, and the figure depends neither on how often /metrics is polled nor on when a poll lands.
# Four scrapes a second: each takes CPU from the process being measured.
wait_steady() { # topic count
  until [ "$(records_in "$1")" -ge "$2" ]; do weft_alive; sleep 0.25; done
  local first last
  first="$(kcat -C -b "127.0.0.1:$port" -t "$1" -o beginning -c 1 -e -q -f '%T\n')"
  # The last offsets may be transaction markers (eos): the newest of the last ten records.
  last="$(kcat -C -b "127.0.0.1:$port" -t "$1" -o -10 -e -q -f '%T\n' | tail -1)"
  # At least 1 ms, so a run within one millisecond does not divide by zero.
  steady="$(rate "$(($2 - 1))" "$((last - first > 0 ? last - first : 1))")"
  last_ms="$last"
}

# A port something else listens on would answer for a weft that never started.
port_free() { # port
  ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null || { echo "port $1 is in use: set PORT/REST_PORT" >&2; exit 1; }
}
# Stops the script with a process's log when it has exited, instead of waiting for it forever.
alive() { # pid log
  kill -0 "$1" 2>/dev/null && return 0
  echo "weft exited; its log ($2):" >&2
  cat "$2" >&2
  exit 1
}
weft_alive() { alive "$pid" "$dir/weft.log"; }
start_weft() {
  port_free "$port"
  port_free "$rest"
  dir="$(mktemp -d)"
  local t0
  t0="$(now_ms)"
  "$bin" up --listeners "PLAINTEXT://127.0.0.1:$port" --log-dirs "$dir/data" \
    --connect-listener "http://127.0.0.1:$rest" >"$dir/weft.log" 2>&1 &
  pid=$!
  until (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do weft_alive; sleep 0.002; done
  started_ms=$(($(now_ms) - t0))
  until curl -sf "http://127.0.0.1:$rest/" >/dev/null; do weft_alive; sleep 0.02; done
}
stop_weft() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap 'stop_weft 2>/dev/null || true' EXIT

datagen() { # name topic extra-json-fields
  create "{\"name\":\"$1\",\"config\":{\"connector.class\":\"datagen\",\"tasks.max\":\"1\",\"kafka.topic\":\"$2\",\"iterations\":\"$n\",\"key.converter\":\"org.apache.kafka.connect.storage.StringConverter\"$3}}"
}

rate() { # records ms
  awk -v r="$1" -v ms="$2" 'BEGIN { printf "%.0f", r * 1000 / ms }'
}

for t in "${tests[@]}"; do
  case "$t" in
  start)
    start_weft
    sleep 2
    echo "start: accepting connections after $started_ms ms (exec to connect, worker included); idle VmRSS $(rss_mb) MB"
    stop_weft
    ;;
  datagen)
    start_weft
    "$bin" topics create gen --partitions 1 -b "127.0.0.1:$port" >/dev/null
    t0="$(now_ms)"
    datagen gen gen ',"record.size":"100","value.converter":"org.apache.kafka.connect.converters.ByteArrayConverter"'
    wait_steady gen "$n"
    ms=$((last_ms - t0))
    echo "datagen: $n records of 100 B in $ms ms from the POST ($(rate "$n" "$ms") records/s), $steady records/s from the first record on"
    stop_weft
    ;;
  transforms)
    start_weft
    json=',"quickstart":"pageviews","value.converter":"org.apache.kafka.connect.json.JsonConverter","value.converter.schemas.enable":"false"'
    chain=',"transforms":"stamp,mask","transforms.stamp.type":"org.apache.kafka.connect.transforms.InsertField$Value","transforms.stamp.static.field":"source","transforms.stamp.static.value":"bench","transforms.mask.type":"org.apache.kafka.connect.transforms.MaskField$Value","transforms.mask.fields":"userid"'
    # Two transforms that change nothing (DropHeaders of a header no record has): what two
    # sandboxed stages cost before they do any work.
    floor=',"transforms":"a,b","transforms.a.type":"org.apache.kafka.connect.transforms.DropHeaders","transforms.a.headers":"absent","transforms.b.type":"org.apache.kafka.connect.transforms.DropHeaders","transforms.b.headers":"absent"'
    for run in plain floor chain plain floor chain; do
      topic="pv-$run-$RANDOM"
      "$bin" topics create "$topic" --partitions 1 -b "127.0.0.1:$port" >/dev/null
      extra="$json"
      [ "$run" = chain ] && extra="$json$chain"
      [ "$run" = floor ] && extra="$json$floor"
      t0="$(now_ms)"
      datagen "$topic" "$topic" "$extra"
      wait_steady "$topic" "$n"
      ms=$((last_ms - t0))
      # The task's time inside its components per record (datagen, transforms, converter), as
      # last published (once a second, so `?` for a run shorter than that): steadier than
      # records/s on a shared machine.
      wasm_us="$(curl -sf "http://127.0.0.1:$rest/metrics" | awk -v c="$topic" \
        '$1 ~ "^weft_connect_task_wasm_seconds_per_record\\{connector=\"" c "\"" && $2 > 0 { printf "%.2f", $2 * 1e6 }')"
      echo "transforms: $run: $n pageviews in $ms ms from the POST, $steady records/s from the first record on, ${wasm_us:-?} us/record in wasm"
      curl -sf -X DELETE "http://127.0.0.1:$rest/connectors/$topic" >/dev/null
    done
    stop_weft
    ;;
  sink)
    start_weft
    "$bin" topics create sinkin --partitions 1 -b "127.0.0.1:$port" >/dev/null
    "$bin" perf produce -b "127.0.0.1:$port" --topic sinkin --records "$n" --record-size 100 \
      --throughput -1 >/dev/null
    out="$dir/sink.txt"
    want=$((n * 101))
    t0="$(now_ms)"
    create "{\"name\":\"sink\",\"config\":{\"connector.class\":\"file-sink\",\"tasks.max\":\"1\",\"topics\":\"sinkin\",\"file\":\"$out\",\"value.converter\":\"org.apache.kafka.connect.converters.ByteArrayConverter\"}}"
    # The group's first join waits group.initial.rebalance.delay.ms (3 s, Kafka's default), so
    # the steady rate is also taken from the first bytes in the file on.
    bytes0=0
    until [ "$bytes0" -gt 0 ]; do sleep 0.02; [ -f "$out" ] && bytes0="$(stat -c %s "$out")"; done
    t1="$(now_ms)"
    until [ "$(stat -c %s "$out")" -ge "$want" ]; do sleep 0.05; done
    t2="$(now_ms)"
    ms=$((t2 - t0))
    echo "sink: $n records of 100 B to file-sink in $ms ms from the POST ($(rate "$n" "$ms") records/s, $((t1 - t0)) ms to the first line), $(rate "$(((want - bytes0) / 101))" "$((t2 - t1))") records/s from the first line on ($(wc -l <"$out") lines)"
    stop_weft
    ;;
  jsonsink)
    # Kafka's quickstart sink shape: JSON with schemas (JsonConverter's default) read back into
    # Connect values. The topic is filled by datagen first, then the sink is created.
    start_weft
    "$bin" topics create jsonin --partitions 1 -b "127.0.0.1:$port" >/dev/null
    datagen jsonin jsonin ',"quickstart":"pageviews","value.converter":"org.apache.kafka.connect.json.JsonConverter"'
    wait_records jsonin "$n"
    out="$dir/jsonsink.txt"
    t0="$(now_ms)"
    create "{\"name\":\"jsonsink\",\"config\":{\"connector.class\":\"file-sink\",\"tasks.max\":\"1\",\"topics\":\"jsonin\",\"file\":\"$out\",\"key.converter\":\"org.apache.kafka.connect.storage.StringConverter\",\"value.converter\":\"org.apache.kafka.connect.json.JsonConverter\"}}"
    lines=0
    until [ "$lines" -gt 0 ]; do
      sleep 0.02
      [ -f "$out" ] && lines="$(wc -l <"$out")"
      if curl -sf "http://127.0.0.1:$rest/connectors/jsonsink/status" | grep -q FAILED; then
        echo "jsonsink: the sink task failed: $(curl -s "http://127.0.0.1:$rest/connectors/jsonsink/status")" >&2
        exit 1
      fi
    done
    t1="$(now_ms)"
    lines1="$lines"
    until [ "$lines" -ge "$n" ]; do sleep 0.05; lines="$(wc -l <"$out")"; done
    t2="$(now_ms)"
    echo "jsonsink: $n JSON pageviews with schemas to file-sink in $((t2 - t0)) ms from the POST ($(rate "$n" "$((t2 - t0))") records/s), $(rate "$((n - lines1))" "$((t2 - t1))") records/s from the first lines on"
    stop_weft
    ;;
  first)
    start_weft
    # A first connector compiles the datagen component and caches it.
    "$bin" topics create warm --partitions 1 -b "127.0.0.1:$port" >/dev/null
    datagen warm warm ',"record.size":"100","iterations":"1","value.converter":"org.apache.kafka.connect.converters.ByteArrayConverter"'
    wait_records warm 1
    for i in 1 2 3; do
      "$bin" topics create "first$i" --partitions 1 -b "127.0.0.1:$port" >/dev/null
      kcat -C -b "127.0.0.1:$port" -t "first$i" -o beginning -c 1 -f '%T\n' -q >"$dir/first$i" &
      kpid=$!
      sleep 1 # kcat has joined the partition (it is polling an empty topic)
      t0="$(now_ms)"
      datagen "first$i" "first$i" ',"record.size":"100","value.converter":"org.apache.kafka.connect.converters.ByteArrayConverter"'
      wait "$kpid"
      t1="$(now_ms)"
      echo "first: POST to first record consumed: $((t1 - t0)) ms (record timestamp $(($(cat "$dir/first$i") - t0)) ms after the POST)"
    done
    stop_weft
    ;;
  stopped)
    start_weft
    for i in $(seq 10); do
      curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$rest/connectors" --data \
        "{\"name\":\"idle$i\",\"initial_state\":\"STOPPED\",\"config\":{\"connector.class\":\"datagen\",\"kafka.topic\":\"idle\",\"record.size\":\"100\"}}" >/dev/null
    done
    sleep 3
    echo "stopped: VmRSS with 10 STOPPED connectors: $(rss_mb) MB"
    stop_weft
    ;;
  eos)
    start_weft
    wport=$((rest + 2))
    port_free "$wport"
    for run in plain eos plain eos; do
      printf '%s\n' "bootstrap.servers=127.0.0.1:$port" "listeners=http://127.0.0.1:$wport" \
        "offset.storage.file.filename=$dir/$run.offsets" "offset.storage.replication.factor=1" \
        > "$dir/worker.properties"
      [ "$run" = eos ] && echo "exactly.once.source.support=enabled" >>"$dir/worker.properties"
      "$bin" connect standalone "$dir/worker.properties" >"$dir/worker-$run.log" 2>&1 &
      wpid=$!
      until curl -sf "http://127.0.0.1:$wport/" >/dev/null; do alive "$wpid" "$dir/worker-$run.log"; sleep 0.02; done
      topic="gen-$run-$RANDOM"
      "$bin" topics create "$topic" --partitions 1 -b "127.0.0.1:$port" >/dev/null
      boundary=""
      [ "$run" = eos ] && [ -n "${EOS_INTERVAL_MS:-}" ] &&
        boundary=",\"transaction.boundary\":\"interval\",\"transaction.boundary.interval.ms\":\"$EOS_INTERVAL_MS\""
      create_port=$wport datagen "$topic" "$topic" ',"record.size":"100","value.converter":"org.apache.kafka.connect.converters.ByteArrayConverter"'"$boundary"
      wait_steady "$topic" "$n"
      echo "eos: $run: $n records of 100 B through a standalone worker, $steady records/s from the first record on"
      kill "$wpid"
      wait "$wpid" 2>/dev/null || true
    done
    stop_weft
    ;;
  *) echo "unknown test $t" >&2; exit 2 ;;
  esac
done
