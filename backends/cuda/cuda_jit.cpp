// SPDX-License-Identifier: Apache-2.0
// NVRTC: generated CUDA C++ -> cubin for the card's arch, cached on disk by a
// hash of the program source, the arch and the NVRTC version; loaded with the
// runtime's library API (cudaLibraryLoadData), so no libcuda link is needed.
#include <nvrtc.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <dlfcn.h>
#include <unistd.h>

#include "backends/cuda/cuda_internal.h"
#include "engine/io/atomic_file.h"

namespace rg::cuda {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("cuda backend: " + what); }

uint64_t fnv1a(const std::string& s, uint64_t h) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex64(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

namespace {

// Helpers every generated kernel may use; NVRTC needs no headers for these.
const char* kPrelude = R"(
typedef long long i64;
__device__ __forceinline__ float rg_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double rg_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float rg_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double rg_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float rg_exp(float x) { return expf(x); }
__device__ __forceinline__ double rg_exp(double x) { return exp(x); }
// bf16 storage as raw 16-bit words (no cuda_bf16.h: NVRTC and the host
// emulator compile the same text). f32 -> bf16 rounds to nearest even, as
// PyTorch's and cuDNN's conversions do; a NaN stays a (quiet) NaN.
__device__ __forceinline__ unsigned short rg_f2bf(float x) {
  const unsigned u = __float_as_uint(x);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (unsigned short)((u >> 16) | 0x0040u);
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
__device__ __forceinline__ float rg_bf2f(unsigned short b) { return __uint_as_float((unsigned)b << 16); }
)";

std::string default_cache_dir() {
  if (const char* e = std::getenv("RALSGAN_NVRTC_CACHE"); e && *e) return e;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/ralsgan/nvrtc";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/ralsgan/nvrtc";
  return {};
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return !out.empty();
}

// The cache is an optimisation: an unwritable one is skipped, not an error.
void write_file_atomic(const std::string& path, const std::string& data) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  try {
    io::write_file_atomic(path, data);
  } catch (const std::runtime_error&) {
  }
}

// Compile one program; returns the cubin or an error message.
bool nvrtc_compile(const std::string& src, const std::string& arch, std::string& cubin, std::string& err) {
  nvrtcProgram prog;
  if (nvrtcCreateProgram(&prog, src.c_str(), "rg_kernels.cu", 0, nullptr, nullptr) != NVRTC_SUCCESS) {
    err = "nvrtcCreateProgram failed";
    return false;
  }
  const std::string arch_opt = "--gpu-architecture=" + arch;
  const char* opts[] = {arch_opt.c_str(), "--std=c++17", "-default-device", "--extra-device-vectorization"};
  const nvrtcResult r = nvrtcCompileProgram(prog, 4, opts);
  if (r != NVRTC_SUCCESS) {
    size_t n = 0;
    nvrtcGetProgramLogSize(prog, &n);
    std::string log(n, '\0');
    if (n) nvrtcGetProgramLog(prog, log.data());
    err = std::string(nvrtcGetErrorString(r)) + "\n" + log;
    nvrtcDestroyProgram(&prog);
    return false;
  }
  size_t n = 0;
  nvrtcGetCUBINSize(prog, &n);
  cubin.assign(n, '\0');
  nvrtcGetCUBIN(prog, cubin.data());
  nvrtcDestroyProgram(&prog);
  return true;
}

}  // namespace

// A cubin cache entry: "RGCUBIN2", the source's length (8 bytes,
// little-endian), the source, the cubin. Entries are found by a 64-bit hash
// of the source; the source kept in the entry is compared, so a collision (or
// a damaged entry) is a miss, never another program's code.
std::string cache_entry(const std::string& source, const std::string& cubin) {
  std::string e = "RGCUBIN2";
  uint64_t n = source.size();
  for (int k = 0; k < 8; ++k) e += char(uint8_t(n >> (8 * k)));
  return e + source + cubin;
}

bool read_cache_entry(const std::string& path, const std::string& source, std::string& cubin) {
  std::string e;
  if (!read_file(path, e) || e.size() < 16 || e.compare(0, 8, "RGCUBIN2") != 0) return false;
  uint64_t n = 0;
  for (int k = 0; k < 8; ++k) n |= uint64_t(uint8_t(e[size_t(8 + k)])) << (8 * k);
  if (n != source.size() || e.size() - 16 < n || e.compare(16, n, source) != 0) return false;
  cubin = e.substr(16 + n);
  return !cubin.empty();
}


Jit::Jit(int major, int minor, std::string cache_dir) {
  // NVRTC may be older than the card: fall back to the newest arch it knows.
  int num = 0;
  nvrtcGetNumSupportedArchs(&num);
  std::vector<int> archs(size_t(std::max(num, 0)));
  if (num > 0) nvrtcGetSupportedArchs(archs.data());
  int want = major * 10 + minor, use = want;
  if (!archs.empty() && std::find(archs.begin(), archs.end(), want) == archs.end()) {
    use = 0;
    for (int a : archs)
      if (a <= want) use = std::max(use, a);
    if (!use) fail("NVRTC supports no arch at or below sm_" + std::to_string(want));
  }
  arch_ = "sm_" + std::to_string(use);
  cache_dir_ = cache_dir.empty() ? default_cache_dir() : cache_dir == "-" ? std::string() : cache_dir;
}

Jit::Jit(bool host) : arch_("host"), host_(host) {}

Jit::~Jit() {
  for (cudaLibrary_t l : libraries_) cudaLibraryUnload(l);
  for (void* h : host_libs_) dlclose(h);
}

namespace {

// Makes generated CUDA C++ plain C++: one OS thread per CUDA thread of a block
// when the kernel has barriers (std::barrier), else a serial loop.
const char* kHostShim = R"(
#include <barrier>
#include <cmath>
#include <cstring>
#include <math.h>
#include <functional>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __restrict__ __restrict
#define __shared__ static
struct rg_dim { unsigned x = 0; };
static thread_local rg_dim threadIdx, blockIdx;
static rg_dim gridDim;
static std::barrier<>* rg_bar = nullptr;
static inline void __syncthreads() { rg_bar->arrive_and_wait(); }
typedef long long i64;
static inline i64 min(i64 a, i64 b) { return a < b ? a : b; }
using std::fmax;
using std::fmin;
static inline unsigned __float_as_uint(float x) { unsigned u; std::memcpy(&u, &x, 4); return u; }
static inline float __uint_as_float(unsigned u) { float x; std::memcpy(&x, &u, 4); return x; }
using std::pow;
static void rg_run(unsigned grid, unsigned block, bool sync, const std::function<void()>& body) {
  gridDim.x = grid;
  if (!sync) {
    for (unsigned b = 0; b < grid; ++b)
      for (unsigned t = 0; t < block; ++t) { blockIdx.x = b; threadIdx.x = t; body(); }
    return;
  }
  std::barrier<> bar(block);
  rg_bar = &bar;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < block; ++t)
    ts.emplace_back([&, t] {
      threadIdx.x = t;
      for (unsigned b = 0; b < grid; ++b) { blockIdx.x = b; body(); bar.arrive_and_wait(); }
    });
  for (auto& th : ts) th.join();
}
)";

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \n"), b = s.find_last_not_of(" \n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// `extern "C" void NAME__emu(void** a, unsigned grid, unsigned block)` calling NAME.
std::string host_wrapper(const std::string& name, const std::string& src) {
  const size_t open = src.find(name + "(");
  if (open == std::string::npos) fail("host JIT: no signature for " + name);
  const size_t from = open + name.size() + 1, close = src.find(')', from);
  std::vector<std::string> types;
  std::string params = src.substr(from, close - from);
  for (size_t p = 0; p <= params.size();) {
    size_t q = params.find(',', p);
    if (q == std::string::npos) q = params.size();
    const std::string prm = trim(params.substr(p, q - p));
    if (!prm.empty()) types.push_back(prm.substr(0, prm.find_last_of(' ')));
    p = q + 1;
  }
  const bool sync = src.find("__syncthreads") != std::string::npos;
  std::string w = "extern \"C\" void " + name + "__emu(void** a, unsigned grid, unsigned block) {\n  rg_run(grid, block, " +
                  (sync ? "true" : "false") + ", [&] { " + name + "(";
  for (size_t i = 0; i < types.size(); ++i) w += (i ? ", " : "") + std::string("*(") + types[i] + "*)a[" + std::to_string(i) + "]";
  return w + "); });\n}\n";
}

}  // namespace

void Jit::build_host() {
  std::string src = std::string(kHostShim) + kPrelude;
  for (const auto& [n, s] : pending_) src += s;
  for (const auto& [n, s] : pending_) src += host_wrapper(n, s);
  char dir[] = "/tmp/rg_hostjit_XXXXXX";
  if (!mkdtemp(dir)) fail("host JIT: mkdtemp failed");
  const std::string cpp = std::string(dir) + "/k.cpp", so = std::string(dir) + "/k.so";
  {
    std::ofstream f(cpp);
    f << src;
  }
  const char* cxx = std::getenv("CXX");
  const std::string cmd = std::string(cxx && *cxx ? cxx : "c++") + " -std=c++20 -O1 -w -shared -fPIC -pthread -o " + so + " " + cpp +
                          " > " + std::string(dir) + "/log.txt 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::string log;
    read_file(std::string(dir) + "/log.txt", log);
    fail("host JIT: " + cmd + " failed:\n" + log.substr(0, 4000));
  }
  void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) fail(std::string("host JIT: dlopen: ") + dlerror());
  host_libs_.push_back(h);
  for (const auto& [n, s] : pending_) {
    void* f = dlsym(h, (n + "__emu").c_str());
    if (!f) fail("host JIT: no symbol " + n);
    host_kernels_.push_back({n, reinterpret_cast<HostFn>(f)});
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  pending_.clear();
  std::sort(host_kernels_.begin(), host_kernels_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

Jit::HostFn Jit::get_host(const std::string& name) const {
  auto it = std::lower_bound(host_kernels_.begin(), host_kernels_.end(), name,
                             [](const auto& a, const std::string& n) { return a.first < n; });
  if (it == host_kernels_.end() || it->first != name) fail("kernel " + name + " was not built");
  return it->second;
}

void Jit::add(const std::string& name, const std::string& source) {
  for (const auto& [n, f] : kernels_)
    if (n == name) return;
  for (const auto& [n, f] : host_kernels_)
    if (n == name) return;
  for (const auto& [n, s] : pending_)
    if (n == name) return;
  pending_.push_back({name, source});
}

void Jit::build(bool load) {
  if (pending_.empty()) return;
  if (host_) return build_host();
  // Deterministic chunks (sorted by name), compiled in parallel.
  std::sort(pending_.begin(), pending_.end());
  const size_t per_chunk = 24;
  const size_t chunks = (pending_.size() + per_chunk - 1) / per_chunk;
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  std::vector<std::string> src(chunks), cubin(chunks), err(chunks), path(chunks);
  std::vector<char> ok(chunks, 0), from_cache(chunks, 0);
  for (size_t c = 0; c < chunks; ++c) {
    src[c] = kPrelude;
    for (size_t i = c * per_chunk; i < std::min(pending_.size(), (c + 1) * per_chunk); ++i) src[c] += pending_[i].second;
    const uint64_t key = fnv1a(src[c] + "|" + arch_ + "|nvrtc " + std::to_string(major) + "." + std::to_string(minor));
    if (!cache_dir_.empty()) path[c] = cache_dir_ + "/" + hex64(key) + "_" + arch_ + ".cubin";
  }
  if (const char* dump = std::getenv("RALSGAN_NVRTC_DUMP"); dump && *dump)  // debugging aid
    for (size_t c = 0; c < chunks; ++c) write_file_atomic(std::string(dump) + "/" + hex64(fnv1a(src[c])) + ".cu", src[c]);
  auto work = [&](size_t c) {
    if (!path[c].empty() && read_cache_entry(path[c], src[c], cubin[c])) {
      ok[c] = 1;
      from_cache[c] = 1;
      return;
    }
    ok[c] = nvrtc_compile(src[c], arch_, cubin[c], err[c]);
    if (ok[c] && !path[c].empty()) write_file_atomic(path[c], cache_entry(src[c], cubin[c]));
  };
  const size_t threads = std::min<size_t>(chunks, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  std::atomic<size_t> next{0};
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t c; (c = next++) < chunks;) work(c);
    });
  for (auto& t : pool) t.join();
  for (size_t c = 0; c < chunks; ++c) {
    if (!ok[c]) {
      std::string listing;
      std::istringstream in(src[c]);
      std::string line;
      for (int i = 1; std::getline(in, line); ++i) listing += std::to_string(i) + ": " + line + "\n";
      fail("NVRTC failed for " + arch_ + ": " + err[c] + "\nsource:\n" + listing);
    }
    if (!load) continue;
    cudaLibrary_t lib = nullptr;
    cudaError_t e = cudaLibraryLoadData(&lib, cubin[c].data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
    if (e != cudaSuccess && from_cache[c]) {  // a stale or damaged cache entry: rebuild once
      std::string msg;
      if (!nvrtc_compile(src[c], arch_, cubin[c], msg)) fail("NVRTC failed: " + msg);
      if (!path[c].empty()) write_file_atomic(path[c], cache_entry(src[c], cubin[c]));
      e = cudaLibraryLoadData(&lib, cubin[c].data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
    }
    check(e, "cudaLibraryLoadData");
    libraries_.push_back(lib);
    for (size_t i = c * per_chunk; i < std::min(pending_.size(), (c + 1) * per_chunk); ++i) {
      cudaKernel_t k = nullptr;
      check(cudaLibraryGetKernel(&k, lib, pending_[i].first.c_str()), "cudaLibraryGetKernel");
      kernels_.push_back({pending_[i].first, k});
    }
  }
  pending_.clear();
  std::sort(kernels_.begin(), kernels_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

cudaKernel_t Jit::get(const std::string& name) const {
  auto it = std::lower_bound(kernels_.begin(), kernels_.end(), name,
                             [](const auto& a, const std::string& n) { return a.first < n; });
  if (it == kernels_.end() || it->first != name) fail("kernel " + name + " was not built");
  return it->second;
}

}  // namespace rg::cuda
