// SPDX-License-Identifier: Apache-2.0
// The factory and its options are public: rg/backend_cuda.h (docs/library.md).
// What follows is for the app's generation pipeline and for tests.
#pragma once

#include <memory>
#include <vector>

#include "engine/backend.h"
#include "rg/backend_cuda.h"

namespace rg {

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
