#include "apps/ralsgan/image_io.h"

#include <fcntl.h>
#include <png.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  const std::string tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(e));
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(e));
  }
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

std::vector<uint8_t> plot_losses(const std::vector<double>& steps, const std::vector<double>& a,
                                 const std::vector<double>& b, int width, int height) {
  std::vector<uint8_t> img(size_t(width) * height * 3, 255);
  auto put = [&](int x, int y, uint8_t r, uint8_t g, uint8_t bl) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &img[(size_t(y) * width + x) * 3];
    p[0] = r, p[1] = g, p[2] = bl;
  };
  const int left = 40, right = 10, top = 10, bottom = 30;
  const int pw = width - left - right, ph = height - top - bottom;
  for (int x = left; x < left + pw; ++x) put(x, top + ph, 0, 0, 0);
  for (int y = top; y <= top + ph; ++y) put(left, y, 0, 0, 0);
  if (steps.empty()) return img;
  double lo = 0, hi = 1e-12;
  for (const auto* s : {&a, &b})
    for (double v : *s)
      if (std::isfinite(v)) hi = std::max(hi, v), lo = std::min(lo, v);
  const double s0 = steps.front(), s1 = std::max(steps.back(), s0 + 1);
  for (int t = 0; t <= 4; ++t) {  // ticks: 5 on each axis, light grid lines
    const int y = top + ph - t * ph / 4, x = left + t * pw / 4;
    for (int k = left; k < left + pw; k += 3) put(k, y, 210, 210, 210);
    for (int k = 0; k < 5; ++k) put(left - 1 - k, y, 0, 0, 0), put(x, top + ph + 1 + k, 0, 0, 0);
  }
  auto draw = [&](const std::vector<double>& s, uint8_t r, uint8_t g, uint8_t bl) {
    int px = -1, py = -1;
    for (size_t i = 0; i < s.size(); ++i) {
      if (!std::isfinite(s[i])) continue;
      const int x = left + int(std::lround((steps[i] - s0) / (s1 - s0) * (pw - 1)));
      const int y = top + ph - int(std::lround((s[i] - lo) / (hi - lo) * ph));
      if (px >= 0) {  // a line from the previous point
        const int n = std::max(std::abs(x - px), std::abs(y - py)) + 1;
        for (int k = 0; k <= n; ++k) put(px + (x - px) * k / n, py + (y - py) * k / n, r, g, bl);
      }
      px = x, py = y;
    }
  };
  draw(a, 220, 30, 30);
  draw(b, 30, 60, 220);
  return img;
}

std::string image_file_name(uint64_t index) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "image_%05llu.png", static_cast<unsigned long long>(index));
  return buf;
}

}  // namespace rg::app
