// SPDX-License-Identifier: Apache-2.0
#include "frontends/onnx/ops/spatial.h"

#include <algorithm>

namespace rg::onnx {

size_t spatial_dims(NodeContext& c, const Shape& x) {
  if (x.size() != 3 && x.size() != 4)
    c.unsupported("input " + shape_str(x) +
                  ": only 1-D and 2-D spatial inputs (rank 3 or 4) are supported");
  return x.size() - 2;
}

std::vector<int64_t> spatial_attr(NodeContext& c, const char* name, size_t dims, int64_t def,
                                  bool required) {
  std::vector<int64_t> v = c.attr_ints(name);
  if (v.empty()) {
    if (required) c.unsupported(std::string("needs ") + name);
    v.assign(dims, def);
  }
  if (v.size() != dims)
    c.unsupported(std::string(name) + " has " + std::to_string(v.size()) + " values for " +
                  std::to_string(dims) + " spatial axes");
  if (dims == 1) v.insert(v.begin(), def);
  return v;
}

std::vector<int64_t> spatial_pads(NodeContext& c, size_t dims) {
  std::vector<int64_t> p = c.attr_ints("pads");
  if (p.empty()) p.assign(2 * dims, 0);
  if (p.size() != 2 * dims)
    c.unsupported("pads has " + std::to_string(p.size()) + " values for " + std::to_string(dims) +
                  " spatial axes");
  for (int64_t v : p)
    if (v < 0) c.unsupported("negative pads are not supported");
  return dims == 1 ? std::vector<int64_t>{0, p[0], 0, p[1]} : p;
}

void same_pads(std::vector<int64_t>& pads, const Shape& in, const std::vector<int64_t>& ext,
               const std::vector<int64_t>& stride, bool upper) {
  for (size_t i = 0; i < 2; ++i) {
    const int64_t out = (in[i] + stride[i] - 1) / stride[i];
    const int64_t total = std::max<int64_t>(0, (out - 1) * stride[i] + ext[i] - in[i]);
    const int64_t small = total / 2;
    pads[i] = upper ? small : total - small, pads[2 + i] = upper ? total - small : small;
  }
}

ValueId to_2d_spatial(NodeContext& c, ValueId x) {
  Shape s = c.graph().shape(x);
  if (spatial_dims(c, s) == 2) return x;
  s.insert(s.begin() + 2, 1);
  return c.graph().reshape(x, s);
}

ValueId from_2d_spatial(NodeContext& c, ValueId y, size_t rank) {
  if (rank == 4) return y;
  Shape s = c.graph().shape(y);
  s.erase(s.begin() + 2);
  return c.graph().reshape(y, s);
}

}  // namespace rg::onnx
