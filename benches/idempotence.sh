#!/usr/bin/env bash
# Idempotent against plain produce: for each round and each binary given, starts `weft up` on a
# scratch directory and runs `weft perf produce` of N x 100 B records twice against it, plain and
# with `-X enable.idempotence=true` (acks=all both times; the order alternates between rounds), and
# prints each run's records/s, the Produce requests the broker served (from /metrics), and the CPU
# seconds the client (`weft perf`, librdkafka included) and the broker used, so the runs being
# compared are interleaved on a shared machine and CPU cost can be compared where throughput is noisy.
# Usage: benches/idempotence.sh WEFT_BINARY [WEFT_BINARY...]
#   (N=records, default 2000000; ROUNDS, default 3; PARTITIONS, default 1; PORT, default 19192)
set -euo pipefail
n="${N:-2000000}"
rounds="${ROUNDS:-3}"
partitions="${PARTITIONS:-1}"
port="${PORT:-19192}"
mport=$((port + 1))
[ "$#" -ge 1 ] || { echo "usage: $0 WEFT_BINARY [WEFT_BINARY...]" >&2; exit 2; }

produce_requests() {
  curl -sf "http://127.0.0.1:$mport/metrics" |
    awk '/^weft_request_duration_seconds_count\{api="Produce"/ { s += $2 } END { print s + 0 }'
}

broker_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$pid/stat"; }

run_one() { # binary label extra-args...
  local bin="$1" label="$2"; shift 2
  local r0 r1 c0 c1 out
  r0="$(produce_requests)"; c0="$(broker_cpu)"
  out="$(/usr/bin/time -f 'client-cpu %U %S' "$bin" perf produce -b "127.0.0.1:$port" --topic perf \
    --records "$n" --record-size 100 --throughput -1 --acks all "$@" 2>&1 | grep -E 'records/sec|client-cpu')"
  r1="$(produce_requests)"; c1="$(broker_cpu)"
  echo "$bin $label: $(echo "$out" | grep -o '[0-9.]* records/sec')," \
    "client CPU $(echo "$out" | awk '/client-cpu/ { printf "%.2f", $2 + $3 }') s," \
    "broker CPU $(echo "$c1 $c0" | awk '{ printf "%.2f", $1 - $2 }') s, $((r1 - r0)) Produce requests"
}

for round in $(seq "$rounds"); do
  for bin in "$@"; do
    dir="$(mktemp -d)"
    "$bin" up --no-connect --listeners "PLAINTEXT://127.0.0.1:$port" --log-dirs "$dir/data" \
      --override "metrics.listener=http://127.0.0.1:$mport" >"$dir/broker.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    "$bin" topics create perf --partitions "$partitions" -b "127.0.0.1:$port" >/dev/null
    if [ $((round % 2)) -eq 1 ]; then
      run_one "$bin" plain
      run_one "$bin" idempotent -X enable.idempotence=true
    else
      run_one "$bin" idempotent -X enable.idempotence=true
      run_one "$bin" plain
    fi
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
  done
done
