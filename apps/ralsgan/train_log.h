// SPDX-License-Identifier: Apache-2.0
// RUN/log.jsonl (docs/run_folder.md): one JSON object per logged step. It
// stays true to the checkpoint: a resumed run first cuts it back to the
// checkpoint's step, so no step appears twice and steps only go up; every
// line is valid JSON (a non-finite number is written as null); a failed write
// is an error naming the file, never a silently short log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace rg::app {

struct LogRecord {
  uint64_t step = 0;
  double epoch = 0, loss_d = 0, loss_g = 0, c_real = 0, c_fake = 0, images_per_s = 0;
  // Image-quality metrics measured at this step (--metrics-every), in the
  // order asked for: "metrics": {"swd": ...}. Empty: none this step.
  std::vector<std::pair<std::string, double>> metrics;
  std::string note;  // "note": what happened before this step (an inexact resume); empty: none
};

// The line for one record, ending in '\n'.
std::string log_line(const LogRecord& r);
// Parses a line of ours; false for anything else (a line cut short by a kill).
bool parse_log_line(const std::string& line, LogRecord& r);

class TrainLog {
 public:
  // A fresh run: an empty log (truncating any old one in place).
  static TrainLog start(const std::filesystem::path& path);
  // A resumed run: keeps the records up to `step` (the checkpoint's) and
  // drops the rest, atomically, before appending.
  static TrainLog resume(const std::filesystem::path& path, uint64_t step);
  TrainLog(TrainLog&& o) noexcept;
  ~TrainLog();

  void append(const LogRecord& r);  // throws naming the file when it cannot be written
  void sync();                      // fsync: what is logged survives a crash (before a checkpoint)
  const std::vector<LogRecord>& records() const { return records_; }

 private:
  TrainLog(std::filesystem::path path, int fd, std::vector<LogRecord> kept);
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<LogRecord> records_;
};

}  // namespace rg::app
