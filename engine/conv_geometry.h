// SPDX-License-Identifier: Apache-2.0
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
  // Weights [c_out, c_in / groups, kh, kw] (conv_transpose2d's as PyTorch
  // stores them: the same array); each group of c_in / groups input channels
  // makes its c_out / groups output channels.
  int64_t kh = 0, kw = 0;
  int64_t groups = 1;
  int sh = 1, sw = 1, ph = 0, pw = 0;  // stride; padding at the top and left
  int dh = 1, dw = 1;                  // dilation

  // The kernel's extent with its dilation.
  int64_t extent_h() const { return (kh - 1) * dh + 1; }
  int64_t extent_w() const { return (kw - 1) * dw + 1; }
  // Padding at the bottom and right that makes the output size exact
  // (conv_transpose2d's output_padding shows up here).
  int64_t pad_bottom() const { return (ho - 1) * sh + extent_h() - h - ph; }
  int64_t pad_right() const { return (wo - 1) * sw + extent_w() - w - pw; }
  int64_t group_in() const { return c_in / groups; }
  int64_t group_out() const { return c_out / groups; }
  Shape weight_shape() const { return {c_out, group_in(), kh, kw}; }
  int64_t flops() const { return 2 * n * c_out * ho * wo * group_in() * kh * kw; }  // 2 * MACs
  int64_t col_rows() const { return group_in() * kh * kw; }                         // im2col, per group
  int64_t col_cols() const { return ho * wo; }
  // No groups, no dilation: what the kernels specialised for the models'
  // layers (Winograd, small_conv, flipped deconvolutions) require.
  bool plain() const { return groups == 1 && dh == 1 && dw == 1; }
  // Whether padding ph (pw) on both sides gives this output size: what an API
  // with one padding per axis (cuDNN's convolution descriptor) can express.
  // ONNX's asymmetric pads may not be.
  bool one_padding_per_axis() const {
    return (h + 2 * ph - extent_h()) / sh + 1 == ho && (w + 2 * pw - extent_w()) / sw + 1 == wo;
  }
};

// For kConv2d (x, w) -> y, kConvTranspose2d (conv2d's backward-data: its input
// is the conv's y, its output the conv's x) and kConv2dBackwardWeight (x, dy) -> dw.
ConvGeometry conv_geometry(const Graph& g, const Node& n);

bool is_convolution(OpKind k);

}  // namespace rg
