#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main command: set up, build `ralsgan`, run `ralsgan demo`
# (docs/contracts.md §7: Fashion-MNIST, a few minutes on two cores). Extra arguments go
# to the demo, e.g. tools/demo.sh --out /tmp/demo --steps 600.
set -euo pipefail
cd "$(dirname "$0")/.."
RALSGAN_TARGETS=ralsgan tools/setup.sh
exec build/release/apps/ralsgan/ralsgan demo "$@"
