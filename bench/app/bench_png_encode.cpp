// SPDX-License-Identifier: Apache-2.0
// PNG encoding, which shares the cores with the generator during `ralsgan
// generate`: our encoder (rg::app::encode_png: level 6, each row filtered
// with the better of Up and Sub) against libpng's default at the same level
// (every row tried with all five filters), on the test photos brought to
// 128 x 128 (stretched, as `--fit stretch`; photos, not a fresh generator's
// near-flat images, which encode faster with any filter). One core.
//   bench_png_encode [--benchmark_out=FILE --benchmark_out_format=json]
// Counters: KB a PNG, images per second.
#include <benchmark/benchmark.h>
#include <png.h>

#include <filesystem>
#include <stdexcept>
#include <vector>

#include "apps/data/decode.h"
#include "apps/data/letterbox.h"
#include "apps/ralsgan/image_io.h"

namespace {

std::vector<rg::data::Image> photos() {
  std::vector<rg::data::Image> out;
  for (const auto& e : std::filesystem::directory_iterator(RG_SOURCE_DIR "/tests/data/train_images")) {
    const rg::data::DecodeResult d = rg::data::decode_image_file(e.path());
    if (!d.ok) throw std::runtime_error("bench_png_encode: " + e.path().string() + ": " + d.reason);
    out.push_back(rg::data::stretch(d.image, 128));
  }
  return out;
}

void append(png_structp png, png_bytep data, png_size_t n) {
  auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  v->insert(v->end(), data, data + n);
}

// libpng's defaults at level 6: the encoder PIL and most tools resemble.
std::vector<uint8_t> encode_libpng_default(const uint8_t* rgb, int size) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, append, nullptr);
  png_set_IHDR(png, info, png_uint_32(size), png_uint_32(size), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  for (int y = 0; y < size; ++y) png_write_row(png, const_cast<png_bytep>(rgb + size_t(y) * size * 3));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void BM_Encode(benchmark::State& st, bool ours) {
  const std::vector<rg::data::Image> imgs = photos();
  size_t bytes = 0, images = 0;
  for (auto _ : st)
    for (const rg::data::Image& im : imgs) {
      const auto png = ours ? rg::app::encode_png(im.pixels.data(), 128, 128)
                            : encode_libpng_default(im.pixels.data(), 128);
      bytes += png.size(), ++images;
    }
  st.counters["KB_per_png"] = double(bytes) / double(images) / 1024.0;
  st.counters["png_per_s"] = benchmark::Counter(double(images), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(BM_Encode, ours_up_sub, true)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_CAPTURE(BM_Encode, libpng_default, false)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_MAIN();
