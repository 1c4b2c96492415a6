#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CI's second half (tools/test.sh): the AddressSanitizer + UBSan tests of the
# core and of apps/data's parsers (the `asan` presets, labels unit and data),
# then short fuzz runs of every parser (tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset asan -G Ninja >/dev/null
cmake --build --preset asan -j "$(nproc)"
ctest --preset asan -j "$(nproc)" --timeout 900
tools/fuzz.sh "${RALSGAN_FUZZ_SECONDS:-25}"
