// SPDX-License-Identifier: Apache-2.0
// An odometer over a tensor's index space, shared by the backends' kernels for
// broadcasts, reductions and layout-aware elementwise loads: for each linear
// index of a tensor with `dims` (outermost first), the offset
// sum(idx[k] * strides[k]) into another tensor, kept incrementally (no
// division per element). A stride of 0 repeats (broadcasts) that dimension.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace rg {

struct StridedWalk {
  static constexpr size_t kMaxRank = 8;
  std::vector<int64_t> dims, strides;

  StridedWalk() = default;
  StridedWalk(std::vector<int64_t> d, std::vector<int64_t> s) : dims(std::move(d)), strides(std::move(s)) {
    if (dims.size() > kMaxRank || dims.size() != strides.size())
      throw std::invalid_argument("strided walk: rank above 8 or strides of another rank");
  }

  // f(i, offset) for the linear indices e0 + i, i in [0, n).
  template <typename F>
  void run(int64_t e0, int64_t n, F&& f) const {
    const size_t r = dims.size();
    int64_t idx[kMaxRank] = {0};
    int64_t rem = e0, off = 0;
    for (size_t d = r; d-- > 0;) {
      idx[d] = rem % dims[d];
      rem /= dims[d];
      off += idx[d] * strides[d];
    }
    for (int64_t i = 0; i < n; ++i) {
      f(i, off);
      for (size_t d = r; d-- > 0;) {
        off += strides[d];
        if (++idx[d] < dims[d]) break;
        off -= strides[d] * dims[d];
        idx[d] = 0;
      }
    }
  }
};

// mean and sum_to on the host, as the reference defines them: each output
// element is the sum of its inputs in double, in x's linear order, and mean
// scales it by outputs / inputs. `walk` maps x's linear index to the output
// index (the keepdims shape's broadcast strides, in x's memory order).
template <typename T>
void reduce_in_double(bool mean, const T* x, int64_t inn, const StridedWalk& walk, double* acc, T* y, int64_t outn) {
  if (outn == 1) {  // the same sums, without the walk
    double s = 0;
    for (int64_t e = 0; e < inn; ++e) s += double(x[e]);
    acc[0] = s;
  } else {
    std::fill(acc, acc + outn, 0.0);
    walk.run(0, inn, [&](int64_t e, int64_t o) { acc[o] += double(x[e]); });
  }
  const double scale = mean ? double(outn) / double(inn) : 1.0;
  for (int64_t i = 0; i < outn; ++i) y[i] = T(acc[i] * scale);
}

}  // namespace rg
