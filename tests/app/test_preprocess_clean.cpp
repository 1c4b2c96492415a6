// SPDX-License-Identifier: Apache-2.0
// `ralsgan preprocess`'s cleaning flags as a user runs them: the detector
// crop, the detection cache, --export-images, --review, --exclude, --dedupe,
// and errors that name the file and leave what exists alone. The detectors
// and images are tools/make_detectors.py's (tests/data/files/detect).
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

#include <cstring>

#include "apps/data/dataset.h"
#include "apps/data/decode.h"
#include "tests/app/cli_harness.h"
#include "tests/app/json_check.h"

namespace rg {
namespace {

using namespace testing_cli;
namespace fs = std::filesystem;

const fs::path kDetect = fs::path(RG_SOURCE_DIR) / "tests/data/files/detect";
const std::string kImages = (kDetect / "images").string();

std::string preprocess(const fs::path& out, const std::string& more) {
  return "preprocess --size 32 --input " + kImages + " --output " + out.string() + " " + more;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The data the review page in `review` embeds ("const DATA = {...};"), parsed.
nlohmann::json review_data(const fs::path& review) {
  const std::string page = read_text(review / "index.html");
  const size_t at = page.find("const DATA = ");
  EXPECT_NE(at, std::string::npos) << page.substr(0, 200);
  if (at == std::string::npos) return nullptr;
  const size_t from = at + 13;
  const std::string data = page.substr(from, page.find(";\n", from) - from);
  EXPECT_TRUE(nlohmann::json::accept(data)) << data.substr(0, 400);
  return nlohmann::json::parse(data, nullptr, false);
}

TEST(PreprocessClean, DetectsCropsAndRedecidesFromTheDetectionCache) {
  TempDir t;
  const fs::path cache = t.path / "c.rgcache";
  const std::string v5 = "--detector " + (kDetect / "tiny_v5.onnx").string();
  auto r = ralsgan(preprocess(cache, v5), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "detect: yolov5 ONNX detector tiny_v5.onnx, 64 px input, 80 classes"))
      << r.err;
  EXPECT_TRUE(has(r.err, "detect: 7 images through the network, 0 from the detection cache"))
      << r.err;
  EXPECT_TRUE(has(r.err, "skipped green.png: no motorcycle detected (best: person 1.00)")) << r.err;
  EXPECT_EQ(data::open_cache(cache).size(), 5u);
  const std::string report = read_text(fs::path(cache.string() + ".report.json"));
  EXPECT_TRUE(testing_json::valid_json(report)) << report;
  const nlohmann::json j = nlohmann::json::parse(report);
  const nlohmann::json* wide = nullptr;
  size_t duplicates_of_red_square = 0;
  for (const nlohmann::json& im : j["images"]) {
    if (im["path"] == "wide_red.png") wide = &im;
    duplicates_of_red_square += im.value("duplicate_of", "") == "red_square.png";
  }
  ASSERT_NE(wide, nullptr) << report;
  EXPECT_EQ((*wide)["decision"], "kept") << report;
  EXPECT_EQ((*wide)["size"], nlohmann::json::parse("[128, 64]")) << report;
  EXPECT_EQ((*wide)["crop"], nlohmann::json::parse("[54, 6, 90, 42]")) << report;
  ASSERT_EQ((*wide)["detections"].size(), 4u) << report;  // the four red squares the detector sees
  EXPECT_EQ((*wide)["detections"][0],
            nlohmann::json::parse(R"({"class": "motorcycle", "score": 1, "box": [56, 8, 88, 40], "used": true})"))
      << report;
  EXPECT_EQ(duplicates_of_red_square, 1u) << report;
  // Stricter: decided again from the cache, no network run.
  r = ralsgan(preprocess(cache, v5 + " --min-score 0.5"), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "detect: 0 images through the network, 7 from the detection cache"))
      << r.err;
  EXPECT_TRUE(has(r.err, "skipped small_red.png: nothing detected (--min-score 0.50)")) << r.err;
  EXPECT_EQ(data::open_cache(cache).size(), 4u);
}

TEST(PreprocessClean, CacheAndReportAreByteIdenticalAcrossRunsAndThreadCounts) {
  TempDir t;
  const std::string dk = "--detector " + (kDetect / "tiny.weights").string() +
                         " --detector-config " + (kDetect / "tiny.cfg").string() +
                         " --crop union --margin 0.1";
  std::vector<uint8_t> cache0;
  std::string report0;
  for (const char* threads : {"1", "2", "3", "1"}) {
    const fs::path cache = t.path / (std::string("c") + threads + ".rgcache");
    const auto r = ralsgan(preprocess(cache, dk + " --threads " + threads), t.path);
    ASSERT_EQ(r.code, 0) << r.err;
    std::string report = read_text(fs::path(cache.string() + ".report.json"));
    report = report.substr(report.find("\"files_seen\""));  // the cache's own name differs
    if (cache0.empty()) {
      cache0 = read_bytes(cache);
      report0 = report;
      continue;
    }
    EXPECT_EQ(read_bytes(cache), cache0) << threads << " threads";
    EXPECT_EQ(report, report0) << threads << " threads";
  }
}

TEST(PreprocessClean, ExportedImagesAreTheCachedPixels) {
  TempDir t;
  const fs::path cache = t.path / "c.rgcache", out = t.path / "seen";
  const std::string args =
      "--detector " + (kDetect / "tiny_v8.onnx").string() + " --export-images " + out.string();
  auto r = ralsgan(preprocess(cache, args), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  const data::Dataset ds = data::open_cache(cache);
  ASSERT_EQ(ds.size(), 5u);
  for (size_t i = 0; i < ds.size(); ++i) {
    const data::DecodeResult png = data::decode_image_file(out / (ds.source(i) + ".png"));
    ASSERT_TRUE(png.ok) << ds.source(i) << ": " << png.reason;
    ASSERT_EQ(png.image.width, 32);
    EXPECT_EQ(0, std::memcmp(png.image.pixels.data(), ds.image(i), ds.image_bytes()))
        << ds.source(i);
  }
  // Again into the same folder (ours), with fewer images: the stale PNG goes.
  r = ralsgan(preprocess(cache, args + " --min-score 0.5"), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(out / "small_red.png.png"));
  EXPECT_TRUE(fs::exists(out / "two_red.png.png"));
}

TEST(PreprocessClean, OutputFoldersHoldingAUsersFilesAreRefusedBeforeAnyWork) {
  TempDir t;
  const fs::path cache = t.path / "c.rgcache", mine = t.path / "mine";
  fs::create_directories(mine);
  write_bytes(mine / "holiday.png", {1, 2, 3});
  write_bytes(cache, {'R', 'G', 'D', 'C', 'A', 'C', 'H', 'E', 9});  // an old cache of ours
  for (const char* flag : {"--export-images ", "--review "}) {
    const auto r =
        ralsgan(preprocess(cache, std::string("--dedupe ") + flag + mine.string()), t.path);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(has(r.err, mine.string() + ": the folder holds files that ralsgan did not write"))
        << r.err;
    EXPECT_EQ(read_bytes(mine / "holiday.png"), (std::vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ(read_bytes(cache).size(), 9u);  // the cache was not rewritten
  }
}

// File names that are not UTF-8 (photos from other systems): the report and
// the review page's data stay valid JSON, each such byte written as \xHH.
TEST(PreprocessClean, ReportAndReviewPageStayValidJsonWithLatin1Names) {
  TempDir t;
  const fs::path latin1 = t.path / "caf\xe9", cache = t.path / "c.rgcache", review = t.path / "r\xe9view";
  fs::create_directories(latin1);
  for (const auto& e : fs::directory_iterator(kImages))
    fs::copy_file(e.path(), latin1 / ("pr\xea-" + e.path().filename().string()));
  const std::string v5 = "--detector " + (kDetect / "tiny_v5.onnx").string();
  const auto r = ralsgan("preprocess --size 32 --input " + latin1.string() + " --output " + cache.string() + " " + v5 +
                             " --dedupe --review " + review.string(),
                         t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string report = read_text(fs::path(cache.string() + ".report.json"));
  ASSERT_TRUE(nlohmann::json::accept(report)) << report;
  const nlohmann::json j = nlohmann::json::parse(report);
  EXPECT_EQ(j["folder"], (t.path / "caf\\xe9").string());
  EXPECT_GE(j["images"].size(), 7u) << report;  // every file that decoded, kept or not
  for (const nlohmann::json& im : j["images"]) EXPECT_EQ(im["path"].get<std::string>().rfind("pr\\xea-", 0), 0u) << im;
  const nlohmann::json d = review_data(review);
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d["images"].size(), j["images"].size());
  for (const nlohmann::json& im : d["images"]) EXPECT_EQ(im["n"].get<std::string>().rfind("pr\\xea-", 0), 0u) << im;
}

TEST(PreprocessClean, ReviewPageAndExcludeListRoundTrip) {
  TempDir t;
  const fs::path cache = t.path / "c.rgcache", review = t.path / "review";
  const std::string v5 = "--detector " + (kDetect / "tiny_v5.onnx").string();
  auto r = ralsgan(preprocess(cache, v5 + " --review " + review.string()), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json data = review_data(review);
  ASSERT_TRUE(data.is_object());
  const nlohmann::json* green = nullptr;
  for (const nlohmann::json& im : data["images"])
    if (im["n"] == "green.png") green = &im;
  ASSERT_NE(green, nullptr) << data.dump();
  EXPECT_EQ((*green)["k"], 0);
  EXPECT_EQ((*green)["r"], "no motorcycle detected (best: person 1.00)");
  size_t thumbs = 0;
  for (const auto& e : fs::directory_iterator(review / "thumbs"))
    thumbs += e.path().extension() == ".jpg";
  EXPECT_EQ(thumbs, 7u);  // every image that decoded, kept or not
  // The list the page saves, applied on the next run.
  std::ofstream(t.path / "exclude.txt") << "# ralsgan exclude list\ntwo_red.png\nwide_red.png\n";
  r = ralsgan(
      preprocess(cache, v5 + " --exclude " + (t.path / "exclude.txt").string() + " --dedupe"),
      t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "exclude: 2 images skipped as listed")) << r.err;
  EXPECT_TRUE(has(r.err, "dedupe: 1 near-duplicates dropped")) << r.err;
  const data::Dataset ds = data::open_cache(cache);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.source(0), "red_square.png");
  EXPECT_EQ(ds.source(1), "small_red.png");
}

TEST(PreprocessClean, BadDetectorsAndFlagsFailWithOneMessageAndTouchNothing) {
  TempDir t;
  const fs::path cache = t.path / "c.rgcache";
  write_bytes(cache, {'R', 'G', 'D', 'C', 'A', 'C', 'H', 'E', 7});
  struct Case {
    std::string args, message;
    int code;
  } cases[] = {
      {"--detector " + (kDetect / "bad_shape.onnx").string(),
       (kDetect / "bad_shape.onnx").string() + ": its output [1, 8, 3] is neither", 1},
      {"--detector " + (kDetect / "tiny.weights").string(), "give --detector-config CFG", 1},
      {"--detector " + (kDetect / "tiny_v5.onnx").string() + " --keep motorbike",
       "--keep: 'motorbike' is not one of the detector's 80 classes", 2},
      {"--detector " + (kDetect / "tiny_v5.onnx").string() + " --crop middle",
       "--crop must be largest, union or none, got 'middle'", 2},
      {"--min-score 0.5", "--min-score needs --detector", 2},
      {"--exclude " + (t.path / "nope.txt").string(),
       (t.path / "nope.txt").string() + ": cannot read", 1},
  };
  for (const Case& c : cases) {
    const auto r = ralsgan(preprocess(cache, c.args), t.path);
    EXPECT_EQ(r.code, c.code) << c.args << "\n" << r.err;
    EXPECT_TRUE(has(r.err, c.message)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(read_bytes(cache).size(), 9u);
  }
}

}  // namespace
}  // namespace rg
