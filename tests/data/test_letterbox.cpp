// SPDX-License-Identifier: Apache-2.0
// Letterbox and stretch against golden outputs made by OpenCV's Python
// bindings (tools/golden/make_letterbox_golden.py), plus the geometry rules.
#include <gtest/gtest.h>

#include <fstream>

#include "apps/data/decode.h"
#include "apps/data/letterbox.h"
#include "tests/data/test_util.h"

using namespace rg::data;

TEST(Letterbox, PlanFollowsB6) {
  // new side = int(side * size / max(h, w)); top = (size - h') // 2.
  ResizePlan p = letterbox_plan(37, 100, 32);
  EXPECT_EQ(p.new_height, 11);  // int(37*32/100) = int(11.84)
  EXPECT_EQ(p.new_width, 32);
  EXPECT_EQ(p.top, 10);
  EXPECT_EQ(p.left, 0);
  EXPECT_TRUE(p.area);
  p = letterbox_plan(20, 30, 64);
  EXPECT_EQ(p.new_height, 42);  // int(42.666)
  EXPECT_EQ(p.new_width, 64);
  EXPECT_EQ(p.top, 11);
  EXPECT_FALSE(p.area);
  p = letterbox_plan(28, 28, 32);
  EXPECT_EQ(p.new_height, 32);
  EXPECT_EQ(p.top, 0);
  p = letterbox_plan(1, 50, 16);  // int(0.32) = 0 -> 1 (documented deviation)
  EXPECT_EQ(p.new_height, 1);
  EXPECT_EQ(p.top, 7);
  // Brute force: floor division equals Python's int() of the double quotient.
  for (int h = 1; h < 300; h += 7)
    for (int w = 1; w < 300; w += 5)
      for (int size : {32, 64, 128, 256}) {
        const ResizePlan q = letterbox_plan(h, w, size);
        const int m = std::max(h, w);
        EXPECT_EQ(q.new_height, std::max(1, static_cast<int>(static_cast<double>(h) * size / m)));
        EXPECT_EQ(q.new_width, std::max(1, static_cast<int>(static_cast<double>(w) * size / m)));
      }
}

TEST(Letterbox, MatchesGoldenOpenCvPython) {
  const auto dir = test::files_dir() / "letterbox";
  std::ifstream cases(dir / "cases.txt");
  ASSERT_TRUE(cases) << "missing " << (dir / "cases.txt");
  int h, w, size, n = 0;
  while (cases >> h >> w >> size) {
    const std::string hw = std::to_string(h) + "x" + std::to_string(w);
    DecodeResult in = decode_image_file(dir / ("in_" + hw + ".png"));
    ASSERT_TRUE(in.ok) << in.reason;
    ASSERT_EQ(in.image.height, h);
    ASSERT_EQ(in.image.width, w);
    for (Fit fit : {Fit::kPad, Fit::kStretch}) {
      const std::string name = std::string("out_") + fit_name(fit) + "_" + hw + "_" + std::to_string(size) + ".png";
      DecodeResult gold = decode_image_file(dir / name);
      ASSERT_TRUE(gold.ok) << name << ": " << gold.reason;
      Image out = fit_image(in.image, size, fit);
      EXPECT_EQ(test::max_abs_diff(out, gold.image), 0) << name;
    }
    ++n;
  }
  EXPECT_GE(n, 10);
}

TEST(Letterbox, StretchAndPadShapes) {
  Image img;
  img.height = 5;
  img.width = 200;
  img.pixels.assign(img.bytes(), 255);
  Image pad = letterbox(img, 64);
  ASSERT_EQ(pad.height, 64);
  // int(5*64/200) = 1 row of white at top = 31.
  for (int y = 0; y < 64; ++y) EXPECT_EQ(pad.at(y, 10)[0], y == 31 ? 255 : 0) << y;
  Image st = stretch(img, 64);
  for (uint8_t v : st.pixels) ASSERT_EQ(v, 255);
}
