// SPDX-License-Identifier: Apache-2.0
// Decoded images and their geometry: RGB uint8, height x width x 3 (HWC).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rg::data {

// An 8-bit RGB image, row-major, channels interleaved (HWC, R first).
struct Image {
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // height * width * 3

  bool empty() const { return height <= 0 || width <= 0; }
  std::size_t bytes() const { return static_cast<std::size_t>(height) * static_cast<std::size_t>(width) * 3; }
  uint8_t* at(int y, int x) { return pixels.data() + (static_cast<std::size_t>(y) * width + x) * 3; }
  const uint8_t* at(int y, int x) const { return pixels.data() + (static_cast<std::size_t>(y) * width + x) * 3; }
};

// How an image is brought to size x size (docs/contracts.md §6).
enum class Fit : uint32_t { kPad = 0, kStretch = 1 };

const char* fit_name(Fit fit);
Fit parse_fit(const char* name);  // "pad" | "stretch"; throws std::invalid_argument

}  // namespace rg::data
