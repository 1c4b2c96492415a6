// SPDX-License-Identifier: Apache-2.0
#include "graph/elementwise_ops.h"

namespace rg {
namespace {

using K = EwInstrKind;
constexpr int8_t A = kEwA, B = kEwB, S = kEwScalar, S2 = kEwScalar2, Zero = kEwZero, One = kEwOne;
constexpr int8_t T0 = kEwTemp, T1 = kEwTemp + 1, T2 = kEwTemp + 2, T3 = kEwTemp + 3, T4 = kEwTemp + 4,
                 T5 = kEwTemp + 5;

using Grads = std::vector<ValueId>;

// The formulas keep the reference backend's order of operations (the golden
// files were made with it): e.g. tanh' is a * (1 - b * b), not a - a * b * b.
const std::vector<ElementwiseOp>& table() {
  // One row per op: name, arity, broadcasts, formula, gradient.
  // clang-format off
  static const std::vector<ElementwiseOp> rows = {
      {OpKind::kRelu, "relu", 1, false, {{{K::kSelectPositive, A, A, Zero}}, T0},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues& saved) -> Grads {
         return {g.add_node(OpKind::kReluBackward, {dy, saved.sign_source(n.outputs[0])})[0]};
       }},
      {OpKind::kLeakyRelu, "leaky_relu", 1, false, {{{K::kMul, A, S}, {K::kSelectPositive, A, A, T0}}, T1},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues& saved) -> Grads {
         // With a positive slope the output has the sign of the input, so the
         // mask can come from the output: the input (a convolution's output)
         // then need not be kept for the backward pass and can fuse into it.
         const ValueId mask = n.attrs.scalar > 0 ? saved.sign_source(n.outputs[0]) : n.inputs[0];
         return {g.add_node(OpKind::kLeakyReluBackward, {dy, mask}, n.attrs)[0]};
       }},
      {OpKind::kTanh, "tanh", 1, false, {{{K::kTanh, A}}, T0},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         return {g.add_node(OpKind::kTanhBackward, {dy, n.outputs[0]})[0]};
       }},
      // Gradients of the activations: (dy, y or x).
      {OpKind::kReluBackward, "relu_backward", 2, false, {{{K::kSelectPositive, B, A, Zero}}, T0}},
      {OpKind::kLeakyReluBackward, "leaky_relu_backward", 2, false,
       {{{K::kMul, A, S}, {K::kSelectPositive, B, A, T0}}, T1}},
      {OpKind::kTanhBackward, "tanh_backward", 2, false, {{{K::kMul, B, B}, {K::kSub, One, T0}, {K::kMul, A, T1}}, T2}},
      {OpKind::kAdd, "add", 2, true, {{{K::kAdd, A, B}}, T0},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         return {sum_to_like(g, dy, n.inputs[0]), sum_to_like(g, dy, n.inputs[1])};
       }},
      {OpKind::kSub, "sub", 2, true, {{{K::kSub, A, B}}, T0},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         return {sum_to_like(g, dy, n.inputs[0]), sum_to_like(g, g.mul_scalar(dy, -1.0), n.inputs[1])};
       }},
      {OpKind::kMul, "mul", 2, true, {{{K::kMul, A, B}}, T0},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         return {sum_to_like(g, g.mul(dy, n.inputs[1]), n.inputs[0]), sum_to_like(g, g.mul(dy, n.inputs[0]), n.inputs[1])};
       }},
      {OpKind::kDiv, "div", 2, true, {{{K::kDiv, A, B}}, T0},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         const ValueId b = n.inputs[1];
         const ValueId da = sum_to_like(g, g.div(dy, b), n.inputs[0]);
         // d(a/b)/db = -(a/b)/b
         const ValueId db = sum_to_like(g, g.mul_scalar(g.div(g.mul(dy, n.outputs[0]), b), -1.0), b);
         return {da, db};
       }},
      {OpKind::kAddScalar, "add_scalar", 1, false, {{{K::kAdd, A, S}}, T0},
       [](Graph&, const Node&, ValueId dy, ForwardValues&) -> Grads { return {dy}; }},
      {OpKind::kMulScalar, "mul_scalar", 1, false, {{{K::kMul, A, S}}, T0},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads { return {g.mul_scalar(dy, n.attrs.scalar)}; }},
      {OpKind::kSquare, "square", 1, false, {{{K::kMul, A, A}}, T0},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         return {g.mul(dy, g.mul_scalar(n.inputs[0], 2.0))};
       }},
      {OpKind::kSigmoid, "sigmoid", 1, false,
       {{{K::kSub, Zero, A}, {K::kExp, T0}, {K::kAdd, One, T1}, {K::kDiv, One, T2}}, T3},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {  // dy * y * (1 - y)
         const ValueId y = n.outputs[0];
         return {g.mul(dy, g.mul(y, g.add_scalar(g.mul_scalar(y, -1.0), 1.0)))};
       }},
      {OpKind::kElu, "elu", 1, false, {{{K::kExp, A}, {K::kSub, T0, One}, {K::kMul, T1, S}, {K::kSelectPositive, A, A, T2}}, T3},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         return {g.add_node(OpKind::kEluBackward, {dy, n.inputs[0]}, n.attrs)[0]};
       }},
      // dy where x > 0, else dy * alpha * exp(x)
      {OpKind::kEluBackward, "elu_backward", 2, false,
       {{{K::kExp, B}, {K::kMul, T0, S}, {K::kMul, A, T1}, {K::kSelectPositive, B, A, T2}}, T3}},
      // x above the maximum gives it, then below the minimum gives that: a NaN
      // compares false both times and stays.
      {OpKind::kClip, "clip", 1, false,
       {{{K::kSub, A, S2}, {K::kSelectPositive, T0, S2, A}, {K::kSub, S, T1}, {K::kSelectPositive, T2, S, T1}}, T3},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         return {g.add_node(OpKind::kClipBackward, {dy, n.inputs[0]}, n.attrs)[0]};
       }},
      {OpKind::kClipBackward, "clip_backward", 2, false,
       {{{K::kSub, S, B}, {K::kSelectPositive, T0, Zero, A}, {K::kSub, B, S2}, {K::kSelectPositive, T2, Zero, T1}}, T3}},
      {OpKind::kHardSigmoid, "hard_sigmoid", 1, false,
       {{{K::kMul, A, S}, {K::kAdd, T0, S2}, {K::kSub, T1, One}, {K::kSelectPositive, T2, One, T1},
         {K::kSub, Zero, T3}, {K::kSelectPositive, T4, Zero, T3}}, T5},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         return {g.add_node(OpKind::kHardSigmoidBackward, {dy, n.inputs[0]}, n.attrs)[0]};
       }},
      {OpKind::kHardSigmoidBackward, "hard_sigmoid_backward", 2, false,
       {{{K::kMul, B, S}, {K::kAdd, T0, S2}, {K::kSub, One, T1}, {K::kSelectPositive, T2, A, Zero},
         {K::kSelectPositive, T1, T3, Zero}, {K::kMul, T4, S}}, T5}},
      {OpKind::kPRelu, "prelu", 2, true, {{{K::kMul, A, B}, {K::kSelectPositive, A, A, T0}}, T1},
       [](Graph& g, const Node& n, ValueId dy, ForwardValues&) -> Grads {
         // Where x > 0 the gradient passes (relu_backward's mask on x), elsewhere
         // it is scaled by the slope, whose gradient sums dy * x there.
         const ValueId x = n.inputs[0], slope = n.inputs[1];
         const ValueId pos = g.add_node(OpKind::kReluBackward, {dy, x})[0];
         const ValueId neg = g.sub(dy, pos);
         return {sum_to_like(g, g.add(pos, g.mul(neg, slope)), x), sum_to_like(g, g.mul(neg, x), slope)};
       }},
      // A view of its input (the schedule never runs it); its gradient is none.
      {OpKind::kStopGradient, "stop_gradient", 1, false, {{}, A},
       [](Graph&, const Node&, ValueId, ForwardValues&) -> Grads { return {kNoValue}; }},
  };
  // clang-format on
  return rows;
}

}  // namespace

ValueId sum_to_like(Graph& g, ValueId d, ValueId like) {
  return g.shape(d) == g.shape(like) ? d : g.sum_to(d, g.shape(like));
}

const ElementwiseOp* elementwise_op(OpKind k) {
  for (const ElementwiseOp& e : table())
    if (e.op == k) return &e;
  return nullptr;
}

}  // namespace rg
