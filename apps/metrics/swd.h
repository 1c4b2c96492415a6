// SPDX-License-Identifier: Apache-2.0
// ProGAN's multi-scale sliced Wasserstein distance (Karras et al. 2018,
// metrics/sliced_wasserstein.py), with Philox randomness.
//
// Per image: a Laplacian pyramid (5-tap binomial filter, reflect-101 borders,
// as cv2.pyrDown/pyrUp) with levels size, size/2, ... down to the last one
// >= 16 px (that level is the Gaussian residual). Per level and image, 128
// random 7x7x3 neighbourhoods (147-d descriptors); each set's descriptors are
// normalised per channel (mean 0, std 1 over all its patches at that level).
// Per level: 4 rounds of 128 random directions (normalised Gaussian vectors);
// each round's distance is the mean over directions of the 1-D Wasserstein-1
// distance between the projected sets; the level's distance is the mean over
// rounds, times 1e3 (as ProGAN reports). `mean` is the mean over levels.
//
// Randomness: patch centres depend on (seed, level, image index) only
// (Philox stream 16), directions on (seed, level, round) (stream 17). Both sets
// use the same patch positions for the same image index, so identical sets give
// exactly 0 (ProGAN draws them independently; the expected value is the same).
// With equal set sizes the 1-D distance is ProGAN's mean |sorted a - sorted b|;
// with unequal sizes it is the exact W1 between the two empirical distributions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rg::metrics {

struct SwdOptions {
  int nhood_size = 7;
  int nhoods_per_image = 128;
  int dir_repeats = 4;
  int dirs_per_repeat = 128;
  int min_resolution = 16;
  uint64_t seed = 0;
};

struct SwdResult {
  std::vector<int> resolutions;  // size, size/2, ..., >= min_resolution
  std::vector<double> per_level;  // x 1e3
  double mean = 0;                // mean of per_level
};

// Images: HWC uint8 RGB, size x size each (size >= max(min_resolution, nhood_size)).
SwdResult swd(const std::vector<const uint8_t*>& real, const std::vector<const uint8_t*>& fake, int size,
              const SwdOptions& opts = {});

// 1-D Wasserstein-1 distance between two sorted samples (the area between
// their quantile functions).
double wasserstein1_sorted(const float* a, size_t na, const float* b, size_t nb);

// Laplacian pyramid of one H x W plane (row-major), levels finest first; the
// last level is the low-pass residual. Exposed for tests.
std::vector<std::vector<float>> laplacian_pyramid(const std::vector<float>& plane, int size, int levels);

}  // namespace rg::metrics
