// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/rng/philox.h"
#include "apps/rng_streams.h"

namespace rg {
namespace {

// Random123's kat_vectors for philox4x32_10 (docs/contracts.md §4).
TEST(Philox, KnownAnswers) {
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (Philox4x32Counter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (Philox4x32Counter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (Philox4x32Counter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, KeyAndCounterLayout) {
  const uint64_t seed = 0x299f31d0a4093822ull;
  EXPECT_EQ(philox_key(seed), (Philox4x32Key{0xa4093822, 0x299f31d0}));
  // counter (k, i lo, i hi, stream) for k = 0x243f6a88, i = 0x13198a2e85a308d3, stream 0x03707344.
  EXPECT_EQ(philox_words(seed, uint32_t(0x03707344), 0x13198a2e85a308d3ull, 0x243f6a88),
            (Philox4x32Counter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, LatentIsBoxMullerOfTheWords) {
  std::vector<float> z(128);
  latent_vector(7, streams::kGeneration, 12345, z);
  const Philox4x32Counter x = philox_words(7, streams::kGeneration, 12345, 5);
  const double u1 = (x[2] + 1.0) / 4294967296.0, u2 = x[3] / 4294967296.0;
  const double r = std::sqrt(-2.0 * std::log(u1));
  EXPECT_EQ(z[22], static_cast<float>(r * std::cos(2 * M_PI * u2)));
  EXPECT_EQ(z[23], static_cast<float>(r * std::sin(2 * M_PI * u2)));
  // Moments of 128 * 64 samples are those of a standard normal.
  double s = 0, s2 = 0;
  int n = 0;
  for (uint64_t i = 0; i < 64; ++i) {
    latent_vector(1, streams::kTrainingLatents, i, z);
    for (float v : z) s += v, s2 += double(v) * v, ++n;
  }
  EXPECT_NEAR(s / n, 0.0, 0.03);
  EXPECT_NEAR(s2 / n, 1.0, 0.05);
}

}  // namespace
}  // namespace rg
