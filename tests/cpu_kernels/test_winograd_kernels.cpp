// SPDX-License-Identifier: Apache-2.0
// Our own CPU kernels of the oneDNN backend called directly, without oneDNN
// (label unit: the sanitizer preset runs them too): both Winograd GEMM
// micro-kernels (AVX2 on any machine this project builds for, AVX-512 where
// the CPU has it) in the forward pass of both kinds and in the weight
// gradient, against the sums computed in double. Graph-level checks of the
// same kernels against the reference backend are in tests/onednn.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "backends/onednn/winograd_conv.h"

namespace rg {
namespace {
using onednn::Layout;
using onednn::MicroIsa;

// The AVX2 micro-kernel runs on any machine this project builds for; the
// AVX-512 ones where the CPU has AVX-512 (the bf16 one emulated with FMAs
// where it lacks AVX512_BF16).
std::vector<MicroIsa> micro_isas_here() {
  std::vector<MicroIsa> isas = {MicroIsa::avx2};
  if (__builtin_cpu_supports("avx512f")) {
    isas.push_back(MicroIsa::avx512);
    isas.push_back(MicroIsa::avx512_bf16);
    if (!onednn::cpu_has_avx512_bf16())
      std::cout << "[   NOTE   ] no AVX512_BF16 on this CPU: the bf16 micro-kernel runs emulated\n";
  } else {
    std::cout << "[   NOTE   ] no AVX-512 on this CPU: only the AVX2 micro-kernel is checked\n";
  }
  return isas;
}

// bf16 operands: data whose Winograd transforms are exact in bf16 (small
// integers: the transformed input and weights are sums of at most four of
// them), so every product and sum is exact and the result must equal the
// direct sum exactly; f32: normal values.
float draw(std::mt19937& rng, bool integer, float scale) {
  std::normal_distribution<float> nd;
  return integer ? std::clamp(std::round(2 * nd(rng)), -4.f, 4.f) : scale * nd(rng);
}

// Element (n, c, y, x) of a C x H x W tensor in layout l.
int64_t element_at(Layout l, int64_t C, int64_t H, int64_t W, int64_t n, int64_t c, int64_t y,
                   int64_t x) {
  const int64_t B = onednn::block_of(l);
  return B ? (((n * (C / B) + c / B) * H + y) * W + x) * B + c % B : ((n * H + y) * W + x) * C + c;
}
}  // namespace
}  // namespace rg

namespace rg {
namespace {
// Both micro-kernels of the Winograd convolutions (the AVX2 one runs on any
// machine this project builds for; the AVX-512 one where the CPU has it),
// called directly for both kinds, against the convolution summed in double:
// every layout pair, odd tile counts (rows of the last chunk that pad the
// micro-kernel), several chunks a group, several input-channel passes
// (K > 256) and a bias.
TEST(WinogradKernels, BothMicroKernelsMatchTheDirectSumInDouble) {
  using namespace onednn;
  const std::vector<MicroIsa> isas = micro_isas_here();
  struct Case {
    WinogradKind kind;
    int64_t n, ci, h, w, co;
    Layout src, dst;
  };
  constexpr WinogradKind T = WinogradKind::transposed, S = WinogradKind::strided;
  const std::vector<Case> cases = {
      {T, 3, 8, 2, 6, 32, Layout::nhwc, Layout::nhwc},
      {T, 1, 272, 4, 4, 64, Layout::blk16, Layout::blk16},
      {T, 5, 32, 6, 2, 32, Layout::blk8, Layout::nhwc},
      {T, 2, 48, 10, 8, 96, Layout::nhwc, Layout::blk8},
      {T, 3, 8, 34, 30, 32, Layout::blk8, Layout::blk16},  // 765 tiles a phase: 2 chunks
      {S, 3, 8, 4, 12, 32, Layout::nhwc, Layout::blk16},
      {S, 2, 72, 8, 8, 64, Layout::blk8, Layout::nhwc},     // K = 288: two passes
      {S, 4, 16, 64, 60, 32, Layout::blk16, Layout::blk8},  // 960 tiles: 2 chunks
  };
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  for (MicroIsa isa : isas)
    for (const Case& k : cases) {
      const bool tr = k.kind == T;
      const WinogradConv c{k.kind, k.n, k.ci, k.h, k.w, k.co, k.src, k.dst, isa, 2};
      ASSERT_TRUE(winograd_applies(c));
      const int64_t ho = tr ? 2 * k.h : k.h / 2, wo = tr ? 2 * k.w : k.w / 2;
      std::vector<float> src(size_t(k.n * k.ci * k.h * k.w)), w(size_t(k.ci * k.co * 16)),
          bias(size_t(k.co));
      const bool exact = isa == MicroIsa::avx512_bf16;
      for (float& e : src) e = draw(rng, exact, 1.f);
      for (float& e : w) e = draw(rng, exact, 0.1f);
      for (float& e : bias) e = draw(rng, exact, 1.f);
      std::vector<float> u(size_t(winograd_weights_floats(c))),
          scratch(size_t(winograd_scratch_floats(c)));
      std::vector<float> dst(size_t(k.n * k.co * ho * wo), std::nanf(""));
      winograd_transform_weights(c, w.data(), u.data());
      winograd_run(c, src.data(), u.data(), bias.data(), dst.data(), scratch.data());
      double worst = 0;
      for (int64_t n = 0; n < k.n; ++n)
        for (int64_t o = 0; o < k.co; ++o)
          for (int64_t oy = 0; oy < ho; ++oy)
            for (int64_t ox = 0; ox < wo; ++ox) {
              double sum = bias[size_t(o)], mag = std::fabs(sum);
              for (int64_t i = 0; i < k.ci; ++i)
                for (int ky = 0; ky < 4; ++ky)
                  for (int kx = 0; kx < 4; ++kx) {
                    // Transposed: output = 2 * input - 1 + tap; strided: input = 2 * output - 1 +
                    // tap.
                    int64_t iy = 2 * oy - 1 + ky, ix = 2 * ox - 1 + kx;
                    if (tr) {
                      iy = oy + 1 - ky, ix = ox + 1 - kx;
                      if (iy % 2 || ix % 2) continue;
                      iy /= 2, ix /= 2;
                    }
                    if (iy < 0 || ix < 0 || iy >= k.h || ix >= k.w) continue;
                    const float wt = tr ? w[size_t(((i * k.co + o) * 4 + ky) * 4 + kx)]
                                        : w[size_t(((o * k.ci + i) * 4 + ky) * 4 + kx)];
                    const double p =
                        double(src[size_t(element_at(k.src, k.ci, k.h, k.w, n, i, iy, ix))]) * wt;
                    sum += p, mag += std::fabs(p);
                  }
              const double got = dst[size_t(element_at(k.dst, k.co, ho, wo, n, o, oy, ox))];
              // A few f32 roundings of the terms' magnitudes (the transforms add and subtract
              // them); bf16 on exact data: none.
              worst = std::max(worst, exact ? (got == sum ? 0.0 : 1e30)
                                            : std::fabs(got - sum) / (mag * 1e-6 + 1e-30));
            }
      EXPECT_LT(worst, 4.0) << onednn::micro_isa_name(isa) << " "
                            << (tr ? "transposed " : "strided ") << k.n << "x" << k.ci << "x" << k.h
                            << "x" << k.w << " -> " << k.co << ": error / (1e-6 * sum of |terms|)";
    }
}
}  // namespace
}  // namespace rg

namespace rg {
namespace {
// The Winograd weight gradient (winograd_weight_gradient) called directly on
// both micro-kernels against the gradient summed in double: every layout
// pair, output channels that leave a short last row block (8, 40: not
// multiples of 12 or 6), K > 256, several chunks of tiles with a short last
// pass; the result must not depend on the thread count (bit for bit), and
// every weight must be written.
TEST(WinogradKernels, WeightGradientMatchesTheDirectSumInDouble) {
  using namespace onednn;
  const std::vector<MicroIsa> isas = micro_isas_here();
  struct Case {
    int64_t n, ci, h, w, co;
    Layout src, dst;
  };
  const std::vector<Case> cases = {
      {3, 8, 4, 12, 32, Layout::nhwc, Layout::blk16},
      {2, 72, 8, 8, 40, Layout::blk8, Layout::nhwc},    // K = 288; rows 12 + 12 + 12 + 4
      {1, 16, 8, 4, 8, Layout::blk16, Layout::blk8},    // one short row block
      {5, 8, 64, 56, 16, Layout::blk8, Layout::blk16},  // 1120 tiles: 2 chunks of 560
      {2, 24, 12, 16, 24, Layout::nhwc, Layout::nhwc},
  };
  std::mt19937 rng(13);
  std::normal_distribution<float> nd;
  for (MicroIsa isa : isas)
    for (const Case& k : cases) {
      const std::string name = std::string(onednn::micro_isa_name(isa)) + " " +
                               std::to_string(k.n) + "x" + std::to_string(k.ci) + "x" +
                               std::to_string(k.h) + "x" + std::to_string(k.w) + " -> " +
                               std::to_string(k.co);
      const int64_t ho = k.h / 2, wo = k.w / 2;
      std::vector<float> src(size_t(k.n * k.ci * k.h * k.w)), dy(size_t(k.n * k.co * ho * wo));
      const bool exact = isa == MicroIsa::avx512_bf16;
      for (float& e : src) e = draw(rng, exact, 1.f);
      for (float& e : dy) e = draw(rng, exact, 1.f);
      std::vector<float> dw[2];
      for (int threads : {1, 2}) {
        const WinogradConv c{
            WinogradKind::strided, k.n, k.ci, k.h, k.w, k.co, k.src, k.dst, isa, threads};
        ASSERT_TRUE(winograd_weight_gradient_applies(c)) << name;
        std::vector<float> scratch(size_t(winograd_weight_gradient_scratch_floats(c)),
                                   std::nanf(""));
        dw[threads - 1].assign(size_t(k.co * k.ci * 16), std::nanf(""));
        winograd_weight_gradient(c, src.data(), dy.data(), dw[threads - 1].data(), scratch.data());
      }
      EXPECT_EQ(0, std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)))
          << name << ": 1 and 2 threads differ";
      double worst = 0;
      for (int64_t o = 0; o < k.co; ++o)
        for (int64_t i = 0; i < k.ci; ++i)
          for (int ky = 0; ky < 4; ++ky)
            for (int kx = 0; kx < 4; ++kx) {
              double sum = 0, mag = 0;
              for (int64_t n = 0; n < k.n; ++n)
                for (int64_t oy = 0; oy < ho; ++oy)
                  for (int64_t ox = 0; ox < wo; ++ox) {
                    const int64_t iy = 2 * oy - 1 + ky, ix = 2 * ox - 1 + kx;
                    if (iy < 0 || ix < 0 || iy >= k.h || ix >= k.w) continue;
                    const double p =
                        double(src[size_t(element_at(k.src, k.ci, k.h, k.w, n, i, iy, ix))]) *
                        dy[size_t(element_at(k.dst, k.co, ho, wo, n, o, oy, ox))];
                    sum += p, mag += std::fabs(p);
                  }
              const double got = dw[1][size_t(((o * k.ci + i) * 4 + ky) * 4 + kx)];
              // NaN (an unwritten weight) fails the comparison below.
              const double e =
                  exact ? (got == sum ? 0.0 : 1e30) : std::fabs(got - sum) / (mag * 1e-6 + 1e-30);
              worst = std::isnan(got) ? 1e30 : std::max(worst, e);
            }
      // Sums over up to 1120 tiles: a few f32 roundings of the running sum's magnitude per term.
      EXPECT_LT(worst, 8.0) << name << ": error / (1e-6 * sum of |terms|)";
    }
}
}  // namespace
}  // namespace rg

namespace rg {
namespace {
// vdpbf16ps against its emulation (two FMAs a pair, odd element first) on
// random bf16 operands, both A orders: bit for bit (no denormals here).
TEST(WinogradKernels, Bf16MicroKernelEqualsItsEmulation) {
  if (!onednn::cpu_has_avx512_bf16())
    GTEST_SKIP() << "no AVX512_BF16 on this CPU: nothing to compare the emulation with";
  std::mt19937 rng(17);
  std::normal_distribution<float> nd;
  auto bf16 = [&] {
    const float f = nd(rng);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return uint16_t(u >> 16);
  };
  const int64_t kp = 37, lda = 2 * kp + 6, ldb = 64 + 8, ldc = 40;
  std::vector<uint16_t> a(size_t(std::max(12 * lda, kp * lda + 24))), b(size_t(kp * ldb));
  for (auto& e : a) e = bf16();
  for (auto& e : b) e = bf16();
  for (bool transposed : {false, true}) {
    std::vector<float> hw(size_t(12 * ldc), 0.5f), emu = hw;
    if (transposed) {
      onednn::micro_avx512_bf16<12, true>(kp, a.data(), lda, b.data(), ldb, hw.data(), ldc, true);
      onednn::micro_avx512_bf16_emulated<12, true>(kp, a.data(), lda, b.data(), ldb, emu.data(),
                                                   ldc, true);
    } else {
      onednn::micro_avx512_bf16<12, false>(kp, a.data(), lda, b.data(), ldb, hw.data(), ldc, true);
      onednn::micro_avx512_bf16_emulated<12, false>(kp, a.data(), lda, b.data(), ldb, emu.data(),
                                                    ldc, true);
    }
    for (int r = 0; r < 12; ++r)
      for (int j = 0; j < 32; ++j)
        ASSERT_EQ(hw[size_t(r * ldc + j)], emu[size_t(r * ldc + j)])
            << "row " << r << " column " << j << (transposed ? " (A transposed)" : "");
  }
}
}  // namespace
}  // namespace rg
