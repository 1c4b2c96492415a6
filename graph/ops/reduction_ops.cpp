// SPDX-License-Identifier: Apache-2.0
// Reductions, broadcasts and reshapes: mean over attrs.axes (all when empty,
// attrs.keepdims), sum_to attrs.shape (the gradient of broadcasting),
// broadcast_to and reshape to attrs.shape.
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {

using namespace shape_checks;

std::vector<bool> reduced_axes(const Node& n, const Shape& in) {
  std::vector<bool> r(in.size(), false);
  if (n.op == OpKind::kSumTo) {  // the target shape, right-aligned to the input's rank
    const Shape& t = n.attrs.shape;
    const size_t off = in.size() - t.size();
    for (size_t i = 0; i < in.size(); ++i) r[i] = i < off || (t[i - off] == 1 && in[i] != 1);
    return r;
  }
  for (int a : normalized_axes(op_name(n.op), n.attrs.axes, static_cast<int>(in.size())))
    r[size_t(a)] = true;
  return r;
}

Shape reduced_keepdims_shape(const Node& n, const Shape& in) {
  Shape kept = in;
  const std::vector<bool> r = reduced_axes(n, in);
  for (size_t i = 0; i < in.size(); ++i)
    if (r[i]) kept[i] = 1;
  return kept;
}

namespace {

std::vector<TensorDesc> mean_shape(const ShapeArgs& s) {
  const auto axes = normalized_axes(s.node, s.a.axes, s.d(0).rank());
  Shape out;
  for (int i = 0; i < s.d(0).rank(); ++i) {
    const bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      out.push_back(s.d(0).shape[size_t(i)]);
    else if (s.a.keepdims)
      out.push_back(1);
  }
  return {TensorDesc{out, s.d(0).dtype}};
}

std::vector<TensorDesc> sum_to_shape(const ShapeArgs& s) {
  if (broadcast_shapes(s.a.shape, s.d(0).shape, s.node) != s.d(0).shape)
    fail(s.node, "cannot sum " + shape_str(s.d(0).shape) + " to " + shape_str(s.a.shape));
  return {TensorDesc{s.a.shape, s.d(0).dtype}};
}

std::vector<TensorDesc> broadcast_to_shape(const ShapeArgs& s) {
  if (broadcast_shapes(s.a.shape, s.d(0).shape, s.node) != s.a.shape)
    fail(s.node, "cannot broadcast " + shape_str(s.d(0).shape) + " to " + shape_str(s.a.shape));
  return {TensorDesc{s.a.shape, s.d(0).dtype}};
}

std::vector<TensorDesc> reshape_shape(const ShapeArgs& s) {
  if (numel(s.a.shape) != s.d(0).numel())
    fail(s.node, "cannot reshape " + shape_str(s.d(0).shape) + " to " + shape_str(s.a.shape));
  return {TensorDesc{s.a.shape, s.d(0).dtype}};
}

std::vector<ValueId> mean_gradient(Graph& g, const Node& n, const std::vector<ValueId>& dout,
                                   ForwardValues&) {
  const Shape& xs = g.shape(n.inputs[0]);
  const Shape kept = reduced_keepdims_shape(n, xs);
  const int64_t count = numel(xs) / numel(kept);
  ValueId d = g.shape(n.outputs[0]) == kept ? dout[0] : g.reshape(dout[0], kept);
  d = g.mul_scalar(d, 1.0 / static_cast<double>(count));
  return {g.broadcast_to(d, xs)};
}

const OpRule kRules[] = {
    {OpKind::kMean, "mean", 1, 1, 0, mean_shape, mean_gradient},
    {OpKind::kSumTo, "sum_to", 1, 1, 0, sum_to_shape,
     [](Graph& g, const Node& n, const std::vector<ValueId>& dout, ForwardValues&)
         -> std::vector<ValueId> { return {g.broadcast_to(dout[0], g.shape(n.inputs[0]))}; }},
    {OpKind::kBroadcastTo, "broadcast_to", 1, 1, 0, broadcast_to_shape,
     [](Graph& g, const Node& n, const std::vector<ValueId>& dout,
        ForwardValues&) -> std::vector<ValueId> { return {sum_to_like(g, dout[0], n.inputs[0])}; }},
    {OpKind::kReshape, "reshape", 1, 1, 0, reshape_shape,
     [](Graph& g, const Node& n, const std::vector<ValueId>& dout, ForwardValues&)
         -> std::vector<ValueId> { return {g.reshape(dout[0], g.shape(n.inputs[0]))}; }},
};

}  // namespace

std::span<const OpRule> reduction_op_rules() {
  return kRules;
}

}  // namespace rg
