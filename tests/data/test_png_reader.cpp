// SPDX-License-Identifier: Apache-2.0
// Our libpng reader (apps/data/png_reader.h) against OpenCV's PNG decoder,
// which it replaces so that libpng's messages no longer reach stderr: the
// same Mat (type, size, every byte) for every PNG colour type, bit depth,
// transparency chunk and interlacing, and for every PNG in the repository.
#include <gtest/gtest.h>
#include <png.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <random>

#include "apps/data/png_reader.h"

namespace {

namespace fs = std::filesystem;

struct Spec {
  int color_type, bit_depth;
  bool trns, interlaced;
};

void append(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}

// A PNG of the given kind with random samples (valid palette indices).
std::vector<uint8_t> make_png(const Spec& s, int w, int h, uint32_t seed) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return {};
  }
  png_set_write_fn(png, &out, append, nullptr);
  png_set_IHDR(png, info, png_uint_32(w), png_uint_32(h), s.bit_depth, s.color_type,
               s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  std::mt19937 rng(seed);
  const int entries = 1 << std::min(s.bit_depth, 8);
  std::vector<png_color> palette(static_cast<size_t>(entries));
  for (auto& c : palette) c = {png_byte(rng()), png_byte(rng()), png_byte(rng())};
  if (s.color_type == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, palette.data(), entries);
  std::vector<png_byte> alpha(static_cast<size_t>(entries));
  for (auto& a : alpha) a = png_byte(rng());
  png_color_16 key{};
  key.gray = png_uint_16(rng() & ((1 << s.bit_depth) - 1));
  key.red = key.green = key.blue = png_uint_16(rng() & ((1 << s.bit_depth) - 1));
  if (s.trns)
    png_set_tRNS(png, info, alpha.data(), s.color_type == PNG_COLOR_TYPE_PALETTE ? entries : 0,
                 &key);
  png_write_info(png, info);
  const int channels = s.color_type == PNG_COLOR_TYPE_RGB          ? 3
                       : s.color_type == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
                       : s.color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                                   : 1;
  const size_t row_bytes = (size_t(w) * channels * s.bit_depth + 7) / 8;
  std::vector<std::vector<png_byte>> rows(static_cast<size_t>(h), std::vector<png_byte>(row_bytes));
  std::vector<png_bytep> ptrs;
  for (auto& r : rows) {
    for (auto& b : r) b = png_byte(rng());
    ptrs.push_back(r.data());
  }
  png_write_image(png, ptrs.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void expect_same_as_opencv(const std::vector<uint8_t>& bytes, const std::string& what) {
  cv::Mat ours;
  std::string error;
  const bool ok = rg::data::decode_png(bytes, uint64_t(1) << 27, ours, error);
  const cv::Mat theirs =
      cv::imdecode(cv::Mat(1, int(bytes.size()), CV_8U, const_cast<uint8_t*>(bytes.data())),
                   cv::IMREAD_UNCHANGED);
  ASSERT_EQ(ok, !theirs.empty()) << what << ": " << error;
  if (!ok) return;
  ASSERT_EQ(ours.type(), theirs.type()) << what;
  ASSERT_EQ(ours.size(), theirs.size()) << what;
  for (int y = 0; y < ours.rows; ++y)
    ASSERT_EQ(0, std::memcmp(ours.ptr(y), theirs.ptr(y), ours.cols * ours.elemSize()))
        << what << " row " << y;
}

TEST(PngReader, EveryColourTypeDepthTransparencyAndInterlaceDecodesAsOpenCvDoes) {
  const std::vector<std::pair<int, std::vector<int>>> kinds = {
      {PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}},
      {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}},
      {PNG_COLOR_TYPE_RGB, {8, 16}},
      {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}},
      {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}}};
  int cases = 0;
  for (const auto& [type, depths] : kinds)
    for (int depth : depths)
      for (bool trns : {false, true})
        for (bool interlaced : {false, true}) {
          if (trns && (type & PNG_COLOR_MASK_ALPHA)) continue;  // no tRNS with an alpha channel
          const Spec s{type, depth, trns, interlaced};
          const std::string what = "type " + std::to_string(type) + " depth " +
                                   std::to_string(depth) + (trns ? " tRNS" : "") +
                                   (interlaced ? " Adam7" : "");
          const auto png = make_png(s, 13, 7, uint32_t(cases));
          ASSERT_FALSE(png.empty()) << what;
          expect_same_as_opencv(png, what);
          ++cases;
        }
  EXPECT_EQ(cases, 52);
}

TEST(PngReader, EveryPngOfTheRepositoryDecodesAsOpenCvDoes) {
  int files = 0;
  for (const char* dir : {"tests", "fuzz/corpus", "docs"})
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().extension() != ".png") continue;
      std::ifstream in(e.path(), std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                       std::istreambuf_iterator<char>());
      expect_same_as_opencv(bytes, e.path().string());
      ++files;
    }
  EXPECT_GT(files, 40);
}

TEST(PngReader, ErrorsComeBackAsReasonsWithoutPrintingAnything) {
  auto png = make_png({PNG_COLOR_TYPE_RGB, 8, false, false}, 20, 20, 5);
  cv::Mat m;
  std::string error;
  const std::vector<uint8_t> cut(png.begin(), png.begin() + long(png.size() / 2));
  testing::internal::CaptureStderr();
  EXPECT_FALSE(rg::data::decode_png(cut, uint64_t(1) << 27, m, error));
  EXPECT_EQ(error, "the file ends early (truncated)");
  EXPECT_FALSE(rg::data::decode_png(png, 100, m, error));
  EXPECT_EQ(error, "too large: 20 x 20");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
