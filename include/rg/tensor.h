// SPDX-License-Identifier: Apache-2.0
// Tensor descriptors: what the compiler knows about a value before any data exists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rg {

enum class DType : uint8_t { f32, f64, i64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s);
std::string shape_str(const Shape& s);

struct TensorDesc {
  Shape shape;
  DType dtype = DType::f32;

  int64_t numel() const { return rg::numel(shape); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int rank() const { return static_cast<int>(shape.size()); }
  bool operator==(const TensorDesc&) const = default;
};

std::string desc_str(const TensorDesc& d);

// Strides of `small` (row-major) aligned to the dimensions of `big` under
// numpy broadcasting: 0 where `small` has size 1 or lacks the dimension. The
// offset of big's index (i0, i1, ...) in small is sum(i_k * strides[k]).
std::vector<int64_t> broadcast_strides(const Shape& big, const Shape& small);

}  // namespace rg
