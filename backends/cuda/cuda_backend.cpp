// SPDX-License-Identifier: Apache-2.0
// The CUDA backend's factories and what the app's generation pipeline uses
// beside the engine (CudaTransfers); the backends themselves are in
// cuda_target.h, their kernels in cuda_kernel.h, the op families in ops/.
#include <cudnn.h>
#include <nvrtc.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "backends/cuda/cuda_target.h"
#include "engine/host_memory.h"

namespace rg {

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options) {
  return std::make_unique<cuda::CudaDevice>(options);
}

std::unique_ptr<Backend> make_cuda_host_emulator(const CudaOptions& options) {
  return std::make_unique<cuda::CudaHostEmulator>(options);
}

struct CudaTransfers::Impl {
  cuda::CudaTarget* be = nullptr;
  bool emulate = false;
  cudaStream_t copy = nullptr;
  std::vector<cudaEvent_t> queued,
      done;  // per slot: backend stream reached the download; download finished
  std::vector<std::pair<void*, bool>> host;  // (pointer, pinned by CUDA)
  void slot(int s) {
    if (s < 0) cuda::fail("CudaTransfers: negative slot");
    while (int(done.size()) <= s) {
      cudaEvent_t a, b;
      cuda::check(cudaEventCreateWithFlags(&a, cudaEventDisableTiming), "cudaEventCreate");
      cuda::check(cudaEventCreateWithFlags(&b, cudaEventDisableTiming), "cudaEventCreate");
      queued.push_back(a);
      done.push_back(b);
    }
  }
};

CudaTransfers::CudaTransfers(Backend& backend) : impl_(std::make_unique<Impl>()) {
  impl_->be = dynamic_cast<cuda::CudaTarget*>(&backend);
  if (!impl_->be || impl_->be->dry())
    cuda::fail("CudaTransfers: not a CUDA backend (" + backend.name() + ")");
  impl_->emulate = impl_->be->emulate();
  if (!impl_->emulate)
    cuda::check(cudaStreamCreateWithFlags(&impl_->copy, cudaStreamNonBlocking),
                "cudaStreamCreate (copies)");
}

CudaTransfers::~CudaTransfers() {
  Impl& m = *impl_;
  if (m.copy) cudaStreamSynchronize(m.copy);
  for (cudaEvent_t e : m.queued) cudaEventDestroy(e);
  for (cudaEvent_t e : m.done) cudaEventDestroy(e);
  for (auto& [p, pinned] : m.host) pinned ? void(cudaFreeHost(p)) : host_release(p);
  if (m.copy) cudaStreamDestroy(m.copy);
}

void* CudaTransfers::pinned(size_t bytes) {
  bytes = std::max<size_t>(bytes, 256);
  void* p = nullptr;
  if (impl_->emulate) {
    p = host_allocate(bytes);
    impl_->host.push_back({p, false});
    return p;
  }
  cuda::check(cudaHostAlloc(&p, bytes, cudaHostAllocDefault), "cudaHostAlloc");
  impl_->host.push_back({p, true});
  return p;
}

void CudaTransfers::upload(void* device, const void* host, size_t bytes) {
  if (impl_->emulate) return void(std::memcpy(device, host, bytes));
  cuda::check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, impl_->be->stream()),
              "upload");
}

void CudaTransfers::download(int slot, void* host, const void* device, size_t bytes) {
  Impl& m = *impl_;
  if (m.emulate) return void(std::memcpy(host, device, bytes));
  m.slot(slot);
  cuda::check(cudaEventRecord(m.queued[size_t(slot)], m.be->stream()), "cudaEventRecord");
  cuda::check(cudaStreamWaitEvent(m.copy, m.queued[size_t(slot)], 0), "cudaStreamWaitEvent");
  cuda::check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, m.copy), "download");
  cuda::check(cudaEventRecord(m.done[size_t(slot)], m.copy), "cudaEventRecord");
}

void CudaTransfers::device_wait(int slot) {
  Impl& m = *impl_;
  if (m.emulate) return;
  m.slot(slot);
  cuda::check(cudaStreamWaitEvent(m.be->stream(), m.done[size_t(slot)], 0), "cudaStreamWaitEvent");
}

void CudaTransfers::host_wait(int slot) {
  Impl& m = *impl_;
  if (m.emulate) return;
  m.slot(slot);
  cuda::check(cudaEventSynchronize(m.done[size_t(slot)]), "cudaEventSynchronize");
}

int cuda_codegen_check(const Graph& g, const std::vector<FusionGroup>& groups, int cc,
                       CudaPrecision precision) {
  cuda::CudaCodegenChecker be(cc, 132, precision);
  std::vector<char> on_fallback(groups.size(), 0);
  std::unique_ptr<PlanCompiler> plan = be.prepare(g, groups, on_fallback);
  std::vector<std::unique_ptr<Kernel>> kernels;
  for (const FusionGroup& grp : groups) kernels.push_back(plan->compile(grp));
  const int n = be.jit().pending();
  be.jit().build(false);
  return n;
}

const char* cuda_precision_name(CudaPrecision p) {
  switch (p) {
    case CudaPrecision::kF32:
      return "f32";
    case CudaPrecision::kTF32:
      return "tf32";
    case CudaPrecision::kBF16:
      return "bf16";
  }
  return "?";
}

bool parse_cuda_precision(const std::string& s, CudaPrecision& out) {
  for (CudaPrecision p : {CudaPrecision::kF32, CudaPrecision::kTF32, CudaPrecision::kBF16})
    if (s == cuda_precision_name(p)) return out = p, true;
  return false;
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string cuda_library_versions() {
  int rt = 0, nv_major = 0, nv_minor = 0;
  cudaRuntimeGetVersion(&rt);
  nvrtcVersion(&nv_major, &nv_minor);
  const size_t dnn = cudnnGetVersion();
  std::ostringstream o;
  o << "CUDA runtime " << rt / 1000 << "." << (rt % 1000) / 10 << ", cuDNN " << dnn / 10000 << "."
    << (dnn % 10000) / 100 << "." << dnn % 100 << ", NVRTC " << nv_major << "." << nv_minor;
  return o.str();
}

std::string cuda_describe_device(int device) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return "no CUDA device";
  int rt = 0, drv = 0, nv_major = 0, nv_minor = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  nvrtcVersion(&nv_major, &nv_minor);
  std::ostringstream o;
  o << p.name << " sm_" << p.major << p.minor << " " << p.multiProcessorCount << " SMs, runtime "
    << rt << ", driver " << drv << ", cuDNN " << cudnnGetVersion() << ", NVRTC " << nv_major << "."
    << nv_minor;
  return o.str();
}

}  // namespace rg
