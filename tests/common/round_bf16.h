// SPDX-License-Identifier: Apache-2.0
// f32 rounded to the nearest bf16 (ties to even), as oneDNN's f32 -> bf16
// conversion and our kernels round: what the bf16 tests compute expected
// values from. (Finite values only; the tests draw no NaN.)
#pragma once

#include <cstdint>
#include <cstring>

namespace rg::testing_bf16 {

inline float round_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fff + ((u >> 16) & 1);
  u &= 0xffff0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

}  // namespace rg::testing_bf16
