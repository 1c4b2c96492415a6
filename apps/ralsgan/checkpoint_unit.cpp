// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/checkpoint_unit.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "engine/io/atomic_file.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/fault.h"

namespace rg::app {

namespace fs = std::filesystem;

namespace {

constexpr const char* kOldMark = ".old-";

[[noreturn]] void publish_failed(const fs::path& dir, int e) {
  throw std::runtime_error("cannot publish the checkpoint " + dir.string() + ": " +
                           std::strerror(e));
}

// `dir` exists: swap it with `staging`, then drop the old unit.
void replace_unit(const fs::path& staging, const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (fault_no_exchange()) {
    errno = EINVAL;  // as a file system without RENAME_EXCHANGE answers (tests)
  } else if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    fault_point("published " + name);
    io::fsync_dir(dir.parent_path());
    fs::remove_all(staging);  // now the old unit
    fault_point("removed the old " + name);
    return;
  }
  if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) publish_failed(dir, errno);
  // No exchange on this file system: the old unit steps aside first. A crash
  // between the renames leaves it at <dir>.old-<pid>, complete, for
  // recover_checkpoints().
  const fs::path old = dir.string() + kOldMark + std::to_string(::getpid());
  if (::rename(dir.c_str(), old.c_str()) != 0) publish_failed(dir, errno);
  fault_point("moved aside the old " + name);
  if (::rename(staging.c_str(), dir.c_str()) != 0) {
    const int e = errno;
    ::rename(old.c_str(), dir.c_str());
    publish_failed(dir, e);
  }
  fault_point("published " + name);
  io::fsync_dir(dir.parent_path());
  fs::remove_all(old);
  fault_point("removed the old " + name);
}

uint64_t step_of(const io::SafetensorsContents& c, const fs::path& file) {
  auto it = c.metadata.find("step");
  if (it == c.metadata.end() || it->second.empty() ||
      it->second.find_first_not_of("0123456789") != std::string::npos)
    throw std::runtime_error(file.string() + ": metadata 'step' is missing or not a number");
  return std::stoull(it->second);
}

}  // namespace

void publish_checkpoint(const fs::path& dir, const std::function<void(const fs::path&)>& write) {
  const fs::path staging = io::temp_path_for(dir);
  fs::create_directories(dir.parent_path());
  fs::remove_all(staging);
  fs::create_directory(staging);
  try {
    write(staging);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw std::runtime_error("cannot write the checkpoint " + dir.string() + ": " + e.what());
  }
  io::fsync_dir(staging);
  fault_point("staged " + dir.filename().string());
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dir, ec))) {
    replace_unit(staging, dir);
    return;
  }
  if (::rename(staging.c_str(), dir.c_str()) != 0) publish_failed(dir, errno);
  fault_point("published " + dir.filename().string());
  io::fsync_dir(dir.parent_path());
}

CheckpointUnit read_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error(dir.string() + ": no checkpoint here (not a folder)");
  const CheckpointPaths p = CheckpointPaths::in(dir);
  for (const fs::path& f : {p.generator, p.discriminator, p.train_state})
    if (!fs::exists(fs::symlink_status(f, ec)))
      throw std::runtime_error(f.string() + ": missing, so " + dir.string() +
                               " is not a complete checkpoint");
  CheckpointUnit u;
  u.train_state = io::read_safetensors(p.train_state.string());
  u.generator = io::read_safetensors(p.generator.string());
  u.discriminator = io::read_safetensors(p.discriminator.string());
  verify_checksum(u.train_state, p.train_state.string(), true);
  verify_checksum(u.generator, p.generator.string(), true);
  verify_checksum(u.discriminator, p.discriminator.string(), true);
  u.step = step_of(u.train_state, p.train_state);
  std::vector<std::tuple<const io::SafetensorsContents*, const fs::path*, const char*>> members = {
      {&u.generator, &p.generator, "generator_crc32"},
      {&u.discriminator, &p.discriminator, "discriminator_crc32"}};
  if (u.train_state.metadata.count("generator_ema_crc32")) {
    if (!fs::exists(fs::symlink_status(p.generator_ema, ec)))
      throw std::runtime_error(p.generator_ema.string() + ": missing, so " + dir.string() +
                               " is not a complete checkpoint");
    u.generator_ema = io::read_safetensors(p.generator_ema.string());
    verify_checksum(*u.generator_ema, p.generator_ema.string(), true);
    members.push_back({&*u.generator_ema, &p.generator_ema, "generator_ema_crc32"});
  }
  for (auto [c, f, key] : members) {
    const uint64_t step = step_of(*c, *f);
    if (step != u.step)
      throw std::runtime_error(f->string() + ": is from step " + std::to_string(step) + " but " +
                               p.train_state.filename().string() + " from step " +
                               std::to_string(u.step) + ": a mixed checkpoint, refusing to use it");
    auto it = u.train_state.metadata.find(key);
    if (it == u.train_state.metadata.end() || it->second != c->metadata.at("crc32"))
      throw std::runtime_error(f->string() + ": is not the file " +
                               p.train_state.filename().string() + " was saved with (checksum " +
                               c->metadata.at("crc32") + ", expected " +
                               (it == u.train_state.metadata.end() ? "none" : it->second) +
                               "): a mixed checkpoint, refusing to use it");
  }
  return u;
}

bool is_kept_copy_name(const std::string& name) {
  return name.size() == 10 && name.rfind("epoch_", 0) == 0 &&
         name.find_first_not_of("0123456789", 6) == std::string::npos;
}

void recover_checkpoints(const fs::path& parent) {
  std::error_code ec;
  std::vector<fs::path> old;
  for (const fs::directory_entry& e : fs::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(kOldMark);
    if (at == std::string::npos || at == 0 || at + 5 >= name.size() ||
        name.find_first_not_of("0123456789", at + 5) != std::string::npos || !e.is_directory(ec))
      continue;
    // Only a unit of ours moved aside ("checkpoint" or "epoch_NNNN"): a user's "keep.old-1" stays.
    const std::string unit = name.substr(0, at);
    const bool ours = unit == "checkpoint" || is_kept_copy_name(unit);
    if (ours) old.push_back(e.path());
  }
  for (const fs::path& o : old) {
    const std::string name = o.filename().string();
    const fs::path dir = parent / name.substr(0, name.rfind(kOldMark));
    if (fs::exists(fs::symlink_status(dir, ec)))
      fs::remove_all(o);
    else
      fs::rename(o, dir);
  }
}

}  // namespace rg::app
