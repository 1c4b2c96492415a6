// SPDX-License-Identifier: Apache-2.0
#include "backends/cuda/cuda_target.h"

#include <cudnn.h>

#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_graph_runner.h"
#include "backends/cuda/cuda_kernel.h"
#include "engine/host_memory.h"

namespace rg::cuda {
namespace {

// One plan on a CUDA backend: plain row-major values, one CudaKernel per group.
class CudaPlan final : public PlanCompiler {
 public:
  CudaPlan(const Graph& g, CudaTarget& target) : PlanCompiler(g, target), target_(target) {}
  std::unique_ptr<Kernel> compile(const FusionGroup& grp) override {
    return std::make_unique<CudaKernel>(target_, g_, grp);
  }
  std::unique_ptr<Runner> make_runner(std::vector<Kernel*> kernels) const override {
    if (!target_.options().cuda_graphs || target_.kind() != CudaTarget::Kind::kDevice)
      return std::make_unique<InOrderRunner>(std::move(kernels));
    return make_graph_runner(target_, std::move(kernels));
  }

 private:
  CudaTarget& target_;
};

}  // namespace

bool CudaTarget::lowers(OpKind op) const {
  return cuda_ops().lowers(op);
}

std::unique_ptr<PlanCompiler> CudaTarget::prepare(const Graph& g, const std::vector<FusionGroup>&,
                                                  const std::vector<char>&) {
  if (g.float_type() != DType::f32 && g.float_type() != DType::f64)
    fail(std::string("graphs of ") + dtype_name(g.float_type()) + " are not supported (f32, f64)");
  return std::make_unique<CudaPlan>(g, *this);
}

CudaDevice::CudaDevice(const CudaOptions& o) : CudaTarget(Kind::kDevice, o) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    fail("no CUDA device");
  }
  if (o.device < 0 || o.device >= n) fail("no CUDA device " + std::to_string(o.device));
  check(cudaSetDevice(o.device), "cudaSetDevice");
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, o.device), "cudaGetDeviceProperties");
  sms_ = p.multiProcessorCount;
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  cudnnHandle_t h;
  const cudnnStatus_t st = cudnnCreate(&h);
  if (st != CUDNN_STATUS_SUCCESS) fail(std::string("cudnnCreate: ") + cudnnGetErrorString(st));
  cudnn_ = h;
  cudnnSetStream(h, stream_);
  tune_ = std::make_unique<TuneScratch>(stream_);
  jit_ = std::make_unique<Jit>(p.major, p.minor, o.cache_dir);
}

CudaDevice::~CudaDevice() {
  cudaStreamSynchronize(stream_);
  tune_.reset();
  cudnnDestroy(static_cast<cudnnHandle_t>(cudnn_));
  jit_.reset();
  cudaStreamDestroy(stream_);
}

void* CudaDevice::allocate(size_t bytes) {
  release_tuning();  // a session allocates its memory: compile is over
  void* p = nullptr;
  check(cudaMalloc(&p, std::max<size_t>(bytes, 256)), "cudaMalloc");
  return p;
}

void CudaDevice::release(void* p) {
  cudaStreamSynchronize(stream_);
  cudaFree(p);
}

void CudaDevice::copy_in(void* dst, const void* src, size_t n) {
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream_), "copy_in");
  check(cudaStreamSynchronize(stream_), "copy_in");
}

void CudaDevice::copy_out(void* dst, const void* src, size_t n) {
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream_), "copy_out");
  check(cudaStreamSynchronize(stream_), "copy_out");
}

void CudaDevice::synchronize() {
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

CudaHostEmulator::CudaHostEmulator(const CudaOptions& o) : CudaTarget(Kind::kHostEmulator, o) {
  opt_.cache_dir = "-";
  sms_ = 4;
  block_ = 8;
  jit_ = std::make_unique<Jit>(true);
}

void* CudaHostEmulator::allocate(size_t bytes) {
  void* h = host_allocate(bytes);
  std::memset(h, 0xff, host_block_bytes(bytes));  // NaN-filled: unwritten reads show
  return h;
}
void CudaHostEmulator::release(void* p) {
  host_release(p);
}
void CudaHostEmulator::copy_in(void* dst, const void* src, size_t n) {
  std::memcpy(dst, src, n);
}
void CudaHostEmulator::copy_out(void* dst, const void* src, size_t n) {
  std::memcpy(dst, src, n);
}

CudaCodegenChecker::CudaCodegenChecker(int cc, int sms, CudaPrecision p)
    : CudaTarget(Kind::kCodegenOnly, {}) {
  sms_ = sms;
  opt_.precision = p;
  opt_.cache_dir = "-";
  jit_ = std::make_unique<Jit>(cc / 10, cc % 10, "-");
}

void* CudaCodegenChecker::allocate(size_t) {
  fail("the code generation checker has no memory");
}
void CudaCodegenChecker::copy_in(void*, const void*, size_t) {
  fail("the code generation checker has no memory");
}
void CudaCodegenChecker::copy_out(void*, const void*, size_t) {
  fail("the code generation checker has no memory");
}

}  // namespace rg::cuda
