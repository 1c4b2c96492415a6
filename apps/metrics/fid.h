// SPDX-License-Identifier: Apache-2.0
// Fréchet Inception Distance and Kernel Inception Distance on feature matrices
// (one row per image), in double precision with Eigen.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>

namespace rg::metrics {

struct GaussianStats {
  Eigen::VectorXd mu;
  Eigen::MatrixXd sigma;  // unbiased sample covariance (N - 1), as numpy.cov
  int64_t count = 0;
};

GaussianStats gaussian_stats(const Eigen::MatrixXd& features);

// ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1^1/2 S2 S1^1/2), with symmetric
// eigendecompositions only: S1^1/2 from S1's eigenpairs (eigenvalues clamped at
// 0), M = S1^1/2 S2 S1^1/2 symmetrised, tr sqrt(M) = sum sqrt(max(eig(M), 0)).
// Eigenvalues below d * DBL_EPSILON * the largest one count as 0 (round-off).
// (tr sqrt(S1 S2) = tr sqrt(M): the two matrices are similar.) Throws
// std::invalid_argument on mismatched dimensions.
double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& sigma1, const Eigen::VectorXd& mu2,
                        const Eigen::MatrixXd& sigma2);
inline double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  return frechet_distance(a.mu, a.sigma, b.mu, b.sigma);
}

struct KidOptions {
  int subsets = 100;         // as torch-fidelity's kid_subsets
  int subset_size = 1000;    // capped at min(n_x, n_y)
  uint64_t seed = 0;         // subset draws: Philox stream 18, see docs/metrics.md
};

struct KidResult {
  double mean = 0, std = 0;  // over subsets (std: population, as torch-fidelity)
  int subsets = 0, subset_size = 0;
};

// Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3,
// averaged over random subsets drawn without replacement (Bińkowski et al.
// 2018; torch-fidelity's kid). Needs at least 2 rows in each set.
KidResult kernel_inception_distance(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, const KidOptions& opts = {});

// One unbiased MMD^2 estimate between two sets (all rows).
double mmd2_unbiased_poly(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);

// Cached statistics of a real set: mu, sigma (F64) and the features (F32, for
// KID), plus metadata (feature_dim, count, and the caller's `tag`, e.g. the
// Inception file and image size). Written atomically; read errors name the file.
struct RealStatsCache {
  GaussianStats stats;
  Eigen::MatrixXd features;  // may be empty (FID only)
  std::string tag;
};
void write_stats_cache(const std::string& path, const RealStatsCache& c);
RealStatsCache read_stats_cache(const std::string& path);

}  // namespace rg::metrics
