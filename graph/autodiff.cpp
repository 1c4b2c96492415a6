// SPDX-License-Identifier: Apache-2.0
// The reverse sweep that applies each op's gradient rule (its elementwise row,
// graph/elementwise_ops.cpp, or its family's row, graph/ops/), and the
// forward values those rules read (recomputed stand-ins included).
#include "graph/graph.h"
#include "rg/autodiff.h"

#include <algorithm>
#include <map>
#include <set>

#include "graph/elementwise_ops.h"
#include "graph/op_rules.h"

namespace rg {
namespace {

// The forward values the backward rules read (GradientOptions::recompute_bn_activation).
class SavedValues final : public ForwardValues {
 public:
  SavedValues(Graph& g, const std::function<bool(ValueId)>& recompute) : g_(g), recompute_(recompute) {
    if (!recompute_) return;
    for (ValueId v = 0; v < g.num_values(); ++v)
      if (bn_activation(v)) largest_ = std::max(largest_, g.desc(v).bytes());
  }
  // For a reader of the activation itself (a weight gradient): v, or v
  // recomputed when v = relu/leaky_relu(BatchNormTrain(x).y), once per value.
  ValueId activation(ValueId v) override {
    const Node* bn = bn_activation(v);
    if (!bn) return v;
    if (auto it = copies_.find(v); it != copies_.end()) return it->second;
    const Node act = g_.node(g_.value(v).producer);
    const ValueId v2 = g_.add_node(act.op, {normalised(*bn)}, act.attrs)[0];
    g_.set_name(v2, "recomputed(" + g_.value_label(v) + ")");
    stand_in_for_[v2] = v;
    return copies_[v] = v2;
  }
  // For the activation's own gradient, which only needs the sign (relu(y) > 0
  // and leaky_relu(y) > 0 exactly where y > 0). The largest activations (at
  // least half the largest one's bytes): y recomputed in the gradient's own
  // pass, so the weight gradient's copy dies before the input gradient is
  // allocated (the backward pass's peak is at the largest layer). The others:
  // the weight gradient's copy, one recomputation for both.
  ValueId sign_source(ValueId v) override {
    const Node* bn = bn_activation(v);
    if (!bn) return v;
    if (2 * g_.desc(v).bytes() < largest_)
      if (auto it = copies_.find(v); it != copies_.end()) return it->second;
    const ValueId y = normalised(*bn);
    stand_in_for_[y] = v;  // for the sign only: y > 0 exactly where v > 0
    return y;
  }
  // Records, in the graph, the inputs of nodes [first, end) that read a stand-in
  // (Graph::note_recomputation): compile() decides which stand-ins pay.
  void note_readers(NodeId first) {
    for (NodeId id = first; id < g_.num_nodes(); ++id) {
      const std::vector<ValueId> in = g_.node(id).inputs;
      for (size_t i = 0; i < in.size(); ++i)
        if (auto it = stand_in_for_.find(in[i]); it != stand_in_for_.end()) g_.note_recomputation(it->second, id, int(i));
    }
  }

 private:
  const Node* bn_activation(ValueId v) const {
    if (!recompute_ || !recompute_(v)) return nullptr;
    const NodeId pa = g_.value(v).producer;
    if (pa < 0) return nullptr;
    const Node& act = g_.node(pa);
    if (act.op != OpKind::kRelu && act.op != OpKind::kLeakyRelu) return nullptr;
    const Value& y = g_.value(act.inputs[0]);
    if (y.producer < 0 || y.output_index != 0 || g_.node(y.producer).op != OpKind::kBatchNormTrain) return nullptr;
    return &g_.node(y.producer);
  }
  // BatchNorm's output from its input, gamma, beta and batch statistics.
  ValueId normalised(const Node& bn_ref) {
    const Node bn = bn_ref;  // copy: add_node appends to the node list
    return g_.batch_norm_inference(bn.inputs[0], bn.inputs[1], bn.inputs[2], bn.outputs[1], bn.outputs[2], bn.attrs.eps);
  }

  Graph& g_;
  const std::function<bool(ValueId)>& recompute_;
  size_t largest_ = 0;
  std::map<ValueId, ValueId> copies_;
  std::map<ValueId, ValueId> stand_in_for_;  // stand-in -> the activation it replaces
};

// Gradients of a node's inputs given its output gradients (kNoValue where an
// output gets none): the op's rule, from its elementwise row or its family's
// file (graph/ops/). Returns one entry per input (kNoValue = no gradient).
std::vector<ValueId> backward_rule(Graph& g, NodeId id, const std::vector<ValueId>& dout, SavedValues& saved) {
  const Node n = g.node(id);  // copy: the rule adds nodes
  auto unsupported = [&](const char* why) {
    return GraphError(std::string("autodiff: ") + op_name(n.op) + " node #" + std::to_string(id) + " " + why);
  };
  try {
    if (const ElementwiseOp* e = elementwise_op(n.op); e && e->gradient) return e->gradient(g, n, dout[0], saved);
    if (const OpRule* r = op_rule(n.op); r && r->gradient) return r->gradient(g, n, dout, saved);
  } catch (const NoGradient& e) {
    throw unsupported(e.why);
  }
  throw unsupported("has no gradient rule");
}

}  // namespace

std::map<ValueId, ValueId> gradients(Graph& g, ValueId loss, const std::vector<ValueId>& wrt,
                                     const GradientOptions& options) {
  if (g.desc(loss).numel() != 1) throw GraphError("autodiff: loss " + g.value_label(loss) + " is not a scalar: " + desc_str(g.desc(loss)));
  const int nv = g.num_values();
  const int nn = g.num_nodes();
  // Values that depend on some wrt value (forward), through differentiable edges.
  std::vector<char> from_wrt(size_t(nv), 0);
  for (ValueId w : wrt) from_wrt[size_t(w)] = 1;
  for (NodeId id = 0; id < nn; ++id) {
    const Node& n = g.node(id);
    if (n.op == OpKind::kStopGradient || is_state_update(n.op)) continue;
    bool any = false;
    for (ValueId v : n.inputs) any |= from_wrt[size_t(v)] != 0;
    if (any)
      for (ValueId o : n.outputs) from_wrt[size_t(o)] = 1;
  }
  // Reverse sweep over nodes that produce values the loss depends on.
  std::vector<ValueId> grad(size_t(nv), kNoValue);
  grad[size_t(loss)] = g.fill(g.shape(loss), 1.0);
  const NodeId loss_node = g.value(loss).producer;
  SavedValues saved(g, options.recompute_bn_activation);
  for (NodeId id = loss_node; id >= 0; --id) {
    const Node& n = g.node(id);
    bool has_grad = false;
    std::vector<ValueId> dout;
    for (ValueId o : n.outputs) {
      dout.push_back(grad[size_t(o)]);
      has_grad |= grad[size_t(o)] != kNoValue;
    }
    if (!has_grad || is_leaf(n.op)) continue;
    bool needs = false;
    for (ValueId v : n.inputs) needs |= from_wrt[size_t(v)] != 0;
    if (!needs) continue;
    if (dout[0] == kNoValue && n.op != OpKind::kBatchNormTrain) continue;
    const NodeId first_new = g.num_nodes();
    const std::vector<ValueId> din = backward_rule(g, id, dout, saved);
    saved.note_readers(first_new);
    const std::vector<ValueId> inputs = g.node(id).inputs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const ValueId v = inputs[i];
      if (din[i] == kNoValue || !from_wrt[size_t(v)]) continue;
      grad[size_t(v)] = grad[size_t(v)] == kNoValue ? din[i] : g.add(grad[size_t(v)], din[i]);
    }
  }
  std::map<ValueId, ValueId> result;
  for (ValueId w : wrt) {
    ValueId d = grad[size_t(w)];
    if (d == kNoValue) d = g.fill(g.shape(w), 0.0);
    if (g.value(d).name.empty())
      g.set_name(d, "grad(" + (g.value(w).name.empty() ? "%" + std::to_string(w) : g.value(w).name) + ")");
    result[w] = d;
  }
  return result;
}

}  // namespace rg
