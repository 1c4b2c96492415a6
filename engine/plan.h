// SPDX-License-Identifier: Apache-2.0
// The compiler: graph -> schedule -> fusion groups -> kernels -> memory plan.
// A Plan is everything decided before data exists; a Session binds memory to it.
// compile() and CompileOptions are public (rg/compile.h); the Plan's contents
// are the engine's own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/fusion.h"
#include "engine/memory_planner.h"
#include "graph/graph.h"
#include "rg/compile.h"

namespace rg {

struct ArenaBuffer {
  std::vector<ValueId> values;  // root values sharing this buffer (more than one after in-place reuse)
  int group = -1;               // for kernel scratch: the group it belongs to
  size_t bytes = 0;
  int first = 0, last = 0;
  size_t offset = 0;
};

// A Plan does not change once compile() returns: Sessions read it, each with
// its own bound instances of the kernels (Kernel::clone), so several may run
// one plan at the same time.
struct Plan {
  std::shared_ptr<const Graph> graph;
  Backend* backend = nullptr;              // the device compile() was given
  std::unique_ptr<PlanCompiler> compiler;  // its compiler for this plan (Backend::prepare)
  // The host fallback's compiler, where some group runs there (on_fallback).
  std::unique_ptr<PlanCompiler> fallback_compiler;
  std::vector<NodeId> order;
  std::vector<FusionGroup> groups;
  std::vector<char> on_fallback;                 // per group: compiled by the backend's host fallback
  std::vector<std::unique_ptr<Kernel>> kernels;  // one per group, never bound: Sessions bind clones
  std::vector<ValueId> root;                     // storage root of every value
  std::vector<int> buffer_of_root;               // per value (roots only): index into buffers, or -1
  std::vector<int> scratch_buffer;               // per group: index into buffers, or -1
  std::vector<ArenaBuffer> buffers;
  size_t arena_bytes = 0;
  size_t sum_bytes = 0;    // one allocation per buffer, no reuse
  int inplace_merges = 0;  // outputs that took over an input's buffer
  size_t recomputations_offered = 0;  // by the caller's graph; graph->recomputations() are those kept

  // Where a value lives: arena offset, or -1 when it lives in a variable or is never materialised.
  int64_t arena_offset(ValueId v) const;
};

// Checks the memory plan's invariant: no two buffers that are live at the same
// step share a byte. Throws std::logic_error naming both buffers.
void validate_memory_plan(const Plan& plan);

}  // namespace rg
