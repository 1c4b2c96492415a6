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

// The one atomic writer (every file the engine and the application write
// goes through it): a file written piece by piece under a temporary name of
// ours beside `path`, which appears whole or not at all. commit() fsyncs it,
// renames it over `path` and fsyncs the folder; destroyed without commit(),
// the temporary is removed and `path` is as it was. Writes are buffered.
// Every error throws std::runtime_error "cannot write <path>: <reason>".
class AtomicFile {
 public:
  // The temporary's suffix: this process's id (one writer per target per
  // process), or six random characters (several writers may race).
  enum class TempName { kProcessId, kRandom };
  explicit AtomicFile(std::filesystem::path path, TempName name = TempName::kProcessId);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::span<const uint8_t> bytes) { write(bytes.data(), bytes.size()); }
  // The bytes written so far.
  uint64_t size() const { return written_; }
  // fsync and close the temporary (commit() does it too); for sets of files
  // renamed together (write_files_atomic).
  void finish();
  // finish(), rename over the target, fsync the folder.
  void commit();
  // After the caller renamed the temporary itself: nothing left to remove.
  void release() { temp_.clear(); }
  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  [[noreturn]] void fail(int error);
  void write_through(const uint8_t* p, size_t n);
  void flush();
  std::filesystem::path path_, temp_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
  uint64_t written_ = 0;
};

// Writes `bytes` to `path` with an AtomicFile: readers see the old file or
// the whole new one, never a part. On failure the temporary file is removed
// and the message names `path` and the reason.
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
