// SPDX-License-Identifier: Apache-2.0
// The reference backend's kernel: one per fusion group, the group's anchor
// lowered by its op family's function (backends/ref/ops/*.cpp, found in the
// registry ref_ops()) into steps, then the elementwise chain as one program.
// Everything is computed in the graph's float type T, accumulations in double:
// this backend is the oracle the others are checked against.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/ref/elementwise_ref.h"
#include "engine/backend.h"
#include "engine/op_registry.h"

namespace rg::ref {

template <typename T>
class RefKernel;

// A row of the reference backend's registry: the op and how a group anchored
// on it is lowered, in f32 and in f64 graphs.
struct RefOp {
  OpKind op;
  void (*lower_f32)(RefKernel<float>& k, const Node& n);
  void (*lower_f64)(RefKernel<double>& k, const Node& n);
  // A group of this node alone may write output `inplace[0]` over input
  // `inplace[1]` (the kernel reads each element before writing it); -1: no.
  std::array<int8_t, 2> inplace = {-1, -1};
};

// The registry: every family's rows (ops/ref_ops.cpp).
const OpRegistry<RefOp>& ref_ops();

template <typename T>
class RefKernel final : public Kernel {
 public:
  RefKernel(const Graph& g, const FusionGroup& grp);

  size_t scratch_bytes() const override { return scratch_.bytes(); }
  std::vector<std::pair<ValueId, ValueId>> inplace_candidates() const override;
  std::unique_ptr<Kernel> clone() const override { return std::make_unique<RefKernel>(g_, grp_); }
  void bind(const KernelBinding& b) override;
  void run() override;
  std::string describe() const override;

  // For the op families' lowering functions. Steps run in the order added;
  // they read pointers through p() when they run (bound by then).
  const Graph& graph() const { return g_; }
  T* p(ValueId v) const { return static_cast<T*>(ptr_[size_t(v)]); }
  void* raw(ValueId v) const { return ptr_[size_t(v)]; }
  void add_step(std::function<void()> step) { steps_.push_back(std::move(step)); }
  // im2col columns of at least `elements` (shared by the group's steps).
  void need_columns(size_t elements) { col_elements_ = std::max(col_elements_, elements); }
  T* columns() const { return col_; }
  // A reduction's accumulators: at least `n`, allocated at compile.
  void need_accumulators(size_t n) { acc_.resize(std::max(acc_.size(), n)); }
  double* accumulators() const { return acc_.data(); }

 private:
  const Graph& g_;
  FusionGroup grp_;
  std::vector<void*> ptr_;
  std::vector<std::pair<ValueId, size_t>> scratch_values_;
  std::vector<std::pair<ValueId, ValueId>> in_output_;  // internal value -> chain output holding it
  size_t col_elements_ = 0, col_offset_ = 0;
  ScratchLayout scratch_;
  T* col_ = nullptr;
  std::unique_ptr<ElementwiseProgram<T>> program_;
  std::vector<std::function<void()>> steps_;  // the non-elementwise nodes, in order
  mutable std::vector<double> acc_;           // reductions' accumulators
};

}  // namespace rg::ref
