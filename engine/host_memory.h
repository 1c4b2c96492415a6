// SPDX-License-Identifier: Apache-2.0
// Host memory for backends that run on the CPU (and the CUDA host emulator):
// one allocation rule (256-byte aligned, size rounded up to it, at least one
// block) and the Backend methods of a device that is the host.
#pragma once

#include <cstddef>

#include "engine/backend.h"

namespace rg {

constexpr size_t kHostAlignment = 256;  // oneDNN's preference; a multiple of the arena's
size_t host_block_bytes(size_t bytes);  // what host_allocate(bytes) really allocates
void* host_allocate(size_t bytes);      // throws std::bad_alloc
void host_release(void* p) noexcept;

// allocate/release/copy_in/copy_out for a backend whose device memory is host memory.
class HostMemoryBackend : public Backend {
 public:
  void* allocate(size_t bytes) override { return host_allocate(bytes); }
  void release(void* p) override { host_release(p); }
  void copy_in(void* device_dst, const void* host_src, size_t bytes) override;
  void copy_out(void* host_dst, const void* device_src, size_t bytes) override;
};

}  // namespace rg
