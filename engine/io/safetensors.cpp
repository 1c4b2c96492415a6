// SPDX-License-Identifier: Apache-2.0
#include "rg/safetensors.h"

#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "engine/io/json.h"

namespace rg::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; add byte swapping for big-endian hosts");

namespace {

[[noreturn]] void fail(const std::string& label, const std::string& what) {
  throw std::runtime_error(label + ": " + what);
}

// Quotes a name for an error message, escaping control characters.
std::string json_quoted(std::string_view s) {
  std::string out = "'";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  out += "'";
  return out;
}

// Multiplies with overflow check against `limit`; false on overflow.
bool checked_mul(uint64_t a, uint64_t b, uint64_t limit, uint64_t* out) {
  if (a != 0 && b > limit / a) return false;
  *out = a * b;
  return true;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// ---------------------------------------------------------------------------
// A small strict JSON parser (RFC 8259) for the header.

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  std::string text;                     // string contents, or a number's literal text
  std::vector<JsonValue> items;         // array elements, or object values
  std::vector<std::string> keys;        // object keys, parallel to items
};

const char* kind_name(JsonValue::Kind k) {
  switch (k) {
    case JsonValue::Kind::Null: return "null";
    case JsonValue::Kind::Bool: return "a boolean";
    case JsonValue::Kind::Number: return "a number";
    case JsonValue::Kind::String: return "a string";
    case JsonValue::Kind::Array: return "an array";
    case JsonValue::Kind::Object: return "an object";
  }
  return "?";
}

class JsonParser {
 public:
  JsonParser(std::string_view s, const std::string& label) : s_(s), label_(label) {}

  JsonValue parse_document() {
    skip_ws();
    JsonValue v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected characters after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void error(const std::string& what) const {
    fail(label_, "invalid JSON header at byte " + std::to_string(pos_) + ": " + what);
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }

  void skip_ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }

  void expect(char c) {
    if (at_end() || peek() != c) error(std::string("expected '") + c + "'");
    ++pos_;
  }

  JsonValue parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting too deep");
    if (at_end()) error("unexpected end of header");
    const char c = peek();
    JsonValue v;
    switch (c) {
      case '{': parse_object(v, depth); break;
      case '[': parse_array(v, depth); break;
      case '"':
        v.kind = JsonValue::Kind::String;
        v.text = parse_string();
        break;
      case 't': literal("true"); v.kind = JsonValue::Kind::Bool; v.boolean = true; break;
      case 'f': literal("false"); v.kind = JsonValue::Kind::Bool; break;
      case 'n': literal("null"); break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          v.kind = JsonValue::Kind::Number;
          v.text = parse_number();
        } else {
          error("unexpected character");
        }
    }
    return v;
  }

  void literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) error("invalid literal");
    pos_ += word.size();
  }

  void parse_object(JsonValue& v, int depth) {
    v.kind = JsonValue::Kind::Object;
    expect('{');
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return;
    }
    std::unordered_set<std::string> seen;  // linear in the keys, also on a hostile header
    for (;;) {
      skip_ws();
      if (at_end() || peek() != '"') error("expected a string key");
      std::string key = parse_string();
      if (!seen.insert(key).second) error("duplicate key " + json_quoted(key));
      skip_ws();
      expect(':');
      skip_ws();
      v.items.push_back(parse_value(depth + 1));
      v.keys.push_back(std::move(key));
      skip_ws();
      if (at_end()) error("unexpected end of header in an object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return;
      }
      error("expected ',' or '}'");
    }
  }

  void parse_array(JsonValue& v, int depth) {
    v.kind = JsonValue::Kind::Array;
    expect('[');
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return;
    }
    for (;;) {
      skip_ws();
      v.items.push_back(parse_value(depth + 1));
      skip_ws();
      if (at_end()) error("unexpected end of header in an array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return;
      }
      error("expected ',' or ']'");
    }
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else error("invalid \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    for (;;) {
      if (at_end()) error("unterminated string");
      const auto c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) error("control character in string");
      if (c == '\\') {
        ++pos_;
        if (at_end()) error("unterminated escape");
        const char e = s_[pos_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = parse_hex4();
            if (cp >= 0xdc00 && cp <= 0xdfff) error("unpaired low surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (s_.substr(pos_, 2) != "\\u") error("unpaired high surrogate in \\u escape");
              pos_ += 2;
              const uint32_t lo = parse_hex4();
              if (lo < 0xdc00 || lo > 0xdfff) error("invalid low surrogate in \\u escape");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            append_utf8(out, cp);
            break;
          }
          default: error("invalid escape character");
        }
        continue;
      }
      const size_t n = utf8_sequence_length(s_, pos_);
      if (n == 0) error("invalid UTF-8 in string");
      out.append(s_.substr(pos_, n));
      pos_ += n;
    }
  }

  std::string parse_number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t d0 = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      return pos_ - d0;
    };
    if (peek() == '-') ++pos_;
    if (at_end()) error("truncated number");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') error("leading zero in number");
    } else if (digits() == 0) {
      error("invalid number");
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (digits() == 0) error("invalid number: no digits after '.'");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (digits() == 0) error("invalid number: no digits in exponent");
    }
    return std::string(s_.substr(start, pos_ - start));
  }

  std::string_view s_;
  const std::string& label_;
  size_t pos_ = 0;
};

// A JSON number that must be a non-negative integer not above `limit`.
uint64_t json_to_uint(const JsonValue& v, uint64_t limit, const std::string& label, const std::string& what) {
  if (v.kind != JsonValue::Kind::Number) fail(label, what + " must be an integer, got " + kind_name(v.kind));
  if (!v.text.empty() && v.text[0] == '-') fail(label, what + " must not be negative (" + v.text + ")");
  uint64_t r = 0;
  for (char c : v.text) {
    if (c < '0' || c > '9') fail(label, what + " must be an integer (" + v.text + ")");
    const auto d = static_cast<uint64_t>(c - '0');
    if (r > (limit - d) / 10) fail(label, what + " is too large (" + v.text + ")");
    r = r * 10 + d;
  }
  return r;
}

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());


// numel * itemsize with overflow checks; throws naming the tensor.
uint64_t tensor_nbytes(const std::string& label, const std::string& name, const std::string& dtype,
                       const std::vector<int64_t>& shape) {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) {
    if (d < 0) fail(label, "tensor " + json_quoted(name) + ": negative dimension " + std::to_string(d));
    if (!checked_mul(n, static_cast<uint64_t>(d), kInt64Max, &n)) {
      fail(label, "tensor " + json_quoted(name) + ": byte size overflows");
    }
  }
  return n;
}

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

// ---------------------------------------------------------------------------

size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, size_t, std::less<>> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
      {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},   {"BOOL", 1}};
  const auto it = sizes.find(dtype);
  if (it == sizes.end()) throw std::invalid_argument("unknown safetensors dtype " + json_quoted(dtype));
  return it->second;
}

int64_t TensorData::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("negative dimension " + std::to_string(d));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) throw std::overflow_error("numel overflows int64");
    n *= d;
  }
  return n;
}

SafetensorsView parse_safetensors_view(std::span<const std::byte> file, const std::string& label) {
  if (file.size() < 8) {
    fail(label, "file too short for a safetensors header (" + std::to_string(file.size()) + " bytes, need at least 8)");
  }
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<uint64_t>(file[static_cast<size_t>(k)]);
  if (n > kMaxSafetensorsHeaderBytes) {
    fail(label, "header length " + std::to_string(n) + " exceeds the limit of " +
                    std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  if (n > file.size() - 8) {
    fail(label, "header length " + std::to_string(n) + " exceeds the file size (" + std::to_string(file.size()) +
                    " bytes)");
  }
  if (n < 2) fail(label, "header length " + std::to_string(n) + " is too small for a JSON object");
  const std::string_view header(reinterpret_cast<const char*>(file.data()) + 8, static_cast<size_t>(n));
  if (header[0] != '{') fail(label, "header does not start with '{'");
  const std::span<const std::byte> data = file.subspan(8 + static_cast<size_t>(n));

  const JsonValue root = JsonParser(header, label).parse_document();
  if (root.kind != JsonValue::Kind::Object) fail(label, "header is not a JSON object");

  SafetensorsView out;
  for (size_t i = 0; i < root.keys.size(); ++i) {
    const std::string& name = root.keys[i];
    const JsonValue& entry = root.items[i];
    if (name == "__metadata__") {
      if (entry.kind != JsonValue::Kind::Object) fail(label, "__metadata__ must be an object of strings");
      for (size_t m = 0; m < entry.keys.size(); ++m) {
        if (entry.items[m].kind != JsonValue::Kind::String) {
          fail(label, "__metadata__ entry " + json_quoted(entry.keys[m]) + " must be a string, got " +
                          kind_name(entry.items[m].kind));
        }
        out.metadata.emplace(entry.keys[m], entry.items[m].text);
      }
      continue;
    }
    const std::string where = "tensor " + json_quoted(name);
    if (entry.kind != JsonValue::Kind::Object) fail(label, where + ": entry must be an object");
    const JsonValue* dtype = nullptr;
    const JsonValue* shape = nullptr;
    const JsonValue* offsets = nullptr;
    for (size_t k = 0; k < entry.keys.size(); ++k) {
      const std::string& key = entry.keys[k];
      if (key == "dtype") dtype = &entry.items[k];
      else if (key == "shape") shape = &entry.items[k];
      else if (key == "data_offsets") offsets = &entry.items[k];
      else fail(label, where + ": unknown field " + json_quoted(key));
    }
    if (!dtype || !shape || !offsets) fail(label, where + ": needs dtype, shape and data_offsets");
    if (dtype->kind != JsonValue::Kind::String) fail(label, where + ": dtype must be a string");
    TensorView t;
    t.dtype = dtype->text;
    try {
      (void)dtype_size(t.dtype);
    } catch (const std::invalid_argument&) {
      fail(label, where + ": unknown dtype " + json_quoted(t.dtype));
    }
    if (shape->kind != JsonValue::Kind::Array) fail(label, where + ": shape must be an array");
    for (size_t d = 0; d < shape->items.size(); ++d) {
      t.shape.push_back(static_cast<int64_t>(
          json_to_uint(shape->items[d], kInt64Max, label, where + ": shape[" + std::to_string(d) + "]")));
    }
    const uint64_t nbytes = tensor_nbytes(label, name, t.dtype, t.shape);
    if (offsets->kind != JsonValue::Kind::Array || offsets->items.size() != 2) {
      fail(label, where + ": data_offsets must be an array [begin, end]");
    }
    const uint64_t begin = json_to_uint(offsets->items[0], std::numeric_limits<uint64_t>::max(), label,
                                        where + ": data_offsets[0]");
    const uint64_t end = json_to_uint(offsets->items[1], std::numeric_limits<uint64_t>::max(), label,
                                      where + ": data_offsets[1]");
    const std::string range = "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end) fail(label, where + ": data_offsets " + range + " has begin > end");
    if (end > data.size()) {
      fail(label, where + ": data_offsets " + range + " out of range of the data section (" +
                      std::to_string(data.size()) + " bytes)");
    }
    if (end - begin != nbytes) {
      fail(label, where + ": data_offsets " + range + " hold " + std::to_string(end - begin) + " bytes but " +
                      t.dtype + " shape needs " + std::to_string(nbytes));
    }
    t.bytes = data.subspan(static_cast<size_t>(begin), static_cast<size_t>(nbytes));
    out.tensors.emplace(name, std::move(t));  // names are unique: the JSON parser rejects duplicate keys
  }
  return out;
}

SafetensorsContents parse_safetensors(std::span<const std::byte> file, const std::string& label) {
  SafetensorsView view = parse_safetensors_view(file, label);
  SafetensorsContents out;
  out.metadata = std::move(view.metadata);
  for (auto& [name, t] : view.tensors)
    out.tensors.emplace(name, TensorData{std::move(t.dtype), std::move(t.shape), {t.bytes.begin(), t.bytes.end()}});
  return out;
}

namespace {

// Opens `path` for reading; it must be a regular file. Returns the descriptor and its size.
int open_regular_file(const std::string& path, size_t* size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused
  // below as not a regular file (reads of a regular file ignore the flag).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail(path, "cannot stat: " + errno_text(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  *size = static_cast<size_t>(st.st_size);
  return fd;
}

}  // namespace

SafetensorsContents read_safetensors(const std::string& path) {
  size_t size = 0;
  const int fd = open_regular_file(path, &size);
  std::vector<std::byte> buf(size);
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      const int e = r < 0 ? errno : 0;
      ::close(fd);
      fail(path, r < 0 ? "read error: " + errno_text(e) : "file shrank while being read");
    }
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  return parse_safetensors(buf, path);
}

MappedSafetensors::MappedSafetensors(const std::string& path) : path_(path) {
  const int fd = open_regular_file(path, &size_);
  if (size_ > 0) {
    base_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      fail(path, "cannot map into memory: " + errno_text(e));
    }
  } else {
    ::close(fd);
  }
  try {
    view_ = parse_safetensors_view({static_cast<const std::byte*>(base_), size_}, path);
  } catch (...) {
    if (base_) ::munmap(base_, size_);
    throw;
  }
}

MappedSafetensors::~MappedSafetensors() {
  if (base_) ::munmap(base_, size_);
}

const TensorView& MappedSafetensors::tensor(const std::string& name) const {
  auto it = view_.tensors.find(name);
  if (it == view_.tensors.end()) fail(path_, "no tensor named " + json_quoted(name));
  return it->second;
}

namespace {

// One header entry: a tensor's name, dtype and shape, and the bytes it holds
// (or -1 when they are made while writing).
struct HeaderEntry {
  const std::string& name;
  const std::string& dtype;
  const std::vector<int64_t>& shape;
  int64_t have_bytes;
};

// The 8-byte little-endian length and the padded JSON header, after validating
// every entry (entries in name order); the data section follows: the tensors'
// bytes in the same order.
std::string safetensors_header(const std::map<std::string, std::string>& metadata, const std::vector<HeaderEntry>& entries) {
  const std::string label = "serialize_safetensors";
  // One JSON object, written a member at a time: an ordered_json document
  // would find each new key by a linear search (quadratic in the tensors).
  std::string header = "{";
  if (!metadata.empty()) {
    for (const auto& [k, v] : metadata)
      if (!valid_utf8(k) || !valid_utf8(v)) fail(label, "__metadata__ entry " + json_quoted(k) + " is not valid UTF-8");
    header += "\"__metadata__\":" + nlohmann::json(metadata).dump();  // sorted by key, as the map
  }
  uint64_t offset = 0;
  for (const HeaderEntry& t : entries) {
    const std::string& name = t.name;
    if (name == "__metadata__") fail(label, "a tensor cannot be named __metadata__");
    if (!valid_utf8(name)) fail(label, "tensor " + json_quoted(name) + ": name is not valid UTF-8");
    try {
      (void)dtype_size(t.dtype);
    } catch (const std::invalid_argument&) {
      fail(label, "tensor " + json_quoted(name) + ": unknown dtype " + json_quoted(t.dtype));
    }
    const uint64_t nbytes = tensor_nbytes(label, name, t.dtype, t.shape);
    if (t.have_bytes >= 0 && nbytes != uint64_t(t.have_bytes)) {
      fail(label, "tensor " + json_quoted(name) + ": holds " + std::to_string(t.have_bytes) + " bytes but its " + t.dtype +
                      " shape needs " + std::to_string(nbytes));
    }
    const Json entry = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    header += (header.size() > 1 ? "," : "") + dump_compact(Json(name)) + ":" + dump_compact(entry);
    offset += nbytes;
  }
  header += '}';
  while (header.size() % 8 != 0) header += ' ';
  if (header.size() > kMaxSafetensorsHeaderBytes) fail(label, "header exceeds the 100 MB limit");
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) {
    out[size_t(k)] = static_cast<char>(n & 0xff);
    n >>= 8;
  }
  return out + header;
}

std::vector<HeaderEntry> entries_of(const SafetensorsContents& c) {
  std::vector<HeaderEntry> e;
  for (const auto& [name, t] : c.tensors) e.push_back({name, t.dtype, t.shape, int64_t(t.bytes.size())});
  return e;
}

using WriteAll = std::function<void(const void*, size_t)>;

// Writes `head`, then whatever `body` writes, with an AtomicFile (random
// temporary suffix: checkpoint writers may race for one target): whole or not
// at all, the folder fsynced. On any failure (also an exception from `body`)
// the temporary is removed and the error names path; an existing file stays.
void write_atomically(const std::string& path, const std::string& head, const std::function<void(const WriteAll&)>& body) {
  try {
    AtomicFile f(path, AtomicFile::TempName::kRandom);
    f.write(head.data(), head.size());
    body([&](const void* data, size_t n) { f.write(data, n); });
    f.commit();
  } catch (const std::exception& e) {
    const std::string what = e.what();
    const std::string ours = "cannot write " + path + ": ";
    if (what.rfind(path + ": ", 0) == 0) throw;  // already names the file
    fail(path, what.rfind(ours, 0) == 0 ? "cannot write: " + what.substr(ours.size()) : "cannot write: " + what);
  }
}

}  // namespace

std::vector<std::byte> serialize_safetensors(const SafetensorsContents& c) {
  const std::string head = safetensors_header(c.metadata, entries_of(c));
  size_t total = head.size();
  for (const auto& [name, t] : c.tensors) total += t.bytes.size();
  std::vector<std::byte> out;
  out.reserve(total);
  for (char ch : head) out.push_back(static_cast<std::byte>(ch));
  for (const auto& [name, t] : c.tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  return out;
}

void write_safetensors(const std::string& path, const SafetensorsContents& c) {
  // The same bytes as serialize_safetensors, written piece by piece: the
  // header, then each tensor from its own buffer (no copy of the whole file).
  std::string head;
  try {
    head = safetensors_header(c.metadata, entries_of(c));
  } catch (const std::exception& e) {
    fail(path, std::string("cannot write: ") + e.what());
  }
  write_atomically(path, head, [&](const WriteAll& write_all) {
    for (const auto& [name, t] : c.tensors) write_all(t.bytes.data(), t.bytes.size());
  });
}

void write_safetensors(const std::string& path, const std::map<std::string, TensorSource>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<HeaderEntry> entries;
  for (const auto& [name, t] : tensors) entries.push_back({name, t.dtype, t.shape, -1});
  std::string head;
  size_t largest = 0;
  try {
    head = safetensors_header(metadata, entries);
    for (const auto& [name, t] : tensors) largest = std::max<size_t>(largest, tensor_nbytes(path, name, t.dtype, t.shape));
  } catch (const std::exception& e) {
    fail(path, std::string("cannot write: ") + e.what());
  }
  write_atomically(path, head, [&](const WriteAll& write_all) {
    std::vector<std::byte> buf(largest);  // one tensor at a time
    for (const auto& [name, t] : tensors) {
      const size_t n = tensor_nbytes(path, name, t.dtype, t.shape);
      t.fill(std::span<std::byte>(buf.data(), n));
      write_all(buf.data(), n);
    }
  });
}

// ---------------------------------------------------------------------------

namespace {
template <typename T>
void convert(const TensorView& t, std::vector<double>& out) {
  const size_t n = t.bytes.size() / sizeof(T);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, t.bytes.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(v);
  }
}
}  // namespace

std::vector<double> to_f64(const TensorData& t) { return to_f64(TensorView{t.dtype, t.shape, t.bytes}); }

std::vector<double> to_f64(const TensorView& t) {
  const uint64_t need = tensor_nbytes("to_f64", "", t.dtype, t.shape);
  if (need != t.bytes.size()) {
    throw std::invalid_argument("to_f64: tensor holds " + std::to_string(t.bytes.size()) + " bytes but its shape needs " +
                                std::to_string(need));
  }
  std::vector<double> out;
  if (t.dtype == "F64") convert<double>(t, out);
  else if (t.dtype == "F32") convert<float>(t, out);
  else if (t.dtype == "I64") convert<int64_t>(t, out);
  else if (t.dtype == "I32") convert<int32_t>(t, out);
  else if (t.dtype == "U8") convert<uint8_t>(t, out);
  else if (t.dtype == "BOOL") {
    convert<uint8_t>(t, out);
    for (double& v : out) v = v != 0.0 ? 1.0 : 0.0;
  } else {
    throw std::invalid_argument("to_f64: unsupported dtype " + json_quoted(t.dtype));
  }
  return out;
}

namespace {
template <typename T>
TensorData from_vector(const std::vector<T>& v, std::vector<int64_t> shape, const char* dtype) {
  TensorData t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (t.numel() != static_cast<int64_t>(v.size())) {
    throw std::invalid_argument(std::string("from_") + (sizeof(T) == 8 ? "f64" : "f32") + ": " +
                                std::to_string(v.size()) + " values do not match the shape's " +
                                std::to_string(t.numel()) + " elements");
  }
  t.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}
}  // namespace

TensorData from_f64(const std::vector<double>& v, std::vector<int64_t> shape) {
  return from_vector(v, std::move(shape), "F64");
}

TensorData from_f32(const std::vector<float>& v, std::vector<int64_t> shape) {
  return from_vector(v, std::move(shape), "F32");
}

}  // namespace rg::io
