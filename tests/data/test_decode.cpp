// SPDX-License-Identifier: Apache-2.0
// Decoding: a folder of odd and broken files built here, each valid one checked
// against its source pixels or an independent decode, each broken one skipped
// with a reason; empty / undecodable folders raise a clear error.
#include <gif_lib.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "apps/data/dataset.h"
#include "apps/data/decode.h"
#include "apps/data/letterbox.h"
#include "tests/data/test_util.h"

namespace fs = std::filesystem;
using namespace rg::data;
using rg::data::test::TempDir;

namespace {

Image pattern(int h, int w, int seed) {
  Image img;
  img.height = h;
  img.width = w;
  img.pixels.resize(img.bytes());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(y, x);
      p[0] = static_cast<uint8_t>(x * 7 + seed);
      p[1] = static_cast<uint8_t>(y * 5 + 3 * seed);
      p[2] = static_cast<uint8_t>((x * y + seed * 11) & 255);
    }
  return img;
}

cv::Mat to_bgr(const Image& img) {
  cv::Mat rgb(img.height, img.width, CV_8UC3, const_cast<uint8_t*>(img.pixels.data())), bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

Image from_bgr(const cv::Mat& bgr) {
  cv::Mat rgb;
  if (bgr.channels() == 1)
    cv::cvtColor(bgr, rgb, cv::COLOR_GRAY2RGB);
  else
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  Image img;
  img.height = rgb.rows;
  img.width = rgb.cols;
  img.pixels.assign(rgb.data, rgb.data + img.bytes());
  return img;
}

Image gray_replicated(const cv::Mat& g) {
  Image img;
  img.height = g.rows;
  img.width = g.cols;
  img.pixels.resize(img.bytes());
  for (int y = 0; y < g.rows; ++y)
    for (int x = 0; x < g.cols; ++x) {
      uint8_t* p = img.at(y, x);
      p[0] = p[1] = p[2] = g.at<uint8_t>(y, x);
    }
  return img;
}

void write(const fs::path& p, const cv::Mat& m, std::vector<int> params = {}) {
  ASSERT_TRUE(cv::imwrite(p.string(), m, params)) << p;
}

// A two-frame GIF: screen 10x8, first frame 6x5 at (2,1) with a local colour
// map of 4 colours, index 3 transparent.
void write_gif(const fs::path& p, Image& expected) {
  int err = 0;
  GifFileType* gif = EGifOpenFileName(p.c_str(), false, &err);
  ASSERT_NE(gif, nullptr);
  GifColorType global[2] = {{9, 9, 9}, {200, 200, 200}};
  ColorMapObject* gmap = GifMakeMapObject(2, global);
  ASSERT_EQ(EGifPutScreenDesc(gif, 10, 8, 8, 1, gmap), GIF_OK);
  GraphicsControlBlock gcb{};
  gcb.DisposalMode = DISPOSAL_UNSPECIFIED;
  gcb.DelayTime = 10;
  gcb.TransparentColor = 3;
  GifByteType ext[4];
  size_t n = EGifGCBToExtension(&gcb, ext);
  ASSERT_EQ(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(n), ext), GIF_OK);
  GifColorType local[4] = {{255, 0, 0}, {0, 255, 0}, {10, 20, 250}, {77, 77, 77}};
  ColorMapObject* lmap = GifMakeMapObject(4, local);
  ASSERT_EQ(EGifPutImageDesc(gif, 2, 1, 6, 5, false, lmap), GIF_OK);
  expected.height = 8;
  expected.width = 10;
  expected.pixels.assign(expected.bytes(), 0);
  for (int y = 0; y < 5; ++y) {
    GifPixelType row[6];
    for (int x = 0; x < 6; ++x) {
      row[x] = static_cast<GifPixelType>((x + y) % 4);
      if (row[x] != 3) {
        uint8_t* d = expected.at(1 + y, 2 + x);
        d[0] = local[row[x]].Red;
        d[1] = local[row[x]].Green;
        d[2] = local[row[x]].Blue;
      }
    }
    ASSERT_EQ(EGifPutLine(gif, row, 6), GIF_OK);
  }
  // Second frame (must be ignored): full screen, white. (It has a local map
  // too: giflib 5.2's writer leaks the previous local map otherwise.)
  ASSERT_EQ(EGifPutImageDesc(gif, 0, 0, 10, 8, false, gmap), GIF_OK);
  for (int y = 0; y < 8; ++y) {
    GifPixelType row[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    ASSERT_EQ(EGifPutLine(gif, row, 10), GIF_OK);
  }
  ASSERT_EQ(EGifCloseFile(gif, &err), GIF_OK);
  GifFreeMapObject(gmap);
  GifFreeMapObject(lmap);
}

struct Expect {
  Image image;    // expected pixels when valid
  int tolerance;  // max abs difference allowed
  bool note;      // expects a note (wrong extension ...)
};

}  // namespace

TEST(Decode, SniffAndExtension) {
  EXPECT_EQ(format_from_extension(".JPG"), ImageFormat::kJpeg);
  EXPECT_EQ(format_from_extension("JpEg"), ImageFormat::kJpeg);
  EXPECT_EQ(format_from_extension(".TIF"), ImageFormat::kTiff);
  EXPECT_EQ(format_from_extension(".txt"), ImageFormat::kUnknown);
  const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  EXPECT_EQ(sniff_format(png), ImageFormat::kPng);
  const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a'};
  EXPECT_EQ(sniff_format(gif), ImageFormat::kGif);
  const uint8_t junk[] = {1, 2, 3};
  EXPECT_EQ(sniff_format(junk), ImageFormat::kUnknown);
  EXPECT_FALSE(decode_image_bytes({}, "a.png").ok);
  EXPECT_EQ(decode_image_bytes({}, "a.png").reason, "empty file");
}

TEST(Decode, FolderOfOddAndBrokenFiles) {
  TempDir dir;
  const fs::path d = dir.path;
  std::map<std::string, Expect> valid;
  std::map<std::string, std::string> broken;  // name -> substring of the reason

  const Image rgb = pattern(21, 33, 1);
  // JPEG colour and gray: compared with OpenCV's own imread + manual conversion.
  write(d / "color.jpg", to_bgr(rgb), {cv::IMWRITE_JPEG_QUALITY, 92});
  valid["color.jpg"] = {from_bgr(cv::imread((d / "color.jpg").string(), cv::IMREAD_COLOR)), 0, false};
  cv::Mat gray(17, 23, CV_8UC1);
  for (int y = 0; y < gray.rows; ++y)
    for (int x = 0; x < gray.cols; ++x) gray.at<uint8_t>(y, x) = static_cast<uint8_t>(x * 9 + y * 4);
  write(d / "gray.jpg", gray);
  valid["gray.jpg"] = {gray_replicated(cv::imread((d / "gray.jpg").string(), cv::IMREAD_GRAYSCALE)), 0, false};
  // CMYK and progressive JPEG, palette and gray+alpha PNG: made by Pillow
  // (tools/golden/make_decode_samples.py), checked against Pillow's decode.
  for (const char* name : {"cmyk.jpg", "progressive.jpg", "palette.png", "la.png"}) {
    fs::copy_file(rg::data::test::files_dir() / "decode" / name, d / name);
    const bool jpeg = std::string(name).find(".jpg") != std::string::npos;
    valid[name] = {rg::data::test::read_ppm(rg::data::test::files_dir() / "decode" / (std::string(name) + ".expected.ppm")),
                   jpeg ? 3 : 0, false};
  }
  // PNG gray, 16-bit, alpha; 1x1; very wide and very tall.
  write(d / "gray.png", gray);
  valid["gray.png"] = {gray_replicated(gray), 0, false};
  {
    cv::Mat m16(9, 12, CV_16UC3);
    Image e;
    e.height = 9;
    e.width = 12;
    e.pixels.resize(e.bytes());
    for (int y = 0; y < 9; ++y)
      for (int x = 0; x < 12; ++x)
        for (int c = 0; c < 3; ++c) {
          const uint16_t v = static_cast<uint16_t>((x * 5471 + y * 1237 + c * 20011) % 65536);
          m16.at<cv::Vec3w>(y, x)[2 - c] = v;  // BGR
          e.at(y, x)[c] = static_cast<uint8_t>((v + 128) / 257);
        }
    write(d / "rgb16.png", m16);
    valid["rgb16.png"] = {e, 0, false};
  }
  {
    cv::Mat bgra(11, 13, CV_8UC4);
    Image e;
    e.height = 11;
    e.width = 13;
    e.pixels.resize(e.bytes());
    for (int y = 0; y < 11; ++y)
      for (int x = 0; x < 13; ++x) {
        const uint8_t r = static_cast<uint8_t>(x * 19), g = static_cast<uint8_t>(y * 23), b = 200,
                      a = static_cast<uint8_t>((x * 13 + y * 31) & 255);
        bgra.at<cv::Vec4b>(y, x) = cv::Vec4b(b, g, r, a);
        e.at(y, x)[0] = static_cast<uint8_t>((r * a + 127) / 255);
        e.at(y, x)[1] = static_cast<uint8_t>((g * a + 127) / 255);
        e.at(y, x)[2] = static_cast<uint8_t>((b * a + 127) / 255);
      }
    write(d / "alpha.png", bgra);
    valid["alpha.png"] = {e, 0, false};
  }
  const Image one = pattern(1, 1, 5), wide = pattern(3, 2000, 6), tall = pattern(2000, 3, 7);
  write(d / "one.png", to_bgr(one));
  valid["one.png"] = {one, 0, false};
  write(d / "wide.png", to_bgr(wide));
  valid["wide.png"] = {wide, 0, false};
  write(d / "tall.png", to_bgr(tall));
  valid["tall.png"] = {tall, 0, false};
  // BMP, lossless WebP, TIFF.
  const Image b = pattern(14, 19, 8);
  write(d / "img.bmp", to_bgr(b));
  valid["img.bmp"] = {b, 0, false};
  write(d / "lossless.webp", to_bgr(b), {cv::IMWRITE_WEBP_QUALITY, 101});
  valid["lossless.webp"] = {b, 0, false};
  write(d / "img.tiff", to_bgr(b));
  valid["img.tiff"] = {b, 0, false};
  // GIF: first frame on its logical screen.
  Image gif_expected;
  write_gif(d / "anim.gif", gif_expected);
  valid["anim.gif"] = {gif_expected, 0, false};
  // A PNG named .jpg, upper-case extensions, no extension, a nested folder.
  write(d / "png_named.jpg.png", to_bgr(b));
  fs::rename(d / "png_named.jpg.png", d / "png_named.jpg");
  valid["png_named.jpg"] = {b, 0, true};
  write(d / "UPPER.PNG", to_bgr(rgb));
  valid["UPPER.PNG"] = {rgb, 0, false};
  write(d / "PHOTO.JPEG", to_bgr(rgb), {cv::IMWRITE_JPEG_QUALITY, 92});
  valid["PHOTO.JPEG"] = {from_bgr(cv::imread((d / "PHOTO.JPEG").string(), cv::IMREAD_COLOR)), 0, false};
  write(d / "noext.png", to_bgr(one));
  fs::rename(d / "noext.png", d / "noext");
  valid["noext"] = {one, 0, true};
  fs::create_directories(d / "sub");
  write(d / "sub" / "nested.png", to_bgr(b));
  valid["sub/nested.png"] = {b, 0, false};
  // Truncated JPEG: OpenCV decodes what is there (libjpeg warns); kept with a note.
  {
    auto bytes = rg::data::test::read_bytes(d / "color.jpg");
    bytes.resize(bytes.size() * 3 / 4);
    rg::data::test::write_bytes(d / "truncated.jpg", bytes);
  }

  // Broken ones.
  rg::data::test::write_bytes(d / "empty.png", {});
  broken["empty.png"] = "empty file";
  {
    auto bytes = rg::data::test::read_bytes(d / "wide.png");
    bytes.resize(bytes.size() / 2);
    rg::data::test::write_bytes(d / "truncated.png", bytes);
    broken["truncated.png"] = "PNG decode failed";
  }
  {
    std::vector<uint8_t> junk(1000);
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
    rg::data::test::write_bytes(d / "random.png", junk);
    broken["random.png"] = "not a PNG file";
  }
  {
    std::ofstream(d / "notes.txt") << "not an image\n";
    broken["notes.txt"] = "not an image";
  }
  fs::create_directories(d / "x.jpg");
  broken["x.jpg"] = "is a directory";
  fs::create_symlink(d / "does_not_exist.png", d / "broken_link.jpg");
  broken["broken_link.jpg"] = "broken symlink";
  {
    write(d / "noperm.png", to_bgr(one));
    ::chmod((d / "noperm.png").c_str(), 0);
    // Root reads it anyway; otherwise it is skipped as unreadable.
    if (::geteuid() == 0)
      valid["noperm.png"] = {one, 0, false};
    else
      broken["noperm.png"] = "cannot open";
  }

  const std::size_t files = valid.size() + broken.size() + 1;  // + truncated.jpg
  ASSERT_GE(files, 25u);

  // Each valid one decodes to the expected pixels.
  for (const auto& [name, e] : valid) {
    DecodeResult r = decode_image_file(d / name);
    ASSERT_TRUE(r.ok) << name << ": " << r.reason;
    EXPECT_LE(rg::data::test::max_abs_diff(r.image, e.image), e.tolerance)
        << name << " " << r.image.height << "x" << r.image.width << " vs " << e.image.height << "x" << e.image.width;
    EXPECT_EQ(!r.note.empty(), e.note) << name << ": note '" << r.note << "'";
  }
  // Each broken one is skipped with its reason.
  for (const auto& [name, why] : broken) {
    DecodeResult r = decode_image_file(d / name);
    EXPECT_FALSE(r.ok) << name;
    EXPECT_NE(r.reason.find(why), std::string::npos) << name << ": reason '" << r.reason << "'";
  }

  // The whole folder builds; the report lists every skipped file.
  BuildReport rep;
  std::vector<std::pair<std::size_t, std::size_t>> progress;
  BuildOptions opt;
  opt.threads = 2;
  opt.progress = [&](std::size_t done, std::size_t total) { progress.emplace_back(done, total); };
  Dataset ds = build_dataset(d, 32, Fit::kPad, &rep, opt);
  EXPECT_EQ(rep.files_seen, files);
  ASSERT_EQ(progress.size(), files);
  EXPECT_EQ(progress.back(), std::make_pair(files, files));
  EXPECT_EQ(rep.skipped.size(), broken.size());
  for (const auto& s : rep.skipped) {
    ASSERT_TRUE(broken.count(s.path)) << "unexpectedly skipped: " << s.path << ": " << s.reason;
    EXPECT_NE(s.reason.find(broken[s.path]), std::string::npos) << s.path << ": " << s.reason;
  }
  EXPECT_EQ(ds.size(), valid.size() + 1);
  EXPECT_EQ(rep.decoded, ds.size());
  bool truncated_noted = false;
  for (const auto& n : rep.notes)
    if (n.path == "truncated.jpg") truncated_noted = n.note.find("no end-of-image") != std::string::npos;
  EXPECT_TRUE(truncated_noted);
  // Sorted order, and each stored image is the letterbox of its decode.
  for (std::size_t i = 0; i + 1 < ds.size(); ++i) EXPECT_LT(ds.source(i), ds.source(i + 1));
  for (std::size_t i = 0; i < ds.size(); ++i) {
    DecodeResult r = decode_image_file(d / ds.source(i));
    ASSERT_TRUE(r.ok);
    Image lb = letterbox(r.image, 32);
    EXPECT_EQ(0, std::memcmp(lb.pixels.data(), ds.image(i), ds.image_bytes())) << ds.source(i);
  }
  // The JSON report names the skipped files and reasons.
  const std::string json = report_json(rep, "c.rgcache");
  EXPECT_NE(json.find("\"broken_link.jpg\""), std::string::npos);
  EXPECT_NE(json.find("\"decoded\": " + std::to_string(ds.size())), std::string::npos);
}

TEST(Decode, HeaderPixelLimit) {
  // A 516-byte JPEG whose SOF claims 10752 x 18761 (found by fuzz_decode).
  cv::Mat small(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  std::vector<uint8_t> jpg;
  ASSERT_TRUE(cv::imencode(".jpg", small, jpg));
  std::size_t i = 2;
  while (!(jpg[i] == 0xFF && jpg[i + 1] == 0xC0)) i += 2 + ((jpg[i + 2] << 8) | jpg[i + 3]);
  jpg[i + 5] = 18761 >> 8;
  jpg[i + 6] = 18761 & 255;
  jpg[i + 7] = 10752 >> 8;
  jpg[i + 8] = 10752 & 255;
  DecodeResult r = decode_image_bytes(jpg, "bomb.jpg");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("too large"), std::string::npos) << r.reason;
  const uint64_t old = max_decode_pixels();
  set_max_decode_pixels(63);
  EXPECT_FALSE(decode_image_bytes(std::vector<uint8_t>(jpg.begin(), jpg.end()), "x.jpg").ok);
  std::vector<uint8_t> ok8;
  ASSERT_TRUE(cv::imencode(".png", small, ok8));
  EXPECT_NE(decode_image_bytes(ok8, "x.png").reason.find("too large"), std::string::npos);
  set_max_decode_pixels(64);
  EXPECT_TRUE(decode_image_bytes(ok8, "x.png").ok);
  set_max_decode_pixels(old);
}

// WebP's three headers are read for their size before decoding: the 34-byte
// lossless file of an earlier bug report claims 16384 x 16384 (1.6 GB of RSS in OpenCV);
// and OpenCV's own WebP files of each kind are measured exactly (the limit
// set one below their pixel count refuses them, at it admits them).
TEST(Decode, WebpHeaderPixelLimit) {
  const std::vector<uint8_t> bomb = {0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50,
                                     0x56, 0x50, 0x38, 0x4c, 0x0e, 0x00, 0x00, 0x00, 0x2f, 0xff, 0xff, 0xff,
                                     0x0f, 0x07, 0x10, 0x11, 0xfd, 0x0f, 0x44, 0x44, 0xff, 0x03};
  DecodeResult r = decode_image_bytes(bomb, "bomb.webp");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("WebP too large: header claims 268435456 pixels"), std::string::npos) << r.reason;
  cv::Mat img(6, 10, CV_8UC3, cv::Scalar(10, 20, 30));
  for (int quality : {80, 101}) {  // lossy (VP8) and lossless (VP8L)
    std::vector<uint8_t> webp;
    ASSERT_TRUE(cv::imencode(".webp", img, webp, {cv::IMWRITE_WEBP_QUALITY, quality}));
    const uint64_t old = max_decode_pixels();
    set_max_decode_pixels(59);
    r = decode_image_bytes(webp, "x.webp");
    EXPECT_NE(r.reason.find("header claims 60 pixels"), std::string::npos) << quality << ": " << r.reason;
    set_max_decode_pixels(60);
    EXPECT_TRUE(decode_image_bytes(webp, "x.webp").ok) << quality;
    set_max_decode_pixels(old);
  }
  // A RIFF/WEBP file whose first chunk is no image header we can read is
  // refused before OpenCV sees it (the fuzzer found it reaching GDCM's reader).
  std::vector<uint8_t> bad = bomb;
  bad[20] = 0xFE;  // not VP8L's signature byte
  r = decode_image_bytes(bad, "x.webp");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("no VP8, VP8L or VP8X image header"), std::string::npos) << r.reason;
  // Nor does any file with DICOM's signature at byte 128 (OpenCV's DICOM reader would take it).
  std::vector<uint8_t> dicm(200, 0);
  dicm[0] = 0xFF, dicm[1] = 0xD8, dicm[2] = 0xFF;  // JPEG's magic
  std::memcpy(&dicm[128], "DICM", 4);
  r = decode_image_bytes(dicm, "x.jpg");
  EXPECT_NE(r.reason.find("it carries a DICOM signature"), std::string::npos) << r.reason;
  // VP8X (extended): canvas 3000 x 50000 - 1 in 24-bit fields.
  std::vector<uint8_t> x = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
                            0, 0, 0, 0};
  const uint32_t w = 3000 - 1, h = 50000 - 1;
  for (int k = 0; k < 3; ++k) x.push_back(uint8_t(w >> (8 * k)));
  for (int k = 0; k < 3; ++k) x.push_back(uint8_t(h >> (8 * k)));
  r = decode_image_bytes(x, "x.webp");
  EXPECT_NE(r.reason.find("header claims 150000000 pixels"), std::string::npos) << r.reason;
}

TEST(Decode, EmptyOrUndecodableFolderIsAnError) {
  TempDir dir;
  try {
    build_dataset(dir.path, 32, Fit::kPad);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no files"), std::string::npos) << e.what();
  }
  std::ofstream(dir.path / "a.txt") << "hello";
  rg::data::test::write_bytes(dir.path / "b.jpg", {0xFF, 0xD8, 0xFF, 0x00});
  try {
    build_dataset(dir.path, 32, Fit::kPad);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no decodable image"), std::string::npos) << e.what();
  }
  EXPECT_THROW(build_dataset(dir.path / "missing", 32, Fit::kPad), std::runtime_error);
}
