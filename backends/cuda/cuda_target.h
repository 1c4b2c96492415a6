// SPDX-License-Identifier: Apache-2.0
// What a CUDA backend's kernels are built for, as three backends that share
// the code generators and the kernels: a GPU (CudaDevice), the host emulator
// that compiles the generated kernels as C++ and runs them on the CPU (tests
// without a GPU), and the code-generation-only checker that compiles them
// with NVRTC for an architecture (cuda_codegen_check).
#pragma once

#include <memory>
#include <string>

#include "backends/cuda/cuda_internal.h"

namespace rg::cuda {

class CudaTarget : public Backend {
 public:
  enum class Kind { kDevice, kHostEmulator, kCodegenOnly };
  std::string name() const override { return "cuda"; }
  // Speed over memory: a GPU step keeps its activations (an H100 has room;
  // each recomputation is one more pass over an activation).
  Recompute default_recompute() const override { return Recompute::kNone; }
  bool lowers(OpKind op) const override;  // the registry (ops/cuda_ops.cpp)
  std::unique_ptr<PlanCompiler> prepare(const Graph& g, const std::vector<FusionGroup>& groups,
                                        const std::vector<char>& on_fallback) override;

  Kind kind() const { return kind_; }
  bool emulate() const { return kind_ == Kind::kHostEmulator; }
  bool dry() const { return kind_ == Kind::kCodegenOnly; }
  Jit& jit() { return *jit_; }
  void* cudnn() const { return cudnn_; }
  TuneScratch* tune() const { return tune_.get(); }
  // Compile is over once a session allocates or binds: free the buffers
  // convolution algorithms were timed in.
  void release_tuning() {
    if (tune_) tune_->release();
  }
  cudaStream_t stream() const { return stream_; }
  int sms() const { return sms_; }
  int block() const { return block_; }  // threads per block of the generated kernels
  const CudaOptions& options() const { return opt_; }

 protected:
  CudaTarget(Kind kind, const CudaOptions& o) : kind_(kind), opt_(o) {}
  Kind kind_;
  CudaOptions opt_;
  int sms_ = 1;
  int block_ = 256;
  cudaStream_t stream_ = nullptr;
  void* cudnn_ = nullptr;
  std::unique_ptr<TuneScratch> tune_;
  std::unique_ptr<Jit> jit_;
};

// A GPU: cudaMalloc'd memory, one stream, cuDNN, NVRTC with a disk cache,
// and a CUDA graph per session (GraphRunner).
class CudaDevice final : public CudaTarget {
 public:
  explicit CudaDevice(const CudaOptions& o);
  ~CudaDevice() override;
  void* allocate(size_t bytes) override;
  void release(void* p) override;
  void copy_in(void* dst, const void* src, size_t n) override;
  void copy_out(void* dst, const void* src, size_t n) override;
  void synchronize() override;
};

// No device: host memory (NaN-filled, so unwritten reads show), the
// generated kernels compiled as C++ and run on the host with 8-thread
// blocks, convolutions by the reference backend's im2col code.
class CudaHostEmulator final : public CudaTarget {
 public:
  explicit CudaHostEmulator(const CudaOptions& o);
  void* allocate(size_t bytes) override;
  void release(void* p) override;
  void copy_in(void* dst, const void* src, size_t n) override;
  void copy_out(void* dst, const void* src, size_t n) override;
};

// No device, no memory: generates every group's code (cuDNN convolutions are
// skipped) and compiles it with NVRTC for sm_<cc>.
class CudaCodegenChecker final : public CudaTarget {
 public:
  CudaCodegenChecker(int cc, int sms, CudaPrecision p);
  void* allocate(size_t) override;
  void release(void*) override {}
  void copy_in(void*, const void*, size_t) override;
  void copy_out(void*, const void*, size_t) override;
};

}  // namespace rg::cuda
