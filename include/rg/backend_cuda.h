// SPDX-License-Identifier: Apache-2.0
// The CUDA backend: cuDNN for convolutions, NVRTC-compiled
// kernels generated from the graph for every other group, one CUDA graph per
// Session (captured on its second run, replayed after).
#pragma once

#include <memory>
#include <string>

#include "rg/compile.h"

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
  // bit-identical resume across processes (docs/contracts.md §5).
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

// Number of usable CUDA devices (0 when the driver or the device is missing).
int cuda_device_count();
// One line: device name, compute capability, cuDNN / NVRTC / runtime versions.
std::string cuda_describe_device(int device = 0);
// The CUDA libraries this build runs, without needing a device:
// "CUDA runtime 13.0, cuDNN 9.13.0, NVRTC 13.0".
std::string cuda_library_versions();

}  // namespace rg
