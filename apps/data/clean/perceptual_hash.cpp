// SPDX-License-Identifier: Apache-2.0
// The DCT perceptual hash and near-duplicate grouping (perceptual_hash.h).
#include "apps/data/clean/perceptual_hash.h"

#include <algorithm>
#include <array>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace rg::data {

uint64_t perceptual_hash(const uint8_t* rgb, int width, int height) {
  const cv::Mat src(height, width, CV_8UC3, const_cast<uint8_t*>(rgb));
  cv::Mat grey, small, f, freq;
  cv::cvtColor(src, grey, cv::COLOR_RGB2GRAY);
  cv::resize(grey, small, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
  small.convertTo(f, CV_32F);
  cv::dct(f, freq);
  std::array<float, 64> low;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) low[size_t(y * 8 + x)] = freq.at<float>(y, x);
  std::array<float, 64> sorted = low;
  std::nth_element(sorted.begin(), sorted.begin() + 32, sorted.end());
  const float median = sorted[32];
  uint64_t h = 0;
  for (size_t i = 0; i < 64; ++i)
    if (low[i] > median) h |= uint64_t{1} << i;
  return h;
}

std::vector<long> near_duplicate_of(const std::vector<uint64_t>& hashes,
                                    const std::vector<bool>& present, int max_distance) {
  std::vector<long> of(hashes.size(), -1);
  std::vector<size_t> firsts;  // the first member of every group so far
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (!present[i]) continue;
    for (size_t f : firsts)
      if (hamming(hashes[f], hashes[i]) <= max_distance) {
        of[i] = long(f);
        break;
      }
    if (of[i] < 0) firsts.push_back(i);
  }
  return of;
}

}  // namespace rg::data
