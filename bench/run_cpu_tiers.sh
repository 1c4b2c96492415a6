#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Ours against the current PyTorch (PyPI) on this machine, 2 threads,
# interleaved (ours, PyTorch, ours, PyTorch ...), on the CPU's native code path
# and capped to AVX2 (oneDNN: DNNL_MAX_CPU_ISA=AVX2; PyTorch:
# ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2):
#   train  the training step, batch 64, 128 px, seed model (bench_onednn
#          train_step vs bench_torch.py, PyTorch's faster of eager and channels_last)
#   pngs   512 PNGs as whole processes (`ralsgan generate` vs
#          generate_pngs_torch.py, PyTorch's faster of eager and channels_last, PIL)
#   rss    peak RSS of a training run of each (/usr/bin/time -v)
# and this machine's sgemm (2048^3, oneDNN) measured in every round of ours.
#
# usage: bench/run_cpu_tiers.sh [ROUNDS=3] [TIERS="native AVX2"] [PARTS="train pngs rss"]
# env:   BUILD (build/release), TORCH_PY (python with torch from PyPI), OUT (results dir),
#        CPU_MATH=bf16 (ours --cpu-math bf16, PyTorch autocast bf16; needs bf16 instructions)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-3}
TIERS=${2:-native AVX2}
PARTS=${3:-train pngs rss}
BUILD=${BUILD:-$ROOT/build/release}
TORCH_PY=${TORCH_PY:-python3}
OUT=${OUT:-$BUILD/cpu_tiers}
CPU_MATH=${CPU_MATH:-f32}
export OMP_NUM_THREADS=2 RG_THREADS=2
BENCH=$BUILD/bench/onednn/bench_onednn
RALSGAN=$BUILD/apps/ralsgan/ralsgan
mkdir -p "$OUT"
"$TORCH_PY" -c "import torch, PIL" || { echo "need torch and pillow in $TORCH_PY" >&2; exit 1; }

# A seed-size generator checkpoint for the PNG jobs (one training step from the test images).
CKPT=$OUT/run128
if [ ! -f "$CKPT/checkpoint/generator.safetensors" ]; then
  rm -rf "$CKPT"
  "$RALSGAN" train --data "$ROOT/tests/data/train_images" --out "$CKPT" --size 128 --batch 8 --steps 1 \
    --backend cpu >/dev/null 2>&1
fi
GEN=$CKPT/checkpoint/generator.safetensors

tier_env() {  # tier -> env assignments
  if [ "$1" = AVX2 ]; then echo "DNNL_MAX_CPU_ISA=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2"; fi
}
torch_math() { [ "$CPU_MATH" = bf16 ] && echo "--bf16" || true; }
ours_math() { [ "$CPU_MATH" = bf16 ] && echo "--cpu-math bf16" || true; }

timed() {  # file cmd...: wall seconds and peak RSS of a whole process
  local f=$1
  shift
  /usr/bin/time -f "%e %M" -o "$f" "$@" >/dev/null 2>>"$OUT/stderr.log"
}

for r in $(seq 1 "$ROUNDS"); do
  for tier in $TIERS; do
    E=$(tier_env "$tier")
    if [[ $PARTS == *train* ]]; then
      echo "== round $r $tier: train (ours, torch)" >&2
      env $E RG_CPU_MATH="$CPU_MATH" "$BENCH" --benchmark_filter='sgemm|train_step' \
        --benchmark_out="$OUT/ours_train_${tier}_$r.json" --benchmark_out_format=json >/dev/null
      env $E "$TORCH_PY" "$ROOT/bench/pytorch/bench_torch.py" --threads 2 --only train $(torch_math) \
        --out "$OUT/torch_train_${tier}_$r.json" >/dev/null 2>>"$OUT/stderr.log"
    fi
    if [[ $PARTS == *pngs* ]]; then
      echo "== round $r $tier: 512 PNGs (ours, torch eager, torch channels_last)" >&2
      rm -rf "$OUT/png_ours" "$OUT/png_torch"
      timed "$OUT/ours_pngs_${tier}_$r.txt" env $E "$RALSGAN" generate --checkpoint "$CKPT" --out "$OUT/png_ours" \
        --count 512 --backend cpu --threads 2 $(ours_math)
      for v in eager channels_last; do
        rm -rf "$OUT/png_torch"
        timed "$OUT/torch_pngs_${v}_${tier}_$r.txt" env $E "$TORCH_PY" "$ROOT/bench/pytorch/generate_pngs_torch.py" \
          --checkpoint "$GEN" --out "$OUT/png_torch" --count 512 --threads 2 --variant "$v" \
          $( [ "$CPU_MATH" = bf16 ] && echo "--precision bf16" )
      done
    fi
  done
done
if [[ $PARTS == *rss* ]]; then
  for tier in $TIERS; do
    E=$(tier_env "$tier")
    echo "== $tier: peak RSS of training (ours, torch)" >&2
    timed "$OUT/ours_rss_$tier.txt" env $E RG_CPU_MATH="$CPU_MATH" "$BENCH" --benchmark_filter=train_step
    timed "$OUT/torch_rss_$tier.txt" env $E "$TORCH_PY" "$ROOT/bench/pytorch/bench_torch.py" --threads 2 --only train \
      --train-variants eager $(torch_math)
  done
fi

python3 - "$OUT" "$TIERS" <<'PY'
import glob, json, os, statistics, sys
out, tiers = sys.argv[1], sys.argv[2].split()
med = statistics.median
def rng(xs): return "%.2f (%.2f-%.2f)" % (med(xs), min(xs), max(xs))
for tier in tiers:
    print("\n### %s" % tier)
    sg, step, gen, torch_step, variant = [], [], [], [], []
    for f in sorted(glob.glob(os.path.join(out, "ours_train_%s_*.json" % tier))):
        d = json.load(open(f))
        sg.append(float(d["context"]["sgemm_2048_gflops"]))
        isa = d["context"].get("onednn_isa", "?")
        for b in d["benchmarks"]:
            if b["name"].startswith("train_step"): step.append(b["real_time"] / 1e3)
    for f in sorted(glob.glob(os.path.join(out, "torch_train_%s_*.json" % tier))):
        d = json.load(open(f))
        torch_step.append(d["results"]["train_step/64"]["s"]); variant.append(d["results"]["train_step/64"]["variant"])
        tv, cap = d["torch"], d.get("cpu_capability", "?")
    if step:
        print("oneDNN ISA %s; PyTorch %s (ATen %s); sgemm 2048^3 per round: %s GFLOP/s" % (
            isa, tv, cap, ", ".join("%.0f" % x for x in sg)))
        print("| figure | ours | PyTorch | ours faster by |\n| --- | --- | --- | --- |")
        gf = [406 / s for s in step]
        print("| training step, batch 64, 128 px (s) | %s | %s (%s) | %.2fx |" % (
            rng(step), rng(torch_step), "/".join(sorted(set(variant))), med(torch_step) / med(step)))
        print("| ours: GFLOP/s (406 GFLOP) and share of sgemm | %.0f, %.0f %% | | |" % (med(gf), 100 * med(gf) / med(sg)))
    def times(pat):
        r = []
        for f in sorted(glob.glob(os.path.join(out, pat))):
            w, m = open(f).read().split()[-2:]
            r.append((float(w), int(m) / 1024))
        return r
    o = times("ours_pngs_%s_*.txt" % tier)
    te, tc = times("torch_pngs_eager_%s_*.txt" % tier), times("torch_pngs_channels_last_%s_*.txt" % tier)
    if o and te and tc:
        best = min((med([x[0] for x in te]), "eager", te), (med([x[0] for x in tc]), "channels_last", tc))
        print("| 512 PNGs, whole process (s) | %s | %s (%s; the other %.2f) | %.2fx |" % (
            rng([x[0] for x in o]), rng([x[0] for x in best[2]]), best[1],
            max(med([x[0] for x in te]), med([x[0] for x in tc])), best[0] / med([x[0] for x in o])))
        print("| 512 PNGs, peak RSS (MiB) | %.0f | %.0f | |" % (med([x[1] for x in o]), med([x[1] for x in best[2]])))
    ro, rt = times("ours_rss_%s.txt" % tier), times("torch_rss_%s.txt" % tier)
    if ro and rt:
        print("| training, peak RSS (MiB) | %.0f | %.0f (eager) | %.2fx of PyTorch's |" % (ro[0][1], rt[0][1], ro[0][1] / rt[0][1]))
PY
