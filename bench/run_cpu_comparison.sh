#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Interleaved CPU comparison: ours (bench_onednn) vs PyTorch 1.13 (Debian,
# OpenBLAS) vs a current PyTorch (PyPI), A B C A B C ... for ROUNDS rounds, one
# program at a time, 2 threads each. Prints medians and ratios; with RSS=1 also
# the peak RSS (/usr/bin/time -v) of a training-step run of each.
#
# usage: bench/run_cpu_comparison.sh [ROUNDS=2] [PARTS=conv,gen,train]
# env:   BUILD (default build/onednn), OUT (results dir), TORCH_OLD (/usr/bin/python3),
#        TORCH_NEW (python3; empty to skip), CONV_ROUNDS (default 1), RSS (1 to measure)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-2}
PARTS=${2:-conv,gen,train}
BUILD=${BUILD:-$ROOT/build/onednn}
OUT=${OUT:-$BUILD/bench_cmp}
TORCH_OLD=${TORCH_OLD:-/usr/bin/python3}
TORCH_NEW=${TORCH_NEW-python3}
CONV_ROUNDS=${CONV_ROUNDS:-1}
export OMP_NUM_THREADS=2 RG_THREADS=2
mkdir -p "$OUT"
BENCH="$BUILD/bench/onednn/bench_onednn"
TORCH_PY="$ROOT/bench/pytorch/bench_torch.py"
if [ -n "$TORCH_NEW" ] && ! "$TORCH_NEW" -c "import torch" 2>/dev/null; then TORCH_NEW=""; fi

filter_for() {  # parts -> google benchmark regex
  local f="sgemm"
  [[ $1 == *conv* ]] && f="$f|conv/"
  [[ $1 == *gen* ]] && f="$f|generate"
  [[ $1 == *train* ]] && f="$f|train_step"
  echo "$f"
}

run_round() {  # round parts
  local r=$1 parts=$2
  echo "== round $r ($parts): ours" >&2
  "$BENCH" --benchmark_filter="$(filter_for "$parts")" --benchmark_out="$OUT/ours_${parts//,/_}_$r.json" \
    --benchmark_out_format=json >/dev/null
  echo "== round $r ($parts): torch (old)" >&2
  "$TORCH_OLD" "$TORCH_PY" --threads 2 --only "$parts" --out "$OUT/torchold_${parts//,/_}_$r.json" >/dev/null
  if [ -n "$TORCH_NEW" ]; then
    echo "== round $r ($parts): torch (new)" >&2
    "$TORCH_NEW" "$TORCH_PY" --threads 2 --only "$parts" --out "$OUT/torchnew_${parts//,/_}_$r.json" >/dev/null
  fi
}

if [[ $PARTS == *conv* ]]; then
  for r in $(seq 1 "$CONV_ROUNDS"); do run_round "$r" conv; done
fi
REST=$(echo "$PARTS" | tr ',' '\n' | grep -v conv | paste -sd, || true)
if [ -n "$REST" ]; then
  for r in $(seq 1 "$ROUNDS"); do run_round "$r" "$REST"; done
fi

if [ "${RSS:-0}" = 1 ]; then
  /usr/bin/time -v "$BENCH" --benchmark_filter=train_step >/dev/null 2>"$OUT/rss_ours.txt" || true
  /usr/bin/time -v "$TORCH_OLD" "$TORCH_PY" --threads 2 --only train >/dev/null 2>"$OUT/rss_torchold.txt" || true
  [ -n "$TORCH_NEW" ] && { /usr/bin/time -v "$TORCH_NEW" "$TORCH_PY" --threads 2 --only train >/dev/null 2>"$OUT/rss_torchnew.txt" || true; }
fi

python3 - "$OUT" <<'PY'
import glob, json, os, re, statistics, sys
out = sys.argv[1]
def ours():
    r, sg = {}, []
    for f in sorted(glob.glob(os.path.join(out, "ours_*.json"))):
        d = json.load(open(f))
        sg.append(float(d["context"].get("sgemm_2048_gflops", "nan")))
        for b in d["benchmarks"]:
            name = re.sub(r"/(min_time|iterations|real_time).*$", "", b["name"])
            name = re.sub(r"/real_time$", "", name)
            unit = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[b.get("time_unit", "ns")]
            r.setdefault(name, []).append((b["real_time"] * unit, b.get("GFLOP/s"), b.get("pct_sgemm")))
    return r, sg
def torch(prefix):
    r, ver = {}, None
    for f in sorted(glob.glob(os.path.join(out, prefix + "_*.json"))):
        d = json.load(open(f)); ver = d["torch"]
        for k, v in d["results"].items(): r.setdefault(k, []).append(v["s"])
    return r, ver
o, sg = ours()
to, vo = torch("torchold"); tn, vn = torch("torchnew")
print("sgemm 2048^3 (oneDNN, 2 threads): %s GFLOP/s per run" % ", ".join("%.0f" % x for x in sg))
print("%-36s %10s %8s %6s | %10s %6s | %10s %6s" % ("benchmark", "ours ms", "GFLOP/s", "%sgemm", "torch " + str(vo), "x", "torch " + str(vn), "x"))
for name in sorted(o):
    if name.startswith("sgemm"): continue
    t = statistics.median(x[0] for x in o[name]); gf = statistics.median(x[1] or 0 for x in o[name]); pc = statistics.median(x[2] or 0 for x in o[name])
    key = name.replace("train_step/64", "train_step/64")
    a = statistics.median(to[key]) if key in to else float("nan")
    b = statistics.median(tn[key]) if key in tn else float("nan")
    print("%-36s %10.1f %8.1f %6.0f | %10.1f %6.2f | %10.1f %6.2f" % (name, t * 1e3, gf, pc, a * 1e3, a / t, b * 1e3, b / t))
for who in ("ours", "torchold", "torchnew"):
    p = os.path.join(out, "rss_%s.txt" % who)
    if os.path.exists(p):
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(p).read())
        if m: print("peak RSS %-9s %.0f MiB" % (who, int(m.group(1)) / 1024))
PY
