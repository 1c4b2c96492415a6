#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds every libFuzzer target (the `fuzz` preset: clang, ASan) and runs each
# for a short fixed time on a scratch copy of its seed corpus; any crash, ASan
# report, leak or timeout fails the script, and the input that caused it is
# kept under build/fuzz/artifacts/. Long runs: docs/data.md, "Fuzzing".
# Usage: tools/fuzz.sh [SECONDS per target, default 25]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-25}
cmake --preset fuzz -G Ninja >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p build/fuzz/artifacts
export OPENCV_IO_MAX_IMAGE_PIXELS=4194304  # fuzz_decode's memory limit (OpenCV reads it when it loads)
for t in cache idx decode safetensors plan onnx; do
  mkdir -p "$work/$t"
  if ! build/fuzz/fuzz/fuzz_$t -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/artifacts/fuzz_$t-" "$work/$t" "fuzz/corpus/$t" > "$work/$t.log" 2>&1; then
    tail -n 60 "$work/$t.log"
    echo "fuzz_$t FAILED; the input is under build/fuzz/artifacts/" >&2
    exit 1
  fi
  echo "fuzz_$t: ${secs} s, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$') runs, no failure"
done
