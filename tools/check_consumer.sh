#!/usr/bin/env bash
# Installs a build's library into a scratch prefix and builds and runs
# examples/consumer against it twice: with CMake's find_package(rg) and with
# pkg-config (rg.pc). Then builds examples/fashion_mnist there with
# find_package (the ctest classifier_trains_to_stated_accuracy trains it) and
# checks that it names a missing data file. Registered with ctest as
# consumer_package; usage:
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

echo "== examples/fashion_mnist (find_package(rg))"
cmake -S "$src/examples/fashion_mnist" -B "$work/fashion_mnist" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/fashion_mnist" >/dev/null
# Without data it must exit 1 with one line naming the file it could not open.
rc=0
err="$("$work/fashion_mnist/fashion_classifier" --data "$work/no-such-dir" 2>&1 >/dev/null)" || rc=$?
if [[ $rc -ne 1 || "$err" != *"$work/no-such-dir/train-images-idx3-ubyte.gz: cannot open"* ]]; then
  echo "fashion_classifier without data: exit $rc, '$err' (expected 1 naming the file)" >&2
  exit 1
fi
echo "fashion_classifier built; without data: $err"
