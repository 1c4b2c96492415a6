// The geometry of the conv2d that a convolution-family node is, or is the
// gradient of: one struct and one derivation for every backend (the reference
// im2col kernels, oneDNN's primitive descriptors, cuDNN's descriptors).
#pragma once

#include <cstdint>

#include "graph/graph.h"

namespace rg {

struct ConvGeometry {
  ValueId in = kNoValue, out = kNoValue;  // the values holding the conv2d's input x and output y
  int64_t n = 0, c_in = 0, h = 0, w = 0;  // x [n, c_in, h, w]
  int64_t c_out = 0, ho = 0, wo = 0;      // y [n, c_out, ho, wo]
  int64_t kh = 0,
          kw = 0;  // weights [c_out, c_in, kh, kw] (conv_transpose2d's as PyTorch stores them)
  int sh = 1, sw = 1, ph = 0, pw = 0;  // stride; padding at the top and left

  // Padding at the bottom and right that makes the output size exact
  // (conv_transpose2d's output_padding shows up here).
  int64_t pad_bottom() const { return (ho - 1) * sh + kh - h - ph; }
  int64_t pad_right() const { return (wo - 1) * sw + kw - w - pw; }
  Shape weight_shape() const { return {c_out, c_in, kh, kw}; }
  int64_t flops() const { return 2 * n * c_out * ho * wo * c_in * kh * kw; }  // 2 * MACs
  int64_t col_rows() const { return c_in * kh * kw; }                         // im2col
  int64_t col_cols() const { return ho * wo; }
};

// For kConv2d (x, w) -> y, kConvTranspose2d (conv2d's backward-data: its input
// is the conv's y, its output the conv's x) and kConv2dBackwardWeight (x, dy) -> dw.
ConvGeometry conv_geometry(const Graph& g, const Node& n);

bool is_convolution(OpKind k);

}  // namespace rg
