// SPDX-License-Identifier: Apache-2.0
// A folder the command fills with files of its own (`preprocess
// --export-images DIR`, `--review DIR`). It may be new or empty; a folder
// already holding files is used only when an earlier run of the same kind
// made it (its manifest, `.ralsgan-<kind>`, lists what that run wrote), and
// then only the files in that list are removed before writing anew. A
// user's other files are never touched.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rg::app {

class OwnedFolder {
 public:
  // Throws std::runtime_error naming the folder when it holds files that no
  // earlier run of this kind wrote.
  OwnedFolder(std::filesystem::path dir, std::string kind);

  // Writes `relative` (subfolders made as needed) atomically and records it.
  void write(const std::string& relative, const std::vector<uint8_t>& bytes);
  // Writes the manifest; call once every file is written.
  void finish();

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_, manifest_;
  std::vector<std::string> written_;
};

}  // namespace rg::app
