// SPDX-License-Identifier: Apache-2.0
// An RGB drawing surface for the run's pictures (samples/losses.png): points,
// lines, boxes and text in a built-in 5x7 bitmap font, so that no font file
// or library is needed and the same run always draws the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rg::app {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

class Canvas {
 public:
  static constexpr int kGlyphWidth = 5, kGlyphHeight = 7, kAdvance = 6;  // pixels at scale 1

  Canvas(int width, int height, Rgb background);
  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<uint8_t>& rgb() const { return rgb_; }  // rows top to bottom, RGB bytes
  Rgb at(int x, int y) const;

  void put(int x, int y, Rgb c);  // outside the canvas: ignored
  void fill(int x, int y, int w, int h, Rgb c);
  // A straight line; `thickness` pixels wide (a square brush).
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1);
  // Text with its top-left corner at (x, y), each font pixel scale x scale.
  // Characters without a glyph are drawn as a box, so a gap in the font shows.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1);
  static int text_width(const std::string& s, int scale = 1);

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

// Whether the font has a glyph for `c` (space, digits, letters, . - + : ; , ( ) = /).
bool has_glyph(char c);

}  // namespace rg::app
