// SPDX-License-Identifier: Apache-2.0
// Boxes and detections in an image's pixel coordinates (x to the right, y
// down, x1/y1 exclusive edges as floats), and the overlap measure NMS uses.
#pragma once

#include <algorithm>

namespace rg::data {

struct Box {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  float width() const { return std::max(0.0f, x1 - x0); }
  float height() const { return std::max(0.0f, y1 - y0); }
  float area() const { return width() * height(); }
};

struct Detection {
  Box box;
  float score = 0;  // the detector's confidence for `cls` (objectness x class where it has both)
  int cls = 0;      // class index into the detector's names
};

// Intersection over union; 0 when either box is empty.
inline float iou(const Box& a, const Box& b) {
  const float w = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
  const float h = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  if (w <= 0 || h <= 0) return 0;
  const float inter = w * h;
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0;
}

// The pixels an image is cut to: [x0, x1) x [y0, y1), inside the image.
struct CropRect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
  bool operator==(const CropRect&) const = default;
};

}  // namespace rg::data
