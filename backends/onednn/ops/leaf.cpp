// SPDX-License-Identifier: Apache-2.0
// fill: a constant tensor (the same bytes in every layout).
#include <algorithm>

#include "backends/onednn/ops/onednn_ops.h"

namespace rg::onednn {
namespace {

size_t lower_fill(OneDnnKernel& k, NodeId id) {
  k.add_fn(
      [&k, id] {
        const Node& m = k.graph().node(id);
        float* y = k.fp(m.outputs[0]);
        std::fill(y, y + k.graph().desc(m.outputs[0]).numel(), float(m.attrs.scalar));
      },
      "fill");
  return 0;
}


const OneDnnOp kOps[] = {{OpKind::kFill, lower_fill, any_layout}};

}  // namespace

std::span<const OneDnnOp> leaf_ops() {
  return kOps;
}

}  // namespace rg::onednn
