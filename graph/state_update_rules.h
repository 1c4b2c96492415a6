// SPDX-License-Identifier: Apache-2.0
// The arithmetic of the state-update ops, written once for every backend:
// Adam (kAdamUpdate) as torch.optim.Adam's single-tensor path and BatchNorm's
// running-statistic update (kBatchNormRunningUpdate) as nn.BatchNorm2d's. The
// element functions are templates over the value type, so the reference and
// oneDNN backends call them on numbers and CUDA on expressions it prints as
// source (operators +, -, *, /, unary minus and an unqualified sqrt).
#pragma once

#include <cmath>
#include <cstdint>

#include "rg/op.h"

namespace rg {

// Adam's per-step scalars (bias corrections at step t, in double as PyTorch)
// and coefficients, in the value type T.
template <typename T>
struct AdamScalars {
  T step_size, bc2_sqrt, beta1, beta2, one_minus_beta1, one_minus_beta2, eps;
};

// `cast` turns a double into a T (a number, or a literal for a printer).
template <typename T, typename Cast>
AdamScalars<T> adam_scalars(const OpAttrs& a, double t, Cast cast) {
  const double bc1 = 1.0 - std::pow(a.beta1, t), bc2 = 1.0 - std::pow(a.beta2, t);
  return {cast(a.lr / bc1),    cast(std::sqrt(bc2)), cast(a.beta1),   cast(a.beta2),
          cast(1.0 - a.beta1), cast(1.0 - a.beta2),  cast(a.adam_eps)};
}

// One element of param, m and v updated in place from its gradient g, in
// PyTorch's order of operations.
template <typename T>
inline void adam_element(T& param, T& m, T& v, const T& g, const AdamScalars<T>& s) {
  using std::sqrt;
  m = m * s.beta1 + g * s.one_minus_beta1;
  v = v * s.beta2 + s.one_minus_beta2 * g * g;
  const T denom = sqrt(v) / s.bc2_sqrt + s.eps;
  param = param + (-s.step_size) * (m / denom);
}

// running' = (1 - momentum) * running + momentum * (batch * n / (n - 1) when
// unbiased, attrs.scalar = n), in double.
struct RunningUpdate {
  double keep, take, correction;
};
inline RunningUpdate running_update(const OpAttrs& a) {
  return {1.0 - a.momentum, a.momentum, a.unbiased ? a.scalar / (a.scalar - 1.0) : 1.0};
}
template <typename D>
inline D running_update_element(const D& running, const D& batch, const RunningUpdate& u) {
  return D(u.keep) * running + D(u.take) * (batch * D(u.correction));
}

}  // namespace rg
