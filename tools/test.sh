#!/usr/bin/env bash
# The README's test command: set up, build, run every test (cuda tests skip
# themselves without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
ctest --preset release -j "$(nproc)" --timeout 900
