// SPDX-License-Identifier: Apache-2.0
// What ONNX's convolutions and poolings share: 1-D ops run as 2-D ones of
// height 1, so their per-axis attributes, pads and inputs are brought to the
// 2-D form (height first) here, and auto_pad SAME_* computes its pads once.
#pragma once

#include <string>
#include <vector>

#include "frontends/onnx/onnx_importer.h"

namespace rg::onnx {

// The spatial axes of x: 1 or 2 (rank 3 or 4), else refused.
size_t spatial_dims(NodeContext& c, const Shape& x);
// A per-axis attribute (strides, dilations, kernel_shape, ...) in the 2-D
// form; `def` for each axis where absent (refused instead where `required`).
std::vector<int64_t> spatial_attr(NodeContext& c, const char* name, size_t dims, int64_t def,
                                  bool required = false);
// pads [begin..., end...] as {top, left, bottom, right}.
std::vector<int64_t> spatial_pads(NodeContext& c, size_t dims);
// auto_pad SAME_UPPER / SAME_LOWER: the pads that give out = ceil(in / stride)
// for kernel extents `ext` (SAME_UPPER puts the smaller half first).
void same_pads(std::vector<int64_t>& pads, const Shape& in, const std::vector<int64_t>& ext,
               const std::vector<int64_t>& stride, bool upper);
// x [N, C, L] as [N, C, 1, L]; 4-D as it is. And back to `rank`.
ValueId to_2d_spatial(NodeContext& c, ValueId x);
ValueId from_2d_spatial(NodeContext& c, ValueId y, size_t rank);

}  // namespace rg::onnx
