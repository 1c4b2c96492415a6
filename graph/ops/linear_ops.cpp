// SPDX-License-Identifier: Apache-2.0
// A classifier's ops: matmul (a, b) -> op(a) @ op(b), matrices in the last
// two axes (batch axes broadcast), op transposing where attrs.transpose_a / transpose_b; log_softmax along
// attrs.axes[0] (the last axis when empty: x - max - log(sum(exp(x - max))))
// and its gradient log_softmax_backward (dy, y) -> dy - exp(y) * sum(dy);
// softmax likewise; transpose by a permutation of the axes.
#include <algorithm>

#include "graph/elementwise_ops.h"
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {
namespace {

using namespace shape_checks;

// Matrices in the last two axes; the axes before them (batch) broadcast as numpy's.
std::vector<TensorDesc> matmul_shape(const ShapeArgs& s) {
  const OpAttrs& a = s.a;
  if (s.d(0).rank() < 2 || s.d(1).rank() < 2)
    fail(s.node, "operands must have rank 2 or more, got " + desc_str(s.d(0)) + " and " + desc_str(s.d(1)));
  if (s.d(0).dtype != s.d(1).dtype)
    fail(s.node, "dtypes differ: " + desc_str(s.d(0)) + " and " + desc_str(s.d(1)));
  const Shape &sa = s.d(0).shape, &sb = s.d(1).shape;
  const size_t ra = sa.size(), rb = sb.size();
  const int64_t m = sa[ra - (a.transpose_a ? 1 : 2)], ka = sa[ra - (a.transpose_a ? 2 : 1)];
  const int64_t kb = sb[rb - (a.transpose_b ? 1 : 2)], n = sb[rb - (a.transpose_b ? 2 : 1)];
  if (ka != kb)
    fail(s.node, "inner dimensions differ: " + shape_str(sa) + (a.transpose_a ? "^T" : "") + " @ " +
                     shape_str(sb) + (a.transpose_b ? "^T" : ""));
  Shape y = broadcast_shapes(Shape(sa.begin(), sa.end() - 2), Shape(sb.begin(), sb.end() - 2),
                             s.node + " (batch axes)");
  y.push_back(m);
  y.push_back(n);
  return {TensorDesc{y, s.d(0).dtype}};
}

std::vector<ValueId> matmul_gradient(Graph& g, const Node& n, const std::vector<ValueId>& dout,
                                     ForwardValues&) {
  // y = A B with A = op(a), B = op(b): dA = dy B^T and dB = A^T dy, each
  // written as one matmul of the stored operands (no explicit transposes),
  // summed over the batch dimensions an operand was broadcast along.
  const ValueId dy = dout[0], a = n.inputs[0], b = n.inputs[1];
  const bool ta = n.attrs.transpose_a, tb = n.attrs.transpose_b;
  const ValueId da = ta ? g.matmul(b, dy, tb, true) : g.matmul(dy, b, false, !tb);
  const ValueId db = tb ? g.matmul(dy, a, true, ta) : g.matmul(a, dy, !ta, false);
  return {sum_to_like(g, da, a), sum_to_like(g, db, b)};
}

std::vector<TensorDesc> log_softmax_shape(const ShapeArgs& s) {
  const int rank = s.d(0).rank();
  if (rank < 1) fail(s.node, "needs at least one axis, got " + desc_str(s.d(0)));
  if (s.a.axes.size() > 1) fail(s.node, "takes one axis");
  const int axis = s.a.axes.empty() ? rank - 1 : normalized_axes(s.node, s.a.axes, rank)[0];
  if (s.d(0).shape[size_t(axis)] < 1) fail(s.node, "axis " + std::to_string(axis) + " is empty in " + desc_str(s.d(0)));
  return {s.d(0)};
}

std::vector<TensorDesc> log_softmax_backward_shape(const ShapeArgs& s) {
  expect_same(s.node, "output gradient", s.d(0), "log_softmax output", s.d(1));
  return {s.d(0)};
}

// y * (dy - sum(dy * y)) along the axis, from the graph's own ops.
std::vector<ValueId> softmax_gradient(Graph& g, const Node& n, const std::vector<ValueId>& dout, ForwardValues&) {
  const ValueId y = n.outputs[0];
  const int axis = n.attrs.axes.empty() ? -1 : n.attrs.axes[0];
  const int rank = int(g.shape(y).size());
  const double L = double(g.shape(y)[size_t(axis < 0 ? axis + rank : axis)]);
  const ValueId sum = g.mul_scalar(g.mean(g.mul(dout[0], y), {axis}, true), L);
  return {g.mul(y, g.sub(dout[0], sum))};
}

std::vector<TensorDesc> transpose_shape(const ShapeArgs& s) {
  const Shape& x = s.d(0).shape;
  const std::vector<int>& p = s.a.axes;
  std::vector<char> seen(x.size(), 0);
  if (p.size() != x.size()) fail(s.node, "permutation of " + std::to_string(p.size()) + " axes for " + desc_str(s.d(0)));
  Shape y;
  for (int a : p) {
    if (a < 0 || a >= int(x.size()) || seen[size_t(a)]) fail(s.node, "axes are not a permutation of 0.." + std::to_string(x.size() - 1));
    seen[size_t(a)] = 1;
    y.push_back(x[size_t(a)]);
  }
  return {TensorDesc{y, s.d(0).dtype}};
}

std::vector<ValueId> transpose_gradient(Graph& g, const Node& n, const std::vector<ValueId>& dout, ForwardValues&) {
  OpAttrs a;
  a.axes.assign(n.attrs.axes.size(), 0);
  for (size_t i = 0; i < n.attrs.axes.size(); ++i) a.axes[size_t(n.attrs.axes[i])] = int(i);
  return {g.add_node(OpKind::kTranspose, {dout[0]}, a)[0]};
}

const OpRule kRules[] = {
    {OpKind::kSoftmax, "softmax", 1, 1, 0, log_softmax_shape, softmax_gradient},
    {OpKind::kTranspose, "transpose", 1, 1, 0, transpose_shape, transpose_gradient},
    {OpKind::kMatMul, "matmul", 2, 1, 0, matmul_shape, matmul_gradient},
    {OpKind::kLogSoftmax, "log_softmax", 1, 1, 0, log_softmax_shape,
     [](Graph& g, const Node& n, const std::vector<ValueId>& dout,
        ForwardValues&) -> std::vector<ValueId> {
       return {g.add_node(OpKind::kLogSoftmaxBackward, {dout[0], n.outputs[0]}, n.attrs)[0]};
     }},
    {OpKind::kLogSoftmaxBackward, "log_softmax_backward", 2, 1, 0, log_softmax_backward_shape,
     nullptr},
};

}  // namespace

std::span<const OpRule> linear_op_rules() {
  return kRules;
}

}  // namespace rg
