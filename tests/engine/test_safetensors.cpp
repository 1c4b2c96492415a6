// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "rg/safetensors.h"

namespace rg::io {
namespace {

namespace fs = std::filesystem;

#ifndef RG_SOURCE_DIR
#define RG_SOURCE_DIR "."
#endif

std::string golden(const std::string& name) { return std::string(RG_SOURCE_DIR) + "/tests/data/golden/" + name; }

// A fresh, empty directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "rg_safetensors_XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(c.size());
  if (!c.empty()) std::memcpy(out.data(), c.data(), c.size());
  return out;
}

TensorData raw(const std::string& dtype, std::vector<int64_t> shape, size_t nbytes, uint8_t seed) {
  TensorData t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  for (size_t i = 0; i < nbytes; ++i) t.bytes.push_back(static_cast<std::byte>((seed + 37 * i) & 0xff));
  return t;
}

// The message of the exception `fn` throws (fails the test if it does not throw).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

// A file from a header string and `data_size` data bytes.
std::vector<std::byte> make_file(const std::string& header, size_t data_size, uint64_t declared = UINT64_MAX) {
  const uint64_t n = declared == UINT64_MAX ? header.size() : declared;
  std::vector<std::byte> f;
  for (int k = 0; k < 8; ++k) f.push_back(static_cast<std::byte>((n >> (8 * k)) & 0xff));
  for (char c : header) f.push_back(static_cast<std::byte>(c));
  f.resize(f.size() + data_size, std::byte{0});
  return f;
}

std::string parse_error(const std::string& header, size_t data_size) {
  const auto f = make_file(header, data_size);
  return error_of([&] { parse_safetensors(f, "corrupt.safetensors"); });
}

TEST(Safetensors, DtypeSizes) {
  EXPECT_EQ(dtype_size("F64"), 8u);
  EXPECT_EQ(dtype_size("BF16"), 2u);
  EXPECT_EQ(dtype_size("BOOL"), 1u);
  EXPECT_THROW(dtype_size("F8"), std::exception);
  EXPECT_THROW(dtype_size("f32"), std::exception);
}

TEST(Safetensors, RoundTrip) {
  SafetensorsContents c;
  c.tensors["w.f64"] = from_f64({1.5, -2.25, 3.0, 1e-300, -0.0, 7.0}, {2, 3});
  c.tensors["scalar"] = from_f32({42.5f}, {});
  c.tensors["empty"] = from_f32({}, {0});
  c.tensors["empty3d"] = raw("U8", {2, 0, 3}, 0, 1);
  c.tensors["i64"] = raw("I64", {4}, 32, 2);
  c.tensors["i32"] = raw("I32", {1, 1, 3}, 12, 3);
  c.tensors["i16"] = raw("I16", {5}, 10, 4);
  c.tensors["i8"] = raw("I8", {3}, 3, 5);
  c.tensors["u8"] = raw("U8", {7}, 7, 6);
  c.tensors["f16"] = raw("F16", {2, 2}, 8, 7);
  c.tensors["bf16"] = raw("BF16", {3}, 6, 8);
  c.tensors["bool"] = TensorData{"BOOL", {3}, {std::byte{1}, std::byte{0}, std::byte{1}}};
  c.tensors["model.0.weight"] = from_f32({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
  c.tensors["odd \"name\"\n\\ ünï"] = from_f64({9.0}, {1});
  c.metadata["step"] = "12";
  c.metadata["quote\"back\\slash"] = "line\nbreak\ttab \x01 ünicode";

  TempDir dir;
  const std::string path = dir.file("rt.safetensors");
  write_safetensors(path, c);
  const SafetensorsContents r = read_safetensors(path);
  ASSERT_EQ(r.tensors.size(), c.tensors.size());
  for (const auto& [name, t] : c.tensors) {
    ASSERT_TRUE(r.tensors.count(name)) << name;
    const TensorData& u = r.tensors.at(name);
    EXPECT_EQ(u.dtype, t.dtype) << name;
    EXPECT_EQ(u.shape, t.shape) << name;
    EXPECT_EQ(u.bytes, t.bytes) << name;
  }
  EXPECT_EQ(r.metadata, c.metadata);
  EXPECT_EQ(r.tensors.at("scalar").numel(), 1);
  EXPECT_EQ(r.tensors.at("empty3d").numel(), 0);
  EXPECT_EQ(to_f64(r.tensors.at("w.f64")), (std::vector<double>{1.5, -2.25, 3.0, 1e-300, -0.0, 7.0}));
  EXPECT_EQ(to_f64(r.tensors.at("scalar")), (std::vector<double>{42.5}));
  EXPECT_EQ(to_f64(r.tensors.at("bool")), (std::vector<double>{1, 0, 1}));
  EXPECT_TRUE(to_f64(r.tensors.at("empty")).empty());
  EXPECT_THROW(to_f64(r.tensors.at("f16")), std::exception);

  // Layout: header length a multiple of 8, data in name order, serialisation
  // is deterministic, and the bytes are exactly what serialize_safetensors gives.
  const auto bytes = read_bytes(path);
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<uint64_t>(bytes[static_cast<size_t>(k)]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes, serialize_safetensors(c));
  EXPECT_EQ(serialize_safetensors(r), bytes);
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  EXPECT_LT(header.find("\"bf16\""), header.find("\"bool\""));
  EXPECT_LT(header.find("\"bool\""), header.find("\"empty\""));
  // No temporary file left behind.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(Safetensors, WriterRejectsInconsistentContents) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  SafetensorsContents c;
  c.tensors["w"] = raw("F32", {3}, 8, 0);
  EXPECT_NE(error_of([&] { write_safetensors(path, c); }).find("'w'"), std::string::npos);
  c.tensors["w"] = raw("F32", {-1}, 0, 0);
  EXPECT_THROW(write_safetensors(path, c), std::runtime_error);
  c.tensors["w"] = raw("X9", {1}, 1, 0);
  EXPECT_THROW(write_safetensors(path, c), std::runtime_error);
  c.tensors.clear();
  c.tensors["__metadata__"] = raw("U8", {1}, 1, 0);
  EXPECT_THROW(write_safetensors(path, c), std::runtime_error);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_THROW(from_f32({1, 2, 3}, {2, 2}), std::exception);
}

// tiny.safetensors is written by the reference `safetensors` package (PyPI
// 0.8.0, numpy API) with tools/golden/make_tiny.py.
TEST(Safetensors, ReadsFileWrittenByPython) {
  const SafetensorsContents c = read_safetensors(golden("tiny.safetensors"));
  ASSERT_EQ(c.tensors.size(), 8u);
  EXPECT_EQ(c.metadata.at("format"), "np");
  EXPECT_EQ(c.metadata.at("note"), "tiny \"golden\" file");
  const auto& a = c.tensors.at("a");
  EXPECT_EQ(a.dtype, "F32");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(to_f64(a), (std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5}));
  EXPECT_EQ(c.tensors.at("b").shape, std::vector<int64_t>{});
  EXPECT_EQ(to_f64(c.tensors.at("b")), std::vector<double>{3.25});
  EXPECT_EQ(c.tensors.at("c").dtype, "I64");
  EXPECT_EQ(to_f64(c.tensors.at("c")), (std::vector<double>{-1, 0, 1099511627776.0}));
  EXPECT_EQ(c.tensors.at("d").shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(to_f64(c.tensors.at("d")), (std::vector<double>{0, 1, 254, 255}));
  EXPECT_EQ(c.tensors.at("e").dtype, "BOOL");
  EXPECT_EQ(to_f64(c.tensors.at("e")), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(c.tensors.at("f").dtype, "I32");
  EXPECT_EQ(c.tensors.at("f").shape, std::vector<int64_t>{0});
  EXPECT_TRUE(c.tensors.at("f").bytes.empty());
  const auto& g = c.tensors.at("g");
  EXPECT_EQ(g.dtype, "F16");
  EXPECT_EQ(g.bytes, (std::vector<std::byte>{std::byte{0x00}, std::byte{0x3c}, std::byte{0x00}, std::byte{0xc0}}));
  EXPECT_EQ(to_f64(c.tensors.at("h.w")), (std::vector<double>{7, -8}));
}

TEST(Safetensors, RejectsCorruptFiles) {
  const std::string L = "corrupt.safetensors";
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos;
  };
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_NO_THROW(parse_safetensors(make_file(ok, 8), L));

  // Truncated header: fewer than 8 bytes, and a header cut short.
  {
    const std::vector<std::byte> f(5, std::byte{0});
    const std::string m = error_of([&] { parse_safetensors(f, L); });
    EXPECT_TRUE(has(m, L)) << m;
    EXPECT_TRUE(has(m, "too short")) << m;
  }
  {
    auto f = make_file(ok, 8);
    f.resize(8 + 20);  // header length says more than what is there
    const std::string m = error_of([&] { parse_safetensors(f, L); });
    EXPECT_TRUE(has(m, L) && has(m, "exceeds the file size")) << m;
  }
  // Header length larger than the file, and beyond the 100 MB limit.
  {
    const auto f = make_file(ok, 8, 1000);
    const std::string m = error_of([&] { parse_safetensors(f, L); });
    EXPECT_TRUE(has(m, L) && has(m, "exceeds the file size")) << m;
  }
  {
    const auto f = make_file(ok, 8, 1ull << 62);
    const std::string m = error_of([&] { parse_safetensors(f, L); });
    EXPECT_TRUE(has(m, L) && has(m, "limit")) << m;
  }
  // Bad JSON, in many ways.
  for (const std::string& bad : std::vector<std::string>{
           R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},})",     // trailing comma
           R"({"w":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}})",     // trailing comma in array
           R"({w:{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",        // unquoted key
           R"({'w':{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",      // single quotes
           R"({"w":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}})",     // leading zero
           R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}x)",     // trailing garbage
           R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})",       // unterminated
           "{\"w\x01\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",  // control char
           R"({"\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",  // lone surrogate
           "{\"\xc3\x28\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",  // bad UTF-8
           R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":tru})",  // bad literal
           R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":"\q"})",  // bad escape
           R"({"w":{"dtype":"F32","shape":[1.],"data_offsets":[0,8]}})",     // bad number
           "[" + std::string(1000, '[') + std::string(1000, ']') + "]",      // nesting depth / not '{'
           "{\"a\":" + std::string(1000, '[') + std::string(1000, ']') + "}",
           "[]", "{}{}", "{", "",
       }) {
    const std::string m = parse_error(bad, 8);
    EXPECT_TRUE(has(m, L)) << bad << " -> " << m;
  }
  // Structurally valid JSON that is not a valid header; the tensor is named.
  struct Case {
    std::string header;
    size_t data;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8, "out of range"},
           {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8, "out of range"},
           {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", 8, "out of range"},
           {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}})", 8, "too large"},
           {R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "needs 12"},
           {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}})", 8, "begin > end"},
           {R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", 8, "negative"},
           {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8, "overflow"},
           {R"({"w":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]}})", 8, "too large"},
           {R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8, "integer"},
           {R"({"w":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}})", 8, "integer"},
           {R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", 8, "shape"},
           {R"({"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8, "unknown dtype"},
           {R"({"w":{"dtype":"F32","shape":[2]}})", 8, "data_offsets"},
           {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8, "data_offsets"},
           {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8, "unknown field"},
           {R"({"w":[1,2]})", 8, "object"},
           {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
            8, "duplicate"},
       }) {
    const std::string m = parse_error(c.header, c.data);
    EXPECT_TRUE(has(m, L)) << c.header << " -> " << m;
    EXPECT_TRUE(has(m, "'w'")) << c.header << " -> " << m;
    EXPECT_TRUE(has(m, c.expect)) << c.header << " -> " << m;
  }
  {
    const std::string m = parse_error(R"({"__metadata__":{"a":1}})", 0);
    EXPECT_TRUE(has(m, L) && has(m, "__metadata__")) << m;
  }
  // Errors from a file name the file.
  TempDir dir;
  const std::string path = dir.file("broken.safetensors");
  {
    const auto f = make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(f.data()),
                                                static_cast<std::streamsize>(f.size()));
  }
  const std::string m = error_of([&] { read_safetensors(path); });
  EXPECT_TRUE(has(m, path) && has(m, "'w'")) << m;
  const std::string missing = dir.file("missing.safetensors");
  EXPECT_TRUE(has(error_of([&] { read_safetensors(missing); }), missing));
  const std::string d = dir.path().string();
  EXPECT_TRUE(has(error_of([&] { read_safetensors(d); }), "not a regular file"));
}

SafetensorsContents sample(float value, size_t n) {
  SafetensorsContents c;
  c.tensors["w"] = from_f32(std::vector<float>(n, value), {static_cast<int64_t>(n)});
  return c;
}

TEST(Safetensors, FailedAtomicWriteKeepsOldFile) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, sample(1.0f, 4));
  const auto before = read_bytes(path);
  auto count_entries = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) {
      (void)e;
      ++n;
    }
    return n;
  };

  // 1. A directory that does not exist.
  const std::string nodir = dir.file("no/such/dir/model.safetensors");
  EXPECT_TRUE(error_of([&] { write_safetensors(nodir, sample(2.0f, 4)); }).find(nodir) != std::string::npos);

  // 2. No temporary file can be created (no file descriptor left: this
  // binds root too, who ignores permissions): the old file is intact.
  {
    struct rlimit old {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit none = old;
    none.rlim_cur = 0;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
    std::string m;
    try {
      write_safetensors(path, sample(2.0f, 4));
    } catch (const std::runtime_error& e) {
      m = e.what();
    }
    ::setrlimit(RLIMIT_NOFILE, &old);
    EXPECT_NE(m.find(path + ": cannot write: cannot create a temporary file beside it"), std::string::npos) << m;
    EXPECT_EQ(read_bytes(path), before);
  }

  // 3. A write that fails half way (file size limit, works for root too): the
  // temporary file is removed and the old file is intact.
  {
    struct rlimit old {};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit small = old;
    small.rlim_cur = 1024;
    auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    std::string m;
    try {
      write_safetensors(path, sample(3.0f, 4096));
    } catch (const std::runtime_error& e) {
      m = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
    EXPECT_NE(m.find(path), std::string::npos) << m;
  }
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(count_entries(), 1);  // no temporary file left behind

  // 4. A successful write replaces the file.
  write_safetensors(path, sample(5.0f, 4));
  EXPECT_EQ(to_f64(read_safetensors(path).tensors.at("w")), (std::vector<double>{5, 5, 5, 5}));
  EXPECT_EQ(count_entries(), 1);
}

// The streaming writer (checkpoints: one tensor in memory at a time) writes
// exactly the bytes of the in-memory writer, and a failing producer leaves the
// old file as it was and no temporary file.
TEST(Safetensors, StreamedWriterGivesTheSameBytesAndKeepsTheOldFileOnFailure) {
  SafetensorsContents c;
  c.tensors["b.weight"] = from_f32({1, 2, 3, 4, 5, 6}, {2, 3});
  c.tensors["a.step"] = raw("I64", {}, 8, 9);
  c.tensors["empty"] = from_f32({}, {0});
  c.tensors["z.f64"] = from_f64({1e-300, -2.5}, {2});
  c.metadata["format"] = "pt";
  std::map<std::string, TensorSource> src;
  int filled = 0;
  for (const auto& [name, t] : c.tensors)
    src[name] = {t.dtype, t.shape, [&t, &filled](std::span<std::byte> out) {
                   ASSERT_EQ(out.size(), t.bytes.size());
                   std::copy(t.bytes.begin(), t.bytes.end(), out.begin());
                   ++filled;
                 }};
  TempDir dir;
  const std::string path = dir.file("streamed.safetensors");
  write_safetensors(path, src, c.metadata);
  EXPECT_EQ(filled, 4);
  EXPECT_EQ(read_bytes(path), serialize_safetensors(c));

  const auto before = read_bytes(path);
  src["c.bad"] = {"F32", {3}, [](std::span<std::byte>) { throw std::runtime_error("the session is gone"); }};
  const std::string m = error_of([&] { write_safetensors(path, src, c.metadata); });
  EXPECT_NE(m.find(path), std::string::npos) << m;
  EXPECT_NE(m.find("the session is gone"), std::string::npos) << m;
  EXPECT_EQ(read_bytes(path), before);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  src["c.bad"] = {"F99", {3}, [](std::span<std::byte>) {}};
  EXPECT_NE(error_of([&] { write_safetensors(path, src, c.metadata); }).find("unknown dtype"), std::string::npos);
}

// The PyTorch golden data for the training-step test (tools/golden/make_step_golden.py).
TEST(Safetensors, StepGoldenLoads) {
  for (const char* name : {"step_f64.safetensors", "step_f32.safetensors"}) {
    const SafetensorsContents c = read_safetensors(golden(name));
    const bool f64 = std::string(name) == "step_f64.safetensors";
    const auto& loss = c.tensors.at("loss_d");
    EXPECT_EQ(loss.dtype, f64 ? "F64" : "F32");
    EXPECT_EQ(loss.shape, std::vector<int64_t>{});
    EXPECT_EQ(c.tensors.at("loss_g").shape, std::vector<int64_t>{});
    const auto& g0 = c.tensors.at("grad.G.model.0.weight");
    EXPECT_EQ(g0.shape, (std::vector<int64_t>{32, 64, 4, 4}));  // ConvTranspose2d(nz 32 -> 64): [in, out, k, k]
    EXPECT_EQ(c.tensors.at("grad.D.model.10.weight").shape, (std::vector<int64_t>{1, 32, 4, 4}));
    EXPECT_EQ(c.tensors.at("x_real").shape, (std::vector<int64_t>{4, 3, 64, 64}));
    EXPECT_EQ(c.tensors.at("z").shape, (std::vector<int64_t>{4, 32}));
    EXPECT_EQ(c.tensors.at("C_r").shape, (std::vector<int64_t>{4}));
    const auto& nbt = c.tensors.at("new.D.model.5.num_batches_tracked");
    EXPECT_EQ(nbt.dtype, "I64");
    EXPECT_EQ(to_f64(nbt), std::vector<double>{3});
    EXPECT_EQ(to_f64(c.tensors.at("new.G.model.1.num_batches_tracked")), std::vector<double>{1});
    const double l = to_f64(loss)[0];
    EXPECT_GT(l, 0.0);
    EXPECT_LT(l, 10.0);
    EXPECT_EQ(c.metadata.at("size"), "64");
  }
}

}  // namespace
}  // namespace rg::io
