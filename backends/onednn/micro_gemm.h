// SPDX-License-Identifier: Apache-2.0
// The register-blocked GEMM micro-kernels of our own convolution kernels
// (winograd_conv.cpp): C[MR x NR] (+)= A[MR x k] B[k x NR]
// with C in registers, 12x32 on AVX-512 and 6x16 on AVX2. Each function is
// compiled for its ISA (target attributes), so the project's baseline flags
// stay x86-64-v3; the caller picks the ISA from oneDNN's effective one.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace rg::onednn {

// Which micro-kernel runs the GEMMs: AVX-512 (12x32 register tile), AVX2
// (6x16), or AVX-512 on bf16 operands (12x32, vdpbf16ps: pairs of bf16
// products summed into f32; emulated with FMAs on AVX-512 CPUs without
// AVX512_BF16, for tests).
enum class MicroIsa : uint8_t { avx2, avx512, avx512_bf16 };

inline bool is_avx512(MicroIsa isa) {
  return isa != MicroIsa::avx2;
}
inline int64_t mr_of(MicroIsa isa) {
  return is_avx512(isa) ? 12 : 6;
}
inline int64_t nr_of(MicroIsa isa) {
  return is_avx512(isa) ? 32 : 16;
}
// For kernel descriptions (inspect, profiles): the ISA and the register tile.
inline const char* micro_isa_name(MicroIsa isa) {
  return isa == MicroIsa::avx512 ? "avx512 12x32"
         : isa == MicroIsa::avx2 ? "avx2 6x16"
                                 : "avx512_bf16 12x32";
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

// bf16 operands, f32 accumulators: C[MR x 32] (+)= A[MR x 2kp] B[2kp x 32],
// each step one pair of k. B is pair-interleaved, row p of pairs at b + p *
// ldb (32 columns x 2 bf16); A(r, pair p), two bf16 in 32 bits, at a + r *
// lda + 2p, or, kTransposedA, at a + p * lda + 2r (lda in bf16 elements).
// vdpbf16ps adds the odd element's product, then the even one's, each
// rounded to f32 (both products are exact in f32); the emulation does the same
// with two FMAs (it differs only on denormals, which vdpbf16ps flushes).
template <bool kTransposedA>
inline const uint16_t* bf16_pair(const uint16_t* a, int64_t lda, int r, int64_t p) {
  return kTransposedA ? a + p * lda + 2 * r : a + r * lda + 2 * p;
}
template <int MR, bool kTransposedA>
__attribute__((target("avx512f,avx512bf16"))) inline void micro_avx512_bf16(
    int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, float* c,
    int64_t ldc, bool accumulate) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = accumulate ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
    acc[r][1] = accumulate ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < kp; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * ldb),
                   b1 = (__m512bh)_mm512_loadu_si512(b + p * ldb + 32);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      __builtin_memcpy(&pair, bf16_pair<kTransposedA>(a, lda, r, p), sizeof pair);
      const __m512bh x = (__m512bh)_mm512_set1_epi32(pair);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_ps(c + r * ldc, acc[r][0]);
    _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
  }
}

template <int MR, bool kTransposedA>
__attribute__((target("avx512f"))) inline void micro_avx512_bf16_emulated(
    int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, float* c,
    int64_t ldc, bool accumulate) {
  // A pair's odd (high) and even (low) element as f32 (lambdas would not inherit the target).
  const __m512i high = _mm512_set1_epi32(int32_t(0xffff0000u));
#define RG_ODD(v) _mm512_castsi512_ps(_mm512_and_si512(v, high))
  // (a vector-extension shift: GCC 12 warns on _mm512_slli_epi32's undefined pass-through)
  typedef int32_t I16 __attribute__((vector_size(64)));
#define RG_EVEN(v) _mm512_castsi512_ps((__m512i)((I16)(v) << 16))
  for (int r = 0; r < MR; ++r) {
    __m512 acc0 = accumulate ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
    __m512 acc1 = accumulate ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_setzero_ps();
    for (int64_t p = 0; p < kp; ++p) {
      const __m512i b0 = _mm512_loadu_si512(b + p * ldb), b1 = _mm512_loadu_si512(b + p * ldb + 32);
      int32_t pair;
      __builtin_memcpy(&pair, bf16_pair<kTransposedA>(a, lda, r, p), sizeof pair);
      const __m512i x = _mm512_set1_epi32(pair);
      acc0 = _mm512_fmadd_ps(RG_ODD(x), RG_ODD(b0), acc0);
      acc0 = _mm512_fmadd_ps(RG_EVEN(x), RG_EVEN(b0), acc0);
      acc1 = _mm512_fmadd_ps(RG_ODD(x), RG_ODD(b1), acc1);
      acc1 = _mm512_fmadd_ps(RG_EVEN(x), RG_EVEN(b1), acc1);
    }
    _mm512_storeu_ps(c + r * ldc, acc0);
    _mm512_storeu_ps(c + r * ldc + 16, acc1);
  }
#undef RG_ODD
#undef RG_EVEN
}

// Whether this CPU runs vdpbf16ps (else the bf16 micro-kernel is emulated).
inline bool cpu_has_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}

// The bf16 micro-kernel for `rows` rows (12, 8 or 4) and kp pairs of k.
template <bool kTransposedA>
inline void micro_rows_bf16(int64_t rows, int64_t kp, const uint16_t* a, int64_t lda,
                            const uint16_t* b, int64_t ldb, float* c, int64_t ldc,
                            bool accumulate) {
  if (cpu_has_avx512_bf16()) {
    if (rows == 12)
      return micro_avx512_bf16<12, kTransposedA>(kp, a, lda, b, ldb, c, ldc, accumulate);
    if (rows == 8)
      return micro_avx512_bf16<8, kTransposedA>(kp, a, lda, b, ldb, c, ldc, accumulate);
    return micro_avx512_bf16<4, kTransposedA>(kp, a, lda, b, ldb, c, ldc, accumulate);
  }
  if (rows == 12)
    return micro_avx512_bf16_emulated<12, kTransposedA>(kp, a, lda, b, ldb, c, ldc, accumulate);
  if (rows == 8)
    return micro_avx512_bf16_emulated<8, kTransposedA>(kp, a, lda, b, ldb, c, ldc, accumulate);
  return micro_avx512_bf16_emulated<4, kTransposedA>(kp, a, lda, b, ldb, c, ldc, accumulate);
}

// One call for `rows` rows (AVX-512: 12, 8 or 4; AVX2: 6, 4 or 2), so a
// caller can cover any multiple of 4 rows without padding.
template <bool kTransposedA>
inline void micro_rows(MicroIsa isa, int64_t rows, int64_t k, const float* a, int64_t lda,
                       const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  if (is_avx512(isa)) {
    if (rows == 12) return micro_avx512<12, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
    if (rows == 8) return micro_avx512<8, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
    return micro_avx512<4, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
  }
  if (rows == 6) return micro_avx2<6, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
  if (rows == 4) return micro_avx2<4, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
  return micro_avx2<2, kTransposedA>(k, a, lda, b, ldb, c, ldc, accumulate);
}

}  // namespace rg::onednn
