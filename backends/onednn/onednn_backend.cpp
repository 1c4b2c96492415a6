#include "backends/onednn/onednn_backend.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <numeric>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <set>
#include <stdexcept>

#include "backends/onednn/channel_groups.h"
#include "backends/onednn/bf16_storage.h"
#include "backends/onednn/conv_primitives.h"
#include "backends/onednn/kernel_choice.h"
#include "backends/onednn/layout.h"
#include "backends/onednn/layout_choice.h"
#include "backends/onednn/small_conv.h"
#include "backends/onednn/winograd_conv.h"
#include "backends/ref/ref_backend.h"
#include "engine/host_memory.h"
#include "engine/lowered_chain.h"
#include "engine/schedule.h"
#include "graph/batch_norm_rules.h"
#include "graph/elementwise_ops.h"
#include "graph/state_update_rules.h"

namespace rg {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

using onednn::block_of;
using onednn::dims_of;
using onednn::Layout;
using onednn::layout_name;
using onednn::Phys;
using onednn::phys_of;
using onednn::tag_of;
using onednn::trivial_for;
using onednn::Walk;
// Kernel choices (kernel_choice.h).
using onednn::bn_fwd_dst;
using onednn::is_bn_head_group;
using onednn::plain_layout_only;
using onednn::PostOps;
using onednn::runs_on_reference;
using onednn::small_conv_for;
using onednn::winograd_forward_for;
using onednn::winograd_weight_gradient_for;

struct Ctx {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  OneDnnOptions opt;
  uint64_t variable_writes =
      0;  // host writes of any variable (write_value): invalidates cached weight reorders
};

// Memory aligned as oneDNN likes it, for the kernels' persistent buffers.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(host_allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t) { host_release(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
};

// ---------------------------------------------------------------------------
// A fused elementwise chain: chunks of kChunk elements in physical order, one
// vectorised loop per instruction, OpenMP over chunks.
constexpr int64_t kChunk = 512;
constexpr int kMaxRegs = 40;

class EwProgram {
 public:
  // bf16_of: the values stored as bf16 (bf16 mode): widened on load, rounded on store.
  EwProgram(const Graph& g, const FusionGroup& grp, const std::vector<NodeId>& chain,
            const std::function<Layout(ValueId)>& layout_of,
            const std::function<bool(ValueId)>& bf16_of) {
    shape_ = grp.shape;
    total_ = numel(shape_);
    const Layout gl =
        shape_.size() == 4 ? layout_of(g.node(chain.back()).outputs[0]) : Layout::plain;
    const Phys ph = phys_of(shape_, gl);
    Load::Channel ch;  // the BatchNorm head's per-channel loads
    // The head: y = x * scale[c] + shift[c], scale and shift ours (per run).
    auto bn_head = [&](const Node& n, LoweredChain& c) -> int {
      if (n.op != OpKind::kBatchNormInference) return -1;
      const int x = c.operand(g, n.inputs[0]);
      bn_ = {n.inputs[1], n.inputs[2], n.inputs[3], n.inputs[4], n.attrs.eps};
      const size_t C = size_t(g.shape(n.inputs[0])[1]);
      scale_.assign(C, 0.f);
      shift_.assign(C, 0.f);
      const int64_t HW = shape_[2] * shape_[3];
      const int64_t blk =
          block_of(gl);  // a fill per chunk instead of a walk per element, where chunks line up
      if (blk && int64_t(C) % blk == 0 && (HW * blk) % kChunk == 0)
        ch = {1, int64_t(C), HW, blk};
      else if (gl == Layout::plain && HW % kChunk == 0)
        ch = {2, int64_t(C), HW, 0};
      else if (gl == Layout::nhwc && kChunk % int64_t(C) == 0)
        ch = {3, int64_t(C), HW, 0};
      const int sc = c.own_load({0, 1, 0, 0}), sh = c.own_load({0, 1, 0, 0});
      const int t = c.program.num_regs++, out = c.program.num_regs++;
      c.program.code.push_back({EwInstrKind::kMul, x, sc, -1, t});
      c.program.code.push_back({EwInstrKind::kAdd, t, sh, -1, out});
      return out;
    };
    const LoweredChain c = lower_chain(g, grp, chain, {}, bn_head);
    int own = 0;  // the head's loads: scale_, then shift_
    for (const ChainLoad& cl : c.loads) {
      Load l{cl.value, cl.reg, cl.full, {}, nullptr, {}};
      l.bf16 = cl.value != kNoValue && bf16_of(cl.value);
      if (l.bf16 && !l.full)
        throw std::logic_error("onednn backend: a bf16 value broadcast in a chain");
      if (!l.full) l.walk = Walk(ph, cl.strides);
      if (cl.value == kNoValue) {
        l.channel = ch;
        l.ptr = own++ == 0 ? scale_.data() : shift_.data();
      }
      loads_.push_back(l);
    }
    for (const ChainStore& s : c.stores) stores_.push_back({s.value, s.reg, nullptr, bf16_of(s.value)});
    for (const ChainNode& n : c.nodes) {
      const OpKind op = g.node(n.node).op;
      names_ += std::string(names_.empty() ? "" : " ") +
                (op == OpKind::kBatchNormInference ? "mul add" : op_name(op));
    }
    code_ = c.program.code;
    // attrs.scalar, 0 and 1 as chunks filled once.
    const_chunks_.assign(c.program.constants.size() * size_t(kChunk), 0.f);
    for (size_t i = 0; i < c.program.constants.size(); ++i) {
      const_regs_.push_back(c.program.constants[i].first);
      std::fill_n(const_chunks_.data() + i * size_t(kChunk), kChunk,
                  float(c.program.constants[i].second));
    }
    if (c.program.num_regs > kMaxRegs)
      throw std::logic_error("onednn backend: elementwise group too long");
  }

  // Every (store, full-shape load) pair: the planner takes the first whose
  // load is read for the last time here (one per store, one per load).
  std::vector<std::pair<ValueId, ValueId>> inplace_candidates() const {
    std::vector<std::pair<ValueId, ValueId>> r;
    for (const Store& s : stores_)
      for (const Load& l : loads_)
        if (l.full && l.bf16 == s.bf16) r.push_back({s.value, l.value});
    return r;
  }

  void bind(const std::vector<void*>& ptrs) {
    for (Load& l : loads_) {
      if (l.value == kNoValue) continue;  // scale_ / shift_
      l.ptr = static_cast<const float*>(ptrs.at(size_t(l.value)));
      if (!l.ptr) throw std::logic_error("onednn backend: elementwise input is not materialised");
    }
    for (Store& s : stores_) s.ptr = static_cast<float*>(ptrs.at(size_t(s.value)));
    if (bn_.gamma != kNoValue)
      for (int i = 0; i < 4; ++i) {
        const ValueId v = i == 0 ? bn_.gamma : i == 1 ? bn_.beta : i == 2 ? bn_.mean : bn_.var;
        bn_ptr_[i] = static_cast<const float*>(ptrs.at(size_t(v)));
      }
  }

  void run() const {
    if (bn_.gamma != kNoValue)  // per-channel affine of the BatchNorm head, in double
      for (size_t c = 0; c < scale_.size(); ++c) {
        const double inv = batch_norm_inv_std(double(bn_ptr_[3][c]), bn_.eps, 1.0);
        const double sc = batch_norm_scale(inv, double(bn_ptr_[0][c]));
        scale_[c] = float(sc);
        shift_[c] = float(batch_norm_shift(double(bn_ptr_[2][c]), sc, double(bn_ptr_[1][c])));
      }
    const int64_t chunks = (total_ + kChunk - 1) / kChunk;
    if (total_ < 32768) {
      for (int64_t c = 0; c < chunks; ++c) run_chunk(c);
      return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) run_chunk(c);
  }

  std::string describe() const {
    std::string s = "ew[" + names_ + "]";
    if (std::any_of(loads_.begin(), loads_.end(), [](const Load& l) { return l.bf16; }))
      s += "(widens bf16)";
    if (bn_.gamma != kNoValue)  // how the BatchNorm head's per-channel scale and shift are loaded
      for (const Load& l : loads_)
        if (l.value == kNoValue)
          return s + (l.channel.kind ? " bn-head(chunk fill)" : " bn-head(walk)");
    return s;
  }

 private:
  struct Load {
    ValueId value;
    int reg;
    bool full;
    Walk walk;
    const float* ptr = nullptr;  // bf16 values: their uint16_t elements
    // A per-channel vector over a 4-D chunk, when every chunk of kChunk elements
    // has a simple pattern: 1 nChw8c / nChw16c (one block of channels repeated),
    // 2 NCHW (one channel), 3 NHWC (all C channels repeated); 0: use the walk.
    struct Channel {
      int kind = 0;
      int64_t C = 0, HW = 0, block = 0;
    } channel;
    bool bf16 = false;  // stored as bf16: widened into the chunk's register
  };
  struct Store {
    ValueId value;
    int reg;
    float* ptr;
    bool bf16 = false;
  };

  void run_chunk(int64_t c) const {
    const int64_t e0 = c * kChunk, n = std::min(kChunk, total_ - e0);
    alignas(64) float buf[kMaxRegs][kChunk];
    const float* R[kMaxRegs];
    for (const Load& l : loads_) {
      if (l.full && l.bf16) {
        onednn::widen_run(reinterpret_cast<const uint16_t*>(l.ptr) + e0, buf[l.reg], n);
        R[l.reg] = buf[l.reg];
      } else if (l.full) {
        R[l.reg] = l.ptr + e0;
      } else {
        float* d = buf[l.reg];
        const Load::Channel& ch = l.channel;
        if (l.walk.all_zero) {
          std::fill(d, d + n, l.ptr[0]);
        } else if (ch.kind == 1) {
          const int64_t b = ch.block;
          const float* src = l.ptr + ((e0 / (ch.HW * b)) % (ch.C / b)) * b;
          for (int64_t i = 0; i < n; i += b) std::memcpy(d + i, src, size_t(b) * sizeof(float));
        } else if (ch.kind == 2) {
          std::fill(d, d + n, l.ptr[(e0 / ch.HW) % ch.C]);
        } else if (ch.kind == 3) {
          for (int64_t i = 0; i < n; i += ch.C)
            std::memcpy(d + i, l.ptr, size_t(ch.C) * sizeof(float));
        } else {
          const float* p = l.ptr;
          l.walk.run(e0, n, [&](int64_t i, int64_t off) { d[i] = p[off]; });
        }
        R[l.reg] = d;
      }
    }
    for (size_t i = 0; i < const_regs_.size(); ++i)
      R[const_regs_[i]] = const_chunks_.data() + i * size_t(kChunk);
    for (const auto& in : code_) {
      float* __restrict y = buf[in.out];
      const float* __restrict a = R[in.x];
      const float* __restrict b = in.y >= 0 ? R[in.y] : a;
      const float* __restrict c = in.z >= 0 ? R[in.z] : a;
      ew_dispatch(in.op, [&](auto kind) {
        for (int64_t i = 0; i < n; ++i) y[i] = ew_apply<decltype(kind)::value>(a[i], b[i], c[i]);
      });
      R[in.out] = y;
    }
    for (const Store& s : stores_)
      if (s.bf16)
        onednn::narrow_run(R[s.reg], reinterpret_cast<uint16_t*>(s.ptr) + e0, n);
      else
        std::memcpy(s.ptr + e0, R[s.reg], size_t(n) * sizeof(float));
  }

  // A batch_norm_inference head (x, gamma, beta, mean, var): scale and shift per
  // channel, recomputed by run() from the current values (no allocation).
  struct BnHead {
    ValueId gamma = kNoValue, beta = kNoValue, mean = kNoValue, var = kNoValue;
    double eps = 0;
  } bn_;
  const float* bn_ptr_[4] = {};
  mutable std::vector<float> scale_, shift_;
  Shape shape_;
  int64_t total_ = 0;
  std::vector<Load> loads_;
  std::vector<Store> stores_;
  std::vector<EwRegisterProgram::Instr> code_;
  std::vector<int> const_regs_;
  std::vector<float, AlignedAllocator<float>>
      const_chunks_;   // kChunk copies of each constant, in const_regs_ order
  std::string names_;  // the chain's ops, for describe()
};

// ---------------------------------------------------------------------------
// One kernel per fusion group: a list of steps (oneDNN primitives with their
// argument arrays, or our own loops), all built at compile/bind time.

// Where an argument's memory is: a value's pointer, a slot in the kernel's
// scratch (arena memory, live while the kernel runs), or a slot in the
// kernel's own persistent memory (kept across runs: cached weight reorders).
struct Ref {
  ValueId value = kNoValue;
  size_t scratch = 0;
  bool persistent = false;
};

struct Step {
  dnnl::primitive prim;  // empty: `fn` is a loop of ours
  std::vector<std::pair<int, memory::desc>> arg_descs;
  std::vector<Ref> refs;
  std::vector<memory> mems;
  std::vector<dnnl_exec_arg_t> args;
  std::function<void()> fn;
  std::string what;
  // A reorder of weights that no node of the graph updates: it runs again only
  // after the host wrote a variable (Ctx::variable_writes), not at every run.
  bool cached = false;
  uint64_t done_at = ~uint64_t(0);
};

class OneDnnKernel final : public Kernel {
 public:
  // bf16_of: the values the plan stores as bf16 (bf16 mode; see choose_bf16_storage).
  OneDnnKernel(const Graph& g, const FusionGroup& grp, std::shared_ptr<Ctx> ctx,
               std::function<Layout(ValueId)> layout_of, std::function<bool(ValueId)> bf16_of)
      : g_(g),
        grp_(grp),
        ctx_(std::move(ctx)),
        layout_of_(std::move(layout_of)),
        bf16_of_(std::move(bf16_of)) {
    const Node& first = g.node(grp.nodes[0]);
    std::vector<NodeId> chain;
    size_t start = 0;
    const bool bn_head = is_bn_head_group(g, grp, layout_of_);
    // Only convolutions, batch norm's primitives and elementwise chains handle
    // a value stored as bf16 (choose_bf16_storage).
    const bool bf16_capable = is_convolution(first.op) || first.op == OpKind::kBatchNormTrain ||
                              first.op == OpKind::kBatchNormInference ||
                              first.op == OpKind::kBatchNormBackward;
    if (!is_elementwise(first.op) && !bn_head && !bf16_capable)
      for (const std::vector<ValueId>* vs : {&first.inputs, &first.outputs})
        for (ValueId v : *vs)
          if (stored_bf16(v))
            throw std::logic_error(std::string("onednn backend: ") + op_name(first.op) +
                                   " reads or writes a value stored as bf16");
    if (!is_elementwise(first.op) && !bn_head) {
      start = 1;
      switch (first.op) {
        case OpKind::kConv2d:
        case OpKind::kConvTranspose2d:
          start += compile_conv_fwd(grp.nodes[0]);
          break;
        case OpKind::kConv2dBackwardWeight:
          compile_conv_bwd_w(first);
          break;
        case OpKind::kBatchNormTrain:
        case OpKind::kBatchNormInference:
          start += compile_bn_fwd(grp.nodes[0]);
          break;
        case OpKind::kBatchNormBackward:
          compile_bn_bwd(first);
          break;
        default:
          compile_misc(first);
          break;
      }
    }
    for (size_t i = start; i < grp.nodes.size(); ++i) chain.push_back(grp.nodes[i]);
    // Internal outputs of the anchor that no post-op absorbed: in a chain
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
    if (!chain.empty()) {
      // Values the fused-away prefix produced that the chain still reads must exist.
      program_ = std::make_unique<EwProgram>(g, grp, chain, layout_of_,
                                             [this](ValueId v) { return stored_bf16(v); });
      for (NodeId id : chain)
        for (ValueId v : g.node(id).inputs)
          if (grp.is_internal(v) && !slot_.count(v) && !in_output_.count(v) &&
              std::find(chain.begin(), chain.end(), g.value(v).producer) == chain.end())
            throw std::logic_error("onednn backend: chain reads a fused-away value");
    }
  }

  size_t scratch_bytes() const override { return scratch_.bytes(); }
  // Primitives of this kernel that run one of oneDNN's reference (unoptimised) implementations.
  const std::vector<std::string>& reference_impls() const { return reference_; }

  std::vector<std::pair<ValueId, ValueId>> inplace_candidates() const override {
    // BatchNorm backward alone: oneDNN allows diff_src in diff_dst's memory.
    const Node& first = g_.node(grp_.nodes[0]);
    if (grp_.nodes.size() == 1 && first.op == OpKind::kBatchNormBackward &&
        layout_of_(first.outputs[0]) == layout_of_(first.inputs[0]))
      return {{first.outputs[0], first.inputs[0]}};
    // Whole group in one elementwise program (no anchor, or a BN head in it).
    if (!program_ || !steps_.empty() || !in_output_.empty() || !slot_.empty()) return {};
    return program_->inplace_candidates();
  }

  // Compiled again: the steps' loops capture this kernel (its pointers and
  // scratch); oneDNN's primitive cache makes the primitives cheap to remake.
  std::unique_ptr<Kernel> clone() const override {
    return std::make_unique<OneDnnKernel>(g_, grp_, ctx_, layout_of_, bf16_of_);
  }
  void bind(const KernelBinding& b) override {
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

  void run() override {
    for (Step& s : steps_) {
      if (s.cached) {
        if (s.done_at == ctx_->variable_writes) continue;
        s.done_at = ctx_->variable_writes;
      }
      if (s.prim) {
        const dnnl_status_t st = dnnl_primitive_execute(s.prim.get(), ctx_->strm.get(),
                                                        int(s.args.size()), s.args.data());
        if (st != dnnl_success)
          throw std::runtime_error("onednn backend: " + s.what + " failed (status " +
                                   std::to_string(int(st)) + ")");
      } else {
        s.fn();
      }
    }
    if (program_) program_->run();
  }

  std::string describe() const override {
    std::string s = "onednn:";
    for (const Step& st : steps_) s += " " + st.what;
    if (program_) s += " " + program_->describe();
    return s;
  }

 private:
  size_t alloc(size_t bytes) { return scratch_.take(bytes); }
  // A slot in the kernel's persistent memory (kept across runs).
  size_t alloc_persistent(size_t bytes) {
    const size_t off = persistent_bytes_;
    persistent_bytes_ += host_block_bytes(bytes);
    return off;
  }
  // Weights no node of the graph updates (a generator's, say): what is derived
  // from them may be computed once, until the host writes a variable.
  bool never_updated(ValueId w) const {
    const Value& val = g_.value(w);
    return val.variable >= 0 && g_.variables()[size_t(val.variable)].initial ==
                                    g_.variables()[size_t(val.variable)].current;
  }
  Ref vref(ValueId v) const { return Ref{v, 0}; }
  Ref sref(size_t off) const { return Ref{kNoValue, off}; }

  bool stored_bf16(ValueId v) const { return bf16_of_ && bf16_of_(v); }
  dt stored_type(ValueId v) const { return stored_bf16(v) ? dt::bf16 : dt::f32; }
  onednn::Elem elem_of(ValueId v) const {
    return stored_bf16(v) ? onednn::Elem::bf16 : onednn::Elem::f32;
  }
  // ",src stored bf16" and the like, for describe().
  std::string stored_text(std::initializer_list<std::pair<ValueId, const char*>> sides) const {
    std::string s;
    for (const auto& [v, name] : sides)
      if (stored_bf16(v)) s += std::string(",") + name + " stored bf16";
    return s;
  }
  memory::desc data_md(ValueId v) const {
    const Shape& s = g_.shape(v);
    return memory::desc(dims_of(s), stored_type(v), tag_of(layout_of_(v), s.size()));
  }
  // The layout two sides of a primitive share: a layout-trivial side takes the other's.
  Layout pair_layout(ValueId a, ValueId b) const {
    const Layout la = layout_of_(a), lb = layout_of_(b);
    if (la == lb) return la;
    if (trivial_for(g_.shape(a), lb)) return lb;
    return la;
  }
  memory::desc data_md_as(ValueId v, Layout l) const {
    const Shape& s = g_.shape(v);
    const Layout use = (layout_of_(v) == l || trivial_for(s, l)) ? l : layout_of_(v);
    return memory::desc(dims_of(s), stored_type(v), tag_of(use, s.size()));
  }
  static memory::desc vec_md(int64_t c) { return memory::desc({c}, dt::f32, tag::a); }

  template <typename PD>
  void add_prim(dnnl::primitive prim, const PD& pd, std::vector<std::pair<int, memory::desc>> descs,
                std::vector<Ref> refs, std::string what) {
    const size_t sp = pd.scratchpad_desc().get_size();
    if (sp) {
      descs.push_back({DNNL_ARG_SCRATCHPAD, pd.scratchpad_desc()});
      refs.push_back(sref(alloc(sp)));
    }
    for (const auto& [arg, md] : descs) {
      const memory::desc want = pd.query_md(dnnl::query::exec_arg_md, arg);
      if (want != md)
        throw std::logic_error("onednn backend: " + what + ": argument " + std::to_string(arg) +
                               " (" + std::to_string(md.get_size()) +
                               " bytes) does not match the primitive's (" +
                               std::to_string(want.get_size()) + " bytes)");
    }
    Step s;
    s.prim = std::move(prim);
    s.arg_descs = std::move(descs);
    s.refs = std::move(refs);
    const std::string impl = pd.impl_info_str();
    if (onednn::is_reference_impl(impl)) reference_.push_back(what + "(" + impl + ")");
    s.what = std::move(what) + "(" + impl + ")";
    steps_.push_back(std::move(s));
  }

  void add_reorder(const memory::desc& from, Ref src, const memory::desc& to, Ref dst,
                   const std::string& what) {
    auto pd = dnnl::reorder::primitive_desc(ctx_->eng, from, ctx_->eng, to,
                                            onednn::user_scratchpad_attr());
    add_prim(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}, {src, dst},
             "reorder:" + what);
  }

  // Which chain nodes after an anchor can become post-ops: a linear chain of
  // unary ops (and one leading per-channel bias add), every intermediate internal
  // and read once. Returns how many, the post-ops, and the bias value.
  PostOps match_post_ops(NodeId anchor, bool allow_bias) const {
    return onednn::match_post_ops(g_, grp_, anchor, allow_bias, ctx_->opt.post_ops);
  }

  // An input the primitive wants in another layout: reorder it into scratch first.
  Ref input_as(ValueId v, const memory::desc& have, const memory::desc& want,
               const std::string& what) {
    return input_as(vref(v), have, want, what);
  }
  // Weights the primitive wants in another layout (or type): reordered into
  // scratch at every run, or, for weights no node of the graph updates (a
  // generator's, say), once into persistent memory until the host writes a variable.
  Ref weights_as(ValueId w, const memory::desc& have, const memory::desc& want) {
    if (!never_updated(w) || have == want) return input_as(w, have, want, "weights");
    const size_t off = alloc_persistent(want.get_size());
    add_reorder(have, vref(w), want, Ref{kNoValue, off, true}, "weights(cached)");
    steps_.back().cached = true;
    return Ref{kNoValue, off, true};
  }
  Ref input_as(Ref r, const memory::desc& have, const memory::desc& want, const std::string& what) {
    if (have == want) return r;
    const size_t off = alloc(want.get_size());
    add_reorder(have, r, want, sref(off), what);
    return sref(off);
  }

  // conv2d -> convolution forward; conv_transpose2d -> deconvolution forward
  // (or a flipped forward convolution, see runs_as_flipped_conv). Source and
  // destination take the layouts the plan chose; where oneDNN has only a
  // reference implementation for that pair, the primitive picks its own
  // (format any) and reorders run in the arena.
  size_t compile_conv_fwd(NodeId id) {
    using namespace onednn;
    const Node& n = g_.node(id);
    const ConvGeometry geo = conv_geometry(g_, n);
    const bool deconv = n.op == OpKind::kConvTranspose2d;
    const bool flip = runs_as_flipped_conv(n, geo);
    PostOps po = match_post_ops(id, true);
    dnnl::primitive_attr attr = user_scratchpad_attr();
    if (po.count) attr.set_post_ops(po.ops);
    const ValueId src = n.inputs[0], wv = n.inputs[1];
    if (!flip && compile_winograd(n, po)) {
      mark_post_ops_fused(po);
      return po.count;
    }
    // bf16 mode too, in f32 (operands not rounded): oneDNN's bf16 kernels pad a
    // few output channels to a block of 16 (G's last layer: 2.3x slower in
    // bf16), and rounding each load to bf16 made ours 2.3x slower.
    if (compile_small_conv(n, geo, flip, po)) {
      mark_post_ops_fused(po);
      return po.count;
    }
    const ValueId dst = po.count ? po.result : n.outputs[0];
    const memory::desc src_md = data_md_as(src, pair_layout(dst, src));
    const memory::desc dst_md = data_md_as(dst, pair_layout(src, dst));
    const int64_t oc = g_.shape(n.outputs[0])[1];
    const bool bias = po.bias >= 0;
    const memory::desc bias_md = bias ? vec_md(oc) : memory::desc();
    const ConvGeometry cg = flip ? flipped(geo) : geo;
    Ref wsrc = vref(wv);
    memory::desc wuser = deconv ? deconv_weights_md(geo.weight_shape(), tag::iohw)
                                : conv_weights_md(geo.weight_shape(), tag::oihw);
    if (flip) {
      wuser = conv_weights_md(cg.weight_shape(), tag::oihw);
      const size_t off = alloc(size_t(numel(geo.weight_shape())) * sizeof(float));
      wsrc = sref(off);
      add_fn(
          [this, wv, off, w = geo.weight_shape()] {
            flip_transposed_weights(w, fp(wv), reinterpret_cast<float*>(scratch_base_ + off));
          },
          "flip_weights");
    }
    // bf16: the primitive reads bf16 copies of src and weights (reorders below convert) and writes
    // f32.
    const dt op_type = ctx_->opt.bf16 ? dt::bf16 : dt::f32;
    const memory::desc wany = with_type(any_like(wuser), op_type);
    const memory::desc* bias_p = bias ? &bias_md : nullptr;
    auto body = [&](auto make_pd, const char* name) {
      auto pd = make_pd(with_type(src_md, op_type), dst_md);
      memory::desc s_md = pd.src_desc(), d_md = dst_md;
      std::string lay =
          layout_name(layout_of_(src)) + std::string("->") + layout_name(layout_of_(dst));
      if (is_reference_impl(pd.impl_info_str())) {
        pd = make_pd(with_type(any_like(src_md), op_type), any_like(dst_md));
        s_md = pd.src_desc();
        d_md = pd.dst_desc();
        lay += ",any";
      }
      if (ctx_->opt.bf16) lay += ",bf16";
      lay += stored_text({{src, "src"}, {dst, "dst"}});
      const memory::desc w_md = pd.weights_desc();
      const Ref wref = flip ? input_as(wsrc, wuser, w_md, "weights") : weights_as(wv, wuser, w_md);
      const Ref sref_in = input_as(src, src_md, s_md, "src");
      Ref dref = vref(dst);
      size_t doff = 0;
      const bool dst_reorder = d_md != dst_md;
      if (dst_reorder) doff = alloc(d_md.get_size()), dref = sref(doff);
      std::vector<std::pair<int, memory::desc>> descs = {
          {DNNL_ARG_SRC, s_md}, {DNNL_ARG_WEIGHTS, w_md}, {DNNL_ARG_DST, d_md}};
      std::vector<Ref> refs = {sref_in, wref, dref};
      if (bias) descs.push_back({DNNL_ARG_BIAS, bias_md}), refs.push_back(vref(po.bias));
      add_prim(dnnl::primitive(pd), pd, descs, refs, std::string(name) + po.text + "[" + lay + "]");
      if (dst_reorder) add_reorder(d_md, sref(doff), dst_md, vref(dst), "dst");
    };
    if (!deconv || flip)
      body(
          [&](const memory::desc& s, const memory::desc& d) {
            return conv_fwd_pd(ctx_->eng, cg, s, wany, bias_p, d, attr);
          },
          flip ? "conv_fwd(flipped deconv)" : "conv_fwd");
    else
      body(
          [&](const memory::desc& s, const memory::desc& d) {
            return deconv_fwd_pd(ctx_->eng, cg, s, wany, bias_p, d, attr);
          },
          "deconv_fwd");
    mark_post_ops_fused(po);
    return po.count;
  }

  // Internal values fused into post-ops need no slot.
  void mark_post_ops_fused(const PostOps& po) {
    if (po.count)
      for (size_t i = 0; i <= po.count; ++i)
        for (ValueId v : g_.node(grp_.nodes[i]).outputs)
          if (v != po.result) fused_.insert(v);
  }

  // Our own kernels (Winograd, small_conv) write the anchor's result; the
  // eltwise post-ops a primitive would have fused run after them as oneDNN
  // eltwise primitives in place on it. They take post-ops of that kind only.
  static bool only_eltwise(const PostOps& po) {
    for (int i = 0; i < po.ops.len(); ++i)
      if (po.ops.kind(i) != dnnl::primitive::kind::eltwise) return false;
    return true;
  }
  void add_eltwise_post_ops_in_place(const PostOps& po, ValueId dst) {
    const memory::desc md = data_md(dst);
    for (int i = 0; i < po.ops.len(); ++i) {
      float scale, alpha, beta;
      dnnl::algorithm alg;
      po.ops.get_params_eltwise(i, scale, alg, alpha, beta);
      auto pd = dnnl::eltwise_forward::primitive_desc(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, md, alpha, beta),
          onednn::user_scratchpad_attr(), ctx_->eng);
      add_prim(dnnl::eltwise_forward(pd), pd, {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}},
               {vref(dst), vref(dst)}, "eltwise");
    }
  }

  // A 4x4 stride-2 padding-1 convolution or transposed convolution (the
  // models' down- and upsampling and their input gradients): our Winograd
  // kernel (winograd_conv.h), 1.78x fewer multiplications than oneDNN's
  // direct one. Its transformed weights are recomputed at every run,
  // or once until the host writes a variable when no node updates them (a
  // generator's). The bias is added by the kernel, eltwise post-ops by oneDNN
  // eltwise primitives in place on the result.
  bool compile_winograd(const Node& n, const PostOps& po) {
    using namespace onednn;
    const bool transposed = n.op == OpKind::kConvTranspose2d;
    if (!only_eltwise(po)) return false;
    const ValueId src = n.inputs[0], wv = n.inputs[1], dst = po.count ? po.result : n.outputs[0];
    const ValueId bias = po.bias;
    const std::optional<WinogradConv> found = winograd_forward_for(g_, n, dst, layout_of_, ctx_->opt);
    if (!found) return false;
    const WinogradConv c = *found;
    const auto u_ptr =
        transformed_weights(wv, winograd_weights_floats(c), "winograd_weights",
                            [c](const float* w, float* u) { winograd_transform_weights(c, w, u); });
    const size_t work = alloc(size_t(winograd_scratch_floats(c)) * sizeof(float));
    const Elem se = elem_of(src), de = elem_of(dst);
    add_fn(
        [this, c, src, dst, bias, u_ptr, work, se, de] {
          winograd_run(c, fp(src), se, u_ptr(), bias >= 0 ? fp(bias) : nullptr, fp(dst), de,
                       reinterpret_cast<float*>(scratch_base_ + work));
        },
        std::string(transposed ? "winograd_deconv" : "winograd_conv") + po.text + "[" +
            layout_name(c.src_layout) + "->" + layout_name(c.dst_layout) +
            stored_text({{src, "src"}, {dst, "dst"}}) + "](" + micro_isa_name(c.isa) + ")");
    add_eltwise_post_ops_in_place(po, dst);
    return true;
  }

  // Weights our own kernels read rearranged (`floats` of them, made by
  // `make` from the variable): rebuilt into scratch at every run, or, when no
  // node updates the variable (a generator's), once into persistent memory
  // until the host writes a variable. Returns where they are at run time.
  std::function<float*()> transformed_weights(ValueId wv, int64_t floats, const std::string& what,
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

  // The weight gradient of a 4x4 stride-2 padding-1 layer (both kinds: a
  // transposed layer's is the strided convolution's from its output to its
  // input): our Winograd kernel too, where the forward pass would pay.
  bool compile_winograd_weight_gradient(const Node& n, const ConvGeometry& geo) {
    using namespace onednn;
    const std::optional<WinogradConv> found = winograd_weight_gradient_for(g_, n, layout_of_, ctx_->opt);
    if (!found) return false;
    const WinogradConv c = *found;
    const size_t work = alloc(size_t(winograd_weight_gradient_scratch_floats(c)) * sizeof(float));
    const Elem se = elem_of(geo.in), de = elem_of(geo.out);
    add_fn(
        [this, c, src = geo.in, dy = geo.out, dw = n.outputs[0], work, se, de] {
          winograd_weight_gradient(c, fp(src), se, fp(dy), de, fp(dw),
                                   reinterpret_cast<float*>(scratch_base_ + work));
        },
        std::string("winograd_bwd_w[") + layout_name(c.src_layout) + "," +
            layout_name(c.dst_layout) + stored_text({{geo.in, "src"}, {geo.out, "diff_dst"}}) +
            "](" + micro_isa_name(c.isa) + ")");
    return true;
  }

  // A convolution (or flipped transposed convolution) with at most 4 output
  // channels: our direct kernel (small_conv.h) instead of a oneDNN primitive
  // that pads the output channels to a whole block.
  // The post-ops (a bias and eltwise ops) are applied too: the bias by the
  // kernel, each eltwise op by a oneDNN eltwise primitive in place on the result.
  bool compile_small_conv(const Node& n, const ConvGeometry& geo, bool flip, const PostOps& po) {
    using namespace onednn;
    const ValueId src = n.inputs[0], wv = n.inputs[1], dst = po.count ? po.result : n.outputs[0];
    const ValueId bias = po.bias;
    // Ours reads and writes f32 (reading bf16 measured slower, and the
    // generator's image is computed from f32 activations: docs/cpu_backend.md).
    if (!only_eltwise(po) || stored_bf16(src) || stored_bf16(dst)) return false;
    const std::optional<SmallConv> found = small_conv_for(g_, n, dst, layout_of_);
    if (!found) return false;
    const SmallConv c = *found;
    const size_t wflip = flip ? alloc(size_t(numel(geo.weight_shape())) * sizeof(float)) : 0;
    const size_t pack = alloc(size_t(small_conv_scratch_floats(c)) * sizeof(float));
    add_fn(
        [this, c, src, wv, dst, bias, flip, wflip, pack, wshape = geo.weight_shape()] {
          const float* w = fp(wv);
          if (flip) {
            float* F = reinterpret_cast<float*>(scratch_base_ + wflip);
            flip_transposed_weights(wshape, w, F);
            w = F;
          }
          small_conv_forward(c, fp(src), w, bias >= 0 ? fp(bias) : nullptr, fp(dst),
                             reinterpret_cast<float*>(scratch_base_ + pack));
        },
        std::string("small_conv") + (flip ? "(flipped deconv)" : "") + po.text + "[" +
            layout_name(c.src_layout) + "->" + layout_name(c.dst_layout) + "]");
    add_eltwise_post_ops_in_place(po, dst);
    return true;
  }

  void compile_conv_bwd_w(const Node& n) {
    using namespace onednn;
    const ConvGeometry geo = conv_geometry(g_, n);
    if (compile_winograd_weight_gradient(n, geo)) return;
    const memory::desc src_md = data_md_as(geo.in, pair_layout(geo.out, geo.in));
    const memory::desc dd_md = data_md_as(geo.out, pair_layout(geo.in, geo.out));
    const memory::desc user_w = conv_weights_md(geo.weight_shape(), tag::oihw);
    const dnnl::primitive_attr attr = user_scratchpad_attr();
    const dt op_type =
        ctx_->opt.bf16 ? dt::bf16 : dt::f32;  // bf16: bf16 copies of both inputs, f32 gradient
    auto pd = conv_bwd_weights_pd(ctx_->eng, geo, with_type(src_md, op_type),
                                  with_type(dd_md, op_type), attr);
    std::string lay =
        layout_name(layout_of_(geo.in)) + std::string(",") + layout_name(layout_of_(geo.out));
    if (is_reference_impl(pd.impl_info_str()))
      pd = conv_bwd_weights_pd(ctx_->eng, geo, with_type(any_like(src_md), op_type),
                               with_type(any_like(dd_md), op_type), attr),
      lay += ",any";
    if (ctx_->opt.bf16) lay += ",bf16";
    lay += stored_text({{geo.in, "src"}, {geo.out, "diff_dst"}});
    const Ref s_ref = input_as(geo.in, src_md, pd.src_desc(), "src");
    const Ref d_ref = input_as(geo.out, dd_md, pd.diff_dst_desc(), "diff_dst");
    const memory::desc w_md = pd.diff_weights_desc();
    const ValueId out = n.outputs[0];
    Ref wref = vref(out);
    size_t off = 0;
    const bool reorder = w_md != user_w;
    if (reorder) off = alloc(w_md.get_size()), wref = sref(off);
    add_prim(dnnl::convolution_backward_weights(pd), pd,
             {{DNNL_ARG_SRC, pd.src_desc()},
              {DNNL_ARG_DIFF_DST, pd.diff_dst_desc()},
              {DNNL_ARG_DIFF_WEIGHTS, w_md}},
             {s_ref, d_ref, wref}, "conv_bwd_w[" + lay + "]");
    if (reorder) add_reorder(w_md, sref(off), user_w, vref(out), "diff_weights");
  }

  size_t compile_bn_fwd(NodeId id) {
    const Node& n = g_.node(id);
    const bool train = n.op == OpKind::kBatchNormTrain;
    const ValueId x = n.inputs[0], y = n.outputs[0];
    const int64_t C = g_.shape(x)[1];
    // batch_norm + relu with the normalised value internal: fuse_norm_relu.
    const ValueId dst = bn_fwd_dst(g_, grp_, id, ctx_->opt.post_ops);
    const bool fuse = dst != y;
    if (fuse) fused_.insert(y);
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (!train) flags = flags | dnnl::normalization_flags::use_global_stats;
    if (fuse) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
    const memory::desc md = data_md(x);
    if (data_md(dst) != md)
      throw std::logic_error("onednn backend: batch norm input and output layouts differ");
    auto d = dnnl::batch_normalization_forward::desc(
        train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, md,
        float(n.attrs.eps), flags);
    auto pd = dnnl::batch_normalization_forward::primitive_desc(d, onednn::user_scratchpad_attr(),
                                                                ctx_->eng);
    std::vector<std::pair<int, memory::desc>> descs = {
        {DNNL_ARG_SRC, md},          {DNNL_ARG_DST, md},         {DNNL_ARG_SCALE, vec_md(C)},
        {DNNL_ARG_SHIFT, vec_md(C)}, {DNNL_ARG_MEAN, vec_md(C)}, {DNNL_ARG_VARIANCE, vec_md(C)}};
    std::vector<Ref> refs = {vref(x), vref(dst), vref(n.inputs[1]), vref(n.inputs[2])};
    if (train)
      refs.push_back(vref(n.outputs[1])), refs.push_back(vref(n.outputs[2]));
    else
      refs.push_back(vref(n.inputs[3])), refs.push_back(vref(n.inputs[4]));
    if (fuse && train) {
      descs.push_back({DNNL_ARG_WORKSPACE, pd.workspace_desc()});
      refs.push_back(sref(alloc(pd.workspace_desc().get_size())));
    }
    add_prim(
        dnnl::batch_normalization_forward(pd), pd, descs, refs,
        std::string(train ? "bnorm_fwd_train" : "bnorm_fwd_inference") + (fuse ? "+relu" : ""));
    return fuse ? 1 : 0;
  }

  void compile_bn_bwd(const Node& n) {
    const ValueId dy = n.inputs[0], x = n.inputs[1];
    const int64_t C = g_.shape(x)[1];
    const memory::desc md = data_md(x), dmd = data_md(dy);
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    auto fd = dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_training, md,
                                                      float(n.attrs.eps), flags);
    auto fpd = dnnl::batch_normalization_forward::primitive_desc(fd, onednn::user_scratchpad_attr(),
                                                                 ctx_->eng);
    auto bd = dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, dmd, md,
                                                       float(n.attrs.eps), flags);
    auto pd = dnnl::batch_normalization_backward::primitive_desc(bd, onednn::user_scratchpad_attr(),
                                                                 ctx_->eng, fpd);
    add_prim(dnnl::batch_normalization_backward(pd), pd,
             {{DNNL_ARG_SRC, md},
              {DNNL_ARG_DIFF_DST, dmd},
              {DNNL_ARG_SCALE, vec_md(C)},
              {DNNL_ARG_MEAN, vec_md(C)},
              {DNNL_ARG_VARIANCE, vec_md(C)},
              {DNNL_ARG_DIFF_SRC, data_md(n.outputs[0])},
              {DNNL_ARG_DIFF_SCALE, vec_md(C)},
              {DNNL_ARG_DIFF_SHIFT, vec_md(C)},
              {DNNL_ARG_SHIFT, vec_md(C)}},
             {vref(x), vref(dy), vref(n.inputs[2]), vref(n.inputs[3]), vref(n.inputs[4]),
              vref(n.outputs[0]), vref(n.outputs[1]), vref(n.outputs[2]),
              sref(alloc(size_t(C) * 4))},  // oneDNN 2.6 wants a (unread) shift
             "bnorm_bwd");
  }

  float* fp(ValueId v) const { return static_cast<float*>(ptr_[size_t(v)]); }

  void add_fn(std::function<void()> f, std::string what) {
    Step s;
    s.fn = std::move(f);
    s.what = std::move(what);
    steps_.push_back(std::move(s));
  }

  void compile_misc(const Node& n) {
    const NodeId id = grp_.nodes[0];
    switch (n.op) {
      case OpKind::kFill:
        add_fn(
            [this, id] {
              const Node& m = g_.node(id);
              float* y = fp(m.outputs[0]);
              std::fill(y, y + g_.desc(m.outputs[0]).numel(), float(m.attrs.scalar));
            },
            "fill");
        break;
      case OpKind::kIncrement:
        add_fn([this, id] { *static_cast<int64_t*>(ptr_[size_t(g_.node(id).inputs[0])]) += 1; },
               "increment");
        break;
      case OpKind::kBatchNormRunningUpdate:
        add_fn(
            [this, id] {
              const Node& m = g_.node(id);
              const RunningUpdate u = running_update(m.attrs);
              float* r = fp(m.inputs[0]);
              const float* s = fp(m.inputs[1]);
              for (int64_t i = 0, c = g_.desc(m.inputs[0]).numel(); i < c; ++i)
                r[i] = float(running_update_element(double(r[i]), double(s[i]), u));
            },
            "running_update");
        break;
      case OpKind::kAdamUpdate:
        compile_adam(id);
        break;
      case OpKind::kMatMul:
        compile_matmul(n);
        break;
      case OpKind::kLogSoftmax:
      case OpKind::kLogSoftmaxBackward:
        compile_log_softmax(n);
        break;
      case OpKind::kMean:
      case OpKind::kSumTo:
        compile_reduce(id);
        break;
      case OpKind::kBroadcastTo: {
        const Shape& big = g_.shape(n.outputs[0]);
        auto walk = std::make_shared<Walk>(phys_of(big, layout_of_(n.outputs[0])),
                                           broadcast_strides(big, g_.shape(n.inputs[0])));
        add_fn(
            [this, id, walk] {
              const Node& m = g_.node(id);
              const float* x = fp(m.inputs[0]);
              float* y = fp(m.outputs[0]);
              walk->run(0, g_.desc(m.outputs[0]).numel(),
                        [&](int64_t e, int64_t o) { y[e] = x[o]; });
            },
            "broadcast_to");
        break;
      }
      default:
        throw std::logic_error(std::string("onednn backend: no kernel for ") + op_name(n.op));
    }
  }

  // oneDNN's matmul on the stored operands: a transposed operand is the same
  // buffer described with swapped strides (no reorder).
  void compile_matmul(const Node& n) {
    const Shape &sa = g_.shape(n.inputs[0]), &sb = g_.shape(n.inputs[1]),
                &sy = g_.shape(n.outputs[0]);
    auto operand_md = [](const Shape& stored, bool transposed) {
      const memory::dims d =
          transposed ? memory::dims{stored[1], stored[0]} : memory::dims{stored[0], stored[1]};
      const memory::dims st = transposed ? memory::dims{1, stored[1]} : memory::dims{stored[1], 1};
      return memory::desc(d, dt::f32, st);
    };
    const memory::desc amd = operand_md(sa, n.attrs.transpose_a),
                       bmd = operand_md(sb, n.attrs.transpose_b);
    const memory::desc ymd = data_md(n.outputs[0]);
    if (ymd.dims() != memory::dims{sy[0], sy[1]})
      throw std::logic_error("onednn backend: matmul output is not 2-D");
    auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(amd, bmd, ymd),
                                           onednn::user_scratchpad_attr(), ctx_->eng);
    add_prim(dnnl::matmul(pd), pd,
             {{DNNL_ARG_SRC, amd}, {DNNL_ARG_WEIGHTS, bmd}, {DNNL_ARG_DST, ymd}},
             {vref(n.inputs[0]), vref(n.inputs[1]), vref(n.outputs[0])}, "matmul");
  }

  // log_softmax along the last axis and its gradient, oneDNN's logsoftmax
  // primitives on plain buffers (prepare() pins these ops' values plain).
  void compile_log_softmax(const Node& n) {
    const ValueId y = n.op == OpKind::kLogSoftmax ? n.outputs[0] : n.inputs[1];
    const memory::desc md = data_md(y);
    const int axis = int(g_.shape(y).size()) - 1;
    auto fd = dnnl::logsoftmax_forward::desc(dnnl::prop_kind::forward_training, md, axis);
    auto fpd =
        dnnl::logsoftmax_forward::primitive_desc(fd, onednn::user_scratchpad_attr(), ctx_->eng);
    if (n.op == OpKind::kLogSoftmax) {
      add_prim(dnnl::logsoftmax_forward(fpd), fpd, {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}},
               {vref(n.inputs[0]), vref(y)}, "logsoftmax_fwd");
      return;
    }
    auto bd = dnnl::logsoftmax_backward::desc(md, md, axis);
    auto pd = dnnl::logsoftmax_backward::primitive_desc(bd, onednn::user_scratchpad_attr(),
                                                        ctx_->eng, fpd);
    add_prim(dnnl::logsoftmax_backward(pd), pd,
             {{DNNL_ARG_DIFF_DST, md}, {DNNL_ARG_DST, md}, {DNNL_ARG_DIFF_SRC, md}},
             {vref(n.inputs[0]), vref(y), vref(n.outputs[0])}, "logsoftmax_bwd");
  }

  void compile_reduce(NodeId id) {
    const Node& n = g_.node(id);
    const Shape& xs = g_.shape(n.inputs[0]);
    const Shape kept = reduced_keepdims_shape(n, xs);
    auto walk =
        std::make_shared<Walk>(phys_of(xs, layout_of_(n.inputs[0])), broadcast_strides(xs, kept));
    const int64_t outn = g_.desc(n.outputs[0]).numel();
    auto acc = std::make_shared<std::vector<double>>(size_t(outn));
    add_fn(
        [this, id, walk, acc, outn] {
          const Node& m = g_.node(id);
          reduce_in_double(m.op == OpKind::kMean, fp(m.inputs[0]), g_.desc(m.inputs[0]).numel(),
                           *walk, acc->data(), fp(m.outputs[0]), outn);
        },
        op_name(n.op));
  }

  // Adam (graph/state_update_rules.h), over threads for large tensors.
  void compile_adam(NodeId id) {
    add_fn(
        [this, id] {
          const Node& n = g_.node(id);
          const int64_t count = g_.desc(n.inputs[0]).numel();
          const double t = double(*static_cast<const int64_t*>(ptr_[size_t(n.inputs[4])]));
          const AdamScalars<float> s =
              adam_scalars<float>(n.attrs, t, [](double v) { return float(v); });
          float* __restrict param = fp(n.inputs[0]);
          float* __restrict m = fp(n.inputs[2]);
          float* __restrict v = fp(n.inputs[3]);
          const float* __restrict grad = fp(n.inputs[1]);
          auto body = [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) adam_element(param[i], m[i], v[i], grad[i], s);
          };
          if (count < 65536) {
            body(0, count);
            return;
          }
#pragma omp parallel
          {
            const int nt = omp_get_num_threads(), t = omp_get_thread_num();
            const int64_t per = (count + nt - 1) / nt;
            body(std::min(count, per * t), std::min(count, per * (t + 1)));
          }
        },
        "adam");
  }

  const Graph& g_;
  FusionGroup grp_;
  std::shared_ptr<Ctx> ctx_;
  std::function<Layout(ValueId)> layout_of_;
  std::function<bool(ValueId)> bf16_of_;
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

// ---------------------------------------------------------------------------

// One plan's side of the backend, made by OneDnnBackend::prepare() and owned
// by the Plan (the engine uses it for everything of that plan): the layouts
// chosen for its graph, the reorders that move its values between the host's
// plain layout and those, the oneDNN reference implementations it still runs,
// and the reference backend for the groups it does not support.
class OneDnnPlan final : public HostMemoryBackend {
 public:
  OneDnnPlan(std::shared_ptr<Ctx> ctx, const Graph& g, const std::vector<FusionGroup>& groups)
      : ctx_(std::move(ctx)), g_(g) {
    onednn::LayoutOptions lo;
    lo.blocked = ctx_->opt.blocked_layouts;
    lo.plain_only = plain_layout_only;
    table_ = std::make_shared<const onednn::LayoutTable>(
        onednn::choose_layouts(g, groups, ctx_->eng, lo));
    if (ctx_->opt.bf16 && ctx_->opt.bf16_activations)
      bf16_ = std::make_shared<const std::vector<char>>(
          onednn::choose_bf16_storage(g, groups, *table_, ctx_->opt));
    if (std::getenv("RG_LAYOUTS")) {
      std::string s = onednn::describe_layouts(g, *table_);
      if (bf16_)
        for (ValueId v = 0; v < g.num_values(); ++v)
          if (stored_bf16(v)) s += "  %" + std::to_string(v) + " stored as bf16\n";
      std::fputs(s.c_str(), stderr);
    }
  }
  // A value stored as bf16 takes half the bytes (the memory planner sizes by this).
  size_t value_bytes(const Graph& g, ValueId v) const override {
    return &g == &g_ && stored_bf16(v) ? size_t(g.desc(v).numel()) * 2 : g.desc(v).bytes();
  }
  bool stored_bf16(ValueId v) const { return bf16_ && (*bf16_)[size_t(v)]; }
  std::string name() const override { return "onednn"; }

  void write_value(const Graph& g, ValueId v, void* device, const void* host) override {
    if (g.value(v).variable >= 0) ++ctx_->variable_writes;
    convert(g, v, host, true, device, false);
  }
  void read_value(const Graph& g, ValueId v, void* host, const void* device) override {
    convert(g, v, device, false, host, true);
  }

  bool supports(const Graph& g, const FusionGroup& grp) const override {
    return std::none_of(grp.nodes.begin(), grp.nodes.end(),
                        [&g](NodeId id) { return runs_on_reference(g.node(id).op); });
  }
  // The reference backend: the layout choice keeps the values of the groups above plain.
  Backend* host_fallback() override {
    if (!ref_) ref_ = make_ref_backend();
    return ref_.get();
  }

  std::unique_ptr<Kernel> compile(const Graph& g, const FusionGroup& grp) override {
    if (&g != &g_) throw std::logic_error("onednn backend: a group of another plan's graph");
    auto k = std::make_unique<OneDnnKernel>(
        g, grp, ctx_, [t = table_](ValueId v) { return t->of(v); },
        [b = bf16_](ValueId v) { return b && (*b)[size_t(v)]; });
    for (const std::string& r : k->reference_impls()) reference_.push_back(r);
    return k;
  }

  // One line per plan that still runs a reference implementation: oneDNN has
  // no optimised kernel for it on this CPU, so it will be slow.
  void finish(const Graph& /*g*/) override {
    if (reference_.empty()) return;
    std::string line =
        "onednn: " + std::to_string(reference_.size()) +
        " kernel(s) of this plan run a oneDNN reference implementation (slow on this CPU):";
    for (size_t i = 0; i < reference_.size() && i < 4; ++i) line += " " + reference_[i];
    if (reference_.size() > 4) line += " ...";
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  // In order, on OneDnnOptions::threads threads (set again per run: the
  // caller's thread may have another OpenMP setting).
  std::unique_ptr<Runner> make_runner(std::vector<Kernel*> kernels) override {
    struct Threaded final : InOrderRunner {
      Threaded(std::vector<Kernel*> k, int threads)
          : InOrderRunner(std::move(k)), threads_(threads) {}
      void run() override {
        set_threads();
        InOrderRunner::run();
      }
      std::vector<double> run_timed() override {
        set_threads();
        return InOrderRunner::run_timed();
      }
      void set_threads() const {
        if (threads_ > 0 && omp_get_max_threads() != threads_) omp_set_num_threads(threads_);
      }
      int threads_;
    };
    return std::make_unique<Threaded>(std::move(kernels), ctx_->opt.threads);
  }

 private:
  // Host plain <-> device layout for one value. The reorder and its memory
  // objects are made on the first transfer of (value, direction) and reused
  // with new data pointers, so reading a batch's outputs or writing its
  // inputs allocates nothing after the first batch.
  void convert(const Graph& g, ValueId v, const void* src, bool src_plain, void* dst,
               bool dst_plain) {
    const TensorDesc& d = g.desc(v);
    const Layout l = &g == &g_ ? table_->of(v) : Layout::plain;
    if (l == Layout::plain || d.rank() != 4) {
      std::memcpy(dst, src, d.bytes());
      return;
    }
    const std::pair<ValueId, bool> key{v, src_plain};
    auto t = transfers_.find(key);
    if (t == transfers_.end()) {
      const memory::desc plain(dims_of(d.shape), dt::f32, tag::nchw),
          laid(dims_of(d.shape), dt::f32, tag_of(l, 4));
      Transfer x;
      x.from = memory(src_plain ? plain : laid, ctx_->eng, nullptr);
      x.to = memory(dst_plain ? plain : laid, ctx_->eng, nullptr);
      x.reorder = dnnl::reorder(x.from, x.to);
      t = transfers_.emplace(key, std::move(x)).first;
    }
    Transfer& x = t->second;
    x.from.set_data_handle(const_cast<void*>(src));
    x.to.set_data_handle(dst);
    const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, x.from.get()}, {DNNL_ARG_TO, x.to.get()}};
    if (dnnl_primitive_execute(x.reorder.get(), ctx_->strm.get(), 2, args) != dnnl_success)
      throw std::runtime_error("onednn backend: reorder of value %" + std::to_string(v) +
                               " failed");
    ctx_->strm.wait();
  }

  struct Transfer {
    memory from, to;
    dnnl::reorder reorder;
  };
  std::shared_ptr<Ctx> ctx_;
  const Graph& g_;
  std::shared_ptr<const onednn::LayoutTable> table_;
  std::shared_ptr<const std::vector<char>> bf16_;  // per value: stored as bf16 (bf16 mode)
  std::map<std::pair<ValueId, bool>, Transfer> transfers_;  // (value, to the device)
  std::vector<std::string> reference_;                      // oneDNN reference implementations
  std::unique_ptr<Backend> ref_;                            // host_fallback()
};

// What make_onednn_backend() returns: the options and oneDNN's engine and
// stream; each plan gets its own OneDnnPlan from prepare().
class OneDnnBackend final : public HostMemoryBackend {
 public:
  explicit OneDnnBackend(const OneDnnOptions& o) : ctx_(std::make_shared<Ctx>()) {
    ctx_->opt = o;
    if (o.threads > 0) omp_set_num_threads(o.threads);
  }
  std::string name() const override { return "onednn"; }

  std::unique_ptr<Backend> prepare(const Graph& g,
                                   const std::vector<FusionGroup>& groups) override {
    if (g.float_type() != DType::f32) {
      std::string op = "graph";
      for (const FusionGroup& grp : groups)
        if (!grp.nodes.empty()) {
          op = op_name(g.node(grp.nodes[0]).op);
          break;
        }
      throw std::invalid_argument(
          std::string("onednn backend: only f32 graphs are supported (got ") +
          dtype_name(g.float_type()) + " graph; first op " + op + ")");
    }
    return std::make_unique<OneDnnPlan>(ctx_, g, groups);
  }
  std::unique_ptr<Kernel> compile(const Graph&, const FusionGroup&) override {
    throw std::logic_error(
        "onednn backend: compile through rg::compile (its plan object compiles the groups)");
  }

 private:
  std::shared_ptr<Ctx> ctx_;
};

}  // namespace

std::unique_ptr<Backend> make_onednn_backend(const OneDnnOptions& options) {
  if (options.bf16 && !onednn_native_bf16()) {
    // oneDNN's ISA values are bit sets: each one contains the bits of those it extends.
    const int core = int(dnnl::cpu_isa::avx512_core);
    const bool emulable = (int(dnnl::get_effective_cpu_isa()) & core) == core;
    if (!(options.allow_emulated_bf16 && emulable))
      throw std::invalid_argument(
          "bf16 needs a CPU with bf16 instructions (AVX512_BF16 or AMX-BF16); this one has " +
          onednn_cpu_isa() + " (oneDNN's best instruction set here)");
  }
  return std::make_unique<OneDnnBackend>(options);
}

std::string onednn_cpu_isa() {
  using isa = dnnl::cpu_isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case isa::sse41:
      return "sse41";
    case isa::avx:
      return "avx";
    case isa::avx2:
      return "avx2";
    case isa::avx2_vnni:
      return "avx2_vnni";
    case isa::avx512_core:
      return "avx512_core";
    case isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "isa #" + std::to_string(int(dnnl::get_effective_cpu_isa()));
  }
}

int onednn_threads(int requested) { return requested > 0 ? requested : omp_get_max_threads(); }

bool onednn_native_bf16() {
  const int bf16 = int(dnnl::cpu_isa::avx512_core_bf16);  // AMX's value contains these bits too
  return (int(dnnl::get_effective_cpu_isa()) & bf16) == bf16;
}

}  // namespace rg
