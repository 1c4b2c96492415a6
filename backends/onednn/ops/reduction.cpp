// SPDX-License-Identifier: Apache-2.0
// Reductions (mean, sum_to) in double over the input's physical layout, and
// broadcast_to, as loops of ours.
#include <memory>

#include "backends/onednn/ops/onednn_ops.h"
#include "engine/op_geometry.h"
#include "engine/strided_walk.h"

namespace rg::onednn {
namespace {

size_t lower_reduce(OneDnnKernel& k, NodeId id) {
  const Graph& g = k.graph();
  const Node& n = g.node(id);
  const Shape& xs = g.shape(n.inputs[0]);
  const Shape kept = reduced_keepdims_shape(n, xs);
  auto walk =
      std::make_shared<Walk>(phys_of(xs, k.layout(n.inputs[0])), broadcast_strides(xs, kept));
  const int64_t outn = g.desc(n.outputs[0]).numel();
  auto acc = std::make_shared<std::vector<double>>(size_t(outn));
  k.add_fn(
      [&k, id, walk, acc, outn] {
        const Node& m = k.graph().node(id);
        reduce_in_double(m.op == OpKind::kMean, k.fp(m.inputs[0]),
                         k.graph().desc(m.inputs[0]).numel(), *walk, acc->data(),
                         k.fp(m.outputs[0]), outn);
      },
      op_name(n.op));
  return 0;
}

size_t lower_broadcast_to(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const Shape& big = k.graph().shape(n.outputs[0]);
  auto walk = std::make_shared<Walk>(phys_of(big, k.layout(n.outputs[0])),
                                     broadcast_strides(big, k.graph().shape(n.inputs[0])));
  k.add_fn(
      [&k, id, walk] {
        const Node& m = k.graph().node(id);
        const float* x = k.fp(m.inputs[0]);
        float* y = k.fp(m.outputs[0]);
        walk->run(0, k.graph().desc(m.outputs[0]).numel(),
                  [&](int64_t e, int64_t o) { y[e] = x[o]; });
      },
      "broadcast_to");
  return 0;
}

void output_plain(const LayoutConstraints& c, const Graph&, const Node& n) {
  c.pin(n.outputs[0]);
}

const OneDnnOp kOps[] = {
    {OpKind::kMean, lower_reduce, output_plain},
    {OpKind::kSumTo, lower_reduce, output_plain},
    {OpKind::kBroadcastTo, lower_broadcast_to, inputs_plain},
};

}  // namespace

std::span<const OneDnnOp> reduction_ops() {
  return kOps;
}

}  // namespace rg::onednn
