// SPDX-License-Identifier: Apache-2.0
// PNG decoding through libpng itself, with our own error and warning
// handlers: OpenCV's PNG reader lets libpng print "libpng error: ..." and
// "libpng warning: ..." on stderr, where they reach the user in the middle of
// a progress bar. The transformations are exactly those of OpenCV 4.6's
// cv::imdecode(IMREAD_UNCHANGED), so the pixels are the same: see docs/data.md.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <string>

namespace rg::data {

// A Mat as cv::imdecode(bytes, IMREAD_UNCHANGED) makes of a PNG (8 or 16 bit;
// 1 channel for gray, 3 BGR, 4 BGRA for an alpha channel or a tRNS chunk of a
// colour image), or false with libpng's reason in `error`.
bool decode_png(std::span<const uint8_t> bytes, uint64_t max_pixels, cv::Mat& out,
                std::string& error);

}  // namespace rg::data
