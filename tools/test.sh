#!/usr/bin/env bash
# The README's test command: set up, build, run every test (cuda tests skip
# themselves without a GPU; the crash tests are among them), then the
# sanitizer tests and short fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/test_sanitizers.sh
ctest --preset release -j "$(nproc)" --timeout 900
