// SPDX-License-Identifier: Apache-2.0
#pragma once
// safetensors reading and writing (https://github.com/huggingface/safetensors).
//
// File layout: 8-byte little-endian u64 N, then N bytes of a UTF-8 JSON object
// (the header), then the data section. Each header entry other than
// "__metadata__" is {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}
// with offsets relative to the start of the data section.
//
// The reader treats files as untrusted: the header length is limited to
// 100 MB and to the file size, the JSON is strictly validated (RFC 8259, UTF-8,
// no duplicate keys, no unknown fields in a tensor entry), every tensor's
// byte range must lie inside the data section and match numel * itemsize
// (checked for overflow). Every error is a std::runtime_error whose message
// names the file (or label) and, where relevant, the tensor.
//
// The writer sorts tensors by name, stores data in that order, pads the
// header with spaces to a multiple of 8 bytes, and replaces the target file
// atomically (temporary file, fsync, rename).
#include <cstddef>
#include <cstdint>
#include <concepts>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace rg::io {

struct TensorData {
  std::string dtype;             // "F64","F32","F16","BF16","I64","I32","I16","I8","U8","BOOL" (also U16/U32/U64)
  std::vector<int64_t> shape;    // [] is a scalar (numel 1)
  std::vector<std::byte> bytes;  // little-endian, row-major, exactly numel*itemsize
  int64_t numel() const;
};

struct SafetensorsContents {
  std::map<std::string, TensorData> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__" string map
};

// Largest header accepted by the reader (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// A tensor whose bytes stay where the file is (a mapping, a caller's buffer).
struct TensorView {
  std::string dtype;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
};
struct SafetensorsView {
  std::map<std::string, TensorView> tensors;
  std::map<std::string, std::string> metadata;
};
// Contents read into memory or viewed in place: code that only reads tensors
// (names, dtypes, shapes, bytes) takes either.
template <class C>
concept SafetensorsLike = std::same_as<C, SafetensorsContents> || std::same_as<C, SafetensorsView>;

// The same checks as parse_safetensors; the views point into `file`.
SafetensorsView parse_safetensors_view(std::span<const std::byte> file, const std::string& label);

// A safetensors file mapped read-only into memory: its tensors are views of
// the mapping, nothing is copied (pages are read when first touched), so a
// Session may run on them in place (CallerMemory::add_read_only_variable).
// The data section is not realigned: a tensor's bytes are as aligned as its
// offset in the file makes them (our writer and PyTorch's keep F32 tensors
// 4-byte aligned). Throws std::runtime_error naming the file and the problem.
class MappedSafetensors {
 public:
  explicit MappedSafetensors(const std::string& path);
  ~MappedSafetensors();
  MappedSafetensors(const MappedSafetensors&) = delete;
  MappedSafetensors& operator=(const MappedSafetensors&) = delete;
  const SafetensorsView& contents() const { return view_; }
  // Throws naming the file when there is no such tensor.
  const TensorView& tensor(const std::string& name) const;

 private:
  std::string path_;
  void* base_ = nullptr;
  size_t size_ = 0;
  SafetensorsView view_;
};

// Parse from memory; `label` names the source in every error message.
SafetensorsContents parse_safetensors(std::span<const std::byte> file, const std::string& label);
// Reads and parses a file; throws std::runtime_error naming path and problem.
SafetensorsContents read_safetensors(const std::string& path);
// The exact bytes write_safetensors puts in the file; validates the contents
// (known dtypes, non-negative dims, byte sizes, UTF-8 names) and throws on error.
std::vector<std::byte> serialize_safetensors(const SafetensorsContents& c);
// Writes path.tmp-XXXXXX, fsyncs it, renames it over path (atomic). On any
// failure removes the temporary file and throws; an existing file stays intact.
void write_safetensors(const std::string& path, const SafetensorsContents& c);

// A tensor whose bytes are made while the file is written: `fill` receives a
// buffer of exactly numel * itemsize bytes.
struct TensorSource {
  std::string dtype;
  std::vector<int64_t> shape;
  std::function<void(std::span<std::byte>)> fill;
};
// The same file as write_safetensors of the filled tensors, holding one
// tensor's bytes at a time (checkpoints of large models); an exception from
// `fill` aborts the write like an I/O error.
void write_safetensors(const std::string& path, const std::map<std::string, TensorSource>& tensors,
                       const std::map<std::string, std::string>& metadata);

// F64/F32/I64/I32/U8/BOOL -> double; throws on other dtypes.
std::vector<double> to_f64(const TensorData& t);
std::vector<double> to_f64(const TensorView& t);
TensorData from_f64(const std::vector<double>& v, std::vector<int64_t> shape);
TensorData from_f32(const std::vector<float>& v, std::vector<int64_t> shape);
// Bytes per element; throws std::invalid_argument on an unknown dtype.
size_t dtype_size(const std::string& dtype);

}  // namespace rg::io
