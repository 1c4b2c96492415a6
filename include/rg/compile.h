// SPDX-License-Identifier: Apache-2.0
// Compiling a graph for a backend (docs/library.md). To a user of the library
// a Backend and a Plan are opaque handles: the factories in rg/backend_*.h make
// backends, compile() makes plans, a Session (rg/session.h) runs a plan. Their
// definitions (kernels, fusion groups, the memory plan) are the engine's own
// (engine/backend.h, engine/plan.h) and may change without notice.
#pragma once

#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "rg/graph.h"

namespace rg {

class Backend;
struct Plan;

// Destroy a backend or plan where its type is complete, so that
// std::unique_ptr<Backend> and std::unique_ptr<Plan> work in code that sees
// only these declarations (the std::default_delete specialisations below).
void destroy(Backend* backend) noexcept;
void destroy(Plan* plan) noexcept;

// "ref", "onednn", "cuda" (the backend's own name).
std::string backend_name(const Backend& backend);

// Which of the graph's recomputed activations (Graph::recomputations, made by
// gradients()) a plan keeps. A kept one is computed again in the backward
// pass (one elementwise pass more) so the activation itself dies early; a
// dropped one reads the activation kept from the forward pass.
enum class Recompute {
  kBackendDefault,  // the backend's choice: CPUs kWherePeakDrops, CUDA kNone
  kNone,            // keep every activation (speed over memory)
  kWherePeakDrops,  // keep the fewest recomputations that give the lowest peak (docs/lowering.md)
  kAll,             // every one autodiff offered
};

struct CompileOptions {
  bool fuse = true;          // group elementwise chains with their producers
  bool reuse_memory = true;  // share arena bytes between buffers whose lifetimes do not overlap
  Recompute recompute = Recompute::kBackendDefault;
};

// Schedules, fuses and compiles `graph` for `backend` and plans its memory.
// The backend must outlive the plan, and the plan every Session of it. Throws
// GraphError or std::invalid_argument (e.g. an f64 graph on the CPU backend).
std::unique_ptr<Plan> compile(std::shared_ptr<const Graph> graph, Backend& backend,
                              CompileOptions options = {});

// What memory a Session of `plan` needs, for callers who supply it themselves
// (rg::CallerMemory in rg/session.h).
struct VariableRequirement {
  std::string name;
  TensorDesc desc;
  size_t bytes = 0;      // in the backend's layout: plain row-major (desc.bytes()) on every backend
  size_t alignment = 0;  // the least alignment the backend's kernels accept for it
  bool written = false;  // a state update of the plan writes it (it needs writable memory)
};
struct MemoryRequirements {
  size_t arena_bytes = 0;      // every intermediate buffer and kernel scratch, one block
  size_t arena_alignment = 0;  // the arena's start must be aligned to this
  std::vector<VariableRequirement> variables;  // in the graph's variable order
};
MemoryRequirements memory_requirements(const Plan& plan);

}  // namespace rg

// A program may specialise std::default_delete for its own types; these keep
// Backend and Plan opaque while std::unique_ptr owns them as usual.
template <>
struct std::default_delete<rg::Backend> {
  constexpr default_delete() noexcept = default;
  template <std::derived_from<rg::Backend> U>  // from unique_ptr<SomeBackend>
  default_delete(const std::default_delete<U>&) noexcept {}
  void operator()(rg::Backend* p) const noexcept { rg::destroy(p); }
};
template <>
struct std::default_delete<rg::Plan> {
  constexpr default_delete() noexcept = default;
  void operator()(rg::Plan* p) const noexcept { rg::destroy(p); }
};
