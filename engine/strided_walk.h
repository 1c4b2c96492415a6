// An odometer over a tensor's index space, shared by the backends' kernels for
// broadcasts, reductions and layout-aware elementwise loads: for each linear
// index of a tensor with `dims` (outermost first), the offset
// sum(idx[k] * strides[k]) into another tensor, kept incrementally (no
// division per element). A stride of 0 repeats (broadcasts) that dimension.
#pragma once

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

}  // namespace rg
