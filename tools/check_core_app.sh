#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The core build of ralsgan (RALSGAN_CORE_ONLY + RALSGAN_CORE_APP, without
# OpenCV: what tools/gpu_check.sh builds on a GPU machine) configures, builds,
# refuses what it cannot do with a clear message, and trains and generates
# from a dataset cache exactly as the full build does (reference backend, the
# full build's compiler flags: checkpoints and PNGs byte for byte). A CMake or
# compile error in that configuration shows here instead of costing a GPU
# session. Registered with ctest as core_app_matches_full_build; usage:
#   tools/check_core_app.sh FULL_BUILD_DIR
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
full="$(cd "$1" && pwd)"
work="$full/core-app-check"
rm -rf "$work"
mkdir -p "$work/images"
cache_var() { grep -E "^$1:" "$full/CMakeCache.txt" | cut -d= -f2- || true; }
cmake -S "$src" -B "$work/build" -G Ninja -DRALSGAN_CORE_ONLY=ON -DRALSGAN_CORE_APP=ON -DRALSGAN_CUDA=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_OpenCV=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS=$(cache_var CMAKE_CXX_FLAGS)" "-DCMAKE_C_FLAGS=$(cache_var CMAKE_C_FLAGS)" >/dev/null
cmake --build "$work/build" --target ralsgan >/dev/null
core="$work/build/apps/ralsgan/ralsgan"
fullbin="$full/apps/ralsgan/ralsgan"

echo "== commands of a core build"
msg=$("$core" preprocess 2>&1 || true)
echo "$msg"
grep -q "unknown command 'preprocess' (commands: train (from a dataset cache, --no-augment), generate, export, inspect)" <<<"$msg"

echo "== a dataset cache from the full build"
for f in "$src"/fuzz/corpus/decode/*.png; do cp "$f" "$work/images/"; done
"$fullbin" preprocess --input "$work/images" --output "$work/data.rgcache" --size 32 2>&1 | tail -1

echo "== what a core build refuses"
msg=$("$core" train --data "$work/images" --out "$work/refused" --size 32 --no-augment --backend ref 2>&1 || true)
echo "$msg"
grep -q "core build (no image decoding): give --data a dataset cache" <<<"$msg"
msg=$("$core" train --data "$work/data.rgcache" --out "$work/refused" --size 32 --backend ref 2>&1 || true)
echo "$msg"
grep -q "pass --no-augment" <<<"$msg"

echo "== train and generate: core and full builds agree byte for byte"
for b in core full; do
  bin=$core; [ $b = full ] && bin=$fullbin
  "$bin" train --data "$work/data.rgcache" --out "$work/run-$b" --size 32 --width 0.125 --batch 2 --steps 3 --no-augment \
    --backend ref --threads 1 --sample-every 0 2>&1 | tail -1
  "$bin" generate --checkpoint "$work/run-$b" --out "$work/gen-$b" --count 4 --backend ref --threads 1 2>&1 | tail -1
done
for f in generator discriminator train_state; do
  cmp "$work/run-core/checkpoint/$f.safetensors" "$work/run-full/checkpoint/$f.safetensors"
done
diff -r "$work/gen-core" "$work/gen-full"
ls "$work/gen-core" | grep -c '\.png$'
echo "core build: OK"
