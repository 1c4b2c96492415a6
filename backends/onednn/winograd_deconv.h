// The generator's upsampling layer, a transposed convolution with a 4x4
// kernel, stride 2 and padding 1, computed with fewer multiplications than
// oneDNN's direct kernel.
//
// Each output pixel of such a layer sees 2x2 input pixels, and which 2x2 taps
// of the kernel it uses depends only on the parity of its row and column: the
// layer is four 2x2 stride-1 convolutions ("phases"), one per output parity,
// each writing every other row and column. Winograd's F(2x2, 2x2) computes a
// 2x2 block of one phase from a 3x3 input patch with 9 multiplications per
// channel pair instead of 16 (1.78x fewer). Its transforms use only 0 and +-1,
// so the result differs from the direct sum by a few f32 roundings
// (docs/cpu_backend.md, "Winograd transposed convolution").
//
// The multiplications are 36 GEMMs (4 phases x 9 points) per chunk of tiles,
// run by our own register-blocked micro-kernel on transformed weights packed
// once per weight update; a chunk's transformed input and products stay in
// the core's cache between the three stages (input transform, GEMMs, output
// transform).
#pragma once

#include <cstdint>

#include "backends/onednn/layout.h"

namespace rg::onednn {

// Which micro-kernel runs the GEMMs: AVX-512 (12x32 register tile) or AVX2 (6x16).
enum class WinogradIsa : uint8_t { avx2, avx512 };

struct WinogradDeconv {
  int64_t n, ci, h, w;  // input; the output is n x co x 2h x 2w
  int64_t co;
  Layout src_layout, dst_layout;
  WinogradIsa isa;
  int threads;  // OpenMP threads the forward pass uses (and scratch is sized for)
};

// Whether the kernel handles this layer: h and w even, ci a multiple of 8, co a
// multiple of the micro-kernel's width (32 on AVX-512, 16 on AVX2), src and
// dst channel-blocked or NHWC. The geometry (4x4, stride 2, padding 1, no
// output padding) is the caller's to check.
bool winograd_deconv_applies(const WinogradDeconv& c);

// Whether it is also faster than oneDNN's direct kernel: when the GEMMs
// dominate the transforms, i.e. ci * co / (ci + co) >= 40 (the transforms move
// 9 (ci + co) floats a tile through the cache for 18 ci co FLOPs). Measured
// per layer of the seed model at batch 64 (bench/RESULTS.md): faster from
// 128 -> 64 channels up, slower for 64 -> 32 at 64 -> 128 px.
bool winograd_deconv_pays(const WinogradDeconv& c);

// Floats of the transformed, packed weights (36 * ci * co).
int64_t winograd_weights_floats(const WinogradDeconv& c);
// Floats of per-thread scratch the forward pass needs (all threads).
int64_t winograd_scratch_floats(const WinogradDeconv& c);

// u = the transformed weights of w, a transposed convolution's [ci, co, 4, 4].
void winograd_transform_weights(const WinogradDeconv& c, const float* w, float* u);

// dst = conv_transpose2d(src, w, stride 2, padding 1) (+ bias[co] when not
// null), with u from winograd_transform_weights. src and dst in the layouts of c.
void winograd_deconv_forward(const WinogradDeconv& c, const float* src, const float* u,
                             const float* bias, float* dst, float* scratch);

}  // namespace rg::onednn
