// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/onednn_kernel.h"

#include <algorithm>
#include <stdexcept>

#include "backends/onednn/conv_primitives.h"
#include "backends/onednn/ew_program.h"
#include "backends/onednn/kernel_choice.h"

namespace rg::onednn {

using dnnl::memory;
using dt = memory::data_type;

OneDnnKernel::OneDnnKernel(const Graph& g, const FusionGroup& grp, std::shared_ptr<Ctx> ctx,
                           LayoutOf layout_of, Bf16Of bf16_of)
    : g_(g),
      grp_(grp),
      ctx_(std::move(ctx)),
      layout_of_(std::move(layout_of)),
      bf16_of_(std::move(bf16_of)) {
  const Node& first = g.node(grp.nodes[0]);
  const bool bn_head = is_bn_head_group(g, grp, layout_of_);
  size_t start = 0;
  if (!is_elementwise(first.op) && !bn_head) {
    const OneDnnOp& row = onednn_ops().at(first.op, "onednn");
    // Only the kernels that say so handle a value stored as bf16 (choose_bf16_storage).
    if (!row.bf16_storage)
      for (const std::vector<ValueId>* vs : {&first.inputs, &first.outputs})
        for (ValueId v : *vs)
          if (stored_bf16(v))
            throw std::logic_error(std::string("onednn backend: ") + op_name(first.op) +
                                   " reads or writes a value stored as bf16");
    start = 1 + row.lower(*this, grp.nodes[0]);
  }
  std::vector<NodeId> chain(grp.nodes.begin() + std::ptrdiff_t(start), grp.nodes.end());
  // Internal outputs of the anchor that no fused step absorbed: in a chain
  // output of the same layout or in scratch (internal_homes; EwProgram loads
  // all of a chunk before it stores the chunk).
  const auto homes = internal_homes(
      g, grp, [&](ValueId v) { return !fused_.count(v); },
      [&](NodeId id) {
        return is_elementwise(g.node(id).op) ||
               std::find(chain.begin(), chain.end(), id) != chain.end();
      },
      [&](ValueId v, ValueId o) {
        return layout_of_(o) == layout_of_(v) && stored_bf16(o) == stored_bf16(v);
      });
  for (const InternalHome& h : homes) {
    if (h.chain_output != kNoValue)
      in_output_[h.value] = h.chain_output;
    else
      slot_[h.value] = alloc(g.desc(h.value).bytes());
  }
  for (NodeId id : chain)
    if (!is_elementwise(g.node(id).op) && !(bn_head && id == chain[0]))
      throw std::logic_error("onednn backend: unexpected node in a chain");
  if (chain.empty()) return;
  program_ = std::make_unique<EwProgram>(g, grp, chain, layout_of_,
                                         [this](ValueId v) { return stored_bf16(v); });
  // Values the fused-away prefix produced that the chain still reads must exist.
  for (NodeId id : chain)
    for (ValueId v : g.node(id).inputs)
      if (grp.is_internal(v) && !slot_.count(v) && !in_output_.count(v) &&
          std::find(chain.begin(), chain.end(), g.value(v).producer) == chain.end())
        throw std::logic_error("onednn backend: chain reads a fused-away value");
}

OneDnnKernel::~OneDnnKernel() = default;

std::vector<std::pair<ValueId, ValueId>> OneDnnKernel::inplace_candidates() const {
  const Node& first = g_.node(grp_.nodes[0]);
  if (grp_.nodes.size() == 1 && !is_elementwise(first.op) &&
      !is_bn_head_group(g_, grp_, layout_of_)) {
    const auto io = onednn_ops().at(first.op, "onednn").inplace;
    if (io[0] < 0) return {};
    const ValueId out = first.outputs[size_t(io[0])], in = first.inputs[size_t(io[1])];
    if (layout_of_(out) != layout_of_(in)) return {};
    return {{out, in}};
  }
  // Whole group in one elementwise program (no anchor, or a BN head in it).
  if (!program_ || !steps_.empty() || !in_output_.empty() || !slot_.empty()) return {};
  return program_->inplace_candidates();
}

void OneDnnKernel::bind(const KernelBinding& b) {
  ptr_ = b.values;
  persistent_.assign(persistent_bytes_, 0);
  for (Step& s : steps_) s.done_at = ~uint64_t(0);
  char* scratch = static_cast<char*>(b.scratch);
  scratch_base_ = scratch;
  for (auto [v, off] : slot_) ptr_[size_t(v)] = scratch + off;
  for (auto [v, host] : in_output_) ptr_[size_t(v)] = ptr_[size_t(host)];
  for (Step& s : steps_) {
    if (!s.prim) continue;
    s.mems.clear();
    s.args.clear();
    for (size_t i = 0; i < s.arg_descs.size(); ++i) {
      const Ref& r = s.refs[i];
      void* p = r.value >= 0   ? ptr_[size_t(r.value)]
                : r.persistent ? persistent_.data() + r.scratch
                               : scratch + r.scratch;
      if (!p)
        throw std::logic_error("onednn backend: argument of " + s.what + " is not materialised");
      s.mems.emplace_back(s.arg_descs[i].second, ctx_->eng, p);
    }
    for (size_t i = 0; i < s.arg_descs.size(); ++i)
      s.args.push_back({s.arg_descs[i].first, s.mems[i].get()});
  }
  if (program_) program_->bind(ptr_);
}

void OneDnnKernel::run() {
  for (Step& s : steps_) {
    if (s.cached) {
      if (s.done_at == ctx_->variable_writes) continue;
      s.done_at = ctx_->variable_writes;
    }
    if (s.prim) {
      const dnnl_status_t st =
          dnnl_primitive_execute(s.prim.get(), ctx_->strm.get(), int(s.args.size()), s.args.data());
      if (st != dnnl_success)
        throw std::runtime_error("onednn backend: " + s.what + " failed (status " +
                                 std::to_string(int(st)) + ")");
    } else {
      s.fn();
    }
  }
  if (program_) program_->run();
}

std::string OneDnnKernel::describe() const {
  std::string s = "onednn:";
  for (const Step& st : steps_) s += " " + st.what;
  if (program_) s += " " + program_->describe();
  return s;
}

size_t OneDnnKernel::alloc_persistent(size_t bytes) {
  const size_t off = persistent_bytes_;
  persistent_bytes_ += host_block_bytes(bytes);
  return off;
}

bool OneDnnKernel::never_updated(ValueId w) const {
  const Value& val = g_.value(w);
  return val.variable >= 0 && g_.variables()[size_t(val.variable)].initial ==
                                  g_.variables()[size_t(val.variable)].current;
}

dt OneDnnKernel::stored_type(ValueId v) const {
  return stored_bf16(v) ? dt::bf16 : dt::f32;
}

std::string OneDnnKernel::stored_text(
    std::initializer_list<std::pair<ValueId, const char*>> sides) const {
  std::string s;
  for (const auto& [v, name] : sides)
    if (stored_bf16(v)) s += std::string(",") + name + " stored bf16";
  return s;
}

memory::desc OneDnnKernel::data_md(ValueId v) const {
  const Shape& s = g_.shape(v);
  return memory::desc(dims_of(s), stored_type(v), tag_of(layout_of_(v), s.size()));
}

Layout OneDnnKernel::pair_layout(ValueId a, ValueId b) const {
  const Layout la = layout_of_(a), lb = layout_of_(b);
  if (la == lb) return la;
  if (trivial_for(g_.shape(a), lb)) return lb;
  return la;
}

memory::desc OneDnnKernel::data_md_as(ValueId v, Layout l) const {
  const Shape& s = g_.shape(v);
  const Layout use = (layout_of_(v) == l || trivial_for(s, l)) ? l : layout_of_(v);
  return memory::desc(dims_of(s), stored_type(v), tag_of(use, s.size()));
}

memory::desc OneDnnKernel::vec_md(int64_t c) {
  return memory::desc({c}, dt::f32, memory::format_tag::a);
}

void OneDnnKernel::check_arg(const memory::desc& want, int arg, const memory::desc& md,
                             const std::string& what) {
  if (want != md)
    throw std::logic_error("onednn backend: " + what + ": argument " + std::to_string(arg) + " (" +
                           std::to_string(md.get_size()) +
                           " bytes) does not match the primitive's (" +
                           std::to_string(want.get_size()) + " bytes)");
}

void OneDnnKernel::add_primitive_step(dnnl::primitive prim, const std::string& impl,
                                      std::vector<std::pair<int, memory::desc>> descs,
                                      std::vector<Ref> refs, std::string what) {
  Step s;
  s.prim = std::move(prim);
  s.arg_descs = std::move(descs);
  s.refs = std::move(refs);
  if (is_reference_impl(impl)) reference_.push_back(what + "(" + impl + ")");
  s.what = std::move(what) + "(" + impl + ")";
  steps_.push_back(std::move(s));
}

void OneDnnKernel::add_reorder(const memory::desc& from, Ref src, const memory::desc& to, Ref dst,
                               const std::string& what) {
  auto pd = dnnl::reorder::primitive_desc(ctx_->eng, from, ctx_->eng, to, user_scratchpad_attr());
  add_prim(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}, {src, dst},
           "reorder:" + what);
}

void OneDnnKernel::add_fn(std::function<void()> f, std::string what) {
  Step s;
  s.fn = std::move(f);
  s.what = std::move(what);
  steps_.push_back(std::move(s));
}

void OneDnnKernel::cache_last_step() {
  steps_.back().cached = true;
}

OneDnnKernel::Ref OneDnnKernel::input_as(ValueId v, const memory::desc& have,
                                         const memory::desc& want, const std::string& what) {
  return input_as(vref(v), have, want, what);
}

OneDnnKernel::Ref OneDnnKernel::input_as(Ref r, const memory::desc& have, const memory::desc& want,
                                         const std::string& what) {
  if (have == want) return r;
  const size_t off = alloc(want.get_size());
  add_reorder(have, r, want, sref(off), what);
  return sref(off);
}

OneDnnKernel::Ref OneDnnKernel::weights_as(ValueId w, const memory::desc& have,
                                           const memory::desc& want) {
  if (!never_updated(w) || have == want) return input_as(w, have, want, "weights");
  const size_t off = alloc_persistent(want.get_size());
  add_reorder(have, vref(w), want, Ref{kNoValue, off, true}, "weights(cached)");
  cache_last_step();
  return Ref{kNoValue, off, true};
}

std::function<float*()> OneDnnKernel::transformed_weights(
    ValueId wv, int64_t floats, const std::string& what,
    std::function<void(const float*, float*)> make) {
  const bool fixed = never_updated(wv);
  const size_t bytes = size_t(floats) * sizeof(float);
  const size_t off = fixed ? alloc_persistent(bytes) : alloc(bytes);
  auto at = [this, off, fixed] {
    return reinterpret_cast<float*>(fixed ? persistent_.data() + off : scratch_base_ + off);
  };
  add_fn([this, wv, at, make = std::move(make)] { make(fp(wv), at()); },
         fixed ? what + "(cached)" : what);
  steps_.back().cached = fixed;
  return at;
}

namespace {
memory::desc plain_md(const Shape& s) {
  return memory::desc(dims_of(s), dt::f32, tag_of(Layout::plain, s.size()));
}
}  // namespace

OneDnnKernel::Ref OneDnnKernel::plain_input(ValueId v) {
  return input_as(v, data_md(v), plain_md(g_.shape(v)), "to_plain");
}

OneDnnKernel::Ref OneDnnKernel::plain_output(ValueId v) {
  const memory::desc p = plain_md(g_.shape(v));
  return data_md(v) == p ? vref(v) : sref(alloc(p.get_size()));
}

void OneDnnKernel::finish_plain_output(ValueId v, Ref r) {
  if (r.value == v) return;
  add_reorder(plain_md(g_.shape(v)), r, data_md(v), vref(v), "from_plain");
}

}  // namespace rg::onednn
