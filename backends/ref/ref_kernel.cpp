// SPDX-License-Identifier: Apache-2.0
#include "backends/ref/ref_kernel.h"

#include <stdexcept>

namespace rg::ref {

template <typename T>
RefKernel<T>::RefKernel(const Graph& g, const FusionGroup& grp) : g_(g), grp_(grp) {
  // Internal outputs of the anchor: in a chain output or in scratch
  // (internal_homes; the program reads an element's inputs before storing
  // it), followed by the im2col columns.
  for (const InternalHome& h : internal_homes(g, grp)) {
    if (h.chain_output != kNoValue)
      in_output_.push_back({h.value, h.chain_output});
    else
      scratch_values_.push_back({h.value, scratch_.take(g.desc(h.value).bytes())});
  }
  std::vector<NodeId> chain;
  for (NodeId id : grp.nodes) {
    const Node& n = g.node(id);
    if (is_elementwise(n.op)) {
      chain.push_back(id);
      continue;
    }
    const RefOp& row = ref_ops().at(n.op, "ref");
    if constexpr (sizeof(T) == 4)
      row.lower_f32(*this, n);
    else
      row.lower_f64(*this, n);
  }
  if (col_elements_) col_offset_ = scratch_.take(col_elements_ * sizeof(T));
  if (!chain.empty()) program_ = std::make_unique<ElementwiseProgram<T>>(g, grp, chain);
}

template <typename T>
std::vector<std::pair<ValueId, ValueId>> RefKernel<T>::inplace_candidates() const {
  const Node& first = g_.node(grp_.nodes[0]);
  if (grp_.nodes.size() == 1 && !is_elementwise(first.op)) {
    const auto io = ref_ops().at(first.op, "ref").inplace;
    if (io[0] < 0) return {};
    return {{first.outputs[size_t(io[0])], first.inputs[size_t(io[1])]}};
  }
  if (grp_.has_anchor || !program_) return {};
  return program_->inplace_candidates();
}

template <typename T>
void RefKernel<T>::bind(const KernelBinding& b) {
  ptr_ = b.values;
  for (auto [v, off] : scratch_values_) ptr_[size_t(v)] = static_cast<char*>(b.scratch) + off;
  for (auto [v, host] : in_output_) ptr_[size_t(v)] = ptr_[size_t(host)];
  col_ = reinterpret_cast<T*>(static_cast<char*>(b.scratch) + col_offset_);
  if (program_) program_->bind(ptr_);
}

template <typename T>
void RefKernel<T>::run() {
  for (const auto& step : steps_) step();
  if (program_) program_->run();
}

template <typename T>
std::string RefKernel<T>::describe() const {
  std::string s = std::string("ref/") + (sizeof(T) == 4 ? "f32" : "f64") + ":";
  for (NodeId id : grp_.nodes) s += std::string(" ") + op_name(g_.node(id).op);
  return s;
}

template class RefKernel<float>;
template class RefKernel<double>;

}  // namespace rg::ref
