// The compiler: graph -> schedule -> fusion groups -> kernels -> memory plan.
// A Plan is everything decided before data exists; a Session binds memory to it.
// compile() and CompileOptions are public (rg/compile.h); the Plan's contents
// are the engine's own.
#pragma once

#include <atomic>
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

struct Plan {
  std::shared_ptr<const Graph> graph;
  std::unique_ptr<Backend> own_backend;  // the backend's per-plan object (Backend::prepare), if any
  Backend* backend = nullptr;            // own_backend, or the backend compile() was given
  std::vector<NodeId> order;
  std::vector<FusionGroup> groups;
  std::vector<std::unique_ptr<Kernel>> kernels;  // one per group
  std::vector<ValueId> root;                     // storage root of every value
  std::vector<int> buffer_of_root;               // per value (roots only): index into buffers, or -1
  std::vector<int> scratch_buffer;               // per group: index into buffers, or -1
  std::vector<ArenaBuffer> buffers;
  size_t arena_bytes = 0;
  size_t sum_bytes = 0;    // one allocation per buffer, no reuse
  int inplace_merges = 0;  // outputs that took over an input's buffer
  size_t recomputations_offered = 0;  // by the caller's graph; graph->recomputations() are those kept
  // Whether a Session has bound `kernels` (the one mutable field: the first
  // Session of a plan binds its kernels, later ones bind Kernel::clone()s, so
  // several Sessions may run one plan, one at a time each).
  mutable std::atomic<bool> kernels_bound{false};

  // Where a value lives: arena offset, or -1 when it lives in a variable or is never materialised.
  int64_t arena_offset(ValueId v) const;
};

// Checks the memory plan's invariant: no two buffers that are live at the same
// step share a byte. Throws std::logic_error naming both buffers.
void validate_memory_plan(const Plan& plan);

}  // namespace rg
