#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time: scripts/fuzz.sh [SECONDS]
# (default 20 seconds each). Installs cargo-fuzz if it is missing.
#
# The toolchain is the pinned stable one (rust-toolchain.toml); cargo-fuzz
# passes nightly-only flags (-Zsanitizer=address and friends), which
# RUSTC_BOOTSTRAP=1 lets stable accept. Any crash, leak or timeout fails
# the script; the input that caused it is left in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
case "$seconds" in
  ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1

targets=$(cargo fuzz list --fuzz-dir fuzz)
if [ -z "$targets" ]; then
  echo "no fuzz targets found in fuzz/" >&2
  exit 1
fi

cargo fuzz build --fuzz-dir fuzz

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
for target in $targets; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  log="$log_dir/$target.log"
  # The first corpus folder collects what the run finds (not committed);
  # fuzz/seeds/<target> holds the committed starting points.
  if ! cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" "fuzz/seeds/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    echo "==> $target FAILED; the end of its log:" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  corpus_size=$(find "$corpus" -type f | wc -l)
  echo "==> $target: ${runs} runs in ${seconds}s (${rate}/s), ${cov} edges, corpus ${corpus_size}, no crash"
done
echo "==> every fuzz target ran ${seconds}s without a crash"
