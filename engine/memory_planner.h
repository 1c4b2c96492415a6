// SPDX-License-Identifier: Apache-2.0
// Offline memory planning: every buffer of a plan gets an offset in one arena.
//
// Buffers have live intervals [first, last] in kernel steps. Packing is
// greedy best-fit in order of decreasing size (as XLA's
// GlobalDecreasingSizeBestFitHeap): each buffer takes the smallest gap, among
// the buffers already placed whose intervals overlap its own, that fits it.
#pragma once

#include <cstddef>
#include <vector>

namespace rg {

constexpr size_t kArenaAlignment = 256;  // enough for AVX-512, cuDNN and oneDNN

struct BufferRequest {
  size_t bytes = 0;
  int first = 0;  // first step the buffer is live (written)
  int last = 0;   // last step it is read, inclusive
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // one per request
  size_t arena_bytes = 0;
  size_t sum_bytes = 0;  // what one allocation per buffer would need
};

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests);

inline size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

}  // namespace rg
