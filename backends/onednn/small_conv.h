// SPDX-License-Identifier: Apache-2.0
// A direct convolution for layers with a few output channels: G's last layer
// (32 -> 3 channels at full resolution, run as a flipped forward convolution).
//
// oneDNN's JIT convolutions vectorise over output channels and pad them to a
// whole block (8 with AVX2, 16 with AVX-512), so a 3-channel output costs 2.7x
// or 5.3x its FLOPs plus a padded destination and a reorder (64 MiB at batch
// 64, 128 px). This kernel vectorises over 8 input channels instead, which the
// blocked and NHWC layouts store contiguously: one pass over the input, the
// output written once in its own layout.
#pragma once

#include <cstdint>

#include "backends/onednn/activation_layout.h"

namespace rg::onednn {

struct SmallConv {
  int64_t n, ci, h, w;       // input
  int64_t co, ho, wo;        // output
  int64_t kh, kw, sh, sw, ph, pw;
  Layout src_layout, dst_layout;
};

constexpr int64_t kSmallConvMaxOut = 4;

// Whether the kernel handles this convolution: at most kSmallConvMaxOut output
// channels and an input layout whose channels come in contiguous groups of 8.
bool small_conv_applies(const SmallConv& c);

// Floats of scratch small_conv_forward needs (its repacked weights).
int64_t small_conv_scratch_floats(const SmallConv& c);

// dst = conv2d(src, w) (+ bias[co] when bias is not null). w is OIHW
// [co, ci, kh, kw]; src and dst are in the given layouts. OpenMP over rows.
void small_conv_forward(const SmallConv& c, const float* src, const float* w, const float* bias, float* dst,
                        float* scratch);

}  // namespace rg::onednn
