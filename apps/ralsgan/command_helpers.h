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

// A folder of images, decoded and letterboxed, cached and reused while the
// folder is unchanged.
data::Dataset load_folder(const std::filesystem::path& folder, int size, data::Fit fit,
                          unsigned threads);

}  // namespace rg::app
