// SPDX-License-Identifier: Apache-2.0
// The 4x4, stride-2, padding-1 convolutions of the seed's models, computed
// with fewer multiplications than oneDNN's direct kernels: the transposed
// ones (G's upsampling, D's input gradients), the strided ones (D's
// downsampling, G's input gradients) and the weight gradients of both.
//
// Each output pixel of such a layer sees 2x2 input pixels (transposed) or
// 4x4 of them in four 2x2 groups of one row and column parity (strided),
// and which taps meet which pixels depends only on parities: the layer is a
// sum of 2x2 stride-1 convolutions. Winograd's F(2x2, 2x2) computes a 2x2
// output block of one from a 3x3 input patch with 9 multiplications per
// channel pair instead of 16 (1.78x fewer). Its transforms use only 0 and +-1,
// so the result differs from the direct sum by a few f32 roundings
// (docs/cpu_backend.md, "Winograd convolutions").
//
// The multiplications are 9 GEMMs per group and chunk of tiles, run by our
// own register-blocked micro-kernel on transformed weights packed once per
// weight update; a chunk's transformed input and products stay in the core's
// cache between the three stages (input transform, GEMMs, output transform).
#pragma once

#include <cstdint>

#include "backends/onednn/activation_layout.h"
#include "backends/onednn/micro_gemm.h"

namespace rg::onednn {

// transposed: conv_transpose2d, output 2h x 2w, weights [ci, co, 4, 4];
// strided: conv2d, output h/2 x w/2, weights [co, ci, 4, 4].
enum class WinogradKind : uint8_t { transposed, strided };

struct WinogradConv {
  WinogradKind kind;
  int64_t n, ci, h, w;  // input
  int64_t co;
  Layout src_layout, dst_layout;
  MicroIsa isa;
  int threads;  // OpenMP threads the forward pass uses (and scratch is sized for)
};

// Whether the kernel handles this layer: whole 2x2 output blocks (transposed:
// h and w even; strided: multiples of 4), ci a multiple of 8, co a multiple
// of the micro-kernel's width (32 on AVX-512, 16 on AVX2), src and dst
// channel-blocked or NHWC. The geometry (4x4, stride 2, padding 1, output
// exactly 2x or 1/2x the input) is the caller's to check.
bool winograd_applies(const WinogradConv& c);

// Whether it is also faster than oneDNN's direct kernel: when the GEMMs
// dominate the transforms, i.e. ci * co / (ci + co) >= 40 for the transposed
// kind, >= 20 for the strided one (the transforms move 9 (ci + co) floats a
// tile through the cache for 18 ci co FLOPs). Measured per layer of the seed
// model at batch 64 (bench/RESULTS.md): transposed faster from 128 -> 64
// channels up, slower for 64 -> 32; strided faster from 32 -> 64 up, given an
// input of at least 16 x 16 or 512 channels (see winograd_conv.cpp).
bool winograd_pays(const WinogradConv& c);

// Floats of the transformed, packed weights (36 * ci * co).
int64_t winograd_weights_floats(const WinogradConv& c);
// Floats of per-thread scratch the forward pass needs (all threads).
int64_t winograd_scratch_floats(const WinogradConv& c);

// u = the transformed weights of w (the layout of the kind, see above).
void winograd_transform_weights(const WinogradConv& c, const float* w, float* u);

// dst = conv_transpose2d or conv2d(src, w, stride 2, padding 1) (+ bias[co]
// when not null), with u from winograd_transform_weights. src and dst in the
// layouts of c, of the element types given (f32 in the first form).
void winograd_run(const WinogradConv& c, const void* src, Elem src_elem, const float* u,
                  const float* bias, void* dst, Elem dst_elem, float* scratch);
inline void winograd_run(const WinogradConv& c, const float* src, const float* u, const float* bias,
                         float* dst, float* scratch) {
  winograd_run(c, src, Elem::f32, u, bias, dst, Elem::f32, scratch);
}

// The weight gradient of a strided layer, dw[co][ci][4][4] (+ nothing: dw
// is overwritten) from its input src and output gradient dy (layouts of c).
// This is every 4x4 stride-2 layer's weight gradient: a transposed layer's
// is that of the strided convolution from its output to its input (src = its
// output gradient, dy = its input). The 9 GEMMs per chunk of tiles reduce
// over the tiles (dw = sum over tiles of dM^T V per point), run by the same
// micro-kernels with A read transposed. Needs co % 8 == 0 (not a multiple of
// the micro-kernel's width).
bool winograd_weight_gradient_applies(const WinogradConv& c);
// Whether it is faster than oneDNN's backward-weights kernel (measured per
// layer of the seed model, see winograd_conv.cpp).
bool winograd_weight_gradient_pays(const WinogradConv& c);
// Floats of scratch it needs (shared by the threads): the 9 x co x 4 ci
// transformed-weight gradient and one chunk's transformed src and dy.
int64_t winograd_weight_gradient_scratch_floats(const WinogradConv& c);
void winograd_weight_gradient(const WinogradConv& c, const void* src, Elem src_elem, const void* dy,
                              Elem dy_elem, float* dw, float* scratch);
inline void winograd_weight_gradient(const WinogradConv& c, const float* src, const float* dy,
                                     float* dw, float* scratch) {
  winograd_weight_gradient(c, src, Elem::f32, dy, Elem::f32, dw, scratch);
}

}  // namespace rg::onednn
