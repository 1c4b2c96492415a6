// SPDX-License-Identifier: Apache-2.0
// What our own CPU kernels (small_conv.cpp, winograd_conv.cpp) share: they
// vectorise over groups of 8 consecutive channels, which are contiguous in
// every activation layout they accept (nChw8c, nChw16c, NHWC; 8 divides both
// blocks), and read and write them as one 8-float vector.
#pragma once

#include <cstdint>
#include <cstring>

#include "backends/onednn/activation_layout.h"

namespace rg::onednn {

constexpr int64_t kGroupLanes = 8;  // channels per group

// Eight floats in one vector register (AVX2's width; two per AVX-512 block of 16).
typedef float V8 __attribute__((vector_size(32)));

inline V8 load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, V8 v) {
  std::memcpy(p, &v, sizeof v);
}

// f32 -> bf16 bits, rounding to nearest even (as vcvtneps2bf16; a NaN stays
// a NaN).
typedef uint32_t U8 __attribute__((vector_size(32)));
typedef uint16_t H8 __attribute__((vector_size(16)));
inline U8 bf16_high_bits(V8 x) {
  U8 u;
  std::memcpy(&u, &x, sizeof u);
  const U8 rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const U8 nan = (u & 0x7fffffffu) > 0x7f800000u;  // all ones where x is a NaN
  return (rounded & ~nan) | (((u >> 16) | 0x40u) & nan);
}
inline H8 to_bf16(V8 x) {
  return __builtin_convertvector(bf16_high_bits(x), H8);
}

// Eight consecutive channels of an activation stored as f32 (float) or bf16
// (uint16_t, the plan's bf16 activations): widened exactly on load, rounded to
// nearest even on store.
inline V8 load_act(const float* p) {
  return load8(p);
}
inline V8 load_act(const uint16_t* p) {
  H8 h;
  std::memcpy(&h, p, sizeof h);
  const U8 u = __builtin_convertvector(h, U8) << 16;
  V8 v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}
inline void store_act(float* p, V8 v) {
  store8(p, v);
}
inline void store_act(uint16_t* p, V8 v) {
  const H8 h = to_bf16(v);
  std::memcpy(p, &h, sizeof h);
}
// A run of n values (the elementwise programs' chunks), widened or rounded.
inline void widen_run(const uint16_t* h, float* f, int64_t n) {
  int64_t i = 0;
  for (; i + kGroupLanes <= n; i += kGroupLanes) store8(f + i, load_act(h + i));
  for (; i < n; ++i) {
    const uint32_t u = uint32_t(h[i]) << 16;
    std::memcpy(f + i, &u, sizeof u);
  }
}
inline void narrow_run(const float* f, uint16_t* h, int64_t n) {
  int64_t i = 0;
  for (; i + kGroupLanes <= n; i += kGroupLanes) store_act(h + i, load8(f + i));
  for (; i < n; ++i) h[i] = to_bf16(V8{f[i]})[0];
}

// Where channels 8g .. 8g + 7 of pixel (n, y, x) of a c x h x w tensor in a
// blocked layout or NHWC start: at(n, y, x) + group(g). Pixels are `pixel`
// floats apart (the block, or c for NHWC).
struct ChannelGroupAddress {
  int64_t image, pixel, w, block, block_stride;
  ChannelGroupAddress(Layout l, int64_t c, int64_t h, int64_t w_)
      : image(c * h * w_),
        pixel(block_of(l) ? block_of(l) : c),
        w(w_),
        block(block_of(l)),
        block_stride(h * w_ * block_of(l)) {}
  int64_t group(int64_t g) const {
    const int64_t ch = g * kGroupLanes;
    return block ? (ch / block) * block_stride + ch % block : ch;
  }
  int64_t at(int64_t n, int64_t y, int64_t x) const { return n * image + (y * w + x) * pixel; }
};

}  // namespace rg::onednn
