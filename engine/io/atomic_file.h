// SPDX-License-Identifier: Apache-2.0
// Files that appear whole or not at all, and the temporary names they leave
// behind when a process is killed (docs/run_folder.md): the one helper every
// writer of the engine and the application uses. Every temporary name
// of ours is "<target>.rgtmp-<suffix>" in the target's folder (a marker no
// other program uses, so a user's "notes.tmp-1" is never taken for ours), and
// one rule finds them all: <suffix> is the writer's process id ("<pid>", or
// "<pid>-<n>" for the data cache), or six random characters [a-z0-9] for a
// file written by the safetensors writer.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/temp_marker.h"

namespace rg::io {

// "<target>.rgtmp-<our pid>".
std::filesystem::path temp_path_for(const std::filesystem::path& target);

// Writes `bytes` to `path` through temp_path_for(path), fsync and rename:
// readers see the old file or the whole new one, never a part. On failure the
// temporary file is removed and the message names `path` and the reason.
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);
inline void write_file_atomic(const std::filesystem::path& path, const std::string& text) {
  write_file_atomic(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// Several files published as one set (a plan and the header that names its
// checksum): every temporary is written and fsynced before the first rename,
// and if a rename fails, the files already replaced get their old contents
// back (from hard links made before) and new ones are removed, so the folder
// holds the old set or the new one, not a mix. (A kill between the renames
// can still leave a mix; a set's own checksums must tell.) Throws naming the
// file that failed.
void write_files_atomic(
    const std::vector<std::pair<std::filesystem::path, std::span<const uint8_t>>>& files);

// Makes the entries of a folder (a rename into it, a new file) durable. File
// systems that do not sync folders are accepted; a failed sync (EIO) throws
// naming the folder.
void fsync_dir(const std::filesystem::path& dir);

// Which temporary entries remove_temp_files may take.
enum class TempOwners {
  kAny,   // the folder is ours alone (a locked run folder): every one is stale
  kDead,  // others may be writing here (shards of `generate` into one folder):
          // only those whose <suffix> is the id of no running process
};
// Removes (recursively) the entries of `dir` named "<prefix>*.rgtmp-<suffix>"
// with a suffix of the forms above, per `which`; returns how many. Nothing
// else is touched. A missing folder has none. Outside a run folder give a
// prefix too (e.g. "image_").
size_t remove_temp_files(const std::filesystem::path& dir, TempOwners which,
                         const std::string& prefix = {});

}  // namespace rg::io
