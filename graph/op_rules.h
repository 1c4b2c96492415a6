// SPDX-License-Identifier: Apache-2.0
// Every op that is not elementwise, defined once in the file of its family
// (graph/ops/*.cpp): name, inputs, outputs, shape rule with errors that name
// the node, and gradient rule. The enum and each attribute's meaning are in
// rg/op.h. Elementwise ops have their own table (graph/elementwise_ops.h).
// Adding such an op: its OpKind, a row in its family's file, its kernel in
// each backend, a case in tests/common/op_cases.h.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "graph/elementwise_ops.h"
#include "graph/graph.h"

namespace rg {

// What a shape rule sees: the graph, the node's inputs and attributes, and a
// label for errors ("conv2d node #12 ...").
struct ShapeArgs {
  const Graph& g;
  const std::vector<ValueId>& in;
  const OpAttrs& a;
  const std::string& node;
  const TensorDesc& d(size_t i) const { return g.desc(in.at(i)); }
};
using ShapeRule = std::vector<TensorDesc> (*)(const ShapeArgs& s);

// d loss / d input for each input (kNoValue: none), given the gradient of
// each output (kNoValue where an output gets none). A rule that cannot
// differentiate this node throws NoGradient; autodiff names the node.
using OpGradientRule = std::vector<ValueId> (*)(Graph& g, const Node& n,
                                                const std::vector<ValueId>& dout,
                                                ForwardValues& saved);
struct NoGradient {
  const char* why;
};

struct OpRule {
  OpKind op;
  const char* name;
  int inputs;  // -1: any number, at least one
  int outputs;
  uint8_t integer_inputs;  // bit i: input i is i64 (every other input is floating point)
  ShapeRule shape;
  OpGradientRule gradient;  // null: not differentiable
  // A state update writes output i in place into the variable storage of
  // input writes[i]; -1 (every entry, for any other op): none.
  std::array<int8_t, 3> writes = {-1, -1, -1};
};

// The op's row, or null for an elementwise op.
const OpRule* op_rule(OpKind k);

// The families' rows (graph/ops/*.cpp).
std::span<const OpRule> leaf_op_rules();
std::span<const OpRule> convolution_op_rules();
std::span<const OpRule> batch_norm_op_rules();
std::span<const OpRule> reduction_op_rules();
std::span<const OpRule> state_op_rules();
std::span<const OpRule> pooling_op_rules();
std::span<const OpRule> image_op_rules();
std::span<const OpRule> linear_op_rules();

}  // namespace rg
