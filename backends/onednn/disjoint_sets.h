// SPDX-License-Identifier: Apache-2.0
// Classes of values that must be decided together (union-find over value
// ids, path compression): the layout choice's classes of one layout, the
// bf16 storage rule's classes of one element type.
#pragma once

#include <numeric>
#include <vector>

#include "graph/graph.h"

namespace rg::onednn {

class DisjointSets {
 public:
  explicit DisjointSets(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  ValueId find(ValueId a) {
    while (parent_[size_t(a)] != a) a = parent_[size_t(a)] = parent_[size_t(parent_[size_t(a)])];
    return a;
  }
  void unite(ValueId a, ValueId b) { parent_[size_t(find(a))] = find(b); }

 private:
  std::vector<ValueId> parent_;
};

}  // namespace rg::onednn
