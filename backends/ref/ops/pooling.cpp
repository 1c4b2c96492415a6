// SPDX-License-Identifier: Apache-2.0
// Max and average pooling (engine/op_geometry.h's windows) and max pooling's
// gradient, in double where they sum.
#include <cmath>

#include "backends/ref/ops/ref_ops.h"
#include "engine/op_geometry.h"
#include "engine/plane_loops.h"

namespace rg::ref {
namespace {

// f(plane, output index in the plane, window) for every window.
template <typename F>
void for_each_window(const PoolGeometry& geo, F&& f) {
  for (int64_t plane = 0; plane < geo.planes; ++plane)
    for (int64_t oh = 0; oh < geo.ho; ++oh)
      for (int64_t ow = 0; ow < geo.wo; ++ow) f(plane, oh * geo.wo + ow, geo.window(oh, ow));
}

// Max: the window's maximum. Average: its sum over the clipped window, in
// double, divided by PoolGeometry::average_count (engine/plane_loops.h).
template <typename T>
void pool2d(const PoolGeometry& geo, const T* x, T* y) {
  for (int64_t plane = 0; plane < geo.planes; ++plane) pool2d_plane(geo, x, y, plane);
}

// dx: each window's output gradient added at the window's first maximum.
template <typename T>
void max_pool2d_backward(const PoolGeometry& geo, const T* dy, const T* x, T* dx) {
  const int64_t plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
  std::fill(dx, dx + geo.planes * plane_in, T(0));
  for_each_window(geo, [&](int64_t plane, int64_t o, const PoolGeometry::Window& win) {
    dx[plane * plane_in + pool_window_argmax(geo, x + plane * plane_in, win)] +=
        dy[plane * plane_out + o];
  });
}

template <typename T>
void lower_avg_pool_backward(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, geo = pool_geometry(k.graph(), n), dy = n.inputs[0], dx = n.outputs[0]] {
    for (int64_t plane = 0; plane < geo.planes; ++plane) avg_pool2d_backward_plane(geo, k.p(dy), k.p(dx), plane);
  });
}

template <typename T>
void lower_pool(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, geo = pool_geometry(k.graph(), n), x = n.inputs[0], y = n.outputs[0]] {
    pool2d(geo, k.p(x), k.p(y));
  });
}

template <typename T>
void lower_max_pool_backward(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, geo = pool_geometry(k.graph(), n), dy = n.inputs[0], x = n.inputs[1],
              dx = n.outputs[0]] { max_pool2d_backward(geo, k.p(dy), k.p(x), k.p(dx)); });
}

const RefOp kOps[] = {
    {OpKind::kMaxPool2d, lower_pool<float>, lower_pool<double>},
    {OpKind::kAvgPool2d, lower_pool<float>, lower_pool<double>},
    {OpKind::kMaxPool2dBackward, lower_max_pool_backward<float>, lower_max_pool_backward<double>},
    {OpKind::kAvgPool2dBackward, lower_avg_pool_backward<float>, lower_avg_pool_backward<double>},
};

}  // namespace

std::span<const RefOp> pooling_ops() {
  return kOps;
}

}  // namespace rg::ref
