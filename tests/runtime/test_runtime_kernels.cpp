// SPDX-License-Identifier: Apache-2.0
// The runtime's kernels and helpers against independent references: every
// kernel against a direct float64 evaluation of its definition, the latents against the engine's Philox sampler (exact), the
// quantisation against docs/contracts.md §5's formula. (Byte identity with the
// reference backend on a whole generator: tests/app/test_runtime_generate.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "apps/rng_streams.h"
#include "engine/rng/philox.h"
#include "runtime/rg_generate.h"
#include "runtime/rg_kernels.h"
#include "runtime/rg_portable_math.h"

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, bool with_zeros = false) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = with_zeros && i % 7 == 0 ? 0.0f : u(gen);
  return v;
}

rg_typed f32(const std::vector<float>& w) {
  return {w.data(), RG_WEIGHTS_F32, nullptr, 1};
}

struct Conv {
  uint32_t n, cin, h, w, cout, kh, kw, groups, s, pad, d;
  uint32_t ho() const { return (h + 2 * pad - d * (kh - 1) - 1) / s + 1; }
  uint32_t wo() const { return (w + 2 * pad - d * (kw - 1) - 1) / s + 1; }
  // slab: im2col columns (conv2d) or rows (transposed) per pass; small ones
  // exercise the passes and the matrix product's edge tiles.
  std::array<uint32_t, RG_PLAN_PARAMS> params(uint32_t slab) const {
    std::array<uint32_t, RG_PLAN_PARAMS> p{};
    p[RG_P_CONV_SLAB] = slab;
    p[RG_P_CONV_N] = n, p[RG_P_CONV_CIN] = cin, p[RG_P_CONV_H] = h, p[RG_P_CONV_W] = w;
    p[RG_P_CONV_COUT] = cout, p[RG_P_CONV_HO] = ho(), p[RG_P_CONV_WO] = wo();
    p[RG_P_CONV_KH] = kh, p[RG_P_CONV_KW] = kw, p[RG_P_CONV_GROUPS] = groups;
    p[RG_P_CONV_SH] = p[RG_P_CONV_SW] = s, p[RG_P_CONV_PH] = p[RG_P_CONV_PW] = pad;
    p[RG_P_CONV_DH] = p[RG_P_CONV_DW] = d;
    return p;
  }
  size_t x_size() const { return size_t(n) * cin * h * w; }
  size_t y_size() const { return size_t(n) * cout * ho() * wo(); }
  size_t w_size() const { return size_t(cout) * (cin / groups) * kh * kw; }
  size_t rows() const { return size_t(cin / groups) * kh * kw; }
  size_t col_size() const { return rows() * ho() * wo(); }  // enough for any slab
  // f(n, ci, iy, ix, co, ky, kx, oy, ox) for every tap inside the input.
  template <typename F>
  void taps(F&& f) const {
    const uint32_t gin = cin / groups, gout = cout / groups;
    for (uint32_t b = 0; b < n; ++b)
      for (uint32_t co = 0; co < cout; ++co)
        for (uint32_t oy = 0; oy < ho(); ++oy)
          for (uint32_t ox = 0; ox < wo(); ++ox)
            for (uint32_t cl = 0; cl < gin; ++cl)
              for (uint32_t ky = 0; ky < kh; ++ky)
                for (uint32_t kx = 0; kx < kw; ++kx) {
                  const int iy = int(oy * s + ky * d) - int(pad), ix = int(ox * s + kx * d) - int(pad);
                  if (iy < 0 || ix < 0 || iy >= int(h) || ix >= int(w)) continue;
                  f(b, (co / gout) * gin + cl, uint32_t(iy), uint32_t(ix), co, cl, ky, kx, oy, ox);
                }
  }
};

// The weights as the runtime stores them (rg_plan_format.h RG_PLAN_PANEL):
// per group, A [M, K] in panels of 16 rows, k-major, rows past M zero;
// conv2d's A is W_g [gout, rows], the transposed convolution's W_g^T.
template <typename T>
std::vector<T> panels(const std::vector<T>& w, const Conv& c, bool forward) {
  const size_t gout = c.cout / c.groups, rows = c.rows(), M = forward ? gout : rows,
               K = forward ? rows : gout, per = (M + 15) / 16 * 16 * K;
  std::vector<T> a(per * c.groups, T(0));
  for (size_t g = 0; g < c.groups; ++g)
    for (size_t m = 0; m < M; ++m)
      for (size_t k = 0; k < K; ++k)
        a[g * per + m / 16 * K * 16 + k * 16 + m % 16] =
            w[g * gout * rows + (forward ? m * rows + k : k * rows + m)];
  return a;
}

double worst_difference(const std::vector<float>& y, const std::vector<double>& ref) {
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(double(y[i]) - ref[i]));
  return worst;
}

// y[b, co, oy, ox] = sum of x[b, ci, oy * s - p + ky * d, ...] * w[co, ci % gin, ky, kx].
void check_conv2d(const Conv& c, uint32_t slab) {
  const auto x = random_floats(c.x_size(), 1), w = random_floats(c.w_size(), 2, true);
  std::vector<float> y(c.y_size(), 99.0f), col(c.rows() * slab);
  const auto p = c.params(slab);
  const auto packed = panels(w, c, true);
  rg_conv2d(p.data(), x.data(), f32(packed), y.data(), col.data());
  std::vector<double> ref(y.size(), 0.0);
  c.taps([&](uint32_t b, uint32_t ci, uint32_t iy, uint32_t ix, uint32_t co, uint32_t cl, uint32_t ky,
             uint32_t kx, uint32_t oy, uint32_t ox) {
    ref[((size_t(b) * c.cout + co) * c.ho() + oy) * c.wo() + ox] +=
        double(x[((size_t(b) * c.cin + ci) * c.h + iy) * c.w + ix]) *
        double(w[((size_t(co) * (c.cin / c.groups) + cl) * c.kh + ky) * c.kw + kx]);
  });
  EXPECT_LT(worst_difference(y, ref), 1e-5) << "groups " << c.groups << " dilation " << c.d;
}

// The transposed convolution is conv2d's input gradient: each tap sends
// dy[b, co, oy, ox] * w back to x's position.
void check_conv_transpose(const Conv& c, uint32_t slab) {
  const auto dy = random_floats(c.y_size(), 3), w = random_floats(c.w_size(), 4, true);
  std::vector<float> dx(c.x_size(), 99.0f), col(slab * size_t(c.ho()) * c.wo());
  const auto p = c.params(slab);
  const auto packed = panels(w, c, false);
  rg_conv_transpose2d(p.data(), dy.data(), f32(packed), dx.data(), col.data());
  std::vector<double> ref(dx.size(), 0.0);
  c.taps([&](uint32_t b, uint32_t ci, uint32_t iy, uint32_t ix, uint32_t co, uint32_t cl, uint32_t ky,
             uint32_t kx, uint32_t oy, uint32_t ox) {
    ref[((size_t(b) * c.cin + ci) * c.h + iy) * c.w + ix] +=
        double(dy[((size_t(b) * c.cout + co) * c.ho() + oy) * c.wo() + ox]) *
        double(w[((size_t(co) * (c.cin / c.groups) + cl) * c.kh + ky) * c.kw + kx]);
  });
  EXPECT_LT(worst_difference(dx, ref), 1e-5) << "groups " << c.groups << " stride " << c.s;
}

TEST(RuntimeKernels, Conv2dIsItsDefinition) {
  check_conv2d({2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1}, 42);    // plain 3x3, one pass
  check_conv2d({2, 9, 9, 11, 6, 3, 3, 1, 1, 1, 1}, 37);   // 6 rows (4 + 2), columns 37 = 32 + 5
  check_conv2d({1, 4, 9, 8, 6, 3, 3, 2, 2, 1, 1}, 5);     // groups 2, stride 2
  check_conv2d({1, 4, 6, 6, 4, 3, 3, 4, 1, 1, 1}, 36);    // depthwise
  check_conv2d({1, 2, 9, 9, 3, 3, 3, 1, 1, 2, 2}, 7);     // dilation 2
  check_conv2d({2, 5, 4, 4, 3, 1, 1, 1, 1, 0, 1}, 16);    // 1x1
  check_conv2d({1, 6, 12, 12, 37, 3, 3, 1, 1, 1, 1}, 144); // 37 outputs: 2 panels + 5 rows
}

TEST(RuntimeKernels, ConvTransposeIsConv2dsInputGradient) {
  check_conv_transpose({2, 3, 8, 8, 5, 4, 4, 1, 2, 1, 1}, 48);   // the generator's upsampling blocks
  check_conv_transpose({2, 3, 34, 34, 5, 4, 4, 1, 2, 1, 1}, 16); // 17 x 17 columns, 3 slabs
  check_conv_transpose({1, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1}, 27);   // its last layer
  check_conv_transpose({2, 6, 4, 4, 8, 4, 4, 1, 1, 0, 1}, 32);   // its first layer (from 1x1), 3 slabs
  check_conv_transpose({1, 4, 7, 7, 6, 3, 3, 2, 2, 1, 1}, 18);   // groups
  check_conv_transpose({1, 40, 9, 9, 20, 3, 3, 1, 1, 1, 1}, 48); // 360 rows: panels, row tiles, tails
}

TEST(RuntimeKernels, BatchNormIsItsDefinition) {
  const uint32_t p[RG_PLAN_PARAMS] = {2, 3, 4, 5};
  const auto x = random_floats(120, 3);
  const std::vector<float> gamma{1.5f, -0.5f, 1.0f}, beta{0.1f, 0.0f, -0.2f},
      mean{0.2f, -0.1f, 0.0f}, var{0.5f, 2.0f, 1e-3f};
  std::vector<float> y(120);
  rg_batch_norm(p, 1e-5, x.data(), f32(gamma), f32(beta), f32(mean), f32(var), y.data());
  for (size_t i = 0; i < 120; ++i) {
    const size_t c = (i / 20) % 3;
    const double ref =
        (double(x[i]) - mean[c]) / std::sqrt(double(var[c]) + 1e-5) * gamma[c] + beta[c];
    EXPECT_NEAR(y[i], ref, 1e-6 * std::max(1.0, std::abs(ref))) << i;
  }
}

// 2 planes of 5x6, kernel 3, stride 2, padding 1: each output is the max or
// the mean of the window's taps inside the input (count_include_pad: over the
// whole window, padding included).
TEST(RuntimeKernels, PoolingIsItsDefinition) {
  const auto x = random_floats(60, 5);
  for (uint32_t max : {1u, 0u})
    for (uint32_t include_pad : {1u, 0u}) {
      uint32_t p[RG_PLAN_PARAMS] = {};
      p[RG_P_POOL_PLANES] = 2, p[RG_P_POOL_H] = 5, p[RG_P_POOL_W] = 6, p[RG_P_POOL_HO] = 3;
      p[RG_P_POOL_WO] = 3, p[RG_P_POOL_KH] = p[RG_P_POOL_KW] = 3, p[RG_P_POOL_SH] = p[RG_P_POOL_SW] = 2;
      p[RG_P_POOL_PH] = p[RG_P_POOL_PW] = p[RG_P_POOL_PH_END] = p[RG_P_POOL_PW_END] = 1;
      p[RG_P_POOL_DH] = p[RG_P_POOL_DW] = 1, p[RG_P_POOL_MAX] = max;
      p[RG_P_POOL_COUNT_INCLUDE_PAD] = include_pad;
      std::vector<float> y(18);
      rg_pool(p, x.data(), y.data());
      for (int plane = 0; plane < 2; ++plane)
        for (int oy = 0; oy < 3; ++oy)
          for (int ox = 0; ox < 3; ++ox) {
            double best = -HUGE_VAL, sum = 0;
            int n = 0;
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                if (iy < 0 || ix < 0 || iy >= 5 || ix >= 6) continue;
                const double v = x[size_t((plane * 5 + iy) * 6 + ix)];
                best = std::max(best, v), sum += v, ++n;
              }
            const double ref = max ? best : sum / (include_pad ? 9 : n);
            EXPECT_NEAR(y[size_t((plane * 3 + oy) * 3 + ox)], ref, 1e-6)
                << "max " << max << " at " << plane << "," << oy << "," << ox;
          }
    }
}

TEST(RuntimeKernels, MatMulIsItsDefinition) {
  // y[t] = a[t]^T @ b (b broadcast over the batch), a stored [k, m].
  const uint32_t batch = 2, M = 3, K = 5, N = 4;
  const auto a = random_floats(batch * K * M, 6), b = random_floats(K * N, 7);
  uint32_t p[RG_PLAN_PARAMS] = {};
  p[RG_P_MM_BATCH] = batch, p[RG_P_MM_M] = M, p[RG_P_MM_K] = K, p[RG_P_MM_N] = N;
  p[RG_P_MM_TA] = 1, p[RG_P_MM_A_STRIDE] = K * M;
  std::vector<float> y(batch * M * N);
  rg_matmul(p, f32(a), f32(b), y.data());
  for (uint32_t t = 0; t < batch; ++t)
    for (uint32_t i = 0; i < M; ++i)
      for (uint32_t j = 0; j < N; ++j) {
        double ref = 0;
        for (uint32_t k = 0; k < K; ++k) ref += double(a[t * K * M + k * M + i]) * b[k * N + j];
        EXPECT_NEAR(y[(t * M + i) * N + j], ref, 1e-6);
      }
}

TEST(RuntimeKernels, ReduceSoftmaxCopyAndFillAreTheirDefinitions) {
  // Mean over the last two axes of [2, 3, 4, 5] (a global average pool).
  const auto x = random_floats(120, 8);
  uint32_t p[RG_PLAN_PARAMS] = {};
  p[RG_P_RED_MEAN] = 1, p[RG_P_RED_RANK] = 4, p[RG_P_RED_IN] = 120, p[RG_P_RED_OUT] = 6;
  const uint32_t dims[] = {2, 3, 4, 5}, strides[] = {3, 1, 0, 0};
  std::copy(dims, dims + 4, p + RG_P_RED_DIMS);
  std::copy(strides, strides + 4, p + RG_P_RED_STRIDES);
  std::vector<double> acc(6);
  std::vector<float> m(6);
  rg_reduce(p, x.data(), acc.data(), m.data());
  for (size_t c = 0; c < 6; ++c) {
    double sum = 0;
    for (size_t i = 0; i < 20; ++i) sum += x[c * 20 + i];
    EXPECT_NEAR(m[c], sum / 20, 1e-6);
  }
  // Softmax and log_softmax along the middle axis of [2, 3, 4].
  for (uint32_t softmax : {1u, 0u}) {
    uint32_t q[RG_PLAN_PARAMS] = {8, 3, 4, softmax};
    std::vector<float> y(24);
    rg_softmax(q, x.data(), y.data());
    for (size_t b = 0; b < 2; ++b)
      for (size_t i = 0; i < 4; ++i) {
        double sum = 0;
        for (size_t k = 0; k < 3; ++k) sum += std::exp(double(x[b * 12 + k * 4 + i]));
        for (size_t k = 0; k < 3; ++k) {
          const double v = x[b * 12 + k * 4 + i];
          EXPECT_NEAR(y[b * 12 + k * 4 + i], softmax ? std::exp(v) / sum : v - std::log(sum), 1e-6);
        }
      }
  }
  // A transpose [2, 3] -> [3, 2], then a concat's slice: rows of 2 into rows of 5 at column 1.
  uint32_t c[RG_PLAN_PARAMS] = {};
  c[RG_P_COPY_RANK] = 2, c[RG_P_COPY_DIMS] = 3, c[RG_P_COPY_DIMS + 1] = 2;
  c[RG_P_COPY_SRC] = 1, c[RG_P_COPY_SRC + 1] = 3, c[RG_P_COPY_DST] = 2, c[RG_P_COPY_DST + 1] = 1;
  std::vector<float> t(6);
  rg_copy(c, f32(x), t.data());
  EXPECT_EQ(t, (std::vector<float>{x[0], x[3], x[1], x[4], x[2], x[5]}));
  c[RG_P_COPY_DIMS] = 3, c[RG_P_COPY_DIMS + 1] = 2, c[RG_P_COPY_SRC] = 2, c[RG_P_COPY_SRC + 1] = 1;
  c[RG_P_COPY_DST] = 5, c[RG_P_COPY_DST + 1] = 1;
  std::vector<float> cat(15, 7.0f);
  rg_copy(c, f32(x), cat.data() + 1);
  EXPECT_EQ(cat, (std::vector<float>{7, x[0], x[1], 7, 7, 7, x[2], x[3], 7, 7, 7, x[4], x[5], 7, 7}));
  uint32_t f[RG_PLAN_PARAMS] = {3};
  std::vector<float> filled(4, 1.0f);
  rg_fill(f, 0.1, filled.data());
  EXPECT_EQ(filled, (std::vector<float>{0.1f, 0.1f, 0.1f, 1.0f}));
}

// A chain: y = tanh(x + bias[c]) over [2, 3] with bias broadcast along the
// rows, and relu(y) * 2 stored as well (two stores, a constant).
TEST(RuntimeKernels, ChainRunsItsRegisterProgram) {
  rg_chain_record c{};
  c.rank = 2, c.dims[0] = 2, c.dims[1] = 3, c.n_loads = 2, c.n_stores = 2, c.n_regs = 6;
  c.loads[0] = {0, 1, {}, {}};
  c.loads[1] = {1, 0, {0, 1}, {}};
  c.n_consts = 2, c.consts[0] = {2, 0.0f}, c.consts[1] = {3, 2.0f};
  c.n_code = 4;
  c.code[0] = {RG_CHAIN_ADD, 0, 1, RG_CHAIN_NO_REG, 4, {}};
  c.code[1] = {RG_CHAIN_TANH, 4, RG_CHAIN_NO_REG, RG_CHAIN_NO_REG, 4, {}};
  c.code[2] = {RG_CHAIN_SELECT_POSITIVE, 4, 4, 2, 5, {}};
  c.code[3] = {RG_CHAIN_MUL, 5, 3, RG_CHAIN_NO_REG, 5, {}};
  c.stores[0].reg = 4, c.stores[1].reg = 5;
  const std::vector<float> x{-2.0f, -0.5f, 0.0f, 0.25f, 1.0f, 3.0f}, bias{0.1f, -0.2f, 0.3f};
  std::vector<float> y(6), z(6);
  rg_chain_operands o{};
  o.load[0] = f32(x), o.load[1] = f32(bias), o.store[0] = y.data(), o.store[1] = z.data();
  rg_chain(&c, &o);
  for (size_t i = 0; i < 6; ++i) {
    const float t = rg_tanhf(x[i] + bias[i % 3]);
    EXPECT_EQ(y[i], t) << i;
    EXPECT_EQ(z[i], (t > 0 ? t : 0.0f) * 2.0f) << i;
  }
}

// The portable tanh (the same bits on x86-64 and AArch64, unlike glibc's
// tanhf) is within one f32 ulp of tanh in double over a sweep of all floats,
// keeps the sign of zero and NaN, and saturates.
TEST(RuntimeKernels, PortableTanhIsWithinOneUlp) {
  int64_t off_by_one = 0;
  for (uint32_t bits = 0; bits < 0x7f800000u; bits += 4099) {
    float x;
    std::memcpy(&x, &bits, 4);
    for (float v : {x, -x}) {
      const float ours = rg_tanhf(v), ref = float(std::tanh(double(v)));
      int32_t a, b;
      std::memcpy(&a, &ours, 4);
      std::memcpy(&b, &ref, 4);
      ASSERT_LE(std::abs(int64_t(a) - int64_t(b)), 1) << v;
      off_by_one += a != b;
    }
  }
  EXPECT_LT(off_by_one, 100);  // rounding twice (double, then f32) rarely moves a result
  EXPECT_TRUE(std::signbit(rg_tanhf(-0.0f)) && rg_tanhf(-0.0f) == 0.0f);
  EXPECT_TRUE(std::isnan(rg_tanhf(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(rg_tanhf(1e30f), 1.0f);
  EXPECT_EQ(rg_tanhf(-std::numeric_limits<float>::infinity()), -1.0f);
}

// bf16 weights widen exactly (the upper half of an f32), so a kernel on bf16
// weights equals the same kernel on f32 weights holding the widened values.
TEST(RuntimeKernels, Bf16WeightsWidenExactly) {
  const std::vector<uint16_t> h = {0x3f80, 0xc000, 0x3fc0, 0x0001, 0x8000};
  const rg_typed w{h.data(), RG_WEIGHTS_BF16, nullptr, 1};
  EXPECT_EQ(rg_typed_at(w, 0), 1.0f);
  EXPECT_EQ(rg_typed_at(w, 1), -2.0f);
  EXPECT_EQ(rg_typed_at(w, 2), 1.5f);
  EXPECT_EQ(rg_typed_at(w, 3), std::ldexp(1.0f, -133));  // bits 0x00010000, a denormal
  EXPECT_TRUE(std::signbit(rg_typed_at(w, 4)) && rg_typed_at(w, 4) == 0.0f);
  const Conv c{2, 3, 8, 8, 5, 4, 4, 1, 2, 1, 1};
  std::vector<uint16_t> wb(c.w_size());
  std::vector<float> wf(wb.size());
  for (size_t i = 0; i < wb.size(); ++i) {
    wb[i] = uint16_t(0x3c00 + (i * 37) % 0x400) ^ (i % 3 ? 0 : 0x8000);
    wf[i] = rg_typed_at({wb.data(), RG_WEIGHTS_BF16, nullptr, 1}, i);
  }
  const auto dy = random_floats(c.y_size(), 4);
  std::vector<float> xb(c.x_size()), xf(xb.size()), col(c.col_size());
  const auto p = c.params(uint32_t(c.rows()));
  const auto pb = panels(wb, c, false);
  const auto pf = panels(wf, c, false);
  rg_conv_transpose2d(p.data(), dy.data(), {pb.data(), RG_WEIGHTS_BF16, nullptr, 1}, xb.data(), col.data());
  rg_conv_transpose2d(p.data(), dy.data(), f32(pf), xf.data(), col.data());
  EXPECT_EQ(xb, xf);
}

// int8 weights (per output channel) are dequantised as q * scale in f32, so a
// convolution on them equals the same convolution on f32 weights holding
// q * scale, bit for bit; both directions, with groups.
TEST(RuntimeKernels, Int8WeightsAreTheirScaledIntegers) {
  for (const bool forward : {true, false}) {
    const Conv c{2, 4, 9, 9, 6, 3, 3, 2, 2, 1, 1};
    const size_t channels = forward ? c.cout : c.cin, taps = c.kh * c.kw;
    std::vector<int8_t> q(c.w_size());
    std::vector<float> scale(channels), wf(q.size());
    for (size_t i = 0; i < channels; ++i) scale[i] = 0.01f * float(i + 1);
    const size_t gout = c.cout / c.groups, gin = c.cin / c.groups, rows = c.rows();
    for (size_t i = 0; i < q.size(); ++i) {
      q[i] = int8_t(int(i * 37 % 255) - 127);
      // The element's output channel: conv2d's row co; the transposed one's c in (c, i, j).
      const size_t g = i / (gout * rows), co = i / rows, r = i % rows;
      const size_t ch = forward ? co : g * gin + r / taps;
      wf[i] = float(q[i]) * scale[ch];
    }
    const auto pq = panels(q, c, forward);
    const auto pf = panels(wf, c, forward);
    const rg_typed wq{pq.data(), RG_WEIGHTS_INT8, scale.data(), 1};
    const auto in = random_floats(forward ? c.x_size() : c.y_size(), 5);
    std::vector<float> yq(forward ? c.y_size() : c.x_size()), yf(yq.size()), col(c.col_size());
    const auto p = c.params(forward ? 20 : 7);
    if (forward) {
      rg_conv2d(p.data(), in.data(), wq, yq.data(), col.data());
      rg_conv2d(p.data(), in.data(), f32(pf), yf.data(), col.data());
    } else {
      rg_conv_transpose2d(p.data(), in.data(), wq, yq.data(), col.data());
      rg_conv_transpose2d(p.data(), in.data(), f32(pf), yf.data(), col.data());
    }
    EXPECT_EQ(yq, yf) << (forward ? "conv2d" : "transposed");
  }
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
