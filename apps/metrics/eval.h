// SPDX-License-Identifier: Apache-2.0
// The `ralsgan eval` entry point: SWD, FID and KID of a fake image set against
// a real one. See docs/metrics.md for the definitions and choices.
#pragma once

#include "engine/backend.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "apps/metrics/fid.h"
#include "apps/metrics/swd.h"

namespace rg::metrics {

// An 8-bit RGB image, HWC, rows top to bottom.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3
};

// Every image file (png, jpg, jpeg, bmp, webp, tif, tiff; case-insensitive) in
// `dir`, not recursive, sorted by file name, decoded by OpenCV to RGB.
// Throws std::runtime_error naming the folder (missing, no images) or the file
// that cannot be decoded.
std::vector<Image> load_image_folder(const std::string& dir);

struct EvalOptions {
  // Images: in memory, or a folder (used when the vector is empty).
  std::vector<Image> real, fake;
  std::string real_dir, fake_dir;
  std::vector<std::string> metrics{"swd", "fid", "kid"};  // any of swd, fid, kid
  std::string inception;        // weights for fid/kid (tools/inception/convert_pt_inception.py)
  double inception_width = 1.0;
  int inception_batch = 8;
  std::function<std::unique_ptr<Backend>()> make_backend;  // where Inception runs; empty: reference backend
  // Optional cache of the real set's Inception statistics (mu, sigma, features):
  // read when the file exists (the real images are then not needed for fid/kid),
  // written after computing them otherwise.
  std::string real_stats_cache;
  uint64_t seed = 0;            // SWD patches/directions, KID subsets
  SwdOptions swd;               // its seed is replaced by `seed`
  KidOptions kid;               // its seed is replaced by `seed`
  // Progress: (stage, done, total); stage is "inception real", "inception fake".
  std::function<void(const std::string&, size_t, size_t)> progress;
};

struct MetricsReport {
  size_t real_count = 0, fake_count = 0;
  int real_size = 0, fake_size = 0;
  std::optional<SwdResult> swd;
  std::optional<double> fid;
  std::optional<KidResult> kid;
  bool real_stats_from_cache = false;

  std::string table() const;  // human-readable, one metric per line
  std::string json() const;   // one JSON object
};

// Throws std::invalid_argument for bad options (unknown metric, fid/kid without
// `inception`, no images) and std::runtime_error for files that cannot be read;
// every message names the option or file at fault.
MetricsReport evaluate(const EvalOptions& opts);

// Writes report.json() + "\n" to `path` (temporary file + rename).
void write_json(const MetricsReport& report, const std::string& path);

}  // namespace rg::metrics
