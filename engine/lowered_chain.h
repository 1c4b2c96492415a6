// SPDX-License-Identifier: Apache-2.0
// A fusion group's elementwise chain lowered once, for every backend
// (docs/lowering.md): the values it loads (at the chain's shape, or through
// broadcast strides into it), ONE register program of the chain's formulas
// (graph/elementwise_ops.h), and the values it stores (those read outside the
// group). The reference backend interprets it per element, oneDNN per chunk,
// CUDA prints it as source.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "engine/fusion.h"
#include "graph/elementwise_ops.h"

namespace rg {

struct ChainLoad {
  ValueId value = kNoValue;  // kNoValue: an operand of the backend's own (see ChainHead)
  int reg = -1;
  bool full = false;  // the chain's shape: element e is at index e
  // Otherwise: broadcast strides over the chain's shape (0 on broadcast dims).
  std::vector<int64_t> strides;
};

struct ChainStore {
  ValueId value;
  int reg;
};

struct ChainNode {
  NodeId node;
  // Its instructions end here in program.code (they start where the previous node's end).
  size_t code_end;
  int result;  // the register of its output
};

struct LoweredChain {
  Shape shape;
  std::vector<ChainLoad> loads;
  // Values the backend already holds in registers (no load).
  std::vector<std::pair<ValueId, int>> given;
  std::vector<ChainNode> nodes;
  std::vector<ChainStore> stores;
  EwRegisterProgram program;  // registers, instructions, constants (attrs.scalar, 0, 1)
  std::map<ValueId, int> reg_of;      // every value that has a register

  // The register of value v: given, computed by an earlier node, or loaded at first use.
  int operand(const Graph& g, ValueId v);
  // A load of the backend's own (value kNoValue), e.g. a per-channel vector it computes.
  int own_load(std::vector<int64_t> strides);
};

// A backend's own lowering of some chain node (oneDNN's BatchNorm-inference
// head as a per-channel scale and shift): appends its instructions to
// program.code and returns its output register, or -1 to leave the node to
// its formula.
using ChainHead = std::function<int(const Node& n, LoweredChain& chain)>;

// Lowers `chain` (elementwise nodes of `group`, in order) at the group's shape.
// `given`: values already in registers when the chain starts (an anchor's
// result a backend keeps in a register).
LoweredChain lower_chain(const Graph& g, const FusionGroup& group, const std::vector<NodeId>& chain,
                         const std::vector<ValueId>& given = {}, const ChainHead& head = {});

}  // namespace rg
