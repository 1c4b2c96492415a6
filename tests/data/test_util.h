// SPDX-License-Identifier: Apache-2.0
// Helpers for the data tests: temporary folders, files, PPM reading.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/data/image.h"

namespace rg::data::test {

inline std::filesystem::path files_dir() { return RG_DATA_TEST_FILES; }

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path() /
           ("rg_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<uint8_t>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// Binary PPM (P6, maxval 255) without comments.
inline Image read_ppm(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string magic;
  int w = 0, h = 0, maxv = 0;
  in >> magic >> w >> h >> maxv;
  in.get();
  if (magic != "P6" || maxv != 255 || w <= 0 || h <= 0) throw std::runtime_error("bad PPM " + p.string());
  Image img;
  img.width = w;
  img.height = h;
  img.pixels.resize(img.bytes());
  in.read(reinterpret_cast<char*>(img.pixels.data()), static_cast<std::streamsize>(img.pixels.size()));
  if (!in) throw std::runtime_error("short PPM " + p.string());
  return img;
}

inline int max_abs_diff(const Image& a, const Image& b) {
  if (a.height != b.height || a.width != b.width) return 1 << 20;
  int m = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) m = std::max(m, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return m;
}

}  // namespace rg::data::test
