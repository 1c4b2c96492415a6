// SPDX-License-Identifier: Apache-2.0
#include "engine/liveness.h"

#include <algorithm>

namespace rg {

std::vector<LiveRange> live_ranges(const Graph& g, const std::vector<FusionGroup>& groups,
                                   const std::vector<ValueId>& root) {
  const int steps = int(groups.size());
  std::vector<LiveRange> r(size_t(g.num_values()));
  auto touch = [&](ValueId v, int lo, int hi) {
    const ValueId rv = root[size_t(v)];
    if (g.value(rv).variable >= 0) return;
    LiveRange& l = r[size_t(rv)];
    l.first = std::min(l.first, lo);
    l.last = std::max(l.last, hi);
  };
  for (int k = 0; k < steps; ++k) {
    for (ValueId v : groups[size_t(k)].inputs) touch(v, k, k);
    for (ValueId v : groups[size_t(k)].outputs) touch(v, k, k);
  }
  auto is_output = [&](ValueId v) {
    return std::any_of(g.outputs().begin(), g.outputs().end(), [&](ValueId o) { return root[size_t(o)] == v; });
  };
  for (const InputInfo& in : g.inputs())
    if (r[size_t(root[size_t(in.value)])].live() || is_output(in.value)) touch(in.value, 0, steps);
  for (ValueId v : g.outputs())
    if (r[size_t(root[size_t(v)])].live()) touch(v, steps, steps);
  return r;
}

}  // namespace rg
