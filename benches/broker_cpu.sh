#!/usr/bin/env bash
# Broker CPU per record: runs `weft up` on a scratch directory, then `weft perf produce` and
# `weft perf consume` of N x 100 B records against it, and prints each run's throughput with the
# broker's own CPU (utime+stime from /proc) divided by the records.
# Usage: benches/broker_cpu.sh [WEFT_BINARY] [PORT]   (N=records, default 5000000; PRODUCE_X, extra
# producer properties for -X, for example PRODUCE_X=compression.type=lz4)
set -euo pipefail
bin="${1:-target/release/weft}"
port="${2:-19092}"
n="${N:-5000000}"
dir="$(mktemp -d)"
"$bin" up --listeners "PLAINTEXT://127.0.0.1:$port" --log-dirs "$dir/data" >"$dir/broker.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
"$bin" topics create perf --partitions 1 -b "127.0.0.1:$port" >/dev/null
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks="$(getconf CLK_TCK)"
c0="$(cpu)"
"$bin" perf produce -b "127.0.0.1:$port" --topic perf --records "$n" --record-size 100 --throughput -1 \
  ${PRODUCE_X:+-X "$PRODUCE_X"} | tail -1
c1="$(cpu)"
"$bin" perf consume -b "127.0.0.1:$port" --topic perf --records "$n" | tail -1
c2="$(cpu)"
echo "broker CPU per produced record: $(((c1 - c0) * 1000000000 / ticks / n)) ns"
echo "broker CPU per consumed record: $(((c2 - c1) * 1000000000 / ticks / n)) ns"
