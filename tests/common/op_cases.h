// SPDX-License-Identifier: Apache-2.0
// The op cases every backend runs: one list, used by the reference backend's
// finite-difference gradient test and by each backend's parity test against
// the reference backend (forward and backward).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <span>

#include "apps/model/ralsgan_step.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "rg/autodiff.h"
#include "graph/graph.h"

namespace rg::testing_ops {

struct Case {
  std::string name;
  // Builds the op on variables made with `param`; returns its output.
  std::function<ValueId(Graph&, const std::function<ValueId(const std::string&, Shape, bool)>&)> build;
  // No parameter is differentiated (the op has no gradient rule): the forward
  // pass is checked against PyTorch in tests/ops/test_op_golden.cpp, and
  // every backend against the reference backend here.
  bool forward_only = false;
  // The graph updates variables in place: a second run gives other results.
  bool stateful = false;
};

using P = std::function<ValueId(const std::string&, Shape, bool)>;

inline std::vector<Case> cases() {
  return {
      {"conv2d_s2p1", [](Graph& g, const P& p) { return g.conv2d(p("x", {2, 3, 7, 6}, true), p("w", {4, 3, 3, 3}, true), 2, 1); }},
      {"conv2d_k4s2p1", [](Graph& g, const P& p) { return g.conv2d(p("x", {2, 2, 8, 8}, true), p("w", {3, 2, 4, 4}, true), 2, 1); }},
      {"conv2d_s1p0_rect", [](Graph& g, const P& p) { return g.conv2d(p("x", {1, 2, 5, 6}, true), p("w", {3, 2, 2, 3}, true), 1, 0); }},
      {"conv_transpose2d_k4s2p1", [](Graph& g, const P& p) { return g.conv_transpose2d(p("x", {2, 3, 4, 5}, true), p("w", {3, 2, 4, 4}, true), 2, 1); }},
      {"conv_transpose2d_k4s1p0", [](Graph& g, const P& p) { return g.conv_transpose2d(p("x", {2, 5, 1, 1}, true), p("w", {5, 3, 4, 4}, true), 1, 0); }},
      {"conv_transpose2d_k3s2p1op1", [](Graph& g, const P& p) { return g.conv_transpose2d(p("x", {1, 2, 3, 3}, true), p("w", {2, 3, 3, 3}, true), 2, 1, 1); }},
      {"conv2d_groups2_dilation2", [](Graph& g, const P& p) {
         OpAttrs a;
         a.stride = {1, 2}, a.padding = {2, 1}, a.dilation = {2, 1}, a.groups = 2;
         return g.add_node(OpKind::kConv2d, {p("x", {2, 4, 7, 6}, true), p("w", {6, 2, 3, 3}, true)}, a)[0]; }},
      {"conv2d_depthwise", [](Graph& g, const P& p) {  // one group per input channel, two outputs each
         OpAttrs a;
         a.stride = {2, 2}, a.padding = {1, 1}, a.groups = 3;
         return g.add_node(OpKind::kConv2d, {p("x", {2, 3, 6, 6}, true), p("w", {6, 1, 3, 3}, true)}, a)[0]; }},
      {"conv_transpose2d_groups2_dilation2", [](Graph& g, const P& p) {
         OpAttrs a;
         a.stride = {2, 2}, a.padding = {1, 0}, a.output_padding = {1, 0}, a.dilation = {2, 2}, a.groups = 2;
         return g.add_node(OpKind::kConvTranspose2d, {p("x", {2, 4, 3, 4}, true), p("w", {4, 3, 3, 2}, true)}, a)[0]; }},
      {"conv2d_pads_asymmetric", [](Graph& g, const P& p) {  // ONNX pads [1, 0, 2, 1], stride 2
         OpAttrs a;
         a.stride = {2, 2}, a.padding = {1, 0}, a.padding_end = {2, 1};
         return g.add_node(OpKind::kConv2d, {p("x", {2, 2, 6, 5}, true), p("w", {3, 2, 3, 3}, true)}, a)[0]; }},
      {"conv_transpose2d_pads_asymmetric", [](Graph& g, const P& p) {  // pads [0, 1, 1, 2]
         OpAttrs a;
         a.stride = {2, 2}, a.padding = {0, 1}, a.padding_end = {1, 2};
         return g.add_node(OpKind::kConvTranspose2d, {p("x", {1, 3, 3, 4}, true), p("w", {3, 2, 3, 3}, true)}, a)[0]; }},
      {"residual_conv_bias_add_relu", [](Graph& g, const P& p) {  // ResNet's block end: oneDNN's binary post-op
         const ValueId c = g.conv2d(p("x", {2, 16, 6, 6}, true), p("w", {16, 16, 1, 1}, true), 1, 0);
         const ValueId b = g.reshape(p("b", {16}, true), {1, 16, 1, 1});
         return g.relu(g.add(g.add(c, b), p("residual", {2, 16, 6, 6}, true))); }},
      {"batch_norm_train", [](Graph& g, const P& p) { return g.batch_norm_train(p("x", {3, 4, 2, 3}, true), p("gamma", {4}, true), p("beta", {4}, true)).y; }},
      {"batch_norm_inference", [](Graph& g, const P& p) {
         return g.batch_norm_inference(p("x", {2, 3, 2, 2}, true), p("gamma", {3}, true), p("beta", {3}, true), p("mean", {3}, false), p("var", {3}, false)); }},
      {"relu", [](Graph& g, const P& p) { return g.relu(p("x", {2, 3, 4}, true)); }},
      {"leaky_relu", [](Graph& g, const P& p) { return g.leaky_relu(p("x", {2, 3, 4}, true), 0.2); }},
      {"tanh", [](Graph& g, const P& p) { return g.tanh(p("x", {2, 3, 4}, true)); }},
      {"elu", [](Graph& g, const P& p) {
         OpAttrs a;
         a.scalar = 0.7;
         return g.add_node(OpKind::kElu, {p("x", {2, 3, 4}, true)}, a)[0]; }},
      {"clip", [](Graph& g, const P& p) {
         OpAttrs a;
         a.scalar = -0.5, a.scalar2 = 0.6;
         return g.add_node(OpKind::kClip, {p("x", {2, 3, 4}, true)}, a)[0]; }},
      {"hard_sigmoid", [](Graph& g, const P& p) {
         OpAttrs a;
         a.scalar = 0.8, a.scalar2 = 0.3;
         return g.add_node(OpKind::kHardSigmoid, {p("x", {2, 3, 4}, true)}, a)[0]; }},
      {"hard_swish", [](Graph& g, const P& p) {  // ONNX HardSwish: x * hard_sigmoid(x, 1/6, 1/2), here on [-3, 3]
         OpAttrs a;
         a.scalar = 1.0 / 6, a.scalar2 = 0.5;
         const ValueId x = g.mul_scalar(p("x", {2, 3, 4}, true), 3.0);
         return g.mul(x, g.add_node(OpKind::kHardSigmoid, {x}, a)[0]); }},
      {"prelu", [](Graph& g, const P& p) {
         return g.add_node(OpKind::kPRelu, {p("x", {2, 3, 2, 2}, true), p("slope", {3, 1, 1}, true)})[0]; }},
      {"add_broadcast", [](Graph& g, const P& p) { return g.add(p("a", {2, 3, 4}, true), p("b", {3, 1}, true)); }},
      {"sub_broadcast", [](Graph& g, const P& p) { return g.sub(p("a", {4}, true), p("b", {2, 3, 4}, true)); }},
      {"mul_broadcast", [](Graph& g, const P& p) { return g.mul(p("a", {2, 1, 4}, true), p("b", {3, 1}, true)); }},
      {"div_broadcast", [](Graph& g, const P& p) { return g.div(p("a", {2, 3, 4}, true), p("den", {3, 4}, true)); }},
      {"scalars", [](Graph& g, const P& p) { return g.mul_scalar(g.add_scalar(p("x", {5}, true), 0.7), -1.3); }},
      {"square", [](Graph& g, const P& p) { return g.square(p("x", {3, 2}, true)); }},
      {"sigmoid", [](Graph& g, const P& p) { return g.add_node(OpKind::kSigmoid, {p("x", {2, 3, 4}, true)})[0]; }},
      {"mean_all", [](Graph& g, const P& p) { return g.mean(p("x", {2, 3, 4}, true)); }},
      {"mean_axes", [](Graph& g, const P& p) { return g.mean(p("x", {2, 3, 4}, true), {0, 2}); }},
      {"mean_keepdims", [](Graph& g, const P& p) { return g.mean(p("x", {2, 3, 4}, true), {-2}, true); }},
      {"sum_to", [](Graph& g, const P& p) { return g.sum_to(p("x", {2, 3, 4}, true), {3, 1}); }},
      {"broadcast_to", [](Graph& g, const P& p) { return g.broadcast_to(p("x", {3, 1}, true), {2, 3, 4}); }},
      {"reshape", [](Graph& g, const P& p) { return g.tanh(g.reshape(p("x", {2, 6}, true), {3, 4})); }},
      {"fused_chain", [](Graph& g, const P& p) {  // an anchor and an elementwise chain in one group
         const ValueId c = g.conv2d(p("x", {2, 2, 5, 5}, true), p("w", {3, 2, 3, 3}, true), 1, 1);
         return g.tanh(g.mul(g.leaky_relu(c, 0.2), g.add_scalar(c, 1.0))); }},
      {"matmul", [](Graph& g, const P& p) { return g.matmul(p("a", {3, 4}, true), p("b", {4, 5}, true)); }},
      {"matmul_ta", [](Graph& g, const P& p) { return g.matmul(p("a", {4, 3}, true), p("b", {4, 5}, true), true, false); }},
      {"matmul_tb", [](Graph& g, const P& p) { return g.matmul(p("a", {3, 4}, true), p("b", {5, 4}, true), false, true); }},
      {"matmul_ta_tb", [](Graph& g, const P& p) { return g.matmul(p("a", {4, 3}, true), p("b", {5, 4}, true), true, true); }},
      {"matmul_batched", [](Graph& g, const P& p) { return g.matmul(p("a", {2, 3, 4}, true), p("b", {2, 4, 5}, true)); }},
      {"matmul_batch_broadcast_tb", [](Graph& g, const P& p) {  // a's batch [2, 1] against b's [3]; b transposed
         return g.matmul(p("a", {2, 1, 3, 4}, true), p("b", {3, 5, 4}, true), false, true); }},
      {"log_softmax", [](Graph& g, const P& p) { return g.log_softmax(p("x", {4, 7}, true)); }},
      {"log_softmax_rank3", [](Graph& g, const P& p) { return g.log_softmax(g.mul_scalar(p("x", {2, 3, 5}, true), 4.0)); }},
      {"log_softmax_axis1", [](Graph& g, const P& p) {  // along the channels of NCHW
         OpAttrs a;
         a.axes = {1};
         return g.add_node(OpKind::kLogSoftmax, {g.mul_scalar(p("x", {2, 4, 3, 2}, true), 3.0)}, a)[0]; }},
      {"softmax_axis1", [](Graph& g, const P& p) {
         OpAttrs a;
         a.axes = {1};
         return g.add_node(OpKind::kSoftmax, {g.mul_scalar(p("x", {2, 4, 3, 2}, true), 3.0)}, a)[0]; }},
      {"softmax", [](Graph& g, const P& p) { return g.add_node(OpKind::kSoftmax, {g.mul_scalar(p("x", {3, 2, 5}, true), 3.0)})[0]; }},
      {"transpose_0231", [](Graph& g, const P& p) {  // NCHW -> NHWC
         OpAttrs a;
         a.axes = {0, 2, 3, 1};
         return g.add_node(OpKind::kTranspose, {p("x", {2, 3, 4, 5}, true)}, a)[0]; }},
      {"transpose_2d", [](Graph& g, const P& p) {
         OpAttrs a;
         a.axes = {1, 0};
         return g.tanh(g.add_node(OpKind::kTranspose, {p("x", {3, 7}, true)}, a)[0]); }},
      {"max_pool2d_k2s2", [](Graph& g, const P& p) { return g.max_pool2d(p("x", {2, 3, 6, 7}, true), {2, 2}, {2, 2}); }},
      {"max_pool2d_k3s2p1", [](Graph& g, const P& p) {  // overlapping, padded windows: gradients add up
         return g.max_pool2d(p("x", {1, 2, 7, 6}, true), {3, 3}, {2, 2}, {1, 1}); }},
      {"max_pool2d_k3s2_ceil", [](Graph& g, const P& p) {  // ceil mode: a last window that hangs over
         OpAttrs a;
         a.kernel = {3, 3}, a.stride = {2, 2}, a.ceil_mode = true;
         return g.add_node(OpKind::kMaxPool2d, {p("x", {2, 3, 8, 7}, true)}, a)[0]; }},
      {"rals_loss", [](Graph& g, const P& p) { return model::rals_loss(g, p("a", {6}, true), p("b", {6}, true), 0.8); }},
      {"fill", [](Graph& g, const P& p) { return g.mul(p("x", {2, 3}, true), g.fill({2, 3}, 0.5)); }},
      {"stop_gradient", [](Graph& g, const P& p) {  // the square's path is cut: only x's gradient flows
         return g.mul(p("x", {2, 3}, true), g.stop_gradient(g.square(p("s", {2, 3}, false)))); }},
      {"avg_pool2d_k3s2p1_excl", [](Graph& g, const P& p) {
         return g.avg_pool2d(p("x", {2, 3, 7, 6}, true), {3, 3}, {2, 2}, {1, 1}, false); }},
      {"avg_pool2d_k2s2_incl", [](Graph& g, const P& p) { return g.avg_pool2d(p("x", {1, 2, 6, 5}, true), {2, 2}, {2, 2}); }},
      {"avg_pool2d_k3s2p1_ceil_incl", [](Graph& g, const P& p) {  // the divisor stops at the padding
         OpAttrs a;
         a.kernel = {3, 3}, a.stride = {2, 2}, a.padding = {1, 1}, a.ceil_mode = true;
         return g.add_node(OpKind::kAvgPool2d, {p("x", {2, 3, 8, 7}, true)}, a)[0]; }},
      {"avg_pool2d_k2s2_ceil_excl", [](Graph& g, const P& p) {
         OpAttrs a;
         a.kernel = {2, 2}, a.stride = {2, 2}, a.ceil_mode = true, a.count_include_pad = false;
         return g.add_node(OpKind::kAvgPool2d, {p("x", {1, 2, 5, 7}, true)}, a)[0]; }},
      {"max_pool2d_pads_asymmetric", [](Graph& g, const P& p) {  // SAME_UPPER: the extra row and column at the end
         OpAttrs a;
         a.kernel = {3, 3}, a.stride = {2, 2}, a.padding = {0, 0}, a.padding_end = {1, 1};
         return g.add_node(OpKind::kMaxPool2d, {p("x", {1, 2, 6, 6}, true)}, a)[0]; }},
      {"avg_pool2d_pads_asymmetric_excl", [](Graph& g, const P& p) {
         OpAttrs a;
         a.kernel = {2, 3}, a.stride = {2, 2}, a.padding = {1, 0}, a.padding_end = {0, 1}, a.count_include_pad = false;
         return g.add_node(OpKind::kAvgPool2d, {p("x", {2, 2, 5, 6}, true)}, a)[0]; }},
      {"avg_pool2d_pads_asymmetric_ceil_incl", [](Graph& g, const P& p) {  // the divisor stops at the end padding
         OpAttrs a;
         a.kernel = {3, 3}, a.stride = {2, 2}, a.padding = {0, 1}, a.padding_end = {1, 0}, a.ceil_mode = true;
         return g.add_node(OpKind::kAvgPool2d, {p("x", {1, 2, 8, 7}, true)}, a)[0]; }},
      // Forward-only ops.
      {"max_pool2d_dilated_ceil", [](Graph& g, const P& p) {  // ONNX's dilations: forward only
         OpAttrs a;
         a.kernel = {3, 2}, a.stride = {2, 1}, a.padding = {2, 1}, a.padding_end = {1, 0}, a.dilation = {2, 3};
         a.ceil_mode = true;
         return g.add_node(OpKind::kMaxPool2d, {p("x", {1, 2, 9, 10}, false)}, a)[0]; }, true},
      {"avg_pool2d_dilated_excl", [](Graph& g, const P& p) {
         OpAttrs a;
         a.kernel = {2, 3}, a.stride = {1, 2}, a.padding = {1, 2}, a.dilation = {3, 2}, a.count_include_pad = false;
         return g.add_node(OpKind::kAvgPool2d, {p("x", {2, 2, 8, 9}, false)}, a)[0]; }, true},
      {"avg_pool2d_dilated_incl_ceil", [](Graph& g, const P& p) {
         OpAttrs a;
         a.kernel = {2, 2}, a.stride = {2, 2}, a.padding = {1, 1}, a.dilation = {2, 2}, a.ceil_mode = true;
         return g.add_node(OpKind::kAvgPool2d, {p("x", {1, 3, 7, 8}, false)}, a)[0]; }, true},
      {"concat_axis1", [](Graph& g, const P& p) {
         return g.concat({p("a", {2, 2, 3, 3}, false), p("b", {2, 1, 3, 3}, false), p("c", {2, 3, 3, 3}, false)}, 1); }, true},
      {"resize_bilinear", [](Graph& g, const P& p) { return g.resize_bilinear(p("x", {1, 2, 5, 4}, false), 9, 7); }, true},
      {"pad_constant", [](Graph& g, const P& p) {
         OpAttrs a;
         a.pads = {0, 1, 2, 0, 0, 0, 1, 3};
         a.scalar = 0.25;
         return g.add_node(OpKind::kPad, {p("x", {2, 2, 3, 4}, false)}, a)[0]; }, true},
      {"pad_reflect", [](Graph& g, const P& p) {
         OpAttrs a;
         a.pads = {0, 0, 2, 1, 0, 0, 1, 3};
         a.pad_mode = OpAttrs::PadMode::kReflect;
         return g.add_node(OpKind::kPad, {p("x", {1, 2, 4, 5}, false)}, a)[0]; }, true},
      {"pad_edge", [](Graph& g, const P& p) {
         OpAttrs a;
         a.pads = {1, 2, 0, 3};
         a.pad_mode = OpAttrs::PadMode::kEdge;
         return g.add_node(OpKind::kPad, {p("x", {3, 4}, false)}, a)[0]; }, true},
      {"resize_nearest", [](Graph& g, const P& p) {
         OpAttrs a;
         a.shape = {7, 10};
         return g.add_node(OpKind::kResizeNearest, {p("x", {2, 3, 3, 4}, false)}, a)[0]; }, true},
      {"lrn_size5", [](Graph& g, const P& p) {
         OpAttrs a;
         a.kernel = {5, 1}, a.scalar = 0.5, a.scalar2 = 0.75, a.bias = 2.0;
         return g.add_node(OpKind::kLrn, {p("x", {2, 7, 3, 3}, false)}, a)[0]; }, true},
      {"lrn_size4", [](Graph& g, const P& p) {
         OpAttrs a;
         a.kernel = {4, 1}, a.scalar = 0.3, a.scalar2 = 0.6, a.bias = 1.0;
         return g.add_node(OpKind::kLrn, {p("x", {2, 6, 2, 3}, false)}, a)[0]; }, true},
      {"group_norm_g2", [](Graph& g, const P& p) {
         OpAttrs a;
         a.groups = 2;
         a.eps = 1e-3;
         return g.add_node(OpKind::kGroupNorm, {p("x", {2, 4, 3, 5}, false), p("s", {4}, false), p("b", {4}, false)}, a)[0]; }, true},
      {"group_norm_instance", [](Graph& g, const P& p) {  // InstanceNormalization: one group per channel
         OpAttrs a;
         a.groups = 3;
         return g.add_node(OpKind::kGroupNorm, {p("x", {2, 3, 4, 4}, false), p("s", {3}, false), p("b", {3}, false)}, a)[0]; }, true},
      // State updates (forward only, and a second run moves the state on).
      {"adam_update", [](Graph& g, const P& p) {
         const ValueId step = g.increment(g.variable("step", {1}, DType::i64));
         return g.adam_update(p("w", {7}, false), p("grad", {7}, false), p("m", {7}, false), p("v_var", {7}, false), step,
                              {0.01, 0.5, 0.999, 1e-8}); }, true, true},
      {"batch_norm_running_update", [](Graph& g, const P& p) {
         const Graph::BatchNormOutputs o = g.batch_norm_train(p("x", {3, 2, 2, 2}, false), p("gamma", {2}, false), p("beta", {2}, false));
         OpAttrs a;
         a.momentum = 0.1;
         a.unbiased = true;
         a.scalar = 3 * 2 * 2;
         return g.add_node(OpKind::kBatchNormRunningUpdate, {p("running_var", {2}, false), o.var}, a)[0]; }, true, true},
      // The generator's moving average: ema + (beta - 1) * (ema - w), assigned to ema.
      {"assign_moving_average", [](Graph& g, const P& p) {
         const ValueId ema = p("ema", {3, 5}, false), beta = p("beta", {1}, false);
         const ValueId next = g.add(ema, g.mul(g.sub(ema, p("w", {3, 5}, false)), g.add_scalar(beta, -1.0)));
         return g.assign(ema, next); }, true, true},
  };
}

// The cases whose gradients are checked (against finite differences on the
// reference backend, against it on the others).
// A GPU's cuDNN refuses convolutions whose padding differs between sides
// (the conv*_pads_asymmetric cases), naming why: the tests that compile
// every case on a GPU expect this refusal there.
inline bool is_cudnn_padding_refusal(const std::exception& e) {
  return std::string(e.what()).find("cuDNN's convolution descriptor") != std::string::npos;
}

inline std::vector<Case> differentiable_cases() {
  std::vector<Case> r;
  for (const Case& c : cases())
    if (!c.forward_only) r.push_back(c);
  return r;
}

struct Param {
  std::string name;
  Shape shape;
  bool differentiate;
  ValueId value;
};

// A case built into a graph: y = op(params), loss = sum(y * r) for a random r
// (so every output element matters), and d loss / d param for every
// differentiable param. y, the loss and the gradients are graph outputs.
struct BuiltCase {
  std::shared_ptr<Graph> graph;
  std::vector<Param> params;
  ValueId y = kNoValue, loss = kNoValue;
  std::map<ValueId, ValueId> grads;  // param value -> gradient value
};

inline BuiltCase build_case(const Case& c, DType t) {
  BuiltCase b;
  b.graph = std::make_shared<Graph>(t);
  Graph& g = *b.graph;
  auto param = [&](const std::string& name, Shape shape, bool diff) {
    const ValueId v = g.variable(name, shape);
    b.params.push_back({name, shape, diff, v});
    return v;
  };
  b.y = c.build(g, param);
  const ValueId r = g.variable("__r", g.shape(b.y));
  b.loss = g.mul_scalar(g.mean(g.mul(b.y, r)), double(g.desc(b.y).numel()));
  g.mark_output(b.y, "y");
  g.mark_output(b.loss, "loss");
  std::vector<ValueId> wrt;
  for (const Param& p : b.params)
    if (p.differentiate) wrt.push_back(p.value);
  b.grads = gradients(g, b.loss, wrt);
  for (const auto& [v, d] : b.grads) g.mark_output(d);
  return b;
}

// Random values in [-1, 1] kept 0.05 away from 0 (the kinks of ReLU-like ops);
// variances and denominators in [0.5, 1.5]. Same seed, same values.
inline std::map<std::string, std::vector<double>> random_values(const BuiltCase& b, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::map<std::string, std::vector<double>> values;
  auto make = [&](const std::string& name, const Shape& shape) {
    const bool positive = name.find("var") != std::string::npos || name == "den";
    std::vector<double> v(size_t(numel(shape)));
    for (double& x : v) {
      x = u(rng);
      if (std::abs(x) < 0.05) x += x < 0 ? -0.05 : 0.05;
      if (positive) x = 0.5 + std::abs(x);
    }
    values[name] = v;
  };
  for (const Param& p : b.params) make(p.name, p.shape);
  make("__r", b.graph->shape(b.y));
  return values;
}

inline void set_values(Session& s, const std::map<std::string, std::vector<double>>& values) {
  for (const auto& [name, v] : values) s.set_variable(name, std::span<const double>(v));
}

}  // namespace rg::testing_ops
