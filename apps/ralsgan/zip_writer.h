// SPDX-License-Identifier: Apache-2.0
// A minimal ZIP archive writer (stored entries, no compression: PNGs are
// already deflated), enough for `generate --zip` submissions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/io/atomic_file.h"

namespace rg::app {

class ZipWriter {
 public:
  // Writes through an AtomicFile; close() puts the archive in place (the
  // folder fsynced). Destroyed without close(): nothing appears.
  explicit ZipWriter(const std::filesystem::path& path);
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
  std::filesystem::path path_;
  io::AtomicFile f_;
  uint64_t pos_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace rg::app
