// SPDX-License-Identifier: Apache-2.0
// The detection cache: a detector's candidates per image, keyed by the
// image file's content, so that rerunning `preprocess` with other thresholds,
// classes or crops re-decides without running the network again. One file
// per (detector hash, input size) in the cache folder; the layout is in
// docs/data.md. A missing, stale or damaged file is an empty cache.
#pragma once

#include <compare>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apps/data/clean/detection.h"

namespace rg::data {

// An image file's identity: FNV-1a 64 and CRC-32 of its bytes, and its size.
struct ContentKey {
  uint64_t fnv = 0;
  uint32_t crc = 0;
  uint64_t size = 0;
  auto operator<=>(const ContentKey&) const = default;
};
ContentKey content_key(std::span<const uint8_t> bytes);

class DetectionCache {
 public:
  // The file for this detector and input size under `dir`.
  static std::filesystem::path file_for(const std::filesystem::path& dir, uint64_t detector_hash,
                                        int input_size);

  // Reads `file` when it exists and was made by the same detector and input
  // size with a floor no higher than `floor`; otherwise starts empty and says
  // why in note().
  DetectionCache(std::filesystem::path file, uint64_t detector_hash, int input_size, float floor);

  std::optional<std::vector<Detection>> find(const ContentKey& key) const;  // thread-safe
  void insert(const ContentKey& key, std::vector<Detection> candidates);    // thread-safe
  // Writes every entry, old and new, sorted by key (atomic replace).
  void save() const;

  const std::filesystem::path& file() const { return file_; }
  const std::string& note() const { return note_; }
  float floor() const { return floor_; }  // candidates are stored down to this score
  size_t size() const;
  bool changed() const;

 private:
  std::filesystem::path file_;
  uint64_t detector_hash_;
  int input_size_;
  float floor_;
  std::string note_;
  mutable std::mutex mutex_;
  std::map<ContentKey, std::vector<Detection>> entries_;
  bool changed_ = false;
};

}  // namespace rg::data
