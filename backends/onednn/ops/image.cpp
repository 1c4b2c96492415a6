// SPDX-License-Identifier: Apache-2.0
// Data movement on the oneDNN backend: concat (oneDNN's primitive), bilinear
// resize, and pad and resize_nearest: the per-axis gather of
// engine/op_geometry.h as a loop of ours over plain values, rows in parallel.
// (oneDNN's resampling rounds its nearest source otherwise than PyTorch and
// ONNX's asymmetric floor mode, and it has no padding primitive.)
#include <algorithm>

#include "backends/onednn/conv_primitives.h"
#include "backends/onednn/ops/onednn_ops.h"
#include "engine/op_geometry.h"
#include "engine/plane_loops.h"

namespace rg::onednn {
namespace {

using dnnl::memory;

size_t lower_axis_gather(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  k.add_fn(
      [&k, geo = axis_gather(k.graph(), n), x = n.inputs[0], y = n.outputs[0]] {
        const float* xp = k.fp(x);
        float* yp = k.fp(y);
        const int64_t row = geo.out.back(), rows = numel(geo.out) / std::max<int64_t>(row, 1);
        const std::vector<int64_t>& last = geo.map.back();
        const float fill = float(geo.fill);
#pragma omp parallel for schedule(static) if (rows * row >= 32768)
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t base = geo.row_offset(r);
          float* yr = yp + r * row;
          if (base < 0) {  // the whole row is padding
            std::fill(yr, yr + row, fill);
            continue;
          }
          for (int64_t i = 0; i < row; ++i)
            yr[i] = last[size_t(i)] < 0 ? fill : xp[base + last[size_t(i)]];
        }
      },
      std::string(op_name(n.op)) + "(nchw)");
  return 0;
}

// concat: oneDNN's concat primitive on the values' layouts where it has an
// optimised kernel (all of one layout: concat_layout); else plain copies
// concatenated by a loop of ours.
size_t lower_concat(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const ConcatGeometry geo = concat_geometry(k.graph(), n);
  const ValueId y = n.outputs[0];
  std::vector<memory::desc> srcs;
  for (ValueId v : n.inputs) srcs.push_back(k.data_md(v));
  const memory::desc dst = k.data_md(y);
  if (k.graph().shape(y).size() == 4) {
    try {
      auto pd =
          dnnl::concat::primitive_desc(dst, geo.axis, srcs, k.ctx().eng, user_scratchpad_attr());
      if (!is_reference_impl(pd.impl_info_str())) {
        std::vector<std::pair<int, memory::desc>> descs;
        std::vector<OneDnnKernel::Ref> refs;
        for (size_t i = 0; i < srcs.size(); ++i)
          descs.push_back({DNNL_ARG_MULTIPLE_SRC + int(i), srcs[i]}),
              refs.push_back(OneDnnKernel::vref(n.inputs[i]));
        descs.push_back({DNNL_ARG_DST, dst}), refs.push_back(OneDnnKernel::vref(y));
        k.add_prim(dnnl::concat(pd), pd, descs, refs,
                   "concat[" + std::string(layout_name(k.layout(y))) + "]");
        return 0;
      }
    } catch (const dnnl::error&) {
      // no implementation for these descriptors: the loop below
    }
  }
  std::vector<OneDnnKernel::Ref> ins;
  for (ValueId v : n.inputs) ins.push_back(k.plain_input(v));
  const OneDnnKernel::Ref out = k.plain_output(y);
  k.add_fn(
      [&k, geo, ins, out] {
        float* yp = k.at(out);
        const int64_t row = geo.total() * geo.inner;
        int64_t at = 0;
        for (size_t i = 0; i < ins.size(); ++i) {
          const int64_t chunk = geo.sizes[i] * geo.inner;
          const float* x = k.at(ins[i]);
          for (int64_t o = 0; o < geo.outer; ++o)
            std::copy(x + o * chunk, x + (o + 1) * chunk, yp + o * row + at);
          at += chunk;
        }
      },
      "concat(plain)");
  k.finish_plain_output(y, out);
  return 0;
}

// Bilinear resize: the reference's taps (engine/op_geometry.h) in double, on
// plain copies, planes in parallel. (oneDNN's linear resampling computes its
// source coordinates in single precision.)
size_t lower_resize_bilinear(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const OneDnnKernel::Ref in = k.plain_input(n.inputs[0]), out = k.plain_output(n.outputs[0]);
  k.add_fn(
      [&k, geo = resize_geometry(k.graph(), n), in, out] {
        const float* x = k.at(in);
        float* y = k.at(out);
#pragma omp parallel for schedule(static)
        for (int64_t plane = 0; plane < geo.planes; ++plane) resize_bilinear_plane(geo, x, y, plane);
      },
      "resize_bilinear(nchw)");
  k.finish_plain_output(n.outputs[0], out);
  return 0;
}

// All of concat's values in one layout (its primitive's fast path).
void concat_layout(const LayoutConstraints& c, const Graph& g, const Node& n) {
  if (g.shape(n.outputs[0]).size() != 4) return values_plain(c, g, n);
  for (ValueId v : n.inputs) c.same(v, n.outputs[0]);
}

const OneDnnOp kOps[] = {
    {OpKind::kConcat, lower_concat, concat_layout},
    {OpKind::kResizeBilinear, lower_resize_bilinear, any_layout},
    {OpKind::kPad, lower_axis_gather, values_plain},
    {OpKind::kResizeNearest, lower_axis_gather, values_plain},
};

}  // namespace

std::span<const OneDnnOp> image_ops() {
  return kOps;
}

}  // namespace rg::onednn
