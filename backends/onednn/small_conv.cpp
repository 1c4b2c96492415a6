// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/small_conv.h"

#include <algorithm>
#include <vector>

#include "backends/onednn/channel_groups.h"

namespace rg::onednn {
namespace {

constexpr int64_t kLanes = kGroupLanes;  // input channels per vector

// The input's channel groups (channel_groups.h), their offsets precomputed:
// no division in the inner loops.
struct InputAddress : ChannelGroupAddress {
  std::vector<int64_t> offsets;  // group(g) for every g
  explicit InputAddress(const SmallConv& c) : ChannelGroupAddress(c.src_layout, c.ci, c.h, c.w) {
    for (int64_t g = 0; g < c.ci / kLanes; ++g) offsets.push_back(group(g));
  }
};

// Output pixels (n, y, x0 .. x0 + PX - 1) of one row: PX pixels share each
// weight load (PX = 4 in a row's interior, where every tap is inside the
// input; 1 at the edges, with per-tap bounds checks).
template <int CO, int PX>
inline void pixels(const SmallConv& c, const InputAddress& in, const float* src, const float* wt, const float* bias,
                   float* dst, int64_t n, int64_t y, int64_t x0) {
  const int64_t groups = c.ci / kLanes;
  const int64_t* goff = in.offsets.data();
  V8 acc[PX][CO];
  for (int p = 0; p < PX; ++p)
    for (int o = 0; o < CO; ++o) acc[p][o] = V8{};
  for (int64_t ky = 0; ky < c.kh; ++ky) {
    const int64_t iy = y * c.sh - c.ph + ky;
    if (iy < 0 || iy >= c.h) continue;
    for (int64_t kx = 0; kx < c.kw; ++kx) {
      const int64_t ix = x0 * c.sw - c.pw + kx;
      if (PX == 1 && (ix < 0 || ix >= c.w)) continue;
      const float* wp = wt + (ky * c.kw + kx) * groups * CO * kLanes;
      const float* ip = src + in.at(n, iy, ix);
      const int64_t step = c.sw * in.pixel;
      for (int64_t g = 0; g < groups; ++g) {
        const float* wg = wp + g * CO * kLanes;
        V8 w[CO];
        for (int o = 0; o < CO; ++o) w[o] = load8(wg + o * kLanes);
        for (int p = 0; p < PX; ++p) {
          const V8 v = load8(ip + goff[g] + p * step);
          for (int o = 0; o < CO; ++o) acc[p][o] += v * w[o];
        }
      }
    }
  }
  const bool nhwc_out = c.dst_layout == Layout::nhwc;
  for (int p = 0; p < PX; ++p)
    for (int o = 0; o < CO; ++o) {
      float s = bias ? bias[o] : 0.f;
      for (int l = 0; l < int(kLanes); ++l) s += acc[p][o][l];
      const int64_t x = x0 + p;
      dst[nhwc_out ? ((n * c.ho + y) * c.wo + x) * CO + o : ((n * CO + o) * c.ho + y) * c.wo + x] = s;
    }
}

template <int CO>
void run(const SmallConv& c, const float* src, const float* wt, const float* bias, float* dst) {
  const InputAddress in(c);
  // The interior: output columns whose every tap lies inside the input.
  const int64_t lo = std::min(c.wo, (c.pw + c.sw - 1) / c.sw);
  int64_t hi = lo;
  while (hi < c.wo && hi * c.sw - c.pw + c.kw - 1 < c.w) ++hi;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t y = 0; y < c.ho; ++y) {
      int64_t x = 0;
      for (; x < lo; ++x) pixels<CO, 1>(c, in, src, wt, bias, dst, n, y, x);
      for (; x + 4 <= hi; x += 4) pixels<CO, 4>(c, in, src, wt, bias, dst, n, y, x);
      for (; x < c.wo; ++x) pixels<CO, 1>(c, in, src, wt, bias, dst, n, y, x);
    }
}

}  // namespace

bool small_conv_applies(const SmallConv& c) {
  const bool src_ok = (block_of(c.src_layout) && c.ci % block_of(c.src_layout) == 0) ||
                      (c.src_layout == Layout::nhwc && c.ci % kLanes == 0);
  const bool dst_ok = c.dst_layout == Layout::nhwc || c.dst_layout == Layout::plain;
  return c.co >= 1 && c.co <= kSmallConvMaxOut && c.ci % kLanes == 0 && src_ok && dst_ok;
}

int64_t small_conv_scratch_floats(const SmallConv& c) { return c.kh * c.kw * c.ci * c.co; }

void small_conv_forward(const SmallConv& c, const float* src, const float* w, const float* bias, float* dst,
                        float* scratch) {
  // Weights as [ky][kx][group of 8 input channels][co][lane]: the inner loop reads them contiguously.
  const int64_t groups = c.ci / kLanes;
  for (int64_t o = 0; o < c.co; ++o)
    for (int64_t i = 0; i < c.ci; ++i)
      for (int64_t ky = 0; ky < c.kh; ++ky)
        for (int64_t kx = 0; kx < c.kw; ++kx)
          scratch[(((ky * c.kw + kx) * groups + i / kLanes) * c.co + o) * kLanes + i % kLanes] =
              w[((o * c.ci + i) * c.kh + ky) * c.kw + kx];
  switch (c.co) {
    case 1: run<1>(c, src, scratch, bias, dst); break;
    case 2: run<2>(c, src, scratch, bias, dst); break;
    case 3: run<3>(c, src, scratch, bias, dst); break;
    default: run<4>(c, src, scratch, bias, dst); break;
  }
}

}  // namespace rg::onednn
