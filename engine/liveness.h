// SPDX-License-Identifier: Apache-2.0
// When each value's storage is live: the one liveness rule of the engine,
// used by the memory plan (plan.cpp, which then adds kernel scratch and
// in-place reuse, both the backend's) and by the recomputation pass's peak
// estimate (recompute.cpp, which runs before any backend sees the graph).
#pragma once

#include <vector>

#include "engine/fusion.h"
#include "graph/graph.h"

namespace rg {

// Steps are the plan's groups, in order; step groups.size() is "after the
// run". A range with first > last: the value is never materialised (inside
// a group, a variable, or unused).
struct LiveRange {
  int first = 1 << 30;
  int last = -1;
  bool live() const { return first <= last; }
};

// Per value, the range of its storage root (`root`: storage_roots(g)), set on
// roots only. A root is live from the first group that reads or writes it to
// the last; graph inputs a group reads are live from step 0 to the end (the
// caller's values stay until it sets them again, so a plan can be replayed),
// graph outputs to the end (the caller reads them after the run). Variables
// live outside the arena and have no range.
std::vector<LiveRange> live_ranges(const Graph& g, const std::vector<FusionGroup>& groups,
                                   const std::vector<ValueId>& root);

}  // namespace rg
