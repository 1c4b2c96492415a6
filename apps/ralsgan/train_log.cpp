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
#include <regex>
#include <stdexcept>

#include "apps/data/read_file.h"
#include "engine/io/atomic_file.h"
#include "engine/io/json.h"

namespace rg::app {

namespace fs = std::filesystem;

namespace {

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

// A number, or null (as io::json_number writes NaN and infinity) read as
// NaN; false for anything else.
bool number_or_null(const io::Json& j, double& v) {
  if (j.is_null()) {
    v = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!j.is_number()) return false;
  v = j.get<double>();
  return true;
}

// A line's member `key`, as number_or_null reads it; false when missing.
bool read_number(const io::Json& o, const char* key, double& v) {
  const auto it = o.find(key);
  return it != o.end() && number_or_null(*it, v);
}

}  // namespace

std::string log_line(const LogRecord& r) {
  using io::json_number;
  io::Json o;
  o["step"] = r.step;
  o["epoch"] = json_number(r.epoch), o["loss_d"] = json_number(r.loss_d), o["loss_g"] = json_number(r.loss_g);
  o["c_real"] = json_number(r.c_real), o["c_fake"] = json_number(r.c_fake);
  o["images_per_s"] = json_number(r.images_per_s);
  if (!r.metrics.empty()) {
    io::Json m = io::Json::object();
    for (const auto& [name, v] : r.metrics) m[io::utf8_or_escaped(name)] = json_number(v);
    o["metrics"] = m;
  }
  if (!r.note.empty()) o["note"] = io::json_text(r.note);
  return io::dump_compact(o) + "\n";
}

bool parse_log_line(const std::string& line, LogRecord& r) {
  // Ordered: "metrics" keeps the order it was asked for in.
  io::Json o = io::Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (o.is_discarded()) {
    // Logs of earlier versions wrote a non-finite value as nan or inf (not
    // JSON): read those as null, so that resume rewrites them as JSON.
    static const std::regex bare(R"(:(-?nan|-?inf)(?=[,}]))");
    o = io::Json::parse(std::regex_replace(line, bare, ":null"), nullptr, false);
  }
  if (o.is_discarded() || !o.is_object()) return false;
  LogRecord x;
  const auto step = o.find("step");
  if (step == o.end() || !step->is_number_unsigned()) return false;
  x.step = step->get<uint64_t>();
  if (!read_number(o, "epoch", x.epoch) || !read_number(o, "loss_d", x.loss_d) ||
      !read_number(o, "loss_g", x.loss_g) || !read_number(o, "c_real", x.c_real) ||
      !read_number(o, "c_fake", x.c_fake) || !read_number(o, "images_per_s", x.images_per_s))
    return false;
  if (const auto m = o.find("metrics"); m != o.end()) {
    if (!m->is_object()) return false;
    for (const auto& [name, v] : m->items()) {
      double d;
      if (!number_or_null(v, d)) return false;
      x.metrics.emplace_back(name, d);
    }
  }
  if (const auto n = o.find("note"); n != o.end()) {
    if (!n->is_string()) return false;
    x.note = n->get<std::string>();
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
