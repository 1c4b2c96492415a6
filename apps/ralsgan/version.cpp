// SPDX-License-Identifier: Apache-2.0
// The version text (version.h). RALSGAN_GIT_DESCRIBE comes from CMake (the
// top-level CMakeLists.txt runs `git describe` at configure time).
#include "apps/ralsgan/version.h"

#include "rg/config.h"
#if RALSGAN_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif
#if RALSGAN_HAVE_CUDA
#include "rg/backend_cuda.h"
#endif

#ifndef RALSGAN_GIT_DESCRIBE
#define RALSGAN_GIT_DESCRIBE ""
#endif

namespace rg::app {

std::string version_text(const std::string& program) {
  const std::string git = RALSGAN_GIT_DESCRIBE;
  std::string s = program + " " + RG_VERSION + (git.empty() ? "" : " (git " + git + ")") + "\n";
  s += "backend ref: the reference backend (C++, Eigen)\n";
#if RALSGAN_HAVE_ONEDNN
  s += "backend cpu: oneDNN " + onednn_version() + ", " + onednn_cpu_isa() + " on this CPU\n";
#else
  s += "backend cpu: not compiled in (no oneDNN)\n";
#endif
#if RALSGAN_HAVE_CUDA
  s += "backend cuda: " + cuda_library_versions() + "\n";
#else
  s += "backend cuda: not compiled in (no CUDA toolkit at build time)\n";
#endif
  return s;
}

}  // namespace rg::app
