// SPDX-License-Identifier: Apache-2.0
// bf16 mode: which activations a plan stores as bf16 (docs/cpu_backend.md,
// "Activations stored as bf16").
#pragma once

#include <vector>

#include "backends/onednn/layout_choice.h"
#include "rg/backend_onednn.h"

namespace rg::onednn {

// One flag per value of g: stored as bf16. Decided from the graph, its
// groups, the layouts and the options (kernel_choice.h), before compiling.
// on_fallback: per group, run by the host fallback (which reads and writes f32 only).
std::vector<char> choose_bf16_storage(const Graph& g, const std::vector<FusionGroup>& groups,
                                      const std::vector<char>& on_fallback, const LayoutTable& t,
                                      const OneDnnOptions& opt);

}  // namespace rg::onednn
