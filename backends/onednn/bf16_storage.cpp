// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/bf16_storage.h"

#include <algorithm>
#include <set>

#include "backends/onednn/disjoint_sets.h"
#include "backends/onednn/kernel_choice.h"
#include "graph/elementwise_ops.h"

namespace rg::onednn {

// bf16 mode: the activations the plan stores as bf16 (docs/cpu_backend.md,
// "bf16"), half the bytes of f32 in the arena and in every pass over them,
// as under torch.autocast. A value is stored as bf16 when whatever writes it
// can write bf16 and whatever reads it can read bf16:
// - convolutions: oneDNN primitives (their post-ops fused; a reader skips its
//   f32 -> bf16 reorder, as it would have rounded the value itself) and our
//   Winograd kernels (widened on load, rounded once on store; not with eltwise
//   post-ops, which it runs in place on its result and would round twice);
// - elementwise chains: a full load widened, a store rounded;
// - batch norm's primitives, which read and write their data in one type
//   (forward: x and the output; backward: x, dy and dx), with scale, shift
//   and statistics in f32: those values are decided together (a class).
// small_conv (f32 only), reductions, Adam, host fallbacks, graph outputs,
// variables and views keep f32 values, and so does every value of a class
// that one of them touches.
std::vector<char> choose_bf16_storage(const Graph& g, const std::vector<FusionGroup>& groups,
                                      const std::vector<char>& on_fallback, const onednn::LayoutTable& t,
                                      const OneDnnOptions& opt) {
  const size_t nv = size_t(g.num_values());
  const LayoutOf layout_of = [&t](ValueId v) { return t.of(v); };
  auto conv_anchor = [](OpKind k) { return k == OpKind::kConv2d || k == OpKind::kConvTranspose2d; };
  auto bn_fwd = [](OpKind k) {
    return k == OpKind::kBatchNormTrain || k == OpKind::kBatchNormInference;
  };
  auto on_reference = [&](const FusionGroup& grp) {
    return size_t(grp.id) < on_fallback.size() && on_fallback[size_t(grp.id)];
  };
  std::vector<int> sharing(nv, 0);  // values per storage root (views and in-place versions share)
  for (size_t v = 0; v < nv; ++v) ++sharing[size_t(t.root[v])];
  std::vector<int> group_of(size_t(g.num_nodes()), -1);
  for (size_t i = 0; i < groups.size(); ++i)
    for (NodeId id : groups[i].nodes) group_of[size_t(id)] = int(i);
  std::vector<std::vector<NodeId>> readers(nv);
  for (NodeId id = 0; id < g.num_nodes(); ++id)
    for (ValueId v : g.node(id).inputs) readers[size_t(v)].push_back(id);
  const std::set<ValueId> outputs(g.outputs().begin(), g.outputs().end());
  // Classes of values batch norm reads and writes in one type (union-find).
  DisjointSets classes(nv);
  auto find = [&](ValueId a) { return classes.find(a); };
  auto unite = [&](ValueId a, ValueId b) { classes.unite(a, b); };
  // Values a writer of bf16 writes into memory: group outputs, and batch
  // norm's output where a chain after it reads it inside the group.
  std::vector<char> written(nv, 0);
  for (const FusionGroup& p : groups) {
    if (p.nodes.empty() || on_reference(p)) continue;
    const Node& a = g.node(p.nodes[0]);
    size_t chain_from = 0;  // index of the group's first node its elementwise program runs
    std::vector<ValueId> by_anchor;
    if (conv_anchor(a.op)) {
      const PostOps po = match_post_ops(g, p, p.nodes[0], true, opt.post_ops);
      if (small_conv_for(g, a, po.result, layout_of)) continue;  // ours writes f32
      const bool rounds_twice =
          po.ops.len() > 0 && winograd_forward_for(g, a, po.result, layout_of, opt);
      if (!rounds_twice) by_anchor.push_back(po.result);
      chain_from = po.count + 1;
    } else if (is_bn_head_group(g, p, layout_of)) {
      chain_from = 1;  // the head is part of the program
    } else if (bn_fwd(a.op)) {
      const ValueId dst = bn_fwd_dst(g, p, p.nodes[0], opt.post_ops);
      by_anchor.push_back(dst);
      unite(a.inputs[0], dst);
      chain_from = dst == a.outputs[0] ? 1 : 2;
    } else if (a.op == OpKind::kBatchNormBackward) {
      by_anchor.push_back(a.outputs[0]);
      unite(a.inputs[1], a.inputs[0]);
      unite(a.inputs[1], a.outputs[0]);
      chain_from = 1;
    } else if (!is_elementwise(a.op)) {
      continue;
    }
    auto materialised = [&](ValueId v) {
      return std::find(p.outputs.begin(), p.outputs.end(), v) != p.outputs.end() ||
             (bn_fwd(a.op) && v == a.outputs[0] && !readers[size_t(v)].empty());
    };
    for (ValueId v : by_anchor)
      if (materialised(v)) written[size_t(v)] = 1;
    for (size_t i = chain_from; i < p.nodes.size(); ++i)
      if (is_elementwise(g.node(p.nodes[i]).op))
        for (ValueId v : g.node(p.nodes[i]).outputs)
          if (materialised(v)) written[size_t(v)] = 1;
  }
  // Whether node id of its group reads v where a value stored as bf16 can be read.
  auto reads_bf16 = [&](NodeId id, ValueId v) {
    const FusionGroup& r = groups[size_t(group_of[size_t(id)])];
    if (on_reference(r)) return false;
    const Node& n = g.node(id);
    const bool anchor = id == r.nodes[0];
    if (anchor && conv_anchor(n.op)) {
      const PostOps po = match_post_ops(g, r, id, true, opt.post_ops);
      return n.inputs[0] == v && n.inputs[1] != v &&
             !small_conv_for(g, n, po.count ? po.result : n.outputs[0], layout_of);
    }
    if (anchor && n.op == OpKind::kConv2dBackwardWeight) return true;
    const bool head = anchor && is_bn_head_group(g, r, layout_of);
    if (anchor && bn_fwd(n.op) && !head) return n.inputs[0] == v;
    if (anchor && n.op == OpKind::kBatchNormBackward) return n.inputs[0] == v || n.inputs[1] == v;
    const bool chain = is_elementwise(n.op) || (head && n.inputs[0] == v);
    return chain && g.shape(v) == r.shape;
  };
  // A class is bf16 when every member is a plain activation its writer
  // writes as bf16 and every reader of every member reads bf16.
  std::vector<char> class_ok(nv, 1);
  for (ValueId v = 0; v < ValueId(nv); ++v) {
    const Value& val = g.value(v);
    const bool activation = val.desc.rank() == 4 && val.desc.dtype == DType::f32 &&
                            val.variable < 0 && !outputs.count(v) && t.root[size_t(v)] == v &&
                            sharing[size_t(v)] == 1 && t.of(v) != Layout::plain;
    bool ok = activation && written[size_t(v)] && !readers[size_t(v)].empty();
    // (a node in no group is not run: the schedule dropped it as dead)
    for (NodeId id : readers[size_t(v)]) ok = ok && (group_of[size_t(id)] < 0 || reads_bf16(id, v));
    if (!ok) class_ok[size_t(find(v))] = 0;
  }
  std::vector<char> bf16(nv, 0);  // (a value no bf16 writer writes failed its own check)
  for (ValueId v = 0; v < ValueId(nv); ++v) bf16[size_t(v)] = class_ok[size_t(find(v))];
  return bf16;
}

}  // namespace rg::onednn
