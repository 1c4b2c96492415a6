// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/io/atomic_file.h"
#include "apps/ralsgan/checkpoint_unit.h"

namespace rg::app {

namespace fs = std::filesystem;

namespace {

bool exists_at_all(const fs::path& p) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(p, ec));
}

bool all_digits(const std::string& s, size_t from) {
  return s.size() > from && s.find_first_not_of("0123456789", from) == std::string::npos;
}

// The names train writes (docs/run_folder.md "Layout"): only these are a
// run's, so only these are counted as its checkpoints or deleted by
// --start-over; anything else in the folder is the user's and stays.
bool is_sample_name(const std::string& n) {
  return n == "latest.png" || n == "losses.png" ||
         (n.size() == 22 && n.rfind("grid_step_", 0) == 0 && n.ends_with(".png") && all_digits(n.substr(0, 18), 10));
}

// The entries of `dir` whose names `ours` accepts.
std::vector<fs::path> entries_named(const fs::path& dir, bool (*ours)(const std::string&)) {
  std::vector<fs::path> r;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
    if (ours(e.path().filename().string())) r.push_back(e.path());
  return r;
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
  for (const fs::path& d : {dir_, checkpoint(), kept_checkpoints(), samples(), best()})
    io::remove_temp_files(d, io::TempOwners::kAny);
  for (const fs::directory_entry& e :
       fs::directory_iterator(kept_checkpoints(), ec))  // in place, by older versions
    if (e.is_directory()) io::remove_temp_files(e.path(), io::TempOwners::kAny);

  const std::vector<fs::path> kept = kept_copies();
  const bool holds = exists_at_all(checkpoint()) || !kept.empty();
  if (mode == Mode::kNew && holds)
    throw std::runtime_error(
        dir_.string() + ": holds a checkpoint (" + (exists_at_all(checkpoint()) ? checkpoint() : kept.front()).string() +
        "); continue it with --resume, or pass --start-over to delete it and train from scratch");
  if (mode == Mode::kStartOver) {
    // Only what train writes: RUN/checkpoint, the kept copies, the sample
    // pictures, log.jsonl and options.json (each folder itself only once empty).
    std::vector<fs::path> ours = kept;
    for (const fs::path& p : entries_named(samples(), is_sample_name)) ours.push_back(p);
    for (const fs::path& p : {checkpoint(), log(), best(), options()})
      if (exists_at_all(p)) ours.push_back(p);
    for (const fs::path& p : ours) {
      fs::remove_all(p, ec);
      if (ec) throw std::runtime_error("--start-over: cannot remove " + p.string() + ": " + ec.message());
    }
    for (const fs::path& d : {kept_checkpoints(), samples()})
      if (std::error_code e2; fs::is_directory(d, e2) && fs::is_empty(d, e2)) fs::remove(d, e2);
  }
}

std::vector<fs::path> RunFolder::kept_copies() const {
  std::vector<fs::path> r;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(kept_checkpoints(), ec))
    if (is_kept_copy_name(e.path().filename().string()) && e.is_directory(ec)) r.push_back(e.path());
  std::sort(r.begin(), r.end());
  return r;
}

void RunFolder::check_still_ours() const {
  struct stat locked {}, now {};
  if (::fstat(lock_fd_, &locked) != 0) return;
  if (::stat(dir_.c_str(), &now) != 0 || now.st_ino != locked.st_ino || now.st_dev != locked.st_dev)
    throw std::runtime_error(dir_.string() +
                             " is no longer the run folder this trainer locked (it was moved or deleted while it "
                             "ran); stopping without writing there");
}

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace rg::app
