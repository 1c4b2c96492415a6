// SPDX-License-Identifier: Apache-2.0
// Checks the shape rules share; each failure is a GraphError naming the node.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace rg::shape_checks {

[[noreturn]] inline void fail(const std::string& node, const std::string& msg) {
  throw GraphError(node + ": " + msg);
}

inline void expect_rank(const std::string& node, const char* what, const TensorDesc& d, int rank) {
  if (d.rank() != rank)
    fail(node,
         std::string(what) + " must have rank " + std::to_string(rank) + ", got " + desc_str(d));
}

inline void expect_same(const std::string& node, const char* a, const TensorDesc& da, const char* b,
                        const TensorDesc& db) {
  if (!(da == db))
    fail(node, std::string(a) + " " + desc_str(da) + " and " + b + " " + desc_str(db) + " differ");
}

inline void expect_channel_vector(const std::string& node, const char* what, const TensorDesc& d,
                                  int64_t c, DType t) {
  if (d.rank() != 1 || d.shape[0] != c || d.dtype != t)
    fail(node, std::string(what) + " must be " + desc_str({{c}, t}) + ", got " + desc_str(d));
}

// Output size of a convolution (or pooling window) of kernel k, stride s,
// padding p at both ends and dilation d over `in` (floor mode).
inline int64_t conv_out(int64_t in, int k, int s, int p, int d = 1) {
  return (in + 2 * p - (int64_t(k) - 1) * d - 1) / s + 1;
}
// The same with padding `p` before and `pe` after.
inline int64_t conv_out(int64_t in, int k, int s, int p, int pe, int d) {
  return (in + p + pe - (int64_t(k) - 1) * d - 1) / s + 1;
}

// attrs.axes of a reduction over `rank` dimensions, non-negative and sorted (all when empty).
inline std::vector<int> normalized_axes(const std::string& node, const std::vector<int>& axes,
                                        int rank) {
  std::vector<int> r;
  if (axes.empty()) {
    for (int i = 0; i < rank; ++i) r.push_back(i);
    return r;
  }
  for (int a : axes) {
    const int n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank)
      fail(node, "axis " + std::to_string(a) + " out of range for rank " + std::to_string(rank));
    r.push_back(n);
  }
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  return r;
}

}  // namespace rg::shape_checks
