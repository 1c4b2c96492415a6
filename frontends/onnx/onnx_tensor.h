// SPDX-License-Identifier: Apache-2.0
// Constant tensors at import: initializers, Constant nodes and everything
// folded from them. Floats (any ONNX float type) are kept as f32, integers
// and booleans as int64 (shapes, axes, pads, indices).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "rg/tensor.h"

namespace rg::onnx {

struct Const {
  bool is_float = true;
  Shape shape;
  std::vector<float> f;    // is_float
  std::vector<int64_t> i;  // !is_float
  // Where the floats went when the constant became a weight (the importer
  // moves them into Model::weights rather than keep two copies); -1: here.
  int64_t in_weight = -1;
  int64_t numel() const { return rg::numel(shape); }
  double at(size_t k) const { return is_float ? double(f[k]) : double(i[k]); }
  // The values as integers (floats must be whole numbers); `what` names them in errors.
  std::vector<int64_t> ints(const std::string& what) const;
  static Const of_ints(std::vector<int64_t> v, Shape shape);
  static Const of_floats(std::vector<float> v, Shape shape);
};

// The largest tensor the importer accepts (elements): 2^31, 8 GiB of f32.
constexpr int64_t kMaxElements = int64_t(1) << 31;

// Checks ONNX dims (each >= 0, the product within kMaxElements); throws
// std::invalid_argument naming `what`.
int64_t checked_numel(const Shape& dims, const std::string& what);

// Decodes a TensorProto. `dir`: the model's folder for external data (empty:
// external data refused). Throws std::invalid_argument with the reason.
Const decode_tensor(const ::onnx::TensorProto& t, const std::string& dir);

}  // namespace rg::onnx
