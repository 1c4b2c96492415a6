// SPDX-License-Identifier: Apache-2.0
// Convolutions on the oneDNN backend: oneDNN's convolution and deconvolution
// primitives with the group's eltwise ops (and a per-channel bias) as
// post-ops, or our own kernels where they apply and pay (kernel_choice.h):
// Winograd for 4x4 stride-2 layers, a direct kernel for layers with a few
// output channels. Source and destination take the layouts the plan chose;
// where oneDNN has only a reference implementation for that pair, the
// primitive picks its own (format any) and reorders run in the arena.
#include "backends/onednn/conv_primitives.h"
#include "backends/onednn/kernel_choice.h"
#include "backends/onednn/ops/onednn_ops.h"
#include "backends/onednn/small_conv.h"
#include "backends/onednn/winograd_conv.h"

namespace rg::onednn {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
using Ref = OneDnnKernel::Ref;

// Internal values fused into post-ops need no slot.
void mark_post_ops_fused(OneDnnKernel& k, const PostOps& po) {
  if (po.count)
    for (size_t i = 0; i <= po.count; ++i)
      for (ValueId v : k.graph().node(k.group().nodes[i]).outputs)
        if (v != po.result) k.mark_fused(v);
}

// Our own kernels (Winograd, small_conv) write the anchor's result; the
// eltwise post-ops a primitive would have fused run after them as oneDNN
// eltwise primitives in place on it. They take post-ops of that kind only.
bool only_eltwise(const PostOps& po) {
  for (int i = 0; i < po.ops.len(); ++i)
    if (po.ops.kind(i) != dnnl::primitive::kind::eltwise) return false;
  return true;
}

void add_eltwise_post_ops_in_place(OneDnnKernel& k, const PostOps& po, ValueId dst) {
  const memory::desc md = k.data_md(dst);
  for (int i = 0; i < po.ops.len(); ++i) {
    float scale, alpha, beta;
    dnnl::algorithm alg;
    po.ops.get_params_eltwise(i, scale, alg, alpha, beta);
    auto pd = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, md, alpha, beta),
        user_scratchpad_attr(), k.ctx().eng);
    k.add_prim(dnnl::eltwise_forward(pd), pd, {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}},
               {OneDnnKernel::vref(dst), OneDnnKernel::vref(dst)}, "eltwise");
  }
}

// A 4x4 stride-2 padding-1 convolution or transposed convolution (the
// models' down- and upsampling and their input gradients): our Winograd
// kernel (winograd_conv.h), 1.78x fewer multiplications than oneDNN's
// direct one. Its transformed weights are recomputed at every run,
// or once until the host writes a variable when no node updates them (a
// generator's). The bias is added by the kernel, eltwise post-ops by oneDNN
// eltwise primitives in place on the result.
bool compile_winograd(OneDnnKernel& k, const Node& n, const PostOps& po) {
  const bool transposed = n.op == OpKind::kConvTranspose2d;
  if (!only_eltwise(po)) return false;
  const ValueId src = n.inputs[0], wv = n.inputs[1], dst = po.count ? po.result : n.outputs[0];
  const ValueId bias = po.bias;
  const std::optional<WinogradConv> found =
      winograd_forward_for(k.graph(), n, dst, k.layout_of(), k.options());
  if (!found) return false;
  const WinogradConv c = *found;
  const auto u_ptr =
      k.transformed_weights(wv, winograd_weights_floats(c), "winograd_weights",
                            [c](const float* w, float* u) { winograd_transform_weights(c, w, u); });
  const size_t work = k.alloc(size_t(winograd_scratch_floats(c)) * sizeof(float));
  const Elem se = k.elem_of(src), de = k.elem_of(dst);
  k.add_fn(
      [&k, c, src, dst, bias, u_ptr, work, se, de] {
        winograd_run(c, k.fp(src), se, u_ptr(), bias >= 0 ? k.fp(bias) : nullptr, k.fp(dst), de,
                     reinterpret_cast<float*>(k.scratch_at(work)));
      },
      std::string(transposed ? "winograd_deconv" : "winograd_conv") + po.text + "[" +
          layout_name(c.src_layout) + "->" + layout_name(c.dst_layout) +
          k.stored_text({{src, "src"}, {dst, "dst"}}) + "](" + micro_isa_name(c.isa) + ")");
  add_eltwise_post_ops_in_place(k, po, dst);
  return true;
}

// A convolution (or flipped transposed convolution) with at most 4 output
// channels: our direct kernel (small_conv.h) instead of a oneDNN primitive
// that pads the output channels to a whole block. The bias is applied by
// the kernel, each eltwise op by a oneDNN eltwise primitive in place on the result.
bool compile_small_conv(OneDnnKernel& k, const Node& n, const ConvGeometry& geo, bool flip,
                        const PostOps& po) {
  const ValueId src = n.inputs[0], wv = n.inputs[1], dst = po.count ? po.result : n.outputs[0];
  const ValueId bias = po.bias;
  // Ours reads and writes f32 (reading bf16 measured slower, and the
  // generator's image is computed from f32 activations: docs/cpu_backend.md).
  if (!only_eltwise(po) || k.stored_bf16(src) || k.stored_bf16(dst)) return false;
  const std::optional<SmallConv> found = small_conv_for(k.graph(), n, dst, k.layout_of());
  if (!found) return false;
  const SmallConv c = *found;
  const size_t wflip = flip ? k.alloc(size_t(numel(geo.weight_shape())) * sizeof(float)) : 0;
  const size_t pack = k.alloc(size_t(small_conv_scratch_floats(c)) * sizeof(float));
  k.add_fn(
      [&k, c, src, wv, dst, bias, flip, wflip, pack, wshape = geo.weight_shape()] {
        const float* w = k.fp(wv);
        if (flip) {
          float* F = reinterpret_cast<float*>(k.scratch_at(wflip));
          flip_transposed_weights(wshape, w, F);
          w = F;
        }
        small_conv_forward(c, k.fp(src), w, bias >= 0 ? k.fp(bias) : nullptr, k.fp(dst),
                           reinterpret_cast<float*>(k.scratch_at(pack)));
      },
      std::string("small_conv") + (flip ? "(flipped deconv)" : "") + po.text + "[" +
          layout_name(c.src_layout) + "->" + layout_name(c.dst_layout) + "]");
  add_eltwise_post_ops_in_place(k, po, dst);
  return true;
}

// Whether oneDNN runs this convolution with its residual add as a binary
// post-op in a JIT kernel (not every implementation takes binary post-ops on
// every layout); where not, the add stays in the group's chain program.
bool binary_post_ops_run_jit(OneDnnKernel& k, const Node& n, const PostOps& po) {
  if (n.op != OpKind::kConv2d) return false;
  const Graph& g = k.graph();
  const ConvGeometry geo = conv_geometry(g, n);
  if (runs_as_flipped_conv(n, geo)) return false;
  const ValueId src = n.inputs[0], dst = po.result;
  dnnl::primitive_attr attr = user_scratchpad_attr();
  attr.set_post_ops(po.ops);
  const memory::desc src_md = k.data_md_as(src, k.pair_layout(dst, src));
  const memory::desc dst_md = k.data_md_as(dst, k.pair_layout(src, dst));
  const memory::desc bias_md = OneDnnKernel::vec_md(g.shape(n.outputs[0])[1]);
  const memory::desc wany = any_like(conv_weights_md(geo, tag::oihw));
  try {
    auto pd = conv_fwd_pd(k.ctx().eng, geo, src_md, wany, po.bias >= 0 ? &bias_md : nullptr, dst_md, attr);
    return !is_reference_impl(pd.impl_info_str());
  } catch (const dnnl::error&) {
    return false;
  }
}

// conv2d -> convolution forward; conv_transpose2d -> deconvolution forward
// (or a flipped forward convolution, see runs_as_flipped_conv).
size_t lower_conv_forward(OneDnnKernel& k, NodeId id) {
  const Graph& g = k.graph();
  const Node& n = g.node(id);
  const ConvGeometry geo = conv_geometry(g, n);
  const bool deconv = n.op == OpKind::kConvTranspose2d;
  const bool flip = runs_as_flipped_conv(n, geo);
  // Residual adds fuse as binary post-ops (f32; the bf16 storage rule plans
  // without them).
  BinaryMd binary_md;
  if (!k.options().bf16) binary_md = [&k](ValueId v) { return k.data_md(v); };
  PostOps po = match_post_ops(g, k.group(), id, true, k.options().post_ops, binary_md);
  if (!po.binary.empty() && !binary_post_ops_run_jit(k, n, po))  // else unfused: the chain program adds
    po = match_post_ops(g, k.group(), id, true, k.options().post_ops);
  dnnl::primitive_attr attr = user_scratchpad_attr();
  if (po.count) attr.set_post_ops(po.ops);
  const ValueId src = n.inputs[0], wv = n.inputs[1];
  if ((!flip && compile_winograd(k, n, po)) || compile_small_conv(k, n, geo, flip, po)) {
    // (bf16 mode too, in f32 (operands not rounded): oneDNN's bf16 kernels
    // pad a few output channels to a block of 16 (G's last layer: 2.3x
    // slower in bf16), and rounding each load to bf16 made ours 2.3x slower.)
    mark_post_ops_fused(k, po);
    return po.count;
  }
  const ValueId dst = po.count ? po.result : n.outputs[0];
  const memory::desc src_md = k.data_md_as(src, k.pair_layout(dst, src));
  const memory::desc dst_md = k.data_md_as(dst, k.pair_layout(src, dst));
  const int64_t oc = g.shape(n.outputs[0])[1];
  const bool bias = po.bias >= 0;
  const memory::desc bias_md = bias ? OneDnnKernel::vec_md(oc) : memory::desc();
  const ConvGeometry cg = flip ? flipped(geo) : geo;
  Ref wsrc = OneDnnKernel::vref(wv);
  memory::desc wuser = deconv ? deconv_weights_md(geo, tag::iohw)
                              : conv_weights_md(geo, tag::oihw);
  if (flip) {
    wuser = conv_weights_md(cg, tag::oihw);
    const size_t off = k.alloc(size_t(numel(geo.weight_shape())) * sizeof(float));
    wsrc = OneDnnKernel::sref(off);
    k.add_fn(
        [&k, wv, off, w = geo.weight_shape()] {
          flip_transposed_weights(w, k.fp(wv), reinterpret_cast<float*>(k.scratch_at(off)));
        },
        "flip_weights");
  }
  // bf16: the primitive reads bf16 copies of src and weights (reorders below
  // convert) and writes f32, unless the plan stores them as bf16 already.
  const dt op_type = k.options().bf16 ? dt::bf16 : dt::f32;
  const memory::desc wany = with_type(any_like(wuser), op_type);
  const memory::desc* bias_p = bias ? &bias_md : nullptr;
  auto body = [&](auto make_pd, const char* name) {
    auto pd = make_pd(with_type(src_md, op_type), dst_md);
    memory::desc s_md = pd.src_desc(), d_md = dst_md;
    std::string lay = layout_name(k.layout(src)) + std::string("->") + layout_name(k.layout(dst));
    if (is_reference_impl(pd.impl_info_str())) {
      pd = make_pd(with_type(any_like(src_md), op_type), any_like(dst_md));
      s_md = pd.src_desc();
      d_md = pd.dst_desc();
      lay += ",any";
    }
    if (k.options().bf16) lay += ",bf16";
    lay += k.stored_text({{src, "src"}, {dst, "dst"}});
    const memory::desc w_md = pd.weights_desc();
    const Ref wref =
        flip ? k.input_as(wsrc, wuser, w_md, "weights") : k.weights_as(wv, wuser, w_md);
    const Ref sref_in = k.input_as(src, src_md, s_md, "src");
    Ref dref = OneDnnKernel::vref(dst);
    size_t doff = 0;
    const bool dst_reorder = d_md != dst_md;
    if (dst_reorder) doff = k.alloc(d_md.get_size()), dref = OneDnnKernel::sref(doff);
    std::vector<std::pair<int, memory::desc>> descs = {
        {DNNL_ARG_SRC, s_md}, {DNNL_ARG_WEIGHTS, w_md}, {DNNL_ARG_DST, d_md}};
    std::vector<Ref> refs = {sref_in, wref, dref};
    if (bias)
      descs.push_back({DNNL_ARG_BIAS, bias_md}), refs.push_back(OneDnnKernel::vref(po.bias));
    for (const auto& [index, v] : po.binary)
      descs.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1, k.data_md(v)}),
          refs.push_back(OneDnnKernel::vref(v));
    k.add_prim(dnnl::primitive(pd), pd, descs, refs, std::string(name) + po.text + "[" + lay + "]");
    if (dst_reorder)
      k.add_reorder(d_md, OneDnnKernel::sref(doff), dst_md, OneDnnKernel::vref(dst), "dst");
  };
  const dnnl::engine& eng = k.ctx().eng;
  if (!deconv || flip)
    body([&](const memory::desc& s,
             const memory::desc& d) { return conv_fwd_pd(eng, cg, s, wany, bias_p, d, attr); },
         flip ? "conv_fwd(flipped deconv)" : "conv_fwd");
  else
    body([&](const memory::desc& s,
             const memory::desc& d) { return deconv_fwd_pd(eng, cg, s, wany, bias_p, d, attr); },
         "deconv_fwd");
  mark_post_ops_fused(k, po);
  return po.count;
}

// The weight gradient of a 4x4 stride-2 padding-1 layer (both kinds: a
// transposed layer's is the strided convolution's from its output to its
// input): our Winograd kernel too, where the forward pass would pay.
bool compile_winograd_weight_gradient(OneDnnKernel& k, const Node& n, const ConvGeometry& geo) {
  const std::optional<WinogradConv> found =
      winograd_weight_gradient_for(k.graph(), n, k.layout_of(), k.options());
  if (!found) return false;
  const WinogradConv c = *found;
  const size_t work = k.alloc(size_t(winograd_weight_gradient_scratch_floats(c)) * sizeof(float));
  const Elem se = k.elem_of(geo.in), de = k.elem_of(geo.out);
  k.add_fn(
      [&k, c, src = geo.in, dy = geo.out, dw = n.outputs[0], work, se, de] {
        winograd_weight_gradient(c, k.fp(src), se, k.fp(dy), de, k.fp(dw),
                                 reinterpret_cast<float*>(k.scratch_at(work)));
      },
      std::string("winograd_bwd_w[") + layout_name(c.src_layout) + "," + layout_name(c.dst_layout) +
          k.stored_text({{geo.in, "src"}, {geo.out, "diff_dst"}}) + "](" + micro_isa_name(c.isa) +
          ")");
  return true;
}

size_t lower_conv_backward_weights(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const ConvGeometry geo = conv_geometry(k.graph(), n);
  if (compile_winograd_weight_gradient(k, n, geo)) return 0;
  const memory::desc src_md = k.data_md_as(geo.in, k.pair_layout(geo.out, geo.in));
  const memory::desc dd_md = k.data_md_as(geo.out, k.pair_layout(geo.in, geo.out));
  const memory::desc user_w = conv_weights_md(geo, tag::oihw);
  const dnnl::primitive_attr attr = user_scratchpad_attr();
  const dt op_type =
      k.options().bf16 ? dt::bf16 : dt::f32;  // bf16: bf16 copies of both inputs, f32 gradient
  const dnnl::engine& eng = k.ctx().eng;
  auto pd =
      conv_bwd_weights_pd(eng, geo, with_type(src_md, op_type), with_type(dd_md, op_type), attr);
  std::string lay =
      layout_name(k.layout(geo.in)) + std::string(",") + layout_name(k.layout(geo.out));
  if (is_reference_impl(pd.impl_info_str()))
    pd = conv_bwd_weights_pd(eng, geo, with_type(any_like(src_md), op_type),
                             with_type(any_like(dd_md), op_type), attr),
    lay += ",any";
  if (k.options().bf16) lay += ",bf16";
  lay += k.stored_text({{geo.in, "src"}, {geo.out, "diff_dst"}});
  const Ref s_ref = k.input_as(geo.in, src_md, pd.src_desc(), "src");
  const Ref d_ref = k.input_as(geo.out, dd_md, pd.diff_dst_desc(), "diff_dst");
  const memory::desc w_md = pd.diff_weights_desc();
  const ValueId out = n.outputs[0];
  Ref wref = OneDnnKernel::vref(out);
  size_t off = 0;
  const bool reorder = w_md != user_w;
  if (reorder) off = k.alloc(w_md.get_size()), wref = OneDnnKernel::sref(off);
  k.add_prim(dnnl::convolution_backward_weights(pd), pd,
             {{DNNL_ARG_SRC, pd.src_desc()},
              {DNNL_ARG_DIFF_DST, pd.diff_dst_desc()},
              {DNNL_ARG_DIFF_WEIGHTS, w_md}},
             {s_ref, d_ref, wref}, "conv_bwd_w[" + lay + "]");
  if (reorder)
    k.add_reorder(w_md, OneDnnKernel::sref(off), user_w, OneDnnKernel::vref(out), "diff_weights");
  return 0;
}

// The two data sides of a convolution may differ in layout: each primitive
// takes the pair as it is where oneDNN has a JIT kernel for it, else it
// chooses its own and reorders. The weights stay plain (variables).
void weights_plain(const LayoutConstraints& c, const Graph&, const Node& n) {
  c.pin(n.inputs[1]);
}
void weight_gradient_plain(const LayoutConstraints& c, const Graph&, const Node& n) {
  c.pin(n.outputs[0]);
}

const OneDnnOp kOps[] = {
    {OpKind::kConv2d, lower_conv_forward, weights_plain, true},
    {OpKind::kConvTranspose2d, lower_conv_forward, weights_plain, true},
    {OpKind::kConv2dBackwardWeight, lower_conv_backward_weights, weight_gradient_plain, true},
};

}  // namespace

std::span<const OneDnnOp> convolution_ops() {
  return kOps;
}

}  // namespace rg::onednn
