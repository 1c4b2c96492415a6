#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs a build's library into a scratch prefix and builds and runs
# examples/consumer against it twice: with CMake's find_package(rg) and with
# pkg-config (rg.pc). Then builds examples/fashion_mnist there with
# find_package (the ctest classifier_trains_to_stated_accuracy trains it) and
# checks that it names a missing or malformed data file. Registered with ctest as
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
# Bad data must exit 1 with one line naming the file: missing, then an IDX
# header of the wrong rank (images given as a 1-D array), then truncated.
expect_data_error() {  # DIR TEXT: the expected message is "DIR/FILE: TEXT"
  local rc=0 err
  err="$("$work/fashion_mnist/fashion_classifier" --data "$1" 2>&1 >/dev/null)" || rc=$?
  if [[ $rc -ne 1 || "$err" != *"$1/train-images-idx3-ubyte"*": $2"* ]]; then
    echo "fashion_classifier --data $1: exit $rc, '$err' (expected 1 and '$2')" >&2
    exit 1
  fi
  echo "fashion_classifier --data $1: $err"
}
expect_data_error "$work/no-such-dir" "cannot open"
mkdir -p "$work/bad-data"
printf '\x00\x00\x08\x01\x00\x00\x00\x02ab' >"$work/bad-data/train-images-idx3-ubyte"
expect_data_error "$work/bad-data" "expected an IDX array of unsigned bytes with 3 dimensions"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1cab' >"$work/bad-data/train-images-idx3-ubyte"
expect_data_error "$work/bad-data" "truncated or unreadable data"

echo "== find_package(rg_runtime): a C program against the installed runtime"
mkdir -p "$work/runtime_consumer"
cat > "$work/runtime_consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(runtime_consumer C)
find_package(rg_runtime 2 REQUIRED)
add_executable(runtime_consumer main.c)
target_link_libraries(runtime_consumer PRIVATE rg_runtime::rg_runtime)
CM
cat > "$work/runtime_consumer/main.c" <<'C'
#include <stdio.h>
#include "rg_runtime.h"
int main(void) {  /* an empty buffer is not a plan: the runtime says so */
  rg_plan plan;
  const rg_status s = rg_plan_validate("RGPLAN", 6, &plan);
  printf("plan format %u: %s\n", RG_PLAN_VERSION, rg_status_text(s));
  return s == RG_ERR_TRUNCATED ? 0 : 1;
}
C
cmake -S "$work/runtime_consumer" -B "$work/runtime_consumer/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/runtime_consumer/build" >/dev/null
"$work/runtime_consumer/build/runtime_consumer"
for f in bin/ralsgan bin/rg bin/rg_run_file share/man/man1/ralsgan.1 share/doc/ralsgan/LICENSE; do
  test -e "$work/prefix/$f" || { echo "cmake --install put no $f" >&2; exit 1; }
done
echo "installed: ralsgan, rg, rg_run_file, man pages, docs"
