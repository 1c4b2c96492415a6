// SPDX-License-Identifier: Apache-2.0
#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <random>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace rg::io {

namespace fs = std::filesystem;

namespace {
// The characters of a random temporary suffix (TempName::kRandom), written
// by AtomicFile and recognised by is_our_suffix.
constexpr std::string_view kRandomSuffixChars = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr int kRandomSuffixLength = 6;
}  // namespace

fs::path temp_path_for(const fs::path& target) {
  return target.string() + kTempMarker + std::to_string(::getpid());
}

AtomicFile::AtomicFile(fs::path path, TempName name) : path_(std::move(path)) {
  if (name == TempName::kProcessId) {
    temp_ = temp_path_for(path_);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } else {  // O_EXCL on random names: several writers may race for one target
    std::random_device rd;
    std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd() ^ uint64_t(::getpid()));
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      std::string t = path_.string() + kTempMarker;
      for (int k = 0; k < kRandomSuffixLength; ++k) t += kRandomSuffixChars[gen() % kRandomSuffixChars.size()];
      temp_ = t;
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) break;
    }
  }
  if (fd_ < 0) {
    const int e = errno;
    temp_.clear();  // not ours to remove
    throw std::runtime_error("cannot write " + path_.string() + ": cannot create a temporary file beside it (" +
                             std::strerror(e) + ")");
  }
  buffer_.reserve(64 * 1024);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::fail(int error) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
  throw std::runtime_error("cannot write " + path_.string() + ": " + std::strerror(error));
}

// Writes all of [p, p + n) to the temporary, as write(2) allows.
void AtomicFile::write_through(const uint8_t* p, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(fd_, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail(w < 0 ? errno : EIO);
    done += size_t(w);
  }
}

void AtomicFile::flush() {
  write_through(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFile::write(const void* data, size_t bytes) {
  if (fd_ < 0) throw std::logic_error("AtomicFile::write after finish: " + path_.string());
  const auto* p = static_cast<const uint8_t*>(data);
  written_ += bytes;
  if (buffer_.size() + bytes > buffer_.capacity()) flush();
  if (bytes >= buffer_.capacity()) return write_through(p, bytes);  // large writes: no copy
  buffer_.insert(buffer_.end(), p, p + bytes);
}

void AtomicFile::finish() {
  if (fd_ < 0) return;
  flush();
  if (::fsync(fd_) != 0) fail(errno);
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail(errno);
}

void AtomicFile::commit() {
  finish();
  if (::rename(temp_.c_str(), path_.c_str()) != 0) fail(errno);
  temp_.clear();
  fsync_dir(path_.parent_path().empty() ? fs::path(".") : path_.parent_path());
}

void write_file_atomic(const fs::path& path, std::span<const uint8_t> bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

void write_files_atomic(const std::vector<std::pair<fs::path, std::span<const uint8_t>>>& files) {
  std::vector<std::string> tmps, backups;
  auto drop = [](const std::vector<std::string>& names, size_t from) {
    for (size_t i = from; i < names.size(); ++i)
      if (!names[i].empty()) ::unlink(names[i].c_str());
  };
  {
    // Every temporary written and fsynced first; a failure removes them all.
    std::vector<std::unique_ptr<AtomicFile>> written;
    for (const auto& [path, bytes] : files) {
      written.push_back(std::make_unique<AtomicFile>(path));
      written.back()->write(bytes);
      written.back()->finish();
    }
    for (auto& f : written) tmps.push_back(f->temp_path().string()), f->release();
  }
  // The old files stay reachable under a temporary name of ours until the whole set is in.
  std::vector<bool> existed;
  for (const auto& [path, bytes] : files) {
    std::string b = temp_path_for(path).string() + "-1";
    existed.push_back(::access(path.c_str(), F_OK) == 0);
    backups.push_back(existed.back() && ::link(path.c_str(), b.c_str()) == 0 ? b : std::string());
  }
  for (size_t k = 0; k < files.size(); ++k) {
    if (::rename(tmps[k].c_str(), files[k].first.c_str()) == 0) continue;
    const int e = errno;
    for (size_t j = 0; j < k; ++j) {  // back to the old set (a file without a backup stays new)
      if (!existed[j])
        ::unlink(files[j].first.c_str());
      else if (!backups[j].empty())
        (void)::rename(backups[j].c_str(), files[j].first.c_str());
    }
    drop(tmps, k);
    drop(backups, k);
    throw std::runtime_error(
        "cannot write " + files[k].first.string() + ": " + std::strerror(e) +
        (k ? " (the files written before it were put back as they were)" : ""));
  }
  drop(backups, 0);
  if (!files.empty())
    fsync_dir(files.front().first.parent_path().empty() ? "." : files.front().first.parent_path());
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  const int rc = ::fsync(fd), e = errno;
  ::close(fd);
  // Some file systems do not sync folders (EINVAL, ENOTSUP, EROFS): nothing to
  // do there. A failed sync (EIO: the disk) means the renames may not last.
  if (rc != 0 && e != EINVAL && e != ENOTSUP && e != EROFS && e != EBADF)
    throw std::runtime_error("cannot make " + dir.string() +
                             "'s new entries durable (fsync of the folder): " + std::strerror(e));
}

namespace {

bool all_of_set(const std::string& s, const char* set) {
  return !s.empty() && s.find_first_not_of(set) == std::string::npos;
}

// The writer's process id in a suffix of ours: "123" or "123-4"; 0 if the
// suffix has no such form.
pid_t pid_of_suffix(const std::string& suffix) {
  const size_t dash = suffix.find('-');
  const std::string pid = suffix.substr(0, dash);
  if (!all_of_set(pid, "0123456789") || pid.size() > 9) return 0;
  if (dash != std::string::npos && !all_of_set(suffix.substr(dash + 1), "0123456789")) return 0;
  return pid_t(std::stol(pid));
}

// A suffix this program writes: a process id ("<pid>", "<pid>-<n>") or the
// safetensors writer's six random characters.
bool is_our_suffix(const std::string& suffix) {
  return pid_of_suffix(suffix) > 0 ||
         (suffix.size() == size_t(kRandomSuffixLength) && all_of_set(suffix, kRandomSuffixChars.data()));
}

// Whether a temporary entry's writer may still be running.
bool owner_may_be_alive(const std::string& suffix) {
  const pid_t pid = pid_of_suffix(suffix);
  if (pid <= 0) return true;  // random characters: its writer is unknown, not ours to judge
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

}  // namespace

size_t remove_temp_files(const fs::path& dir, TempOwners which, const std::string& prefix) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(kTempMarker);
    if (at == std::string::npos || at == 0 || name.rfind(prefix, 0) != 0) continue;
    const std::string suffix = name.substr(at + std::strlen(kTempMarker));
    if (!is_our_suffix(suffix)) continue;
    if (which == TempOwners::kDead && owner_may_be_alive(suffix)) continue;
    stale.push_back(e.path());
  }
  for (const fs::path& p : stale) {
    fs::remove_all(p, ec);
    if (ec)
      throw std::runtime_error("cannot remove the leftover temporary " + p.string() + ": " +
                               ec.message());
  }
  return stale.size();
}

}  // namespace rg::io
