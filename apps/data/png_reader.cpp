// SPDX-License-Identifier: Apache-2.0
#include "apps/data/png_reader.h"

#include <png.h>

#include <csetjmp>
#include <cstring>
#include <vector>

namespace rg::data {

namespace {

struct Source {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
  char message[200] = {};  // libpng's last error, for our reason
};

void on_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<Source*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", msg ? msg : "unknown error");
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {
}  // what OpenCV would print; the pixels are decoded regardless

void on_read(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<Source*>(png_get_io_ptr(png));
  if (n > src->bytes.size() - src->pos) png_error(png, "the file ends early (truncated)");
  std::memcpy(out, src->bytes.data() + src->pos, n);
  src->pos += n;
}

struct Header {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  bool trns = false;
};

// The two libpng phases, each under its own setjmp. Only plain C data lives
// in these frames, so the longjmp of an error skips no destructor.
bool read_header(png_structp png, png_infop info, Header* h) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  png_get_IHDR(png, info, &h->width, &h->height, &h->bit_depth, &h->color_type, nullptr, nullptr,
               nullptr);
  png_bytep trans = nullptr;
  int num_trans = 0;
  png_color_16p trans_values = nullptr;
  png_get_tRNS(png, info, &trans, &num_trans, &trans_values);
  h->trns = num_trans > 0;
  return true;
}

bool read_rows(png_structp png, png_infop info, const Header* h, int channels, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  // OpenCV 4.6, PngDecoder::readData with the type readHeader chose:
  if (h->bit_depth == 16) png_set_swap(png);  // 16-bit samples, little-endian in memory
  if (channels < 4)
    png_set_strip_alpha(png);
  else
    png_set_tRNS_to_alpha(png);
  if (h->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((h->color_type & PNG_COLOR_MASK_COLOR) == 0 && h->bit_depth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  if ((h->color_type & PNG_COLOR_MASK_COLOR) && channels > 1)
    png_set_bgr(png);
  else if (channels > 1)
    png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) !=
      size_t(h->width) * size_t(channels) * (h->bit_depth == 16 ? 2 : 1))
    png_error(png, "unexpected row size after conversion");
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

}  // namespace

bool decode_png(std::span<const uint8_t> bytes, uint64_t max_pixels, cv::Mat& out,
                std::string& error) {
  Source src{bytes};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_read_struct(png ? &png : nullptr, nullptr, nullptr);
    error = "out of memory for the PNG reader";
    return false;
  }
  png_set_read_fn(png, &src, on_read);
  Header h;
  bool ok = read_header(png, info, &h);
  int channels = 0;
  if (ok) {
    // The Mat type OpenCV 4.6's PngDecoder::readHeader picks.
    switch (h.color_type) {
      case PNG_COLOR_TYPE_RGB:
      case PNG_COLOR_TYPE_PALETTE:
        channels = h.trns ? 4 : 3;
        break;
      case PNG_COLOR_TYPE_GRAY_ALPHA:
      case PNG_COLOR_TYPE_RGB_ALPHA:
        channels = 4;
        break;
      default:
        channels = 1;
    }
    if (uint64_t(h.width) * h.height > max_pixels) {
      error = "too large: " + std::to_string(h.width) + " x " + std::to_string(h.height);
      ok = false;
    } else if (h.bit_depth > 16) {
      error = "unsupported bit depth " + std::to_string(h.bit_depth);
      ok = false;
    }
  } else {
    error = src.message;
  }
  if (ok) {
    out.create(int(h.height), int(h.width),
               CV_MAKETYPE(h.bit_depth == 16 ? CV_16U : CV_8U, channels));
    std::vector<png_bytep> rows(h.height);
    for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = out.ptr<png_byte>(int(y));
    ok = read_rows(png, info, &h, channels, rows.data());
    if (!ok) {
      error = src.message;
      out.release();
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return ok;
}

}  // namespace rg::data
