// SPDX-License-Identifier: Apache-2.0
// NumPy's .npy files (format 1.0 to 3.0, little-endian, C order): the tensor
// I/O of the rg tool (docs/onnx.md). Read: float32, float64, int64 and int32,
// returned as double. Written: float32.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "rg/tensor.h"

namespace rg::io {

struct NpyArray {
  Shape shape;
  std::string dtype;  // as the header says: "<f4", "<f8", "<i8", "<i4"
  std::vector<double> data;
};

// Throws std::runtime_error naming the file and what is wrong with it.
NpyArray read_npy(const std::filesystem::path& path);
NpyArray parse_npy(std::span<const unsigned char> bytes, const std::string& name);
// The file's bytes: a float32 array of `shape`.
std::string npy_bytes(const Shape& shape, std::span<const float> data);

}  // namespace rg::io
