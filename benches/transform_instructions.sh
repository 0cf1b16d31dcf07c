#!/usr/bin/env bash
# Instructions per record of one transform (or of the JSON converter) over 1,000 pageviews,
# counted by callgrind: a figure that, unlike time on this shared 2-core machine, the machine's
# load does not move, so a change worth 2% shows. Rounds 10 and 60 are counted and subtracted
# (start-up and loading cancel out); the busiest functions follow, the guest's named from
# wasmtime's perf map.
#
# Usage: benches/transform_instructions.sh [TRANSFORM|WASM [KEY=VALUE ...]]
#   default: `chain`, the fused InsertField + MaskField of `benches/connect.sh transforms`.
#   `json-converter` counts instead the JsonConverter (schemas off) over the pageviews with
#   datagen's schema, and `json-converter-chained` over the chain's output: the converter's
#   share of a source task's work, without the transforms (on the task's thread) and after
#   them (on the stages' thread); a .wasm converter may follow either name.
#   A built-in component has no function names (release guests are stripped); for names, build
#   the guest with `CARGO_PROFILE_RELEASE_STRIP=none` and pass its .wasm (it gets the chain's
#   config when none is given). TOP=N sets how many functions are listed (default 15).
set -euo pipefail
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
command -v callgrind_annotate >/dev/null || { echo "callgrind_annotate is needed (valgrind)" >&2; exit 1; }
[ "$#" -gt 0 ] || set -- chain
target="${CARGO_TARGET_DIR:-target}"
case "$1" in
  json-converter) example=convert_loop; set -- plain "${@:2}" ;;
  json-converter-chained) example=convert_loop; set -- chained "${@:2}" ;;
  *) example=transform_loop ;;
esac
cargo build --release -q -p weft-runtime --example "$example"
bin="$target/release/examples/$example"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Compiles and caches the component under valgrind first: the cache key names the CPU
# features valgrind shows, which are not the machine's.
valgrind --tool=none "$bin" 1 "$@" >/dev/null 2>&1
for rounds in 10 60; do
  WEFT_WASM_PERFMAP=1 valgrind --tool=callgrind --smc-check=all \
    --callgrind-out-file="$out/$rounds.out" "$bin" "$rounds" "$@" >"$out/$rounds.log" 2>&1 ||
    { cat "$out/$rounds.log" >&2; exit 1; }
done
python3 - "$out" "${TOP:-15}" <<'PY'
import re, subprocess, sys
out, top = sys.argv[1], int(sys.argv[2])

def field(path, name):
    for line in open(path):
        if line.startswith(name + ":"):
            return line.split()[1]

def per_function(path):
    text = subprocess.run(["callgrind_annotate", path], capture_output=True, text=True).stdout
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in line:
            rows[m.group(2)] = int(m.group(1).replace(",", ""))
    return rows

few, many = f"{out}/10.out", f"{out}/60.out"
records = 50 * 1000
print("instructions per record: %.0f" % ((int(field(many, "summary")) - int(field(few, "summary"))) / records))
# JIT code has no symbols for valgrind; wasmtime's perf map of the counted run names it.
jit = []
try:
    for line in open("/tmp/perf-%s.map" % field(many, "pid")):
        start, size, name = line.split(" ", 2)
        jit.append((int(start, 16), int(size, 16), name.strip()))
except OSError:
    pass

def name(key):
    m = re.search(r"0x([0-9a-f]+) \[\?\?\?\]", key)
    if not m:
        return key.split(":", 1)[-1][-100:]
    addr = int(m.group(1), 16)
    for start, size, n in jit:
        if start <= addr < start + size:
            return re.sub(r"17h[0-9a-f]{16}E$", "", n)[-100:]
    return hex(addr)

# Host functions are at the same addresses in both runs, so their counts subtract; JIT code
# moves between runs, so its counts are the longer run's over all its records.
before = per_function(few)
rows = []
for key, count in per_function(many).items():
    if "[???]" in key:
        rows.append((count / (60 * 1000), name(key)))
    else:
        rows.append(((count - before.get(key, 0)) / records, name(key)))
for count, n in sorted(rows, reverse=True)[:top]:
    print("%8.0f  %s" % (count, n))
PY
