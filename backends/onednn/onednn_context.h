// SPDX-License-Identifier: Apache-2.0
// What every kernel of a oneDNN backend shares: the engine, the stream, the
// options, and the count of host writes to variables; and the aligned host
// memory its kernels keep across runs.
#pragma once

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>

#include "engine/host_memory.h"
#include "rg/backend_onednn.h"

namespace rg::onednn {

struct Ctx {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  OneDnnOptions opt;
  // Host writes of any variable (write_value): invalidates cached weight reorders.
  uint64_t variable_writes = 0;
};

// Memory aligned as oneDNN likes it, for the kernels' persistent buffers.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(host_allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t) { host_release(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
};

}  // namespace rg::onednn
