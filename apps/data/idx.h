// SPDX-License-Identifier: Apache-2.0
// IDX files (the MNIST / Fashion-MNIST format), optionally gzip-compressed,
// and the embedded default data set of docs/contracts.md §7.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "apps/data/dataset.h"

namespace rg::data {

struct IdxArray {
  uint8_t type = 0;             // 0x08: unsigned byte (the only type accepted)
  std::vector<uint32_t> dims;   // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;    // product(dims) bytes
};

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Parses an uncompressed IDX buffer. Every size is checked: throws
// std::runtime_error("<name>: <field>: ...") on anything malformed.
IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& name);
// Inflates a gzip buffer (zlib); refuses output beyond max_out bytes.
std::vector<uint8_t> gunzip(std::span<const uint8_t> bytes, const std::string& name,
                            std::size_t max_out = std::size_t{1} << 30);
// Reads an IDX file, gunzipping it when it starts with the gzip magic 1f 8b.
IdxArray read_idx_file(const std::filesystem::path& path);

// The images of an IDX image file (N x H x W, gray) letterboxed to size x size
// RGB (docs/contracts.md §6; 28 -> 32 is a plain bilinear resize). limit > 0 keeps the first
// `limit` images. Sources are "<file name>#<index>".
Dataset idx_image_dataset(const std::filesystem::path& images_file, int size = 32, std::size_t limit = 0,
                          unsigned threads = 0);
// Fashion-MNIST training images from kFashionMnistDir.
Dataset fashion_mnist_dataset(int size = 32, std::size_t limit = 0, bool train = true);

}  // namespace rg::data
