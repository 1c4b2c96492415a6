// SPDX-License-Identifier: Apache-2.0
// State updates in place on variables: Adam (graph/state_update_rules.h) and
// the step counter's increment, and assign (a copy into the variable).
#include "backends/ref/ops/ref_ops.h"
#include "graph/state_update_rules.h"

namespace rg::ref {
namespace {

template <typename T>
void adam(const RefKernel<T>& k, const Node& n) {
  const double t = double(*static_cast<const int64_t*>(k.raw(n.inputs[4])));
  const AdamScalars<T> s = adam_scalars<T>(n.attrs, t, [](double v) { return T(v); });
  T *param = k.p(n.inputs[0]), *m = k.p(n.inputs[2]), *v = k.p(n.inputs[3]);
  const T* grad = k.p(n.inputs[1]);
  for (int64_t i = 0, count = k.graph().desc(n.inputs[0]).numel(); i < count; ++i)
    adam_element(param[i], m[i], v[i], grad[i], s);
}

template <typename T>
void lower_adam(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, &n] { adam(k, n); });
}

template <typename T>
void lower_increment(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, x = n.inputs[0]] { *static_cast<int64_t*>(k.raw(x)) += 1; });
}

template <typename T>
void lower_assign(RefKernel<T>& k, const Node& n) {
  k.add_step(
      [&k, dst = n.inputs[0], src = n.inputs[1], count = k.graph().desc(n.inputs[0]).numel()] {
        std::copy(k.p(src), k.p(src) + count, k.p(dst));
      });
}

const RefOp kOps[] = {
    {OpKind::kAdamUpdate, lower_adam<float>, lower_adam<double>},
    {OpKind::kIncrement, lower_increment<float>, lower_increment<double>},
    {OpKind::kAssign, lower_assign<float>, lower_assign<double>},
};

}  // namespace

std::span<const RefOp> state_ops() {
  return kOps;
}

}  // namespace rg::ref
