#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each, one after the other, on one core.
#
#   fuzz/run.sh BUILD_DIR [target...]
#
# Each target starts from its seed corpus (fuzz/corpus/<target>, read-only here) plus the
# regression inputs (fuzz/regress/<target>) and grows a working corpus in
# BUILD_DIR/fuzz/work/<target>; its dictionary is fuzz/dict/<target>.dict when present. A crash,
# leak or timeout stops the run with its input saved as BUILD_DIR/fuzz/artifacts/<target>/crash-*
# (turn it into a regression: fuzz/README.md). The last line of each target's log, with its
# executions and coverage, is printed, and all of them go to BUILD_DIR/fuzz/summary.txt.
set -euo pipefail
build=${1:?usage: fuzz/run.sh BUILD_DIR [target...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-60}
nice_level=${FUZZ_NICE:-10}
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for src in "$here"/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi
summary="$build/fuzz/summary.txt"
: > "$summary"
status=0
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  work="$build/fuzz/work/$t"
  art="$build/fuzz/artifacts/$t"
  log="$build/fuzz/logs/$t.log"
  mkdir -p "$work" "$art" "$(dirname "$log")"
  dirs=("$work" "$here/corpus/$t")
  [[ -d "$here/regress/$t" ]] && dirs+=("$here/regress/$t")
  dict=()
  [[ -f "$here/dict/$t.dict" ]] && dict=(-dict="$here/dict/$t.dict")
  echo "fuzz: $t for ${seconds}s"
  # -jobs/-workers 1: the machine is shared; rss and per-input time bound a runaway input.
  if ! nice -n "$nice_level" "$bin" "${dict[@]}" -max_total_time="$seconds" -timeout=20 \
        -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$art/" \
        "${dirs[@]}" > "$log" 2>&1; then
    echo "fuzz: $t FAILED, see $log and $art/" >&2
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5 >&2 || true
    status=1
  fi
  line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  printf '%-16s runs=%-9s %s\n' "$t" "${runs:-?}" "$line" | tee -a "$summary"
done
exit $status
