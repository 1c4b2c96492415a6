// SPDX-License-Identifier: Apache-2.0
// Dataset cache: round trip, corruption rejected with clear messages,
// open_or_build_dataset reuse and rebuild.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <cstring>
#include <fstream>
#include <thread>

#include "apps/data/dataset.h"
#include "tests/data/test_util.h"

namespace fs = std::filesystem;
using namespace rg::data;
using test::TempDir;

namespace {

Dataset sample_dataset(std::size_t n, int size) {
  std::vector<uint8_t> px(n * size * size * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 31) ^ (i >> 7));
  std::vector<std::string> src;
  for (std::size_t i = 0; i < n; ++i) src.push_back("dir/img_" + std::to_string(i) + (i % 2 ? ".png" : ".jpg"));
  return Dataset::from_memory(size, std::move(px), std::move(src), Fit::kStretch, 0x1234abcd5678ef00ull);
}

std::string open_error(const fs::path& p) {
  try {
    open_cache(p);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

void write_image(const fs::path& p, int seed) {
  cv::Mat m(20 + seed, 30, CV_8UC3, cv::Scalar(seed * 10, 50, 200 - seed));
  ASSERT_TRUE(cv::imwrite(p.string(), m));
}

}  // namespace

TEST(Cache, RoundTrip) {
  TempDir dir;
  const Dataset ds = sample_dataset(7, 16);
  const fs::path p = dir.path / "c.rgcache";
  write_cache(ds, p);
  EXPECT_FALSE(fs::exists(p.string() + ".tmp"));
  const Dataset back = open_cache(p);
  ASSERT_EQ(back.size(), 7u);
  EXPECT_EQ(back.image_size(), 16);
  EXPECT_EQ(back.fit(), Fit::kStretch);
  EXPECT_EQ(back.fingerprint(), 0x1234abcd5678ef00ull);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(back.pixels()) % 64, 0u);
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(back.source(i), ds.source(i));
    EXPECT_EQ(0, std::memcmp(back.image(i), ds.image(i), ds.image_bytes()));
  }
  const CacheHeader h = read_cache_header(p);
  EXPECT_EQ(h.count, 7u);
  EXPECT_EQ(h.channels, 3u);
  EXPECT_EQ(h.version, kCacheVersion);
}

TEST(Cache, CorruptionIsRejectedClearly) {
  TempDir dir;
  const fs::path good = dir.path / "good.rgcache";
  write_cache(sample_dataset(5, 8), good);
  const auto bytes = test::read_bytes(good);
  auto check = [&](const std::string& label, std::vector<uint8_t> b, const std::string& field) {
    const fs::path p = dir.path / (label + ".rgcache");
    test::write_bytes(p, b);
    const std::string err = open_error(p);
    EXPECT_NE(err.find(p.string()), std::string::npos) << label << ": " << err;
    EXPECT_NE(err.find(field), std::string::npos) << label << ": " << err;
  };
  {
    auto b = bytes;
    b[0] = 'X';
    check("magic", b, "magic");
  }
  {
    auto b = bytes;
    b[8] = 9;
    check("version", b, "version");
  }
  {
    auto b = bytes;
    b[17] ^= 1;  // image_size
    check("header", b, "header checksum");
  }
  {
    auto b = bytes;
    b[130] ^= 0x40;  // inside the path table
    check("paths", b, "path table checksum");
  }
  {
    auto b = bytes;
    b[b.size() - 5] ^= 0x01;  // a pixel
    check("pixel", b, "pixels checksum");
  }
  {
    auto b = bytes;
    b.resize(b.size() - 100);
    check("truncated", b, "file_size");
  }
  {
    auto b = bytes;
    b.resize(60);
    check("short", b, "shorter than the 128-byte header");
  }
  check("empty", {}, "header");
  // Every single flipped byte is rejected.
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    auto b = bytes;
    b[i] ^= 0x5a;
    EXPECT_THROW(Dataset::parse_cache(nullptr, b, "mem"), std::runtime_error) << "byte " << i;
  }
  EXPECT_NE(open_error(dir.path / "missing.rgcache").find("cannot open"), std::string::npos);
}

TEST(Cache, OpenOrBuildReusesAndRebuilds) {
  TempDir in, cache;
  for (int i = 0; i < 5; ++i) write_image(in.path / ("im" + std::to_string(i) + ".png"), i);
  std::ofstream(in.path / "readme.txt") << "x";
  bool rebuilt = false;
  Dataset a = open_or_build_dataset(in.path, cache.path, 24, Fit::kPad, {}, &rebuilt);
  EXPECT_TRUE(rebuilt);
  EXPECT_EQ(a.size(), 5u);
  const fs::path cp = cache_path_for(in.path, cache.path, 24, Fit::kPad);
  ASSERT_TRUE(fs::exists(cp));
  const std::string report = [&] {
    auto b = test::read_bytes(cp.string() + ".report.json");
    return std::string(b.begin(), b.end());
  }();
  EXPECT_NE(report.find("\"readme.txt\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"skipped_count\": 1"), std::string::npos) << report;

  Dataset b = open_or_build_dataset(in.path, cache.path, 24, Fit::kPad, {}, &rebuilt);
  EXPECT_FALSE(rebuilt);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(0, std::memcmp(a.pixels(), b.pixels(), 5 * a.image_bytes()));
  // Another size or fit is another cache.
  open_or_build_dataset(in.path, cache.path, 16, Fit::kPad, {}, &rebuilt);
  EXPECT_TRUE(rebuilt);
  // A new file changes the fingerprint: rebuilt.
  write_image(in.path / "im9.png", 9);
  Dataset c = open_or_build_dataset(in.path, cache.path, 24, Fit::kPad, {}, &rebuilt);
  EXPECT_TRUE(rebuilt);
  EXPECT_EQ(c.size(), 6u);
  // A corrupted cache is rebuilt, not trusted. (c maps the file being
  // overwritten in place here, so keep a copy of its pixels.)
  const std::vector<uint8_t> c_pixels(c.pixels(), c.pixels() + c.size() * c.image_bytes());
  {
    auto bytes = test::read_bytes(cp);
    bytes[bytes.size() - 1] ^= 0xff;
    test::write_bytes(cp, bytes);
  }
  Dataset d = open_or_build_dataset(in.path, cache.path, 24, Fit::kPad, {}, &rebuilt);
  EXPECT_TRUE(rebuilt);
  EXPECT_EQ(0, std::memcmp(c_pixels.data(), d.pixels(), c_pixels.size()));
}

TEST(Cache, ReadsAFileWrittenByTheIndependentPythonWriter) {
  // tests/data/files/python_written.rgcache comes from fuzz/make_corpus.py,
  // which writes the format of docs/data.md with Python's struct and zlib.
  const Dataset ds = open_cache(test::files_dir() / "python_written.rgcache");
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.image_size(), 4);
  EXPECT_EQ(ds.source(0), "a.png");
  EXPECT_EQ(ds.source(1), "dir/b.jpg");
  EXPECT_EQ(ds.fingerprint(), 0x1122334455667788ull);
  EXPECT_EQ(ds.fit(), Fit::kPad);
}
