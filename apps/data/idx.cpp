// SPDX-License-Identifier: Apache-2.0
#include "apps/data/idx.h"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "apps/data/letterbox.h"
#include "apps/data/read_file.h"
#include "apps/data/parallel.h"

namespace rg::data {

namespace {
[[noreturn]] void bad(const std::string& name, const std::string& field, const std::string& what) {
  throw std::runtime_error(name + ": invalid IDX file: " + field + ": " + what);
}
}  // namespace

IdxArray parse_idx(std::span<const uint8_t> b, const std::string& name) {
  if (b.size() < 4) bad(name, "magic", "file is shorter than the 4-byte magic");
  if (b[0] != 0 || b[1] != 0) bad(name, "magic", "first two bytes must be zero");
  IdxArray a;
  a.type = b[2];
  if (a.type != 0x08) bad(name, "type", "only unsigned byte data (0x08) is supported, got 0x" + std::to_string(a.type));
  const unsigned nd = b[3];
  if (nd == 0 || nd > 8) bad(name, "dimensions", std::to_string(nd) + " is out of range [1, 8]");
  if (b.size() < 4 + 4 * std::size_t{nd}) bad(name, "dimensions", "file ends inside the dimension sizes");
  uint64_t total = 1;
  for (unsigned i = 0; i < nd; ++i) {
    const uint8_t* p = b.data() + 4 + 4 * i;
    const uint32_t d = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    a.dims.push_back(d);
    if (d != 0 && total > (uint64_t{1} << 40) / d) bad(name, "dimensions", "product is too large");
    total *= d;
  }
  const std::size_t off = 4 + 4 * std::size_t{nd};
  const std::size_t have = b.size() - off;
  if (have != total)
    bad(name, "data", "dimensions need " + std::to_string(total) + " bytes, file has " + std::to_string(have) +
                          (have < total ? " (truncated)" : " (trailing bytes)"));
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(off), b.end());
  return a;
}

std::vector<uint8_t> gunzip(std::span<const uint8_t> in, const std::string& name, std::size_t max_out) {
  if (in.size() > (std::size_t{1} << 31)) throw std::runtime_error(name + ": gzip: compressed file larger than 2 GiB");
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error(name + ": gzip: inflateInit failed");
  std::vector<uint8_t> out;
  std::size_t pos = 0;
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    if (out.size() - pos < 65536) {
      if (out.size() >= max_out) {
        inflateEnd(&zs);
        throw std::runtime_error(name + ": gzip: decompressed size exceeds " + std::to_string(max_out) + " bytes");
      }
      out.resize(std::min(max_out, std::max<std::size_t>(out.size() * 2, 1u << 20)));
    }
    zs.next_out = out.data() + pos;
    zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - pos, 1u << 30));
    const uInt before = zs.avail_out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    pos += before - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw std::runtime_error(name + ": gzip: truncated stream");
    }
    if (rc == Z_BUF_ERROR) continue;  // needs more output space
    std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
    inflateEnd(&zs);
    throw std::runtime_error(name + ": gzip: " + msg);
  }
  inflateEnd(&zs);
  out.resize(pos);
  return out;
}

IdxArray read_idx_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::vector<uint8_t> bytes;
  std::string error;
  if (!read_regular_file(path, bytes, error)) throw std::runtime_error(name + ": IDX file: " + error);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) bytes = gunzip(bytes, name);
  return parse_idx(bytes, name);
}

Dataset idx_image_dataset(const std::filesystem::path& images_file, int size, std::size_t limit, unsigned threads) {
  const std::string name = images_file.string();
  IdxArray a = read_idx_file(images_file);
  if (a.dims.size() != 3) bad(name, "dimensions", "an image file has 3 dimensions (N, H, W)");
  const std::size_t n0 = a.dims[0], h = a.dims[1], w = a.dims[2];
  if (n0 == 0 || h == 0 || w == 0 || h > 65536 || w > 65536) bad(name, "dimensions", "empty or too large images");
  const std::size_t n = limit ? std::min(limit, n0) : n0;
  const std::size_t per = static_cast<std::size_t>(size) * size * 3;
  std::vector<uint8_t> pixels(n * per);
  std::vector<std::string> sources(n);
  const std::string base = images_file.filename().string();
  parallel_for(n, threads, [&](std::size_t i) {
    Image img;
    img.height = static_cast<int>(h);
    img.width = static_cast<int>(w);
    img.pixels.resize(img.bytes());
    const uint8_t* src = a.data.data() + i * h * w;
    for (std::size_t k = 0; k < h * w; ++k) img.pixels[3 * k] = img.pixels[3 * k + 1] = img.pixels[3 * k + 2] = src[k];
    fit_image(img, size, Fit::kPad, pixels.data() + i * per);
    sources[i] = base + "#" + std::to_string(i);
  });
  return Dataset::from_memory(size, std::move(pixels), std::move(sources), Fit::kPad, 0);
}

Dataset fashion_mnist_dataset(int size, std::size_t limit, bool train) {
  const std::filesystem::path p =
      std::filesystem::path(kFashionMnistDir) / (train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz");
  return idx_image_dataset(p, size, limit);
}

}  // namespace rg::data
