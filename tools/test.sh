#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's test command: set up, build, run every test (cuda tests skip
# themselves without a GPU; the crash tests are among them), then the
# sanitizer tests and short fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/test_sanitizers.sh
ctest --preset release -j "$(nproc)" --timeout 900
# The CPU tests again on oneDNN's AVX2 code path (nChw8c layouts, AVX2 kernels):
# on an AVX-512 machine this checks what AVX2-only servers run; elsewhere it
# repeats the native run.
DNNL_MAX_CPU_ISA=AVX2 ctest --preset release -j "$(nproc)" --timeout 900 -L cpu
# The .deb as a user installs it: built, unpacked into a scratch root, run
# (--version, a 20-step demo, export, rg_run_file).
tools/test_package.sh
