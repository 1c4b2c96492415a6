// SPDX-License-Identifier: Apache-2.0
#include "engine/fusion.h"

#include <algorithm>
#include <set>

#include "engine/schedule.h"

namespace rg {

bool FusionGroup::is_internal(ValueId v) const {
  return std::find(internal.begin(), internal.end(), v) != internal.end();
}

bool is_fusion_anchor(OpKind k) {
  return k == OpKind::kConv2d || k == OpKind::kConvTranspose2d || k == OpKind::kBatchNormTrain ||
         k == OpKind::kBatchNormInference;
}

namespace {

// May elementwise node `n` join `group`, the last group formed? Only the last
// one, so every group stays contiguous in the schedule and runs where its
// last node was: its outside inputs were all produced earlier.
bool can_join(const Graph& g, const FusionGroup& group, const Node& n) {
  if (!is_elementwise(n.op) || g.shape(n.outputs[0]) != group.shape) return false;
  if (!group.has_anchor && !is_elementwise(g.node(group.nodes[0]).op)) return false;
  for (ValueId v : n.inputs) {
    const NodeId p = g.value(v).producer;
    if (std::find(group.nodes.begin(), group.nodes.end(), p) == group.nodes.end()) continue;
    if (g.shape(v) == group.shape) return true;  // a full-shape link into the chain
  }
  return false;
}

// Runs of consecutive single-Adam groups with equal hyperparameters and one
// step counter (FusionGroup::horizontal_first).
void mark_horizontal_runs(const Graph& g, std::vector<FusionGroup>& groups) {
  auto adam = [&g](const FusionGroup& grp) -> const Node* {
    if (grp.nodes.size() != 1) return nullptr;
    const Node& n = g.node(grp.nodes[0]);
    return n.op == OpKind::kAdamUpdate ? &n : nullptr;
  };
  for (size_t k = 0; k < groups.size(); ++k) {
    const Node* n = adam(groups[k]);
    if (!n) continue;
    const Node* p = k > 0 ? adam(groups[k - 1]) : nullptr;
    const bool joins = p && p->inputs[4] == n->inputs[4] && p->attrs.lr == n->attrs.lr &&
                       p->attrs.beta1 == n->attrs.beta1 && p->attrs.beta2 == n->attrs.beta2 &&
                       p->attrs.adam_eps == n->attrs.adam_eps && g.desc(p->inputs[0]).dtype == g.desc(n->inputs[0]).dtype;
    groups[k].horizontal_first = joins ? groups[k - 1].horizontal_first : groups[k].id;
  }
}

}  // namespace

std::vector<FusionGroup> fuse(const Graph& g, const std::vector<NodeId>& order, bool enabled) {
  std::vector<FusionGroup> groups;
  for (NodeId id : order) {
    const Node& n = g.node(id);
    if (n.op == OpKind::kInput || n.op == OpKind::kVariable || is_view(n.op)) continue;
    if (enabled && !groups.empty() && can_join(g, groups.back(), n)) {
      groups.back().nodes.push_back(id);
      continue;
    }
    FusionGroup grp;
    grp.id = static_cast<int>(groups.size());
    grp.nodes = {id};
    grp.has_anchor = is_fusion_anchor(n.op);
    if (grp.has_anchor || is_elementwise(n.op)) grp.shape = g.shape(n.outputs[0]);
    groups.push_back(std::move(grp));
  }
  mark_horizontal_runs(g, groups);
  // Inputs, outputs and internal values. A value is read "outside" if a node of
  // another group, or a view whose storage reaches another group, reads it.
  std::vector<int> group_of(size_t(g.num_nodes()), -1);
  for (const FusionGroup& grp : groups)
    for (NodeId id : grp.nodes) group_of[size_t(id)] = grp.id;
  std::set<NodeId> scheduled(order.begin(), order.end());
  std::vector<std::vector<NodeId>> consumers(size_t(g.num_values()));
  for (NodeId id : order)
    for (ValueId v : g.node(id).inputs) consumers[size_t(v)].push_back(id);
  std::set<ValueId> graph_outputs(g.outputs().begin(), g.outputs().end());
  for (FusionGroup& grp : groups) {
    std::set<ValueId> produced;
    for (NodeId id : grp.nodes)
      for (ValueId v : g.node(id).outputs) produced.insert(v);
    for (NodeId id : grp.nodes)
      for (ValueId v : g.node(id).inputs)
        if (!produced.count(v) && std::find(grp.inputs.begin(), grp.inputs.end(), v) == grp.inputs.end())
          grp.inputs.push_back(v);
    for (NodeId id : grp.nodes)
      for (ValueId v : g.node(id).outputs) {
        bool outside = graph_outputs.count(v) > 0 || g.value(v).variable >= 0;
        for (NodeId c : consumers[size_t(v)]) outside |= group_of[size_t(c)] != grp.id;
        (outside ? grp.outputs : grp.internal).push_back(v);
      }
  }
  return groups;
}

namespace {

ValueId chain_output_for(const Graph& g, const FusionGroup& grp, ValueId v, const std::vector<ValueId>& taken,
                         const std::function<bool(ValueId, ValueId)>& compatible) {
  for (NodeId id : grp.nodes) {
    const Node& n = g.node(id);
    if (!is_elementwise(n.op)) continue;
    for (ValueId o : n.outputs)
      if (!grp.is_internal(o) && g.shape(o) == g.shape(v) && g.desc(o).dtype == g.desc(v).dtype &&
          g.value(o).variable < 0 && std::find(taken.begin(), taken.end(), o) == taken.end() &&
          (!compatible || compatible(v, o)))
        return o;
  }
  return kNoValue;
}

}  // namespace

std::vector<InternalHome> internal_homes(const Graph& g, const FusionGroup& grp,
                                         const std::function<bool(ValueId)>& materialised,
                                         const std::function<bool(NodeId)>& in_chain,
                                         const std::function<bool(ValueId, ValueId)>& compatible) {
  std::vector<InternalHome> homes;
  std::vector<ValueId> taken;
  for (NodeId id : grp.nodes) {
    const Node& n = g.node(id);
    if (in_chain ? in_chain(id) : is_elementwise(n.op)) continue;
    for (ValueId v : n.outputs) {
      if (!grp.is_internal(v) || (materialised && !materialised(v))) continue;
      const ValueId host = chain_output_for(g, grp, v, taken, compatible);
      if (host != kNoValue) taken.push_back(host);
      homes.push_back({v, host});
    }
  }
  return homes;
}

std::string group_str(const Graph& g, const FusionGroup& grp) {
  std::string s = "group " + std::to_string(grp.id) + ":";
  for (NodeId id : grp.nodes) s += std::string(" ") + op_name(g.node(id).op);
  s += "  (in:";
  for (ValueId v : grp.inputs) s += " %" + std::to_string(v);
  s += " -> out:";
  for (ValueId v : grp.outputs) s += " %" + std::to_string(v);
  if (!grp.internal.empty()) s += ", fused away " + std::to_string(grp.internal.size());
  return s + ")";
}

}  // namespace rg
