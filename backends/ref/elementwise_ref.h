// A fused elementwise chain run as one loop: each element's intermediates live
// in registers of a tiny program, so only the group's outputs touch memory.
// The program is the chain's formulas (graph/elementwise_ops.h) lowered in order.
#pragma once

#include <cmath>
#include <memory>
#include <vector>

#include "engine/fusion.h"
#include "graph/elementwise_ops.h"
#include "graph/graph.h"

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
  struct Load {
    ValueId value;
    int reg;
    bool full;                     // same shape as the group: linear index
    std::vector<int64_t> strides;  // broadcast strides otherwise (0 on broadcast dims)
    const T* ptr = nullptr;
  };
  struct Store {
    ValueId value;
    int reg;
    T* ptr = nullptr;
  };
  Shape shape_;
  std::vector<Load> loads_;
  std::vector<Store> stores_;
  EwRegisterProgram<T> prog_;
  mutable std::vector<T> regs_;  // the register file, constants set once
};

}  // namespace rg::ref
