// SPDX-License-Identifier: Apache-2.0
#include "engine/plan.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "engine/liveness.h"
#include "engine/recompute.h"
#include "engine/schedule.h"

namespace rg {

void destroy(Backend* backend) noexcept { delete backend; }
void destroy(Plan* plan) noexcept { delete plan; }
std::string backend_name(const Backend& backend) { return backend.name(); }

MemoryRequirements memory_requirements(const Plan& plan) {
  const Graph& g = *plan.graph;
  MemoryRequirements r;
  r.arena_bytes = plan.arena_bytes;
  r.arena_alignment = kArenaAlignment;
  for (const VariableInfo& v : g.variables())
    r.variables.push_back({v.name, v.desc, plan.compiler->value_bytes(v.initial), dtype_size(v.desc.dtype),
                           v.current != v.initial});
  return r;
}

int64_t Plan::arena_offset(ValueId v) const {
  const int b = buffer_of_root[size_t(root[size_t(v)])];
  return b < 0 ? -1 : int64_t(buffers[size_t(b)].offset);
}

namespace {
// Where each group runs: 0 on the backend, 1 on its host fallback. Decided
// from the backends' op registries before either sees the plan; a group
// neither lowers is refused here, naming its first such op and node.
std::vector<char> place_groups(const Graph& g, const std::vector<FusionGroup>& groups, Backend& backend) {
  Backend* fallback = backend.host_fallback();
  std::vector<char> on_fallback(groups.size(), 0);
  for (size_t k = 0; k < groups.size(); ++k) {
    NodeId missing = -1;
    for (NodeId id : groups[k].nodes)
      if (!backend.lowers(g.node(id).op)) {
        missing = id;
        break;
      }
    if (missing < 0) continue;
    const bool fallback_lowers =
        fallback && std::all_of(groups[k].nodes.begin(), groups[k].nodes.end(),
                                [&](NodeId id) { return fallback->lowers(g.node(id).op); });
    if (!fallback_lowers)
      throw std::invalid_argument(backend.name() + " backend: no kernel for " + op_name(g.node(missing).op) +
                                  " (node #" + std::to_string(missing) + ")" +
                                  (fallback ? ", and its host fallback " + fallback->name() + " has none either" : ""));
    on_fallback[k] = 1;
  }
  return on_fallback;
}
}  // namespace

std::unique_ptr<Plan> compile(std::shared_ptr<const Graph> graph, Backend& backend, CompileOptions options) {
  auto plan = std::make_unique<Plan>();
  const Recompute recompute =
      options.recompute == Recompute::kBackendDefault ? backend.default_recompute() : options.recompute;
  plan->recomputations_offered = graph->recomputations().size();
  graph = choose_recomputations(std::move(graph), recompute, options.fuse);
  const Graph& g = *graph;
  plan->graph = graph;
  plan->backend = &backend;
  plan->order = schedule(g);
  plan->groups = fuse(g, plan->order, options.fuse);
  plan->root = storage_roots(g);
  plan->on_fallback = place_groups(g, plan->groups, backend);
  plan->compiler = backend.prepare(g, plan->groups, plan->on_fallback);
  if (std::count(plan->on_fallback.begin(), plan->on_fallback.end(), 1))
    plan->fallback_compiler = backend.host_fallback()->prepare(g, plan->groups, {});
  for (size_t k = 0; k < plan->groups.size(); ++k) {
    PlanCompiler& c = plan->on_fallback[k] ? *plan->fallback_compiler : *plan->compiler;
    plan->kernels.push_back(c.compile(plan->groups[k]));
  }
  plan->compiler->finish();
  const PlanCompiler& layouts = *plan->compiler;

  const int steps = static_cast<int>(plan->groups.size());
  const auto& root = plan->root;
  const std::vector<LiveRange> live = live_ranges(g, plan->groups, root);
  // One buffer per materialised root, with its live range, made in the order
  // the schedule first touches them.
  plan->buffer_of_root.assign(size_t(g.num_values()), -1);
  auto buffer_for = [&](ValueId v) {
    const ValueId r = root[size_t(v)];
    if (!live[size_t(r)].live() || plan->buffer_of_root[size_t(r)] >= 0) return;
    plan->buffer_of_root[size_t(r)] = static_cast<int>(plan->buffers.size());
    const size_t bytes = layouts.value_bytes(r);
    plan->buffers.push_back({{r}, -1, bytes, live[size_t(r)].first, live[size_t(r)].last, 0});
    plan->sum_bytes += align_up(bytes, kArenaAlignment);
  };
  for (const InputInfo& in : g.inputs()) buffer_for(in.value);
  for (int k = 0; k < steps; ++k) {
    const FusionGroup& grp = plan->groups[size_t(k)];
    for (ValueId v : grp.inputs) buffer_for(v);
    for (ValueId v : grp.outputs) buffer_for(v);
  }
  // In-place reuse: an output may take over the buffer of an input read for
  // the last time at its step (graph inputs and outputs live to the end, so
  // never qualify), when the kernel reads and writes at the same index.
  for (int k = 0; k < steps && options.reuse_memory; ++k) {
    std::set<int> lent;  // buffers already taken over by an output of this kernel: one output each
    for (const auto& [out, in] : plan->kernels[size_t(k)]->inplace_candidates()) {
      const ValueId ro = root[size_t(out)], ri = root[size_t(in)];
      const int bi = plan->buffer_of_root[size_t(ri)], bo = plan->buffer_of_root[size_t(ro)];
      if (bi < 0 || bo < 0 || bi == bo || ro != out || lent.count(bi)) continue;
      ArenaBuffer &src = plan->buffers[size_t(bi)], &dst = plan->buffers[size_t(bo)];
      if (src.last != k || dst.first != k || dst.values.size() != 1 || src.bytes != dst.bytes) continue;
      lent.insert(bi);
      src.values.push_back(ro);
      src.last = dst.last;
      plan->buffer_of_root[size_t(ro)] = bi;
      dst.bytes = 0;
      dst.values.clear();
      ++plan->inplace_merges;
    }
  }
  plan->scratch_buffer.assign(size_t(steps), -1);
  for (int k = 0; k < steps; ++k) {
    const size_t s = plan->kernels[size_t(k)]->scratch_bytes();
    if (s == 0) continue;
    plan->scratch_buffer[size_t(k)] = static_cast<int>(plan->buffers.size());
    plan->buffers.push_back({{}, k, s, k, k, 0});
    plan->sum_bytes += align_up(s, kArenaAlignment);
  }
  // Pack. Merged-away buffers (bytes 0, no values) take no space.
  std::vector<BufferRequest> req;
  std::vector<size_t> req_buffer;
  for (size_t b = 0; b < plan->buffers.size(); ++b) {
    const ArenaBuffer& buf = plan->buffers[b];
    if (buf.values.empty() && buf.group < 0) continue;
    if (options.reuse_memory) req.push_back({buf.bytes, buf.first, buf.last});
    else req.push_back({buf.bytes, 0, steps});  // everything live at once: no sharing
    req_buffer.push_back(b);
  }
  const MemoryPlan mp = plan_memory(req);
  for (size_t i = 0; i < req.size(); ++i) plan->buffers[req_buffer[i]].offset = mp.offsets[i];
  plan->arena_bytes = mp.arena_bytes;
  return plan;
}

void validate_memory_plan(const Plan& plan) {
  const auto& B = plan.buffers;
  for (size_t i = 0; i < B.size(); ++i) {
    if (B[i].values.empty() && B[i].group < 0) continue;
    if (B[i].offset + B[i].bytes > plan.arena_bytes) throw std::logic_error("buffer " + std::to_string(i) + " exceeds the arena");
    for (size_t j = i + 1; j < B.size(); ++j) {
      if (B[j].values.empty() && B[j].group < 0) continue;
      const bool live_together = B[i].first <= B[j].last && B[j].first <= B[i].last;
      const bool share_bytes = B[i].offset < B[j].offset + B[j].bytes && B[j].offset < B[i].offset + B[i].bytes;
      if (live_together && share_bytes && B[i].bytes && B[j].bytes)
        throw std::logic_error("buffers " + std::to_string(i) + " and " + std::to_string(j) + " overlap while both live");
    }
  }
}

}  // namespace rg
