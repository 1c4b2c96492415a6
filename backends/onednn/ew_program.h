// SPDX-License-Identifier: Apache-2.0
// A fused elementwise chain on the oneDNN backend: chunks of kChunk elements
// in physical order (the values' layouts), one vectorised loop per
// instruction of the chain's lowered program (engine/lowered_chain.h),
// OpenMP over chunks. Values stored as bf16 are widened on load and rounded
// on store. A batch_norm_inference head becomes a per-channel affine.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/onednn/channel_groups.h"
#include "backends/onednn/layout.h"
#include "backends/onednn/onednn_context.h"
#include "engine/lowered_chain.h"
#include "graph/batch_norm_rules.h"
#include "graph/elementwise_ops.h"

namespace rg::onednn {

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
        ch = {Load::ChannelPattern::kBlocked, int64_t(C), HW, blk};
      else if (gl == Layout::plain && HW % kChunk == 0)
        ch = {Load::ChannelPattern::kPlain, int64_t(C), HW, 0};
      else if (gl == Layout::nhwc && kChunk % int64_t(C) == 0)
        ch = {Load::ChannelPattern::kNhwc, int64_t(C), HW, 0};
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
    for (const ChainStore& s : c.stores)
      stores_.push_back({s.value, s.reg, nullptr, bf16_of(s.value)});
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
          return s + (l.channel.kind != Load::ChannelPattern::kWalk ? " bn-head(chunk fill)" : " bn-head(walk)");
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
    // has a simple pattern; otherwise the walk, element by element.
    enum class ChannelPattern : uint8_t {
      kWalk,     // no pattern: the walk
      kBlocked,  // nChw8c / nChw16c: one block of channels repeated
      kPlain,    // NCHW: one channel per chunk
      kNhwc,     // NHWC: all C channels repeated
    };
    struct Channel {
      ChannelPattern kind = ChannelPattern::kWalk;
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
        widen_run(reinterpret_cast<const uint16_t*>(l.ptr) + e0, buf[l.reg], n);
        R[l.reg] = buf[l.reg];
      } else if (l.full) {
        R[l.reg] = l.ptr + e0;
      } else {
        float* d = buf[l.reg];
        const Load::Channel& ch = l.channel;
        if (l.walk.all_zero) {
          std::fill(d, d + n, l.ptr[0]);
        } else if (ch.kind == Load::ChannelPattern::kBlocked) {
          const int64_t b = ch.block;
          const float* src = l.ptr + ((e0 / (ch.HW * b)) % (ch.C / b)) * b;
          for (int64_t i = 0; i < n; i += b) std::memcpy(d + i, src, size_t(b) * sizeof(float));
        } else if (ch.kind == Load::ChannelPattern::kPlain) {
          std::fill(d, d + n, l.ptr[(e0 / ch.HW) % ch.C]);
        } else if (ch.kind == Load::ChannelPattern::kNhwc) {
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
        narrow_run(R[s.reg], reinterpret_cast<uint16_t*>(s.ptr) + e0, n);
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

}  // namespace rg::onednn
