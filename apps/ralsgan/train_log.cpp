// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/train_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "apps/data/read_file.h"
#include "engine/io/atomic_file.h"
#include "engine/io/json.h"

namespace rg::app {

namespace fs = std::filesystem;

namespace {

std::string num(double v) { return io::json_number(v, 9); }  // null for NaN and infinity

[[noreturn]] void cannot(const std::string& what, const fs::path& path, int e) {
  throw std::runtime_error("cannot " + what + " " + path.string() + ": " + std::strerror(e));
}

// The whole file, or "" when there is none. A FIFO in its place is refused,
// not waited on (read_regular_file).
std::string read_existing(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return {};
  std::vector<uint8_t> bytes;
  std::string error;
  if (!data::read_regular_file(path, bytes, error))
    throw std::runtime_error(path.string() + ": " + error);
  return std::string(bytes.begin(), bytes.end());
}

int open_for_append(const fs::path& path, int extra_flags) {
  // Never through a symbolic link: truncating or appending to whatever it
  // points at would write a file that is not the run's.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | extra_flags, 0644);
  if (fd < 0 && errno == ELOOP)
    throw std::runtime_error(path.string() + " is a symbolic link; the run's log is written only as a file of its own "
                                             "(remove the link)");
  if (fd < 0) cannot("write", path, errno);
  return fd;
}

}  // namespace

namespace {

std::string metrics_json(const LogRecord& r) {
  if (r.metrics.empty()) return "";
  std::string s = ",\"metrics\":{";
  for (size_t i = 0; i < r.metrics.size(); ++i)
    s += (i ? "," : "") + io::json_string(r.metrics[i].first) + ":" + num(r.metrics[i].second);
  return s + "}";
}

// "metrics":{"name":value,...} of a line of ours (names are plain words).
void parse_metrics(const std::string& line, LogRecord& r) {
  const size_t p = line.find(",\"metrics\":{");
  if (p == std::string::npos) return;
  size_t i = p + 12;
  while (i < line.size() && line[i] == '"') {
    const size_t q = line.find('"', i + 1);
    if (q == std::string::npos || q + 1 >= line.size() || line[q + 1] != ':') return;
    const std::string name = line.substr(i + 1, q - i - 1);
    const char* s = line.c_str() + q + 2;
    char* end = nullptr;
    double v = std::numeric_limits<double>::quiet_NaN();
    if (std::strncmp(s, "null", 4) == 0)
      end = const_cast<char*>(s) + 4;
    else
      v = std::strtod(s, &end);
    if (end == s) return;
    r.metrics.emplace_back(name, v);
    i = size_t(end - line.c_str());
    if (i < line.size() && line[i] == ',') ++i;
  }
}

}  // namespace

std::string log_line(const LogRecord& r) {
  return "{\"step\":" + std::to_string(r.step) + ",\"epoch\":" + num(r.epoch) +
         ",\"loss_d\":" + num(r.loss_d) + ",\"loss_g\":" + num(r.loss_g) +
         ",\"c_real\":" + num(r.c_real) + ",\"c_fake\":" + num(r.c_fake) +
         ",\"images_per_s\":" + num(r.images_per_s) + metrics_json(r) +
         (r.note.empty() ? "" : ",\"note\":" + io::json_string(r.note)) + "}\n";
}

bool parse_log_line(const std::string& line, LogRecord& r) {
  if (line.size() < 2 || line.front() != '{' || line.back() != '}') return false;
  auto field = [&](const char* key, double& v) {
    const std::string k = std::string("\"") + key + "\":";
    const size_t p = line.find(k);
    if (p == std::string::npos) return false;
    const char* s = line.c_str() + p + k.size();
    if (std::strncmp(s, "null", 4) == 0) {
      v = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    char* end = nullptr;
    v = std::strtod(s, &end);
    return end != s && (*end == ',' || *end == '}');
  };
  double step = -1;
  LogRecord x;
  if (!field("step", step) || !(step >= 0) || !field("epoch", x.epoch) ||
      !field("loss_d", x.loss_d) || !field("loss_g", x.loss_g) || !field("c_real", x.c_real) ||
      !field("c_fake", x.c_fake) || !field("images_per_s", x.images_per_s))
    return false;
  x.step = uint64_t(step);
  parse_metrics(line, x);
  // "note" (ours, last): kept as written, its escapes undone for \" and \\ only (our notes have no others).
  if (const size_t p = line.find(",\"note\":\""); p != std::string::npos) {
    for (size_t i = p + 9; i + 1 < line.size(); ++i) {
      if (line[i] == '"') break;
      if (line[i] == '\\' && i + 2 < line.size()) ++i;
      x.note += line[i];
    }
  }
  r = x;
  return true;
}

TrainLog::TrainLog(fs::path path, int fd, std::vector<LogRecord> kept)
    : path_(std::move(path)), fd_(fd), records_(std::move(kept)) {}

TrainLog::TrainLog(TrainLog&& o) noexcept
    : path_(std::move(o.path_)), fd_(o.fd_), records_(std::move(o.records_)) {
  o.fd_ = -1;
}

TrainLog::~TrainLog() {
  if (fd_ >= 0) ::close(fd_);
}

TrainLog TrainLog::start(const fs::path& path) {
  return TrainLog(path, open_for_append(path, O_TRUNC), {});
}

TrainLog TrainLog::resume(const fs::path& path, uint64_t step) {
  const std::string text = read_existing(path);
  // Keep the lines of steps up to the checkpoint's, in increasing order, each
  // written again as we write lines (so every kept line is valid JSON); drop
  // what came after it (those steps are run again) and a last line cut short
  // by a kill. A whole line that is not ours is an error naming it: the log
  // is not rewritten over something we cannot read.
  std::string kept_text;
  std::vector<LogRecord> kept;
  size_t line_no = 0, dropped = 0;
  for (size_t at = 0; at < text.size();) {
    const size_t nl = text.find('\n', at);
    if (nl == std::string::npos) break;  // a last line without its newline: cut short
    const std::string line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    LogRecord r;
    if (!parse_log_line(line, r))
      throw std::runtime_error(path.string() + ": line " + std::to_string(line_no) +
                               " is not a log line of ralsgan train; the log is left as it is (remove or repair "
                               "that line, then resume)");
    if (r.step > step || (!kept.empty() && r.step <= kept.back().step)) {
      ++dropped;
      continue;
    }
    kept.push_back(r);
    kept_text += log_line(r);
  }
  if (dropped)
    std::fprintf(stderr, "note: %s: %zu line(s) after the checkpoint's step %llu dropped (those steps run again)\n",
                 path.string().c_str(), dropped, (unsigned long long)step);
  if (kept_text != text) io::write_file_atomic(path, kept_text);
  return TrainLog(path, open_for_append(path, 0), std::move(kept));
}

void TrainLog::append(const LogRecord& r) {
  const std::string line = log_line(r);
  struct stat st {};
  const off_t before = ::fstat(fd_, &st) == 0 ? st.st_size : -1;
  for (size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // A disk that filled mid-line: take the part back, so that the log
      // holds whole lines only (best effort; resume drops a cut line anyway).
      const int e = n < 0 ? errno : EIO;
      if (before >= 0 && done > 0) (void)!::ftruncate(fd_, before);
      cannot("write", path_, e);
    }
    done += size_t(n);
  }
  records_.push_back(r);
}

void TrainLog::sync() {
  if (::fsync(fd_) != 0 && errno != EINVAL) cannot("write", path_, errno);
}

}  // namespace rg::app
