#include "apps/ralsgan/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "engine/io/atomic_file.h"
#include "apps/ralsgan/checkpoint_unit.h"

namespace rg::app {

namespace fs = std::filesystem;

namespace {

bool exists_at_all(const fs::path& p) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(p, ec));
}

bool has_entries(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && !fs::is_empty(dir, ec);
}

std::string lock_holder(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s(buf, n > 0 ? size_t(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() || s.find_first_not_of("0123456789") != std::string::npos ? ""
                                                                             : "pid " + s + ", ";
}

}  // namespace

RunFolder::RunFolder(const fs::path& dir, Mode mode) : dir_(dir) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_))
    throw std::runtime_error("cannot use " + dir_.string() + " as a run folder: " +
                             (ec ? ec.message() : std::string("it is not a folder")));
  const std::string lock = lock_file().string();
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
  if (lock_fd_ < 0)
    throw std::runtime_error("cannot create the lock file " + lock + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    const std::string holder = lock_holder(lock_fd_);
    ::close(lock_fd_);
    if (e == EWOULDBLOCK)
      throw std::runtime_error(dir_.string() + ": in use by another ralsgan train (" + holder +
                               "holding " + lock + "); a run folder has one trainer at a time");
    throw std::runtime_error("cannot lock " + lock + ": " + std::strerror(e));
  }
  // Who holds it, for the message above (informational: a failure is no error).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0) (void)!::pwrite(lock_fd_, pid.data(), pid.size(), 0);

  try {
    prepare(mode);
  } catch (...) {
    ::close(lock_fd_);
    throw;
  }
}

void RunFolder::prepare(Mode mode) {
  std::error_code ec;
  // What a killed trainer left: a checkpoint moved aside by a publish, and
  // temporary files and folders. Nobody else writes here while we hold the lock.
  recover_checkpoints(dir_);
  recover_checkpoints(kept_checkpoints());
  for (const fs::path& d : {dir_, checkpoint(), kept_checkpoints(), samples()})
    io::remove_temp_files(d, io::TempOwners::kAny);
  for (const fs::directory_entry& e :
       fs::directory_iterator(kept_checkpoints(), ec))  // in place, by older versions
    if (e.is_directory()) io::remove_temp_files(e.path(), io::TempOwners::kAny);

  const bool holds = exists_at_all(checkpoint()) || has_entries(kept_checkpoints());
  if (mode == Mode::kNew && holds)
    throw std::runtime_error(
        dir_.string() + ": holds a checkpoint (" +
        (exists_at_all(checkpoint()) ? checkpoint() : kept_checkpoints()).string() +
        "); continue it with --resume, or pass --start-over to delete it and train from scratch");
  if (mode == Mode::kStartOver) {
    for (const fs::path& p : {checkpoint(), kept_checkpoints(), samples(), log()}) {
      fs::remove_all(p, ec);
      if (ec)
        throw std::runtime_error("--start-over: cannot remove " + p.string() + ": " + ec.message());
    }
  }
}

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace rg::app
