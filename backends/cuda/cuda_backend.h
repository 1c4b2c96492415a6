// The CUDA backend: cuDNN for convolutions, NVRTC-compiled
// kernels generated from the graph for every other group, one CUDA graph per
// plan run (captured on the second run, replayed after).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace rg {

enum class CudaPrecision {
  // Strict IEEE f32 everywhere (cuDNN CUDNN_FMA_MATH: no TF32). The default here.
  kF32,
  // TF32 tensor cores for convolutions (CUDNN_TENSOR_OP_MATH), f32 storage and
  // everything else in f32. This is what PyTorch does by default for cuDNN
  // convolutions (torch.backends.cudnn.allow_tf32 = True).
  kTF32,
  // bf16 convolutions: each convolution's operands are rounded to bf16 (nearest
  // even), cuDNN multiplies on bf16 tensor cores accumulating in f32, and its
  // bf16 result is widened back to f32. Weights, Adam moments, BatchNorm, the
  // activations between layers and the loss stay f32 (f32 master weights). The
  // convolutions round as under torch.autocast(device_type="cuda",
  // dtype=torch.bfloat16); autocast also keeps activations in bf16 between
  // layers, which this does not (more memory traffic, less rounding).
  kBF16,
};

// "f32", "tf32" or "bf16".
const char* cuda_precision_name(CudaPrecision p);
// Parses those names; false for anything else.
bool parse_cuda_precision(const std::string& s, CudaPrecision& out);

struct CudaOptions {
  int device = 0;
  CudaPrecision precision = CudaPrecision::kF32;
  // Only cuDNN algorithms that cuDNN reports as deterministic (repeat runs are
  // bit-identical). Off: any algorithm.
  bool deterministic = true;
  // Convolution algorithm choice at plan compile. On: every candidate that fits
  // the options above is timed once (cudnnFind*AlgorithmEx on scratch buffers)
  // and the fastest is kept for the plan's life (shown by describe(); runs of the
  // plan stay bit-reproducible, but two compiles may choose differently when two
  // algorithms time alike). Off, or when timing fails: cuDNN's heuristic ranking
  // (cudnnGet*Algorithm_v7), nothing timed. Off by default: a choice that can
  // differ between processes would break byte-identical generation and
  // bit-identical resume across processes (docs/contracts.md §5, issue 5).
  bool conv_autotune = false;
  // Capture the plan into a CUDA graph on its second run and replay it after.
  bool cuda_graphs = true;
  // Largest cuDNN workspace one convolution may take from the arena.
  size_t max_workspace_bytes = size_t(1) << 30;
  // NVRTC cubin cache; empty: $RALSGAN_NVRTC_CACHE, else $XDG_CACHE_HOME/ralsgan/nvrtc,
  // else ~/.cache/ralsgan/nvrtc. "-" disables the disk cache.
  std::string cache_dir;
};

// Throws std::runtime_error when no CUDA device is usable.
std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options = {});

// Host <-> device transfers that overlap a CUDA backend's plan runs (a generator
// with two batches in flight: two plans, one computing while the other's images
// go down). Uploads are queued on the backend's stream (ordered before the next
// run); downloads on a second stream, after the work queued on the backend's
// stream so far; page-locked (pinned) host memory makes both asynchronous.
// Buffers are plain row-major (the CUDA backend's layout for every value); use
// Session::device_ptr for the device side. With the host emulator every call is
// a plain synchronous memcpy / no-op, so the same pipeline runs in tests.
class CudaTransfers {
 public:
  // `backend` must come from make_cuda_backend or make_cuda_host_emulator.
  explicit CudaTransfers(Backend& backend);
  ~CudaTransfers();
  CudaTransfers(const CudaTransfers&) = delete;
  CudaTransfers& operator=(const CudaTransfers&) = delete;
  // Pinned host memory, freed with this object.
  void* pinned(size_t bytes);
  // host -> device on the backend's stream.
  void upload(void* device, const void* host, size_t bytes);
  // device -> host for `slot` (0, 1, ...) on the copy stream, after everything
  // queued on the backend's stream so far.
  void download(int slot, void* host, const void* device, size_t bytes);
  // The backend's stream waits (no host sync) until slot's download has read
  // its device buffer, so the next run may overwrite it.
  void device_wait(int slot);
  // The host waits until slot's download is in host memory.
  void host_wait(int slot);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Number of usable CUDA devices (0 when the driver or the device is missing).
int cuda_device_count();
// One line: device name, compute capability, cuDNN / NVRTC / runtime versions.
std::string cuda_describe_device(int device = 0);

// Testing aid that needs no GPU: the CUDA backend with its generated kernels
// compiled as C++ by the host compiler ($CXX or c++) and run on the host
// (serially, or one thread per CUDA thread for kernels with barriers, with
// 8-thread blocks), convolutions by the reference backend's im2col code, memory
// on the host, no CUDA graphs. Checks the code generators' semantics.
// options.precision picks the convolution precision (kBF16 rounds as the GPU
// does; kTF32 runs as kF32: the host has no TF32); the rest is ignored.
std::unique_ptr<Backend> make_cuda_host_emulator(const CudaOptions& options = {});

// Testing aid that needs no GPU: generates the code of every group (cuDNN
// convolutions are skipped) and compiles it with NVRTC for sm_<cc>. Returns the
// number of distinct kernels; throws with the NVRTC log on a compile error.
int cuda_codegen_check(const Graph& g, const std::vector<FusionGroup>& groups, int cc = 90,
                       CudaPrecision precision = CudaPrecision::kF32);

}  // namespace rg
