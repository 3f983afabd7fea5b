#!/usr/bin/env bash
# Coverage-guided fuzzing of the engine and the Spin plugin (fuzz/, cargo fuzz + libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Builds every target, then runs each (all of them unless named) for SECONDS (default 60)
# on one core, starting from the seed corpus in fuzz/corpus/<target> (kept small, in the
# repository) and target/fuzz/corpus/<target> (what earlier runs found, not committed).
# Prints executions and crashes per target and in total; exits 1 when anything crashed,
# with the crashing inputs in target/fuzz/artifacts/<target>/ (replay one with
# `target/fuzz/x86_64-unknown-linux-gnu/release/<target> <file>`).
#
# `-s none`: no AddressSanitizer, which needs nightly Rust (the engine forbids unsafe code);
# stable Rust builds the coverage instrumentation itself.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
bin=target/fuzz/x86_64-unknown-linux-gnu/release
cargo fuzz build -s none --target-dir target/fuzz >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

printf '%-18s %12s %10s %8s\n' target executions "exec/s" crashes
total=0 crashed=0
for target in "${targets[@]}"; do
  work=target/fuzz/corpus/$target artifacts=target/fuzz/artifacts/$target
  mkdir -p "$work" "$artifacts"
  log=target/fuzz/$target.log
  # Each input gets 10 s and 2 GiB at most; a hang or a leak is a finding too.
  status=0
  "$bin/$target" "$work" "fuzz/corpus/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashes=1 crashed=1
    grep -m1 -A2 "panicked at\|ERROR: libFuzzer" "$log" >&2 || tail -5 "$log" >&2
  fi
  printf '%-18s %12s %10s %8s\n' "$target" "${runs:-0}" "${rate:-0}" "$crashes"
  total=$((total + ${runs:-0}))
done
printf '%-18s %12s\n' total "$total"
exit "$crashed"
