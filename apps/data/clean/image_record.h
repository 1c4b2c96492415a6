// SPDX-License-Identifier: Apache-2.0
// What the cleaning step decided about one file, for CACHE.report.json and
// the review page (docs/data.md). Made when a detector, an exclude list,
// --dedupe or --review is in use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/data/clean/detection.h"

namespace rg::data {

struct ImageRecord {
  std::string path;  // relative to the folder
  bool kept = false;
  std::string reason;                 // why not kept
  int width = 0, height = 0;          // decoded size (0 when it did not decode)
  bool detected = false;              // the detector's candidates are known
  std::vector<Detection> detections;  // after --min-score and NMS, best first
  std::vector<bool> used;             // passed --keep and --min-area
  bool cropped = false;
  CropRect crop;
  bool hashed = false;
  uint64_t phash = 0;              // of the pixels that go into the cache
  std::string duplicate_of;        // the first image of its near-duplicate group
  std::vector<uint8_t> thumbnail;  // JPEG of the whole decoded image (review page only)
  int thumb_width = 0, thumb_height = 0;
};

}  // namespace rg::data
