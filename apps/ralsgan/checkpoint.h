// SPDX-License-Identifier: Apache-2.0
// Checkpoint files (docs/contracts.md §1): generator.safetensors and
// discriminator.safetensors hold PyTorch state_dict tensors under PyTorch's
// names (plain layouts, float32, num_batches_tracked int64);
// train_state.safetensors holds the Adam moments and counters, plus the run's
// options as metadata. Every file we write carries a checksum of its contents
// in its metadata ("crc32", docs/run_folder.md); the three files are published
// together as one unit by checkpoint_unit.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "apps/model/dcgan.h"
#include "rg/safetensors.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg::app {

// Reads every tensor of `specs` from a session's variables "<prefix><key>".
io::SafetensorsContents export_network(const Session& s, const std::vector<model::ParamSpec>& specs,
                                       const std::string& prefix);
// The same tensors written to `path` (atomically) one at a time, without a
// copy of the whole network in memory; metadata {"format": "pt"} plus
// `metadata` plus "crc32". Returns the checksum.
uint32_t write_network(const std::filesystem::path& path, const Session& s, const std::vector<model::ParamSpec>& specs,
                       const std::string& prefix, const std::map<std::string, std::string>& metadata = {});
// Copies the network's variables "<prefix><key>" from one session to another.
void copy_network(const Session& from, Session& to, const std::vector<model::ParamSpec>& specs, const std::string& prefix);
// The same into variables "<to_prefix><key>" (G_ema into a generation graph's G, or G into G_ema).
void copy_network(const Session& from, Session& to, const std::vector<model::ParamSpec>& specs,
                  const std::string& prefix, const std::string& to_prefix);
// Loads a state_dict file into variables "<prefix><key>". Every key must be
// present with the expected shape; float tensors may be F32 or F64, counters
// I64. Errors name the file, the tensor, what was expected and what was found.
template <io::SafetensorsLike Contents>
void import_network(Session& s, const Contents& file, const std::string& label,
                    const std::vector<model::ParamSpec>& specs, const std::string& prefix);
// The same checks without a session (for `generate --checkpoint FILE` before compiling).
template <io::SafetensorsLike Contents>
void check_network_file(const Contents& file, const std::string& label,
                        const std::vector<model::ParamSpec>& specs);

// Adam state of both networks and the step counters: names "adam.<G|D>.<key>.exp_avg",
// "adam.<G|D>.<key>.exp_avg_sq", "adam.G.step", "adam.D.step"; written to
// `path` (atomically) one tensor at a time, with `metadata` plus "crc32".
// Returns the checksum.
uint32_t write_train_state(const std::filesystem::path& path, const Session& s, const std::vector<model::ParamSpec>& g_specs,
                       const std::vector<model::ParamSpec>& d_specs, const std::map<std::string, std::string>& metadata);
template <io::SafetensorsLike Contents>
void import_train_state(Session& s, const Contents& file, const std::string& label,
                        const std::vector<model::ParamSpec>& g_specs, const std::vector<model::ParamSpec>& d_specs);

// The checksum of a file's contents: CRC-32 (zlib's) over, for each tensor in
// name order, its name, dtype, shape and bytes, then over each metadata entry
// in key order except "crc32" itself (docs/run_folder.md gives the bytes).
template <io::SafetensorsLike Contents>
uint32_t contents_crc32(const Contents& file);
std::string crc32_text(uint32_t crc);  // 8 lower-case hex digits, as stored
// Checks the stored "crc32" against the contents; throws naming `label` on a
// mismatch, or when there is none and `required`. Returns whether one was there.
template <io::SafetensorsLike Contents>
bool verify_checksum(const Contents& file, const std::string& label, bool required);

// A checkpoint folder: generator, discriminator and train state files.
struct CheckpointPaths {
  std::filesystem::path generator, discriminator, train_state;
  // The moving-average generator (runs with --ema-kimg): its own state_dict,
  // named in the train state ("generator_ema_crc32"), the file `generate`
  // and `export` use unless told --weights raw.
  std::filesystem::path generator_ema;
  static CheckpointPaths in(const std::filesystem::path& dir);
};

}  // namespace rg::app
