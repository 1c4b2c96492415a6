// SPDX-License-Identifier: Apache-2.0
#include "apps/metrics/fid.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "rg/safetensors.h"
#include "engine/rng/philox.h"
#include "apps/rng_streams.h"

namespace rg::metrics {

GaussianStats gaussian_stats(const Eigen::MatrixXd& f) {
  if (f.rows() < 2) throw std::invalid_argument("gaussian_stats: need at least 2 samples, got " + std::to_string(f.rows()));
  GaussianStats s;
  s.count = f.rows();
  s.mu = f.colwise().mean().transpose();
  const Eigen::MatrixXd c = f.rowwise() - s.mu.transpose();
  s.sigma = (c.transpose() * c) / double(f.rows() - 1);
  return s;
}

double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& mu2,
                        const Eigen::MatrixXd& s2) {
  const Eigen::Index d = mu1.size();
  if (mu2.size() != d || s1.rows() != d || s1.cols() != d || s2.rows() != d || s2.cols() != d)
    throw std::invalid_argument("frechet_distance: dimensions differ (mu " + std::to_string(mu1.size()) + " vs " +
                                std::to_string(mu2.size()) + ")");
  const Eigen::MatrixXd a = 0.5 * (s1 + s1.transpose());
  const Eigen::MatrixXd b = 0.5 * (s2 + s2.transpose());
  // Eigenvalues below the round-off level of the decomposition (d * eps * the
  // largest) are noise around 0 (singular covariances, fewer samples than
  // dimensions): they are set to 0 rather than contributing sqrt(noise).
  auto clamp = [d](const Eigen::VectorXd& ev) {
    const double floor = double(d) * std::numeric_limits<double>::epsilon() * std::max(ev.cwiseAbs().maxCoeff(), 0.0);
    return ev.unaryExpr([floor](double v) { return v > floor ? v : 0.0; }).eval();
  };
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> e1(a);
  if (e1.info() != Eigen::Success) throw std::runtime_error("frechet_distance: eigendecomposition of sigma1 failed");
  const Eigen::VectorXd r1 = clamp(e1.eigenvalues()).cwiseSqrt();
  const Eigen::MatrixXd sqrt1 = e1.eigenvectors() * r1.asDiagonal() * e1.eigenvectors().transpose();
  Eigen::MatrixXd m = sqrt1 * b * sqrt1;
  m = 0.5 * (m + m.transpose()).eval();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> em(m, Eigen::EigenvaluesOnly);
  if (em.info() != Eigen::Success) throw std::runtime_error("frechet_distance: eigendecomposition of M failed");
  const double tr_sqrt = clamp(em.eigenvalues()).cwiseSqrt().sum();
  return (mu1 - mu2).squaredNorm() + a.trace() + b.trace() - 2.0 * tr_sqrt;
}

namespace {

// Unbiased MMD^2 from the three kernel matrices (square kxx, kyy of size m, kxy m x m).
template <typename A, typename B, typename C>
double mmd2_from_kernels(const A& kxx, const B& kyy, const C& kxy) {
  const double m = double(kxx.rows());
  const double sxx = kxx.sum() - kxx.diagonal().sum(), syy = kyy.sum() - kyy.diagonal().sum();
  return sxx / (m * (m - 1)) + syy / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m);
}

Eigen::MatrixXd poly_kernel(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  const double inv_d = 1.0 / double(x.cols());
  Eigen::MatrixXd k = x * y.transpose();
  return k.unaryExpr([inv_d](double v) {
    const double t = v * inv_d + 1.0;
    return t * t * t;
  });
}

// m distinct indices of [0, n), Philox-driven partial Fisher-Yates.
std::vector<Eigen::Index> draw_subset(uint64_t seed, uint64_t index, Eigen::Index n, Eigen::Index m) {
  std::vector<Eigen::Index> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), Eigen::Index(0));
  Philox4x32Counter w{};
  for (Eigen::Index i = 0; i < m; ++i) {
    if (i % 4 == 0) w = philox_words(seed, streams::kKidSubsets, index, uint32_t(i / 4));
    const Eigen::Index range = n - i;
    const Eigen::Index j = i + std::min<Eigen::Index>(Eigen::Index(uniform_from_word(w[size_t(i % 4)]) * double(range)), range - 1);
    std::swap(p[size_t(i)], p[size_t(j)]);
  }
  p.resize(size_t(m));
  return p;
}

}  // namespace

double mmd2_unbiased_poly(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  if (x.rows() != y.rows() || x.rows() < 2 || x.cols() != y.cols())
    throw std::invalid_argument("mmd2_unbiased_poly: needs two sets of equal size >= 2 and equal dimension");
  return mmd2_from_kernels(poly_kernel(x, x), poly_kernel(y, y), poly_kernel(x, y));
}

KidResult kernel_inception_distance(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, const KidOptions& o) {
  if (x.cols() != y.cols())
    throw std::invalid_argument("kid: feature dimensions differ (" + std::to_string(x.cols()) + " vs " +
                                std::to_string(y.cols()) + ")");
  const Eigen::Index m = std::min<Eigen::Index>({x.rows(), y.rows(), Eigen::Index(o.subset_size)});
  if (m < 2) throw std::invalid_argument("kid: needs at least 2 samples in each set");
  if (o.subsets < 1) throw std::invalid_argument("kid: subsets must be >= 1");
  // With small sets, the three kernel matrices are computed once and subsets index into them.
  const bool full = std::max(x.rows(), y.rows()) <= 3000;
  Eigen::MatrixXd kxx, kyy, kxy;
  if (full) kxx = poly_kernel(x, x), kyy = poly_kernel(y, y), kxy = poly_kernel(x, y);
  std::vector<double> v;
  for (int s = 0; s < o.subsets; ++s) {
    const auto ix = draw_subset(o.seed, uint64_t(s) * 2, x.rows(), m);
    const auto iy = draw_subset(o.seed, uint64_t(s) * 2 + 1, y.rows(), m);
    if (full) {
      v.push_back(mmd2_from_kernels(kxx(ix, ix), kyy(iy, iy), kxy(ix, iy)));
    } else {
      const Eigen::MatrixXd xs = x(ix, Eigen::all), ys = y(iy, Eigen::all);
      v.push_back(mmd2_unbiased_poly(xs, ys));
    }
  }
  KidResult r;
  r.subsets = o.subsets;
  r.subset_size = int(m);
  r.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double sq = 0;
  for (double e : v) sq += (e - r.mean) * (e - r.mean);
  r.std = std::sqrt(sq / double(v.size()));
  return r;
}

void write_stats_cache(const std::string& path, const RealStatsCache& c) {
  io::SafetensorsContents f;
  const Eigen::Index d = c.stats.mu.size();
  f.tensors["mu"] = io::from_f64(std::vector<double>(c.stats.mu.data(), c.stats.mu.data() + d), {d});
  std::vector<double> s(size_t(d * d));
  for (Eigen::Index i = 0; i < d; ++i)
    for (Eigen::Index j = 0; j < d; ++j) s[size_t(i * d + j)] = c.stats.sigma(i, j);
  f.tensors["sigma"] = io::from_f64(s, {d, d});
  if (c.features.size() > 0) {
    std::vector<float> feat(size_t(c.features.size()));
    for (Eigen::Index i = 0; i < c.features.rows(); ++i)
      for (Eigen::Index j = 0; j < c.features.cols(); ++j) feat[size_t(i * c.features.cols() + j)] = float(c.features(i, j));
    f.tensors["features"] = io::from_f32(feat, {c.features.rows(), c.features.cols()});
  }
  f.metadata["format"] = "ralsgan-real-stats-1";
  f.metadata["count"] = std::to_string(c.stats.count);
  f.metadata["feature_dim"] = std::to_string(d);
  f.metadata["tag"] = c.tag;
  io::write_safetensors(path, f);
}

RealStatsCache read_stats_cache(const std::string& path) {
  const io::SafetensorsContents f = io::read_safetensors(path);
  auto meta = [&](const char* k) -> std::string {
    const auto it = f.metadata.find(k);
    return it == f.metadata.end() ? std::string() : it->second;
  };
  if (meta("format") != "ralsgan-real-stats-1" || !f.tensors.count("mu") || !f.tensors.count("sigma"))
    throw std::runtime_error(path + ": not a real-statistics cache (format ralsgan-real-stats-1 with mu and sigma)");
  RealStatsCache c;
  c.tag = meta("tag");
  const auto& mu_t = f.tensors.at("mu");
  const auto& s_t = f.tensors.at("sigma");
  if (mu_t.shape.size() != 1 || s_t.shape != std::vector<int64_t>{mu_t.shape[0], mu_t.shape[0]})
    throw std::runtime_error(path + ": mu and sigma shapes do not match");
  const int64_t d = mu_t.shape[0];
  const std::vector<double> mu = io::to_f64(mu_t), s = io::to_f64(s_t);
  c.stats.mu = Eigen::Map<const Eigen::VectorXd>(mu.data(), d);
  c.stats.sigma = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(s.data(), d, d);
  c.stats.count = meta("count").empty() ? 0 : std::stoll(meta("count"));
  if (f.tensors.count("features")) {
    const auto& ft = f.tensors.at("features");
    if (ft.shape.size() != 2 || ft.shape[1] != d) throw std::runtime_error(path + ": features shape does not match mu");
    const std::vector<double> v = io::to_f64(ft);
    c.features = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(v.data(), ft.shape[0], d);
  }
  return c;
}

}  // namespace rg::metrics
