// SPDX-License-Identifier: Apache-2.0
#include "engine/memory_planner.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

namespace rg {

MemoryPlan plan_memory(const std::vector<BufferRequest>& req) {
  MemoryPlan plan;
  plan.offsets.assign(req.size(), 0);
  std::vector<size_t> order(req.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by earlier start, then index, so the plan is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (req[a].bytes != req[b].bytes) return req[a].bytes > req[b].bytes;
    return req[a].first < req[b].first;
  });
  struct Placed {
    size_t offset, end;
  };
  std::vector<size_t> placed;
  std::vector<Placed> conflicts;
  for (size_t i : order) {
    const size_t size = align_up(std::max<size_t>(req[i].bytes, 1), kArenaAlignment);
    plan.sum_bytes += align_up(req[i].bytes, kArenaAlignment);
    conflicts.clear();
    for (size_t j : placed)
      if (req[j].first <= req[i].last && req[i].first <= req[j].last)
        conflicts.push_back({plan.offsets[j], plan.offsets[j] + align_up(std::max<size_t>(req[j].bytes, 1), kArenaAlignment)});
    std::sort(conflicts.begin(), conflicts.end(), [](const Placed& a, const Placed& b) { return a.offset < b.offset; });
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
    for (const Placed& c : conflicts) {
      if (c.offset > cursor && c.offset - cursor >= size && c.offset - cursor < best_gap) {
        best = cursor;
        best_gap = c.offset - cursor;
      }
      cursor = std::max(cursor, c.end);
    }
    if (best == SIZE_MAX) best = cursor;  // above everything it overlaps
    plan.offsets[i] = best;
    plan.arena_bytes = std::max(plan.arena_bytes, best + size);
    placed.push_back(i);
  }
  return plan;
}

}  // namespace rg
