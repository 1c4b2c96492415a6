// SPDX-License-Identifier: Apache-2.0
// Forward-only image ops (Inception for FID/KID): concat (x0, ..., xk) along
// attrs.axes[0], any number (>= 1) of inputs; resize_bilinear to
// attrs.shape = {H', W'} as F.interpolate(bilinear, align_corners=False).
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {
namespace {

using namespace shape_checks;

std::vector<TensorDesc> concat_shape(const ShapeArgs& s) {
  const std::string& node = s.node;
  if (s.a.axes.size() != 1) fail(node, "needs exactly one axis");
  const int rank = s.d(0).rank();
  const int axis = s.a.axes[0] < 0 ? s.a.axes[0] + rank : s.a.axes[0];
  if (axis < 0 || axis >= rank)
    fail(node, "axis " + std::to_string(s.a.axes[0]) + " out of range for " + desc_str(s.d(0)));
  Shape out = s.d(0).shape;
  for (size_t i = 1; i < s.in.size(); ++i) {
    const TensorDesc& di = s.d(i);
    bool ok = di.dtype == s.d(0).dtype && di.rank() == rank;
    for (int k = 0; ok && k < rank; ++k) ok = k == axis || di.shape[size_t(k)] == out[size_t(k)];
    if (!ok)
      fail(node, "input " + std::to_string(i) + " " + desc_str(di) + " does not match " +
                     desc_str(s.d(0)) + " outside axis " + std::to_string(axis));
    out[size_t(axis)] += di.shape[size_t(axis)];
  }
  return {TensorDesc{out, s.d(0).dtype}};
}

std::vector<TensorDesc> resize_bilinear_shape(const ShapeArgs& s) {
  expect_rank(s.node, "input", s.d(0), 4);
  const Shape& size = s.a.shape;
  if (size.size() != 2 || size[0] < 1 || size[1] < 1)
    fail(s.node, "output size must be {H, W} with H, W >= 1, got " + shape_str(size));
  const Shape& x = s.d(0).shape;
  return {TensorDesc{{x[0], x[1], size[0], size[1]}, s.d(0).dtype}};
}

std::vector<TensorDesc> pad_shape(const ShapeArgs& s) {
  const Shape& x = s.d(0).shape;
  const std::vector<int64_t>& p = s.a.pads;
  const size_t r = x.size();
  if (p.size() != 2 * r)
    fail(s.node, "needs " + std::to_string(2 * r) + " pads (begin and end per axis), got " + std::to_string(p.size()));
  Shape y = x;
  for (size_t i = 0; i < r; ++i) {
    if (p[i] < 0 || p[r + i] < 0) fail(s.node, "negative pads are not supported");
    if (s.a.pad_mode == OpAttrs::PadMode::kReflect && (p[i] >= x[i] || p[r + i] >= x[i]))
      fail(s.node, "reflect padding must be smaller than the axis (" + std::to_string(x[i]) + ")");
    if (s.a.pad_mode == OpAttrs::PadMode::kEdge && x[i] == 0) fail(s.node, "edge padding of an empty axis");
    y[i] = x[i] + p[i] + p[r + i];
  }
  return {TensorDesc{y, s.d(0).dtype}};
}

std::vector<TensorDesc> resize_nearest_shape(const ShapeArgs& s) {
  return resize_bilinear_shape(s);
}

const OpRule kRules[] = {
    {OpKind::kPad, "pad", 1, 1, 0, pad_shape, nullptr},
    {OpKind::kResizeNearest, "resize_nearest", 1, 1, 0, resize_nearest_shape, nullptr},
    {OpKind::kConcat, "concat", -1, 1, 0, concat_shape, nullptr},
    {OpKind::kResizeBilinear, "resize_bilinear", 1, 1, 0, resize_bilinear_shape, nullptr},
};

}  // namespace

std::span<const OpRule> image_op_rules() {
  return kRules;
}

}  // namespace rg
