#include "apps/ralsgan/backend_select.h"

#include <stdexcept>

#include "backends/ref/ref_backend.h"
#if RALSGAN_HAVE_ONEDNN
#include "backends/onednn/onednn_backend.h"
#endif
#if RALSGAN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace rg::app {

namespace {
bool cuda_usable() {
#if RALSGAN_HAVE_CUDA
  try {
    return cuda_device_count() > 0;
  } catch (const std::exception&) {
    return false;  // no driver, no device: not an error for `auto`
  }
#else
  return false;
#endif
}
}  // namespace

std::vector<std::string> available_backends() {
  std::vector<std::string> r;
  if (cuda_usable()) r.push_back("cuda");
#if RALSGAN_HAVE_ONEDNN
  r.push_back("cpu");
#endif
  r.push_back("ref");
  return r;
}

void add_backend_flags(Flags& f) {
  f.value("backend", "auto|cuda|cpu|ref",
          "where to run: cuda (GPU), cpu (oneDNN), ref (portable reference); auto picks the first available", "auto");
  f.value("threads", "N", "CPU threads (cpu backend, data loading); 0 = all cores", "0");
}

BackendRequest backend_of(const Flags& f) {
  BackendRequest r;
  r.name = f.str("backend");
  if (r.name != "auto" && r.name != "cuda" && r.name != "cpu" && r.name != "ref")
    throw UsageError("--backend must be auto, cuda, cpu or ref, got '" + r.name + "'");
  r.threads = int(f.integer("threads", 0, 1024));
  return r;
}

SelectedBackend make_backend(const BackendRequest& req) {
  const std::string& n = req.name;
  if (n != "auto" && n != "cuda" && n != "cpu" && n != "ref")
    throw std::invalid_argument("--backend must be auto, cuda, cpu or ref, got '" + n + "'");
  if (n == "cuda" || (n == "auto" && cuda_usable())) {
#if RALSGAN_HAVE_CUDA
    if (!cuda_usable()) throw std::runtime_error("--backend cuda: no usable CUDA GPU on this machine");
    return {make_cuda_backend(), "cuda"};
#else
    throw std::runtime_error("--backend cuda: this build has no CUDA backend (nvcc was not found when it was configured)");
#endif
  }
  if (n == "cpu" || n == "auto") {
#if RALSGAN_HAVE_ONEDNN
    OneDnnOptions o;
    o.threads = req.threads;
    return {make_onednn_backend(o), "cpu"};
#else
    if (n == "cpu") throw std::runtime_error("--backend cpu: this build has no oneDNN backend");
#endif
  }
  return {make_ref_backend(), "ref"};
}

}  // namespace rg::app
