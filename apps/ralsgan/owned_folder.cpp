// SPDX-License-Identifier: Apache-2.0
// Output folders that hold only our own files (owned_folder.h).
#include "apps/ralsgan/owned_folder.h"

#include <fstream>
#include <stdexcept>

#include "engine/io/atomic_file.h"

namespace rg::app {

namespace fs = std::filesystem;

namespace {

// A listed name we may remove: relative, inside the folder.
bool safe_relative(const std::string& name) {
  if (name.empty() || name[0] == '/') return false;
  for (const auto& part : fs::path(name))
    if (part == ".." || part == ".") return false;
  return true;
}

}  // namespace

OwnedFolder::OwnedFolder(fs::path dir, std::string kind)
    : dir_(std::move(dir)), manifest_(dir_ / (".ralsgan-" + kind)) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dir_, ec)) && !fs::is_directory(dir_, ec))
    throw std::runtime_error(dir_.string() + ": exists and is not a folder");
  if (!fs::exists(dir_, ec)) {
    fs::create_directories(dir_, ec);
    if (ec) throw std::runtime_error(dir_.string() + ": cannot create the folder: " + ec.message());
    finish();  // ours from now on, also if this run is stopped half way
    return;
  }
  if (fs::is_empty(dir_, ec)) {
    finish();
    return;
  }
  if (!fs::is_regular_file(manifest_, ec))
    throw std::runtime_error(dir_.string() +
                             ": the folder holds files that ralsgan did not write for " + kind +
                             "; it is left as it is (choose a new or empty folder)");
  // Remove what the earlier run wrote (and only that), so that files of images
  // no longer kept do not linger.
  std::ifstream in(manifest_);
  std::string name;
  while (std::getline(in, name))
    if (safe_relative(name)) {
      const fs::path p = dir_ / name;
      if (fs::is_regular_file(fs::symlink_status(p, ec))) fs::remove(p, ec);
    }
}

void OwnedFolder::write(const std::string& relative, const std::vector<uint8_t>& bytes) {
  if (!safe_relative(relative)) throw std::runtime_error("refusing to write " + relative);
  const fs::path p = dir_ / relative;
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  io::write_file_atomic(p, bytes);
  written_.push_back(relative);
}

void OwnedFolder::finish() {
  std::string list;
  for (const std::string& w : written_)
    if (w.find('\n') == std::string::npos) list += w + "\n";
  io::write_file_atomic(manifest_, list);
}

}  // namespace rg::app
