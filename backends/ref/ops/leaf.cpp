// SPDX-License-Identifier: Apache-2.0
// fill: a constant tensor.
#include <algorithm>

#include "backends/ref/ops/ref_ops.h"

namespace rg::ref {
namespace {

template <typename T>
void lower_fill(RefKernel<T>& k, const Node& n) {
  const ValueId y = n.outputs[0];
  k.add_step([&k, y, count = k.graph().desc(y).numel(), v = T(n.attrs.scalar)] {
    std::fill(k.p(y), k.p(y) + count, v);
  });
}

const RefOp kOps[] = {{OpKind::kFill, lower_fill<float>, lower_fill<double>}};

}  // namespace

std::span<const RefOp> leaf_ops() {
  return kOps;
}

}  // namespace rg::ref
