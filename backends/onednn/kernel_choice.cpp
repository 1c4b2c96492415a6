// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/kernel_choice.h"

#include <omp.h>

#include <algorithm>

#include "backends/onednn/conv_primitives.h"
#include "graph/elementwise_ops.h"

namespace rg::onednn {

// The formulas (graph/elementwise_ops.h) that oneDNN's eltwise post-ops and
// fusions compute: recognised by their instructions, not by op name.
namespace {
bool formula_is(const Node& n, std::initializer_list<EwInstr> code) {
  const ElementwiseOp* e = elementwise_op(n.op);
  return e && std::equal(e->formula.code.begin(), e->formula.code.end(), code.begin(), code.end());
}
}  // namespace

EltwisePostOp eltwise_post_op(const Node& n) {
  using K = EwInstrKind;
  const float s = float(n.attrs.scalar);
  auto is = [&](std::initializer_list<EwInstr> code) { return formula_is(n, code); };
  if (is({{K::kSelectPositive, kEwA, kEwA, kEwZero}}))
    return {true, dnnl::algorithm::eltwise_relu, 0.f, 0.f};
  if (is({{K::kMul, kEwA, kEwScalar}, {K::kSelectPositive, kEwA, kEwA, kEwTemp}}))
    return {true, dnnl::algorithm::eltwise_relu, s, 0.f};
  if (is({{K::kTanh, kEwA}})) return {true, dnnl::algorithm::eltwise_tanh, 0.f, 0.f};
  if (is({{K::kMul, kEwA, kEwScalar}})) return {true, dnnl::algorithm::eltwise_linear, s, 0.f};
  if (is({{K::kAdd, kEwA, kEwScalar}})) return {true, dnnl::algorithm::eltwise_linear, 1.f, s};
  return {};
}
// max(x, 0): BatchNorm's fuse_norm_relu.
bool is_relu(const Node& n) {
  return formula_is(n, {{EwInstrKind::kSelectPositive, kEwA, kEwA, kEwZero}});
}
// a + b: a per-channel one becomes the primitive's bias.
bool is_add(const Node& n) {
  return formula_is(n, {{EwInstrKind::kAdd, kEwA, kEwB}});
}

// 4x4, stride 2, padding 1, input exactly twice the output: the layers our
// Winograd kernels compute (winograd_conv.h).
bool is_winograd_geometry(const ConvGeometry& geo) {
  return geo.plain() && geo.kh == 4 && geo.kw == 4 && geo.sh == 2 && geo.sw == 2 && geo.ph == 1 && geo.pw == 1 &&
         geo.h == 2 * geo.ho && geo.w == 2 * geo.wo;
}

// The micro-kernel our Winograd convolutions run, following
// oneDNN's effective ISA (so DNNL_MAX_CPU_ISA=AVX2 caps both); none below AVX2.
// bf16: the bf16 micro-kernel on AVX-512 (emulated where the CPU lacks
// AVX512_BF16, which only RG_ONEDNN_EMULATE_BF16 allows), none on AVX2.
std::optional<onednn::MicroIsa> micro_isa(bool bf16) {
  using isa = dnnl::cpu_isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case isa::avx2:
    case isa::avx2_vnni:
      if (bf16) return std::nullopt;
      return onednn::MicroIsa::avx2;
    case isa::avx512_core:
    case isa::avx512_core_vnni:
    case isa::avx512_core_bf16:
      return bf16 ? onednn::MicroIsa::avx512_bf16 : onednn::MicroIsa::avx512;
    case isa::avx512_core_amx:
      // bf16 on AMX: oneDNN's AMX convolutions (tile multiplies, 16x the
      // bf16 multiply-adds a cycle of vdpbf16ps) for every layer; Winograd's
      // 1.78x fewer multiplications cannot make that up. A default from the
      // peak rates: no AMX CPU has measured it here (bench/RESULTS.md).
      if (bf16) return std::nullopt;
      return onednn::MicroIsa::avx512;
    default:
      return std::nullopt;
  }
}

// The eltwise ops (and a per-channel bias) that follow a convolution anchor
// and fold into its primitive as post-ops: the longest prefix of the group
// after the anchor where each node reads the previous result, used once and
// internal. result: the last such node's output (the anchor's without any).
PostOps match_post_ops(const Graph& g, const FusionGroup& grp, NodeId anchor, bool allow_bias,
                       bool enabled, const BinaryMd& binary_md) {
  PostOps r;
  const Node& a = g.node(anchor);
  ValueId cur = a.outputs[0];
  r.result = cur;
  if (!enabled) return r;
  auto uses_in_group = [&](ValueId v) {
    int k = 0;
    for (NodeId id : grp.nodes)
      for (ValueId i : g.node(id).inputs) k += i == v;
    return k;
  };
  for (size_t i = 1; i < grp.nodes.size(); ++i) {
    if (!grp.is_internal(cur) || uses_in_group(cur) != 1) break;
    const Node& n = g.node(grp.nodes[i]);
    const bool reads_cur =
        !n.inputs.empty() && (n.inputs[0] == cur || (n.inputs.size() > 1 && n.inputs[1] == cur));
    if (!reads_cur) break;
    const EltwisePostOp e = eltwise_post_op(n);
    if (e.ok)
      r.ops.append_eltwise(1.f, e.alg, e.alpha, e.beta), r.text += std::string("+") + op_name(n.op);
    else if (is_add(n) && allow_bias && i == 1 && n.inputs[0] != n.inputs[1]) {
      const ValueId other = n.inputs[0] == cur ? n.inputs[1] : n.inputs[0];
      const Shape& os = g.shape(other);
      const Shape& cs = g.shape(cur);
      const bool per_channel =
          cs.size() == 4 && numel(os) == cs[1] &&
          ((os.size() == 4 && os[0] == 1 && os[1] == cs[1]) || (os.size() == 3 && os[0] == cs[1]));
      if (!per_channel) break;
      r.bias = other;
      r.text += "+bias";
    } else if (is_add(n) && binary_md && n.inputs[0] != n.inputs[1]) {
      // A whole tensor read from memory (a residual connection): a binary post-op.
      const ValueId other = n.inputs[0] == cur ? n.inputs[1] : n.inputs[0];
      if (grp.is_internal(other) || g.shape(other) != g.shape(cur) || g.desc(other).dtype != DType::f32) break;
      r.ops.append_binary(dnnl::algorithm::binary_add, binary_md(other));
      r.binary.emplace_back(r.ops.len() - 1, other);
      r.text += "+add";
    } else {
      break;
    }
    cur = n.outputs[0];
    r.count = i;
    r.result = cur;
    // A fused prefix ends at a materialised value (the rest of the chain reads it from memory).
    if (!grp.is_internal(cur)) return r;
  }
  return PostOps{0, dnnl::post_ops(), kNoValue, a.outputs[0], "", {}};
}

// batch_norm_inference followed by a chain other than a ReLU (which the
// primitive fuses): all of it in one elementwise pass, so the normalised
// value is never materialised (the backward pass's recomputed BN outputs
// feeding an activation's gradient).
bool is_bn_head_group(const Graph& g, const FusionGroup& grp,
                      const std::function<Layout(ValueId)>& layout_of) {
  const Node& first = g.node(grp.nodes[0]);
  return first.op == OpKind::kBatchNormInference && grp.nodes.size() >= 2 &&
         !is_relu(g.node(grp.nodes[1])) && grp.is_internal(first.outputs[0]) &&
         g.shape(first.inputs[0]).size() == 4 &&
         layout_of(first.inputs[0]) == layout_of(g.node(grp.nodes.back()).outputs[0]);
}

// What a batch_norm_train / _inference primitive writes: the ReLU's output
// where the group's next node is a ReLU of its (internal, once-used) result
// and fuse_norm_relu applies (the normalised value never exists), else its
// result.
ValueId bn_fwd_dst(const Graph& g, const FusionGroup& grp, NodeId id, bool post_ops) {
  const ValueId y = g.node(id).outputs[0];
  if (!post_ops || grp.nodes.size() < 2 || !grp.is_internal(y)) return y;
  const Node& r = g.node(grp.nodes[1]);
  int uses = 0;
  for (NodeId k : grp.nodes)
    for (ValueId i : g.node(k).inputs) uses += i == y;
  if (is_relu(r) && r.inputs[0] == y && uses == 1 && !grp.is_internal(r.outputs[0]))
    return r.outputs[0];
  return y;
}

// Which of our own kernels a convolution node runs on, given the layouts
// (the kernels decide with these, and so does the bf16 storage rule, which
// must know who reads and writes a value): nothing = a oneDNN primitive.

// The Winograd forward kernel of a conv2d or conv_transpose2d writing dst.
std::optional<onednn::WinogradConv> winograd_forward_for(const Graph& g, const Node& n, ValueId dst,
                                                         const LayoutOf& layout_of,
                                                         const OneDnnOptions& opt) {
  using namespace onednn;
  if (!opt.winograd) return std::nullopt;
  const ConvGeometry geo = conv_geometry(g, n);
  const std::optional<MicroIsa> isa = micro_isa(opt.bf16);
  if (!is_winograd_geometry(geo) || !isa || runs_as_flipped_conv(n, geo)) return std::nullopt;
  // A transposed convolution's geometry is that of the conv2d it is the
  // gradient of: geo's input (h, w) is our output, geo's output our input.
  const bool transposed = n.op == OpKind::kConvTranspose2d;
  const ValueId src = n.inputs[0];
  const int threads = omp_get_max_threads();
  const WinogradConv c =
      transposed
          ? WinogradConv{WinogradKind::transposed,
                         geo.n,
                         geo.c_out,
                         geo.ho,
                         geo.wo,
                         geo.c_in,
                         layout_of(src),
                         layout_of(dst),
                         *isa,
                         threads}
          : WinogradConv{WinogradKind::strided, geo.n,          geo.c_in, geo.h,  geo.w, geo.c_out,
                         layout_of(src),        layout_of(dst), *isa,     threads};
  if (!winograd_applies(c) || !winograd_pays(c)) return std::nullopt;
  return c;
}

// The Winograd weight-gradient kernel of a conv2d_backward_weight.
std::optional<onednn::WinogradConv> winograd_weight_gradient_for(const Graph& g, const Node& n,
                                                                 const LayoutOf& layout_of,
                                                                 const OneDnnOptions& opt) {
  using namespace onednn;
  const ConvGeometry geo = conv_geometry(g, n);
  const std::optional<MicroIsa> isa = micro_isa(opt.bf16);
  if (!opt.winograd || !is_winograd_geometry(geo) || !isa) return std::nullopt;
  const WinogradConv c{WinogradKind::strided,
                       geo.n,
                       geo.c_in,
                       geo.h,
                       geo.w,
                       geo.c_out,
                       layout_of(geo.in),
                       layout_of(geo.out),
                       *isa,
                       omp_get_max_threads()};
  if (!winograd_weight_gradient_applies(c) || !winograd_weight_gradient_pays(c))
    return std::nullopt;
  return c;
}

// The small-output direct kernel of a conv2d (or flipped conv_transpose2d) writing dst.
std::optional<onednn::SmallConv> small_conv_for(const Graph& g, const Node& n, ValueId dst,
                                                const LayoutOf& layout_of) {
  using namespace onednn;
  const ConvGeometry geo = conv_geometry(g, n);
  if (!geo.plain()) return std::nullopt;
  const bool flip = runs_as_flipped_conv(n, geo);
  if (n.op == OpKind::kConvTranspose2d && !flip) return std::nullopt;
  const ConvGeometry cg = flip ? flipped(geo) : geo;
  const ValueId src = n.inputs[0];
  const Shape &I = g.shape(src), &O = g.shape(dst);
  const SmallConv c{I[0],  I[1],  I[2],  I[3],  O[1],  O[2],           O[3],          cg.kh,
                    cg.kw, cg.sh, cg.sw, cg.ph, cg.pw, layout_of(src), layout_of(dst)};
  if (!small_conv_applies(c)) return std::nullopt;
  return c;
}

}  // namespace rg::onednn
