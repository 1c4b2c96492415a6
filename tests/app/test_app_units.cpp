// SPDX-License-Identifier: Apache-2.0
// The app's pieces on their own: initial weights, the loss plot and its font,
// log.jsonl lines, and the rules for temporary files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "apps/model/ralsgan_step.h"
#include "engine/io/atomic_file.h"
#include "engine/io/json.h"
#include "apps/ralsgan/canvas.h"
#include "apps/ralsgan/init.h"
#include "apps/ralsgan/loss_plot.h"
#include "apps/ralsgan/train_log.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/plan.h"
#include "tests/app/json_check.h"

namespace rg {
namespace {

namespace fs = std::filesystem;

// ---- Initial weights (init.h: PyTorch's default distributions) ----------------

struct Nets {
  model::StepGraph sg;
  std::unique_ptr<Backend> be = make_ref_backend();
  std::unique_ptr<Plan> plan;
  std::unique_ptr<Session> s;
  explicit Nets(uint64_t seed) {
    model::StepConfig sc;
    sc.model = {32, 0.5, 64};
    sc.batch = 2;
    sg = model::build_train_step(sc, DType::f32);
    plan = compile(sg.graph, *be);
    s = std::make_unique<Session>(*plan);
    app::initialize_network(*s, sg.g_params, "G.", seed, 0);
    app::initialize_network(*s, sg.d_params, "D.", seed, 1);
  }
  std::vector<double> value(const std::string& var, const Shape& shape) const {
    std::vector<double> v(size_t(numel(shape)));
    s->read_variable(var, v.data(), DType::f64);
    return v;
  }
};

bool is_batch_norm(const std::vector<model::ParamSpec>& specs, const std::string& key) {
  const std::string layer = key.substr(0, key.rfind('.'));
  for (const auto& p : specs)
    if (p.key == layer + ".running_mean") return true;
  return false;
}

TEST(Init, WeightsFollowPyTorchsDefaultDistributions) {
  const Nets n(3);
  int convs = 0, biases = 0, norms = 0;
  for (auto [specs, prefix] : {std::pair{&n.sg.g_params, "G."}, {&n.sg.d_params, "D."}}) {
    double bound = 0;  // of the layer's weight, for its bias
    for (const model::ParamSpec& p : *specs) {
      const std::vector<double> v = n.value(prefix + p.key, p.shape);
      const std::string what = std::string(prefix) + p.key;
      if (is_batch_norm(*specs, p.key)) {
        const double want =
            p.key.ends_with(".weight") || p.key.ends_with(".running_var") ? 1.0 : 0.0;
        for (double x : v) ASSERT_EQ(x, want) << what;
        ++norms;
        continue;
      }
      if (p.shape.size() ==
          4) {  // U(-b, b), b = 1/sqrt(weight.size(1) * kh * kw), also for transposed convs
        bound = 1.0 / std::sqrt(double(p.shape[1] * p.shape[2] * p.shape[3]));
        ++convs;
      } else {
        ASSERT_GT(bound, 0) << what << ": a bias before any weight";
        ++biases;
      }
      const double count = double(v.size());
      double mean = 0, sq = 0, top = 0;
      for (double x : v) {
        ASSERT_LE(std::abs(x), bound) << what;
        mean += x / count, sq += x * x / count, top = std::max(top, std::abs(x));
      }
      // The mean and the variance b^2/3 of a uniform law, within 5 standard errors.
      EXPECT_LT(std::abs(mean), 5 * bound / std::sqrt(3 * count)) << what;
      EXPECT_NEAR(sq, bound * bound / 3, 5 * bound * bound * std::sqrt(4.0 / 45.0 / count)) << what;
      if (count >= 1000) {
        EXPECT_GT(top, 0.99 * bound) << what << ": the whole interval is used";
      }
    }
  }
  EXPECT_EQ(convs, 5 + 4);  // G: 4 transposed convs + the last conv; D: 4 convs (size 32)
  EXPECT_EQ(biases, 1);     // G's last conv
  EXPECT_GT(norms, 0);
}

TEST(Init, TheWeightsDependOnlyOnTheSeed) {
  const Nets a(3), b(3), c(4);
  for (const model::ParamSpec& p : a.sg.g_params) {
    if (is_batch_norm(a.sg.g_params, p.key)) continue;
    EXPECT_EQ(a.value("G." + p.key, p.shape), b.value("G." + p.key, p.shape)) << p.key;
    EXPECT_NE(a.value("G." + p.key, p.shape), c.value("G." + p.key, p.shape)) << p.key;
  }
  // G and D draw from different streams: D's first weight is not G's.
  const auto& g0 = a.sg.g_params[0];
  const auto& d0 = a.sg.d_params[0];
  EXPECT_NE(a.value("G." + g0.key, g0.shape)[0], a.value("D." + d0.key, d0.shape)[0]);
}

// ---- The loss plot ------------------------------------------------------------------

TEST(LossPlot, MovingAverageIsTrailingAndSkipsNonFiniteValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto m = app::moving_average({1, 2, 3, 4, nan, 6}, 2);
  ASSERT_EQ(m.size(), 6u);
  const std::vector<double> want = {1, 1.5, 2.5, 3.5, 4, 6};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(m[i], want[i]) << i;
  EXPECT_TRUE(std::isnan(app::moving_average({nan, 1}, 1)[0]));
  EXPECT_EQ(app::smoothing_window(0), 1u);
  EXPECT_EQ(app::smoothing_window(100), 5u);
  EXPECT_EQ(app::smoothing_window(250), 11u);
}

TEST(LossPlot, TicksAreRoundNumbersCoveringTheRange) {
  auto t = app::nice_ticks(0, 1.7, 6);
  EXPECT_DOUBLE_EQ(t.step, 0.5);
  EXPECT_EQ(t.at, (std::vector<double>{0, 0.5, 1, 1.5, 2}));
  t = app::nice_ticks(10, 200, 8);
  EXPECT_DOUBLE_EQ(t.step, 50);
  EXPECT_EQ(t.at, (std::vector<double>{0, 50, 100, 150, 200}));
  t = app::nice_ticks(0.3, 0.34, 4);
  EXPECT_DOUBLE_EQ(t.step, 0.01);
  EXPECT_NEAR(t.lo, 0.3, 1e-12);
  EXPECT_NEAR(t.hi, 0.34, 1e-12);
}

TEST(LossPlot, TextIsDrawnFromTheFontAtEveryScale) {
  const app::Rgb white{255, 255, 255}, ink{0, 0, 0};
  app::Canvas c(16, 20, white);
  c.text(1, 1, "1", ink);  // ..#.. / .##.. / ..#.. x4 / .###.
  EXPECT_EQ(c.at(3, 1), ink);
  EXPECT_EQ(c.at(1, 1), white);
  EXPECT_EQ(c.at(2, 1), white);
  EXPECT_EQ(c.at(2, 2), ink);
  EXPECT_EQ(c.at(3, 2), ink);
  for (int x : {2, 3, 4}) EXPECT_EQ(c.at(x, 7), ink) << x;
  EXPECT_EQ(c.at(5, 7), white);
  app::Canvas big(16, 20, white);
  big.text(0, 0, "1", ink, 2);
  EXPECT_EQ(big.at(4, 0), ink);
  EXPECT_EQ(big.at(5, 1), ink);
  EXPECT_EQ(big.at(3, 0), white);
  EXPECT_EQ(app::Canvas::text_width("ab"), 11);
  EXPECT_EQ(app::Canvas::text_width("ab", 2), 22);
  // Every character the plot writes has a glyph.
  for (char ch : std::string("RaLSGAN losses D loss G loss thin: each logged step; thick: moving "
                             "average of 0123456789.-"))
    EXPECT_TRUE(app::has_glyph(ch)) << ch;
}

bool has_colour(const app::Canvas& c, app::Rgb colour, int x0, int y0, int x1, int y1) {
  for (int y = std::max(0, y0); y <= std::min(c.height() - 1, y1); ++y)
    for (int x = std::max(0, x0); x <= std::min(c.width() - 1, x1); ++x)
      if (c.at(x, y) == colour) return true;
  return false;
}

TEST(LossPlot, AxesCarryValuesAndTheCurvesSitWhereTheLossesAre) {
  std::vector<app::LogRecord> records;
  for (uint64_t s = 10; s <= 200; s += 10) {
    app::LogRecord r;
    r.step = s, r.loss_d = 1.0, r.loss_g = 2.0;
    records.push_back(r);
  }
  const app::Canvas c = app::plot_losses(records, 640, 360);
  const app::PlotFrame f = app::plot_frame(records, 640, 360);
  ASSERT_EQ(c.width(), 640);
  ASSERT_EQ(c.height(), 360);
  EXPECT_EQ(f.y.at, (std::vector<double>{0, 0.5, 1, 1.5, 2}));
  EXPECT_EQ(f.x.at.front(), 0);
  EXPECT_EQ(f.x.at.back(), 200);
  const int x = f.x_of(100);
  EXPECT_EQ(c.at(x, f.y_of(1.0)), app::kMeanD);
  EXPECT_EQ(c.at(x, f.y_of(2.0)), app::kMeanG);
  const app::Rgb ink{0, 0, 0};
  for (double v : f.y.at)
    EXPECT_TRUE(has_colour(c, ink, 0, f.y_of(v) - 3, f.left - 6, f.y_of(v) + 3)) << "label " << v;
  for (double v : f.x.at)
    EXPECT_TRUE(has_colour(c, ink, f.x_of(v) - 6, f.bottom + 8, f.x_of(v) + 6, f.bottom + 15))
        << "label " << v;
  EXPECT_TRUE(has_colour(c, ink, 250, 6, 390, 20)) << "the title";
  EXPECT_TRUE(has_colour(c, app::kMeanD, 0, 30, 639, 40)) << "D in the legend";
  EXPECT_TRUE(has_colour(c, app::kMeanG, 0, 30, 639, 40)) << "G in the legend";

  // Non-finite losses are left out: no D curve at all when every D loss is NaN.
  for (auto& r : records) r.loss_d = std::numeric_limits<double>::quiet_NaN();
  const app::Canvas gap = app::plot_losses(records, 640, 360);
  EXPECT_FALSE(has_colour(gap, app::kMeanD, 0, f.top, 639, 359));
  EXPECT_FALSE(has_colour(gap, app::kRawD, 0, f.top, 639, 359));
  EXPECT_TRUE(has_colour(gap, app::kMeanG, 0, f.top, 639, 359));
}

// ---- log.jsonl lines ---------------------------------------------------------------

TEST(TrainLog, LinesAreValidJsonWithNullForNonFiniteNumbersAndParseBack) {
  app::LogRecord r;
  r.step = 42, r.epoch = 1.5, r.loss_d = std::nan(""),
  r.loss_g = -std::numeric_limits<double>::infinity();
  r.c_real = 0.25, r.c_fake = -1e-7, r.images_per_s = 123.5;
  const std::string line = app::log_line(r);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_TRUE(testing_json::valid_json(line.substr(0, line.size() - 1))) << line;
  EXPECT_NE(line.find("\"loss_d\":null,\"loss_g\":null"), std::string::npos) << line;
  app::LogRecord back;
  ASSERT_TRUE(app::parse_log_line(line.substr(0, line.size() - 1), back));
  EXPECT_EQ(back.step, 42u);
  EXPECT_TRUE(std::isnan(back.loss_d));
  EXPECT_EQ(back.c_real, 0.25);
  EXPECT_EQ(back.c_fake, -1e-7);
  EXPECT_FALSE(app::parse_log_line(line.substr(0, line.size() / 2), back)) << "a line cut short";
  EXPECT_FALSE(testing_json::valid_json("{\"loss_d\":-nan}"));  // what the log held before
}

// ---- Temporary files -----------------------------------------------------------------

TEST(TempFiles, OnlyOursAndOnlyThoseOfDeadWritersAreRemoved) {
  const fs::path dir = fs::temp_directory_path() / ("rg-temps-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string me = std::to_string(::getpid()), dead = "99999999";
  for (const std::string& name :
       std::vector<std::string>{"image_00001.png.rgtmp-" + dead, "image_00002.png.rgtmp-" + me,
                                "c.rgcache.rgtmp-" + dead + "-3", "image_00003.png.rgtmp-abc123",
                                "notes.rgtmp-" + dead, "image_00004.png"})
    std::ofstream(dir / name) << "x";
  fs::create_directories(dir / ("image_dir.rgtmp-" + dead));
  // Names of other programs and people, which no mode may take.
  const std::vector<std::string> foreign = {"image_1.png.tmp-" + dead, "thesis.tmp-1.docx", "keep.tmp-1",
                                            "image_5.png.rgtmp-" + dead + ".docx", "y.rgtmp-backups",
                                            "z.rgtmp-ABCDEF", "w.rgtmp-12x"};
  for (const std::string& name : foreign) std::ofstream(dir / name) << "x";
  fs::create_directories(dir / "photos.tmp-backup");
  EXPECT_EQ(io::remove_temp_files(dir, io::TempOwners::kDead, "image_"),
            2u);  // the file and the folder
  EXPECT_FALSE(fs::exists(dir / ("image_00001.png.rgtmp-" + dead)));
  EXPECT_TRUE(fs::exists(dir / ("image_00002.png.rgtmp-" + me))) << "a live writer's";
  EXPECT_TRUE(fs::exists(dir / "image_00003.png.rgtmp-abc123")) << "no pid: not ours to judge";
  EXPECT_TRUE(fs::exists(dir / ("notes.rgtmp-" + dead))) << "outside the prefix";
  EXPECT_EQ(io::remove_temp_files(dir, io::TempOwners::kDead, "c.rgcache"), 1u);
  EXPECT_EQ(io::remove_temp_files(dir, io::TempOwners::kAny), 3u);
  EXPECT_TRUE(fs::exists(dir / "image_00004.png"));
  for (const std::string& name : foreign) EXPECT_TRUE(fs::exists(dir / name)) << name;
  EXPECT_TRUE(fs::exists(dir / "photos.tmp-backup"));
  EXPECT_EQ(io::remove_temp_files(dir / "missing", io::TempOwners::kAny), 0u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rg

namespace rg {
namespace {
// Whether bytes are UTF-8 (RFC 3629), decoded code point by code point: an
// independent check of what the JSON writer emits.
bool is_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + size_t(n) > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (int k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += size_t(n);
  }
  return true;
}

// File names in any encoding become valid JSON strings in valid UTF-8: UTF-8
// passes through, any other byte is written as the text \xHH, control
// characters as \u00HH.
TEST(Json, StringsOfAnyBytesAreValidJsonInUtf8) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"photo.png", "\"photo.png\""},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8f\x8d.jpg", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8f\x8d.jpg\""},
      {"latin1 \xe9t\xe9.png", "\"latin1 \\\\xe9t\\\\xe9.png\""},
      {"\xff\xfe", "\"\\\\xff\\\\xfe\""},
      {"overlong \xc0\xaf", "\"overlong \\\\xc0\\\\xaf\""},
      {"surrogate \xed\xa0\x80", "\"surrogate \\\\xed\\\\xa0\\\\x80\""},
      {"cut \xe2\x82", "\"cut \\\\xe2\\\\x82\""},
      {"ctl \x01\x1b[31m\x7f \"q\" \\", "\"ctl \\u0001\\u001b[31m\x7f \\\"q\\\" \\\\\""},
  };
  for (const auto& [in, want] : cases) {
    const std::string got = io::dump_compact(io::json_text(in));
    EXPECT_EQ(got, want);
    EXPECT_TRUE(testing_json::valid_json(got)) << got;
    EXPECT_TRUE(is_utf8(got)) << got;
  }
}

// Numbers: rounded to the digits asked for and printed as the shortest text of
// that value; NaN and infinity (which JSON lacks) as null.
TEST(Json, NumbersAreRoundedAndNonFiniteIsNull) {
  EXPECT_EQ(io::dump_compact(io::json_number(0.9f, 6)), "0.9");  // not 0.8999999761581421
  EXPECT_EQ(io::dump_compact(io::json_number(1.0 / 3, 4)), "0.3333");
  EXPECT_EQ(io::dump_compact(io::json_number(1.0 / 3)), "0.3333333333333333");
  EXPECT_EQ(io::dump_compact(io::json_number(123456789.0, 3)), "123000000.0");
  for (double v : {std::nan(""), double(INFINITY), -double(INFINITY)}) EXPECT_EQ(io::dump_compact(io::json_number(v, 6)), "null");
}

// A report lays out one top-level member per line and one array element per
// line, and reads back as the same document.
TEST(Json, ReportsHaveOneRecordPerLineAndReadBack) {
  io::Json j = io::Json::object();
  j["folder"] = io::json_text("caf\xe9");
  j["count"] = 2;
  j["skipped"] = io::Json::array({io::Json{{"path", "a.png"}, {"reason", "x\ny"}}, io::Json{{"path", "b"}}});
  j["notes"] = io::Json::array();
  j["nested"] = io::Json{{"k", io::Json::array({1, 2})}};
  const std::string text = io::dump_report(j);
  EXPECT_EQ(text,
            "{\n  \"folder\": \"caf\\\\xe9\",\n  \"count\": 2,\n  \"skipped\": [\n"
            "    {\"path\":\"a.png\",\"reason\":\"x\\ny\"},\n    {\"path\":\"b\"}\n  ],\n"
            "  \"notes\": [],\n  \"nested\": {\"k\":[1,2]}\n}\n");
  EXPECT_TRUE(testing_json::valid_json(text)) << text;
  EXPECT_EQ(nlohmann::ordered_json::parse(text), j);
}
}  // namespace
}  // namespace rg
