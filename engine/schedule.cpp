// SPDX-License-Identifier: Apache-2.0
#include "engine/schedule.h"

#include <set>

namespace rg {

bool is_view(OpKind k) { return k == OpKind::kReshape || k == OpKind::kStopGradient; }

std::vector<ValueId> storage_roots(const Graph& g) {
  std::vector<ValueId> root(size_t(g.num_values()));
  for (ValueId v = 0; v < g.num_values(); ++v) root[size_t(v)] = v;
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(id);
    if (is_view(n.op)) root[size_t(n.outputs[0])] = root[size_t(n.inputs[0])];
    if (is_state_update(n.op))  // in place: the new version lives where the old one did
      for (size_t o = 0; o < n.outputs.size(); ++o)
        root[size_t(n.outputs[o])] = root[size_t(n.inputs[size_t(state_alias_input(n.op, int(o)))])];
  }
  return root;
}

std::vector<NodeId> schedule(const Graph& g) {
  const int nn = g.num_nodes();
  // Liveness: walk back from outputs and state updates.
  std::vector<char> live(size_t(nn), 0);
  std::vector<NodeId> stack;
  for (ValueId v : g.outputs()) stack.push_back(g.value(v).producer);
  for (NodeId id = 0; id < nn; ++id)
    if (is_state_update(g.node(id).op)) stack.push_back(id);
  while (!stack.empty()) {
    const NodeId id = stack.back();
    stack.pop_back();
    if (live[size_t(id)]) continue;
    live[size_t(id)] = 1;
    for (ValueId v : g.node(id).inputs) stack.push_back(g.value(v).producer);
  }
  // Edges: data, plus reader -> writer for every overwritten version. Readers of
  // a version include readers of its views.
  const std::vector<ValueId> root = storage_roots(g);
  std::vector<std::vector<NodeId>> readers_of_root(size_t(g.num_values()));
  for (NodeId id = 0; id < nn; ++id) {
    if (!live[size_t(id)]) continue;
    for (ValueId v : g.node(id).inputs) readers_of_root[size_t(root[size_t(v)])].push_back(id);
  }
  std::vector<std::set<NodeId>> succ(static_cast<size_t>(nn));
  std::vector<int> indegree(size_t(nn), 0);
  auto edge = [&](NodeId a, NodeId b) {
    if (a != b && succ[size_t(a)].insert(b).second) ++indegree[size_t(b)];
  };
  for (NodeId id = 0; id < nn; ++id) {
    if (!live[size_t(id)]) continue;
    const Node& n = g.node(id);
    for (ValueId v : n.inputs) edge(g.value(v).producer, id);
    if (is_state_update(n.op))
      for (size_t o = 0; o < n.outputs.size(); ++o) {
        const ValueId old = n.inputs[size_t(state_alias_input(n.op, int(o)))];
        for (NodeId r : readers_of_root[size_t(root[size_t(old)])]) {
          if (r == id) continue;
          // Only readers of this version (or of views of it), not of later versions.
          bool reads_old = false;
          for (ValueId v : g.node(r).inputs) {
            ValueId w = v;
            while (w != root[size_t(w)] && w != old && is_view(g.node(g.value(w).producer).op))
              w = g.node(g.value(w).producer).inputs[0];
            reads_old |= w == old;
          }
          if (reads_old) edge(r, id);
        }
      }
  }
  // Among ready nodes, an elementwise consumer of the node just scheduled goes
  // first (so it can fuse with it); otherwise the smallest id. Deterministic.
  std::set<NodeId> ready;
  for (NodeId id = 0; id < nn; ++id)
    if (live[size_t(id)] && indegree[size_t(id)] == 0) ready.insert(id);
  std::vector<NodeId> order;
  while (!ready.empty()) {
    NodeId id = *ready.begin();
    if (!order.empty()) {
      const Node& last = g.node(order.back());
      for (NodeId c : ready) {
        const Node& n = g.node(c);
        if (!is_elementwise(n.op) || is_view(n.op)) continue;
        bool consumes_last = false;
        for (ValueId v : n.inputs) consumes_last |= g.value(v).producer == order.back();
        if (consumes_last && !last.outputs.empty()) {
          id = c;
          break;
        }
      }
    }
    ready.erase(id);
    order.push_back(id);
    for (NodeId s : succ[size_t(id)])
      if (--indegree[size_t(s)] == 0) ready.insert(s);
  }
  size_t live_count = 0;
  for (char c : live) live_count += c != 0;
  if (order.size() != live_count)
    throw GraphError("schedule: cycle between state updates and their readers (a version is read after it was overwritten)");
  return order;
}

}  // namespace rg
