// SPDX-License-Identifier: Apache-2.0
// A fused elementwise chain run as one loop: each element's intermediates live
// in registers of a tiny program, so only the group's outputs touch memory.
// The program is the chain's one lowered form (engine/lowered_chain.h).
#pragma once

#include <cmath>
#include <memory>
#include <vector>

#include "engine/lowered_chain.h"

namespace rg::ref {

template <typename T>
class ElementwiseProgram {
 public:
  ElementwiseProgram(const Graph& g, const FusionGroup& grp, const std::vector<NodeId>& chain);
  // Pairs (output, input) of the same shape: the loop reads an element before writing it.
  std::vector<std::pair<ValueId, ValueId>> inplace_candidates() const;
  void bind(const std::vector<void*>& ptrs);
  void run() const;

 private:
  LoweredChain chain_;
  std::vector<const T*> load_ptr_;  // per chain_.loads
  std::vector<T*> store_ptr_;       // per chain_.stores
  mutable std::vector<T> regs_;     // the register file, constants set once
};

}  // namespace rg::ref
