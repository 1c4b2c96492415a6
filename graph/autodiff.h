// Reverse-mode autodiff: appends the backward nodes of `loss` to the same graph.
#pragma once

#include <map>
#include <vector>

#include "graph/graph.h"

namespace rg {

// d loss / d v for every v in `wrt` (parameters, variable versions or any
// intermediate value). `loss` must be a scalar (numel 1). Only nodes on a path
// from some wrt value to the loss get backward nodes; stop_gradient cuts paths.
// A wrt value that does not influence the loss gets a zero gradient.
std::map<ValueId, ValueId> gradients(Graph& g, ValueId loss, const std::vector<ValueId>& wrt);

}  // namespace rg
