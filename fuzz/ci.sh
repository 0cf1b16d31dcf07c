#!/usr/bin/env bash
# Short fuzz run for CI: installs nightly and cargo-fuzz if missing, then runs each target for
# FUZZ_SECONDS (default 30) from the committed seed corpus. Fails on any crash, leak-free OOM or timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Scratch copies: libFuzzer adds what it finds to the first corpus directory; keep the committed
# seeds untouched.
work="$(mktemp -d)"
trap 'rm -rf "$work" /tmp/weft-fuzz-*' EXIT
for target in request_path batch_validation json_scan; do
    mkdir -p "$work/$target"
    cp fuzz/corpus/"$target"/seed-* "$work/$target"/
    echo "fuzz: $target for ${seconds}s"
    cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$work/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1
done
