// SPDX-License-Identifier: Apache-2.0
// The cleaning step (apps/data/clean): YOLO output layouts, NMS, the crop
// decision, the detection cache, perceptual hashes, and the whole step on
// the tiny detectors of tools/make_detectors.py, whose outputs the tests
// work out from the images (see that script's docstring for the rule).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <opencv2/core.hpp>

#include "apps/data/clean/class_names.h"
#include "apps/data/clean/cleaning.h"
#include "apps/data/clean/perceptual_hash.h"
#include "apps/data/clean/selection.h"
#include "apps/data/clean/yolo_outputs.h"
#include "apps/data/dataset.h"
#include "apps/data/decode.h"
#include "apps/data/letterbox.h"
#include "test_util.h"

namespace rg::data {
namespace {

namespace fs = std::filesystem;

fs::path detect_dir() {
  return test::files_dir() / "detect";
}
fs::path images_dir() {
  return detect_dir() / "images";
}

constexpr int kMotorcycle = 3, kPerson = 0;

Detection det(float x0, float y0, float x1, float y1, float score, int cls) {
  return {{x0, y0, x1, y1}, score, cls};
}

void expect_box(const Box& b, double x0, double y0, double x1, double y1) {
  EXPECT_FLOAT_EQ(b.x0, float(x0));
  EXPECT_FLOAT_EQ(b.y0, float(y0));
  EXPECT_FLOAT_EQ(b.x1, float(x1));
  EXPECT_FLOAT_EQ(b.y1, float(y1));
}

// ---- Placement and output layouts ---------------------------------------------

TEST(YoloOutputs, LetterboxPlacementKeepsTheAspectCentred) {
  const InputPlacement p = letterbox_placement(128, 64, 64);  // 2:1 into 64: 64 x 32, 16 above
  EXPECT_EQ(p.drawn_w, 64);
  EXPECT_EQ(p.drawn_h, 32);
  EXPECT_EQ(p.left, 0);
  EXPECT_EQ(p.top, 16);
  const InputPlacement q = letterbox_placement(300, 500, 640);  // 384 x 640, 128 left
  EXPECT_EQ(q.drawn_w, 384);
  EXPECT_EQ(q.drawn_h, 640);
  EXPECT_EQ(q.left, 128);
  EXPECT_EQ(q.top, 0);
}

TEST(YoloOutputs, EachLayoutDecodesToImagePixels) {
  const int classes = 3;
  const InputPlacement p = letterbox_placement(128, 64, 64);  // x2 back, 16 rows of bar
  // One candidate: centre (32, 32), 16 x 8 input pixels, class 2.
  // YOLOv5 [1, 2, 8]: the second row is under the floor (0.9 x 0.1).
  const float v5[2][8] = {{32, 32, 16, 8, 0.5f, 0.1f, 0.2f, 0.8f},
                          {10, 10, 4, 4, 0.9f, 0.1f, 0.0f, 0.0f}};
  const int v5_shape[3] = {1, 2, 8};
  cv::Mat m5(3, v5_shape, CV_32F, const_cast<float*>(&v5[0][0]));
  auto d = decode_yolo_outputs({m5}, YoloLayout::kV5, classes, p, 0.3f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].cls, 2);
  EXPECT_FLOAT_EQ(d[0].score, 0.4f);  // objectness x class
  expect_box(d[0].box, (24 - 0) * 2, (28 - 16) * 2, (40 - 0) * 2, (36 - 16) * 2);
  // YOLOv8 [1, 7, 2]: columns are candidates, no objectness.
  const float v8[7][2] = {{32, 1}, {32, 1}, {16, 1}, {8, 1}, {0.1f, 0}, {0.2f, 0}, {0.8f, 0.2f}};
  const int v8_shape[3] = {1, 7, 2};
  cv::Mat m8(3, v8_shape, CV_32F, const_cast<float*>(&v8[0][0]));
  d = decode_yolo_outputs({m8}, YoloLayout::kV8, classes, p, 0.3f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_FLOAT_EQ(d[0].score, 0.8f);
  expect_box(d[0].box, 48, 24, 80, 40);
  // Darknet [N, 8]: fractions of the input, class values already x objectness.
  const float dk[1][8] = {{0.5f, 0.5f, 0.25f, 0.125f, 0.9f, 0, 0.7f, 0}};
  cv::Mat md(1, 8, CV_32F, const_cast<float*>(&dk[0][0]));
  d = decode_yolo_outputs({md}, YoloLayout::kDarknet, classes, stretch_placement(128, 64, 64),
                          0.3f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].cls, 1);
  EXPECT_FLOAT_EQ(d[0].score, 0.7f);
  expect_box(d[0].box, 48, 28, 80, 36);  // x scaled by 2, y by 1
}

TEST(YoloOutputs, BoxesAreClippedAndNonFiniteRowsDropped) {
  const float v5[2][6] = {{2, 2, 10, 10, 1, 1}, {NAN, 2, 10, 10, 1, 1}};
  const int shape[3] = {1, 2, 6};
  cv::Mat m(3, shape, CV_32F, const_cast<float*>(&v5[0][0]));
  const auto d =
      decode_yolo_outputs({m}, YoloLayout::kV5, 1, letterbox_placement(64, 64, 64), 0.1f);
  ASSERT_EQ(d.size(), 1u);
  expect_box(d[0].box, 0, 0, 7, 7);
}

TEST(YoloOutputs, LayoutComesFromTheShapeOrIsRefused) {
  EXPECT_EQ(onnx_layout_of({1, 25200, 85}, 80), YoloLayout::kV5);
  EXPECT_EQ(onnx_layout_of({1, 84, 8400}, 80), YoloLayout::kV8);
  try {
    onnx_layout_of({1, 8, 3}, 80);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "[1, 8, 3] is neither YOLOv5's [1, N, 85] nor YOLOv8's [1, 84, N]"),
              std::string::npos)
        << e.what();
  }
}

// ---- NMS and the decision ------------------------------------------------------------

TEST(Selection, NmsIsPerClassAndKeepsTheBest) {
  // A and B overlap with IoU 64/(100+100-64) = 0.47; C is B's twin of another class.
  const std::vector<Detection> c = {det(0, 0, 10, 10, 0.6f, 1), det(2, 2, 12, 12, 0.9f, 1),
                                    det(2, 2, 12, 12, 0.5f, 2), det(50, 50, 60, 60, 0.7f, 1)};
  auto k = nms_per_class(c, 0.45f);
  ASSERT_EQ(k.size(), 3u);
  EXPECT_FLOAT_EQ(k[0].score, 0.9f);  // best first
  EXPECT_FLOAT_EQ(k[1].score, 0.7f);
  EXPECT_EQ(k[2].cls, 2);                        // not suppressed by a box of another class
  EXPECT_EQ(nms_per_class(c, 0.5f).size(), 4u);  // 0.47 is under this limit
}

TEST(Selection, CropGrowsByTheMarginClipsAndRoundsOutwards) {
  // Independent arithmetic: 10.25 - 0.125 * 20 = 7.75 -> 7; 30.25 + 2.5 = 32.75 -> 33;
  // y: 6 - 0.125 * 40 = 1 -> 1; 45 + 5 = 50 -> clipped to 48.
  EXPECT_EQ(crop_around({10.25f, 6, 30.25f, 46}, 0.125f, 100, 48), (CropRect{7, 1, 33, 48}));
  EXPECT_EQ(crop_around({10.5f, 5, 30.5f, 45}, 0, 100, 48), (CropRect{10, 5, 31, 45}));
  EXPECT_EQ(crop_around({100, 10, 100, 10}, 0, 100, 48),
            (CropRect{99, 10, 100, 11}));  // empty: one pixel
}

TEST(Selection, DecidesByClassScoreAreaAndCrop) {
  const auto& names = coco_class_names();
  SelectOptions o;
  o.keep = parse_keep_classes("motorcycle", names);
  o.margin = 0;
  const std::vector<Detection> c = {
      det(0, 0, 40, 40, 0.9f, kPerson), det(10, 10, 20, 30, 0.8f, kMotorcycle),
      det(50, 50, 80, 60, 0.3f, kMotorcycle), det(0, 0, 5, 5, 0.1f, kMotorcycle)};
  Decision d = decide(c, 100, 100, o, names);
  ASSERT_TRUE(d.kept);
  ASSERT_EQ(d.detections.size(), 3u);  // 0.1 is under --min-score
  EXPECT_EQ(d.used, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(d.crop, (CropRect{50, 50, 80, 60}));  // 300 px beats 200 px
  o.crop = CropMode::kUnion;
  EXPECT_EQ(decide(c, 100, 100, o, names).crop, (CropRect{10, 10, 80, 60}));
  o.crop = CropMode::kNone;
  EXPECT_EQ(decide(c, 100, 100, o, names).crop, (CropRect{0, 0, 100, 100}));
  o.min_area = 0.025f;  // 250 px: only the 300 px box is left
  d = decide(c, 100, 100, o, names);
  EXPECT_EQ(d.used, (std::vector<bool>{false, false, true}));
  o.min_area = 0.05f;
  d = decide(c, 100, 100, o, names);
  EXPECT_FALSE(d.kept);
  EXPECT_EQ(d.reason, "every motorcycle box is smaller than --min-area 0.05 of the image");
  o.min_area = 0;
  o.keep = parse_keep_classes("bus,truck", names);
  d = decide(c, 100, 100, o, names);
  EXPECT_FALSE(d.kept);
  EXPECT_EQ(d.reason, "no bus/truck detected (best: person 0.90)");
  o.min_score = 0.95f;
  EXPECT_EQ(decide(c, 100, 100, o, names).reason, "nothing detected (--min-score 0.95)");
}

TEST(Selection, KeepTakesNamesOrIndicesAndRefusesOthers) {
  const auto& names = coco_class_names();
  ASSERT_EQ(names.size(), 80u);
  EXPECT_EQ(names[kMotorcycle], "motorcycle");
  const auto k = parse_keep_classes("0,motorcycle", names);
  EXPECT_TRUE(k[0]);
  EXPECT_TRUE(k[3]);
  EXPECT_EQ(std::count(k.begin(), k.end(), true), 2);
  EXPECT_THROW(parse_keep_classes("motorbike", names), std::invalid_argument);
  EXPECT_THROW(parse_keep_classes("80", names), std::invalid_argument);
  EXPECT_THROW(parse_keep_classes("car,", names), std::invalid_argument);
}

// ---- The detectors on the test images ----------------------------------------------

// What the tiny detectors must return for an image made of red rectangles,
// worked out from the rule in tools/make_detectors.py: every 8 x 8 cell of
// the 64 x 64 input whose red fraction f > 0 is a motorcycle box of 16 x 16
// input pixels around the cell's centre, scored f; mapped back to the image.
struct Rect {
  double x0, y0, x1, y1;
};
std::vector<Detection> expected_red(const std::vector<Rect>& red, const InputPlacement& p) {
  const double sx = double(p.drawn_w) / p.width, sy = double(p.drawn_h) / p.height;
  std::vector<Detection> out;
  for (int cy = 0; cy < 8; ++cy)
    for (int cx = 0; cx < 8; ++cx) {
      double area = 0;
      for (const Rect& r : red) {  // the rectangle in input pixels, against the cell
        const double x0 = r.x0 * sx + p.left, x1 = r.x1 * sx + p.left;
        const double y0 = r.y0 * sy + p.top, y1 = r.y1 * sy + p.top;
        const double w = std::min(x1, cx * 8.0 + 8) - std::max(x0, cx * 8.0);
        const double h = std::min(y1, cy * 8.0 + 8) - std::max(y0, cy * 8.0);
        if (w > 0 && h > 0) area += w * h;
      }
      if (area <= 0) continue;
      const double ix0 = cx * 8.0 - 4, iy0 = cy * 8.0 - 4;
      auto X = [&](double v) { return std::clamp((v - p.left) / sx, 0.0, double(p.width)); };
      auto Y = [&](double v) { return std::clamp((v - p.top) / sy, 0.0, double(p.height)); };
      out.push_back(det(float(X(ix0)), float(Y(iy0)), float(X(ix0 + 16)), float(Y(iy0 + 16)),
                        float(area / 64), kMotorcycle));
    }
  return out;
}

Image load(const std::string& name) {
  DecodeResult r = decode_image_file(images_dir() / name);
  EXPECT_TRUE(r.ok) << name << ": " << r.reason;
  return r.image;
}

void expect_detections(const std::vector<Detection>& got, const std::vector<Detection>& want,
                       float score_tolerance) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].cls, want[i].cls);
    EXPECT_NEAR(got[i].score, want[i].score, score_tolerance);
    expect_box(got[i].box, want[i].box.x0, want[i].box.y0, want[i].box.x1, want[i].box.y1);
  }
}

std::vector<Detection> sorted(std::vector<Detection> d) {
  std::sort(d.begin(), d.end(), [](const Detection& a, const Detection& b) {
    return std::tie(a.box.y0, a.box.x0) < std::tie(b.box.y0, b.box.x0);
  });
  return d;
}

TEST(Detector, OnnxYolov5AndYolov8FindTheRedSquares) {
  for (const char* model : {"tiny_v5.onnx", "tiny_v8.onnx"}) {
    SCOPED_TRACE(model);
    const Detector d({detect_dir() / model, {}, {}, 0});
    EXPECT_EQ(d.input_size(), 64);  // read from the model's input shape
    EXPECT_EQ(d.layout(), std::string(model) == "tiny_v5.onnx" ? YoloLayout::kV5 : YoloLayout::kV8);
    expect_detections(sorted(d.detect(load("red_square.png"), 0.05f)),
                      expected_red({{16, 8, 32, 16}}, letterbox_placement(64, 64, 64)), 1e-6f);
    // 128 x 64 letterboxed: halved, 16 rows of grey bar above (grey scores 0).
    expect_detections(sorted(d.detect(load("wide_red.png"), 0.05f)),
                      expected_red({{64, 16, 96, 48}}, letterbox_placement(128, 64, 64)), 1e-6f);
    // A quarter of a cell red: score 0.25, under a floor of 0.3.
    expect_detections(d.detect(load("small_red.png"), 0.05f),
                      expected_red({{48, 16, 52, 20}}, letterbox_placement(64, 64, 64)), 1e-6f);
    EXPECT_TRUE(d.detect(load("small_red.png"), 0.3f).empty());
    const auto green = d.detect(load("green.png"), 0.05f);
    ASSERT_EQ(green.size(), 4u);
    for (const Detection& g : green) EXPECT_EQ(g.cls, kPerson);
  }
}

TEST(Detector, DarknetCfgAndWeightsFindTheRedSquares) {
  const Detector d({detect_dir() / "tiny.weights", detect_dir() / "tiny.cfg", {}, 0});
  EXPECT_EQ(d.layout(), YoloLayout::kDarknet);
  EXPECT_EQ(d.input_size(), 64);  // the cfg's width
  // Darknet: max pooling and sigmoids: a red cell scores sigmoid(4)^2 and the
  // image is stretched (128 x 64: x halved, y as it is).
  const float s = float(1 / (1 + std::exp(-4.0)));
  auto want = expected_red({{64, 16, 96, 48}}, stretch_placement(128, 64, 64));
  for (Detection& w : want) w.score = s * s;
  expect_detections(sorted(d.detect(load("wide_red.png"), 0.05f)), want, 1e-5f);
}

std::string load_error(const DetectorFiles& f) {
  try {
    Detector d(f);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Detector, HostileFilesGiveOneClearErrorNamingTheFile) {
  test::TempDir t;
  const fs::path v5 = detect_dir() / "tiny_v5.onnx";
  auto bytes = test::read_bytes(v5);
  bytes.resize(bytes.size() / 2);
  test::write_bytes(t.path / "cut.onnx", bytes);
  auto weights = test::read_bytes(detect_dir() / "tiny.weights");
  weights.resize(weights.size() - 40);
  test::write_bytes(t.path / "cut.weights", weights);
  test::write_bytes(t.path / "three.names", {'a', '\n', 'b', '\n', 'c', '\n'});
  struct Case {
    DetectorFiles files;
    std::string want;
  } cases[] = {
      {{t.path / "cut.onnx", {}, {}, 0}, (t.path / "cut.onnx").string() + ": not an ONNX model"},
      {{t.path / "cut.weights", detect_dir() / "tiny.cfg", {}, 0},
       (t.path / "cut.weights").string() + ": 1340 bytes, but the network in " +
           (detect_dir() / "tiny.cfg").string() + " needs 1380 (340 weights): truncated"},
      {{detect_dir() / "bad_shape.onnx", {}, {}, 0},
       (detect_dir() / "bad_shape.onnx").string() + ": its output [1, 8, 3] is neither"},
      {{v5, {}, t.path / "three.names", 0},
       v5.string() + ": its output [1, 64, 85] is neither YOLOv5's [1, N, 8]"},
      {{v5, {}, {}, 320}, v5.string() + ": its input is fixed at 64 px, not --detector-size 320"},
      {{t.path / "missing.onnx", {}, {}, 0}, (t.path / "missing.onnx").string() + ": cannot read"},
      {{detect_dir() / "tiny.weights", {}, {}, 0}, "need their network: give --detector-config"},
      {{detect_dir() / "tiny.cfg", {}, {}, 0},
       "this is a Darknet network; give it as --detector-config"},
  };
  for (const Case& c : cases) {
    const std::string e = load_error(c.files);
    EXPECT_NE(e.find(c.want), std::string::npos) << c.files.model << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;  // one line
  }
}

// ---- The detection cache ----------------------------------------------------------

TEST(DetectionCache, RoundTripsAndIgnoresStaleOrDamagedFiles) {
  test::TempDir t;
  const fs::path f = DetectionCache::file_for(t.path, 0x1234, 64);
  const ContentKey a = content_key(std::vector<uint8_t>{1, 2, 3}),
                   b = content_key(std::vector<uint8_t>{1, 2, 4});
  ASSERT_NE(a, b);
  {
    DetectionCache c(f, 0x1234, 64, 0.05f);
    EXPECT_EQ(c.size(), 0u);
    c.insert(a, {det(1, 2, 3, 4, 0.5f, 3)});
    c.insert(b, {});
    c.save();
  }
  DetectionCache c(f, 0x1234, 64, 0.25f);
  EXPECT_TRUE(c.note().empty()) << c.note();
  EXPECT_FLOAT_EQ(c.floor(), 0.05f);  // the stored floor: new entries go as low
  ASSERT_TRUE(c.find(a).has_value());
  ASSERT_EQ(c.find(a)->size(), 1u);
  expect_box((*c.find(a))[0].box, 1, 2, 3, 4);
  EXPECT_EQ((*c.find(a))[0].cls, 3);
  EXPECT_TRUE(c.find(b)->empty());
  EXPECT_FALSE(c.find(content_key(std::vector<uint8_t>{9})).has_value());
  EXPECT_EQ(DetectionCache(f, 0x9999, 64, 0.25f).size(), 0u);  // another detector
  EXPECT_EQ(DetectionCache(f, 0x1234, 32, 0.25f).size(), 0u);  // another input size
  DetectionCache lower(f, 0x1234, 64, 0.01f);                  // needs lower scores
  EXPECT_EQ(lower.size(), 0u);
  EXPECT_NE(lower.note().find("the network runs again"), std::string::npos);
  auto bytes = test::read_bytes(f);
  bytes.resize(bytes.size() - 3);
  test::write_bytes(f, bytes);
  DetectionCache damaged(f, 0x1234, 64, 0.25f);
  EXPECT_EQ(damaged.size(), 0u);
  EXPECT_NE(damaged.note().find("unreadable (truncated)"), std::string::npos) << damaged.note();
}

// ---- Perceptual hash ----------------------------------------------------------------

TEST(PerceptualHash, NearCopiesAreCloseAndOthersFar) {
  const Image a = load("red_square.png"), again = load("red_square_again.png"),
              two = load("two_red.png");
  const uint64_t ha = perceptual_hash(a.pixels.data(), a.width, a.height);
  EXPECT_EQ(ha, perceptual_hash(a.pixels.data(), a.width, a.height));
  EXPECT_LE(hamming(ha, perceptual_hash(again.pixels.data(), again.width, again.height)), 6);
  EXPECT_GT(hamming(ha, perceptual_hash(two.pixels.data(), two.width, two.height)), 10);
  // Grouping against each group's first member (kept), in order; absent
  // items take no part. 0x3 is 1 bit from 0x1 but 2 from 0x0, its group's first.
  const std::vector<uint64_t> h = {0x0, 0xff, 0x1, 0x3, 0xfe};
  EXPECT_EQ(near_duplicate_of(h, {true, true, true, true, true}, 1),
            (std::vector<long>{-1, -1, 0, -1, 1}));
  EXPECT_EQ(near_duplicate_of(h, {false, true, true, true, true}, 1),
            (std::vector<long>{-1, -1, -1, 2, 1}));
}

// ---- The whole step -----------------------------------------------------------------

struct Built {
  std::vector<uint8_t> cache;
  std::string report;
  BuildReport rep;
  Dataset ds;
};

Built build(const CleanOptions& o, unsigned threads, int size = 32) {
  test::TempDir t;
  BuildOptions bo;
  bo.threads = threads;
  bo.clean = &o;
  Built b;
  b.ds = build_dataset_cache(images_dir(), t.path / "c.rgcache", size, Fit::kPad, &b.rep, bo);
  b.cache = test::read_bytes(t.path / "c.rgcache");
  b.report = report_json(b.rep, "c.rgcache");
  return b;
}

const ImageRecord& record(const BuildReport& r, const std::string& path) {
  for (const ImageRecord& im : r.images)
    if (im.path == path) return im;
  throw std::runtime_error("no record of " + path);
}

TEST(Cleaning, CropsPixelExactlyAndExplainsEverySkip) {
  const Detector d({detect_dir() / "tiny_v5.onnx", {}, {}, 0});
  CleanOptions o;
  o.detector = &d;
  o.select.keep = parse_keep_classes("motorcycle", d.names());
  const Built b = build(o, 2);
  EXPECT_EQ(b.rep.network_runs, 7u);  // broken.jpg never reaches it
  EXPECT_EQ(b.rep.files_seen, 8u);
  std::vector<std::string> kept;
  for (size_t i = 0; i < b.ds.size(); ++i) kept.push_back(b.ds.source(i));
  EXPECT_EQ(kept, (std::vector<std::string>{"red_square.png", "red_square_again.png",
                                            "small_red.png", "two_red.png", "wide_red.png"}));
  EXPECT_EQ(record(b.rep, "black.png").reason, "nothing detected (--min-score 0.25)");
  EXPECT_EQ(record(b.rep, "green.png").reason, "no motorcycle detected (best: person 1.00)");
  EXPECT_NE(record(b.rep, "broken.jpg").reason.find("JPEG"), std::string::npos);
  EXPECT_EQ(record(b.rep, "red_square_again.png").duplicate_of, "red_square.png");
  // wide_red: four 32 x 32 boxes (x2 of 16) at x 56/72, y 8/24; the largest is
  // a tie, so the best-scored first one: [56, 8, 88, 40] + 5% = 1.6 px a side.
  const ImageRecord& wide = record(b.rep, "wide_red.png");
  EXPECT_EQ(wide.crop, (CropRect{54, 6, 90, 42}));
  // The cache holds exactly the letterboxed crop of the source's pixels.
  const Image src = load("wide_red.png");
  const Image want = fit_image(crop_image(src, {54, 6, 90, 42}), 32, Fit::kPad);
  const size_t at = size_t(std::find(kept.begin(), kept.end(), "wide_red.png") - kept.begin());
  EXPECT_EQ(0, std::memcmp(b.ds.image(at), want.pixels.data(), want.pixels.size()));
  // crop_image itself, against a pixel loop.
  const Image c = crop_image(src, {54, 6, 90, 42});
  for (int y = 0; y < c.height; ++y)
    for (int x = 0; x < c.width; ++x)
      ASSERT_EQ(0, std::memcmp(c.at(y, x), src.at(y + 6, x + 54), 3));
}

TEST(Cleaning, CacheAndReportAreByteIdenticalAcrossThreadCountsAndReruns) {
  test::TempDir t;
  const Detector d({detect_dir() / "tiny_v8.onnx", {}, {}, 0});
  CleanOptions o;
  o.detector = &d;
  o.select.keep = parse_keep_classes("motorcycle", d.names());
  o.select.crop = CropMode::kUnion;
  const fs::path file = DetectionCache::file_for(t.path, d.hash(), d.input_size());
  DetectionCache first(file, d.hash(), d.input_size(), kCandidateFloor);
  o.detections = &first;
  const Built one = build(o, 1);
  first.save();
  EXPECT_EQ(one.rep.network_runs, 7u);
  for (unsigned threads : {2u, 3u}) {
    DetectionCache fresh(t.path / "none.rgdet", d.hash(), d.input_size(), kCandidateFloor);
    o.detections = &fresh;
    const Built b = build(o, threads);
    EXPECT_EQ(b.cache, one.cache) << threads << " threads";
    EXPECT_EQ(b.report, one.report) << threads << " threads";
  }
  // From the saved detections: no network run, the same bytes.
  DetectionCache saved(file, d.hash(), d.input_size(), kCandidateFloor);
  o.detections = &saved;
  const Built again = build(o, 2);
  EXPECT_EQ(again.rep.network_runs, 0u);
  EXPECT_EQ(again.rep.cached_detections, 7u);
  EXPECT_EQ(again.cache, one.cache);
  EXPECT_EQ(again.report, one.report);
  // Other thresholds re-decide from the cache: small_red (0.25) goes.
  o.select.min_score = 0.5f;
  const Built stricter = build(o, 2);
  EXPECT_EQ(stricter.rep.network_runs, 0u);
  EXPECT_EQ(stricter.ds.size(), one.ds.size() - 1);
  EXPECT_EQ(record(stricter.rep, "small_red.png").reason, "nothing detected (--min-score 0.50)");
  // Union on two_red: [4, 4, 52, 52] grown by 2.4 px a side.
  EXPECT_EQ(record(one.rep, "two_red.png").crop, (CropRect{1, 1, 55, 55}));
}

TEST(Cleaning, ExcludeListAndDedupeSkipWithTheirReason) {
  test::TempDir t;
  std::ofstream(t.path / "exclude.txt")
      << "# from the review page\r\ntwo_red.png\n\nnot_there.png\n";
  CleanOptions o;
  o.exclude = read_exclude_list(t.path / "exclude.txt");
  EXPECT_EQ(o.exclude, (std::set<std::string>{"two_red.png", "not_there.png"}));
  o.exclude_file = "exclude.txt";
  o.dedupe = true;
  const Built b = build(o, 2);
  EXPECT_EQ(record(b.rep, "two_red.png").reason, "excluded by exclude.txt");
  EXPECT_EQ(record(b.rep, "red_square_again.png").reason, "near-duplicate of red_square.png");
  EXPECT_EQ(b.rep.excluded, 1u);
  EXPECT_EQ(b.ds.size(), 5u);  // 8 - broken - excluded - duplicate
  EXPECT_THROW(read_exclude_list(t.path / "missing.txt"), std::runtime_error);
}

TEST(Cleaning, WithoutCleaningTheCacheIsTheSameAsBefore) {
  // The cleaning path with nothing to do (no detector, list or dedupe) keeps
  // every decoded image as it is: the same bytes as no cleaning at all.
  test::TempDir t;
  BuildOptions plain;
  plain.threads = 2;
  build_dataset_cache(images_dir(), t.path / "plain.rgcache", 32, Fit::kPad, nullptr, plain);
  CleanOptions nothing;
  EXPECT_EQ(build(nothing, 2).cache, test::read_bytes(t.path / "plain.rgcache"));
}

}  // namespace
}  // namespace rg::data
