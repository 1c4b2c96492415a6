// SPDX-License-Identifier: Apache-2.0
// Batch normalisation on the oneDNN backend: its forward (training and
// inference, with a following ReLU fused where the normalised value is
// internal) and backward primitives, the running statistics' update, and
// group norm (a loop of ours).
// (A batch_norm_inference that heads an elementwise chain is not lowered
// here: the chain's program computes it, kernel_choice.h's is_bn_head_group.)
#include <algorithm>
#include <cmath>

#include "backends/onednn/conv_primitives.h"
#include "backends/onednn/kernel_choice.h"
#include "backends/onednn/ops/onednn_ops.h"
#include "engine/op_geometry.h"
#include "engine/plane_loops.h"
#include "graph/batch_norm_rules.h"
#include "graph/state_update_rules.h"

namespace rg::onednn {
namespace {

using dnnl::memory;
using Ref = OneDnnKernel::Ref;
constexpr auto vref = OneDnnKernel::vref;
constexpr auto vec_md = OneDnnKernel::vec_md;

size_t lower_forward(OneDnnKernel& k, NodeId id) {
  const Graph& g = k.graph();
  const Node& n = g.node(id);
  const bool train = n.op == OpKind::kBatchNormTrain;
  const ValueId x = n.inputs[0], y = n.outputs[0];
  const int64_t C = g.shape(x)[1];
  // batch_norm + relu with the normalised value internal: fuse_norm_relu.
  const ValueId dst = bn_fwd_dst(g, k.group(), id, k.options().post_ops);
  const bool fuse = dst != y;
  if (fuse) k.mark_fused(y);
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  if (!train) flags = flags | dnnl::normalization_flags::use_global_stats;
  if (fuse) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
  const memory::desc md = k.data_md(x);
  if (k.data_md(dst) != md)
    throw std::logic_error("onednn backend: batch norm input and output layouts differ");
  auto d = dnnl::batch_normalization_forward::desc(
      train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, md,
      float(n.attrs.eps), flags);
  auto pd =
      dnnl::batch_normalization_forward::primitive_desc(d, user_scratchpad_attr(), k.ctx().eng);
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
    refs.push_back(OneDnnKernel::sref(k.alloc(pd.workspace_desc().get_size())));
  }
  k.add_prim(
      dnnl::batch_normalization_forward(pd), pd, descs, refs,
      std::string(train ? "bnorm_fwd_train" : "bnorm_fwd_inference") + (fuse ? "+relu" : ""));
  return fuse ? 1 : 0;
}

size_t lower_backward(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const ValueId dy = n.inputs[0], x = n.inputs[1];
  const int64_t C = k.graph().shape(x)[1];
  const memory::desc md = k.data_md(x), dmd = k.data_md(dy);
  const dnnl::engine& eng = k.ctx().eng;
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  auto fd = dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_training, md,
                                                    float(n.attrs.eps), flags);
  auto fpd = dnnl::batch_normalization_forward::primitive_desc(fd, user_scratchpad_attr(), eng);
  auto bd = dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, dmd, md,
                                                     float(n.attrs.eps), flags);
  auto pd =
      dnnl::batch_normalization_backward::primitive_desc(bd, user_scratchpad_attr(), eng, fpd);
  k.add_prim(dnnl::batch_normalization_backward(pd), pd,
             {{DNNL_ARG_SRC, md},
              {DNNL_ARG_DIFF_DST, dmd},
              {DNNL_ARG_SCALE, vec_md(C)},
              {DNNL_ARG_MEAN, vec_md(C)},
              {DNNL_ARG_VARIANCE, vec_md(C)},
              {DNNL_ARG_DIFF_SRC, k.data_md(n.outputs[0])},
              {DNNL_ARG_DIFF_SCALE, vec_md(C)},
              {DNNL_ARG_DIFF_SHIFT, vec_md(C)},
              {DNNL_ARG_SHIFT, vec_md(C)}},
             {vref(x), vref(dy), vref(n.inputs[2]), vref(n.inputs[3]), vref(n.inputs[4]),
              vref(n.outputs[0]), vref(n.outputs[1]), vref(n.outputs[2]),
              OneDnnKernel::sref(k.alloc(size_t(C) * 4))},  // oneDNN 2.6 wants a (unread) shift
             "bnorm_bwd");
  return 0;
}

size_t lower_running_update(OneDnnKernel& k, NodeId id) {
  k.add_fn(
      [&k, id] {
        const Node& m = k.graph().node(id);
        const RunningUpdate u = running_update(m.attrs);
        float* r = k.fp(m.inputs[0]);
        const float* s = k.fp(m.inputs[1]);
        for (int64_t i = 0, c = k.graph().desc(m.inputs[0]).numel(); i < c; ++i)
          r[i] = float(running_update_element(double(r[i]), double(s[i]), u));
      },
      "running_update");
  return 0;
}

// Group norm (oneDNN 2.6 has no primitive for it): per (sample, group) in
// parallel, the statistics in double with the batch norm rules (as the
// reference), then y = (x - mean) * inv * scale + bias in double, rounded
// once. Plain NCHW, where a group's values are contiguous.
size_t lower_group_norm(OneDnnKernel& k, NodeId id) {
  k.add_fn(
      [&k, id] {
        const Node& n = k.graph().node(id);
        const Shape& s = k.graph().shape(n.inputs[0]);
        const int64_t G = n.attrs.groups;
        const float *x = k.fp(n.inputs[0]), *scale = k.fp(n.inputs[1]), *bias = k.fp(n.inputs[2]);
        float* y = k.fp(n.outputs[0]);
#pragma omp parallel for schedule(static) if (numel(s) >= 32768)
        for (int64_t ng = 0; ng < s[0] * G; ++ng)
          group_norm_group(x, scale, bias, y, s[1], s[2] * s[3], G, n.attrs.eps, ng);
      },
      "group_norm(nchw)");
  return 0;
}

// LRN: oneDNN's across-channels primitive, whose window is centred, for odd
// sizes (AlexNet's and GoogLeNet's 5); a loop of ours (the reference's) for
// even ones, where ONNX's window has one channel more after than before.
// The reference's LRN on plain NCHW floats, planes in parallel.
void lrn_loop(const LrnGeometry& l, const float* xp, float* yp) {
#pragma omp parallel for schedule(static)
  for (int64_t bc = 0; bc < l.n * l.c; ++bc) lrn_plane(l, xp, yp, bc / l.c, bc % l.c);
}

size_t lower_lrn(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const LrnGeometry l = lrn_geometry(k.graph(), n);
  const ValueId x = n.inputs[0], y = n.outputs[0];
  const memory::desc md = k.data_md(x);
  if (l.size % 2 == 1) {
    auto d = dnnl::lrn_forward::desc(dnnl::prop_kind::forward_inference,
                                     dnnl::algorithm::lrn_across_channels, md, memory::dim(l.size),
                                     float(l.alpha), float(l.beta), float(l.bias));
    auto pd = dnnl::lrn_forward::primitive_desc(d, user_scratchpad_attr(), k.ctx().eng);
    if (!is_reference_impl(pd.impl_info_str())) {
      k.add_prim(dnnl::lrn_forward(pd), pd, {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, k.data_md(y)}},
                 {vref(x), vref(y)}, "lrn[" + std::string(layout_name(k.layout(x))) + "]");
      return 0;
    }
  }
  // Even sizes, and layouts oneDNN has only a reference kernel for (NHWC on
  // AVX2): our loop on plain copies.
  const OneDnnKernel::Ref in = k.plain_input(x), out = k.plain_output(y);
  k.add_fn([&k, l, in, out] { lrn_loop(l, k.at(in), k.at(out)); }, "lrn(nchw)");
  k.finish_plain_output(y, out);
  return 0;
}

void lrn_layout(const LayoutConstraints& c, const Graph&, const Node& n) {
  c.same(n.inputs[0], n.outputs[0]);
}

// Batch norm's primitives read and write their data in one layout.
void data_same_layout(const LayoutConstraints& c, const Graph&, const Node& n) {
  c.same(n.inputs[0], n.outputs[0]);
}
void gradients_same_layout(const LayoutConstraints& c, const Graph&, const Node& n) {
  c.same(n.inputs[0], n.inputs[1]);
  c.same(n.inputs[1], n.outputs[0]);
}

const OneDnnOp kOps[] = {
    {OpKind::kBatchNormTrain, lower_forward, data_same_layout, true},
    {OpKind::kBatchNormInference, lower_forward, data_same_layout, true},
    // oneDNN allows diff_src in diff_dst's memory.
    {OpKind::kBatchNormBackward, lower_backward, gradients_same_layout, true, {0, 0}},
    {OpKind::kBatchNormRunningUpdate, lower_running_update},
    {OpKind::kGroupNorm, lower_group_norm, values_plain},
    {OpKind::kLrn, lower_lrn, lrn_layout},
};

}  // namespace

std::span<const OneDnnOp> normalization_ops() {
  return kOps;
}

}  // namespace rg::onednn
