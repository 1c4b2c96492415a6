#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Images/s of `ralsgan preprocess` with a detector (bench/RESULTS.md,
# "Detection in preprocess"): YOLOv3 (Darknet-53, 416 px) and YOLOv3-tiny as
# Darknet cfg + deterministic random weights (tools/make_detectors.py: the
# network's cost is in the cfg, so no real weights are needed), on N JPEG
# photos (640x480 and 800x600), timed with /usr/bin/time: decoding alone,
# each detector on every thread count, and a rerun decided from the detection
# cache. Needs Python with numpy, Pillow and PyTorch (tools/make_detectors.py).
# Usage: bench/data/bench_detect.sh RALSGAN PYTHON [N] [THREADS...]
set -euo pipefail
ralsgan=$1 python=$2 n=${3:-48}
shift $(( $# < 3 ? $# : 3 ))
threads=("${@:-1 2}")
read -r -a threads <<< "${threads[*]}"
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${BENCH_WORK:-/tmp/rg_bench_detect}
mkdir -p "$work/photos"
[ -f "$work/yolov3.weights" ] || "$python" "$src/tools/make_detectors.py" yolov3 "$work"
[ -f "$work/yolov3-tiny.weights" ] || "$python" "$src/tools/make_detectors.py" yolov3-tiny "$work"
"$python" - "$work/photos" "$n" <<'PY'
import sys, numpy as np
from pathlib import Path
from PIL import Image
out, n = Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
for i in range(n):
    p = out / f"p{i:05d}.jpg"
    if p.exists(): continue
    w, h = (640, 480) if i % 2 else (800, 600)
    ramp = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
    img = (ramp * rng.uniform(0.3, 1, 3) + rng.normal(0, 20, (h, w, 3))).clip(0, 255)
    Image.fromarray(img.astype(np.uint8)).save(p, quality=90)
PY
echo "| what | threads | images | seconds | images/s | peak RSS MB |"
echo "| --- | --- | --- | --- | --- | --- |"
run() {  # label threads args...
  local label=$1 t=$2
  shift 2
  /usr/bin/time -f "%e %M" -o "$work/time.txt" env XDG_CACHE_HOME="$work/xdg" "$ralsgan" preprocess \
    --input "$work/photos" --output "$work/out.rgcache" --size 128 --threads "$t" "$@" \
    > /dev/null 2> "$work/log.txt" || true  # random weights may keep nothing: still timed
  read -r secs kb < <(tail -n 1 "$work/time.txt")  # after any "exited with non-zero status"
  echo "| $label | $t | $n | $secs | $(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.2f", n/s}') | $((kb / 1024)) |"
}
for t in "${threads[@]}"; do
  run "decode + letterbox only" "$t"
  for m in yolov3-tiny yolov3; do
    rm -rf "$work/xdg"
    run "$m (network)" "$t" --detector "$work/$m.weights" --detector-config "$work/$m.cfg" --keep ""
    run "$m (from the detection cache)" "$t" --detector "$work/$m.weights" --detector-config "$work/$m.cfg" --keep ""
  done
done
