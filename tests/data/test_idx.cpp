// SPDX-License-Identifier: Apache-2.0
// IDX reader: synthetic buffers (bounds checks) and the real Fashion-MNIST file.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>

#include "apps/data/idx.h"
#include "apps/data/letterbox.h"
#include "tests/data/test_util.h"

namespace fs = std::filesystem;
using namespace rg::data;

namespace {
std::vector<uint8_t> idx3(uint32_t n, uint32_t h, uint32_t w) {
  std::vector<uint8_t> b = {0, 0, 8, 3};
  for (uint32_t d : {n, h, w})
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  for (uint32_t i = 0; i < n * h * w; ++i) b.push_back(static_cast<uint8_t>(i * 7));
  return b;
}
std::string parse_error(const std::vector<uint8_t>& b) {
  try {
    parse_idx(b, "t.idx");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Idx, ParsesAndChecksBounds) {
  const auto b = idx3(2, 3, 4);
  IdxArray a = parse_idx(b, "t.idx");
  EXPECT_EQ(a.dims, (std::vector<uint32_t>{2, 3, 4}));
  ASSERT_EQ(a.data.size(), 24u);
  EXPECT_EQ(a.data[5], 35);
  auto t = b;
  t.pop_back();
  EXPECT_NE(parse_error(t).find("truncated"), std::string::npos);
  t = b;
  t.push_back(0);
  EXPECT_NE(parse_error(t).find("trailing"), std::string::npos);
  t = b;
  t[2] = 0x0D;
  EXPECT_NE(parse_error(t).find("type"), std::string::npos);
  t = b;
  t[0] = 1;
  EXPECT_NE(parse_error(t).find("magic"), std::string::npos);
  EXPECT_NE(parse_error({0, 0, 8}).find("magic"), std::string::npos);
  EXPECT_NE(parse_error({0, 0, 8, 3, 0, 0}).find("dimensions"), std::string::npos);
  t = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_NE(parse_error(t).find("t.idx"), std::string::npos);
}

TEST(Idx, GunzipRoundTripAndLimits) {
  const auto raw = idx3(3, 5, 5);
  uLongf cap = compressBound(static_cast<uLong>(raw.size())) + 64;
  // gzip via deflateInit2 with a gzip wrapper.
  std::vector<uint8_t> gz(cap);
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = gz.data();
  zs.avail_out = static_cast<uInt>(gz.size());
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  gz.resize(zs.total_out);
  deflateEnd(&zs);
  EXPECT_EQ(gunzip(gz, "g"), raw);
  auto cut = gz;
  cut.resize(cut.size() / 2);
  EXPECT_THROW(gunzip(cut, "g"), std::runtime_error);
  EXPECT_THROW(gunzip(gz, "g", 10), std::runtime_error);
  test::TempDir dir;
  test::write_bytes(dir.path / "x-idx3-ubyte.gz", gz);
  Dataset ds = idx_image_dataset(dir.path / "x-idx3-ubyte.gz", 32);
  EXPECT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.source(2), "x-idx3-ubyte.gz#2");
}

TEST(Idx, RealFashionMnist) {
  const fs::path f = fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz";
  ASSERT_TRUE(fs::exists(f)) << "Fashion-MNIST not installed (" << f << "): apt-get install dataset-fashion-mnist (tools/setup.sh does)";
  IdxArray a = read_idx_file(f);
  ASSERT_EQ(a.dims, (std::vector<uint32_t>{60000, 28, 28}));
  const fs::path l = fs::path(kFashionMnistDir) / "train-labels-idx1-ubyte.gz";
  IdxArray labels = read_idx_file(l);
  ASSERT_EQ(labels.dims, (std::vector<uint32_t>{60000}));
  for (uint8_t v : labels.data) ASSERT_LT(v, 10);
  Dataset ds = fashion_mnist_dataset(32, 100);
  ASSERT_EQ(ds.size(), 100u);
  EXPECT_EQ(ds.image_size(), 32);
  // 28 -> 32 is a plain bilinear resize of the gray image, replicated to RGB.
  for (std::size_t i : {0u, 57u}) {
    Image g;
    g.height = g.width = 28;
    g.pixels.resize(g.bytes());
    for (int k = 0; k < 28 * 28; ++k) g.pixels[3 * k] = g.pixels[3 * k + 1] = g.pixels[3 * k + 2] = a.data[i * 784 + k];
    Image lb = letterbox(g, 32);
    EXPECT_EQ(0, std::memcmp(lb.pixels.data(), ds.image(i), ds.image_bytes()));
    const uint8_t* p = ds.image(i);
    for (int k = 0; k < 32 * 32; ++k) ASSERT_TRUE(p[3 * k] == p[3 * k + 1] && p[3 * k] == p[3 * k + 2]);
  }
}
