// SPDX-License-Identifier: Apache-2.0
// Internals shared by the CUDA backend's files: error checks, the NVRTC JIT
// with its disk cache, the code generators and the cuDNN convolution wrapper.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "engine/backend.h"
#include "engine/conv_geometry.h"
#include "engine/op_geometry.h"

namespace rg::cuda {

[[noreturn]] void fail(const std::string& what);
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

// --- JIT ----------------------------------------------------------------------
// Kernels are registered while a plan compiles and built together (a few NVRTC
// programs compiled in parallel) the first time a kernel is bound, so a whole
// plan costs a handful of NVRTC calls, or none when the disk cache has them.
class Jit {
 public:
  Jit(int cc_major, int cc_minor, std::string cache_dir);
  // Host emulation (tests without a GPU): kernels are compiled as C++ by the
  // host compiler into a shared library; get_host() returns
  // void(void** args, unsigned grid, unsigned block).
  explicit Jit(bool host);
  using HostFn = void (*)(void**, unsigned, unsigned);
  HostFn get_host(const std::string& name) const;
  int pending() const { return int(pending_.size()); }
  ~Jit();
  // `source` defines one extern "C" __global__ function named `name`.
  // Identical names (the name is a hash of the source) are built once.
  void add(const std::string& name, const std::string& source);
  // Builds every pending kernel. Thread-compatible, not thread-safe. With
  // load = false it only compiles (checks the generated code without a GPU).
  void build(bool load = true);
  cudaKernel_t get(const std::string& name) const;
  const std::string& arch() const { return arch_; }

 private:
  std::string arch_, cache_dir_;
  std::vector<std::pair<std::string, std::string>> pending_;
  std::vector<std::pair<std::string, cudaKernel_t>> kernels_;  // sorted by name after build
  std::vector<cudaLibrary_t> libraries_;
  bool host_ = false;
  std::vector<std::pair<std::string, HostFn>> host_kernels_;  // sorted by name
  std::vector<void*> host_libs_;
  void build_host();
};

uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull);

// The NVRTC cubin cache's entries (found by a 64-bit hash of the source):
// the source is stored in the entry and compared when read, so a hash
// collision or a damaged entry is a miss, never another program's code.
std::string cache_entry(const std::string& source, const std::string& cubin);
// The cubin of the entry at `path` if it holds `source`; false otherwise.
bool read_cache_entry(const std::string& path, const std::string& source, std::string& cubin);
std::string hex64(uint64_t v);

// --- Kernel arguments -----------------------------------------------------------
// A kernel argument: a value's device pointer, a scratch offset or an integer.
struct Arg {
  enum Kind { kValue, kScratch } kind = kValue;
  ValueId value = kNoValue;
  size_t offset = 0;
  static Arg val(ValueId v) { return {kValue, v, 0}; }
  static Arg scratch(size_t off) { return {kScratch, kNoValue, off}; }
};

struct LaunchSpec {
  std::string name, source;
  unsigned grid = 1, block = 1;
  std::vector<Arg> args;
};

// Elementwise kernel: one thread per element of `shape` (grid-stride loop).
struct EwLoad {
  Arg arg;
  std::vector<int64_t> strides;  // per dim of the kernel's shape; 0 where broadcast
  bool full = true;              // linear index (same shape as the kernel)
  std::string type;              // element type; empty: the kernel's float type
  bool scalar = false;           // element 0, loaded once before the loop (prelude may use it)
  bool bf16 = false;             // stored as bf16 words (a bf16 convolution's result), widened to float on load
};
struct EwSpec {
  std::string T;  // "float" or "double"
  Shape shape;
  std::vector<EwLoad> loads;                       // named l0, l1, ... in the body
  std::vector<std::string> prelude;                // statements before the loop
  std::vector<std::string> body;                   // statements per element
  std::vector<std::pair<Arg, std::string>> stores; // out[e] = expression
  int block = 256;                                 // threads per block
};
LaunchSpec make_elementwise(const EwSpec& spec, int sms);

// Two-level deterministic reduction over the dims of `domain` marked reduced:
// pass 1 writes P partial sums per output (a fixed-order tree per block), pass 2
// adds the P partials of each output in order and writes the outputs.
struct RedSpec {
  std::string T;
  Shape domain;
  std::vector<bool> reduced;       // per domain dim
  std::vector<Arg> full_loads;     // x0, x1, ... at the element
  std::vector<Arg> out_loads;      // q0, q1, ... at the output index o
  std::vector<std::string> prelude;  // per output, before the loop (may use q*)
  std::vector<std::string> terms;    // K summands (may use x*, q*, prelude names)
  std::vector<std::string> final_pre;                // in pass 2: a0..a{K-1}, q*
  std::vector<std::pair<Arg, std::string>> outs;     // out[o] = expression
  Arg partials;                                      // scratch, partial_bytes()
  int block = 256;                                   // threads per block (a power of 2)
};
struct RedPlan {
  int64_t outputs = 1, reduce = 1;
  int parts = 1;
  size_t partial_bytes = 0;
};
RedPlan plan_reduction(const RedSpec& spec, int sms);
std::vector<LaunchSpec> make_reduction(const RedSpec& spec, const RedPlan& plan);

std::string literal(double v, const std::string& T);

// A C expression under construction: an arithmetic rule written once as a
// template (graph/state_update_rules.h), run on these, prints its source.
struct CExpr {
  std::string text;
  explicit CExpr(std::string t) : text(std::move(t)) {}
  explicit CExpr(double v) : text(literal(v, "double")) {}
};
inline CExpr operator+(const CExpr& a, const CExpr& b) { return CExpr("(" + a.text + " + " + b.text + ")"); }
inline CExpr operator-(const CExpr& a, const CExpr& b) { return CExpr("(" + a.text + " - " + b.text + ")"); }
inline CExpr operator*(const CExpr& a, const CExpr& b) { return CExpr("(" + a.text + " * " + b.text + ")"); }
inline CExpr operator/(const CExpr& a, const CExpr& b) { return CExpr("(" + a.text + " / " + b.text + ")"); }
inline CExpr operator-(const CExpr& a) { return CExpr("(-" + a.text + ")"); }
inline CExpr sqrt(const CExpr& a) { return CExpr("rg_sqrt(" + a.text + ")"); }

// Gather kernels (pooling, Inception's ops, the classifier's matmul and
// log_softmax), one thread per output element or row, the same arithmetic as
// the reference backend (averages, interpolation and sums in double), over
// the geometry the engine derives (engine/op_geometry.h). NCHW.
LaunchSpec make_pool2d(const PoolGeometry& geo, const std::string& T, Arg in, Arg out, int sms, int block);
// dx of max pooling: each window's dy at its first maximum.
LaunchSpec make_max_pool2d_backward(const PoolGeometry& geo, const std::string& T, Arg dy, Arg x, Arg dx, int sms, int block);
// dx of average pooling: each input element gathers dy / divisor over the windows containing it.
LaunchSpec make_avg_pool2d_backward(const PoolGeometry& geo, const std::string& T, Arg dy, Arg dx, int sms, int block);
LaunchSpec make_matmul(const MatMulGeometry& geo, const std::string& T, Arg a, Arg b, Arg y, int sms, int block);
// log_softmax along the last axis, or its gradient from (dy = in, y).
LaunchSpec make_log_softmax(const RowGeometry& geo, const std::string& T, Arg in, Arg y, Arg out, int sms, int block);
LaunchSpec make_concat(const ConcatGeometry& geo, const std::string& T, const std::vector<Arg>& ins, Arg out, int sms,
                       int block);
// LRN across channels, one thread per element, in double as the reference.
LaunchSpec make_lrn(const LrnGeometry& geo, const std::string& T, Arg in, Arg out, int sms, int block);
// pad and resize_nearest: AxisGather's tables printed next to the kernel.
LaunchSpec make_axis_gather(const AxisGather& geo, const std::string& T, Arg in, Arg out, int sms, int block);
LaunchSpec make_resize_bilinear(const ResizeGeometry& geo, const std::string& T, Arg in, Arg out, int sms, int block);

// n elements f32 -> bf16 (rounded to nearest even) or bf16 -> f32; bf16 is
// stored as raw 16-bit words. CudaPrecision::kBF16 wraps each convolution in these.
LaunchSpec make_bf16_convert(int64_t n, bool to_bf16, Arg in, Arg out, int sms, int block = 256);

// The host side of the same conversions (host emulation of bf16 convolutions).
inline uint16_t bf16_from_float(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return uint16_t((u >> 16) | 0x0040u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float float_from_bf16(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// --- cuDNN convolutions --------------------------------------------------------
// Device buffers for timing convolution algorithms at plan compile: grown on
// demand (zeroed on `stream`), freed by the backend before a session allocates
// the plan's memory.
class TuneScratch {
 public:
  explicit TuneScratch(cudaStream_t s = nullptr) : stream_(s) {}
  ~TuneScratch() { release(); }
  TuneScratch(const TuneScratch&) = delete;
  TuneScratch& operator=(const TuneScratch&) = delete;
  // Buffer i (0..3) of at least `bytes`; null when the allocation fails.
  void* get(int i, size_t bytes);
  void release();

 private:
  cudaStream_t stream_;
  void* p_[4] = {};
  size_t n_[4] = {};
};

class ConvOp {
 public:
  // op: kConv2d (a=x, b=w -> y), kConvTranspose2d (a=dy, b=w -> dx),
  // kConv2dBackwardWeight (a=x, b=dy -> dw). `tune`: scratch for timing the
  // candidate algorithms (CudaOptions::conv_autotune); null: heuristics only.
  ConvOp(void* cudnn_handle, OpKind op, const ConvGeometry& g, DType t, const CudaOptions& opt, TuneScratch* tune = nullptr);
  ~ConvOp();
  size_t workspace_bytes() const { return ws_; }
  std::string describe() const { return desc_; }
  void run(const void* a, const void* b, void* out, void* workspace) const;

 private:
  void* h_;
  OpKind op_;
  DType t_;
  void *x_ = nullptr, *y_ = nullptr, *w_ = nullptr, *conv_ = nullptr;
  int algo_ = 0;
  size_t ws_ = 0;
  std::string desc_;
};

}  // namespace rg::cuda
