// Convolutions: conv2d (x, w) -> y, conv_transpose2d (x, w) -> y (also
// conv2d's input gradient), conv2d_backward_weight (x, dy) -> dw (also
// conv_transpose2d's weight gradient). Weights OIHW for conv2d, IOHW for the
// transposed one; attrs.stride, padding, output_padding.
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {
namespace {

using namespace shape_checks;

int64_t deconv_out(int64_t in, int k, int s, int p, int op) { return (in - 1) * s - 2 * p + k + op; }

std::vector<TensorDesc> conv2d_shape(const ShapeArgs& s) {
  const std::string& node = s.node;
  const OpAttrs& a = s.a;
  expect_rank(node, "input", s.d(0), 4);
  expect_rank(node, "weight", s.d(1), 4);
  const Shape &x = s.d(0).shape, &w = s.d(1).shape;
  if (w[1] != x[1])
    fail(node, "weight " + shape_str(w) + " expects " + std::to_string(w[1]) + " input channels, input is " + shape_str(x));
  const int64_t ho = conv_out(x[2], int(w[2]), a.stride[0], a.padding[0]);
  const int64_t wo = conv_out(x[3], int(w[3]), a.stride[1], a.padding[1]);
  if (ho <= 0 || wo <= 0) fail(node, "input " + shape_str(x) + " too small for kernel " + shape_str(w));
  return {TensorDesc{{x[0], w[0], ho, wo}, s.d(0).dtype}};
}

std::vector<TensorDesc> conv_transpose2d_shape(const ShapeArgs& s) {
  const std::string& node = s.node;
  const OpAttrs& a = s.a;
  expect_rank(node, "input", s.d(0), 4);
  expect_rank(node, "weight", s.d(1), 4);
  const Shape &x = s.d(0).shape, &w = s.d(1).shape;
  if (w[0] != x[1])
    fail(node, "weight " + shape_str(w) + " (IOHW) expects " + std::to_string(w[0]) + " input channels, input is " + shape_str(x));
  for (int i = 0; i < 2; ++i)
    if (a.output_padding[i] < 0 || a.output_padding[i] >= a.stride[i]) fail(node, "output_padding must be in [0, stride)");
  const int64_t ho = deconv_out(x[2], int(w[2]), a.stride[0], a.padding[0], a.output_padding[0]);
  const int64_t wo = deconv_out(x[3], int(w[3]), a.stride[1], a.padding[1], a.output_padding[1]);
  if (ho <= 0 || wo <= 0) fail(node, "output would be empty for input " + shape_str(x));
  return {TensorDesc{{x[0], w[1], ho, wo}, s.d(0).dtype}};
}

std::vector<TensorDesc> conv2d_backward_weight_shape(const ShapeArgs& s) {
  const std::string& node = s.node;
  const OpAttrs& a = s.a;
  expect_rank(node, "input", s.d(0), 4);
  expect_rank(node, "output gradient", s.d(1), 4);
  const Shape &x = s.d(0).shape, &dy = s.d(1).shape, &w = a.shape;
  if (w.size() != 4 || w[0] != dy[1] || w[1] != x[1] || x[0] != dy[0] ||
      conv_out(x[2], int(w[2]), a.stride[0], a.padding[0]) != dy[2] ||
      conv_out(x[3], int(w[3]), a.stride[1], a.padding[1]) != dy[3])
    fail(node, "weight " + shape_str(w) + " does not map input " + shape_str(x) + " to " + shape_str(dy));
  return {TensorDesc{w, s.d(0).dtype}};
}

std::vector<ValueId> conv2d_gradient(Graph& g, const Node& n, const std::vector<ValueId>& dout, ForwardValues& saved) {
  const ValueId dy = dout[0], x = n.inputs[0], w = n.inputs[1];
  const Shape &xs = g.shape(x), &ws = g.shape(w), &ys = g.shape(n.outputs[0]);
  OpAttrs a = n.attrs;
  for (int i = 0; i < 2; ++i)  // output padding that restores the input size exactly
    a.output_padding[size_t(i)] = int(xs[size_t(2 + i)] + 2 * a.padding[size_t(i)] - ws[size_t(2 + i)] -
                                      (ys[size_t(2 + i)] - 1) * a.stride[size_t(i)]);
  // A recomputed input: the weight gradient first, so the copy is freed
  // before the input gradient (as large) is allocated.
  const ValueId xin = saved.activation(x);
  const ValueId dw0 = xin != x ? g.conv2d_backward_weight(xin, dy, ws, n.attrs.stride, n.attrs.padding) : kNoValue;
  const ValueId dx = g.add_node(OpKind::kConvTranspose2d, {dy, w}, a)[0];
  const ValueId dw = dw0 != kNoValue ? dw0 : g.conv2d_backward_weight(xin, dy, ws, n.attrs.stride, n.attrs.padding);
  return {dx, dw};
}

std::vector<ValueId> conv_transpose2d_gradient(Graph& g, const Node& n, const std::vector<ValueId>& dout,
                                               ForwardValues& saved) {
  const ValueId dy = dout[0], x = n.inputs[0], w = n.inputs[1];
  OpAttrs a = n.attrs;
  a.output_padding = {0, 0};
  const ValueId xin = saved.activation(x);  // as above
  const ValueId dw0 = xin != x ? g.conv2d_backward_weight(dy, xin, g.shape(w), n.attrs.stride, n.attrs.padding) : kNoValue;
  const ValueId dx = g.add_node(OpKind::kConv2d, {dy, w}, a)[0];
  const ValueId dw = dw0 != kNoValue ? dw0 : g.conv2d_backward_weight(dy, xin, g.shape(w), n.attrs.stride, n.attrs.padding);
  return {dx, dw};
}

const OpRule kRules[] = {
    {OpKind::kConv2d, "conv2d", 2, 1, 0, conv2d_shape, conv2d_gradient},
    {OpKind::kConvTranspose2d, "conv_transpose2d", 2, 1, 0, conv_transpose2d_shape, conv_transpose2d_gradient},
    {OpKind::kConv2dBackwardWeight, "conv2d_backward_weight", 2, 1, 0, conv2d_backward_weight_shape, nullptr},
};

}  // namespace

std::span<const OpRule> convolution_op_rules() { return kRules; }

}  // namespace rg
