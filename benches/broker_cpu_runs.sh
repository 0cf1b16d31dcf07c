# Sourced by benches/broker_cpu.sh and benches/kafka_broker_cpu.sh: the one measurement both make.
# broker_cpu_runs PID WEFT_BINARY BOOTSTRAP TOPIC N LABEL [PRODUCE_X]: `weft perf produce` then
# `weft perf consume` of N x 100 B records on TOPIC, printing each run's throughput and the broker
# process PID's utime+stime from /proc divided by the records, split into user and system time.
broker_cpu_runs() {
  local pid="$1" bin="$2" bootstrap="$3" topic="$4" n="$5" label="$6" produce_x="${7:-}"
  local ticks u0 s0 u1 s1 u2 s2
  ticks="$(getconf CLK_TCK)"
  cpu() { awk '{print $14, $15}' "/proc/$pid/stat"; }
  per_record() { # user-ticks system-ticks -> "T ns (user U ns, system S ns)"
    echo "$((($1 + $2) * 1000000000 / ticks / n)) ns (user $(($1 * 1000000000 / ticks / n)) ns, system $(($2 * 1000000000 / ticks / n)) ns)"
  }
  read -r u0 s0 <<<"$(cpu)"
  "$bin" perf produce -b "$bootstrap" --topic "$topic" --records "$n" --record-size 100 --throughput -1 \
    ${produce_x:+-X "$produce_x"} | tail -1
  # A first consumer makes the broker create __consumer_offsets (its partitions' files and
  # indexes), which would otherwise be counted in the consume figure; so does a one-record run.
  "$bin" perf consume -b "$bootstrap" --topic "$topic" --records 1 >/dev/null
  read -r u1 s1 <<<"$(cpu)"
  "$bin" perf consume -b "$bootstrap" --topic "$topic" --records "$n" | tail -1
  read -r u2 s2 <<<"$(cpu)"
  echo "${label}broker CPU per produced record: $(per_record $((u1 - u0)) $((s1 - s0)))"
  echo "${label}broker CPU per consumed record: $(per_record $((u2 - u1)) $((s2 - s1)))"
}
