// SPDX-License-Identifier: Apache-2.0
// Dead-node elimination and a deterministic execution order.
#pragma once

#include <vector>

#include "graph/graph.h"

namespace rg {

// The storage a value lives in: views (reshape, stop_gradient) share the
// storage of their input, so they map to the root value that owns it.
std::vector<ValueId> storage_roots(const Graph& g);
bool is_view(OpKind k);

// Nodes that must run, in a deterministic order: the live nodes (those that
// lead to an output or a state update), sorted topologically with data edges
// plus write-after-read edges (every reader of a variable version runs before
// the state update that overwrites it); ties are broken by node id.
std::vector<NodeId> schedule(const Graph& g);

}  // namespace rg
