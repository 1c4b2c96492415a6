// SPDX-License-Identifier: Apache-2.0
#include "apps/data/letterbox.h"

#include <algorithm>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>

namespace rg::data {

ResizePlan letterbox_plan(int height, int width, int size) {
  if (height <= 0 || width <= 0 || size <= 0) throw std::invalid_argument("letterbox: bad dimensions");
  const int64_t m = std::max(height, width);
  // Python: int(side * size / max(h, w)). The exact quotient p/q with q < 2^31 is
  // never within one double ulp below an integer, so floor division is identical.
  ResizePlan p;
  p.new_height = static_cast<int>(std::max<int64_t>(1, int64_t{height} * size / m));
  p.new_width = static_cast<int>(std::max<int64_t>(1, int64_t{width} * size / m));
  p.top = (size - p.new_height) / 2;
  p.left = (size - p.new_width) / 2;
  p.area = m > size;
  return p;
}

ResizePlan stretch_plan(int height, int width, int size) {
  if (height <= 0 || width <= 0 || size <= 0) throw std::invalid_argument("stretch: bad dimensions");
  ResizePlan p;
  p.new_height = p.new_width = size;
  p.area = height > size || width > size;
  return p;
}

void fit_image(const Image& src, int size, Fit fit, uint8_t* out) {
  if (src.empty() || src.pixels.size() != src.bytes()) throw std::invalid_argument("fit_image: empty or inconsistent image");
  const ResizePlan p = fit == Fit::kStretch ? stretch_plan(src.height, src.width, size)
                                            : letterbox_plan(src.height, src.width, size);
  std::memset(out, 0, static_cast<std::size_t>(size) * size * 3);
  cv::Mat in(src.height, src.width, CV_8UC3, const_cast<uint8_t*>(src.pixels.data()));
  cv::Mat canvas(size, size, CV_8UC3, out);
  cv::Mat roi = canvas(cv::Rect(p.left, p.top, p.new_width, p.new_height));
  if (p.new_height == src.height && p.new_width == src.width) {
    in.copyTo(roi);
  } else {
    cv::Mat resized;
    cv::resize(in, resized, cv::Size(p.new_width, p.new_height), 0, 0, p.area ? cv::INTER_AREA : cv::INTER_LINEAR);
    resized.copyTo(roi);
  }
}

Image fit_image(const Image& src, int size, Fit fit) {
  Image out;
  out.height = out.width = size;
  out.pixels.resize(out.bytes());
  fit_image(src, size, fit, out.pixels.data());
  return out;
}

}  // namespace rg::data
