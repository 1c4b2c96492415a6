// SPDX-License-Identifier: Apache-2.0
/* The runtime's explicit SIMD (internal): GCC/Clang vector types of RG_VW
 * lanes (AVX: 8, SSE2 or NEON: 4; 1 where there is none, and the kernels
 * use plain loops), and the few operations the kernels need, always inlined
 * (at -Os too), so that speed does not depend on the optimisation level.
 * Arithmetic on them rounds per operation as the scalar code does (the
 * runtime is built with -ffp-contract=off; RG_FAST builds contract). */
#ifndef RG_SIMD_H
#define RG_SIMD_H

#include <string.h>

#if defined(__GNUC__) && defined(__AVX__)
#define RG_VW 8
#elif defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON))
#define RG_VW 4
#else
#define RG_VW 1
#endif

#if defined(__GNUC__)
#define RG_INLINE inline __attribute__((always_inline))
#else
#define RG_INLINE inline
#endif

#if RG_VW > 1
typedef float rg_vf __attribute__((vector_size(RG_VW * sizeof(float))));
typedef int rg_vi __attribute__((vector_size(RG_VW * sizeof(float))));

static RG_INLINE rg_vf rg_load(const float* p) {
  rg_vf v;
  memcpy(&v, p, sizeof v);
  return v;
}
static RG_INLINE void rg_store(float* p, rg_vf v) {
  memcpy(p, &v, sizeof v);
}
static RG_INLINE rg_vf rg_splat(float a) { /* not (rg_vf){0} + a: that adds, turning -0 into +0 */
#if RG_VW == 8
  return (rg_vf){a, a, a, a, a, a, a, a};
#else
  return (rg_vf){a, a, a, a};
#endif
}
#endif

#endif /* RG_SIMD_H */
