// SPDX-License-Identifier: Apache-2.0
// The runtime's kernels and helpers against independent references: the
// transposed convolution and batch norm against direct float64 sums of their
// definitions, the latents against the engine's Philox sampler (exact), the
// quantisation against docs/contracts.md §5's formula. (Byte identity with the
// reference backend on a whole generator: tests/app/test_runtime_generate.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "apps/rng_streams.h"
#include "engine/rng/philox.h"
#include "runtime/rg_generate.h"
#include "runtime/rg_kernels.h"

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, bool with_zeros = false) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = with_zeros && i % 7 == 0 ? 0.0f : u(gen);
  return v;
}

rg_weights f32(const std::vector<float>& w) {
  return {w.data(), RG_WEIGHTS_F32};
}

rg_kernel_record conv_record(uint32_t n, uint32_t cx, uint32_t hx, uint32_t cy, uint32_t k,
                             uint32_t s, uint32_t p) {
  rg_kernel_record r{};
  r.op = RG_OP_CONV_TRANSPOSE2D;
  r.n = n, r.cx = cx, r.hx = hx, r.wx = hx + 1, r.cy = cy, r.kh = k, r.kw = k;
  r.stride_h = r.stride_w = s, r.pad_h = r.pad_w = p;
  r.hy = (r.hx - 1) * s - 2 * p + k, r.wy = (r.wx - 1) * s - 2 * p + k;
  return r;
}

// y[n, co, oy, ox] = sum over ci, ky, kx with oy = iy * s - p + ky (and alike for x) of x * w.
void check_conv_transpose(const rg_kernel_record& r) {
  const auto x = random_floats(size_t(r.n) * r.cx * r.hx * r.wx, 1);
  const auto w = random_floats(size_t(r.cx) * r.cy * r.kh * r.kw, 2, true);
  std::vector<float> y(size_t(r.n) * r.cy * r.hy * r.wy, 99.0f);
  std::vector<float> col(size_t(r.cy) * r.kh * r.kw * r.hx * r.wx);
  rg_conv_transpose2d(&r, x.data(), f32(w), y.data(), col.data());
  std::vector<double> ref(y.size(), 0.0);
  for (uint32_t n = 0; n < r.n; ++n)
    for (uint32_t ci = 0; ci < r.cx; ++ci)
      for (uint32_t iy = 0; iy < r.hx; ++iy)
        for (uint32_t ix = 0; ix < r.wx; ++ix)
          for (uint32_t co = 0; co < r.cy; ++co)
            for (uint32_t ky = 0; ky < r.kh; ++ky)
              for (uint32_t kx = 0; kx < r.kw; ++kx) {
                const int oy = int(iy * r.stride_h + ky) - int(r.pad_h),
                          ox = int(ix * r.stride_w + kx) - int(r.pad_w);
                if (oy < 0 || ox < 0 || oy >= int(r.hy) || ox >= int(r.wx * 0 + r.wy)) continue;
                ref[((size_t(n) * r.cy + co) * r.hy + size_t(oy)) * r.wy + size_t(ox)] +=
                    double(x[((size_t(n) * r.cx + ci) * r.hx + iy) * r.wx + ix]) *
                    double(w[((size_t(ci) * r.cy + co) * r.kh + ky) * r.kw + kx]);
              }
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(double(y[i]) - ref[i]));
  EXPECT_LT(worst, 1e-5) << "n " << r.n << " cx " << r.cx << " cy " << r.cy << " k " << r.kh
                         << " s " << r.stride_h;
}

TEST(RuntimeKernels, ConvTransposeIsItsDefinition) {
  check_conv_transpose(conv_record(2, 3, 4, 5, 4, 2, 1));  // the generator's upsampling blocks
  check_conv_transpose(conv_record(1, 4, 6, 3, 3, 1, 1));  // its last layer
  check_conv_transpose(
      conv_record(2, 8, 1, 6, 4, 1, 0));  // its first layer (1x1 latents; wx = 2 here)
}

TEST(RuntimeKernels, BatchNormIsItsDefinition) {
  rg_kernel_record r{};
  r.op = RG_OP_BATCH_NORM, r.n = 2, r.cx = 3, r.hx = 4, r.wx = 5, r.eps = 1e-5;
  const auto x = random_floats(120, 3);
  const std::vector<float> gamma{1.5f, -0.5f, 1.0f}, beta{0.1f, 0.0f, -0.2f},
      mean{0.2f, -0.1f, 0.0f}, var{0.5f, 2.0f, 1e-3f};
  std::vector<float> y(120);
  rg_batch_norm(&r, x.data(), f32(gamma), f32(beta), f32(mean), f32(var), y.data());
  for (size_t i = 0; i < 120; ++i) {
    const size_t c = (i / 20) % 3;
    const double ref =
        (double(x[i]) - mean[c]) / std::sqrt(double(var[c]) + 1e-5) * gamma[c] + beta[c];
    EXPECT_NEAR(y[i], ref, 1e-6 * std::max(1.0, std::abs(ref))) << i;
  }
}

TEST(RuntimeKernels, EpilogueAddsBiasThenTanhPerChannel) {
  rg_kernel_record r{};
  r.epilogue_count = 3;
  r.epilogue[0] = RG_EPI_ADD_CHANNEL, r.epilogue[1] = RG_EPI_RELU, r.epilogue[2] = RG_EPI_TANH;
  std::vector<float> y{-1.0f, 0.5f, 2.0f, -3.0f};  // [1, 2, 2]
  const std::vector<float> bias{0.75f, 1.0f};
  rg_epilogue(&r, y.data(), 1, 2, 2, f32(bias));
  EXPECT_EQ(y[0], 0.0f);  // relu(-0.25)
  EXPECT_EQ(y[1], std::tanh(1.25f));
  EXPECT_EQ(y[2], std::tanh(3.0f));
  EXPECT_EQ(y[3], 0.0f);  // relu(-2)
}

// bf16 weights widen exactly (the upper half of an f32), so a kernel on bf16
// weights equals the same kernel on f32 weights holding the widened values.
TEST(RuntimeKernels, Bf16WeightsWidenExactly) {
  const std::vector<uint16_t> h = {0x3f80, 0xc000, 0x3fc0, 0x0001, 0x8000};
  const rg_weights w{h.data(), RG_WEIGHTS_BF16};
  EXPECT_EQ(rg_weight(w, 0), 1.0f);
  EXPECT_EQ(rg_weight(w, 1), -2.0f);
  EXPECT_EQ(rg_weight(w, 2), 1.5f);
  EXPECT_EQ(rg_weight(w, 3), std::ldexp(1.0f, -133));  // bits 0x00010000, a denormal
  EXPECT_TRUE(std::signbit(rg_weight(w, 4)) && rg_weight(w, 4) == 0.0f);
  const rg_kernel_record r = conv_record(2, 3, 4, 5, 4, 2, 1);
  std::vector<uint16_t> wb(size_t(r.cx) * r.cy * r.kh * r.kw);
  std::vector<float> wf(wb.size());
  for (size_t i = 0; i < wb.size(); ++i) {
    wb[i] = uint16_t(0x3c00 + (i * 37) % 0x400) ^ (i % 3 ? 0 : 0x8000);
    wf[i] = rg_weight({wb.data(), RG_WEIGHTS_BF16}, i);
  }
  const auto x = random_floats(size_t(r.n) * r.cx * r.hx * r.wx, 4);
  std::vector<float> yb(size_t(r.n) * r.cy * r.hy * r.wy), yf(yb.size());
  std::vector<float> col(size_t(r.cy) * r.kh * r.kw * r.hx * r.wx);
  rg_conv_transpose2d(&r, x.data(), {wb.data(), RG_WEIGHTS_BF16}, yb.data(), col.data());
  rg_conv_transpose2d(&r, x.data(), f32(wf), yf.data(), col.data());
  EXPECT_EQ(yb, yf);
}

TEST(RuntimeHelpers, LatentsAreTheEnginesBitForBit) {
  for (uint64_t seed : {uint64_t(0), uint64_t(3), uint64_t(0x299f31d0a4093822ull)})
    for (uint64_t index : {uint64_t(0), uint64_t(1), uint64_t(70000), uint64_t(1) << 40}) {
      std::vector<float> ours(128), engine(128);
      ASSERT_EQ(rg_latent_vector(seed, RG_STREAM_GENERATION, index, ours.data(), ours.size()), 0);
      rg::latent_vector(seed, rg::streams::kGeneration, index, engine);
      EXPECT_EQ(ours, engine) << "seed " << seed << " index " << index;
    }
  static_assert(RG_STREAM_GENERATION == rg::streams::kGeneration);
  float z[6];
  EXPECT_EQ(rg_latent_vector(1, 0, 0, z, 6), -1);  // not a multiple of 4
  uint32_t words[4];
  rg_philox_words(0x299f31d0a4093822ull, 0x03707344u, 0x13198a2e85a308d3ull, 0x243f6a88u, words);
  EXPECT_EQ(words[0], 0xd16cfe09u);  // Random123's known answer (tests/engine/test_philox.cpp)
  EXPECT_EQ(words[3], 0x24126ea1u);
}

TEST(RuntimeHelpers, QuantisationIsTheContractsFormula) {
  // One 1x1 image, channels r, g, b planar -> interleaved.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::array<float, 3>> in = {
      {-1.0f, 0.0f, 1.0f}, {-2.0f, 2.0f, nan}, {-0.996f, 0.99607843f, 0.00392157f}};
  const std::vector<std::array<uint8_t, 3>> out = {{0, 128, 255}, {0, 255, 0}, {1, 255, 128}};
  for (size_t i = 0; i < in.size(); ++i) {
    uint8_t rgb[3];
    rg_quantize_image(in[i].data(), 1, rgb);
    for (int c = 0; c < 3; ++c) {
      const double x = in[i][size_t(c)];
      if (!std::isnan(x)) {
        EXPECT_EQ(rgb[c], uint8_t(std::clamp(std::floor((x + 1.0) * 127.5 + 0.5), 0.0, 255.0)));
      }
      EXPECT_EQ(rgb[c], out[i][size_t(c)]) << i << " " << c;
    }
  }
}

}  // namespace
