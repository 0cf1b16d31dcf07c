#!/usr/bin/env bash
# What the broker's metrics cost: runs benches/broker_cpu.sh (produce then consume of N x 100 B
# records, throughput and broker CPU per record) against two weft binaries in turn, ROUNDS times,
# alternating which goes first, so both see the same machine in the same sitting.
# The second binary is normally built with benches/metrics-off.patch applied, which turns every
# request-path metric update (request timer, error counts, per-partition traffic, long-poll gauge)
# into a no-op:
#   cargo build --release && cp target/release/weft /tmp/weft-metrics
#   git apply benches/metrics-off.patch && cargo build --release && cp target/release/weft /tmp/weft-nometrics
#   git apply -R benches/metrics-off.patch
#   benches/metrics_ab.sh /tmp/weft-metrics /tmp/weft-nometrics
# Usage: benches/metrics_ab.sh WEFT_WITH_METRICS WEFT_WITHOUT   (N, default 5000000; ROUNDS, default 5)
set -euo pipefail
[ "$#" -eq 2 ] || { echo "usage: $0 WEFT_WITH_METRICS WEFT_WITHOUT" >&2; exit 2; }
rounds="${ROUNDS:-5}"
here="$(cd "$(dirname "$0")" && pwd)"
one() { # label binary
  echo "== $1 ($2)"
  "$here/broker_cpu.sh" "$2" 19392
}
for round in $(seq "$rounds"); do
  echo "# round $round"
  if [ $((round % 2)) -eq 1 ]; then
    one metrics "$1"; one no-metrics "$2"
  else
    one no-metrics "$2"; one metrics "$1"
  fi
done
