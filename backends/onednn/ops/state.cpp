// SPDX-License-Identifier: Apache-2.0
// State updates in place on variables: Adam (graph/state_update_rules.h),
// over threads for large tensors, the step counter's increment, and assign.
#include <omp.h>

#include <algorithm>

#include "backends/onednn/ops/onednn_ops.h"
#include "graph/state_update_rules.h"

namespace rg::onednn {
namespace {

size_t lower_adam(OneDnnKernel& k, NodeId id) {
  k.add_fn(
      [&k, id] {
        const Node& n = k.graph().node(id);
        const int64_t count = k.graph().desc(n.inputs[0]).numel();
        const double t = double(*static_cast<const int64_t*>(k.raw(n.inputs[4])));
        const AdamScalars<float> s =
            adam_scalars<float>(n.attrs, t, [](double v) { return float(v); });
        float* __restrict param = k.fp(n.inputs[0]);
        float* __restrict m = k.fp(n.inputs[2]);
        float* __restrict v = k.fp(n.inputs[3]);
        const float* __restrict grad = k.fp(n.inputs[1]);
        auto body = [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) adam_element(param[i], m[i], v[i], grad[i], s);
        };
        if (count < 65536) {
          body(0, count);
          return;
        }
#pragma omp parallel
        {
          const int nt = omp_get_num_threads(), t = omp_get_thread_num();
          const int64_t per = (count + nt - 1) / nt;
          body(std::min(count, per * t), std::min(count, per * (t + 1)));
        }
      },
      "adam");
  return 0;
}

size_t lower_increment(OneDnnKernel& k, NodeId id) {
  k.add_fn([&k, id] { *static_cast<int64_t*>(k.raw(k.graph().node(id).inputs[0])) += 1; },
           "increment");
  return 0;
}

size_t lower_assign(OneDnnKernel& k, NodeId id) {
  k.add_fn(
      [&k, id] {
        const Node& n = k.graph().node(id);
        const float* src = k.fp(n.inputs[1]);
        std::copy(src, src + k.graph().desc(n.inputs[0]).numel(), k.fp(n.inputs[0]));
      },
      "assign");
  return 0;
}

const OneDnnOp kOps[] = {
    {OpKind::kAdamUpdate, lower_adam},
    {OpKind::kIncrement, lower_increment},
    {OpKind::kAssign, lower_assign},
};

}  // namespace

std::span<const OneDnnOp> state_ops() {
  return kOps;
}

}  // namespace rg::onednn
