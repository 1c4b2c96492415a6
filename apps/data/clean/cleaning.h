// SPDX-License-Identifier: Apache-2.0
// The cleaning step of building a data set (docs/data.md): an exclude list,
// a detector that decides which photos to keep and where to crop them, and
// near-duplicate detection. build_dataset runs clean_image on every decoded
// image, on its worker threads, and mark_near_duplicates once at the end.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "nlohmann/json_fwd.hpp"

#include "apps/data/clean/detection_cache.h"
#include "apps/data/clean/detector.h"
#include "apps/data/clean/image_record.h"
#include "apps/data/clean/selection.h"
#include "apps/data/image.h"

namespace rg::data {

// The lowest score the detection cache keeps (unless --min-score is lower):
// low enough that the usual --min-score values re-decide from the cache,
// high enough that it stays small.
inline constexpr float kCandidateFloor = 0.05f;

struct CleanOptions {
  const Detector* detector = nullptr;
  DetectionCache* detections = nullptr;  // null: the network runs for every image
  SelectOptions select;
  std::set<std::string> exclude;  // relative paths to skip
  std::string exclude_file;       // named in the reason
  bool dedupe = false;            // drop near-duplicates (else only flag them)
  int dedupe_distance = 6;        // Hamming bits between perceptual hashes
  int thumbnail_size = 0;         // > 0: a JPEG thumbnail per image (--review)
};

// Reads an exclude list: one relative path per line; blank lines and lines
// starting with '#' are ignored. Throws std::runtime_error naming the file.
std::set<std::string> read_exclude_list(const std::filesystem::path& file);

// Counts for the summary line (atomic: updated from worker threads).
struct CleanCounters {
  std::atomic<size_t> network_runs{0}, cached{0}, excluded{0};
};

// Decides about one decoded image: detects (or finds in the cache), decides
// and crops `image` in place, filling rec's size, thumbnail, detections and
// crop. Returns false with rec.reason when it is skipped (the build then
// sets rec.kept and rec.reason for every file).
bool clean_image(const CleanOptions& options, std::span<const uint8_t> file_bytes, Image& image,
                 ImageRecord& rec, CleanCounters& counters);

// The cut-out pixels of `crop` (a copy).
Image crop_image(const Image& image, const CropRect& crop);

// JSON text (compact) of the options that shaped the decisions (the
// report's "cleaning").
std::string clean_settings_json(const CleanOptions& options);
// The report's "images" array.
nlohmann::ordered_json image_records_json(const std::vector<ImageRecord>& records,
                                          const std::vector<std::string>& class_names);

}  // namespace rg::data
