// SPDX-License-Identifier: Apache-2.0
#include "engine/rng/philox.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace rg {
namespace {
constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;
constexpr uint32_t kWeyl1 = 0xBB67AE85u;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}
}  // namespace

Philox4x32Counter philox4x32_10(Philox4x32Counter c, Philox4x32Key k) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, c[0], hi0, lo0);
    mulhilo(kMul1, c[2], hi1, lo1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  return c;
}

Philox4x32Counter philox_words(uint64_t seed, uint32_t stream, uint64_t index, uint32_t k) {
  return philox4x32_10({k, static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                        static_cast<uint32_t>(stream)},
                       philox_key(seed));
}

void latent_vector(uint64_t seed, uint32_t stream, uint64_t index, std::span<float> out) {
  if (out.size() % 4 != 0) throw std::invalid_argument("latent size must be a multiple of 4");
  const double two_pi = 2.0 * std::numbers::pi;
  for (uint32_t k = 0; k < out.size() / 4; ++k) {
    const Philox4x32Counter x = philox_words(seed, stream, index, k);
    for (int pair = 0; pair < 2; ++pair) {
      const double u1 = (static_cast<double>(x[2 * pair]) + 1.0) / 4294967296.0;
      const double u2 = static_cast<double>(x[2 * pair + 1]) / 4294967296.0;
      const double r = std::sqrt(-2.0 * std::log(u1));
      out[4 * k + 2 * pair] = static_cast<float>(r * std::cos(two_pi * u2));
      out[4 * k + 2 * pair + 1] = static_cast<float>(r * std::sin(two_pi * u2));
    }
  }
}

}  // namespace rg
