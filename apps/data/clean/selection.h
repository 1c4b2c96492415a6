// SPDX-License-Identifier: Apache-2.0
// From a detector's candidates to a decision about one image: the score
// threshold, NMS per class, the class filter, the minimum area, and the crop
// (the largest kept box or the union of them, grown by a margin, clipped).
// Pure functions of their arguments: rerunning with other thresholds
// re-decides from cached candidates (docs/data.md).
#pragma once

#include <string>
#include <vector>

#include "apps/data/clean/detection.h"

namespace rg::data {

enum class CropMode { kLargest, kUnion, kNone };
const char* crop_mode_name(CropMode mode);
CropMode parse_crop_mode(const std::string& name);  // throws std::invalid_argument

struct SelectOptions {
  std::vector<bool> keep;  // per class; the classes whose boxes decide
  float min_score = 0.25f;
  float nms_iou = 0.45f;
  CropMode crop = CropMode::kLargest;
  float margin = 0.05f;   // each side grows by this fraction of the box's width/height
  float min_area = 0.0f;  // boxes under this fraction of the image's area are not kept
};

struct Decision {
  bool kept = false;
  std::string reason;                 // why it was skipped
  std::vector<Detection> detections;  // after the score threshold and NMS, best first
  std::vector<bool> used;             // per detection: it passed the class filter and min-area
  CropRect crop;                      // the pixels kept (the whole image for CropMode::kNone)
};

// Greedy NMS within each class: candidates by descending score (ties: the
// earlier one first), a box is dropped when its IoU with a kept box of its
// class exceeds `iou`. Returns the kept boxes in that order.
std::vector<Detection> nms_per_class(std::vector<Detection> candidates, float iou);

// `box` grown by margin x its size on every side, then clipped to the
// image and rounded outwards to whole pixels (at least one pixel).
CropRect crop_around(const Box& box, float margin, int width, int height);

Decision decide(const std::vector<Detection>& candidates, int width, int height,
                const SelectOptions& options, const std::vector<std::string>& names);

}  // namespace rg::data
