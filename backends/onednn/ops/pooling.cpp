// SPDX-License-Identifier: Apache-2.0
// Pooling on the oneDNN backend: oneDNN's pooling primitives in the layouts
// the plan chose (blocked ones included; JIT on AVX2 and AVX-512), max
// pooling's gradient as the forward primitive (for its workspace) then the
// backward one. Two cases run a loop of ours on plain values (the
// reference's arithmetic): an average with count_include_pad whose last
// window runs past the padding (ceil mode), where oneDNN divides by the
// whole kernel, and dilated pooling, which oneDNN 2.6 runs only in reference kernels.
#include "backends/onednn/conv_primitives.h"
#include "backends/onednn/ops/onednn_ops.h"
#include "engine/op_geometry.h"
#include "engine/plane_loops.h"

namespace rg::onednn {
namespace {

using dnnl::memory;
using Ref = OneDnnKernel::Ref;
constexpr auto vref = OneDnnKernel::vref;
constexpr auto sref = OneDnnKernel::sref;

// Padding at the end that makes oneDNN's output size ours (ceil mode adds some).
memory::dims pad_end(const PoolGeometry& p) {
  return {(p.ho - 1) * p.sh + (p.kh - 1) * p.dh + 1 - p.h - p.ph,
          (p.wo - 1) * p.sw + (p.kw - 1) * p.dw + 1 - p.w - p.pw};
}

bool dilated(const PoolGeometry& p) { return p.dh != 1 || p.dw != 1; }

// Where our own loop runs (own_pool_step).
bool own_pool(const PoolGeometry& p) {
  const memory::dims r = pad_end(p);
  return dilated(p) || (!p.max && p.count_include_pad && (r[0] > p.ph_end || r[1] > p.pw_end));
}

dnnl::algorithm algorithm_of(const PoolGeometry& p) {
  if (p.max) return dnnl::algorithm::pooling_max;
  return p.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                             : dnnl::algorithm::pooling_avg_exclude_padding;
}

dnnl::pooling_forward::desc forward_desc(const PoolGeometry& p, dnnl::prop_kind pk,
                                         const memory::desc& src, const memory::desc& dst) {
  return dnnl::pooling_forward::desc(pk, algorithm_of(p), src, dst, {p.sh, p.sw}, {p.kh, p.kw},
                                     {p.ph, p.pw}, pad_end(p));
}

// Our loop on plain values, the reference's arithmetic (engine/plane_loops.h):
// for an average whose windows reach past the padding, and for dilated
// pooling (oneDNN 2.6 has only reference kernels for it).
void own_pool_step(OneDnnKernel& k, const PoolGeometry& geo, ValueId x, ValueId y) {
  k.add_fn(
      [&k, geo, x, y] {
        const float* xp = k.fp(x);
        float* yp = k.fp(y);
#pragma omp parallel for schedule(static)
        for (int64_t plane = 0; plane < geo.planes; ++plane) pool2d_plane(geo, xp, yp, plane);
      },
      std::string(geo.max ? "max_pool2d" : "avg_pool2d") + (dilated(geo) ? "(dilated, nchw)" : "(ceil, nchw)"));
}

// Value v described in the layout of value `like` (the pooling primitives
// have JIT kernels only where both sides share one).
memory::desc in_layout_of(const OneDnnKernel& k, ValueId v, ValueId like) {
  const Shape& s = k.graph().shape(v);
  return memory::desc(dims_of(s), k.stored_type(v), tag_of(k.layout(like), s.size()));
}

// The primitive writes in the source's layout; a reorder follows where the
// plan keeps the result in another (a flatten after the last pooling pins it plain).
size_t lower_pool(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const PoolGeometry geo = pool_geometry(k.graph(), n);
  const ValueId x = n.inputs[0], y = n.outputs[0];
  if (own_pool(geo)) {
    own_pool_step(k, geo, x, y);
    return 0;
  }
  const memory::desc src = k.data_md(x), dst = k.data_md(y), dst_as_src = in_layout_of(k, y, x);
  auto pd = dnnl::pooling_forward::primitive_desc(
      forward_desc(geo, dnnl::prop_kind::forward_inference, src, dst_as_src),
      user_scratchpad_attr(), k.ctx().eng);
  const bool reorder = dst_as_src != dst;
  const Ref out = reorder ? sref(k.alloc(dst_as_src.get_size())) : vref(y);
  k.add_prim(dnnl::pooling_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_as_src}},
             {vref(x), out},
             std::string(geo.max ? "max_pool" : "avg_pool") + "[" + layout_name(k.layout(x)) + "]");
  if (reorder) k.add_reorder(dst_as_src, out, dst, vref(y), "dst");
  return 0;
}

// dx of max pooling from (dy, x): the forward primitive again for its
// workspace (where each window's maximum is), then the backward one.
size_t lower_max_pool_backward(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const PoolGeometry geo = pool_geometry(k.graph(), n);
  const ValueId dy = n.inputs[0], x = n.inputs[1], dx = n.outputs[0];
  // Everything in x's layout (dx shares it: pool_backward_layout); dy is
  // reordered into it where the plan keeps it in another.
  const memory::desc src = k.data_md(x), dsrc = k.data_md(dx), ddst = in_layout_of(k, dy, x);
  const Ref dy_in = k.input_as(dy, k.data_md(dy), ddst, "diff_dst");
  const dnnl::engine& eng = k.ctx().eng;
  auto fpd = dnnl::pooling_forward::primitive_desc(
      forward_desc(geo, dnnl::prop_kind::forward_training, src, ddst), user_scratchpad_attr(), eng);
  const memory::desc ws = fpd.workspace_desc();
  const Ref y = sref(k.alloc(ddst.get_size())), w = sref(k.alloc(ws.get_size()));
  k.add_prim(dnnl::pooling_forward(fpd), fpd,
             {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, ddst}, {DNNL_ARG_WORKSPACE, ws}}, {vref(x), y, w},
             std::string("max_pool(workspace)[") + layout_name(k.layout(x)) + "]");
  auto bd = dnnl::pooling_backward::desc(algorithm_of(geo), dsrc, ddst, {geo.sh, geo.sw},
                                         {geo.kh, geo.kw}, {geo.ph, geo.pw}, pad_end(geo));
  auto bpd = dnnl::pooling_backward::primitive_desc(bd, user_scratchpad_attr(), eng, fpd);
  k.add_prim(dnnl::pooling_backward(bpd), bpd,
             {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_DIFF_SRC, dsrc}},
             {dy_in, w, vref(dx)}, std::string("max_pool_bwd[") + layout_name(k.layout(x)) + "]");
  return 0;
}

// dx of average pooling: oneDNN's backward primitive (no workspace) where
// its divisor is ours, else the reference's gather on plain copies.
size_t lower_avg_pool_backward(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const PoolGeometry geo = pool_geometry(k.graph(), n);
  const ValueId dy = n.inputs[0], dx = n.outputs[0];
  if (!own_pool(geo)) {
    const memory::desc dsrc = k.data_md(dx), ddst = in_layout_of(k, dy, dx);
    const Ref dy_in = k.input_as(dy, k.data_md(dy), ddst, "diff_dst");
    const dnnl::engine& eng = k.ctx().eng;
    auto fpd = dnnl::pooling_forward::primitive_desc(
        forward_desc(geo, dnnl::prop_kind::forward_training, dsrc, ddst), user_scratchpad_attr(),
        eng);
    auto bd = dnnl::pooling_backward::desc(algorithm_of(geo), dsrc, ddst, {geo.sh, geo.sw},
                                           {geo.kh, geo.kw}, {geo.ph, geo.pw}, pad_end(geo));
    auto bpd = dnnl::pooling_backward::primitive_desc(bd, user_scratchpad_attr(), eng, fpd);
    if (!is_reference_impl(bpd.impl_info_str())) {
      k.add_prim(dnnl::pooling_backward(bpd), bpd,
                 {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_SRC, dsrc}}, {dy_in, vref(dx)},
                 std::string("avg_pool_bwd[") + layout_name(k.layout(dx)) + "]");
      return 0;
    }
  }
  const Ref in = k.plain_input(dy), out = k.plain_output(dx);
  k.add_fn(
      [&k, geo, in, out] {
        const float* d = k.at(in);
        float* o = k.at(out);
#pragma omp parallel for schedule(static)
        for (int64_t plane = 0; plane < geo.planes; ++plane) avg_pool2d_backward_plane(geo, d, o, plane);
      },
      "avg_pool_bwd(nchw)");
  k.finish_plain_output(dx, out);
  return 0;
}

// Pooling reads and writes any layout (the primitive's result is reordered
// where the plan wants another), except our own average's plain loop.
void pool_layout(const LayoutConstraints& c, const Graph& g, const Node& n) {
  if (own_pool(pool_geometry(g, n))) values_plain(c, g, n);
}
// The backward primitive wants the gradients in the forward source's layout.
void pool_backward_layout(const LayoutConstraints& c, const Graph&, const Node& n) {
  c.same(n.inputs[1], n.outputs[0]);
}

const OneDnnOp kOps[] = {
    {OpKind::kMaxPool2d, lower_pool, pool_layout},
    {OpKind::kAvgPool2d, lower_pool, pool_layout},
    {OpKind::kMaxPool2dBackward, lower_max_pool_backward, pool_backward_layout},
    {OpKind::kAvgPool2dBackward, lower_avg_pool_backward, any_layout},
};

}  // namespace

std::span<const OneDnnOp> pooling_ops() {
  return kOps;
}

}  // namespace rg::onednn
