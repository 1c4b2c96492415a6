// SPDX-License-Identifier: Apache-2.0
// The oneDNN backend's kernel: one per fusion group, a list of steps (oneDNN
// primitives with their argument arrays, or loops of ours) built when it is
// compiled, then the group's elementwise chain as one program (ew_program.h).
// The group's anchor is lowered by its op family's function
// (backends/onednn/ops/*.cpp, found in the registry onednn_ops()), through
// the building API below.
#pragma once

#include <array>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backends/onednn/activation_layout.h"
#include "backends/onednn/layout.h"
#include "backends/onednn/layout_choice.h"
#include "backends/onednn/onednn_context.h"
#include "engine/backend.h"
#include "engine/op_registry.h"

namespace rg::onednn {

class OneDnnKernel;
class EwProgram;

// A row of the oneDNN backend's registry.
struct OneDnnOp {
  OpKind op;
  // Lowers the group's anchor node `id` into steps; returns how many of the
  // group's following nodes it absorbed (post-ops, a fused ReLU).
  size_t (*lower)(OneDnnKernel& k, NodeId id);
  // How the op constrains the layouts of its values (layout_choice.h).
  LayoutRule layout = inputs_plain;
  // Whether its kernels read and write values stored as bf16 (the bf16
  // storage rule, bf16_storage.cpp, decides which values are).
  bool bf16_storage = false;
  // A group of this node alone may write output `inplace[0]` over input
  // `inplace[1]` when both have one layout; -1: no.
  std::array<int8_t, 2> inplace = {-1, -1};
};

// The registry: every family's rows (ops/onednn_ops.cpp).
const OpRegistry<OneDnnOp>& onednn_ops();

class OneDnnKernel final : public Kernel {
 public:
  using LayoutOf = std::function<Layout(ValueId)>;
  using Bf16Of = std::function<bool(ValueId)>;
  // bf16_of: the values the plan stores as bf16 (bf16 mode; see choose_bf16_storage).
  OneDnnKernel(const Graph& g, const FusionGroup& grp, std::shared_ptr<Ctx> ctx, LayoutOf layout_of,
               Bf16Of bf16_of);
  ~OneDnnKernel() override;

  size_t scratch_bytes() const override { return scratch_.bytes(); }
  std::vector<std::pair<ValueId, ValueId>> inplace_candidates() const override;
  // Compiled again: the steps' loops capture this kernel (its pointers and
  // scratch); oneDNN's primitive cache makes the primitives cheap to remake.
  std::unique_ptr<Kernel> clone() const override {
    return std::make_unique<OneDnnKernel>(g_, grp_, ctx_, layout_of_, bf16_of_);
  }
  void bind(const KernelBinding& b) override;
  void run() override;
  std::string describe() const override;
  // Primitives of this kernel that run one of oneDNN's reference (unoptimised) implementations.
  const std::vector<std::string>& reference_impls() const { return reference_; }

  // --- The building API of the op families ---------------------------------
  // Where an argument's memory is: a value's pointer, a slot in the kernel's
  // scratch (arena memory, live while the kernel runs), or a slot in the
  // kernel's own persistent memory (kept across runs: cached weight reorders).
  struct Ref {
    ValueId value = kNoValue;
    size_t scratch = 0;
    bool persistent = false;
  };
  const Graph& graph() const { return g_; }
  const FusionGroup& group() const { return grp_; }
  const Ctx& ctx() const { return *ctx_; }
  const OneDnnOptions& options() const { return ctx_->opt; }
  const LayoutOf& layout_of() const { return layout_of_; }
  Layout layout(ValueId v) const { return layout_of_(v); }

  size_t alloc(size_t bytes) { return scratch_.take(bytes); }  // a scratch slot
  size_t alloc_persistent(size_t bytes);                       // a slot kept across runs
  static Ref vref(ValueId v) { return Ref{v, 0}; }
  static Ref sref(size_t off) { return Ref{kNoValue, off}; }
  // At run time: a value's pointer, a scratch or persistent slot.
  float* fp(ValueId v) const { return static_cast<float*>(ptr_[size_t(v)]); }
  void* raw(ValueId v) const { return ptr_[size_t(v)]; }
  char* scratch_at(size_t off) const { return scratch_base_ + off; }
  char* persistent_at(size_t off) { return persistent_.data() + off; }
  // Weights no node of the graph updates (a generator's, say): what is derived
  // from them may be computed once, until the host writes a variable.
  bool never_updated(ValueId w) const;

  bool stored_bf16(ValueId v) const { return bf16_of_ && bf16_of_(v); }
  dnnl::memory::data_type stored_type(ValueId v) const;
  Elem elem_of(ValueId v) const { return stored_bf16(v) ? Elem::bf16 : Elem::f32; }
  // ",src stored bf16" and the like, for describe().
  std::string stored_text(std::initializer_list<std::pair<ValueId, const char*>> sides) const;
  dnnl::memory::desc data_md(ValueId v) const;
  // The layout two sides of a primitive share: a layout-trivial side takes the other's.
  Layout pair_layout(ValueId a, ValueId b) const;
  dnnl::memory::desc data_md_as(ValueId v, Layout l) const;
  static dnnl::memory::desc vec_md(int64_t c);

  // A primitive and its arguments (descs[i] lives at refs[i]); its scratchpad
  // is placed in the kernel's scratch. The descs must be the primitive's own.
  template <typename PD>
  void add_prim(dnnl::primitive prim, const PD& pd,
                std::vector<std::pair<int, dnnl::memory::desc>> descs, std::vector<Ref> refs,
                std::string what) {
    const size_t sp = pd.scratchpad_desc().get_size();
    if (sp) {
      descs.push_back({DNNL_ARG_SCRATCHPAD, pd.scratchpad_desc()});
      refs.push_back(sref(alloc(sp)));
    }
    for (const auto& [arg, md] : descs)
      check_arg(pd.query_md(dnnl::query::exec_arg_md, arg), arg, md, what);
    add_primitive_step(std::move(prim), pd.impl_info_str(), std::move(descs), std::move(refs),
                       std::move(what));
  }
  void add_reorder(const dnnl::memory::desc& from, Ref src, const dnnl::memory::desc& to, Ref dst,
                   const std::string& what);
  // A loop of ours.
  void add_fn(std::function<void()> f, std::string what);
  // Marks the last step as a derivation of fixed weights: it runs again only
  // after the host wrote a variable (Ctx::variable_writes), not at every run.
  void cache_last_step();
  // An input the primitive wants in another layout: reorder it into scratch first.
  Ref input_as(ValueId v, const dnnl::memory::desc& have, const dnnl::memory::desc& want,
               const std::string& what);
  Ref input_as(Ref r, const dnnl::memory::desc& have, const dnnl::memory::desc& want,
               const std::string& what);
  // Weights the primitive wants in another layout (or type): reordered into
  // scratch at every run, or, for weights no node of the graph updates (a
  // generator's, say), once into persistent memory until the host writes a variable.
  Ref weights_as(ValueId w, const dnnl::memory::desc& have, const dnnl::memory::desc& want);
  // Weights our own kernels read rearranged (`floats` of them, made by
  // `make` from the variable): rebuilt into scratch at every run, or, when no
  // node updates the variable, once into persistent memory until the host
  // writes a variable. Returns where they are at run time.
  std::function<float*()> transformed_weights(ValueId wv, int64_t floats, const std::string& what,
                                              std::function<void(const float*, float*)> make);
  // For loops of ours that read and write plain row-major floats: where the
  // value is in the plan's layout, a reorder into a plain copy in scratch
  // first (inputs), or a plain result in scratch reordered into the value
  // after the loop (outputs, finish_plain_output once the loop is added).
  // at(r) gives the pointer at run time.
  Ref plain_input(ValueId v);
  Ref plain_output(ValueId v);
  void finish_plain_output(ValueId v, Ref r);
  float* at(Ref r) {
    return r.value >= 0 ? fp(r.value)
                        : reinterpret_cast<float*>(r.persistent ? persistent_at(r.scratch) : scratch_at(r.scratch));
  }
  // An internal value of the group that a fused step absorbed: never materialised.
  void mark_fused(ValueId v) { fused_.insert(v); }

 private:
  struct Step {
    dnnl::primitive prim;  // empty: `fn` is a loop of ours
    std::vector<std::pair<int, dnnl::memory::desc>> arg_descs;
    std::vector<Ref> refs;
    std::vector<dnnl::memory> mems;
    std::vector<dnnl_exec_arg_t> args;
    std::function<void()> fn;
    std::string what;
    bool cached = false;  // see cache_last_step()
    uint64_t done_at = ~uint64_t(0);
  };
  static void check_arg(const dnnl::memory::desc& want, int arg, const dnnl::memory::desc& md,
                        const std::string& what);
  void add_primitive_step(dnnl::primitive prim, const std::string& impl,
                          std::vector<std::pair<int, dnnl::memory::desc>> descs,
                          std::vector<Ref> refs, std::string what);

  const Graph& g_;
  FusionGroup grp_;
  std::shared_ptr<Ctx> ctx_;
  LayoutOf layout_of_;
  Bf16Of bf16_of_;
  std::vector<Step> steps_;
  std::map<ValueId, size_t> slot_;
  std::map<ValueId, ValueId>
      in_output_;  // internal value -> the chain output whose buffer it borrows
  std::set<ValueId> fused_;
  std::vector<std::string> reference_;
  ScratchLayout scratch_;
  size_t persistent_bytes_ = 0;
  std::vector<char, AlignedAllocator<char>> persistent_;  // allocated at bind
  std::vector<void*> ptr_;
  char* scratch_base_ = nullptr;
  std::unique_ptr<EwProgram> program_;
};

}  // namespace rg::onednn
