// SPDX-License-Identifier: Apache-2.0
// The pixel work of augmentation (flip, then rotate with bilinear
// interpolation), the one piece of the batch loader that needs OpenCV. A core
// build without OpenCV (GPU machines: RALSGAN_CORE_APP) has none, and its
// `ralsgan train` requires --no-augment (commands.cpp says so up front).
#include <cstring>
#include <stdexcept>

#include "apps/data/augment.h"
#if RALSGAN_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace rg::data {

#if RALSGAN_HAVE_OPENCV
void augment_image(const uint8_t* src, int size, const AugmentParams& p, uint8_t* dst) {
  const std::size_t bytes = static_cast<std::size_t>(size) * size * 3;
  cv::Mat in(size, size, CV_8UC3, const_cast<uint8_t*>(src));
  cv::Mat out(size, size, CV_8UC3, dst);
  if (p.flip) {
    cv::flip(in, out, 1);
  } else {
    std::memcpy(dst, src, bytes);
  }
  if (p.rotate) {
    cv::Mat tmp = out.clone();
    const double c = (size - 1) / 2.0;
    const cv::Mat m = cv::getRotationMatrix2D(
        cv::Point2f(static_cast<float>(c), static_cast<float>(c)), p.angle_deg, 1.0);
    cv::warpAffine(tmp, out, m, out.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                   cv::Scalar(0, 0, 0));
  }
}
#else
void augment_image(const uint8_t*, int, const AugmentParams&, uint8_t*) {
  throw std::runtime_error(
      "this ralsgan was built without OpenCV and cannot augment images: train with --no-augment");
}
#endif

bool augmentation_available() {
  return RALSGAN_HAVE_OPENCV;
}

}  // namespace rg::data
