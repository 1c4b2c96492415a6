// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "apps/ralsgan/fault.h"

namespace rg::app {
namespace {

std::string shape_text(const std::vector<int64_t>& s) { return shape_str(Shape(s.begin(), s.end())); }

template <io::SafetensorsLike Contents>
const auto& expect_tensor(const Contents& file, const std::string& label, const std::string& key, const Shape& shape,
                          bool integer) {
  auto it = file.tensors.find(key);
  if (it == file.tensors.end())
    throw std::runtime_error(label + ": tensor '" + key + "' is missing (expected " + shape_str(shape) + ")");
  const auto& t = it->second;
  if (Shape(t.shape.begin(), t.shape.end()) != shape)
    throw std::runtime_error(label + ": tensor '" + key + "' has shape " + shape_text(t.shape) + ", expected " +
                             shape_str(shape));
  const bool ok = integer ? (t.dtype == "I64" || t.dtype == "I32") : (t.dtype == "F32" || t.dtype == "F64");
  if (!ok)
    throw std::runtime_error(label + ": tensor '" + key + "' has dtype " + t.dtype + ", expected " +
                             (integer ? "I64" : "F32 or F64"));
  return t;
}

// One copy into the session when the file holds what the variable holds (F32
// into an f32 graph, 4-byte aligned as our writer and PyTorch's keep it); else
// through double.
template <class Tensor>
void set_from(Session& s, const std::string& var, const Tensor& t) {
  const int idx = s.plan().graph->find_variable(var);
  if (idx < 0) return;  // this graph does not use it (e.g. generation needs no D)
  const DType want = s.plan().graph->variables()[size_t(idx)].desc.dtype;
  if (want == DType::f32 && t.dtype == "F32" && reinterpret_cast<uintptr_t>(t.bytes.data()) % alignof(float) == 0) {
    s.set_variable(var, std::span<const float>(reinterpret_cast<const float*>(t.bytes.data()), t.bytes.size() / 4));
    return;
  }
  const std::vector<double> v = io::to_f64(t);
  if (want == DType::i64) {
    std::vector<int64_t> iv(v.begin(), v.end());
    s.set_variable(var, std::span<const int64_t>(iv));
  } else {
    s.set_variable(var, std::span<const double>(v));
  }
}

// A tensor of a checkpoint file: its key there, the session variable it comes
// from, its shape and element type.
struct Entry {
  std::string key, var;
  Shape shape;
  DType type;  // i64, or the graph's float type
};

std::vector<Entry> network_entries(const Session& s, const std::vector<model::ParamSpec>& specs, const std::string& prefix) {
  std::vector<Entry> e;
  for (const auto& p : specs)
    e.push_back({p.key, prefix + p.key, p.shape, p.dtype == DType::i64 ? DType::i64 : s.plan().graph->float_type()});
  return e;
}

std::vector<Entry> train_state_entries(const Session& s, const std::vector<model::ParamSpec>& g_specs,
                                       const std::vector<model::ParamSpec>& d_specs) {
  std::vector<Entry> e;
  for (auto [specs, net] : {std::pair{&g_specs, "G."}, {&d_specs, "D."}}) {
    for (const auto& p : *specs) {
      if (!p.trainable) continue;
      for (const char* m : {".exp_avg", ".exp_avg_sq"}) {
        const std::string name = std::string("adam.") + net + p.key + m;
        e.push_back({name, name, p.shape, s.plan().graph->float_type()});
      }
    }
    const std::string step = std::string("adam.") + net + "step";
    e.push_back({step, step, {}, DType::i64});
  }
  return e;
}

// Float tensors in the graph's precision: F32 normally, F64 for f64 runs.
std::string file_dtype(DType t) { return t == DType::i64 ? "I64" : t == DType::f64 ? "F64" : "F32"; }

io::TensorData tensor_of(const Session& s, const Entry& e) {
  io::TensorData d;
  d.dtype = file_dtype(e.type);
  d.shape.assign(e.shape.begin(), e.shape.end());
  d.bytes.resize(size_t(numel(e.shape)) * dtype_size(e.type));
  s.read_variable(e.var, d.bytes.data(), e.type);  // straight into the file's bytes
  return d;
}

// Accumulates contents_crc32: the same bytes whether they come from a file
// read back or from a session being written.
class ContentsCrc {
 public:
  void tensor(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
              std::span<const std::byte> bytes) {
    text(name), text(dtype);
    std::string dims;
    for (int64_t d : shape) dims += std::to_string(d) + ",";
    text(dims);
    add(bytes.data(), bytes.size());
  }
  void metadata(const std::map<std::string, std::string>& m) {
    for (const auto& [k, v] : m)
      if (k != "crc32") text(k), text(v);
  }
  uint32_t value() const { return uint32_t(crc_); }

 private:
  void text(const std::string& t) { add(t.c_str(), t.size() + 1); }  // with its terminating NUL
  void add(const void* p, size_t n) {
    for (const auto* b = static_cast<const Bytef*>(p); n > 0;) {
      const uInt k = uInt(std::min<size_t>(n, size_t(1) << 30));
      crc_ = ::crc32(crc_, b, k);
      b += k, n -= k;
    }
  }
  uLong crc_ = ::crc32(0L, Z_NULL, 0);
};

// Writes the entries with `metadata` plus their checksum. The checksum goes in
// the header, before the data, so the tensors are read from the session once
// for it and once more while writing (never the whole network in memory).
uint32_t write_entries(const std::filesystem::path& path, const Session& s, const std::vector<Entry>& entries,
                       std::map<std::string, std::string> metadata) {
  std::map<std::string, const Entry*> by_name;  // the file's order
  size_t largest = 0;
  for (const Entry& e : entries) {
    by_name[e.key] = &e;
    largest = std::max(largest, size_t(numel(e.shape)) * dtype_size(e.type));
  }
  ContentsCrc crc;
  std::vector<std::byte> buf(largest);
  for (const auto& [key, e] : by_name) {
    const size_t n = size_t(numel(e->shape)) * dtype_size(e->type);
    s.read_variable(e->var, buf.data(), e->type);
    crc.tensor(key, file_dtype(e->type), std::vector<int64_t>(e->shape.begin(), e->shape.end()), {buf.data(), n});
  }
  crc.metadata(metadata);
  metadata["crc32"] = crc32_text(crc.value());

  std::map<std::string, io::TensorSource> src;
  const std::string file = path.filename().string();
  size_t k = 0;
  for (const auto& [key, e] : by_name) {
    // Fault points (tests only): the temporary file holds the header, and all
    // but the last tensor.
    const char* point = k == 0 ? "header written" : k + 1 == by_name.size() ? "all but the last tensor written" : nullptr;
    src[key] = {file_dtype(e->type), std::vector<int64_t>(e->shape.begin(), e->shape.end()),
                [&s, e, point, file](std::span<std::byte> out) {
                  if (point) fault_point(file + ": " + point);
                  s.read_variable(e->var, out.data(), e->type);
                }};
    ++k;
  }
  io::write_safetensors(path.string(), src, metadata);
  fault_point(file + ": complete");
  return crc.value();
}

}  // namespace

CheckpointPaths CheckpointPaths::in(const std::filesystem::path& dir) {
  return {dir / "generator.safetensors", dir / "discriminator.safetensors",
          dir / "train_state.safetensors", dir / "generator_ema.safetensors"};
}

io::SafetensorsContents export_network(const Session& s, const std::vector<model::ParamSpec>& specs,
                                       const std::string& prefix) {
  io::SafetensorsContents c;
  for (const Entry& e : network_entries(s, specs, prefix)) c.tensors[e.key] = tensor_of(s, e);
  c.metadata["format"] = "pt";
  return c;
}

uint32_t write_network(const std::filesystem::path& path, const Session& s, const std::vector<model::ParamSpec>& specs,
                       const std::string& prefix, const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> m = metadata;
  m["format"] = "pt";
  return write_entries(path, s, network_entries(s, specs, prefix), m);
}

void copy_network(const Session& from, Session& to, const std::vector<model::ParamSpec>& specs, const std::string& prefix) {
  copy_network(from, to, specs, prefix, prefix);
}

void copy_network(const Session& from, Session& to, const std::vector<model::ParamSpec>& specs,
                  const std::string& prefix, const std::string& to_prefix) {
  for (const Entry& e : network_entries(from, specs, prefix)) {
    const std::string dst = to_prefix + e.key;
    if (e.type == DType::i64) {
      std::vector<int64_t> v(size_t(numel(e.shape)));
      from.read_variable(e.var, v.data(), DType::i64);
      to.set_variable(dst, std::span<const int64_t>(v));
    } else if (e.type == DType::f64) {
      std::vector<double> v(size_t(numel(e.shape)));
      from.read_variable(e.var, v.data(), DType::f64);
      to.set_variable(dst, std::span<const double>(v));
    } else {  // f32 graphs: no wider copy than the tensor itself
      std::vector<float> v(size_t(numel(e.shape)));
      from.read_variable(e.var, v.data(), DType::f32);
      to.set_variable(dst, std::span<const float>(v));
    }
  }
}

template <io::SafetensorsLike Contents>
void check_network_file(const Contents& file, const std::string& label,
                        const std::vector<model::ParamSpec>& specs) {
  for (const auto& p : specs) expect_tensor(file, label, p.key, p.shape, p.dtype == DType::i64);
  for (const auto& [key, t] : file.tensors) {
    bool known = false;
    for (const auto& p : specs) known |= p.key == key;
    if (!known)
      throw std::runtime_error(label + ": unexpected tensor '" + key + "' (not part of this model: wrong --size or --width?)");
  }
}

template <io::SafetensorsLike Contents>
void import_network(Session& s, const Contents& file, const std::string& label,
                    const std::vector<model::ParamSpec>& specs, const std::string& prefix) {
  check_network_file(file, label, specs);
  for (const auto& p : specs) set_from(s, prefix + p.key, file.tensors.at(p.key));
}

uint32_t write_train_state(const std::filesystem::path& path, const Session& s,
                           const std::vector<model::ParamSpec>& g_specs, const std::vector<model::ParamSpec>& d_specs,
                           const std::map<std::string, std::string>& metadata) {
  return write_entries(path, s, train_state_entries(s, g_specs, d_specs), metadata);
}

template <io::SafetensorsLike Contents>
uint32_t contents_crc32(const Contents& file) {
  ContentsCrc crc;
  for (const auto& [name, t] : file.tensors) crc.tensor(name, t.dtype, t.shape, t.bytes);
  crc.metadata(file.metadata);
  return crc.value();
}

std::string crc32_text(uint32_t crc) {
  char b[16];
  std::snprintf(b, sizeof b, "%08x", crc);
  return b;
}

template <io::SafetensorsLike Contents>
bool verify_checksum(const Contents& file, const std::string& label, bool required) {
  auto it = file.metadata.find("crc32");
  if (it == file.metadata.end()) {
    if (required)
      throw std::runtime_error(label + ": has no checksum (metadata 'crc32'), so it cannot be verified; "
                               "not a checkpoint written by this version of ralsgan");
    return false;
  }
  const std::string computed = crc32_text(contents_crc32(file));
  if (it->second != computed)
    throw std::runtime_error(label + ": checksum mismatch (stored " + it->second + ", computed " + computed +
                             "): the file is corrupt");
  return true;
}

template <io::SafetensorsLike Contents>
void import_train_state(Session& s, const Contents& file, const std::string& label,
                        const std::vector<model::ParamSpec>& g_specs, const std::vector<model::ParamSpec>& d_specs) {
  for (auto [specs, net] : {std::pair{&g_specs, "G."}, {&d_specs, "D."}}) {
    for (const auto& p : *specs) {
      if (!p.trainable) continue;
      for (const char* m : {".exp_avg", ".exp_avg_sq"}) {
        const std::string name = std::string("adam.") + net + p.key + m;
        set_from(s, name, expect_tensor(file, label, name, p.shape, false));
      }
    }
    const std::string step = std::string("adam.") + net + "step";
    set_from(s, step, expect_tensor(file, label, step, {}, true));
  }
}

// Read files and mapped ones (io::MappedSafetensors) go through the same checks.
#define RG_CHECKPOINT_READERS(C)                                                                                  \
  template void check_network_file(const C&, const std::string&, const std::vector<model::ParamSpec>&);          \
  template void import_network(Session&, const C&, const std::string&, const std::vector<model::ParamSpec>&,      \
                               const std::string&);                                                               \
  template uint32_t contents_crc32(const C&);                                                                     \
  template bool verify_checksum(const C&, const std::string&, bool);                                              \
  template void import_train_state(Session&, const C&, const std::string&, const std::vector<model::ParamSpec>&, \
                                   const std::vector<model::ParamSpec>&);
RG_CHECKPOINT_READERS(io::SafetensorsContents)
RG_CHECKPOINT_READERS(io::SafetensorsView)
#undef RG_CHECKPOINT_READERS

}  // namespace rg::app
