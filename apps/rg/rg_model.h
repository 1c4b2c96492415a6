// SPDX-License-Identifier: Apache-2.0
// What every rg command shares: loading an ONNX model with the command's
// --batch and --const flags, compiling it on a backend, and feeding inputs
// from .npy files or from a fixed seed.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "apps/ralsgan/cli.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "rg/onnx.h"

namespace rg::tool {

// Exit codes (docs/onnx.md): usage errors and models the engine cannot run
// exit 2, bad files 1.
constexpr int kBadFile = 1, kUsage = 2;

// --batch and --const NAME=FILE.npy.
void add_model_flags(app::Flags& f);
onnx::Model load_model(const std::string& path, const app::Flags& f);

// NAME=FILE pairs of a repeated flag.
std::map<std::string, std::string> name_files(const app::Flags& f, const std::string& flag);

// The model's input values: from --input files where given (shapes must
// match), else uniform in [-1, 1) from a fixed seed (when `random_ok`).
std::map<std::string, std::vector<float>> input_values(const onnx::Model& m, const app::Flags& f,
                                                       bool random_ok);

struct Compiled {
  std::unique_ptr<Plan> plan;
  std::unique_ptr<Session> session;
};
// The model's weights stay where they are on host backends (the session
// reads them in place: `m` must outlive it); a GPU gets a copy.
Compiled compile_model(const onnx::Model& m, Backend& be,
                       const std::map<std::string, std::vector<float>>& inputs);

}  // namespace rg::tool
