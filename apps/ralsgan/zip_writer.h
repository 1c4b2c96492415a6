// SPDX-License-Identifier: Apache-2.0
// A minimal ZIP archive writer (stored entries, no compression: PNGs are
// already deflated), enough for `generate --zip` submissions.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace rg::app {

class ZipWriter {
 public:
  // Writes to a temporary file beside `path`; close() renames it into place.
  explicit ZipWriter(const std::filesystem::path& path);
  ~ZipWriter();
  void add(const std::string& name, std::span<const uint8_t> data);
  void close();

 private:
  struct Entry {
    std::string name;
    uint32_t crc, size;
    uint32_t offset;
  };
  void put(const void* p, size_t n);
  void u16(uint16_t v);
  void u32(uint32_t v);
  std::filesystem::path path_, tmp_;
  std::FILE* f_ = nullptr;
  uint64_t pos_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace rg::app
