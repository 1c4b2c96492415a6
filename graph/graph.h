// SPDX-License-Identifier: Apache-2.0
// The graph builder is public: rg/graph.h (docs/library.md). What follows is
// the engine's own: shape rules and broadcasting helpers used by the builder,
// autodiff and the backends.
#pragma once

#include <string>
#include <vector>

#include "rg/graph.h"

namespace rg {

// Shape inference for one node; throws GraphError naming the node and shapes.
std::vector<TensorDesc> infer_outputs(const Graph& g, OpKind op, const std::vector<ValueId>& inputs,
                                      const OpAttrs& attrs, const std::string& node_label);

// Which dimensions of `in` a reduction node (mean or sum_to) reduces: mean's
// axes (all when none are given), sum_to's leading dimensions and those its
// target has as 1 where `in` has not.
std::vector<bool> reduced_axes(const Node& n, const Shape& in);
// The input-rank shape it reduces `in` to: 1 on every reduced dimension (the
// keepdims form of its output).
Shape reduced_keepdims_shape(const Node& n, const Shape& in);

// Broadcast two shapes numpy-style; throws GraphError with both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& where);

}  // namespace rg
