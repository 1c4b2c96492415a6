// SPDX-License-Identifier: Apache-2.0
#include "engine/inspect.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "engine/conv_geometry.h"

namespace rg {

std::string human_bytes(size_t b) {
  char buf[32];
  if (b >= (size_t(1) << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1 << 30));
  else if (b >= (size_t(1) << 20))
    std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / double(1 << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%zu B", b);
  return buf;
}

void print_graph(std::ostream& os, const Graph& g) {
  os << "graph: " << g.num_nodes() << " nodes, " << g.num_values() << " values, "
     << g.variables().size() << " variables, " << g.inputs().size() << " inputs, float type "
     << dtype_name(g.float_type()) << "\n";
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(id);
    os << "  #" << id << " ";
    for (size_t o = 0; o < n.outputs.size(); ++o)
      os << (o ? ", " : "") << g.value_label(n.outputs[o]) << ":" << desc_str(g.desc(n.outputs[o]));
    os << " = " << op_name(n.op) << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << "%" << n.inputs[i];
    os << ")\n";
  }
}

void print_plan(std::ostream& os, const Plan& plan, bool buffers) {
  const Graph& g = *plan.graph;
  size_t fused_nodes = 0;
  for (const FusionGroup& grp : plan.groups) fused_nodes += grp.nodes.size();
  os << "plan on backend '" << plan.backend->name() << "': " << plan.order.size() << " live nodes, "
     << plan.groups.size() << " kernels (" << fused_nodes << " nodes in fusion groups)\n";
  for (size_t k = 0; k < plan.groups.size(); ++k) {
    os << "  [" << k << "] " << group_str(g, plan.groups[k]) << "\n      "
       << plan.kernels[k]->describe();
    if (plan.kernels[k]->scratch_bytes())
      os << "  scratch " << human_bytes(plan.kernels[k]->scratch_bytes());
    os << "\n";
  }
  size_t live_buffers = 0;
  for (const ArenaBuffer& b : plan.buffers) live_buffers += !(b.values.empty() && b.group < 0);
  if (buffers) {
    os << "memory plan:\n";
    for (const ArenaBuffer& b : plan.buffers) {
      if (b.values.empty() && b.group < 0) continue;
      os << "  offset " << b.offset << " size " << b.bytes << " live [" << b.first << ", " << b.last
         << "] ";
      if (b.group >= 0) os << "scratch of kernel " << b.group;
      for (ValueId v : b.values) os << g.value_label(v) << " ";
      os << "\n";
    }
  }
  size_t var_bytes = 0;
  for (const VariableInfo& v : g.variables()) var_bytes += v.desc.bytes();
  os << "arena: " << human_bytes(plan.arena_bytes) << " for " << live_buffers
     << " buffers totalling " << human_bytes(plan.sum_bytes) << " ("
     << (plan.sum_bytes ? 100.0 * double(plan.arena_bytes) / double(plan.sum_bytes) : 0.0) << "%), "
     << plan.inplace_merges << " in-place reuses; variables: " << human_bytes(var_bytes) << "\n";
  if (plan.recomputations_offered)
    os << "recomputed in the backward pass: " << g.recomputations().size() << " of "
       << plan.recomputations_offered << " activations offered (CompileOptions::recompute)\n";
}

// In each value's stored size on the plan's backend (bf16 activations: half).
size_t group_bytes(const Plan& plan, const FusionGroup& grp) {
  size_t b = 0;
  for (ValueId v : grp.inputs) b += plan.compiler->value_bytes(v);
  for (ValueId v : grp.outputs) b += plan.compiler->value_bytes(v);
  return b;
}

void print_profile(std::ostream& os, const Plan& plan, const std::vector<double>& ms, int runs,
                   size_t top) {
  double total = 0;
  std::map<std::string, double> by_op, flop_by_op;
  std::vector<double> flop(ms.size(), 0.0);   // a convolution group's FLOPs (2 per multiply-add)
  std::vector<double> bytes(ms.size(), 0.0);  // what it reads and writes of values outside it
  std::vector<size_t> order(ms.size());
  for (size_t k = 0; k < ms.size(); ++k) {
    const Node& anchor = plan.graph->node(plan.groups[k].nodes[0]);
    if (is_convolution(anchor.op)) flop[k] = double(conv_geometry(*plan.graph, anchor).flops());
    bytes[k] = double(group_bytes(plan, plan.groups[k]));
    total += ms[k];
    by_op[op_name(anchor.op)] += ms[k];
    flop_by_op[op_name(anchor.op)] += flop[k];
    order[k] = k;
  }
  auto rate = [](double flops, double t_ms) {
    char b[32] = "";
    if (flops > 0 && t_ms > 0) std::snprintf(b, sizeof b, "  %.1f GFLOP/s", flops / (t_ms * 1e6));
    return std::string(b);
  };
  auto traffic = [](double b, double t_ms) {
    char s[64];
    std::snprintf(s, sizeof s, "  %.3f MB, %.2f GB/s", b / 1e6, t_ms > 0 ? b / (t_ms * 1e6) : 0.0);
    return std::string(s);
  };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ms[a] > ms[b]; });
  char line[160];
  std::snprintf(line, sizeof line,
                "\nprofile (%s backend): %.3f ms per run, %zu groups, mean of %d run(s)\n",
                plan.backend->name().c_str(), total, ms.size(), runs);
  os << line
     << "by the op a group starts with (convolutions: GFLOP/s counting a direct convolution's 2 x "
        "MACs,\n"
     << "whatever the algorithm; Winograd does fewer):\n";
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [name, t] : by_op) ops.push_back({t, name});
  std::sort(ops.rbegin(), ops.rend());
  for (const auto& [t, name] : ops) {
    std::snprintf(line, sizeof line, "  %10.3f ms %5.1f %%  %s", t,
                  total > 0 ? 100 * t / total : 0.0, name.c_str());
    os << line << rate(flop_by_op[name], t) << "\n";
  }
  os << (top == 0 || top >= order.size() ? std::string("every group") : "heaviest groups")
     << " (MB: the values it reads and writes outside itself, not its scratch):\n";
  const size_t shown = top == 0 ? order.size() : std::min(top, order.size());
  for (size_t i = 0; i < shown; ++i) {
    const size_t k = order[i];
    std::snprintf(line, sizeof line, "  %10.3f ms %5.1f %%  ", ms[k],
                  total > 0 ? 100 * ms[k] / total : 0.0);
    os << line << group_str(*plan.graph, plan.groups[k]) << rate(flop[k], ms[k])
       << traffic(bytes[k], ms[k]) << "\n      " << plan.kernels[k]->describe() << "\n";
  }
}

}  // namespace rg
