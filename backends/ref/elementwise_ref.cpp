#include "backends/ref/elementwise_ref.h"

#include <cmath>
#include <map>
#include <stdexcept>

namespace rg::ref {

template <typename T>
ElementwiseProgram<T>::ElementwiseProgram(const Graph& g, const FusionGroup& grp, const std::vector<NodeId>& chain)
    : shape_(grp.shape) {
  std::map<ValueId, int> reg;
  auto operand = [&](ValueId v) -> int {
    auto it = reg.find(v);
    if (it != reg.end()) return it->second;
    Load l{v, prog_.num_regs++, g.shape(v) == shape_, {}, nullptr};
    if (!l.full) l.strides = broadcast_strides(shape_, g.shape(v));
    loads_.push_back(l);
    reg[v] = l.reg;
    return l.reg;
  };
  for (NodeId id : chain) {
    const Node& n = g.node(id);
    reg[n.outputs[0]] = prog_.lower(n, operand);
    if (!grp.is_internal(n.outputs[0])) stores_.push_back({n.outputs[0], reg[n.outputs[0]], nullptr});
  }
  regs_.assign(size_t(prog_.num_regs), T(0));
  for (const auto& [r, value] : prog_.constants) regs_[size_t(r)] = value;
}

template <typename T>
std::vector<std::pair<ValueId, ValueId>> ElementwiseProgram<T>::inplace_candidates() const {
  std::vector<std::pair<ValueId, ValueId>> r;
  std::vector<char> used(loads_.size(), 0);
  for (const Store& s : stores_)
    for (size_t i = 0; i < loads_.size(); ++i)
      if (loads_[i].full && !used[i]) {
        r.push_back({s.value, loads_[i].value});
        used[i] = 1;
        break;
      }
  return r;
}

template <typename T>
void ElementwiseProgram<T>::bind(const std::vector<void*>& ptrs) {
  for (Load& l : loads_) l.ptr = static_cast<const T*>(ptrs.at(size_t(l.value)));
  for (Store& s : stores_) s.ptr = static_cast<T*>(ptrs.at(size_t(s.value)));
  for (const Load& l : loads_)
    if (!l.ptr) throw std::logic_error("elementwise group input is not materialised");
}

template <typename T>
void ElementwiseProgram<T>::run() const {
  const int64_t total = numel(shape_);
  const size_t rank = shape_.size();
  T* r = regs_.data();
  int64_t idx[8] = {0};
  if (rank > 8) throw std::logic_error("rank > 8");
  for (int64_t e = 0; e < total; ++e) {
    for (const Load& l : loads_) {
      if (l.full) {
        r[l.reg] = l.ptr[e];
      } else {
        int64_t off = 0;
        for (size_t d = 0; d < rank; ++d) off += idx[d] * l.strides[d];
        r[l.reg] = l.ptr[off];
      }
    }
    for (const auto& i : prog_.code)
      r[i.out] = ew_apply(i.op, r[i.x], i.y >= 0 ? r[i.y] : T(0), i.z >= 0 ? r[i.z] : T(0));
    for (const Store& s : stores_) s.ptr[e] = r[s.reg];
    for (size_t d = rank; d-- > 0;)
      if (++idx[d] < shape_[d]) break;
      else idx[d] = 0;
  }
}

template class ElementwiseProgram<float>;
template class ElementwiseProgram<double>;

}  // namespace rg::ref
