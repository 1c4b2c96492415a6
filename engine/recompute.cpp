// SPDX-License-Identifier: Apache-2.0
#include "engine/recompute.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "engine/fusion.h"
#include "engine/liveness.h"
#include "engine/schedule.h"

namespace rg {

size_t live_bytes_peak(const Graph& g, bool fuse_groups) {
  const std::vector<FusionGroup> groups = fuse(g, schedule(g), fuse_groups);
  const std::vector<LiveRange> live = live_ranges(g, groups, storage_roots(g));
  std::vector<long long> delta(groups.size() + 2, 0);
  for (ValueId r = 0; r < g.num_values(); ++r) {
    const LiveRange& l = live[size_t(r)];
    if (!l.live()) continue;
    const auto bytes = static_cast<long long>(g.desc(r).bytes());
    delta[size_t(l.first)] += bytes;
    delta[size_t(l.last) + 1] -= bytes;
  }
  long long live_now = 0, peak = 0;
  for (long long d : delta) peak = std::max(peak, live_now += d);
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
