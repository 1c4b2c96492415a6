// SPDX-License-Identifier: Apache-2.0
// Convolutions: conv2d (x, w) -> y, conv_transpose2d (x, w) -> y (also
// conv2d's input gradient), conv2d_backward_weight (x, dy) -> dw (also
// conv_transpose2d's weight gradient). Weights OIHW for conv2d, IOHW for the
// transposed one ([c_out, c_in / groups, kh, kw] and [c_in, c_out / groups,
// kh, kw]); attrs.stride, padding, dilation, groups, output_padding.
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {
namespace {

using namespace shape_checks;

int64_t deconv_out(int64_t in, int k, int s, int p, int pe, int op, int d) {
  return (in - 1) * s - p - pe + (int64_t(k) - 1) * d + 1 + op;
}

void expect_conv_attrs(const std::string& node, const OpAttrs& a) {
  for (int i = 0; i < 2; ++i)
    if (a.stride[i] < 1 || a.dilation[i] < 1 || a.padding[i] < 0 || a.pad_end(size_t(i)) < 0)
      fail(node, "needs stride >= 1, dilation >= 1 and padding >= 0");
  if (a.groups < 1) fail(node, "groups must be at least 1");
}

// conv2d (weight OIHW) and conv_transpose2d (weight IOHW, attrs.output_padding).
std::vector<TensorDesc> conv_shape(const ShapeArgs& s, bool transposed) {
  const std::string& node = s.node;
  const OpAttrs& a = s.a;
  expect_rank(node, "input", s.d(0), 4);
  expect_rank(node, "weight", s.d(1), 4);
  expect_conv_attrs(node, a);
  const Shape &x = s.d(0).shape, &w = s.d(1).shape;
  const int64_t g = a.groups;
  const int64_t ci = transposed ? w[0] : w[1] * g, co = transposed ? w[1] * g : w[0];
  if (ci != x[1])
    fail(node, "weight " + shape_str(w) + (transposed ? " (IOHW)" : "") + " with " + std::to_string(g) +
                   " group(s) expects " + std::to_string(ci) + " input channels, input is " + shape_str(x));
  if ((transposed ? ci : co) % g != 0)
    fail(node, "groups " + std::to_string(g) + " must divide the " + std::to_string(transposed ? ci : co) +
                   (transposed ? " input" : " output") + " channels");
  if (transposed)
    for (int i = 0; i < 2; ++i)
      if (a.output_padding[i] < 0 || (a.output_padding[i] >= a.stride[i] && a.output_padding[i] >= a.dilation[i]))
        fail(node, "output_padding must be smaller than the stride or the dilation");
  auto out = [&](size_t i) {
    return transposed
               ? deconv_out(x[2 + i], int(w[2 + i]), a.stride[i], a.padding[i], a.pad_end(i), a.output_padding[i],
                            a.dilation[i])
               : conv_out(x[2 + i], int(w[2 + i]), a.stride[i], a.padding[i], a.pad_end(i), a.dilation[i]);
  };
  const int64_t ho = out(0), wo = out(1);
  if (ho <= 0 || wo <= 0)
    fail(node, transposed ? "output would be empty for input " + shape_str(x)
                          : "input " + shape_str(x) + " too small for kernel " + shape_str(w));
  return {TensorDesc{{x[0], co, ho, wo}, s.d(0).dtype}};
}

std::vector<TensorDesc> conv2d_backward_weight_shape(const ShapeArgs& s) {
  const std::string& node = s.node;
  const OpAttrs& a = s.a;
  expect_rank(node, "input", s.d(0), 4);
  expect_rank(node, "output gradient", s.d(1), 4);
  expect_conv_attrs(node, a);
  const Shape &x = s.d(0).shape, &dy = s.d(1).shape, &w = a.shape;
  if (w.size() != 4 || w[0] != dy[1] || w[1] * a.groups != x[1] || dy[1] % a.groups != 0 || x[0] != dy[0] ||
      conv_out(x[2], int(w[2]), a.stride[0], a.padding[0], a.pad_end(0), a.dilation[0]) != dy[2] ||
      conv_out(x[3], int(w[3]), a.stride[1], a.padding[1], a.pad_end(1), a.dilation[1]) != dy[3])
    fail(node,
         "weight " + shape_str(w) + " does not map input " + shape_str(x) + " to " + shape_str(dy));
  return {TensorDesc{w, s.d(0).dtype}};
}

// The input gradient of either kind is the other kind of convolution with
// the same weight; the weight gradient is conv2d_backward_weight (of (x, dy)
// for conv2d, of (dy, x) for the transposed kind).
std::vector<ValueId> conv_gradient(Graph& g, const Node& n, ValueId dy, ForwardValues& saved,
                                   bool transposed) {
  const ValueId x = n.inputs[0], w = n.inputs[1];
  OpAttrs a = n.attrs;
  a.output_padding = {0, 0};
  if (!transposed) {
    const Shape &xs = g.shape(x), &ws = g.shape(w), &ys = g.shape(n.outputs[0]);
    for (int i = 0; i < 2; ++i)  // output padding that restores the input size exactly
      a.output_padding[size_t(i)] =
          int(xs[size_t(2 + i)] + a.padding[size_t(i)] + a.pad_end(size_t(i)) -
              (ws[size_t(2 + i)] - 1) * a.dilation[size_t(i)] - 1 - (ys[size_t(2 + i)] - 1) * a.stride[size_t(i)]);
  }
  const ValueId xin = saved.activation(x);
  auto weight_gradient = [&] {
    OpAttrs wa = n.attrs;  // stride, padding, dilation, groups
    wa.output_padding = {0, 0};
    wa.shape = g.shape(w);
    const std::vector<ValueId> in = transposed ? std::vector<ValueId>{dy, xin} : std::vector<ValueId>{xin, dy};
    return g.add_node(OpKind::kConv2dBackwardWeight, in, wa)[0];
  };
  // A recomputed input: the weight gradient first, so the copy is freed
  // before the input gradient (as large) is allocated.
  const ValueId dw0 = xin != x ? weight_gradient() : kNoValue;
  const ValueId dx =
      g.add_node(transposed ? OpKind::kConv2d : OpKind::kConvTranspose2d, {dy, w}, a)[0];
  return {dx, dw0 != kNoValue ? dw0 : weight_gradient()};
}

const OpRule kRules[] = {
    {OpKind::kConv2d, "conv2d", 2, 1, 0, [](const ShapeArgs& s) { return conv_shape(s, false); },
     [](Graph& g, const Node& n, const std::vector<ValueId>& dout, ForwardValues& saved) {
       return conv_gradient(g, n, dout[0], saved, false);
     }},
    {OpKind::kConvTranspose2d, "conv_transpose2d", 2, 1, 0,
     [](const ShapeArgs& s) { return conv_shape(s, true); },
     [](Graph& g, const Node& n, const std::vector<ValueId>& dout, ForwardValues& saved) {
       return conv_gradient(g, n, dout[0], saved, true);
     }},
    {OpKind::kConv2dBackwardWeight, "conv2d_backward_weight", 2, 1, 0, conv2d_backward_weight_shape,
     nullptr},
};

}  // namespace

std::span<const OpRule> convolution_op_rules() {
  return kRules;
}

}  // namespace rg
