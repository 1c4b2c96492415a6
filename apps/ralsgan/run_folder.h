// SPDX-License-Identifier: Apache-2.0
// A run folder has one owner (docs/contracts.md §1, docs/run_folder.md). Opening one for
// `train` locks it (an advisory flock on the folder itself, released when the
// process ends, however it ends), so a second trainer on the same folder is
// refused; completes or removes what a killed trainer left half-done; and
// refuses to train from scratch over a folder that holds a checkpoint unless
// told to start over.
#pragma once

#include <filesystem>
#include <vector>

namespace rg::app {

class RunFolder {
 public:
  enum class Mode {
    kNew,        // train from scratch: refused if the folder holds a checkpoint
    kResume,     // continue from RUN/checkpoint
    kStartOver,  // delete the folder's checkpoints, samples and log, then train from scratch
  };
  // Creates the folder if needed, locks it, then (under the lock) recovers an
  // interrupted checkpoint publish, removes stale temporary files, and checks
  // `mode` against what the folder holds. Throws naming the folder.
  RunFolder(const std::filesystem::path& dir, Mode mode);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path checkpoint() const { return dir_ / "checkpoint"; }
  std::filesystem::path kept_checkpoints() const { return dir_ / "checkpoints"; }
  // The checkpoint unit of the best step by the first --metrics value.
  std::filesystem::path best() const { return dir_ / "best"; }
  // Every option of the latest train invocation, the version, the backend and the processor.
  std::filesystem::path options() const { return dir_ / "options.json"; }
  // The kept copies RUN/checkpoints/epoch_NNNN (folders of that name only),
  // oldest first.
  std::vector<std::filesystem::path> kept_copies() const;
  std::filesystem::path samples() const { return dir_ / "samples"; }
  std::filesystem::path log() const { return dir_ / "log.jsonl"; }
  // Throws when the path no longer names the folder this trainer locked (it
  // was moved away or deleted and made again, perhaps with another trainer in
  // it): nothing more is written there.
  void check_still_ours() const;

 private:
  void prepare(Mode mode);  // the part under the lock
  std::filesystem::path dir_;
  int lock_fd_ = -1;
};

}  // namespace rg::app
