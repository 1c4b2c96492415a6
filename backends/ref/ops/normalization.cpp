// SPDX-License-Identifier: Apache-2.0
// Batch normalisation over (N, H, W) per channel, in double
// (graph/batch_norm_rules.h): training and inference forward, the training
// backward, the running statistics' update; group norm.
#include <algorithm>
#include <cmath>

#include "backends/ref/ops/ref_ops.h"
#include "engine/op_geometry.h"
#include "engine/plane_loops.h"
#include "graph/batch_norm_rules.h"
#include "graph/state_update_rules.h"

namespace rg::ref {
namespace {

template <typename T>
void batch_norm_forward(const RefKernel<T>& k, const Node& n) {
  const Shape& s = k.graph().shape(n.inputs[0]);
  const int64_t N = s[0], C = s[1], HW = s[2] * s[3], M = N * HW;
  const T *x = k.p(n.inputs[0]), *gamma = k.p(n.inputs[1]), *beta = k.p(n.inputs[2]);
  T* y = k.p(n.outputs[0]);
  const bool train = n.op == OpKind::kBatchNormTrain;
  for (int64_t c = 0; c < C; ++c) {
    double mean, var;
    if (train) {
      double sum = 0, sq = 0;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < HW; ++j) sum += double(x[(i * C + c) * HW + j]);
      mean = sum / double(M);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < HW; ++j)
          sq += batch_norm_centred_square(double(x[(i * C + c) * HW + j]), mean);
      var = sq / double(M);
      k.p(n.outputs[1])[c] = T(mean);
      k.p(n.outputs[2])[c] = T(var);
    } else {
      mean = double(k.p(n.inputs[3])[c]);
      var = double(k.p(n.inputs[4])[c]);
    }
    const double inv = batch_norm_inv_std(var, n.attrs.eps, 1.0);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < HW; ++j) {
        const int64_t e = (i * C + c) * HW + j;
        y[e] = T(batch_norm_normalize(double(x[e]), mean, inv, double(gamma[c]), double(beta[c])));
      }
  }
}

template <typename T>
void batch_norm_backward(const RefKernel<T>& k, const Node& n) {
  const Shape& s = k.graph().shape(n.inputs[1]);
  const int64_t N = s[0], C = s[1], HW = s[2] * s[3], M = N * HW;
  const T *dy = k.p(n.inputs[0]), *x = k.p(n.inputs[1]), *gamma = k.p(n.inputs[2]),
          *mean = k.p(n.inputs[3]), *var = k.p(n.inputs[4]);
  T *dx = k.p(n.outputs[0]), *dgamma = k.p(n.outputs[1]), *dbeta = k.p(n.outputs[2]);
  for (int64_t c = 0; c < C; ++c) {
    const double mu = double(mean[c]), inv = batch_norm_inv_std(double(var[c]), n.attrs.eps, 1.0);
    double sdy = 0, sdyx = 0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < HW; ++j) {
        const int64_t e = (i * C + c) * HW + j;
        sdy += double(dy[e]);
        sdyx += batch_norm_dy_xhat(double(dy[e]), double(x[e]), mu, inv);
      }
    if (dgamma) dgamma[c] = T(sdyx);
    if (dbeta) dbeta[c] = T(sdy);
    if (!dx) continue;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < HW; ++j) {
        const int64_t e = (i * C + c) * HW + j;
        dx[e] = T(batch_norm_input_gradient(double(dy[e]), double(x[e]), mu, inv, double(gamma[c]),
                                            sdy, sdyx, double(M)));
      }
  }
}

// Group norm: per (sample, group) over its C / G channels and H * W
// positions, the batch norm rules (two passes in double), then per channel
// scale and bias (engine/plane_loops.h).
template <typename T>
void lower_group_norm(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, &n] {
    const Shape& s = k.graph().shape(n.inputs[0]);
    for (int64_t ng = 0; ng < s[0] * n.attrs.groups; ++ng)
      group_norm_group(k.p(n.inputs[0]), k.p(n.inputs[1]), k.p(n.inputs[2]), k.p(n.outputs[0]),
                       s[1], s[2] * s[3], n.attrs.groups, n.attrs.eps, ng);
  });
}

// LRN in double (engine/plane_loops.h).
template <typename T>
void lower_lrn(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, l = lrn_geometry(k.graph(), n), x = n.inputs[0], y = n.outputs[0]] {
    for (int64_t b = 0; b < l.n; ++b)
      for (int64_t c = 0; c < l.c; ++c) lrn_plane(l, k.p(x), k.p(y), b, c);
  });
}

template <typename T>
void lower_forward(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, &n] { batch_norm_forward(k, n); });
}

template <typename T>
void lower_backward(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, &n] { batch_norm_backward(k, n); });
}

template <typename T>
void lower_running_update(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, r = n.inputs[0], s = n.inputs[1], u = running_update(n.attrs),
              c = k.graph().desc(n.inputs[0]).numel()] {
    for (int64_t i = 0; i < c; ++i)
      k.p(r)[i] = T(running_update_element(double(k.p(r)[i]), double(k.p(s)[i]), u));
  });
}

const RefOp kOps[] = {
    {OpKind::kBatchNormTrain, lower_forward<float>, lower_forward<double>},
    {OpKind::kBatchNormInference, lower_forward<float>, lower_forward<double>},
    // Per channel, the sums over dy come first, then each dx element is
    // written after its dy element is read: dx may take dy's buffer.
    {OpKind::kBatchNormBackward, lower_backward<float>, lower_backward<double>, {0, 0}},
    {OpKind::kBatchNormRunningUpdate, lower_running_update<float>, lower_running_update<double>},
    {OpKind::kGroupNorm, lower_group_norm<float>, lower_group_norm<double>},
    {OpKind::kLrn, lower_lrn<float>, lower_lrn<double>},
};

}  // namespace

std::span<const RefOp> normalization_ops() {
  return kOps;
}

}  // namespace rg::ref
