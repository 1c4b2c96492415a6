// SPDX-License-Identifier: Apache-2.0
// What commands.cpp and commands_decode.cpp share: the --size rule, and the
// folder half of `train --data` (commands_decode.cpp, in builds with image
// decoding only: RALSGAN_HAVE_DECODE).
#pragma once

#include <filesystem>

#include "apps/data/dataset.h"
#include "apps/ralsgan/cli.h"

namespace rg::app {

// --size: 32, 64, 128 or 256 (UsageError otherwise).
int parse_size(const Flags& f);

struct TrainOptions;
// The training recipe's flags (train and demo): --recipe, --ema-kimg,
// --ema-rampup, --diffaugment; `command` names the command in usage errors.
void add_recipe_flags(Flags& f);
void apply_recipe_flags(const Flags& f, const std::string& command, TrainOptions& o);

// Metrics during training (train and demo; builds with apps/metrics):
// --metrics-every, --metrics, --metrics-count, --inception. The real images
// are the first --metrics-count of `real`; FID/KID's real statistics are
// cached in RUN/real_stats.safetensors.
void add_training_metrics_flags(Flags& f);
// With `real` null only checks the flags (usage errors before any work).
void apply_training_metrics_flags(const Flags& f, const std::string& command,
                                  const data::Dataset* real, TrainOptions& o);

// A folder of images, decoded and letterboxed, cached and reused while the
// folder is unchanged.
data::Dataset load_folder(const std::filesystem::path& folder, int size, data::Fit fit,
                          unsigned threads);

}  // namespace rg::app
