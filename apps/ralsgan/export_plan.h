// SPDX-License-Identifier: Apache-2.0
// `ralsgan export` (docs/embedded.md): the generator compiled exactly as
// `ralsgan generate --backend ref` compiles it (f32, same schedule, fusion
// groups and memory plan), written as a checksummed plan file that the C
// runtime in runtime/ runs (input "z" [batch, nz], output "images"
// [batch, 3, S, S]), plus a C header with its sizes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/ralsgan/plan_encoder.h"

namespace rg::app {

struct ExportOptions {
  std::filesystem::path checkpoint;  // RUN folder or generator .safetensors
  std::string generator = "auto";    // auto | ema | raw (generator_file)
  std::filesystem::path out;         // folder for model.rgplan and model.h
  int batch = 1;                     // images per rg_run
  rg_weight_type weights =
      RG_WEIGHTS_F32;  // bf16 halves the file; images then differ (bench/RESULTS.md)
  size_t scratch_bytes = EncodeOptions{}.scratch_bytes;  // --scratch-kib
  bool fold_batch_norm = false;                          // --fold-bn
};

struct ExportResult {
  std::filesystem::path plan_file, header_file;
  uint64_t file_bytes = 0, arena_bytes = 0, weights_bytes = 0;
  int kernels = 0;
};

// The plan file's bytes (what export_plan writes as model.rgplan).
std::vector<uint8_t> generator_plan(const ExportOptions& options);

// Images 0 .. count - 1 of `seed` from a generator plan, run by the C
// runtime in this process: interleaved 8-bit RGB, one after another; *size
// gets their side.
std::vector<uint8_t> runtime_images(const std::vector<uint8_t>& plan_file, uint64_t seed, int count, int* size);

// Reads the checkpoint, compiles, writes <out>/model.rgplan and <out>/model.h
// (each atomically).
ExportResult export_plan(const ExportOptions& options);

// Writes the generator as a standard ONNX model (docs/onnx.md): input "z"
// [N, nz], output "images" [N, 3, S, S] in [-1, 1], N free. Throws
// std::runtime_error where this build has no ONNX support.
void export_onnx(const std::filesystem::path& checkpoint, const std::filesystem::path& onnx_file,
                 const std::string& generator = "auto");

}  // namespace rg::app
