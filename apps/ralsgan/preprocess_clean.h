// SPDX-License-Identifier: Apache-2.0
// `ralsgan preprocess`'s cleaning flags (docs/data.md): the detector and its
// thresholds, the exclude list, near-duplicates, and the two folders it can
// write besides the cache (--export-images, --review).
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "apps/data/clean/cleaning.h"
#include "apps/data/dataset.h"
#include "apps/ralsgan/cli.h"
#include "apps/ralsgan/owned_folder.h"

namespace rg::app {

// Declares the flags on `f`.
void add_clean_flags(Flags& f);

// What the flags ask for; holds the detector and its cache.
struct CleanSetup {
  data::CleanOptions options;
  std::unique_ptr<data::Detector> detector;
  std::unique_ptr<data::DetectionCache> detections;
  bool active = false;                            // any cleaning flag given
  std::unique_ptr<OwnedFolder> review, exported;  // --review, --export-images
};

// Reads the flags; loads and checks the detector (errors name the file).
// `cache_dir` holds the detection cache.
std::unique_ptr<CleanSetup> make_clean_setup(const Flags& f,
                                             const std::filesystem::path& cache_dir);

// After the build: saves the detection cache, prints what cleaning did.
void finish_cleaning(CleanSetup& setup, const data::BuildReport& report);

// --export-images: every cached image as a PNG named after its source.
void export_images(const data::Dataset& ds, OwnedFolder& out);
// --review: the page and its thumbnails.
void write_review(const data::BuildReport& report, const std::string& cache_file,
                  CleanSetup& setup);

}  // namespace rg::app
