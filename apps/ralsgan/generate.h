// SPDX-License-Identifier: Apache-2.0
// `ralsgan generate` (docs/contracts.md §4, §5): G in eval mode (BatchNorm uses its
// running statistics), compiled once for a fixed batch, replayed; PNGs encoded
// by worker threads while the network computes the next batch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "apps/model/dcgan.h"
#include "rg/safetensors.h"
#include "apps/ralsgan/backend_select.h"

namespace rg::app {

struct GenerateOptions {
  std::filesystem::path checkpoint;  // RUN folder or a generator .safetensors file
  std::string generator = "auto";    // auto | ema | raw (generator_file)
  std::filesystem::path out;
  uint64_t count = 10000;
  uint64_t seed = 0;
  uint64_t start_index = 0;
  std::filesystem::path latents;  // safetensors with "z" [N, nz]; image i uses row i - start_index
  std::filesystem::path zip;
  BackendRequest backend;
  int batch = 64;  // the compiled batch; images do not depend on it
  int encoders = 0;  // PNG encoding threads; 0: cores - 1 (at least 1)
  bool quiet = false;
};

// The generator file a --checkpoint argument names.
// The generator file of a run folder, checkpoint folder or file: `which` =
// "auto" (the moving average when the run has one, else G), "ema" or "raw".
std::filesystem::path generator_file(const std::filesystem::path& checkpoint,
                                     const std::string& which = "auto");
// Size, width and nz of a generator state_dict, read from its tensor shapes
// (after checking its checksum, when it has one: files of ours do).
template <io::SafetensorsLike Contents>
model::ModelConfig infer_generator_config(const Contents& file, const std::string& label);
model::ModelConfig infer_generator_config(const std::filesystem::path& file);

struct GenerateResult {
  uint64_t images = 0;       // written, whole: indices start_index .. start_index + images - 1
  double seconds = 0;
  bool interrupted = false;  // stopped by SIGINT/SIGTERM (stop.h): no ZIP was written
};
// Throws std::invalid_argument for options that cannot be met: image indices
// past 2^64 - 1, more images than a ZIP holds.
void validate_generate_options(const GenerateOptions& opt);
// Checks the options and the --zip path before any work, then generates.
// Stops between batches on SIGINT/SIGTERM (stop.h).
GenerateResult generate(const GenerateOptions& opt);

}  // namespace rg::app
