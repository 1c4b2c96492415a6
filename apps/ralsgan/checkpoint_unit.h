// SPDX-License-Identifier: Apache-2.0
// A checkpoint is one unit (docs/contracts.md §1, docs/run_folder.md): the generator,
// discriminator and train state of one step, written into a new folder and
// published by one rename, so that a reader finds the old unit or the new one
// and never a mix, whenever the writer is killed or the disk fills. Reading
// one back verifies that its three files belong together.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

#include "rg/safetensors.h"

namespace rg::app {

// Fills the folder `staging` (new, empty, a sibling of `dir`) through `write`,
// makes it durable, then puts it in place of `dir` in one atomic step
// (renameat2 RENAME_EXCHANGE; where the file system lacks it, two renames that
// recover_checkpoints() completes after a crash). If `write` throws, `dir` is
// left as it was and the staging folder is removed.
void publish_checkpoint(const std::filesystem::path& dir,
                        const std::function<void(const std::filesystem::path& staging)>& write);

struct CheckpointUnit {
  io::SafetensorsContents generator, discriminator, train_state;
  // A run with a moving-average generator (--ema-kimg) has a fourth file,
  // which the train state names ("generator_ema_crc32").
  std::optional<io::SafetensorsContents> generator_ema;
  uint64_t step = 0;
};
// Reads the three files of `dir` and checks that each matches its checksum,
// that all three name the same step, and that the generator and discriminator
// are the ones the train state was saved with ("generator_crc32",
// "discriminator_crc32"). Throws naming the file at fault.
CheckpointUnit read_checkpoint(const std::filesystem::path& dir);

// Whether `name` is a kept copy's folder name: "epoch_" and four digits.
bool is_kept_copy_name(const std::string& name);

// After a crash between the two renames of the fallback publish, the unit
// that was in place is at "<dir>.old-<pid>": puts each such folder under
// `parent` back where it was (or drops it when a newer unit is in place).
void recover_checkpoints(const std::filesystem::path& parent);

}  // namespace rg::app
