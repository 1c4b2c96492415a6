// SPDX-License-Identifier: Apache-2.0
// Fusion: the schedule cut into groups that a backend may lower as one kernel.
//
// A group is either one node, or an "anchor" (convolution or batch norm) and/or
// a chain of elementwise nodes of one shape that consume it. Values used only
// inside a group are "internal": they are never materialised in the arena.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace rg {

struct FusionGroup {
  int id = 0;
  std::vector<NodeId> nodes;     // execution order; nodes[0] is the anchor if has_anchor
  bool has_anchor = false;
  std::vector<ValueId> inputs;   // read from outside the group, in first-use order
  std::vector<ValueId> outputs;  // produced here and read later (or graph outputs)
  std::vector<ValueId> internal; // produced and consumed only here
  Shape shape;                   // the elementwise shape of the chain
  // Horizontal fusion, formed here for every backend: the first group of a
  // run of consecutive groups a backend may run as one launch (each one Adam
  // update with the same hyperparameters and step counter: one network's
  // parameters, for a multi-tensor kernel), or -1. A run's first group has
  // its own id here.
  int horizontal_first = -1;

  bool is_internal(ValueId v) const;
};

bool is_fusion_anchor(OpKind k);

// Groups of the scheduled kernel nodes (leaves and views excluded), in order.
// With enabled = false every node is a group of its own (for testing and debugging).
std::vector<FusionGroup> fuse(const Graph& g, const std::vector<NodeId>& schedule, bool enabled = true);

std::string group_str(const Graph& g, const FusionGroup& group);

// Where a group's internal values live when the kernel materialises them (an
// anchor's result that no post-op absorbed, BatchNorm statistics): decided
// here for every backend. Each value of a node the chain loop does not run
// (`in_chain`, default: the elementwise nodes) that is internal and
// `materialised` gets, in node order, an output of the group's elementwise
// chain with its shape and dtype (not a variable's storage, not given to
// another, and `compatible` with it, e.g. the same memory layout), else
// kNoValue: the backend's kernel scratch. Safe for a backend whose chain loop
// reads every input of an element before it stores that element, at the same
// index: the anchor writes v there, the chain then overwrites each element
// with the output's value after reading it. The plan's peak is often such a
// group's step, so this saves an activation-sized buffer there.
struct InternalHome {
  ValueId value;
  ValueId chain_output;  // kNoValue: scratch
};
std::vector<InternalHome> internal_homes(const Graph& g, const FusionGroup& group,
                                         const std::function<bool(ValueId)>& materialised = {},
                                         const std::function<bool(NodeId)>& in_chain = {},
                                         const std::function<bool(ValueId, ValueId)>& compatible = {});

}  // namespace rg
