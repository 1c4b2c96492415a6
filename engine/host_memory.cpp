// SPDX-License-Identifier: Apache-2.0
#include "engine/host_memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/memory_planner.h"

namespace rg {

size_t host_block_bytes(size_t bytes) {
  return align_up(std::max<size_t>(bytes, 1), kHostAlignment);
}

void* host_allocate(size_t bytes) {
  void* p = std::aligned_alloc(kHostAlignment, host_block_bytes(bytes));
  if (!p) throw std::bad_alloc();
  return p;
}

void host_release(void* p) noexcept {
  std::free(p);
}

void HostMemoryBackend::copy_in(void* dst, const void* src, size_t bytes) {
  std::memcpy(dst, src, bytes);
}
void HostMemoryBackend::copy_out(void* dst, const void* src, size_t bytes) {
  std::memcpy(dst, src, bytes);
}

}  // namespace rg
