// SPDX-License-Identifier: Apache-2.0
// mean and sum_to as deterministic two-level reductions; broadcast_to as an
// elementwise kernel.
#include <algorithm>

#include "backends/cuda/ops/cuda_ops.h"

namespace rg::cuda {
namespace {

void lower_reduce(CudaKernel& k, const Node& n) {
  const std::string& T = k.T();
  const Shape& xs = k.graph().shape(n.inputs[0]);
  k.place(n.outputs[0]);
  RedSpec r{T, xs, reduced_axes(n, xs), {k.home(n.inputs[0])}, {}, {}, {"x0"}, {}, {}, {}};
  const double ratio =
      double(numel(xs)) / double(std::max<int64_t>(1, k.graph().desc(n.outputs[0]).numel()));
  r.outs.push_back({k.home(n.outputs[0]),
                    n.op == OpKind::kMean ? "a0 / " + literal(ratio, T) : std::string("a0")});
  const RedPlan p = plan_reduction(r, k.target().sms());
  r.partials = Arg::scratch(k.alloc(p.partial_bytes));
  k.add_reduction(r, p);
}

void lower_broadcast_to(CudaKernel& k, const Node& n) {
  const Graph& g = k.graph();
  EwSpec s{k.T(), g.shape(n.outputs[0]), {}, {}, {}, {}};
  s.loads.push_back({k.home(n.inputs[0]),
                     broadcast_strides(g.shape(n.outputs[0]), g.shape(n.inputs[0])),
                     false,
                     {}});
  if (g.shape(n.inputs[0]) == g.shape(n.outputs[0])) s.loads.back().full = true;
  s.stores.push_back({k.home(n.outputs[0]), "l0"});
  k.add_ew(s);
}

const CudaOp kOps[] = {
    {OpKind::kMean, lower_reduce},
    {OpKind::kSumTo, lower_reduce},
    {OpKind::kBroadcastTo, lower_broadcast_to},
};

}  // namespace

std::span<const CudaOp> reduction_ops() {
  return kOps;
}

}  // namespace rg::cuda
