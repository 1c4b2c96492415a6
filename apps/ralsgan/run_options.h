// SPDX-License-Identifier: Apache-2.0
// What a training run records about its options, and how a resume compares
// them: the train state's metadata (docs/checkpoint.md) and RUN/options.json
// (docs/run_folder.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "apps/data/dataset.h"
#include "apps/ralsgan/backend_select.h"
#include "apps/ralsgan/trainer.h"

namespace rg::app {

using Metadata = std::map<std::string, std::string>;

// A number as the train state's metadata writes it (%.9g: a double's value
// to float precision, the same text on every machine).
std::string metadata_number(double v);

// The options a resumed run must share with the run it continues, and where
// it stands (step, epoch). The data set is identified by its pixels
// (in training order), not by file names or times: a copied folder resumes,
// a changed image does not.
Metadata run_metadata(const TrainOptions& o, const data::Dataset& ds, uint32_t data_crc,
                      uint64_t step, uint64_t epoch);

// Drops the entries that hold the value their absence means: runs from before
// EMA and DiffAugment existed had neither, and a seed-recipe run's train
// state stays byte for byte what it was then.
void drop_default_metadata(Metadata& m);

// Throws, naming `label` (the train state's file), when `saved` was trained
// with other options than `now`.
void check_resumable(const Metadata& saved, const Metadata& now, const std::string& label);

// RUN/options.json: every option of this invocation (`command`: train or
// demo), the version, the backend and the processor.
void write_options_json(const TrainOptions& o, const SelectedBackend& be,
                        const std::string& arithmetic, const std::filesystem::path& path);

}  // namespace rg::app
