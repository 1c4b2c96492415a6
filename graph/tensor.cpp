// SPDX-License-Identifier: Apache-2.0
#include "rg/tensor.h"

#include <stdexcept>

namespace rg {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
  }
  throw std::logic_error("bad dtype");
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
  }
  return "?";
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::vector<int64_t> broadcast_strides(const Shape& big, const Shape& small) {
  std::vector<int64_t> st(big.size(), 0);
  int64_t s = 1;
  for (size_t k = 0; k < small.size() && k < big.size(); ++k) {
    const size_t i = small.size() - 1 - k, bi = big.size() - 1 - k;
    if (small[i] != 1) st[bi] = s;
    s *= small[i];
  }
  return st;
}

std::string desc_str(const TensorDesc& d) { return std::string(dtype_name(d.dtype)) + shape_str(d.shape); }

}  // namespace rg
