#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and checks the CUDA backend on a GPU machine, then benchmarks it
# against PyTorch. Run from the repository root after tools/prepare_gpu_carry.sh
# (here) has filled .carry/ (Eigen and GoogleTest, which that machine lacks):
#   tools/gpu_check.sh OUTDIR
# Writes at most 12 flat files to OUTDIR: env.txt, build.log, ctest.log,
# bench_cuda.jsonl, bench_torch.jsonl, bench_torch_compile.jsonl, bench_pngs.jsonl,
# conv_study.jsonl, e2e.log, e2e.jsonl, bench.log, summary.md. Every stage runs
# under `timeout`, capped by what is left of a 480 s budget, so the whole script
# stays under 9 minutes; stages the budget cuts can run in a second call with
# RALSGAN_GPU_ONLY (below: the build is kept between calls on a warm machine).
# Order: build, tests, bench_cuda, PyTorch eager, the convolution study (ours,
# then PyTorch's), 10k PNGs, ralsgan end to end, torch.compile.
set -uo pipefail
OUTDIR=${1:?usage: tools/gpu_check.sh OUTDIR}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
BUILD=${RALSGAN_GPU_BUILD:-$ROOT/build/gpu}
JOBS=${JOBS:-16}
T0=$(date +%s)
BUDGET=${RALSGAN_GPU_CHECK_BUDGET:-480}  # seconds for stages 2-4 together
# cap N: N seconds, or what is left of the budget if less (at least 5).
cap() { local left=$(( BUDGET - ($(date +%s) - T0) )); [ $left -lt "$1" ] && echo $(( left > 5 ? left : 5 )) || echo "$1"; }
stage() { echo "== [$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUTDIR/env.txt" >&2; }
# RALSGAN_GPU_ONLY="conv pngs e2e" runs only those stages after the build (a
# second call for what the first one's budget cut); empty: all of them. Stages:
# tests bench torch conv pngs e2e compile.
want() { [ -z "${RALSGAN_GPU_ONLY:-}" ] || [[ " $RALSGAN_GPU_ONLY " == *" $1 "* ]]; }

# --- 1. Tools and libraries ------------------------------------------------------
{
  echo "date: $(date -u)"; echo "host: $(uname -a)"
  echo "--- nvcc"; timeout 10 nvcc --version 2>&1 || echo "nvcc missing"
  echo "--- cmake"; timeout 10 cmake --version 2>&1 | head -1
  echo "--- ninja"; timeout 10 ninja --version 2>&1 || echo "ninja missing"
  echo "--- nvidia-smi"; timeout 20 nvidia-smi 2>&1 | head -20
  echo "--- python/torch"; timeout 60 "$PY" -c "import sys, torch; print(sys.executable, torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')" 2>&1
} > "$OUTDIR/env.txt" 2>&1
NVIDIA_PY=$(timeout 30 "$PY" -c "import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))" 2>/dev/null)/nvidia
# nvidia.cudnn is a namespace package (no __file__): look for its folder.
CUDNN_ROOT=${RALSGAN_CUDNN_ROOT:-}
if [ -z "$CUDNN_ROOT" ] || [ ! -f "$CUDNN_ROOT/include/cudnn.h" ]; then
  for d in "$NVIDIA_PY/cudnn" /usr/local/cuda /usr; do [ -f "$d/include/cudnn.h" ] && CUDNN_ROOT=$d && break; done
fi
CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")")}
{
  echo "--- cuDNN root: $CUDNN_ROOT"
  ls "$CUDNN_ROOT/include" 2>&1 | grep -i cudnn_version; ls "$CUDNN_ROOT/lib" 2>&1 | head -20
  grep -E "define CUDNN_(MAJOR|MINOR|PATCHLEVEL)" "$CUDNN_ROOT/include/cudnn_version.h" 2>&1
  echo "--- CUDA home: $CUDA_HOME"
  ls "$CUDA_HOME"/lib64/libnvrtc.so* "$CUDA_HOME"/lib64/libcudart.so* "$CUDA_HOME"/lib64/libcublas.so* 2>&1
  ls "$CUDA_HOME"/include/nvrtc.h 2>&1
  echo "--- pip nvidia libraries: $NVIDIA_PY"; ls "$NVIDIA_PY" 2>&1 | tr '\n' ' '; echo
} >> "$OUTDIR/env.txt" 2>&1
# cuDNN's own sub-libraries are dlopened: its folder must be on the search path.
export LD_LIBRARY_PATH="$CUDNN_ROOT/lib:$CUDA_HOME/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in "$NVIDIA_PY"/cublas/lib "$NVIDIA_PY"/cu13/lib "$NVIDIA_PY"/cuda_nvrtc/lib; do
  [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
export RALSGAN_NVRTC_CACHE="$BUILD/nvrtc-cache"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >> "$OUTDIR/env.txt"

# --- 2. Configure and build (core only, our targets) ---------------------------------
stage "configure + build"
# GoogleTest: the top-level fallback (add_subdirectory + add_library ALIAS) fails
# with GoogleTest >= 1.11, which defines GTest::gtest_main itself ("cannot create
# ALIAS target"). So build and install the carried sources first and let
# find_package(GTest) find them (RALSGAN_GTEST_SOURCE_DIR is passed too).
GTEST_PREFIX="$BUILD/gtest-install"
# libpng + zlib from .carry/png (tools/prepare_gpu_carry.sh): bench_generate_pngs,
# the whole `ralsgan generate` job with PNG files. Without them that stage is skipped.
PNG_ARGS="" PNG_TARGET=""
if [ -f "$ROOT/.carry/png/include/png.h" ]; then
  PNG_ARGS="-DRALSGAN_CORE_APP=ON -DPNG_PNG_INCLUDE_DIR=$ROOT/.carry/png/include -DPNG_LIBRARY=$ROOT/.carry/png/lib/libpng16.so
    -DZLIB_INCLUDE_DIR=$ROOT/.carry/png/include -DZLIB_LIBRARY=$ROOT/.carry/png/lib/libz.so"
  PNG_TARGET="bench_generate_pngs ralsgan"
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$ROOT/.carry/png/lib"
fi
{
  if [ ! -f "$GTEST_PREFIX/lib/cmake/GTest/GTestConfig.cmake" ]; then
    timeout -k 10 "$(cap 90)" cmake -S "$ROOT/.carry/googletest" -B "$BUILD/gtest-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$GTEST_PREFIX" -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_GMOCK=OFF &&
    timeout -k 10 "$(cap 90)" cmake --build "$BUILD/gtest-build" -j "$JOBS" --target install
  fi
  timeout -k 10 "$(cap 60)" cmake -S "$ROOT" -B "$BUILD" -G Ninja -DRALSGAN_CORE_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
    -DRALSGAN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DRALSGAN_WERROR=OFF \
    -DRALSGAN_EIGEN_DIR="$ROOT/.carry/eigen3" -DRALSGAN_GTEST_SOURCE_DIR="$ROOT/.carry/googletest" \
    -DRALSGAN_NLOHMANN_DIR="$ROOT/.carry/nlohmann" \
    -DRALSGAN_CUDNN_ROOT="$CUDNN_ROOT" -DCMAKE_PREFIX_PATH="$GTEST_PREFIX" $PNG_ARGS ${RALSGAN_GPU_CMAKE_ARGS:-} &&
  timeout -k 10 "$(cap 210)" cmake --build "$BUILD" -j "$JOBS" --target test_cuda_ops test_cuda_step test_cuda_emulated test_cuda_classifier bench_cuda conv_study
} > "$OUTDIR/build.log" 2>&1
BUILD_RC=$?
echo "build rc=$BUILD_RC" >> "$OUTDIR/env.txt"
# The PNG bench separately: if the carried libpng does not link there, the tests still run.
if [ $BUILD_RC -eq 0 ] && [ -n "$PNG_TARGET" ]; then
  { echo "--- $PNG_TARGET"; timeout -k 10 "$(cap 60)" cmake --build "$BUILD" -j "$JOBS" --target $PNG_TARGET; } >> "$OUTDIR/build.log" 2>&1
  echo "$PNG_TARGET build rc=$?" >> "$OUTDIR/env.txt"
fi

# --- 3. Tests -------------------------------------------------------------------------
CTEST_RC=skipped
if [ $BUILD_RC -eq 0 ] && want tests; then
  stage "ctest -L cuda"
  (cd "$BUILD" && timeout -k 10 "$(cap 120)" ctest -L cuda -j 8 --output-on-failure --timeout 100) > "$OUTDIR/ctest.log" 2>&1
  CTEST_RC=$?
elif [ $BUILD_RC -ne 0 ]; then
  tail -40 "$OUTDIR/build.log" > "$OUTDIR/ctest.log"
fi
echo "ctest rc=$CTEST_RC" >> "$OUTDIR/env.txt"

# --- 4. Benchmarks ----------------------------------------------------------------------
: > "$OUTDIR/bench.log"
if [ $BUILD_RC -eq 0 ] && want bench; then
  stage "bench_cuda"
  timeout -k 10 "$(cap 100)" "$BUILD/tests/cuda/bench_cuda" --step-iters 20 --gen-count 10000 --gen-batch 500 \
    > "$OUTDIR/bench_cuda.jsonl" 2>> "$OUTDIR/bench.log"
  echo "bench_cuda rc=$?" >> "$OUTDIR/bench.log"
fi
if want torch; then
  stage "bench_torch_gpu (eager)"
  PYTHONUNBUFFERED=1 timeout -k 10 "$(cap 100)" "$PY" bench/pytorch_gpu/bench_torch_gpu.py --mode eager_f32 --mode eager_tf32 --mode eager_bf16 \
    --step-iters 20 --gen-count 10000 --gen-batch 500 > "$OUTDIR/bench_torch.jsonl" 2>> "$OUTDIR/bench.log"
  echo "bench_torch eager rc=$?" >> "$OUTDIR/bench.log"
fi
# The convolution study: every cuDNN algorithm of the step's 38
# convolution problems in NCHW/NHWC x f32/TF32/bf16, deterministic or not.
if [ $BUILD_RC -eq 0 ] && want conv; then
  stage "conv_study"
  timeout -k 10 "$(cap 90)" "$BUILD/tests/cuda/conv_study" > "$OUTDIR/conv_study.jsonl" 2>> "$OUTDIR/bench.log"
  echo "conv_study rc=$? (124: over its time cap; the rows so far are kept)" >> "$OUTDIR/bench.log"
  # The same problems through PyTorch's own calls (cudnn.benchmark), per configuration.
  "$BUILD/tests/cuda/conv_study" --list > "$BUILD/conv_problems.jsonl" 2>> "$OUTDIR/bench.log"
  stage "conv_study_torch"
  PYTHONUNBUFFERED=1 timeout -k 10 "$(cap 90)" "$PY" bench/pytorch_gpu/conv_study_torch.py "$BUILD/conv_problems.jsonl" \
    --iters 20 >> "$OUTDIR/conv_study.jsonl" 2>> "$OUTDIR/bench.log"
  echo "conv_study_torch rc=$?" >> "$OUTDIR/bench.log"
fi
# The whole generation job, PNG files included (the "10,000 PNGs"): ours
# (rg::app::generate, encoders on all cores but one) against PyTorch on the same
# weights (G on the GPU, PIL or zlib on the host, one thread and all threads).
if [ $BUILD_RC -eq 0 ] && [ -x "$BUILD/apps/ralsgan/bench_generate_pngs" ] && want pngs; then
  stage "generate 10k PNGs"
  PNGDIR="$BUILD/pngbench"
  for math in tf32 bf16; do
    timeout -k 10 "$(cap 60)" "$BUILD/apps/ralsgan/bench_generate_pngs" --dir "$PNGDIR" --count 10000 --batch 500 \
      --backend cuda --cuda-math $math >> "$OUTDIR/bench_pngs.jsonl" 2>> "$OUTDIR/bench.log"
    echo "bench_generate_pngs $math rc=$?" >> "$OUTDIR/bench.log"
  done
  for st in $(nproc) 1; do
    n=10000; [ "$st" = 1 ] && n=2000  # a rate: the one-thread run is long, 2000 images are enough
    PYTHONUNBUFFERED=1 timeout -k 10 "$(cap 60)" "$PY" bench/pytorch/generate_pngs_torch.py --checkpoint "$PNGDIR/generator.safetensors" \
      --out "$PNGDIR/torch" --count $n --batch 500 --device cuda --precision tf32 --save-threads "$st" \
      >> "$OUTDIR/bench_pngs.jsonl" 2>> "$OUTDIR/bench.log"
    echo "generate_pngs_torch save-threads $st rc=$?" >> "$OUTDIR/bench.log"
  done
  du -sh "$PNGDIR/pngs" "$PNGDIR/torch" >> "$OUTDIR/bench.log" 2>&1
  rm -rf "$PNGDIR/pngs" "$PNGDIR/torch"
fi
# `ralsgan` itself (the core build: train from a cache,
# generate) on the GPU: a few hundred steps from .carry/data's cache, 10,000
# PNGs twice at batch 500 and once at batch 64 (byte-identical across batch
# sizes and runs?), 64 on the reference backend (within 1 level of CUDA's?).
R="$BUILD/apps/ralsgan/ralsgan"
if [ $BUILD_RC -eq 0 ] && [ -x "$R" ] && [ -f "$ROOT/.carry/data/train128.rgcache" ] && want e2e; then
  stage "ralsgan end to end"
  E2E="$BUILD/e2e"
  rm -rf "$E2E"
  {
    timeout -k 10 "$(cap 60)" "$R" train --data "$ROOT/.carry/data/train128.rgcache" --out "$E2E/run" --size 128 --steps 300 \
      --no-augment --backend cuda --cuda-math tf32 --log-every 50 --sample-every 0
    echo "train rc=$?"
    for g in "500 a" "64 b" "500 c"; do
      set -- $g
      timeout -k 10 "$(cap 40)" "$R" generate --checkpoint "$E2E/run" \
        --out "$E2E/gen_$2" --count 10000 --batch $1 --backend cuda
      echo "generate batch $1 ($2) rc=$?"
    done
    timeout -k 10 "$(cap 60)" "$R" generate --checkpoint "$E2E/run" --out "$E2E/gen_ref" --count 64 --backend ref
    echo "generate ref rc=$?"
  } >> "$OUTDIR/e2e.log" 2>&1
  for pair in "gen_a gen_b" "gen_a gen_c" "gen_a gen_ref"; do
    set -- $pair
    timeout -k 10 "$(cap 60)" "$PY" tools/compare_pngs.py "$E2E/$1" "$E2E/$2" --limit 10000 >> "$OUTDIR/e2e.jsonl" 2>> "$OUTDIR/e2e.log"
  done
  rm -rf "$E2E"/gen_*
fi
# torch.compile gets what is left of the budget, at most 150 s.
LEFT=$(( BUDGET - ($(date +%s) - T0) ))
[ $LEFT -gt 150 ] && LEFT=150
if [ $LEFT -gt 30 ] && want compile; then
  stage "bench_torch_gpu (torch.compile, cap ${LEFT}s)"
  PYTHONUNBUFFERED=1 timeout -k 10 "$LEFT" "$PY" bench/pytorch_gpu/bench_torch_gpu.py --mode compile \
    --step-iters 20 --gen-count 10000 --gen-batch 500 > "$OUTDIR/bench_torch_compile.jsonl" 2>> "$OUTDIR/bench.log"
  echo "bench_torch compile rc=$? (124: over its time cap)" >> "$OUTDIR/bench.log"
else
  echo "bench_torch compile: skipped (no time left, or not in RALSGAN_GPU_ONLY)" >> "$OUTDIR/bench.log"
fi

# --- 5. Summary -----------------------------------------------------------------------------
stage "summary"
timeout 30 "$PY" - "$OUTDIR" "$BUILD_RC" "$CTEST_RC" > "$OUTDIR/summary.md" 2>> "$OUTDIR/bench.log" <<'PYEOF'
import json, os, re, sys
out, build_rc, ctest_rc = sys.argv[1], sys.argv[2], sys.argv[3]
def load(name):
    rows = []
    try:
        for line in open(os.path.join(out, name)):
            line = line.strip()
            if line.startswith("{"):
                try: rows.append(json.loads(line))
                except ValueError: pass
    except OSError:
        pass
    return rows
ours = load("bench_cuda.jsonl"); torch_rows = load("bench_torch.jsonl") + load("bench_torch_compile.jsonl")
def find(rows, **kw):
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()): return r
    return None
print("# CUDA backend GPU check\n")
dev = next((r["device"] for r in ours if "device" in r), next((r["device"] for r in torch_rows if "device" in r), "?"))
print(f"device: {dev}  \nbuild rc {build_rc}, ctest -L cuda rc {ctest_rc}\n")
try:
    log = open(os.path.join(out, "ctest.log")).read()
    m = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", log)
    if m: print(f"ctest: {m.group(0)}\n")
    fails = re.findall(r"\d+ - (\S+) \(Failed\)", log)
    if fails: print("failed: " + ", ".join(fails) + "\n")
except OSError:
    pass
print("| measurement | ours | PyTorch | ours / PyTorch (speed-up) |")
print("|---|---|---|---|")
def row(label, o, t, key, higher_better):
    if not o or not t: 
        print(f"| {label} | {o.get(key) if o else 'n/a'} | {t.get(key) if t else 'n/a'} | n/a |"); return
    a, b = o[key], t[key]
    ratio = (a / b) if higher_better else (b / a)
    print(f"| {label} | {a:.4g} | {b:.4g} | {ratio:.2f}x |")
for prec, tmodes in (("f32", ["eager_f32"]), ("tf32", ["eager_tf32", "compile"]), ("bf16", ["eager_bf16"])):
    for tm in tmodes:
        row(f"train step b64 s128 ms/step, {prec} vs torch {tm}", find(ours, bench="train_step", precision=prec, deterministic=True),
            find(torch_rows, bench="train_step", mode=tm), "ms_per_step", False)
for prec, tm in (("f32", "eager_f32"), ("tf32", "eager_tf32")):
    row(f"train step ms/step, {prec} any cuDNN algorithm (not deterministic) vs torch {tm}",
        find(ours, bench="train_step", precision=prec, deterministic=False), find(torch_rows, bench="train_step", mode=tm),
        "ms_per_step", False)
for prec, tmodes in (("f32", ["eager_f32"]), ("tf32", ["eager_tf32", "compile"]), ("bf16", ["eager_bf16"])):
    for tm in tmodes:
        for key, tkey in (("images_per_s_with_copy", "images_per_s_with_copy"), ("images_per_s_with_copy", "images_per_s_with_copy_pinned"),
                          ("images_per_s_device", "images_per_s_device")):
            o, t = find(ours, bench="generate", precision=prec), find(torch_rows, bench="generate", mode=tm)
            if t is not None and t.get(tkey) is None: continue
            label = key if key == tkey else f"{key} (torch: {tkey})"
            if o and t and key != tkey: t = dict(t, **{key: t[tkey]})
            row(f"generate 10k@128 {label}, {prec} vs torch {tm}", o, t, key, True)

# --- The speed bars: ours against PyTorch on the same card ----------------------
print("\n## Bars (speed-up = PyTorch time / ours; > 1: ours faster)\n")
print("| bar | ours | PyTorch | speed-up | needed | verdict |")
print("|---|---|---|---|---|---|")
def bar(label, o, t, key, higher_better, need):
    if not o or not t or o.get(key) is None or t.get(key) is None:
        print(f"| {label} | n/a | n/a | n/a | >= {need}x | NO DATA |"); return
    a, b = o[key], t[key]
    r = (a / b) if higher_better else (b / a)
    print(f"| {label} | {a:.4g} | {b:.4g} | **{r:.2f}x** | >= {need}x | {'PASS' if r >= need else 'FAIL'} |")
for prec, tm in (("tf32", "eager_tf32"), ("f32", "eager_f32"), ("bf16", "eager_bf16")):
    bar(f"train step b64 s128 (ms), {prec} vs torch {tm}", find(ours, bench="train_step", precision=prec, deterministic=True),
        find(torch_rows, bench="train_step", mode=tm), "ms_per_step", False, 1.5)
bar("train step b64 s128 (ms), tf32 vs torch.compile", find(ours, bench="train_step", precision="tf32", deterministic=True),
    find(torch_rows, bench="train_step", mode="compile"), "ms_per_step", False, 1.0)
for prec, tm in (("tf32", "eager_tf32"), ("f32", "eager_f32"), ("bf16", "eager_bf16"), ("tf32", "compile")):
    o, t = find(ours, bench="generate", precision=prec), find(torch_rows, bench="generate", mode=tm)
    bar(f"generate 10k (img/s with copies), {prec} vs torch {tm} (plain .cpu())", o, t, "images_per_s_with_copy", True, 2.0)
    if t and t.get("images_per_s_with_copy_pinned"):
        bar(f"generate 10k (img/s with copies), {prec} vs torch {tm} pinned + overlapped (same method as ours)", o,
            dict(t, images_per_s_with_copy=t["images_per_s_with_copy_pinned"]), "images_per_s_with_copy", True, 2.0)
pngs = load("bench_pngs.jsonl")
tp = [r for r in pngs if r.get("impl") == "pytorch"]
best_torch = max(tp, key=lambda r: r.get("images_per_s", 0), default=None)
for math in ("tf32", "bf16"):
    o = find(pngs, impl="ours", cuda_math=math)
    for t in tp or [None]:
        t = t or {}
        bar(f"generate 10k PNGs (img/s, files written), ours {math} vs torch tf32 G + {t.get('png_writer')} on "
            f"{t.get('save_threads')} thread(s)", o, t, "images_per_s", True, 2.0)
print()
for r in ours:
    if r.get("bench") == "train_step_profile":
        print(f"\nour {r.get('precision', '')} step by kind (device ms, events inside one replay): total {r.get('total_ms')}, "
              f"conv fwd {r['conv_forward_groups']}, bwd-data {r['conv_backward_data_groups']}, "
              f"bwd-filter {r['conv_backward_filter_groups']}, other {r['other_groups']}")
e2e = load("e2e.jsonl")
if e2e:
    print("\nralsgan end to end (PNG folders compared; gen_a/gen_c: batch 500, two runs; gen_b: batch 64; gen_ref: reference backend):")
    for r in e2e:
        print(f"- {os.path.basename(r['a'])} vs {os.path.basename(r['b'])}: {r['byte_identical']} of {r['compared']} byte-identical, "
              f"largest difference {r['max_abs_diff']} level(s)")
def table(title, header, rows):
    if not rows:
        return
    print(f"\n{title}")
    print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
study = load("conv_study.jsonl")
table("convolution study (the step's convolutions, sum of each problem's fastest algorithm, ms):",
      ["config", "fastest deterministic", "fastest of any", "problems without a deterministic one"],
      [[r["config"], r["best_deterministic_ms"], r["best_any_ms"], r["problems_without_deterministic"]]
       for r in study if r.get("bench") == "conv_study_step"])
table("the same problems in PyTorch (cudnn.benchmark; sum of problem x count, ms):",
      ["config", "deterministic", "step ms", "failed"],
      [[r["config"], r["deterministic"], r["step_ms"], r["failed"]] for r in study if r.get("bench") == "conv_study_torch_step"])
print("\nratios: > 1 means ours is faster. The generate 10k@128 rows exclude PNG encoding (the generate 10k PNGs rows include it, and the file writes); 'with_copy' includes latents up and float images down "
      "(ours: pinned buffers, two batches in flight; torch with_copy: G(z.to(dev)).cpu() per batch; torch with_copy_pinned: the same method as ours).")
for r in ours:
    if r.get("bench") == "train_step_profile":
        print(f"\ntop {r.get('precision', '')} groups: " + "; ".join(f"{g['ms']} ms {g['tflops']} TFLOP/s {g['group']}" for g in r.get("groups", [])[:8]))
PYEOF
stage "done"
exit 0
