// SPDX-License-Identifier: Apache-2.0
// ONNX's activations and arithmetic: Relu, LeakyRelu, PRelu, Elu, Sigmoid,
// Tanh, Clip, HardSigmoid, HardSwish, Add, Sub, Mul, Div, Sum (numpy
// broadcasting, as the engine's), Softmax and LogSoftmax. Integer constants
// (shape arithmetic) are computed on the host.
#include <cmath>
#include <limits>
#include <numeric>

#include "frontends/onnx/onnx_importer.h"
#include "graph/graph.h"

namespace rg::onnx {
namespace {

void unary(NodeContext& c, ValueId (*f)(Graph&, ValueId, NodeContext&)) {
  c.set_output(0, f(c.graph(), c.value(0), c));
}

void relu(NodeContext& c) {
  unary(c, [](Graph& g, ValueId x, NodeContext&) { return g.relu(x); });
}
void leaky_relu(NodeContext& c) {
  unary(c, [](Graph& g, ValueId x, NodeContext& n) {
    return g.leaky_relu(x, n.attr_float("alpha", 0.01f));
  });
}
void elu(NodeContext& c) {
  unary(c,
        [](Graph& g, ValueId x, NodeContext& n) { return g.elu(x, n.attr_float("alpha", 1.f)); });
}
void sigmoid(NodeContext& c) {
  unary(c, [](Graph& g, ValueId x, NodeContext&) { return g.add_node(OpKind::kSigmoid, {x})[0]; });
}
void tanh_op(NodeContext& c) {
  unary(c, [](Graph& g, ValueId x, NodeContext&) { return g.tanh(x); });
}
void hard_sigmoid(NodeContext& c) {
  unary(c, [](Graph& g, ValueId x, NodeContext& n) {
    const double alpha = n.attr_float("alpha", 0.2f), beta = n.attr_float("beta", 0.5f);
    return g.hard_sigmoid(x, alpha, beta);
  });
}
// x * HardSigmoid(x) with alpha 1/6, beta 1/2.
void hard_swish(NodeContext& c) {
  unary(c, [](Graph& g, ValueId x, NodeContext&) {
    return g.mul(x, g.hard_sigmoid(x, 1.0 / 6, 0.5));
  });
}
void prelu(NodeContext& c) {
  c.set_output(0, c.graph().prelu(c.value(0), c.value(1)));
}

void clip(NodeContext& c) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  double lo = -inf, hi = inf;
  if (c.opset() < 11) {
    lo = c.attr_float("min", -std::numeric_limits<float>::max());
    hi = c.attr_float("max", std::numeric_limits<float>::max());
  } else {
    if (c.has_input(1)) lo = c.constant(1, "min").at(0);
    if (c.has_input(2)) hi = c.constant(2, "max").at(0);
  }
  c.set_output(0, c.graph().clip(c.value(0), lo, hi));
}

// Integer arithmetic on constants (shape computations), as numpy (Div truncates as ONNX's integer
// Div).
Const int_binary(NodeContext& c, const Const& a, const Const& b, char op) {
  const Shape y = broadcast_shapes(a.shape, b.shape, c.op());
  const std::vector<int64_t> sa = broadcast_strides(y, a.shape), sb = broadcast_strides(y, b.shape);
  const std::vector<int64_t> av = a.ints("input"), bv = b.ints("input");
  std::vector<int64_t> out(size_t(numel(y)));
  for (int64_t e = 0; e < int64_t(out.size()); ++e) {
    int64_t oa = 0, ob = 0, rest = e;
    for (size_t d = y.size(); d-- > 0;) {
      const int64_t i = rest % y[d];
      rest /= y[d];
      oa += i * sa[d], ob += i * sb[d];
    }
    const int64_t x = av[size_t(oa)], z = bv[size_t(ob)];
    if (op == '/' && z == 0) c.unsupported("integer division by zero");
    out[size_t(e)] = op == '+' ? x + z : op == '-' ? x - z : op == '*' ? x * z : x / z;
  }
  return Const::of_ints(std::move(out), y);
}

template <char Op>
void binary(NodeContext& c) {
  if (c.is_const(0) && c.is_const(1) &&
      !(c.constant(0, "A").is_float && c.constant(1, "B").is_float))
    return c.set_output(0, int_binary(c, c.constant(0, "A"), c.constant(1, "B"), Op));
  Graph& g = c.graph();
  const ValueId a = c.value(0), b = c.value(1);
  c.set_output(0, Op == '+'   ? g.add(a, b)
                  : Op == '-' ? g.sub(a, b)
                  : Op == '*' ? g.mul(a, b)
                              : g.div(a, b));
}

void sum(NodeContext& c) {
  ValueId y = c.value(0);
  for (size_t i = 1; i < c.num_inputs(); ++i) y = c.graph().add(y, c.value(i));
  if (c.num_inputs() == 1) y = c.graph().mul_scalar(y, 1.0);
  c.set_output(0, y);
}

// Softmax and LogSoftmax. Before opset 13 the input is seen as 2-D,
// [prod(shape[:axis]), prod(shape[axis:])], and normalised along the second.
void softmax_like(NodeContext& c, OpKind op) {
  const Shape x = c.shape(0);
  Graph& g = c.graph();
  if (c.opset() < 13) {
    const int64_t axis = normalized_axis(c, c.attr_int("axis", 1), x.size(), "axis");
    const int64_t outer =
        std::accumulate(x.begin(), x.begin() + axis, int64_t(1), std::multiplies<>());
    const Shape flat_shape = {outer, numel(x) / std::max<int64_t>(outer, 1)};
    if (flat_shape == x) return c.set_output(0, g.add_node(op, {c.value(0)})[0]);
    const ValueId flat = g.reshape(c.value(0), flat_shape);
    return c.set_output(0, g.reshape(g.add_node(op, {flat})[0], x));
  }
  OpAttrs a;
  a.axes = {int(normalized_axis(c, c.attr_int("axis", -1), x.size(), "axis"))};
  c.set_output(0, g.add_node(op, {c.value(0)}, a)[0]);
}
void softmax(NodeContext& c) {
  softmax_like(c, OpKind::kSoftmax);
}
void log_softmax(NodeContext& c) {
  softmax_like(c, OpKind::kLogSoftmax);
}

const OnnxOp kOps[] = {
    {"Relu", relu},
    {"LeakyRelu", leaky_relu},
    {"Elu", elu},
    {"Sigmoid", sigmoid},
    {"Tanh", tanh_op},
    {"HardSigmoid", hard_sigmoid},
    {"HardSwish", hard_swish},
    {"PRelu", prelu},
    {"Clip", clip},
    {"Add", binary<'+'>},
    {"Sub", binary<'-'>},
    {"Mul", binary<'*'>},
    {"Div", binary<'/'>},
    {"Sum", sum},
    {"Softmax", softmax},
    {"LogSoftmax", log_softmax},
};

}  // namespace

std::span<const OnnxOp> elementwise_ops() {
  return kOps;
}

}  // namespace rg::onnx
