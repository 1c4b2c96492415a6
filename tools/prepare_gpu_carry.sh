#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copies the header-only and source dependencies that the GPU machine lacks
# (it has no Debian -dev packages) into .carry/ (git-ignored), to be named in
# the device tool's `carry`:
#   .carry/eigen3      Eigen's headers (Eigen/ only: unsupported/ and docs dropped)
#   .carry/googletest  GoogleTest's sources (built by CMake there)
#   .carry/png         libpng and zlib headers and shared libraries (bench_generate_pngs, ralsgan)
#   .carry/nlohmann    nlohmann-json's headers (the app's JSON files)
#   .carry/data        a 128 px dataset cache for ralsgan's end to end stage
# tools/gpu_check.sh configures with -DRALSGAN_EIGEN_DIR=.carry/eigen3
# -DRALSGAN_GTEST_SOURCE_DIR=.carry/googletest.
set -euo pipefail
cd "$(dirname "$0")/.."
EIGEN=${EIGEN_SRC:-/usr/include/eigen3}
GTEST=${GTEST_SRC:-/usr/src/googletest}
[ -d "$EIGEN/Eigen" ] || { echo "prepare_gpu_carry: no Eigen at $EIGEN (install libeigen3-dev)" >&2; exit 1; }
[ -f "$GTEST/CMakeLists.txt" ] || { echo "prepare_gpu_carry: no GoogleTest sources at $GTEST (install googletest)" >&2; exit 1; }
rm -rf .carry/eigen3 .carry/googletest .carry/png .carry/nlohmann
[ -f /usr/include/nlohmann/json.hpp ] || { echo "prepare_gpu_carry: no /usr/include/nlohmann (install nlohmann-json3-dev)" >&2; exit 1; }
mkdir -p .carry/nlohmann && cp -r /usr/include/nlohmann .carry/nlohmann/
mkdir -p .carry/eigen3
cp -r "$EIGEN/Eigen" .carry/eigen3/
[ -f "$EIGEN/signature_of_eigen3_matrix_library" ] && cp "$EIGEN/signature_of_eigen3_matrix_library" .carry/eigen3/
cp -r "$GTEST" .carry/googletest
rm -rf .carry/googletest/docs .carry/googletest/googletest/docs .carry/googletest/googlemock/docs
find .carry -name '*.md' -delete
# libpng and zlib (headers and shared libraries) for bench_generate_pngs: the
# whole `ralsgan generate` job with PNG files (RALSGAN_CORE_APP).
mkdir -p .carry/png/include .carry/png/lib
for h in png.h pngconf.h pnglibconf.h zlib.h zconf.h; do
  [ -f "/usr/include/$h" ] || { echo "prepare_gpu_carry: no /usr/include/$h (install libpng-dev and zlib1g-dev)" >&2; exit 1; }
  cp "/usr/include/$h" .carry/png/include/
done
LIBDIR=/usr/lib/x86_64-linux-gnu
[ -e $LIBDIR/libpng16.so ] || LIBDIR=/lib/x86_64-linux-gnu
cp -L "$LIBDIR/libpng16.so.16" .carry/png/lib/libpng16.so.16
cp -L "$LIBDIR/libz.so.1" .carry/png/lib/libz.so.1
# Copies, not links: the device tool's carry may not keep symbolic links.
cp .carry/png/lib/libpng16.so.16 .carry/png/lib/libpng16.so
cp .carry/png/lib/libz.so.1 .carry/png/lib/libz.so
# A 128 px training set for tools/gpu_check.sh's `ralsgan` end to end stage
# (the core build there trains from a cache and cannot decode images): 192
# images from a randomly initialised seed generator, letterboxed into a cache
# by this machine's full build (FULL_BUILD, default build/release).
FULL=${FULL_BUILD:-build/release}
if [ -x "$FULL/apps/ralsgan/ralsgan" ] && [ -x "$FULL/apps/ralsgan/bench_generate_pngs" ]; then
  tmp=$(mktemp -d)
  "$FULL/apps/ralsgan/bench_generate_pngs" --dir "$tmp" --count 192 --batch 64 --size 128 --backend auto --seed 7 > /dev/null
  mkdir -p .carry/data
  "$FULL/apps/ralsgan/ralsgan" preprocess --input "$tmp/pngs" --output .carry/data/train128.rgcache --size 128 2> /dev/null
  rm -rf "$tmp" .carry/data/train128.rgcache.report.json
else
  echo "prepare_gpu_carry: no full build at $FULL: gpu_check.sh will skip its ralsgan end to end stage" >&2
fi
kib=$(du -sk .carry | cut -f1)
echo "prepare_gpu_carry: .carry is $((kib / 1024)) MiB ($kib KiB)"
if [ "$kib" -gt $((24 * 1024)) ]; then
  echo "prepare_gpu_carry: .carry is over 24 MiB; the device tool carries 64 MiB in all" >&2
  exit 1
fi
