// SPDX-License-Identifier: Apache-2.0
// Fashion-MNIST's IDX files, read with zlib alone: the library's public API
// has no data loading, so this example brings its own reader
// (docs/classifier.md, "The example program").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rg::classifier {

// The Debian package dataset-fashion-mnist installs the four files here.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// One split of Fashion-MNIST: images (N x 28 x 28 bytes, row-major) and labels (N bytes, 0..9).
struct Split {
  std::vector<uint8_t> images;
  std::vector<uint8_t> labels;
  size_t count() const { return labels.size(); }
};

// Reads "<dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte", plain or with
// ".gz". Throws std::runtime_error naming the file when it is missing,
// truncated, not an unsigned-byte IDX array of the expected shape, or holds a
// label outside 0..9.
Split read_split(const std::string& dir, bool train);

}  // namespace rg::classifier
