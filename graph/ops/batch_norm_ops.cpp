// SPDX-License-Identifier: Apache-2.0
// BatchNorm over NCHW's channel axis: batch_norm_train (x, gamma, beta) ->
// (y, batch mean, biased batch var), batch_norm_inference (x, gamma, beta,
// mean, var) -> y, batch_norm_backward (dy, x, gamma, mean, var) -> (dx,
// dgamma, dbeta), and the running-statistic update (running, batch) ->
// running' (in place; graph/state_update_rules.h). attrs.eps, momentum,
// unbiased and scalar (n, for the unbiased variance). And group_norm (x,
// scale, bias) -> y over attrs.groups groups of channels (forward only).
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {
namespace {

using namespace shape_checks;

std::vector<TensorDesc> batch_norm_shape(const ShapeArgs& s) {
  expect_rank(s.node, "input", s.d(0), 4);
  const int64_t c = s.d(0).shape[1];
  for (size_t i = 1; i < s.in.size(); ++i)
    expect_channel_vector(s.node, "per-channel parameter", s.d(i), c, s.d(0).dtype);
  if (s.in.size() == 5) return {s.d(0)};  // inference
  return {s.d(0), TensorDesc{{c}, s.d(0).dtype}, TensorDesc{{c}, s.d(0).dtype}};
}

std::vector<TensorDesc> batch_norm_backward_shape(const ShapeArgs& s) {
  expect_same(s.node, "output gradient", s.d(0), "input", s.d(1));
  expect_rank(s.node, "input", s.d(1), 4);
  const int64_t c = s.d(1).shape[1];
  for (size_t i = 2; i < 5; ++i)
    expect_channel_vector(s.node, "per-channel parameter", s.d(i), c, s.d(0).dtype);
  return {s.d(1), TensorDesc{{c}, s.d(0).dtype}, TensorDesc{{c}, s.d(0).dtype}};
}

std::vector<TensorDesc> group_norm_shape(const ShapeArgs& s) {
  expect_rank(s.node, "input", s.d(0), 4);
  const int64_t c = s.d(0).shape[1];
  if (s.a.groups < 1 || c % s.a.groups != 0)
    fail(s.node, "groups " + std::to_string(s.a.groups) + " must divide the " + std::to_string(c) + " channels");
  if (!(s.a.eps >= 0)) fail(s.node, "epsilon must be non-negative");
  for (size_t i = 1; i < 3; ++i) expect_channel_vector(s.node, "per-channel scale and bias", s.d(i), c, s.d(0).dtype);
  return {s.d(0)};
}

std::vector<TensorDesc> running_update_shape(const ShapeArgs& s) {
  expect_same(s.node, "running statistic", s.d(0), "batch statistic", s.d(1));
  return {s.d(0)};
}

std::vector<ValueId> batch_norm_train_gradient(Graph& g, const Node& n,
                                               const std::vector<ValueId>& dout, ForwardValues&) {
  if (dout[1] != kNoValue || dout[2] != kNoValue)
    throw NoGradient{"has a gradient flowing into its batch statistics"};
  OpAttrs a;
  a.eps = n.attrs.eps;
  const auto& x = n.inputs;
  const auto r =
      g.add_node(OpKind::kBatchNormBackward, {dout[0], x[0], x[1], n.outputs[1], n.outputs[2]}, a);
  return {r[0], r[1], r[2]};
}

std::vector<ValueId> batch_norm_inference_gradient(Graph& g, const Node& n,
                                                   const std::vector<ValueId>& dout,
                                                   ForwardValues&) {
  // y = (x - mean) * gamma / sqrt(var + eps) + beta: dx is the same affine map
  // applied to dy with zero mean and zero shift; dgamma and dbeta are those
  // of the training-mode rule evaluated at the running statistics.
  const ValueId dy = dout[0];
  const auto& x = n.inputs;
  const int64_t c = g.shape(x[0])[1];
  const ValueId zero = g.fill({c}, 0.0);
  const ValueId dx = g.batch_norm_inference(dy, x[1], zero, zero, x[4], n.attrs.eps);
  OpAttrs a;
  a.eps = n.attrs.eps;
  const auto r = g.add_node(OpKind::kBatchNormBackward, {dy, x[0], x[1], x[3], x[4]}, a);
  return {dx, r[1], r[2], kNoValue, kNoValue};
}

std::vector<TensorDesc> lrn_shape(const ShapeArgs& s) {
  expect_rank(s.node, "input", s.d(0), 4);
  if (s.a.kernel[0] < 1) fail(s.node, "size must be at least 1");
  return {s.d(0)};
}

const OpRule kRules[] = {
    {OpKind::kLrn, "lrn", 1, 1, 0, lrn_shape, nullptr},
    {OpKind::kGroupNorm, "group_norm", 3, 1, 0, group_norm_shape, nullptr},
    {OpKind::kBatchNormTrain, "batch_norm_train", 3, 3, 0, batch_norm_shape,
     batch_norm_train_gradient},
    {OpKind::kBatchNormInference, "batch_norm_inference", 5, 1, 0, batch_norm_shape,
     batch_norm_inference_gradient},
    {OpKind::kBatchNormBackward, "batch_norm_backward", 5, 3, 0, batch_norm_backward_shape,
     nullptr},
    {OpKind::kBatchNormRunningUpdate,
     "batch_norm_running_update",
     2,
     1,
     0,
     running_update_shape,
     nullptr,
     {0, -1, -1}},
};

}  // namespace

std::span<const OpRule> batch_norm_op_rules() {
  return kRules;
}

}  // namespace rg
