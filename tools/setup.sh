#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs Debian 12's build dependencies (as root) and builds the release preset.
set -euo pipefail
cd "$(dirname "$0")/.."
# clang and its runtime build the fuzz targets; strace and prlimit (util-linux)
# drive the crash tests; the cross compilers and qemu-user build the embedded
# runtime for AArch64 (run under qemu by ctest) and bare-metal ARM (docs/embedded.md);
# chromium-headless-shell runs the review page test (tests/review).
PKGS="build-essential cmake ninja-build pkg-config libdnnl-dev libeigen3-dev libopencv-dev libgif-dev
      libgtest-dev libbenchmark-dev libpng-dev zlib1g-dev dataset-fashion-mnist nlohmann-json3-dev dpkg-dev fakeroot
      libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler chromium-headless-shell
      clang libclang-rt-14-dev strace util-linux
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi"
# CUDA is optional: the CUDA backend is compiled when /usr/local/cuda/bin/nvcc exists.
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: missing packages:$missing (run as root)" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
preset=${RALSGAN_PRESET:-release}
cmake --preset "$preset" -G Ninja >/dev/null
# RALSGAN_TARGETS: build only these targets (the demo needs only `ralsgan`).
targets=()
for t in ${RALSGAN_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build --preset "$preset" -j "$(nproc)" "${targets[@]}"
