// SPDX-License-Identifier: Apache-2.0
// Augmentation, shuffling and batches: the documented recipes, bit-identical
// results across thread counts, resumable from any step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "apps/data/augment.h"
#include "engine/rng/philox.h"
#include "apps/rng_streams.h"

using namespace rg::data;

namespace {
Dataset make_ds(std::size_t n, int size) {
  std::vector<uint8_t> px(n * size * size * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 2654435761u) >> 11);
  std::vector<std::string> src(n);
  for (std::size_t i = 0; i < n; ++i) src[i] = "s" + std::to_string(i);
  return Dataset::from_memory(size, std::move(px), std::move(src));
}
bool same(const Batch& a, const Batch& b) {
  return a.step == b.step && a.epoch == b.epoch && a.indices == b.indices && a.data.size() == b.data.size() &&
         std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0;
}
}  // namespace

TEST(Augment, ParamsFollowTheRecipe) {
  int flips = 0, rots = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    const AugmentParams p = augment_params(42, i);
    const auto w = rg::philox_words(42, rg::streams::kAugmentation, i, 0);
    EXPECT_EQ(p.flip, w[0] / 4294967296.0 < 0.5);
    EXPECT_EQ(p.rotate, w[1] / 4294967296.0 < 0.3);
    EXPECT_DOUBLE_EQ(p.angle_deg, -5.0 + 10.0 * (w[2] / 4294967296.0));
    ASSERT_GE(p.angle_deg, -5.0);
    ASSERT_LT(p.angle_deg, 5.0);
    flips += p.flip;
    rots += p.rotate;
  }
  EXPECT_NEAR(flips / 20000.0, 0.5, 0.02);
  EXPECT_NEAR(rots / 20000.0, 0.3, 0.02);
}

TEST(Augment, FlipAndRotate) {
  const int s = 16;
  Dataset ds = make_ds(1, s);
  std::vector<uint8_t> out(ds.image_bytes());
  augment_image(ds.image(0), s, {true, false, 0}, out.data());
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < s; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(out[(y * s + x) * 3 + c], ds.image(0)[(y * s + (s - 1 - x)) * 3 + c]);
  augment_image(ds.image(0), s, {false, true, 0.0}, out.data());  // rotation by 0: identity
  EXPECT_EQ(0, std::memcmp(out.data(), ds.image(0), ds.image_bytes()));
  // A white image rotated by 45 degrees: black corners, white centre.
  std::vector<uint8_t> white(ds.image_bytes(), 255);
  augment_image(white.data(), s, {false, true, 45.0}, out.data());
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[((s / 2) * s + s / 2) * 3], 255);
}

TEST(Shuffle, PermutationRecipe) {
  const std::size_t n = 1000;
  auto o = epoch_order(n, 7, 3);
  auto sorted = o;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i);
  // The documented Fisher-Yates.
  std::vector<uint32_t> ref(n);
  std::iota(ref.begin(), ref.end(), 0u);
  for (std::size_t t = 0; t + 1 < n; ++t) {
    const std::size_t i = n - 1 - t;
    const uint32_t x = rg::philox_words(7, rg::streams::kShuffle, 3, static_cast<uint32_t>(t))[0];
    std::swap(ref[i], ref[(uint64_t{x} * (i + 1)) >> 32]);
  }
  EXPECT_EQ(o, ref);
  EXPECT_NE(epoch_order(n, 7, 4), o);
  EXPECT_NE(epoch_order(n, 8, 3), o);
  auto id = epoch_order(n, 7, 3, false);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(id[i], i);
}

TEST(Batches, BitIdenticalAcrossThreadCounts) {
  Dataset ds = make_ds(50, 32);
  BatchOptions opt;
  opt.batch = 16;
  opt.seed = 2024;
  for (uint64_t step : {0u, 1u, 3u, 7u}) {
    Batch a, b, c;
    make_batch(ds, opt, step, a, 1);
    make_batch(ds, opt, step, b, 2);
    make_batch(ds, opt, step, c, 5);
    EXPECT_TRUE(same(a, b)) << step;
    EXPECT_TRUE(same(a, c)) << step;
    EXPECT_EQ(a.epoch, step / 3);  // 50 / 16 = 3 steps per epoch
  }
}

TEST(Batches, ValuesLayoutAndNoShuffle) {
  Dataset ds = make_ds(10, 8);
  BatchOptions opt;
  opt.batch = 4;
  opt.shuffle = false;
  opt.augment = false;
  Batch b;
  make_batch(ds, opt, 1, b, 2);
  ASSERT_EQ(b.indices, (std::vector<uint32_t>{4, 5, 6, 7}));
  for (std::size_t n = 0; n < 4; ++n)
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 64; ++k) {
        const float v = b.data[(n * 3 + c) * 64 + k];
        ASSERT_EQ(v, static_cast<float>(ds.image(4 + n)[k * 3 + c]) / 127.5f - 1.0f);
      }
  opt.batch = 11;
  EXPECT_THROW(make_batch(ds, opt, 0, b, 1), std::invalid_argument);
}

TEST(Batches, LoaderMatchesAndResumes) {
  Dataset ds = make_ds(40, 16);
  BatchOptions opt;
  opt.batch = 8;
  opt.seed = 99;
  opt.end_step = 12;
  opt.threads = 3;
  opt.queue_depth = 2;
  std::vector<Batch> all;
  {
    BatchLoader loader(ds, opt);
    while (auto b = loader.next()) all.push_back(std::move(*b));
  }
  ASSERT_EQ(all.size(), 12u);
  for (uint64_t s = 0; s < 12; ++s) {
    Batch ref;
    make_batch(ds, opt, s, ref, 1);
    EXPECT_TRUE(same(all[s], ref)) << s;
  }
  // Every sample of an epoch appears once.
  std::vector<uint32_t> seen;
  for (int s = 0; s < 5; ++s) seen.insert(seen.end(), all[s].indices.begin(), all[s].indices.end());
  std::sort(seen.begin(), seen.end());
  for (uint32_t i = 0; i < 40; ++i) ASSERT_EQ(seen[i], i);
  // Resume at step 7 with one thread: the same batches.
  opt.start_step = 7;
  opt.threads = 1;
  BatchLoader resumed(ds, opt);
  for (uint64_t s = 7; s < 12; ++s) {
    auto b = resumed.next();
    ASSERT_TRUE(b.has_value());
    EXPECT_TRUE(same(*b, all[s])) << s;
  }
  EXPECT_FALSE(resumed.next().has_value());
  // Destroying a loader that is still producing does not hang.
  opt.start_step = 0;
  opt.end_step = UINT64_MAX;
  BatchLoader endless(ds, opt);
  EXPECT_TRUE(endless.next().has_value());
}
