// SPDX-License-Identifier: Apache-2.0
// Data movement: concat along an axis, bilinear resize (in double), pad and
// nearest resize (per-axis gathers).
#include <algorithm>

#include "backends/ref/ops/ref_ops.h"
#include "engine/op_geometry.h"
#include "engine/plane_loops.h"

namespace rg::ref {
namespace {

template <typename T>
void concat(const RefKernel<T>& k, const ConcatGeometry& geo, const std::vector<ValueId>& ins,
            T* y) {
  const int64_t row = geo.total() * geo.inner;
  int64_t at = 0;
  for (size_t i = 0; i < ins.size(); ++i) {
    const int64_t chunk = geo.sizes[i] * geo.inner;
    const T* x = k.p(ins[i]);
    for (int64_t o = 0; o < geo.outer; ++o)
      std::copy(x + o * chunk, x + (o + 1) * chunk, y + o * row + at);
    at += chunk;
  }
}

// pad and resize_nearest: each output element copied from its input offset, or the fill.
template <typename T>
void lower_axis_gather(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, geo = axis_gather(k.graph(), n), x = n.inputs[0], y = n.outputs[0]] {
    const T* xp = k.p(x);
    T* yp = k.p(y);
    for (int64_t e = 0, count = numel(geo.out); e < count; ++e) {
      const int64_t off = geo.offset(e);
      yp[e] = off < 0 ? T(geo.fill) : xp[off];
    }
  });
}

template <typename T>
void lower_concat(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, geo = concat_geometry(k.graph(), n), &in = n.inputs, y = n.outputs[0]] {
    concat(k, geo, in, k.p(y));
  });
}

template <typename T>
void lower_resize(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, geo = resize_geometry(k.graph(), n), x = n.inputs[0], y = n.outputs[0]] {
    for (int64_t plane = 0; plane < geo.planes; ++plane) resize_bilinear_plane(geo, k.p(x), k.p(y), plane);
  });
}

const RefOp kOps[] = {
    {OpKind::kConcat, lower_concat<float>, lower_concat<double>},
    {OpKind::kResizeBilinear, lower_resize<float>, lower_resize<double>},
    {OpKind::kPad, lower_axis_gather<float>, lower_axis_gather<double>},
    {OpKind::kResizeNearest, lower_axis_gather<float>, lower_axis_gather<double>},
};

}  // namespace

std::span<const RefOp> image_ops() {
  return kOps;
}

}  // namespace rg::ref
