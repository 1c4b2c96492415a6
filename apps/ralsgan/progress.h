// SPDX-License-Identifier: Apache-2.0
// Progress of long work (docs/contracts.md §1): on a terminal a bar redrawn in place with
// done/total, rate and ETA; otherwise plain log lines at most every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rg::app {

class Progress {
 public:
  // `start`: items already done before this run (a resumed run's rate counts from there).
  Progress(std::string what, uint64_t total, std::string unit, uint64_t start = 0);
  // Report `done` items so far; `extra` is appended (e.g. losses).
  void update(uint64_t done, const std::string& extra = {});
  void finish(const std::string& extra = {});
  // The last line of work stopped early: "<what>: stopped at <done>/<total>".
  void stopped(uint64_t done, const std::string& extra = {});

 private:
  void print(uint64_t done, const std::string& extra, bool final, const char* verb = "");
  std::string what_, unit_;
  uint64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
  uint64_t start_done_;
  bool printed_final_ = false;
};

std::string format_duration(double seconds);

}  // namespace rg::app
