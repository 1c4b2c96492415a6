// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/image_io.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace rg::app {

uint8_t quantize_pixel(float x) {
  const double v = std::floor((double(x) + 1.0) * 127.5 + 0.5);
  return static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
}

void quantize_image(const float* img, int size, uint8_t* out) {
  const size_t plane = size_t(size) * size;
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < 3; ++c) out[p * 3 + c] = quantize_pixel(img[c * plane + p]);
}

namespace {
void png_append(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void png_flush_noop(png_structp) {}
[[noreturn]] void png_fail(png_structp, png_const_charp msg) { throw std::runtime_error(std::string("PNG encoder: ") + msg); }
void png_warn(png_structp, png_const_charp) {}
}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* rgb, int width, int height) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_fail, png_warn);
  if (!png) throw std::runtime_error("PNG encoder: out of memory");
  png_infop info = png_create_info_struct(png);
  try {
    png_set_write_fn(png, &out, png_append, png_flush_noop);
    png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    // Each row filtered with the better of Up and Sub, not libpng's default
    // trial of all five filters: on the test photos at 128 px 1.9x faster to
    // encode (bench_png_encode: 417 against 220 PNGs/s on one core) for
    // files 0.7 % larger; Paeth, the costly trial, rarely pays on them
    // (bench/RESULTS.md, "PNG encoding"). Encoding shares the cores with the
    // generator during `ralsgan generate`.
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP | PNG_FILTER_SUB);
    png_write_info(png, info);
    for (int y = 0; y < height; ++y) png_write_row(png, const_cast<png_bytep>(rgb + size_t(y) * width * 3));
    png_write_end(png, nullptr);
  } catch (...) {
    png_destroy_write_struct(&png, &info);
    throw;
  }
  png_destroy_write_struct(&png, &info);
  return out;
}

std::vector<uint8_t> make_grid(const std::vector<std::vector<uint8_t>>& images, int size, int cols, int& width,
                               int& height) {
  const int gap = 2;
  const int n = int(images.size());
  const int rows = (n + cols - 1) / cols;
  width = cols * size + (cols + 1) * gap;
  height = rows * size + (rows + 1) * gap;
  std::vector<uint8_t> grid(size_t(width) * height * 3, 0);
  for (int i = 0; i < n; ++i) {
    const int x0 = gap + (i % cols) * (size + gap), y0 = gap + (i / cols) * (size + gap);
    for (int y = 0; y < size; ++y)
      std::memcpy(&grid[(size_t(y0 + y) * width + x0) * 3], &images[size_t(i)][size_t(y) * size * 3], size_t(size) * 3);
  }
  return grid;
}

std::string image_file_name(uint64_t index) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "image_%05llu.png", static_cast<unsigned long long>(index));
  return buf;
}

}  // namespace rg::app
