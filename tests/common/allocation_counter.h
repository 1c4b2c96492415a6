// SPDX-License-Identifier: Apache-2.0
// Counts every heap allocation a test binary makes while `counting` is set,
// and the largest request: operator new and the C allocator (where Eigen,
// oneDNN or OpenMP would allocate). Sanitizer builds own malloc and operator
// new, so there the sanitizer's allocation hooks count instead.
//
// Replaces the global allocation functions: include it in exactly one
// translation unit of a test executable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

// The replacements pair operator new/delete with malloc/free on purpose; GCC
// cannot see that the pair is consistent and warns at inlined call sites.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace rg::testing_alloc {
inline std::atomic<bool> counting{false};
inline std::atomic<long> allocations{0};
inline std::atomic<size_t> largest{0};
inline void note(size_t n) {
  if (!counting) return;
  ++allocations;
  size_t cur = largest.load();
  while (n > cur && !largest.compare_exchange_weak(cur, n)) {
  }
}
}  // namespace rg::testing_alloc

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*)(const volatile void*, size_t),
                                                         void (*)(const volatile void*));
namespace rg::testing_alloc {
inline void on_malloc(const volatile void*, size_t n) { note(n); }
inline void on_free(const volatile void*) {}
[[maybe_unused]] inline const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}  // namespace rg::testing_alloc
#else
void* operator new(size_t n) {
  rg::testing_alloc::note(n);
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  rg::testing_alloc::note(n);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
void* malloc(size_t n) {
  rg::testing_alloc::note(n);
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  rg::testing_alloc::note(a * b);
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  rg::testing_alloc::note(n);
  return __libc_realloc(p, n);
}
void* aligned_alloc(size_t a, size_t n) {
  rg::testing_alloc::note(n);
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  rg::testing_alloc::note(n);
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12;
}
void free(void* p) { __libc_free(p); }
}
#endif
