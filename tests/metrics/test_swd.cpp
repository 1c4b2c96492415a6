// SPDX-License-Identifier: Apache-2.0
// ProGAN's sliced Wasserstein distance: zero for identical sets, monotone in noise.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "apps/metrics/swd.h"

namespace rg::metrics {
namespace {

std::vector<std::vector<uint8_t>> pattern_images(int n, int size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> im(size_t(size * size * 3));
    const double fx = 0.05 + 0.3 * u(rng), fy = 0.05 + 0.3 * u(rng), ph = 6.28 * u(rng);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        for (int c = 0; c < 3; ++c) {
          const double v = 128 + 90 * std::sin(fx * x + ph + c) * std::cos(fy * y - c) + 20 * u(rng);
          im[size_t((y * size + x) * 3 + c)] = uint8_t(std::clamp(v, 0.0, 255.0));
        }
    out.push_back(std::move(im));
  }
  return out;
}

std::vector<const uint8_t*> ptrs(const std::vector<std::vector<uint8_t>>& v) {
  std::vector<const uint8_t*> p;
  for (const auto& e : v) p.push_back(e.data());
  return p;
}

TEST(Swd, IdenticalSetsGiveZero) {
  const auto a = pattern_images(24, 64, 1);
  const auto b = a;  // a copy: other buffers, same pixels
  const SwdResult r = swd(ptrs(a), ptrs(b), 64);
  ASSERT_EQ(r.resolutions, (std::vector<int>{64, 32, 16}));
  ASSERT_EQ(r.per_level.size(), 3u);
  for (double d : r.per_level) EXPECT_EQ(d, 0.0);
  EXPECT_EQ(r.mean, 0.0);
}

TEST(Swd, GrowsMonotonicallyWithNoise) {
  const auto real = pattern_images(32, 64, 2);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n;
  std::vector<double> z(size_t(32 * 64 * 64 * 3));
  for (double& v : z) v = n(rng);
  double prev_mean = 0;
  std::vector<double> prev_levels(3, 0.0);
  for (double sigma : {2.0, 8.0, 24.0, 64.0}) {
    auto noisy = real;
    for (size_t i = 0; i < noisy.size(); ++i)
      for (size_t j = 0; j < noisy[i].size(); ++j)
        noisy[i][j] = uint8_t(std::clamp(std::round(double(real[i][j]) + sigma * z[i * noisy[i].size() + j]), 0.0, 255.0));
    const SwdResult r = swd(ptrs(real), ptrs(noisy), 64);
    EXPECT_GT(r.mean, prev_mean) << "sigma " << sigma;
    for (size_t l = 0; l < r.per_level.size(); ++l) EXPECT_GT(r.per_level[l], prev_levels[l]) << "sigma " << sigma << " level " << l;
    prev_mean = r.mean;
    prev_levels = r.per_level;
  }
}

TEST(Swd, DeterministicBySeedAndDifferentSets) {
  const auto a = pattern_images(16, 32, 4), b = pattern_images(20, 32, 5);
  SwdOptions o;
  o.seed = 9;
  const SwdResult r1 = swd(ptrs(a), ptrs(b), 32, o), r2 = swd(ptrs(a), ptrs(b), 32, o);
  EXPECT_EQ(r1.per_level, r2.per_level);
  EXPECT_GT(r1.mean, 0.0);
  o.seed = 10;
  const SwdResult r3 = swd(ptrs(a), ptrs(b), 32, o);
  EXPECT_NE(r1.mean, r3.mean);
  EXPECT_NEAR(r1.mean, r3.mean, 0.5 * r1.mean);  // a different draw of the same quantity
  EXPECT_THROW(swd(ptrs(a), ptrs(b), 8), std::invalid_argument);
}

TEST(Swd, Wasserstein1Sorted) {
  const float a[] = {0.f, 1.f}, b[] = {0.f, 0.5f, 1.f}, c[] = {0.f, 0.f, 1.f, 1.f}, d[] = {1.f, 2.f};
  EXPECT_NEAR(wasserstein1_sorted(a, 2, b, 3), 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(wasserstein1_sorted(a, 2, c, 4), 0.0, 1e-12);
  EXPECT_NEAR(wasserstein1_sorted(a, 2, d, 2), 1.0, 1e-12);
  EXPECT_NEAR(wasserstein1_sorted(b, 3, a, 2), 1.0 / 6.0, 1e-12);
}

TEST(Swd, LaplacianPyramidReconstructsAndIsFlatOnConstants) {
  const int s = 32;
  std::vector<float> img(size_t(s * s));
  for (int i = 0; i < s * s; ++i) img[size_t(i)] = float((i * 37) % 255);
  const auto pyr = laplacian_pyramid(img, s, 3);
  ASSERT_EQ(pyr.size(), 3u);
  EXPECT_EQ(pyr[1].size(), size_t(16 * 16));
  EXPECT_EQ(pyr[2].size(), size_t(8 * 8));
  // Collapse: upsample the residual and add the bands back (pyr_up = zero insertion, 4 x binomial, reflect-101).
  auto up = [](const std::vector<float>& x, int h) {
    const int H = 2 * h;
    std::vector<float> z(size_t(H * H), 0.f), t(z.size()), y(z.size());
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < h; ++j) z[size_t(2 * i * H + 2 * j)] = x[size_t(i * h + j)];
    const float k[5] = {1, 4, 6, 4, 1};
    auto m = [H](int i) { return i < 0 ? -i : (i >= H ? 2 * (H - 1) - i : i); };
    for (int i = 0; i < H; ++i)
      for (int j = 0; j < H; ++j) {
        float a = 0;
        for (int q = -2; q <= 2; ++q) a += k[q + 2] * z[size_t(i * H + m(j + q))];
        t[size_t(i * H + j)] = a / 16;
      }
    for (int i = 0; i < H; ++i)
      for (int j = 0; j < H; ++j) {
        float a = 0;
        for (int q = -2; q <= 2; ++q) a += k[q + 2] * t[size_t(m(i + q) * H + j)];
        y[size_t(i * H + j)] = 4 * a / 16;
      }
    return y;
  };
  std::vector<float> rec = pyr[2];
  for (int l = 1; l >= 0; --l) {
    rec = up(rec, s >> (l + 1));
    for (size_t i = 0; i < rec.size(); ++i) rec[i] += pyr[size_t(l)][i];
  }
  for (size_t i = 0; i < img.size(); ++i) ASSERT_NEAR(rec[i], img[i], 1e-3);
  const auto flat = laplacian_pyramid(std::vector<float>(size_t(s * s), 7.f), s, 3);
  for (float v : flat[0]) ASSERT_NEAR(v, 0.f, 1e-5);
  for (float v : flat[2]) ASSERT_NEAR(v, 7.f, 1e-5);
}

}  // namespace
}  // namespace rg::metrics
