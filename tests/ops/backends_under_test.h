// SPDX-License-Identifier: Apache-2.0
// Every backend of this build, for the op harness: the reference backend,
// oneDNN, the CUDA backend's generated kernels on the host emulator, and the
// CUDA backend itself where a GPU is present.
#pragma once

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "rg/backend_ref.h"
#if RALSGAN_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif
#if RALSGAN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace rg::testing_ops {

struct NamedBackend {
  std::string name;
  // What its kernels' describe() starts with.
  std::string prefix;
  std::function<std::unique_ptr<Backend>()> make;
};

inline std::vector<NamedBackend> backends_under_test() {
#if RALSGAN_HAVE_CUDA
  // The host emulator compiles the generated kernels with $CXX: this build's compiler.
  static const bool host_compiler = [] { return setenv("CXX", RG_HOST_CXX, 0) == 0; }();
  (void)host_compiler;
#endif
  std::vector<NamedBackend> r = {{"ref", "ref/", [] { return make_ref_backend(); }}};
#if RALSGAN_HAVE_ONEDNN
  r.push_back({"onednn", "onednn:", [] { return make_onednn_backend({.threads = 2}); }});
#endif
#if RALSGAN_HAVE_CUDA
  r.push_back({"cuda-emulator", "cuda:", [] { return make_cuda_host_emulator(); }});
  if (cuda_device_count() > 0) r.push_back({"cuda", "cuda:", [] { return make_cuda_backend(); }});
#endif
  return r;
}

}  // namespace rg::testing_ops
