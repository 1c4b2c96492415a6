/* SPDX-License-Identifier: Apache-2.0 */
#include "rg_gemm.h"

#include <string.h>

#include "rg_simd.h"

/* Terms per pass over a panel: bf16 panels are widened into a buffer of
 * RG_KC x RG_PANEL floats (16 KiB of stack) one pass at a time. */
#define RG_KC 256u

#if RG_VW > 1

/* The panel's terms k0 .. k0 + kb - 1 as f32: in place, or widened into buf
 * (int8: times the scale of each row's channel; row0 is the panel's first
 * row, rows past M are padding, zero). */
static const float* panel_f32(rg_typed A, size_t at, size_t kb, size_t row0, size_t M, float* buf) {
  if (A.type == RG_WEIGHTS_F32) return (const float*)A.p + at;
  if (A.type == RG_WEIGHTS_INT8) {
    float s[RG_PANEL];
    for (size_t r = 0; r < RG_PANEL; ++r) s[r] = row0 + r < M ? A.scale[(row0 + r) / A.scale_div] : 0.0f;
    const int8_t* q = (const int8_t*)A.p + at;
    for (size_t i = 0; i < kb * RG_PANEL; ++i) buf[i] = (float)q[i] * s[i % RG_PANEL];
    return buf;
  }
  for (size_t i = 0; i < kb * RG_PANEL; ++i) buf[i] = rg_typed_at(A, at + i);
  return buf;
}

/* One element from a panel (ap: row r's first term, stride RG_PANEL). */
static void element(const float* ap, size_t kb, const float* b, size_t ldb, float* c) {
  float s = *c;
  for (size_t k = 0; k < kb; ++k, ap += RG_PANEL, b += ldb)
    if (*ap != 0.0f) {
#ifdef RG_FAST
      s = __builtin_fmaf(*ap, *b, s);
#else
      s = s + *ap * *b;
#endif
    }
  *c = s;
}

typedef rg_vf vf;
typedef rg_vi vi;
#define load rg_load
#define store rg_store
#define splat rg_splat
/* c + a * b: a multiply, then an add (built with -ffp-contract=off); RG_FAST
 * builds allow contraction: one FMA. */
static RG_INLINE vf madd(vf c, vf a, vf b) {
  return c + a * b;
}
/* The same, but adding +0 where a is zero: as skipping the product (every
 * sum starts at +0 and never becomes -0, so adding +0 leaves it as it is,
 * and an infinite or NaN b is not multiplied by that zero). */
static RG_INLINE vf madd_nz(vf c, vf a, vf b, vi nonzero) {
  return c + (vf)((vi)(a * b) & nonzero);
}

/* Row tile: rows r .. r + 3 of a panel (ap = &panel[r], stride RG_PANEL per
 * term), columns n .. n + 2 * RG_VW - 1 of C as vectors along the row. */
static RG_INLINE void tile4(const float* ap, size_t kb, const float* b, size_t ldb, float* c0p,
                            size_t ldc, int checked) {
  float* c1p = c0p + ldc;
  float* c2p = c1p + ldc;
  float* c3p = c2p + ldc;
  vf c00 = load(c0p), c01 = load(c0p + RG_VW), c10 = load(c1p), c11 = load(c1p + RG_VW);
  vf c20 = load(c2p), c21 = load(c2p + RG_VW), c30 = load(c3p), c31 = load(c3p + RG_VW);
  for (size_t k = 0; k < kb; ++k, ap += RG_PANEL, b += ldb) {
    const vf b0 = load(b), b1 = load(b + RG_VW);
    const float x0 = ap[0], x1 = ap[1], x2 = ap[2], x3 = ap[3];
    if (!checked) {
      c00 = madd(c00, splat(x0), b0), c01 = madd(c01, splat(x0), b1);
      c10 = madd(c10, splat(x1), b0), c11 = madd(c11, splat(x1), b1);
      c20 = madd(c20, splat(x2), b0), c21 = madd(c21, splat(x2), b1);
      c30 = madd(c30, splat(x3), b0), c31 = madd(c31, splat(x3), b1);
    } else { /* a zero weight's product is skipped, as the reference does */
      if (x0 != 0.0f) c00 = madd(c00, splat(x0), b0), c01 = madd(c01, splat(x0), b1);
      if (x1 != 0.0f) c10 = madd(c10, splat(x1), b0), c11 = madd(c11, splat(x1), b1);
      if (x2 != 0.0f) c20 = madd(c20, splat(x2), b0), c21 = madd(c21, splat(x2), b1);
      if (x3 != 0.0f) c30 = madd(c30, splat(x3), b0), c31 = madd(c31, splat(x3), b1);
    }
  }
  store(c0p, c00), store(c0p + RG_VW, c01), store(c1p, c10), store(c1p + RG_VW, c11);
  store(c2p, c20), store(c2p + RG_VW, c21), store(c3p, c30), store(c3p + RG_VW, c31);
}

/* One row (ap = &panel[r]), columns n .. n + 2 * RG_VW - 1. */
static RG_INLINE void tile1(const float* ap, size_t kb, const float* b, size_t ldb, float* c) {
  vf c0 = load(c), c1 = load(c + RG_VW);
  for (size_t k = 0; k < kb; ++k, ap += RG_PANEL, b += ldb)
    if (*ap != 0.0f) {
      const vf a = splat(*ap);
      c0 = madd(c0, a, load(b)), c1 = madd(c1, a, load(b + RG_VW));
    }
  store(c, c0), store(c + RG_VW, c1);
}

/* C[r .. r + 2 * RG_VW - 1, column j] <-> two vectors (a strided column). */
static RG_INLINE void column_in(const float* c, size_t ldc, vf* lo, vf* hi) {
  float t[2 * RG_VW];
  for (int l = 0; l < 2 * RG_VW; ++l) t[l] = c[(size_t)l * ldc];
  *lo = load(t), *hi = load(t + RG_VW);
}
static RG_INLINE void column_out(float* c, size_t ldc, vf lo, vf hi) {
  float t[2 * RG_VW];
  store(t, lo), store(t + RG_VW, hi);
  for (int l = 0; l < 2 * RG_VW; ++l) c[(size_t)l * ldc] = t[l];
}

/* Column tiles: rows r .. r + 2 * RG_VW - 1 of a panel as vectors down the
 * rows (ap = &panel[r]), columns n .. n + 3 (or n alone) with b = &B[k0, n]
 * and c = &C[r, n]: for few columns, where a row tile would be mostly empty. */
static RG_INLINE void coltile4(const float* ap, size_t kb, const float* b, size_t ldb, float* c,
                               size_t ldc, int checked) {
  vf x0, y0, x1, y1, x2, y2, x3, y3; /* column j: rows' low half xj, high half yj */
  column_in(c, ldc, &x0, &y0), column_in(c + 1, ldc, &x1, &y1);
  column_in(c + 2, ldc, &x2, &y2), column_in(c + 3, ldc, &x3, &y3);
  for (size_t k = 0; k < kb; ++k, ap += RG_PANEL, b += ldb) {
    const vf lo = load(ap), hi = load(ap + RG_VW);
    const vf b0 = splat(b[0]), b1 = splat(b[1]), b2 = splat(b[2]), b3 = splat(b[3]);
    if (!checked) {
      x0 = madd(x0, lo, b0), y0 = madd(y0, hi, b0), x1 = madd(x1, lo, b1), y1 = madd(y1, hi, b1);
      x2 = madd(x2, lo, b2), y2 = madd(y2, hi, b2), x3 = madd(x3, lo, b3), y3 = madd(y3, hi, b3);
    } else {
      const vi nl = lo != (vf){0}, nh = hi != (vf){0};
      x0 = madd_nz(x0, lo, b0, nl), y0 = madd_nz(y0, hi, b0, nh);
      x1 = madd_nz(x1, lo, b1, nl), y1 = madd_nz(y1, hi, b1, nh);
      x2 = madd_nz(x2, lo, b2, nl), y2 = madd_nz(y2, hi, b2, nh);
      x3 = madd_nz(x3, lo, b3, nl), y3 = madd_nz(y3, hi, b3, nh);
    }
  }
  column_out(c, ldc, x0, y0), column_out(c + 1, ldc, x1, y1);
  column_out(c + 2, ldc, x2, y2), column_out(c + 3, ldc, x3, y3);
}

static RG_INLINE void coltile1(const float* ap, size_t kb, const float* b, size_t ldb, float* c,
                               size_t ldc, int checked) {
  vf x, y;
  column_in(c, ldc, &x, &y);
  for (size_t k = 0; k < kb; ++k, ap += RG_PANEL, b += ldb) {
    const vf lo = load(ap), hi = load(ap + RG_VW), bk = splat(*b);
    if (!checked)
      x = madd(x, lo, bk), y = madd(y, hi, bk);
    else
      x = madd_nz(x, lo, bk, lo != (vf){0}), y = madd_nz(y, hi, bk, hi != (vf){0});
  }
  column_out(c, ldc, x, y);
}

/* Rows r0 .. r0 + rows - 1 of C from one panel pass (ap: the panel's first
 * term of this pass), all N columns. */
static void panel_pass(const float* ap, size_t rows, size_t kb, const float* B, size_t ldb,
                       float* C, size_t ldc, size_t N) {
  int zero = 0; /* any zero weight in the rows used: the checked kernels */
  if (rows == RG_PANEL) {
    vi z = {0};
    for (size_t k = 0; k < kb * RG_PANEL; k += RG_VW) z |= load(ap + k) == (vf){0};
    for (int l = 0; l < RG_VW; ++l) zero |= z[l] != 0;
  } else {
    for (size_t k = 0; k < kb; ++k)
      for (size_t r = 0; r < rows; ++r) zero |= ap[k * RG_PANEL + r] == 0.0f;
  }
  if (rows == RG_PANEL && N < 64) { /* few columns: vectors down the rows */
    for (size_t h = 0; h < RG_PANEL; h += 2 * RG_VW) {
      size_t n = 0;
      if (zero)
        for (; n + 4 <= N; n += 4) coltile4(ap + h, kb, B + n, ldb, C + h * ldc + n, ldc, 1);
      else
        for (; n + 4 <= N; n += 4) coltile4(ap + h, kb, B + n, ldb, C + h * ldc + n, ldc, 0);
      for (; n < N; ++n)
        if (zero)
          coltile1(ap + h, kb, B + n, ldb, C + h * ldc + n, ldc, 1);
        else
          coltile1(ap + h, kb, B + n, ldb, C + h * ldc + n, ldc, 0);
    }
    return;
  }
  const size_t NR = 2 * RG_VW, n_full = N / NR * NR;
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    if (zero)
      for (size_t n = 0; n < n_full; n += NR) tile4(ap + r, kb, B + n, ldb, C + r * ldc + n, ldc, 1);
    else
      for (size_t n = 0; n < n_full; n += NR) tile4(ap + r, kb, B + n, ldb, C + r * ldc + n, ldc, 0);
    for (size_t i = r; i < r + 4; ++i)
      for (size_t n = n_full; n < N; ++n) element(ap + i, kb, B + n, ldb, C + i * ldc + n);
  }
  for (; r < rows; ++r) {
    for (size_t n = 0; n < n_full; n += NR) tile1(ap + r, kb, B + n, ldb, C + r * ldc + n);
    for (size_t n = n_full; n < N; ++n) element(ap + r, kb, B + n, ldb, C + r * ldc + n);
  }
}

void rg_gemm_panels(size_t M, size_t N, size_t K, rg_typed A, size_t a0, size_t r0, const float* B,
                    size_t ldb, float* C, size_t ldc) {
  float buf[RG_KC * RG_PANEL];
  const size_t rows_total = r0 + M; /* rows of A past this are padding (or another slab's) */
  for (size_t m = 0; m < M;) {
    /* Rows r0 + m .. of one panel: all of it, or the part a slab starts or ends in. */
    const size_t row = r0 + m, in = row % RG_PANEL;
    const size_t rows = RG_PANEL - in < M - m ? RG_PANEL - in : M - m;
    const size_t at = a0 + (row - in) * K; /* the panel's first element */
    for (size_t k0 = 0; k0 < K; k0 += RG_KC) {
      const size_t kb = K - k0 < RG_KC ? K - k0 : RG_KC;
      const float* ap = panel_f32(A, at + k0 * RG_PANEL, kb, row - in, rows_total, buf);
      panel_pass(ap + in, rows, kb, B + k0 * ldb, ldb, C + m * ldc, ldc, N);
    }
    m += rows;
  }
}

#else /* no SIMD (Cortex-M): element by element, the smallest code, no buffer */

void rg_gemm_panels(size_t M, size_t N, size_t K, rg_typed A, size_t a0, size_t r0, const float* B,
                    size_t ldb, float* C, size_t ldc) {
  for (size_t m = 0; m < M; ++m) {
    const size_t row = r0 + m, at = a0 + row / RG_PANEL * K * RG_PANEL + row % RG_PANEL;
    const float scale = A.type == RG_WEIGHTS_INT8 ? A.scale[row / A.scale_div] : 1.0f;
    for (size_t n = 0; n < N; ++n) {
      float s = C[m * ldc + n];
      for (size_t k = 0; k < K; ++k) {
        const float a = A.type == RG_WEIGHTS_INT8 ? rg_typed_at(A, at + k * RG_PANEL) * scale
                                                   : rg_typed_at(A, at + k * RG_PANEL);
#ifdef RG_FAST
        if (a != 0.0f) s = __builtin_fmaf(a, B[k * ldb + n], s);
#else
        if (a != 0.0f) s = s + a * B[k * ldb + n];
#endif
      }
      C[m * ldc + n] = s;
    }
  }
}

#endif
