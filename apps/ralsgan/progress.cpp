// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/progress.h"

#include <unistd.h>

#include <cstdio>

namespace rg::app {

std::string format_duration(double s) {
  char buf[32];
  const long t = long(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(std::string what, uint64_t total, std::string unit, uint64_t start)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), tty_(::isatty(2) != 0), start_done_(start) {
  start_ = last_ = std::chrono::steady_clock::now();
}

void Progress::update(uint64_t done, const std::string& extra) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (since < (tty_ ? 0.2 : 10.0) && done < total_) return;
  last_ = now;
  print(done, extra, false);
}

void Progress::finish(const std::string& extra) {
  if (!printed_final_) print(total_, extra, true);
}

void Progress::stopped(uint64_t done, const std::string& extra) {
  print(done, extra, true, "stopped at ");
  printed_final_ = true;
}

void Progress::print(uint64_t done, const std::string& extra, bool final, const char* verb) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const uint64_t base = start_done_;
  printed_final_ |= done >= total_;
  const double rate = elapsed > 0 && done > base ? double(done - base) / elapsed : 0.0;
  const std::string eta = rate > 0 && done < total_ && !*verb ? " ETA " + format_duration(double(total_ - done) / rate) : "";
  char line[256];
  if (tty_) {
    const int width = 24;
    const int filled = total_ ? int(double(done) / double(total_) * width) : width;
    std::string bar(size_t(filled), '#');
    bar.resize(size_t(width), '.');
    std::snprintf(line, sizeof line, "\r%s [%s] %s%llu/%llu %.1f %s/s%s %s\033[K", what_.c_str(), bar.c_str(),
                  verb, (unsigned long long)done, (unsigned long long)total_, rate, unit_.c_str(), eta.c_str(), extra.c_str());
    std::fputs(line, stderr);
    if (final) std::fputc('\n', stderr);
  } else {
    std::snprintf(line, sizeof line, "%s: %s%llu/%llu, %.1f %s/s%s %s\n", what_.c_str(), verb, (unsigned long long)done,
                  (unsigned long long)total_, rate, unit_.c_str(), eta.c_str(), extra.c_str());
    std::fputs(line, stderr);
  }
  std::fflush(stderr);
}

}  // namespace rg::app
