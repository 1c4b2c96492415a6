// SPDX-License-Identifier: Apache-2.0
#include "apps/metrics/swd.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "engine/rng/philox.h"
#include "apps/rng_streams.h"

namespace rg::metrics {
namespace {

constexpr uint32_t kPatchStream = streams::kSwdPatches;
constexpr uint32_t kDirStream = streams::kSwdDirections;

int mirror(int i, int n) {  // reflect-101 (scipy "mirror", cv2 BORDER_REFLECT_101)
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

constexpr float kTaps[5] = {1.f / 16, 4.f / 16, 6.f / 16, 4.f / 16, 1.f / 16};

// Separable 5x5 binomial filter with reflect-101 borders, scaled by `gain`.
std::vector<float> blur(const std::vector<float>& x, int h, int w, float gain) {
  std::vector<float> t(x.size()), y(x.size());
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) {
      float s = 0;
      for (int k = -2; k <= 2; ++k) s += kTaps[k + 2] * x[size_t(i * w + mirror(j + k, w))];
      t[size_t(i * w + j)] = s;
    }
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) {
      float s = 0;
      for (int k = -2; k <= 2; ++k) s += kTaps[k + 2] * t[size_t(mirror(i + k, h) * w + j)];
      y[size_t(i * w + j)] = s * gain;
    }
  return y;
}

std::vector<float> pyr_down(const std::vector<float>& x, int h, int w) {
  const std::vector<float> b = blur(x, h, w, 1.f);
  const int ho = (h + 1) / 2, wo = (w + 1) / 2;
  std::vector<float> y(size_t(ho * wo));
  for (int i = 0; i < ho; ++i)
    for (int j = 0; j < wo; ++j) y[size_t(i * wo + j)] = b[size_t(2 * i * w + 2 * j)];
  return y;
}

// Zero-insertion upsampling to 2h x 2w, filtered with 4 x the kernel, cropped to oh x ow.
std::vector<float> pyr_up(const std::vector<float>& x, int h, int w, int oh, int ow) {
  const int H = 2 * h, W = 2 * w;
  std::vector<float> z(size_t(H * W), 0.f);
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) z[size_t(2 * i * W + 2 * j)] = x[size_t(i * w + j)];
  const std::vector<float> b = blur(z, H, W, 4.f);
  std::vector<float> y(size_t(oh * ow));
  for (int i = 0; i < oh; ++i)
    for (int j = 0; j < ow; ++j) y[size_t(i * ow + j)] = b[size_t(i * W + j)];
  return y;
}

using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Descriptors of one set at one level: rows = images * nhoods, cols = 3 * k * k,
// normalised per channel over all rows and pixels of the set.
RowMatF descriptors(const std::vector<const uint8_t*>& images, int size, int level, int levels, int level_size,
                    const SwdOptions& o) {
  const int k = o.nhood_size, half = k / 2, per = o.nhoods_per_image;
  RowMatF d(Eigen::Index(images.size()) * per, 3 * k * k);
  const size_t plane = size_t(size) * size_t(size);
  std::vector<float> ch(plane);
  const int range = level_size - 2 * half;  // centres in [half, level_size - half)
  for (size_t img = 0; img < images.size(); ++img) {
    std::vector<std::vector<float>> lv(3);
    for (int c = 0; c < 3; ++c) {
      for (size_t p = 0; p < plane; ++p) ch[p] = float(images[img][p * 3 + size_t(c)]);
      // Band `level` needs the pyramid down to level + 1 only (or is the residual).
      lv[size_t(c)] = laplacian_pyramid(ch, size, std::min(level + 2, levels))[size_t(level)];
    }
    for (int p = 0; p < per; ++p) {
      const Philox4x32Counter w =
          philox_words(o.seed, kPatchStream, (uint64_t(level) << 32) | uint64_t(img), uint32_t(p));
      const int cy = half + std::min(int(uniform_from_word(w[0]) * range), range - 1);
      const int cx = half + std::min(int(uniform_from_word(w[1]) * range), range - 1);
      float* row = d.row(Eigen::Index(img) * per + p).data();
      for (int c = 0; c < 3; ++c)
        for (int y = -half; y <= half; ++y)
          for (int x = -half; x <= half; ++x)
            *row++ = lv[size_t(c)][size_t((cy + y) * level_size + cx + x)];
    }
  }
  // Per-channel normalisation (numpy std: population), in double.
  const Eigen::Index n = d.rows(), kk = k * k;
  for (int c = 0; c < 3; ++c) {
    double s = 0, sq = 0;
    for (Eigen::Index r = 0; r < n; ++r)
      for (Eigen::Index j = 0; j < kk; ++j) s += d(r, c * kk + j);
    const double mean = s / double(n * kk);
    for (Eigen::Index r = 0; r < n; ++r)
      for (Eigen::Index j = 0; j < kk; ++j) {
        const double v = d(r, c * kk + j) - mean;
        sq += v * v;
      }
    const double sd = std::sqrt(sq / double(n * kk));
    const float inv = sd > 0 ? float(1.0 / sd) : 1.f;  // a constant channel stays 0
    for (Eigen::Index r = 0; r < n; ++r)
      for (Eigen::Index j = 0; j < kk; ++j) d(r, c * kk + j) = float((d(r, c * kk + j) - mean) * inv);
  }
  return d;
}

}  // namespace

std::vector<std::vector<float>> laplacian_pyramid(const std::vector<float>& plane, int size, int levels) {
  std::vector<std::vector<float>> pyr{plane};
  std::vector<int> sizes{size};
  for (int l = 1; l < levels; ++l) {
    const int s = sizes.back();
    pyr.push_back(pyr_down(pyr.back(), s, s));
    sizes.push_back((s + 1) / 2);
    const std::vector<float> up = pyr_up(pyr.back(), sizes.back(), sizes.back(), s, s);
    std::vector<float>& fine = pyr[pyr.size() - 2];
    for (size_t i = 0; i < fine.size(); ++i) fine[i] -= up[i];
  }
  return pyr;
}

double wasserstein1_sorted(const float* a, size_t na, const float* b, size_t nb) {
  if (na == nb) {
    double s = 0;
    for (size_t i = 0; i < na; ++i) s += std::abs(double(a[i]) - double(b[i]));
    return s / double(na);
  }
  // Walk the merged breakpoints i/na and j/nb of the two quantile functions.
  double s = 0, t = 0;
  size_t i = 0, j = 0;
  while (i < na && j < nb) {
    const double ti = double(i + 1) / double(na), tj = double(j + 1) / double(nb);
    const double next = std::min(ti, tj);
    s += (next - t) * std::abs(double(a[i]) - double(b[j]));
    t = next;
    if (ti <= next) ++i;
    if (tj <= next) ++j;
  }
  return s;
}

SwdResult swd(const std::vector<const uint8_t*>& real, const std::vector<const uint8_t*>& fake, int size,
              const SwdOptions& o) {
  if (real.empty() || fake.empty()) throw std::invalid_argument("swd: both image sets must be non-empty");
  if (o.nhood_size < 1 || o.nhood_size % 2 == 0) throw std::invalid_argument("swd: nhood_size must be odd");
  if (size < std::max(o.min_resolution, o.nhood_size))
    throw std::invalid_argument("swd: image size " + std::to_string(size) + " is below " +
                                std::to_string(std::max(o.min_resolution, o.nhood_size)));
  SwdResult r;
  for (int res = size; res >= o.min_resolution && res >= o.nhood_size; res = (res + 1) / 2) {
    r.resolutions.push_back(res);
    if (res == 1) break;
  }
  const int levels = int(r.resolutions.size());
  const Eigen::Index dim = 3 * o.nhood_size * o.nhood_size;
  for (int level = 0; level < levels; ++level) {
    const RowMatF a = descriptors(real, size, level, levels, r.resolutions[size_t(level)], o);
    const RowMatF b = descriptors(fake, size, level, levels, r.resolutions[size_t(level)], o);
    double total = 0;
    for (int rep = 0; rep < o.dir_repeats; ++rep) {
      // Directions: Gaussian by Box-Muller from Philox words, normalised per column.
      Eigen::MatrixXf dirs(dim, o.dirs_per_repeat);
      for (int j = 0; j < o.dirs_per_repeat; ++j) {
        const uint64_t index = (uint64_t(level) << 40) | (uint64_t(rep) << 20) | uint64_t(j);
        double norm = 0;
        std::vector<double> v(static_cast<size_t>(dim));
        for (Eigen::Index c = 0; c < dim; c += 2) {
          const Philox4x32Counter w = philox_words(o.seed, kDirStream, index, uint32_t(c / 2));
          const double u1 = (double(w[0]) + 1.0) / 4294967296.0, u2 = double(w[1]) / 4294967296.0;
          const double rr = std::sqrt(-2.0 * std::log(u1));
          v[size_t(c)] = rr * std::cos(2 * std::numbers::pi * u2);
          if (c + 1 < dim) v[size_t(c + 1)] = rr * std::sin(2 * std::numbers::pi * u2);
        }
        for (double e : v) norm += e * e;
        norm = std::sqrt(norm);
        for (Eigen::Index c = 0; c < dim; ++c) dirs(c, j) = float(v[size_t(c)] / norm);
      }
      // Column-major projections: each direction's values are contiguous for sorting.
      Eigen::MatrixXf pa = a * dirs, pb = b * dirs;
      double rep_sum = 0;
      for (int j = 0; j < o.dirs_per_repeat; ++j) {
        float* ca = pa.col(j).data();
        float* cb = pb.col(j).data();
        std::sort(ca, ca + pa.rows());
        std::sort(cb, cb + pb.rows());
        rep_sum += wasserstein1_sorted(ca, size_t(pa.rows()), cb, size_t(pb.rows()));
      }
      total += rep_sum / double(o.dirs_per_repeat);
    }
    r.per_level.push_back(total / double(o.dir_repeats) * 1e3);
  }
  double s = 0;
  for (double d : r.per_level) s += d;
  r.mean = s / double(r.per_level.size());
  return r;
}

}  // namespace rg::metrics
