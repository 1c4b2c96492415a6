// SPDX-License-Identifier: Apache-2.0
#include "engine/io/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace rg::io {
namespace {

// The value of `key` in the header's Python dict literal, as text.
std::string dict_value(const std::string& h, const std::string& key, const std::string& name) {
  const size_t k = h.find("'" + key + "'");
  if (k == std::string::npos) throw std::runtime_error(name + ": .npy header has no '" + key + "'");
  size_t v = h.find(':', k);
  if (v == std::string::npos) throw std::runtime_error(name + ": malformed .npy header");
  ++v;
  while (v < h.size() && h[v] == ' ') ++v;
  size_t end = v;
  if (v < h.size() && h[v] == '(')
    end = h.find(')', v) + 1;
  else if (v < h.size() && h[v] == '\'')
    end = h.find('\'', v + 1) + 1;
  else
    end = h.find_first_of(",}", v);
  if (end == std::string::npos || end == 0 || end > h.size())
    throw std::runtime_error(name + ": malformed .npy header");
  return h.substr(v, end - v);
}

}  // namespace

NpyArray parse_npy(std::span<const unsigned char> b, const std::string& name) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    throw std::runtime_error(name + ": not a .npy file");
  const int major = b[6];
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = size_t(b[8]) | size_t(b[9]) << 8, start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw std::runtime_error(name + ": truncated .npy header");
    header_len = size_t(b[8]) | size_t(b[9]) << 8 | size_t(b[10]) << 16 | size_t(b[11]) << 24,
    start = 12;
  } else {
    throw std::runtime_error(name + ": .npy format version " + std::to_string(major) +
                             " is not supported");
  }
  if (start + header_len > b.size()) throw std::runtime_error(name + ": truncated .npy header");
  const std::string h(reinterpret_cast<const char*>(b.data() + start), header_len);
  NpyArray a;
  a.dtype = dict_value(h, "descr", name);
  if (a.dtype.size() >= 2) a.dtype = a.dtype.substr(1, a.dtype.size() - 2);
  if (dict_value(h, "fortran_order", name) != "False")
    throw std::runtime_error(name + ": Fortran-ordered arrays are not supported");
  const std::string shape = dict_value(h, "shape", name);
  int64_t n = 1;
  for (size_t i = 1; i + 1 < shape.size();) {
    const size_t comma = shape.find(',', i);
    const std::string d =
        shape.substr(i, (comma == std::string::npos ? shape.size() - 1 : comma) - i);
    if (d.find_first_not_of(' ') != std::string::npos) {
      char* end = nullptr;
      const long long v = std::strtoll(d.c_str(), &end, 10);
      if (v < 0 || v > (int64_t(1) << 31) ||
          (n > 0 && v > (int64_t(1) << 31) / std::max<int64_t>(n, 1)))
        throw std::runtime_error(name + ": absurd .npy shape " + shape);
      a.shape.push_back(v);
      n *= v;
    }
    if (comma == std::string::npos) break;
    i = comma + 1;
  }
  size_t size = 0;
  if (a.dtype == "<f4" || a.dtype == "<i4")
    size = 4;
  else if (a.dtype == "<f8" || a.dtype == "<i8")
    size = 8;
  else
    throw std::runtime_error(name + ": .npy dtype '" + a.dtype +
                             "' is not supported (float32, float64, int64, int32)");
  const size_t data = start + header_len;
  if (b.size() - data != size_t(n) * size)
    throw std::runtime_error(name + ": holds " + std::to_string(b.size() - data) +
                             " bytes of data, its shape " + shape + " needs " +
                             std::to_string(size_t(n) * size));
  a.data.resize(size_t(n));
  for (size_t i = 0; i < size_t(n); ++i) {
    const unsigned char* p = b.data() + data + i * size;
    if (a.dtype == "<f4") {
      float v;
      std::memcpy(&v, p, 4);
      a.data[i] = v;
    } else if (a.dtype == "<f8") {
      double v;
      std::memcpy(&v, p, 8);
      a.data[i] = v;
    } else if (a.dtype == "<i8") {
      int64_t v;
      std::memcpy(&v, p, 8);
      a.data[i] = double(v);
    } else {
      int32_t v;
      std::memcpy(&v, p, 4);
      a.data[i] = v;
    }
  }
  return a;
}

NpyArray read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  const std::vector<unsigned char> b((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
  return parse_npy(b, path.string());
}

std::string npy_bytes(const Shape& shape, std::span<const float> data) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i)
    dict += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? ", " : "");
  if (!shape.empty() && dict.ends_with(", ")) dict.erase(dict.size() - 1);  // "(3,)" and "(2, 3)"
  dict += "), }";
  // Padded with spaces and a newline so the data starts at a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += char(1), out += char(0);
  out += char(dict.size() & 0xff), out += char(dict.size() >> 8);
  out += dict;
  out.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float));
  return out;
}

}  // namespace rg::io
