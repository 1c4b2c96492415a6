#include "engine/recompute.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "engine/fusion.h"
#include "engine/schedule.h"

namespace rg {

size_t live_bytes_peak(const Graph& g, bool fuse_groups) {
  const std::vector<FusionGroup> groups = fuse(g, schedule(g), fuse_groups);
  const std::vector<ValueId> root = storage_roots(g);
  const int steps = int(groups.size());
  std::vector<int> first(size_t(g.num_values()), steps + 1), last(size_t(g.num_values()), -1);
  auto live_at = [&](ValueId v, int lo, int hi) {
    const ValueId r = root[size_t(v)];
    if (g.value(r).variable >= 0) return;
    first[size_t(r)] = std::min(first[size_t(r)], lo);
    last[size_t(r)] = std::max(last[size_t(r)], hi);
  };
  for (int k = 0; k < steps; ++k) {
    for (ValueId v : groups[size_t(k)].inputs) live_at(v, k, k);
    for (ValueId v : groups[size_t(k)].outputs) live_at(v, k, k);
  }
  for (const InputInfo& in : g.inputs()) live_at(in.value, 0, steps);
  for (ValueId v : g.outputs()) live_at(v, steps, steps);
  std::vector<long long> delta(size_t(steps) + 2, 0);
  for (ValueId r = 0; r < g.num_values(); ++r) {
    if (last[size_t(r)] < 0 || first[size_t(r)] > steps) continue;
    const auto bytes = static_cast<long long>(g.desc(r).bytes());
    delta[size_t(first[size_t(r)])] += bytes;
    delta[size_t(last[size_t(r)]) + 1] -= bytes;
  }
  long long live = 0, peak = 0;
  for (long long d : delta) peak = std::max(peak, live += d);
  return size_t(peak);
}

std::shared_ptr<const Graph> choose_recomputations(std::shared_ptr<const Graph> graph,
                                                   Recompute policy, bool fuse_groups) {
  if (policy == Recompute::kBackendDefault)
    throw std::logic_error("choose_recomputations: resolve kBackendDefault first");
  if (policy == Recompute::kAll || graph->recomputations().empty()) return graph;
  auto best = std::make_shared<Graph>(*graph);
  std::vector<ValueId> offered;
  for (const Graph::Recomputation& r : graph->recomputations()) offered.push_back(r.original);
  if (policy == Recompute::kNone) {
    for (ValueId v : offered) best->drop_recomputation(v);
    return best;
  }
  size_t peak = live_bytes_peak(*best, fuse_groups);
  for (ValueId v : offered) {
    auto trial = std::make_shared<Graph>(*best);
    trial->drop_recomputation(v);
    const size_t p = live_bytes_peak(*trial, fuse_groups);
    if (p <= peak) {
      best = std::move(trial);
      peak = p;
    }
  }
  return best;
}

}  // namespace rg
