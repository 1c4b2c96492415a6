#!/usr/bin/env bash
# Installs a build's library into a scratch prefix and builds and runs
# examples/consumer against it twice: with CMake's find_package(rg) and with
# pkg-config (rg.pc). Registered with ctest as consumer_package; usage:
#   tools/check_consumer.sh BUILD_DIR
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "$1" && pwd)"
work="$build/consumer-check"
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null

echo "== find_package(rg)"
cmake -S "$src/examples/consumer" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-O1 >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer"

echo "== pkg-config rg"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046  # pkg-config's output is a list of words
c++ -std=c++20 -O1 "$src/examples/consumer/consumer.cpp" -o "$work/consumer_pc" $(pkg-config --cflags --libs rg)
"$work/consumer_pc"
