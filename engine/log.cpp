// SPDX-License-Identifier: Apache-2.0
#include "rg/log.h"

#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

namespace rg {

namespace {

std::mutex& log_mutex() {
  static std::mutex m;
  return m;
}

LogCallback& current() {
  static LogCallback cb;
  return cb;
}

// The default: one line on stderr; debugging output as it is.
void to_stderr(LogLevel level, std::string_view message) {
  const char* prefix = level == LogLevel::kWarning ? "warning: " : level == LogLevel::kError ? "error: " : "";
  const std::string line = prefix + std::string(message) + "\n";
  std::fputs(line.c_str(), stderr);
}

}  // namespace

LogCallback set_log_callback(LogCallback callback) {
  std::lock_guard<std::mutex> lock(log_mutex());
  return std::exchange(current(), std::move(callback));
}

void log(LogLevel level, std::string_view message) {
  LogCallback cb;
  {
    std::lock_guard<std::mutex> lock(log_mutex());
    cb = current();
  }
  if (cb)
    cb(level, message);
  else
    to_stderr(level, message);
}

}  // namespace rg
