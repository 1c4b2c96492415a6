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

}  // namespace

RunFolder::RunFolder(const fs::path& dir, Mode mode) : dir_(dir) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_))
    throw std::runtime_error("cannot use " + dir_.string() + " as a run folder: " +
                             (ec ? ec.message() : std::string("it is not a folder")));
  // The lock is held on the folder itself: no lock file to leave behind, to
  // truncate through a symlink, or to delete under a running trainer.
  lock_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock_fd_ < 0) throw std::runtime_error("cannot open the run folder " + dir_.string() + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(lock_fd_);
    if (e == EWOULDBLOCK)
      throw std::runtime_error(dir_.string() +
                               ": in use by another ralsgan train (it holds a lock on the folder); a run folder has "
                               "one trainer at a time");
    throw std::runtime_error("cannot lock the run folder " + dir_.string() + ": " + std::strerror(e));
  }

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
