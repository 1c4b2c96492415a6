// SPDX-License-Identifier: Apache-2.0
// Recomputation as a compiler pass (docs/lowering.md, "Recomputation"): of the
// activations gradients() offered to recompute in the backward pass
// (Graph::recomputations), which ones a plan recomputes. The model code only
// builds the graph; memory versus time is decided here, from the schedule.
#pragma once

#include <cstddef>
#include <memory>

#include "graph/graph.h"
#include "rg/compile.h"

namespace rg {

// `graph` itself when every offered recomputation is kept (kAll, or none was
// offered); otherwise a copy in which the dropped ones read their activation
// again. kWherePeakDrops tries dropping each recomputation in the graph's order
// and drops it when the peak estimate below does not rise, so recomputation is
// kept only where an activation lives across the plan's peak. `policy` is not
// kBackendDefault (compile() resolves that).
std::shared_ptr<const Graph> choose_recomputations(std::shared_ptr<const Graph> graph,
                                                   Recompute policy, bool fuse);

// The most bytes of materialised values live at one step of the schedule
// (values inside a fusion group excluded, variables excluded, graph inputs and
// outputs live throughout). It leaves out kernel scratch and in-place reuse,
// which are the backend's, so it is the backend-free part of the arena's peak.
size_t live_bytes_peak(const Graph& g, bool fuse);

}  // namespace rg
