// SPDX-License-Identifier: Apache-2.0
// `ralsgan export` (docs/embedded.md): the generator compiled exactly as
// `ralsgan generate --backend ref` compiles it (f32, same schedule, fusion
// groups and memory plan), written as a checksummed plan file that the C
// runtime in runtime/ runs, plus a C header with its sizes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "engine/session.h"
#include "runtime/rg_plan_format.h"

namespace rg::app {

struct ExportOptions {
  std::filesystem::path checkpoint;  // RUN folder or generator .safetensors
  std::string generator = "auto";    // auto | ema | raw (generator_file)
  std::filesystem::path out;         // folder for model.rgplan and model.h
  int batch = 1;                     // images per rg_run
  rg_weight_type weights =
      RG_WEIGHTS_F32;  // bf16 halves the file; images then differ (bench/RESULTS.md)
};

struct ExportResult {
  std::filesystem::path plan_file, header_file;
  uint64_t file_bytes = 0, arena_bytes = 0, weights_bytes = 0;
  int kernels = 0;
};

// The plan file of a compiled generation graph whose session holds the
// weights: one kernel record per fusion group, the engine's arena offsets,
// the variables packed (aligned) into the weights section. Throws naming the
// op when the plan holds something the runtime has no kernel for.
std::vector<uint8_t> encode_plan(const Plan& plan, const Session& session, ValueId latents,
                                 ValueId images, rg_weight_type weights = RG_WEIGHTS_F32);

// "#define RG_MODEL_ARENA_BYTES ..." and the other sizes of a plan file's header.
std::string plan_c_header(const std::vector<uint8_t>& plan_file, const std::string& source);

// Reads the checkpoint, compiles, writes <out>/model.rgplan and <out>/model.h
// (each atomically).
ExportResult export_plan(const ExportOptions& options);

// Writes the generator as a standard ONNX model (docs/onnx.md): input "z"
// [N, nz], output "images" [N, 3, S, S] in [-1, 1], N free. Throws
// std::runtime_error where this build has no ONNX support.
void export_onnx(const std::filesystem::path& checkpoint, const std::filesystem::path& onnx_file,
                 const std::string& generator = "auto");

}  // namespace rg::app
