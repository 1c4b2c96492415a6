// SPDX-License-Identifier: Apache-2.0
#include "backends/ref/elementwise_ref.h"

#include <cmath>
#include <stdexcept>

#include "runtime/rg_portable_math.h"

namespace rg::ref {

template <typename T>
ElementwiseProgram<T>::ElementwiseProgram(const Graph& g, const FusionGroup& grp, const std::vector<NodeId>& chain)
    : chain_(lower_chain(g, grp, chain)),
      load_ptr_(chain_.loads.size()),
      store_ptr_(chain_.stores.size()),
      regs_(size_t(chain_.program.num_regs), T(0)) {
  for (const auto& [r, value] : chain_.program.constants) regs_[size_t(r)] = T(value);
}

template <typename T>
std::vector<std::pair<ValueId, ValueId>> ElementwiseProgram<T>::inplace_candidates() const {
  std::vector<std::pair<ValueId, ValueId>> r;
  std::vector<char> used(chain_.loads.size(), 0);
  for (const ChainStore& s : chain_.stores)
    for (size_t i = 0; i < chain_.loads.size(); ++i)
      if (chain_.loads[i].full && !used[i]) {
        r.push_back({s.value, chain_.loads[i].value});
        used[i] = 1;
        break;
      }
  return r;
}

template <typename T>
void ElementwiseProgram<T>::bind(const std::vector<void*>& ptrs) {
  for (size_t i = 0; i < load_ptr_.size(); ++i) {
    load_ptr_[i] = static_cast<const T*>(ptrs.at(size_t(chain_.loads[i].value)));
    if (!load_ptr_[i]) throw std::logic_error("elementwise group input is not materialised");
  }
  for (size_t i = 0; i < store_ptr_.size(); ++i) store_ptr_[i] = static_cast<T*>(ptrs.at(size_t(chain_.stores[i].value)));
}

template <typename T>
void ElementwiseProgram<T>::run() const {
  const Shape& shape = chain_.shape;
  const int64_t total = numel(shape);
  const size_t rank = shape.size();
  T* r = regs_.data();
  int64_t idx[8] = {0};
  if (rank > 8) throw std::logic_error("rank > 8");
  for (int64_t e = 0; e < total; ++e) {
    for (size_t k = 0; k < load_ptr_.size(); ++k) {
      const ChainLoad& l = chain_.loads[k];
      if (l.full) {
        r[l.reg] = load_ptr_[k][e];
      } else {
        int64_t off = 0;
        for (size_t d = 0; d < rank; ++d) off += idx[d] * l.strides[d];
        r[l.reg] = load_ptr_[k][off];
      }
    }
    for (const auto& i : chain_.program.code) {
      // f32 tanh: the same bits on every target (the C runtime's, bit-exact export).
      if (sizeof(T) == 4 && i.op == EwInstrKind::kTanh)
        r[i.out] = T(rg_tanhf(float(r[i.x])));
      else
        r[i.out] = ew_apply(i.op, r[i.x], i.y >= 0 ? r[i.y] : T(0), i.z >= 0 ? r[i.z] : T(0));
    }
    for (size_t k = 0; k < store_ptr_.size(); ++k) store_ptr_[k][e] = r[chain_.stores[k].reg];
    for (size_t d = rank; d-- > 0;)
      if (++idx[d] < shape[d]) break;
      else idx[d] = 0;
  }
}

template class ElementwiseProgram<float>;
template class ElementwiseProgram<double>;

}  // namespace rg::ref
