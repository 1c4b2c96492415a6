// SPDX-License-Identifier: Apache-2.0
// The operator set of the IR. Each node has one OpKind and the attributes it
// needs. Its shape and gradient rules are a row of its family's table
// (graph/ops/*.cpp, graph/elementwise_ops.cpp), and each backend lowers it
// through a row of its own op registry (engine/op_registry.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rg/tensor.h"

namespace rg {

enum class OpKind : uint8_t {
  // Leaves.
  kInput,     // fed by the session before each run
  kVariable,  // persistent state (parameters, optimizer moments, BN statistics, counters)
  kFill,      // a constant tensor filled with attrs.scalar
  // Convolutions (NCHW; weights OIHW for conv2d, IOHW for conv_transpose2d as
  // PyTorch: [c_out, c_in / groups, kh, kw] and [c_in, c_out / groups, kh, kw]);
  // attrs.stride, padding, dilation, groups, output_padding.
  kConv2d,                // (x, w) -> y
  kConvTranspose2d,       // (x, w) -> y; also conv2d's input gradient
  kConv2dBackwardWeight,  // (x, dy) -> dw of conv2d(x, w) = y; also conv_transpose2d's weight grad
  // Batch normalisation over (N, H, W) per channel.
  kBatchNormTrain,           // (x, gamma, beta) -> (y, batch mean, biased batch var)
  kBatchNormInference,       // (x, gamma, beta, mean, var) -> y
  kBatchNormBackward,        // (dy, x, gamma, mean, var) -> (dx, dgamma, dbeta), training mode
  kBatchNormRunningUpdate,   // (running, batch stat) -> running'; in place, state write
  // Activations and their derivatives.
  kRelu,
  kLeakyRelu,  // attrs.scalar = negative slope
  kTanh,
  kReluBackward,       // (dy, y)
  kLeakyReluBackward,  // (dy, x or y): dy where the second input > 0, else dy * slope
  kTanhBackward,       // (dy, y)
  // Elementwise arithmetic with numpy broadcasting.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kAddScalar,  // x + attrs.scalar
  kMulScalar,  // x * attrs.scalar
  kSquare,
  // Classification ops (the Fashion-MNIST classifier's, docs/classifier.md).
  kMatMul,              // (a, b) -> op(a) @ op(b) in the last two axes, batch axes broadcast; op transposes
                        // where attrs.transpose_a / _b
  kLogSoftmax,          // along attrs.axes[0] (the last axis when empty): x - max - log(sum(exp(x - max)))
  kLogSoftmaxBackward,  // (dy, y = log_softmax(x)) -> dy - exp(y) * sum(dy) along the same axis
  // Reductions and shape.
  kMean,         // over attrs.axes (all when empty), attrs.keepdims
  kSumTo,        // sum a broadcast result back to attrs.shape (gradient of broadcasting)
  kBroadcastTo,  // to attrs.shape
  kReshape,      // to attrs.shape
  kStopGradient,
  // State updates (in place on variables).
  kAdamUpdate,  // (param, grad, m, v, step) -> (param', m', v')
  kIncrement,   // (counter) -> counter + 1
  // Pooling and the metrics' Inception-v3 ops, NCHW. Pooling has gradient
  // rules; concat and resize are forward-only (autodiff rejects them).
  kMaxPool2d,          // attrs.kernel, stride, padding, ceil_mode (pads never win)
  kMaxPool2dBackward,  // (dy, x) -> dx, max pooling's attrs: each window's dy goes to its first maximum
  kAvgPool2d,          // attrs.kernel, stride, padding, count_include_pad, ceil_mode
  kConcat,          // (x0, x1, ..., xk) along attrs.axes[0]; any number (>= 1) of inputs
  kResizeBilinear,  // to attrs.shape = {H', W'}; source coordinates by attrs.resize (default as
                    // F.interpolate(bilinear, align_corners=False))
  kSigmoid,         // 1 / (1 + exp(-x)); build with Graph::add_node(OpKind::kSigmoid, {x})
  // More activations (elementwise), and the gradients training needs.
  kElu,                  // x > 0 ? x : attrs.scalar * (exp(x) - 1)
  kEluBackward,          // (dy, x)
  kClip,                 // min(max(x, attrs.scalar), attrs.scalar2); NaN stays NaN
  kClipBackward,         // (dy, x): dy where scalar <= x <= scalar2, else 0 (as torch.clamp)
  kHardSigmoid,          // max(0, min(1, attrs.scalar * x + attrs.scalar2)) (ONNX alpha, beta)
  kHardSigmoidBackward,  // (dy, x): alpha * dy where 0 < alpha * x + beta < 1
  kPRelu,                // (x, slope) with broadcasting: x > 0 ? x : slope * x
  kSoftmax,    // along attrs.axes[0] (last when empty): exp(x - max) / sum(exp(x - max)), in double
  kTranspose,  // y's axis i is x's axis attrs.axes[i] (a permutation)
  // Gathers along each axis (engine/op_geometry.h's AxisGather), forward only.
  kPad,            // attrs.pads (begin per axis, then end per axis), attrs.pad_mode; constant attrs.scalar
  kResizeNearest,  // NCHW to attrs.shape = {H', W'}; by default source index floor(d * in / out), as
                   // F.interpolate(mode="nearest"); ONNX's modes through attrs.resize
  kAvgPool2dBackward,  // (dy) -> dx of shape attrs.shape: each window's dy / its divisor to its inputs
  // Local response normalisation across channels (ONNX LRN, NCHW): y = x /
  // (attrs.bias + attrs.scalar / size * sum of x^2 over channels [c - (size-1)/2
  // rounded down, c + (size-1)/2 rounded up])^attrs.scalar2, size = attrs.kernel[0].
  kLrn,
  // Normalisation over groups of channels (ONNX GroupNormalization, opset 21;
  // InstanceNormalization is groups = C): (x, scale, bias), x NCHW, scale and
  // bias per channel -> y. Each (sample, group of C / attrs.groups channels)
  // is normalised by its own mean and biased variance (attrs.eps), then each
  // channel scaled and shifted. Forward only.
  kGroupNorm,
  // (variable, value) -> variable' = value, written in place into the
  // variable's storage: a state update whose value the graph computes (the
  // generator's moving average, `Graph::assign`). Not differentiable.
  kAssign,
};

const char* op_name(OpKind k);

// Attributes; each op reads the fields it documents above.
struct OpAttrs {
  std::array<int, 2> stride{1, 1};
  std::array<int, 2> padding{0, 0};  // convolutions and pooling: at the top and left
  // Convolutions and pooling: padding at the bottom and right where it differs
  // from `padding` (ONNX's asymmetric pads, auto_pad SAME_*); -1 means the same.
  std::array<int, 2> padding_end{-1, -1};
  int pad_end(size_t axis) const { return padding_end[axis] < 0 ? padding[axis] : padding_end[axis]; }
  std::array<int, 2> output_padding{0, 0};
  double scalar = 0.0;
  double scalar2 = 0.0;  // a second constant (clip's maximum, hard_sigmoid's beta)
  double eps = 1e-5;
  double momentum = 0.1;
  bool unbiased = false;  // BatchNormRunningUpdate: apply n / (n - 1) to the batch variance
  std::vector<int> axes;
  bool keepdims = false;
  Shape shape;
  // Pooling (kMaxPool2d, its backward, kAvgPool2d).
  std::array<int, 2> kernel{1, 1};
  bool count_include_pad = true;  // average: padding counts in the divisor (the part past it never does)
  // The output size rounds up, as PyTorch's ceil_mode: a last window that
  // starts inside the input (or its leading padding) is kept.
  bool ceil_mode = false;
  // Convolutions and GroupNorm: the number of channel groups (dividing the
  // channels; a depthwise convolution has one per input channel).
  int groups = 1;
  // Convolutions and pooling: the spacing of the kernel's taps (pooling's has no gradient).
  std::array<int, 2> dilation{1, 1};
  // MatMul: multiply by the transpose of the first / second operand.
  bool transpose_a = false, transpose_b = false;
  // LRN's additive constant (its k).
  double bias = 1.0;
  // Pad: begin for each axis, then end for each axis (ONNX's order), >= 0.
  std::vector<int64_t> pads;
  enum class PadMode : uint8_t { kConstant, kReflect, kEdge } pad_mode = PadMode::kConstant;
  // Resize (kResizeNearest, kResizeBilinear): how an output index d maps to a
  // source coordinate (ONNX Resize's coordinate_transformation_mode), with
  // scale = out / in or the model's own scale where given (ONNX then also
  // takes in * scale, unrounded, as the output length in align_corners).
  enum class ResizeCoord : uint8_t {
    kTorch,             // F.interpolate: nearest floor(d * in / out); bilinear (d + 0.5) * in / out - 0.5
    kHalfPixel,         // (d + 0.5) / scale - 0.5
    kPytorchHalfPixel,  // the same, but 0 where the output axis has length 1
    kAlignCorners,      // d * (in - 1) / (out - 1), 0 where out = 1
    kAsymmetric,        // d / scale
    kTfHalfPixelForNn,  // (d + 0.5) / scale
  };
  // Nearest: how the source coordinate rounds to an index (ONNX nearest_mode;
  // kTorch always floors). The index is then clamped to the axis.
  enum class NearestRound : uint8_t { kFloor, kCeil, kRoundPreferFloor, kRoundPreferCeil };
  struct ResizeMode {
    ResizeCoord coord = ResizeCoord::kTorch;
    NearestRound round = NearestRound::kFloor;
    std::array<double, 2> scale{0, 0};  // out / in per spatial axis where the model gives it; 0: out / in
  } resize;
  // Adam.
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
};

// Families the compiler and backends reason about.
bool is_elementwise(OpKind k);   // one output, same index in and out (inputs may broadcast)
bool is_state_update(OpKind k);  // writes variables in place
bool is_leaf(OpKind k);
int num_outputs(OpKind k);

}  // namespace rg

namespace rg {
// For a state update: the input whose variable storage output `output_index` overwrites.
int state_alias_input(OpKind k, int output_index);
}  // namespace rg
