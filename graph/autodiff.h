// SPDX-License-Identifier: Apache-2.0
// The public header rg/autodiff.h holds autodiff (docs/library.md); this path
// stays for the engine's code, with the graph's internal helpers.
#pragma once

#include "graph/graph.h"
#include "rg/autodiff.h"
