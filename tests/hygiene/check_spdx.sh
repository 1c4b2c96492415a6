#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every source file the repository tracks names its licence in its first
# three lines (tools/spdx_headers.py --add writes it; this is its check
# without Python). Usage: check_spdx.sh SOURCE_DIR
set -euo pipefail
cd "$1"
if ! git rev-parse --git-dir > /dev/null 2>&1; then
  echo "SKIPPED: $1 is not a git checkout (the tracked files are unknown)"
  exit 77
fi
missing=0
while IFS= read -r f; do
  case "$f" in tests/data/files/* | */corpus/*) continue ;; esac
  if ! head -n 3 "$f" | grep -q "SPDX-License-Identifier: Apache-2.0"; then
    echo "no SPDX licence identifier: $f"
    missing=1
  fi
done < <(git ls-files | grep -E '\.(cpp|h|hpp|c|cu|cuh|py|sh|cmake)$|(^|/)CMakeLists\.txt$|^\.ci/run$')
[ -f LICENSE ] && [ -f NOTICE ] || { echo "LICENSE or NOTICE is missing"; missing=1; }
exit $missing
