// SPDX-License-Identifier: Apache-2.0
// Philox4x32-10 counter-based RNG (Salmon et al., Random123) and the latent
// sampler of docs/contracts.md §4. Everything random in ralsgan derives from these, so a
// value depends only on (seed, stream, index), never on threads or batching. The
// application's stream numbers are in apps/rng_streams.h.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace rg {

using Philox4x32Counter = std::array<uint32_t, 4>;
using Philox4x32Key = std::array<uint32_t, 2>;

// One Philox4x32-10 block: ten rounds over a 128-bit counter.
Philox4x32Counter philox4x32_10(Philox4x32Counter counter, Philox4x32Key key);

// The key of a 64-bit seed: (seed & 0xffffffff, seed >> 32).
inline Philox4x32Key philox_key(uint64_t seed) {
  return {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
}

// Four words for (seed, stream, index, k): counter (k, index lo, index hi, stream).
Philox4x32Counter philox_words(uint64_t seed, uint32_t stream, uint64_t index, uint32_t k);

// Uniform double in [0, 1) from one 32-bit word: x / 2^32.
inline double uniform_from_word(uint32_t x) { return static_cast<double>(x) * (1.0 / 4294967296.0); }

// Latent vector of docs/contracts.md §4 for `index` in `stream`: out.size() must be a
// multiple of 4 (nz = 128 gives k = 0..31). Box-Muller in double, rounded to float.
void latent_vector(uint64_t seed, uint32_t stream, uint64_t index, std::span<float> out);

}  // namespace rg
