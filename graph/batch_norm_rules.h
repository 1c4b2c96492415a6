// SPDX-License-Identifier: Apache-2.0
// The arithmetic of BatchNorm (kBatchNormTrain, kBatchNormInference and
// kBatchNormBackward), written once for every backend as templates over the
// value type, like graph/state_update_rules.h: the reference and oneDNN
// backends call them on numbers (double), CUDA on expressions it prints as
// source. The order of operations is the reference backend's, which the
// PyTorch golden files were checked against; per channel c over the
// M = N * H * W elements of x:
//   mean = sum(x) / M, var = sum((x - mean)^2) / M   (two passes, biased)
//   y = (x - mean) * inv * gamma + beta,  inv = 1 / sqrt(var + eps)
//   dbeta = sum(dy), dgamma = sum(dy * (x - mean) * inv)
//   dx = gamma * inv / M * (M * dy - dbeta - xhat * dgamma),  xhat = (x - mean) * inv
#pragma once

#include <cmath>

namespace rg {

// The summand of the variance's second pass.
template <typename E>
inline E batch_norm_centred_square(const E& x, const E& mean) {
  const E d = x - mean;
  return d * d;
}

// 1 / sqrt(var + eps); `one` is 1 in E (a printer's typed literal).
template <typename E>
inline E batch_norm_inv_std(const E& var, const E& eps, const E& one) {
  using std::sqrt;
  return one / sqrt(var + eps);
}

template <typename E>
inline E batch_norm_normalize(const E& x, const E& mean, const E& inv, const E& gamma,
                              const E& beta) {
  return (x - mean) * inv * gamma + beta;
}

// The same map as a per-channel affine y = x * scale + shift, for a backend
// that applies it as one (oneDNN's BatchNorm-inference chain head; it rounds
// differently from batch_norm_normalize).
template <typename E>
inline E batch_norm_scale(const E& inv, const E& gamma) {
  return gamma * inv;
}
template <typename E>
inline E batch_norm_shift(const E& mean, const E& scale, const E& beta) {
  return beta - mean * scale;
}

// dgamma's summand.
template <typename E>
inline E batch_norm_dy_xhat(const E& dy, const E& x, const E& mean, const E& inv) {
  return dy * (x - mean) * inv;
}

// dx from the channel's sums (dbeta = sum(dy), dgamma = sum(dy * xhat)); m is M in E.
template <typename E>
inline E batch_norm_input_gradient(const E& dy, const E& x, const E& mean, const E& inv,
                                   const E& gamma, const E& dbeta, const E& dgamma, const E& m) {
  const E xhat = (x - mean) * inv;
  const E scale = gamma * inv / m;
  return scale * (m * dy - dbeta - xhat * dgamma);
}

}  // namespace rg
