// SPDX-License-Identifier: Apache-2.0
// ONNX's pooling and image ops: MaxPool, AveragePool (pads, auto_pad,
// ceil_mode, count_include_pad), GlobalAveragePool, GlobalMaxPool, ReduceMean, LRN,
// Resize and Upsample (nearest and linear, every coordinate mode but
// tf_crop_and_resize). 1-D pooling runs as 2-D of height 1.
#include <cmath>

#include "frontends/onnx/onnx_importer.h"
#include "frontends/onnx/ops/spatial.h"

namespace rg::onnx {
namespace {

void pool(NodeContext& c, bool max) {
  const Shape xs = c.shape(0);
  const ValueId x = to_2d_spatial(c, c.value(0));
  const size_t dims = xs.size() - 2;
  const std::vector<int64_t> k = spatial_attr(c, "kernel_shape", dims, 1, true),
                             s = spatial_attr(c, "strides", dims, 1),
                             d = spatial_attr(c, "dilations", dims, 1);
  std::vector<int64_t> p = spatial_pads(c, dims);
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  const Shape& x4 = c.graph().shape(x);
  if (auto_pad == "VALID") {
    p.assign(4, 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    same_pads(p, {x4[2], x4[3]}, {(k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1}, s,
              auto_pad == "SAME_UPPER");
  } else if (auto_pad != "NOTSET") {
    c.unsupported_attr("auto_pad", auto_pad);
  }
  Graph::PoolOptions o;
  for (size_t i = 0; i < 2; ++i) {
    o.kernel[i] = int(k[i]), o.stride[i] = int(s[i]);
    o.padding[i] = int(p[i]), o.padding_end[i] = int(p[2 + i]);
    o.dilation[i] = int(d[i]);
  }
  o.ceil_mode = c.attr_int("ceil_mode", 0) != 0;
  if (max) {
    c.attr_int("storage_order", 0);  // only the Indices output (refused) depends on it
  } else {
    o.count_include_pad = c.attr_int("count_include_pad", 0) != 0;
  }
  c.set_output(0, from_2d_spatial(c, max ? c.graph().max_pool2d(x, o) : c.graph().avg_pool2d(x, o),
                                  xs.size()));
}

void max_pool(NodeContext& c) {
  pool(c, true);
}
void average_pool(NodeContext& c) {
  pool(c, false);
}

void global_average_pool(NodeContext& c) {
  const Shape xs = c.shape(0);
  if (xs.size() < 3) c.unsupported("input " + shape_str(xs) + " has no spatial axes");
  std::vector<int> axes;
  for (size_t i = 2; i < xs.size(); ++i) axes.push_back(int(i));
  c.set_output(0, c.graph().mean(c.value(0), axes, true));
}

// ReduceMean (axes an attribute before opset 18, an input from it).
void reduce_mean(NodeContext& c) {
  const Shape xs = c.shape(0);
  std::vector<int64_t> axes = c.opset() >= 18 ? (c.has_input(1) ? c.constant(1, "axes").ints("axes")
                                                                : std::vector<int64_t>{})
                                              : c.attr_ints("axes");
  const bool keepdims = c.attr_int("keepdims", 1) != 0;
  if (c.attr_int("noop_with_empty_axes", 0) != 0 && axes.empty())
    return c.set_output(0, c.graph().mul_scalar(c.value(0), 1.0));
  std::vector<int> a;
  for (int64_t x : axes) a.push_back(int(normalized_axis(c, x, xs.size(), "axis")));
  c.set_output(0, c.graph().mean(c.value(0), a, keepdims));
}

void global_max_pool(NodeContext& c) {
  const Shape xs = c.shape(0);
  const ValueId x = to_2d_spatial(c, c.value(0));
  const Shape& x4 = c.graph().shape(x);
  Graph::PoolOptions o;
  o.kernel = {int(x4[2]), int(x4[3])};
  c.set_output(0, from_2d_spatial(c, c.graph().max_pool2d(x, o), xs.size()));
}

void lrn(NodeContext& c) {
  const int64_t size = c.attr_int("size", 0);
  if (size < 1) c.unsupported("needs size >= 1");
  c.set_output(0, c.graph().lrn(c.value(0), int(size), c.attr_float("alpha", 1e-4f),
                                c.attr_float("beta", 0.75f), c.attr_float("bias", 1.f)));
}

// Resize of NCHW's spatial axes: output sizes and the mode; N and C keep their size.
void resize_to(NodeContext& c, const std::vector<double>& scales, std::vector<int64_t> sizes,
               bool linear, OpAttrs::ResizeMode mode) {
  const Shape xs = c.shape(0);
  if (xs.size() != 4)
    c.unsupported("input " + shape_str(xs) + ": only 4-D (NCHW) inputs are supported");
  if (sizes.empty()) {
    if (scales.size() != 4) c.unsupported("needs 4 scales or 4 sizes");
    for (size_t i = 0; i < 4; ++i) sizes.push_back(int64_t(std::floor(double(xs[i]) * scales[i])));
    mode.scale = {scales[2], scales[3]};
  }
  if (sizes.size() != 4) c.unsupported("needs 4 sizes");
  if (sizes[0] != xs[0] || sizes[1] != xs[1]) c.unsupported("only the spatial axes may be resized");
  if (sizes[2] < 1 || sizes[3] < 1 || sizes[2] > (int64_t(1) << 20) ||
      sizes[3] > (int64_t(1) << 20))
    c.unsupported("output size " + std::to_string(sizes[2]) + "x" + std::to_string(sizes[3]) +
                  " is out of range");
  if (sizes[2] == xs[2] && sizes[3] == xs[3] && mode.coord != OpAttrs::ResizeCoord::kAlignCorners &&
      mode.scale[0] <= 0 && mode.scale[1] <= 0)
    return c.set_output(0, c.graph().mul_scalar(c.value(0), 1.0));
  c.set_output(0, c.graph().resize(c.value(0), sizes[2], sizes[3], linear, mode));
}

bool linear_mode(NodeContext& c, const std::string& mode) {
  if (mode == "nearest") return false;
  if (mode == "linear" || mode == "bilinear") return true;
  c.unsupported_attr("mode", mode);
}

std::vector<double> as_doubles(const Const& k) {
  std::vector<double> v;
  for (size_t i = 0; i < size_t(k.numel()); ++i) v.push_back(k.at(i));
  return v;
}

// Upsample (opset 7-9) and Resize-10: asymmetric coordinates; nearest
// floors when enlarging and takes the ceiling when shrinking (onnxruntime's rule).
void upsample_asymmetric(NodeContext& c, const std::vector<double>& scales,
                         const std::string& mode_name) {
  const bool linear = linear_mode(c, mode_name);
  OpAttrs::ResizeMode m;
  m.coord = OpAttrs::ResizeCoord::kAsymmetric;
  const bool shrink = scales.size() == 4 && (scales[2] < 1 || scales[3] < 1);
  m.round = shrink ? OpAttrs::NearestRound::kCeil : OpAttrs::NearestRound::kFloor;
  resize_to(c, scales, {}, linear, m);
}

void upsample(NodeContext& c) {
  const std::string mode = c.attr_string("mode", "nearest");
  if (c.opset() < 9) {  // the scales are an attribute
    const std::vector<float> f = c.attr_floats("scales");
    return upsample_asymmetric(c, std::vector<double>(f.begin(), f.end()), mode);
  }
  upsample_asymmetric(c, as_doubles(c.constant(1, "scales")), mode);
}

void resize(NodeContext& c) {
  const std::string mode_name = c.attr_string("mode", "nearest");
  if (c.opset() < 11) return upsample_asymmetric(c, as_doubles(c.constant(1, "scales")), mode_name);
  const bool linear = linear_mode(c, mode_name);
  using Coord = OpAttrs::ResizeCoord;
  using Round = OpAttrs::NearestRound;
  OpAttrs::ResizeMode m;
  const std::string coord = c.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel")
    m.coord = Coord::kHalfPixel;
  else if (coord == "pytorch_half_pixel")
    m.coord = Coord::kPytorchHalfPixel;
  else if (coord == "align_corners")
    m.coord = Coord::kAlignCorners;
  else if (coord == "asymmetric")
    m.coord = Coord::kAsymmetric;
  else if (coord == "tf_half_pixel_for_nn")
    m.coord = Coord::kTfHalfPixelForNn;
  else
    c.unsupported_attr("coordinate_transformation_mode", coord);
  const std::string nearest = c.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor")
    m.round = Round::kRoundPreferFloor;
  else if (nearest == "round_prefer_ceil")
    m.round = Round::kRoundPreferCeil;
  else if (nearest == "floor")
    m.round = Round::kFloor;
  else if (nearest == "ceil")
    m.round = Round::kCeil;
  else
    c.unsupported_attr("nearest_mode", nearest);
  c.attr_float("cubic_coeff_a", -0.75f);     // cubic only
  c.attr_float("extrapolation_value", 0.f);  // tf_crop_and_resize only
  if (c.attr_int("exclude_outside", 0) != 0) c.unsupported_attr("exclude_outside", "1");
  if (c.attr_int("antialias", 0) != 0) c.unsupported_attr("antialias", "1");
  const std::string policy = c.attr_string("keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch") c.unsupported_attr("keep_aspect_ratio_policy", policy);
  const Shape xs = c.shape(0);
  std::vector<int64_t> axes = c.attr_ints("axes");
  for (int64_t& a : axes) a = normalized_axis(c, a, xs.size(), "axis");
  // Values given for `axes` only (opset 18) spread over every axis.
  auto full = [&](std::vector<double> v, double fill) {
    if (axes.empty()) return v;
    if (v.size() != axes.size()) c.unsupported("scales or sizes do not match axes");
    std::vector<double> f(xs.size(), fill);
    for (size_t i = 0; i < axes.size(); ++i) f[size_t(axes[i])] = v[i];
    return f;
  };
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (c.has_input(3) && c.constant(3, "sizes").numel() > 0) {
    std::vector<double> sz = as_doubles(c.constant(3, "sizes"));
    if (!axes.empty()) {
      std::vector<double> f(xs.begin(), xs.end());
      for (size_t i = 0; i < axes.size() && i < sz.size(); ++i) f[size_t(axes[i])] = sz[i];
      sz = f;
    }
    for (double v : sz) sizes.push_back(int64_t(v));
  } else if (c.has_input(2) && c.constant(2, "scales").numel() > 0) {
    scales = full(as_doubles(c.constant(2, "scales")), 1.0);
  } else {
    c.unsupported("needs scales or sizes");
  }
  if (c.has_input(1) && !c.is_const(1))
    c.unsupported("roi must be a constant (it is read by tf_crop_and_resize only)");
  if (c.has_input(1)) (void)c.constant(1, "roi");
  resize_to(c, scales, sizes, linear, m);
}

const OnnxOp kOps[] = {
    {"MaxPool", max_pool},
    {"AveragePool", average_pool},
    {"GlobalAveragePool", global_average_pool},
    {"GlobalMaxPool", global_max_pool},
    {"ReduceMean", reduce_mean},
    {"LRN", lrn},
    {"Upsample", upsample},
    {"Resize", resize},
};

}  // namespace

std::span<const OnnxOp> pooling_ops() {
  return kOps;
}

}  // namespace rg::onnx
