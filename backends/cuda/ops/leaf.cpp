// SPDX-License-Identifier: Apache-2.0
// fill: a constant tensor, as an elementwise kernel.
#include "backends/cuda/ops/cuda_ops.h"

namespace rg::cuda {
namespace {

void lower_fill(CudaKernel& k, const Node& n) {
  EwSpec s{k.T(), k.graph().shape(n.outputs[0]), {}, {}, {}, {}};
  s.stores.push_back({k.home(n.outputs[0]), literal(n.attrs.scalar, k.T())});
  k.add_ew(s);
}

const CudaOp kOps[] = {{OpKind::kFill, lower_fill}};

}  // namespace

std::span<const CudaOp> leaf_ops() {
  return kOps;
}

}  // namespace rg::cuda
