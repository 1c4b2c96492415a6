// SPDX-License-Identifier: Apache-2.0
// Fréchet distance against closed forms; KID's unbiasedness.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <random>

#include "apps/metrics/fid.h"

namespace rg::metrics {
namespace {

Eigen::MatrixXd random_spd(int d, std::mt19937_64& rng, double ridge) {
  std::normal_distribution<double> n;
  Eigen::MatrixXd a(d, d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) a(i, j) = n(rng);
  return a * a.transpose() / d + ridge * Eigen::MatrixXd::Identity(d, d);
}

TEST(Frechet, IdenticalStatisticsGiveZero) {
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd s = random_spd(64, rng, 0.1);
  Eigen::VectorXd mu = Eigen::VectorXd::LinSpaced(64, -1, 1);
  EXPECT_NEAR(frechet_distance(mu, s, mu, s), 0.0, 1e-9);
  // From the same features.
  std::normal_distribution<double> n;
  Eigen::MatrixXd f(200, 16);
  for (int i = 0; i < f.rows(); ++i)
    for (int j = 0; j < f.cols(); ++j) f(i, j) = n(rng);
  const GaussianStats st = gaussian_stats(f);
  EXPECT_NEAR(frechet_distance(st, st), 0.0, 1e-10);
}

TEST(Frechet, DiagonalGaussiansClosedForm) {
  const int d = 10;
  Eigen::VectorXd mu1(d), mu2(d), s1(d), s2(d);
  double want = 0;
  for (int i = 0; i < d; ++i) {
    mu1(i) = 0.3 * i;
    mu2(i) = 1.0 - 0.1 * i;
    s1(i) = 0.5 + i;
    s2(i) = 2.0 + 0.25 * i * i;
    want += (mu1(i) - mu2(i)) * (mu1(i) - mu2(i)) + s1(i) + s2(i) - 2 * std::sqrt(s1(i) * s2(i));
  }
  const double got = frechet_distance(mu1, s1.asDiagonal().toDenseMatrix(), mu2, s2.asDiagonal().toDenseMatrix());
  EXPECT_NEAR(got, want, 1e-10 * want);
}

TEST(Frechet, RotatedCommutingCovariancesClosedForm) {
  // S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T: tr sqrt(S1 S2) = sum sqrt(a b).
  const int d = 32;
  std::mt19937_64 rng(2);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(random_spd(d, rng, 0.0));
  const Eigen::MatrixXd q = es.eigenvectors();
  Eigen::VectorXd a(d), b(d), mu1 = Eigen::VectorXd::Zero(d), mu2 = Eigen::VectorXd::Constant(d, 0.5);
  double want = 0.25 * d;
  for (int i = 0; i < d; ++i) {
    a(i) = 0.1 + 0.2 * i;
    b(i) = 3.0 / (1 + i);
    want += a(i) + b(i) - 2 * std::sqrt(a(i) * b(i));
  }
  const Eigen::MatrixXd s1 = q * a.asDiagonal() * q.transpose(), s2 = q * b.asDiagonal() * q.transpose();
  EXPECT_NEAR(frechet_distance(mu1, s1, mu2, s2), want, 1e-9 * want);
}

TEST(Frechet, GeneralCovariancesMatchTraceOfSqrtProduct) {
  // 2x2 case with a closed form: tr sqrt(A) = sqrt(tr A + 2 sqrt(det A)) for 2x2 A
  // with positive eigenvalues, applied to A = S1 S2.
  Eigen::Matrix2d s1, s2;
  s1 << 2.0, 0.7, 0.7, 1.0;
  s2 << 1.5, -0.4, -0.4, 0.8;
  const Eigen::Matrix2d p = s1 * s2;
  const double tr_sqrt = std::sqrt(p.trace() + 2 * std::sqrt(p.determinant()));
  const double want = s1.trace() + s2.trace() - 2 * tr_sqrt + 1.0 * 1.0 + 2.0 * 2.0;
  Eigen::VectorXd mu1(2), mu2(2);
  mu1 << 0, 0;
  mu2 << 1, -2;
  EXPECT_NEAR(frechet_distance(mu1, s1, mu2, s2), want, 1e-12);
}

TEST(Frechet, SingularCovarianceIsFine) {
  // Rank-deficient covariances (fewer samples than dimensions) must not give NaN.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n;
  Eigen::MatrixXd f(10, 40), g(10, 40);
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 40; ++j) f(i, j) = n(rng), g(i, j) = n(rng) + 0.5;
  const double d = frechet_distance(gaussian_stats(f), gaussian_stats(g));
  EXPECT_TRUE(std::isfinite(d));
  EXPECT_GT(d, 0.0);
  EXPECT_NEAR(frechet_distance(gaussian_stats(f), gaussian_stats(f)), 0.0, 1e-8);
}

Eigen::MatrixXd gaussian_sample(int n, int d, double shift, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  Eigen::MatrixXd x(n, d);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) x(i, j) = nd(rng) + shift + 0.3 * (j % 3);
  return x;
}

TEST(Kid, UnbiasedNearZeroOnOneDistribution) {
  // Two independent samples of one distribution: the unbiased MMD^2 estimates
  // scatter around 0 (negative values occur); their mean is within a few
  // standard errors of 0.
  const int d = 16;
  double sum = 0, sq = 0;
  const int trials = 30;
  for (int t = 0; t < trials; ++t) {
    const double v = mmd2_unbiased_poly(gaussian_sample(100, d, 0, 100 + t), gaussian_sample(100, d, 0, 500 + t));
    sum += v;
    sq += v * v;
  }
  const double mean = sum / trials, sd = std::sqrt(sq / trials - mean * mean);
  EXPECT_LT(std::abs(mean), 3 * sd / std::sqrt(double(trials))) << "mean " << mean << " sd " << sd;
  // Shifted distributions: clearly positive, far above the null scatter.
  const double shifted = mmd2_unbiased_poly(gaussian_sample(100, d, 0.5, 7), gaussian_sample(100, d, 0, 8));
  EXPECT_GT(shifted, 10 * sd);
}

TEST(Kid, SubsetAverageAndDeterminism) {
  const Eigen::MatrixXd a = gaussian_sample(300, 8, 0, 1), b = gaussian_sample(300, 8, 0, 2),
                        c = gaussian_sample(300, 8, 0.3, 3);
  KidOptions o;
  o.subsets = 20;
  o.subset_size = 100;
  o.seed = 42;
  const KidResult same = kernel_inception_distance(a, b, o);
  const KidResult shifted = kernel_inception_distance(a, c, o);
  EXPECT_EQ(same.subset_size, 100);
  EXPECT_LT(std::abs(same.mean), 3 * same.std);
  EXPECT_GT(shifted.mean, 5 * same.std);
  EXPECT_GT(shifted.mean, shifted.std);
  const KidResult again = kernel_inception_distance(a, c, o);
  EXPECT_EQ(again.mean, shifted.mean);
  // Subset size is capped at the smaller set; a full-set subset equals the direct estimate.
  o.subsets = 3;
  o.subset_size = 1000;
  const KidResult all = kernel_inception_distance(a, c, o);
  EXPECT_EQ(all.subset_size, 300);
  EXPECT_NEAR(all.mean, mmd2_unbiased_poly(a, c), 1e-9 * std::abs(all.mean));
  EXPECT_NEAR(all.std, 0.0, 1e-9 * std::abs(all.mean));
}

TEST(Kid, KernelIsCubicPolynomial) {
  // Two points per set in d = 2: compute the unbiased estimator by hand.
  Eigen::MatrixXd x(2, 2), y(2, 2);
  x << 1, 0, 0, 2;
  y << 1, 1, -1, 0.5;
  auto k = [](const Eigen::RowVectorXd& a, const Eigen::RowVectorXd& b) { return std::pow(a.dot(b) / 2 + 1, 3); };
  const double kxx = 2 * k(x.row(0), x.row(1)) / 2, kyy = 2 * k(y.row(0), y.row(1)) / 2;
  double kxy = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) kxy += k(x.row(i), y.row(j));
  EXPECT_NEAR(mmd2_unbiased_poly(x, y), kxx + kyy - 2 * kxy / 4, 1e-12);
}

TEST(StatsCache, RoundTrip) {
  const Eigen::MatrixXd f = gaussian_sample(50, 6, 0.1, 9);
  RealStatsCache c;
  c.stats = gaussian_stats(f);
  c.features = f;
  c.tag = "inception=x;width=1";
  const std::string path = ::testing::TempDir() + "/stats_cache.safetensors";
  write_stats_cache(path, c);
  const RealStatsCache r = read_stats_cache(path);
  EXPECT_EQ(r.tag, c.tag);
  EXPECT_EQ(r.stats.count, 50);
  EXPECT_EQ((r.stats.mu - c.stats.mu).norm(), 0.0);
  EXPECT_EQ((r.stats.sigma - c.stats.sigma).norm(), 0.0);
  EXPECT_LT((r.features - f).cwiseAbs().maxCoeff(), 1e-6);  // stored as F32
  EXPECT_THROW(read_stats_cache(::testing::TempDir() + "/no_such_cache.safetensors"), std::runtime_error);
}

}  // namespace
}  // namespace rg::metrics
