// SPDX-License-Identifier: Apache-2.0
#include "frontends/onnx/onnx_tensor.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace rg::onnx {
namespace {

using TP = ::onnx::TensorProto;

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0)
    return std::bit_cast<float>(sign) + (sign ? -1.f : 1.f) * std::ldexp(float(man), -24);
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (man << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (man << 13));
}

float bf16_to_float(uint16_t b) {
  return std::bit_cast<float>(uint32_t(b) << 16);
}

size_t element_size(int type) {
  switch (type) {
    case TP::FLOAT:
    case TP::INT32:
    case TP::UINT32:
      return 4;
    case TP::DOUBLE:
    case TP::INT64:
    case TP::UINT64:
      return 8;
    case TP::FLOAT16:
    case TP::BFLOAT16:
    case TP::INT16:
    case TP::UINT16:
      return 2;
    case TP::INT8:
    case TP::UINT8:
    case TP::BOOL:
      return 1;
    default:
      return 0;
  }
}

bool is_float_type(int type) {
  return type == TP::FLOAT || type == TP::DOUBLE || type == TP::FLOAT16 || type == TP::BFLOAT16;
}

// Little-endian raw bytes of `n` elements of `type` into c.
void from_raw(const unsigned char* p, int64_t n, int type, Const& c) {
  auto load = [&](auto v, int64_t k) {
    std::memcpy(&v, p + size_t(k) * sizeof(v), sizeof(v));
    return v;
  };
  for (int64_t k = 0; k < n; ++k) {
    switch (type) {
      case TP::FLOAT:
        c.f[size_t(k)] = load(float{}, k);
        break;
      case TP::DOUBLE:
        c.f[size_t(k)] = float(load(double{}, k));
        break;
      case TP::FLOAT16:
        c.f[size_t(k)] = half_to_float(load(uint16_t{}, k));
        break;
      case TP::BFLOAT16:
        c.f[size_t(k)] = bf16_to_float(load(uint16_t{}, k));
        break;
      case TP::INT64:
        c.i[size_t(k)] = load(int64_t{}, k);
        break;
      case TP::UINT64:
        c.i[size_t(k)] = int64_t(load(uint64_t{}, k));
        break;
      case TP::INT32:
        c.i[size_t(k)] = load(int32_t{}, k);
        break;
      case TP::UINT32:
        c.i[size_t(k)] = load(uint32_t{}, k);
        break;
      case TP::INT16:
        c.i[size_t(k)] = load(int16_t{}, k);
        break;
      case TP::UINT16:
        c.i[size_t(k)] = load(uint16_t{}, k);
        break;
      case TP::INT8:
        c.i[size_t(k)] = load(int8_t{}, k);
        break;
      case TP::UINT8:
      case TP::BOOL:
        c.i[size_t(k)] = load(uint8_t{}, k);
        break;
    }
  }
}

std::string external_bytes(const TP& t, const std::string& dir, size_t want) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location")
      location = kv.value();
    else if (kv.key() == "offset")
      offset = std::stoll(kv.value());
    else if (kv.key() == "length")
      length = std::stoll(kv.value());
  }
  if (dir.empty()) throw std::invalid_argument("external data is not allowed here");
  namespace fs = std::filesystem;
  const fs::path rel(location);
  if (location.empty() || rel.is_absolute())
    throw std::invalid_argument("external data location '" + location +
                                "' must be a relative path");
  const fs::path base = fs::weakly_canonical(fs::path(dir));
  const fs::path file = fs::weakly_canonical(base / rel);
  const auto [end, _] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (end != base.end())
    throw std::invalid_argument("external data location '" + location +
                                "' is outside the model's folder");
  if (offset < 0 || (length >= 0 && size_t(length) != want))
    throw std::invalid_argument("external data '" + location + "': offset " +
                                std::to_string(offset) + " and length " + std::to_string(length) +
                                " do not give the tensor's " + std::to_string(want) + " bytes");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot open external data file '" + file.string() + "'");
  in.seekg(0, std::ios::end);
  const auto size = int64_t(in.tellg());
  if (size < offset || size_t(size - offset) < want)
    throw std::invalid_argument("external data file '" + file.string() +
                                "' is too short for the tensor");
  std::string bytes(want, '\0');
  in.seekg(offset);
  in.read(bytes.data(), std::streamsize(want));
  if (!in) throw std::invalid_argument("cannot read external data file '" + file.string() + "'");
  return bytes;
}

}  // namespace

std::vector<int64_t> Const::ints(const std::string& what) const {
  if (!is_float) return i;
  std::vector<int64_t> r;
  for (float v : f) {
    if (v != std::floor(v) || std::abs(v) > 9.0e15f)
      throw std::invalid_argument(what + " must hold integers");
    r.push_back(int64_t(v));
  }
  return r;
}

Const Const::of_ints(std::vector<int64_t> v, Shape shape) {
  Const c;
  c.is_float = false, c.i = std::move(v), c.shape = std::move(shape);
  return c;
}

Const Const::of_floats(std::vector<float> v, Shape shape) {
  Const c;
  c.f = std::move(v), c.shape = std::move(shape);
  return c;
}

int64_t checked_numel(const Shape& dims, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw std::invalid_argument(what + " has a negative dimension " + std::to_string(d));
    if (d != 0 && n > kMaxElements / d)
      throw std::invalid_argument(what + " has absurd dimensions " + shape_str(dims) +
                                  " (more than 2^31 elements)");
    n *= d;
  }
  return n;
}

Const decode_tensor(const TP& t, const std::string& dir) {
  const std::string what = "tensor '" + t.name() + "'";
  const int type = t.data_type();
  if (element_size(type) == 0)
    throw std::invalid_argument(
        what + " has data type " + std::to_string(type) +
        " (supported: float, double, float16, bfloat16, integer and bool types)");
  Const c;
  c.shape.assign(t.dims().begin(), t.dims().end());
  const int64_t n = checked_numel(c.shape, what);
  c.is_float = is_float_type(type);
  // The values' room is made only once the data is known to be there: the
  // dimensions alone may claim up to 2^31 elements (16 GiB) in a small file.
  auto make_room = [&] {
    if (c.is_float)
      c.f.resize(size_t(n));
    else
      c.i.resize(size_t(n));
  };
  const size_t raw_bytes = size_t(n) * element_size(type);
  if (t.data_location() == TP::EXTERNAL) {
    const std::string bytes = external_bytes(t, dir, raw_bytes);
    make_room();
    from_raw(reinterpret_cast<const unsigned char*>(bytes.data()), n, type, c);
    return c;
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() != raw_bytes)
      throw std::invalid_argument(what + " has " + std::to_string(t.raw_data().size()) +
                                  " bytes of data, its shape " + shape_str(c.shape) + " needs " +
                                  std::to_string(raw_bytes));
    make_room();
    from_raw(reinterpret_cast<const unsigned char*>(t.raw_data().data()), n, type, c);
    return c;
  }
  auto expect = [&](int have) {
    if (int64_t(have) != n)
      throw std::invalid_argument(what + " has " + std::to_string(have) + " values, its shape " +
                                  shape_str(c.shape) + " needs " + std::to_string(n));
    make_room();
  };
  switch (type) {
    case TP::FLOAT:
      expect(t.float_data_size());
      for (int64_t k = 0; k < n; ++k) c.f[size_t(k)] = t.float_data(int(k));
      break;
    case TP::DOUBLE:
      expect(t.double_data_size());
      for (int64_t k = 0; k < n; ++k) c.f[size_t(k)] = float(t.double_data(int(k)));
      break;
    case TP::FLOAT16:
    case TP::BFLOAT16:
      expect(t.int32_data_size());
      for (int64_t k = 0; k < n; ++k) {
        const auto bits = uint16_t(t.int32_data(int(k)));
        c.f[size_t(k)] = type == TP::FLOAT16 ? half_to_float(bits) : bf16_to_float(bits);
      }
      break;
    case TP::INT64:
      expect(t.int64_data_size());
      for (int64_t k = 0; k < n; ++k) c.i[size_t(k)] = t.int64_data(int(k));
      break;
    case TP::UINT32:
    case TP::UINT64:
      expect(t.uint64_data_size());
      for (int64_t k = 0; k < n; ++k) c.i[size_t(k)] = int64_t(t.uint64_data(int(k)));
      break;
    default:
      expect(t.int32_data_size());
      for (int64_t k = 0; k < n; ++k) c.i[size_t(k)] = t.int32_data(int(k));
      break;
  }
  return c;
}

}  // namespace rg::onnx
