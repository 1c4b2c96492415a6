#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# oneDNN 2.6 (Debian) against 3.x (the vendor's PyPI build, GNU OpenMP) on the
# seed model's convolution primitives (bench/onednn/bench_conv_versions.cpp),
# interleaved, natively and capped to AVX2. Decides which oneDNN the product
# ships (bench/RESULTS.md). Needs network access to PyPI for the 3.x wheels.
#
# usage: tools/bench_onednn_versions.sh [ROUNDS=2] [OUT=build/onednn_versions]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-2}
OUT=${2:-$ROOT/build/onednn_versions}
mkdir -p "$OUT"
cd "$OUT"
if [ ! -d wheel ]; then
  python3 -m pip download --no-deps -q onednn-cpu-gomp onednn-devel-cpu-gomp -d dl
  for w in dl/*.whl; do python3 -m zipfile -e "$w" wheel/; done
fi
INC=$(dirname "$(find wheel -name dnnl.hpp -path '*oneapi*' | head -1)")/../..
LIB=$(dirname "$(find wheel -name 'libdnnl.so.3' | head -1)")
SRC=$ROOT/bench/onednn/bench_conv_versions.cpp
g++ -O2 -std=c++20 "$SRC" -ldnnl -lbenchmark -lpthread -o conv_onednn2
g++ -O2 -std=c++20 -I"$INC" "$SRC" -L"$LIB" -Wl,-rpath,"$(cd "$LIB" && pwd)" -l:libdnnl.so.3 -lbenchmark -lpthread \
  -o conv_onednn3
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for r in $(seq 1 "$ROUNDS"); do
  for isa in native AVX2; do
    for v in 2 3; do
      env_isa=()
      [ "$isa" = AVX2 ] && env_isa=(DNNL_MAX_CPU_ISA=AVX2 ONEDNN_MAX_CPU_ISA=AVX2)
      echo "== round $r, $isa, oneDNN $v" >&2
      env "${env_isa[@]}" ./conv_onednn$v --benchmark_out="v${v}_${isa}_$r.json" --benchmark_out_format=json >/dev/null
    done
  done
done
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
res = {}
for f in glob.glob(os.path.join(out, "v*_*_*.json")):
    v, isa, _ = os.path.basename(f)[1:-5].split("_")
    for b in json.load(open(f))["benchmarks"]:
        name = b["name"].split("/min_time")[0]
        res.setdefault((isa, name), {}).setdefault(v, []).append((b["real_time"], b.get("label", "")))
for isa in ("native", "AVX2"):
    tot = {"2": 0.0, "3": 0.0}
    print("\n%s: ms per call, median of rounds (oneDNN 2.6 | 3.x | 3.x/2.6)" % isa)
    for (i, name), d in sorted(res.items()):
        if i != isa or "2" not in d or "3" not in d: continue
        a = statistics.median(t for t, _ in d["2"]); b = statistics.median(t for t, _ in d["3"])
        tot["2"] += a; tot["3"] += b
        print("  %-40s %8.2f %8.2f %6.2f   %s | %s" % (name, a, b, b / a, d["2"][0][1], d["3"][0][1]))
    print("  %-40s %8.1f %8.1f %6.2f" % ("sum (one of each)", tot["2"], tot["3"], tot["3"] / tot["2"]))
PY
