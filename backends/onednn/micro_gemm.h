// The register-blocked GEMM micro-kernels of our own convolution kernels
// (winograd_conv.cpp): C[MR x NR] (+)= A[MR x k] B[k x NR]
// with C in registers, 12x32 on AVX-512 and 6x16 on AVX2. Each function is
// compiled for its ISA (target attributes), so the project's baseline flags
// stay x86-64-v3; the caller picks the ISA from oneDNN's effective one.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace rg::onednn {

// Which micro-kernel runs the GEMMs: AVX-512 (12x32 register tile) or AVX2 (6x16).
enum class MicroIsa : uint8_t { avx2, avx512 };

inline int64_t mr_of(MicroIsa isa) {
  return isa == MicroIsa::avx512 ? 12 : 6;
}
inline int64_t nr_of(MicroIsa isa) {
  return isa == MicroIsa::avx512 ? 32 : 16;
}
// For kernel descriptions (inspect, profiles): the ISA and the register tile.
inline const char* micro_isa_name(MicroIsa isa) {
  return isa == MicroIsa::avx512 ? "avx512 12x32" : "avx2 6x16";
}

// Every loop over the MR rows is unrolled explicitly: without it GCC 12
// kept the accumulators of an out-of-line AVX2 instance in memory, one store
// per FMA (1.7x slower).
//
// C[MR x NR] (+)= A[MR x k] * B[k x NR]: B rows ldb floats apart; A rows
// lda apart (A(r, p) = a[r * lda + p]) or, kTransposedA, A stored k-major
// (A(r, p) = a[p * lda + r]: the weight gradient's products, see
// winograd_weight_gradient); C rows ldc apart.
template <int MR, bool kTransposedA>
__attribute__((target("avx512f"))) inline void micro_avx512(int64_t k, const float* a, int64_t lda,
                                                            const float* b, int64_t ldb, float* c,
                                                            int64_t ldc, bool accumulate) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = accumulate ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
    acc[r][1] = accumulate ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b + p * ldb), b1 = _mm512_loadu_ps(b + p * ldb + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(kTransposedA ? a[p * lda + r] : a[r * lda + p]);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_ps(c + r * ldc, acc[r][0]);
    _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
  }
}

template <int MR, bool kTransposedA>
__attribute__((target("avx2,fma"))) inline void micro_avx2(int64_t k, const float* a, int64_t lda,
                                                           const float* b, int64_t ldb, float* c,
                                                           int64_t ldc, bool accumulate) {
  __m256 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = accumulate ? _mm256_loadu_ps(c + r * ldc) : _mm256_setzero_ps();
    acc[r][1] = accumulate ? _mm256_loadu_ps(c + r * ldc + 8) : _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b + p * ldb), b1 = _mm256_loadu_ps(b + p * ldb + 8);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m256 x = _mm256_broadcast_ss(kTransposedA ? a + p * lda + r : a + r * lda + p);
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_ps(c + r * ldc, acc[r][0]);
    _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
  }
}

// One call for `rows` rows (AVX-512: 12, 8 or 4; AVX2: 6, 4 or 2), so a
// caller can cover any multiple of 4 rows without padding.
template <bool kTransposedA>
inline void micro_rows(MicroIsa isa, int64_t rows, int64_t k, const float* a, int64_t lda,
                       const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  if (isa == MicroIsa::avx512) {
    if (rows == 12) return micro_avx512<12, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
    if (rows == 8) return micro_avx512<8, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
    return micro_avx512<4, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
  }
  if (rows == 6) return micro_avx2<6, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
  if (rows == 4) return micro_avx2<4, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
  return micro_avx2<2, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
}

}  // namespace rg::onednn
