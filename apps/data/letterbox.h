// SPDX-License-Identifier: Apache-2.0
// Bringing an image to size x size x 3 (docs/contracts.md §6): letterbox ("pad") or stretch.
#pragma once

#include <cstdint>

#include "apps/data/image.h"

namespace rg::data {

struct ResizePlan {
  int new_height = 0, new_width = 0;  // size of the resized image
  int top = 0, left = 0;              // where it goes on the size x size canvas
  bool area = false;                  // cv::INTER_AREA (shrinking) else cv::INTER_LINEAR
};

// Geometry of letterboxing an h x w image to size: new side =
// max(1, floor(side * size / max(h, w))), top = (size - h') / 2, left likewise.
ResizePlan letterbox_plan(int height, int width, int size);
ResizePlan stretch_plan(int height, int width, int size);

// Writes size * size * 3 bytes (HWC RGB) to out.
void fit_image(const Image& src, int size, Fit fit, uint8_t* out);
Image fit_image(const Image& src, int size, Fit fit);
inline Image letterbox(const Image& src, int size) { return fit_image(src, size, Fit::kPad); }
inline Image stretch(const Image& src, int size) { return fit_image(src, size, Fit::kStretch); }

}  // namespace rg::data
