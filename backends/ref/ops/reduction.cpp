// SPDX-License-Identifier: Apache-2.0
// Reductions in double (mean, sum_to) and broadcast_to.
#include "backends/ref/ops/ref_ops.h"
#include "engine/op_geometry.h"
#include "engine/strided_walk.h"

namespace rg::ref {
namespace {

template <typename T>
void lower_reduce(RefKernel<T>& k, const Node& n) {
  const Shape& xs = k.graph().shape(n.inputs[0]);
  const int64_t count = k.graph().desc(n.outputs[0]).numel();
  k.need_accumulators(size_t(count));
  k.add_step([&k, x = n.inputs[0], y = n.outputs[0], count, mean = n.op == OpKind::kMean,
              walk = StridedWalk(xs, broadcast_strides(xs, reduced_keepdims_shape(n, xs))),
              total = numel(xs)] {
    reduce_in_double(mean, k.p(x), total, walk, k.accumulators(), k.p(y), count);
  });
}

template <typename T>
void lower_broadcast_to(RefKernel<T>& k, const Node& n) {
  const Graph& g = k.graph();
  const ValueId x = n.inputs[0], y = n.outputs[0];
  k.add_step([&k, x, y, count = g.desc(y).numel(),
              walk = StridedWalk(g.shape(y), broadcast_strides(g.shape(y), g.shape(x)))] {
    walk.run(0, count, [xp = k.p(x), yp = k.p(y)](int64_t e, int64_t i) { yp[e] = xp[i]; });
  });
}

const RefOp kOps[] = {
    {OpKind::kMean, lower_reduce<float>, lower_reduce<double>},
    {OpKind::kSumTo, lower_reduce<float>, lower_reduce<double>},
    {OpKind::kBroadcastTo, lower_broadcast_to<float>, lower_broadcast_to<double>},
};

}  // namespace

std::span<const RefOp> reduction_ops() {
  return kOps;
}

}  // namespace rg::ref
