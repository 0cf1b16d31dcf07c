#!/usr/bin/env bash
# benches/mirror.sh [BIN]: `weft mirror-maker` throughput between two local brokers, against a plain
# consume -> produce copy between the same two brokers (kcat -C | kcat -P, librdkafka both sides),
# all in one sitting, N records of 100 B in P partitions:
#   copy      kcat -C -e (A) | kcat -P (B)                 timed until B's copy topic has N
#   mirror    weft mirror-maker A->B                        timed from start-up until B's A.bulk has N
#   and both again with A behind a proxy that holds every byte 25 ms each way (50 ms round trip).
# Then, without the proxy, a steady 100,000 records/s into A for S seconds while the mirror runs:
# the end-to-end lag (A's end offsets minus B's) is sampled every second, in records and ms.
# PASSTHROUGH=true runs the mirror with batch.passthrough.enabled (the source's batches appended
# unchanged); run the script once each way in one sitting to compare.
# Needs kcat and python3.
set -eu
BIN=${1:-weft}
N=${N:-1000000}
P=${P:-4}
S=${S:-20}
PASSTHROUGH=${PASSTHROUGH:-false}
D=$(mktemp -d /var/tmp/mirrorbench.XXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 300); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not open" >&2; exit 1; }

# A 25 ms-each-way TCP proxy: every chunk read is written 25 ms later, in order.
cat > "$D/proxy.py" <<'EOF'
import asyncio, sys, time
listen, upstream, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
async def pipe(r, w):
    q = asyncio.Queue()
    async def writer():
        while True:
            at, data = await q.get()
            if data is None: break
            d = at - time.monotonic()
            if d > 0: await asyncio.sleep(d)
            w.write(data); await w.drain()
        w.close()
    t = asyncio.create_task(writer())
    while True:
        data = await r.read(65536)
        if not data: break
        q.put_nowait((time.monotonic() + delay, data))
    q.put_nowait((0, None)); await t
async def handle(cr, cw):
    ur, uw = await asyncio.open_connection('127.0.0.1', upstream)
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw), return_exceptions=True)
async def main():
    s = await asyncio.start_server(handle, '127.0.0.1', listen)
    async with s: await s.serve_forever()
asyncio.run(main())
EOF

# broker NAME PORT [ADVERTISED_PORT]
broker() {
  local adv=${3:-$2}
  "$BIN" up --no-connect --listeners "PLAINTEXT://127.0.0.1:$2" --log-dirs "$D/$1" \
    --override "advertised.listeners=PLAINTEXT://127.0.0.1:$adv" > "$D/$1.log" 2>&1 &
  PIDS+=($!); wait_port "$2"
}
# end_offsets BOOTSTRAP TOPIC: the sum of the topic's end offsets (0 while it does not exist).
end_offsets() { "$BIN" offsets "$2" -b "$1" 2>/dev/null | awk -F: '{s+=$3} END {print s+0}'; }
wait_count() { # BOOTSTRAP TOPIC [PID that must stay alive, LOG]
  while [ "$(end_offsets "$1" "$2")" -lt "$N" ]; do
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then echo "the process stopped:" >&2; cat "$4" >&2; exit 1; fi
    sleep 0.2
  done
}
rate() { python3 -c "print(f'{$N/($2-$1):,.0f}')"; }

# setup LABEL DELAY: brokers A (through the proxy when DELAY > 0) and B, N records on A.
setup() {
  AP=$(free_port); BP=$(free_port)
  if [ "$2" != 0 ]; then
    XP=$(free_port)
    broker "a-$1" "$AP" "$XP"
    python3 "$D/proxy.py" "$XP" "$AP" "$2" & PIDS+=($!); wait_port "$XP"; A=127.0.0.1:$XP
  else
    broker "a-$1" "$AP"; A=127.0.0.1:$AP
  fi
  broker "b-$1" "$BP"; B=127.0.0.1:$BP
  "$BIN" topics create bulk --partitions "$P" -b "$A" > /dev/null
  "$BIN" perf produce -b "$A" --topic bulk --records "$N" --record-size 100 > /dev/null
}

copy() { # LABEL
  "$BIN" topics create copy --partitions "$P" -b "$B" > /dev/null
  local t0=$(now)
  kcat -C -b "$A" -t bulk -o beginning -e -q -D '\n' -X fetch.wait.max.ms=100 \
    | kcat -P -b "$B" -t copy -D '\n' -X linger.ms=5 -X batch.num.messages=10000
  wait_count "$B" copy
  local t1=$(now)
  COPY=$(python3 -c "print($N/($t1-$t0))")
  echo "$1 plain copy (kcat -C | kcat -P): $(rate "$t0" "$t1") records/s"
}

mirror() { # LABEL
  printf 'clusters = A, B\nA.bootstrap.servers = %s\nB.bootstrap.servers = %s\nA->B.enabled = true\nA->B.topics = bulk\nA->B.batch.passthrough.enabled = %s\n' \
    "$A" "$B" "$PASSTHROUGH" > "$D/mm2-$1.properties"
  MP=$(free_port)
  local t0=$(now)
  "$BIN" mirror-maker "$D/mm2-$1.properties" --state-dir "$D/state-$1" --listener "http://127.0.0.1:$MP" \
    > "$D/mm-$1.log" 2>&1 & MM=$!; PIDS+=($MM)
  wait_count "$B" A.bulk "$MM" "$D/mm-$1.log"
  local t1=$(now)
  MIRROR=$(python3 -c "print($N/($t1-$t0))")
  echo "$1 weft mirror-maker (passthrough $PASSTHROUGH, start-up included): $(rate "$t0" "$t1") records/s, $(python3 -c "print(f'{100*$MIRROR/$COPY:.0f}')")% of the plain copy"
}

setup direct 0
copy direct; mirror direct
DIRECT_MIRROR=$MIRROR
# Steady load: 100,000 records/s for S seconds into the running flow, lag sampled each second.
"$BIN" perf produce -b "$A" --topic bulk --records $((100000 * S)) --record-size 100 --throughput 100000 > /dev/null &
PP=$!
: > "$D/lag"
while kill -0 $PP 2>/dev/null; do
  # End-to-end: records on A not yet on B (A's end offsets read first, so never negative).
  a=$(end_offsets "$A" bulk); b=$(end_offsets "$B" A.bulk); echo $((a - b)) >> "$D/lag"
  sleep 1
done
python3 - "$D/lag" <<'EOF'
import sys
lags = [int(l) for l in open(sys.argv[1]) if l.strip()]
if lags:
    print(f"steady 100,000 records/s: flow lag mean {sum(lags)/len(lags):,.0f} records "
          f"(~{sum(lags)/len(lags)/100:,.0f} ms), max {max(lags):,} records (~{max(lags)/100:,.0f} ms), "
          f"{len(lags)} samples of A's end offsets minus B's")
EOF
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=()

setup 50ms-rtt 0.025
copy 50ms-rtt; mirror 50ms-rtt
echo "over the 50 ms round trip the mirror runs at $(python3 -c "print(f'{100*$MIRROR/$DIRECT_MIRROR:.0f}')")% of its no-latency figure"
