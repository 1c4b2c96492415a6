// SPDX-License-Identifier: Apache-2.0
// The eval entry point: options, errors, folders, the statistics cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "apps/metrics/eval.h"

namespace rg::metrics {
namespace {

namespace fs = std::filesystem;

std::vector<Image> images(int n, int size, double shift, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Image> out;
  for (int i = 0; i < n; ++i) {
    Image im{size, size, std::vector<uint8_t>(size_t(size * size * 3))};
    const double f = 0.1 + 0.3 * u(rng);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        for (int c = 0; c < 3; ++c)
          im.rgb[size_t((y * size + x) * 3 + c)] =
              uint8_t(std::clamp(110 + shift + 80 * std::sin(f * (x + y) + c) + 30 * u(rng), 0.0, 255.0));
    out.push_back(std::move(im));
  }
  return out;
}

std::string weights() { return std::string(RG_SOURCE_DIR) + "/tests/metrics/golden/inception_w8.safetensors"; }

TEST(Eval, SwdOnlyNeedsNoWeights) {
  EvalOptions o;
  o.real = images(8, 32, 0, 1);
  o.fake = images(8, 32, 40, 2);
  o.metrics = {"swd"};
  const MetricsReport r = evaluate(o);
  ASSERT_TRUE(r.swd.has_value());
  EXPECT_FALSE(r.fid.has_value());
  EXPECT_EQ(r.swd->resolutions, (std::vector<int>{32, 16}));
  EXPECT_GT(r.swd->mean, 0);
  EXPECT_NE(r.table().find("swd mean"), std::string::npos);
  EXPECT_NE(r.json().find("\"mean_x1e3\":"), std::string::npos);
}

TEST(Eval, ClearErrors) {
  EvalOptions o;
  o.real = images(4, 32, 0, 1);
  o.fake = images(4, 32, 0, 2);
  o.metrics = {"fid"};
  try {
    evaluate(o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--inception"), std::string::npos) << e.what();
  }
  o.inception = "/nonexistent/inception.safetensors";
  try {
    evaluate(o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/inception.safetensors"), std::string::npos) << e.what();
  }
  o.metrics = {"swd", "is"};
  EXPECT_THROW(evaluate(o), std::invalid_argument);
  o.metrics = {"swd"};
  o.fake = images(4, 16, 0, 2);  // other size
  try {
    evaluate(o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("real images are 32 px, fake images 16 px"), std::string::npos) << e.what();
  }
  o.fake = images(4, 32, 0, 2);
  o.fake[0] = Image{40, 30, std::vector<uint8_t>(40 * 30 * 3)};  // a photo, not letterboxed
  try {
    evaluate(o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("image 0 is 40x30; all images must be square and of one size (the first is not square)"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("ralsgan preprocess"), std::string::npos) << e.what();
  }
  o.fake.clear();
  o.fake_dir = "/nonexistent/fakes";
  try {
    evaluate(o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fakes"), std::string::npos) << e.what();
  }
}

TEST(Eval, FidKidFoldersAndStatsCache) {
  // Per process: two suites running side by side (several checkouts) must not share it.
  const fs::path dir = fs::path(::testing::TempDir()) / ("rg_eval_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "real");
  fs::create_directories(dir / "fake");
  const auto real = images(6, 32, 0, 3), fake = images(6, 32, 50, 4);
  for (size_t i = 0; i < real.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      const Image& im = k ? fake[i] : real[i];
      cv::Mat rgb(im.height, im.width, CV_8UC3, const_cast<uint8_t*>(im.rgb.data())), bgr;
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      char name[32];
      std::snprintf(name, sizeof name, "image_%05zu.png", i);
      ASSERT_TRUE(cv::imwrite((dir / (k ? "fake" : "real") / name).string(), bgr));
    }
  }
  // Folders decode to exactly the in-memory pixels.
  const std::vector<Image> loaded = load_image_folder((dir / "fake").string());
  ASSERT_EQ(loaded.size(), fake.size());
  EXPECT_EQ(loaded[3].rgb, fake[3].rgb);

  EvalOptions o;
  o.real_dir = (dir / "real").string();
  o.fake_dir = (dir / "fake").string();
  o.metrics = {"fid", "kid", "swd"};
  o.inception = weights();
  o.inception_width = 0.125;
  o.inception_batch = 4;
  o.kid.subsets = 10;
  o.real_stats_cache = (dir / "real_stats.safetensors").string();
  const MetricsReport r1 = evaluate(o);
  ASSERT_TRUE(r1.fid && r1.kid && r1.swd);
  EXPECT_GT(*r1.fid, 0.0);
  EXPECT_EQ(r1.kid->subset_size, 6);
  EXPECT_FALSE(r1.real_stats_from_cache);
  ASSERT_TRUE(fs::exists(o.real_stats_cache));
  // Second run: real statistics come from the cache; no real images needed for fid/kid.
  o.real_dir.clear();
  o.metrics = {"fid", "kid"};
  const MetricsReport r2 = evaluate(o);
  EXPECT_TRUE(r2.real_stats_from_cache);
  EXPECT_EQ(r2.real_count, 6u);
  EXPECT_NEAR(*r2.fid, *r1.fid, 1e-9 * *r1.fid);
  EXPECT_NEAR(r2.kid->mean, r1.kid->mean, 1e-5 * std::abs(r1.kid->mean) + 1e-9);  // cached features are F32
  // Same set against itself: FID 0.
  o.real_stats_cache.clear();
  o.real_dir = (dir / "fake").string();
  o.metrics = {"fid"};
  EXPECT_NEAR(*evaluate(o).fid, 0.0, 1e-6);
  const std::string json = (dir / "report.json").string();
  write_json(r1, json);
  EXPECT_TRUE(fs::file_size(json) > 10);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rg::metrics
