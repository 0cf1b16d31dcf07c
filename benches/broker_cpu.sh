#!/usr/bin/env bash
# Broker CPU per record: runs `weft up` on a scratch directory, then `weft perf produce` and
# `weft perf consume` of N x 100 B records against it, and prints each run's throughput with the
# broker's own CPU (utime+stime from /proc) divided by the records, and that split into user time
# (Weft's code) and system time (the kernel's socket, TCP and page-cache work done for it).
# Then the kernel's floors under those figures, with no broker: the system time dd takes to write
# the bytes into new page-cache pages, and the system time of sending the stored log over loopback
# TCP with sendfile and of receiving it (benches/loopback_floor.py). The floor under produce is
# receive + page-cache write; under consume, sendfile.
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
. "$(dirname "$0")/broker_cpu_runs.sh"
broker_cpu_runs "$pid" "$bin" "127.0.0.1:$port" perf "$n" "" "${PRODUCE_X:-}"
# The kernel's floor under the produce figure on this machine: the system time dd takes to write
# 100 B into page-cache pages a new file did not have yet, which any broker pays per record it
# writes (on a VM that hands freed memory back to its host, new pages are much dearer).
floor="$( { TIMEFORMAT=%3S; time dd if=/dev/zero of="$dir/floor" bs=1M count=256 status=none; } 2>&1 )"
rm -f "$dir/floor"
echo "page-cache write floor: $(awk -v s="$floor" 'BEGIN { printf "%.0f", s * 1e9 / (256 * 1048576 / 100) }') ns per 100 B (system time of dd into a new file)"
command -v python3 >/dev/null || { echo "python3 is needed for the loopback floor" >&2; exit 1; }
python3 "$(dirname "$0")/loopback_floor.py" "$dir"/data/perf-0/*.log
