// SPDX-License-Identifier: Apache-2.0
#include "engine/lowered_chain.h"

namespace rg {

int LoweredChain::operand(const Graph& g, ValueId v) {
  if (auto it = reg_of.find(v); it != reg_of.end()) return it->second;
  ChainLoad l{v, program.num_regs++, g.shape(v) == shape, {}};
  if (!l.full) l.strides = broadcast_strides(shape, g.shape(v));
  loads.push_back(l);
  return reg_of[v] = l.reg;
}

int LoweredChain::own_load(std::vector<int64_t> strides) {
  loads.push_back({kNoValue, program.num_regs++, false, std::move(strides)});
  return loads.back().reg;
}

LoweredChain lower_chain(const Graph& g, const FusionGroup& group, const std::vector<NodeId>& chain,
                         const std::vector<ValueId>& given, const ChainHead& head) {
  LoweredChain c;
  c.shape = group.shape;
  for (ValueId v : given) {
    c.given.push_back({v, c.program.num_regs++});
    c.reg_of[v] = c.given.back().second;
  }
  for (NodeId id : chain) {
    const Node& n = g.node(id);
    int out = head ? head(n, c) : -1;
    if (out < 0) out = c.program.lower(n, [&](ValueId v) { return c.operand(g, v); });
    c.reg_of[n.outputs[0]] = out;
    c.nodes.push_back({id, c.program.code.size(), out});
    if (!group.is_internal(n.outputs[0])) c.stores.push_back({n.outputs[0], out});
  }
  return c;
}

}  // namespace rg
