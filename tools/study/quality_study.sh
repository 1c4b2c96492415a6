#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The EMA / DiffAugment study of docs/quality.md: `ralsgan demo` (Fashion-MNIST
# 32 px, width 0.5, batch 64) in four arms (the seed's recipe, + EMA,
# + DiffAugment, both) x seeds x data sizes (a 2,000-image subset and the full
# 60,000), the same steps everywhere; each run's SWD (1,000 generated images
# against the first 1,000 test images, `demo`'s own report) goes to
# OUT/results.tsv, and each run folder keeps its sample grid.
# Usage: tools/study/quality_study.sh RALSGAN OUT [STEPS] [SEEDS] [SIZES]
#   defaults: STEPS 2000, SEEDS "0 1 2", SIZES "2000 0" (0: all 60,000)
set -euo pipefail
ralsgan=$1 out=$2 steps=${3:-2000}
read -r -a seeds <<< "${4:-0 1 2}"
read -r -a sizes <<< "${5:-2000 0}"
mkdir -p "$out"
declare -A arms=(
  [seed]="--recipe seed"
  [ema]="--recipe seed --ema-kimg 20"
  [diffaugment]="--recipe seed --diffaugment color,translation,cutout"
  [both]="--recipe improved"
)
[ -f "$out/results.tsv" ] || printf 'images\tarm\tseed\tswd_mean\tswd_32\tswd_16\tseconds\n' > "$out/results.tsv"
for images in "${sizes[@]}"; do
  for s in "${seeds[@]}"; do
    for arm in seed ema diffaugment both; do
      run="$out/run_${images}_${arm}_${s}"
      if grep -q "^$images	$arm	$s	" "$out/results.tsv"; then continue; fi
      start=$(date +%s)
      # shellcheck disable=SC2086
      "$ralsgan" demo --out "$run" --start-over --steps "$steps" --images "$images" --seed "$s" \
        ${arms[$arm]} --backend cpu --threads 2 > "$run.table.txt" 2> "$run.log.txt"
      secs=$(( $(date +%s) - start ))
      m=$(python3 -c "import json,sys; r=json.load(open('$run/metrics.json'))['swd']; print('%.4f\t%.4f\t%.4f' % (r['mean_x1e3'], r['per_level_x1e3'][0], r['per_level_x1e3'][1]))")
      printf '%s\t%s\t%s\t%s\t%s\n' "$images" "$arm" "$s" "$m" "$secs" >> "$out/results.tsv"
      echo "images=$images arm=$arm seed=$s: $m (${secs}s)"
    done
  done
done
