/* SPDX-License-Identifier: Apache-2.0 */
/* Each kernel names the reference loop it reproduces. Geometry comes from a
 * validated record (rg_plan.c): every index below stays inside its tensor. */
#include "rg_kernels.h"

#include <math.h>
#include <string.h>

#include "rg_gemm.h"
#include "rg_portable_math.h"
#include "rg_simd.h"

#define P(name) ((size_t)p[name])

/* ---- Convolutions (backends/ref/conv_ref.cpp) ---- */

typedef struct conv_geo {
  size_t n, cin, h, w, cout, ho, wo, kh, kw, groups, sh, sw, ph, pw, dh, dw;
  size_t gin, gout, rows, cols; /* per group: input/output channels, im2col rows and columns */
} conv_geo;

static conv_geo conv_geometry(const uint32_t* p) {
  conv_geo g;
  g.n = P(RG_P_CONV_N), g.cin = P(RG_P_CONV_CIN), g.h = P(RG_P_CONV_H), g.w = P(RG_P_CONV_W);
  g.cout = P(RG_P_CONV_COUT), g.ho = P(RG_P_CONV_HO), g.wo = P(RG_P_CONV_WO);
  g.kh = P(RG_P_CONV_KH), g.kw = P(RG_P_CONV_KW), g.groups = P(RG_P_CONV_GROUPS);
  g.sh = P(RG_P_CONV_SH), g.sw = P(RG_P_CONV_SW), g.ph = P(RG_P_CONV_PH), g.pw = P(RG_P_CONV_PW);
  g.dh = P(RG_P_CONV_DH), g.dw = P(RG_P_CONV_DW);
  g.gin = g.cin / g.groups, g.gout = g.cout / g.groups;
  g.rows = g.gin * g.kh * g.kw, g.cols = g.ho * g.wo;
  return g;
}

/* The input row (column) of output row oh and tap i, or -1 outside the input. */
static int64_t tap(size_t o, size_t s, size_t i, size_t d, size_t pad, size_t len) {
  const int64_t v = (int64_t)o * (int64_t)s + (int64_t)i * (int64_t)d - (int64_t)pad;
  return v >= 0 && v < (int64_t)len ? v : -1;
}

/* Columns n0 .. n0 + w - 1 of one group's im2col (x: its first input
 * channel) into col [rows, w]. */
static void im2col(const conv_geo* g, const float* x, float* col, size_t n0, size_t w) {
  for (size_t c = 0; c < g->gin; ++c)
    for (size_t i = 0; i < g->kh; ++i)
      for (size_t j = 0; j < g->kw; ++j) {
        float* row = col + ((c * g->kh + i) * g->kw + j) * w;
        size_t oh = n0 / g->wo, ow = n0 % g->wo;
        for (size_t e = 0; e < w; ++e) {
          const int64_t ih = tap(oh, g->sh, i, g->dh, g->ph, g->h);
          const int64_t iw = tap(ow, g->sw, j, g->dw, g->pw, g->w);
          row[e] = ih >= 0 && iw >= 0 ? x[(c * g->h + (size_t)ih) * g->w + (size_t)iw] : 0.0f;
          if (++ow == g->wo) ow = 0, ++oh;
        }
      }
}

/* Rows r0 .. r0 + n - 1 of col2im (col [n, cols]) added into x, in the
 * reference's order: rows ascending, then output rows and columns. */
static void col2im_rows(const conv_geo* g, const float* col, float* x, size_t r0, size_t n) {
  for (size_t r = r0; r < r0 + n; ++r) {
    const size_t c = r / (g->kh * g->kw), i = r / g->kw % g->kh, j = r % g->kw;
    const float* row = col + (r - r0) * g->cols;
    for (size_t oh = 0; oh < g->ho; ++oh) {
      const int64_t ih = tap(oh, g->sh, i, g->dh, g->ph, g->h);
      if (ih < 0) continue;
      float* xrow = x + (c * g->h + (size_t)ih) * g->w;
      for (size_t ow = 0; ow < g->wo; ++ow) {
        const int64_t iw = tap(ow, g->sw, j, g->dw, g->pw, g->w);
        if (iw >= 0) xrow[iw] += row[oh * g->wo + ow];
      }
    }
  }
}

/* y_g[gout, cols] = w_g[gout, rows] * im2col(x_g) (conv_ref.cpp matmul), a
 * slab of columns at a time: each output's sum runs over the rows in order
 * whatever the slab. */
/* Elements of one group's weights in panels: A [M, K] padded to whole panels. */
static size_t panels(size_t M, size_t K) {
  return (M + RG_PANEL - 1) / RG_PANEL * RG_PANEL * K;
}

void rg_conv2d(const uint32_t* p, const float* x, rg_typed w, float* y, float* col) {
  const conv_geo g = conv_geometry(p);
  const size_t gi = g.gin * g.h * g.w, go = g.gout * g.cols, gw = panels(g.gout, g.rows);
  const size_t slab = P(RG_P_CONV_SLAB);
  for (size_t n = 0; n < g.n; ++n)
    for (size_t k = 0; k < g.groups; ++k) {
      float* yg = y + (n * g.groups + k) * go;
      memset(yg, 0, go * sizeof(float));
      for (size_t n0 = 0; n0 < g.cols; n0 += slab) {
        const size_t cw = g.cols - n0 < slab ? g.cols - n0 : slab;
        im2col(&g, x + (n * g.groups + k) * gi, col, n0, cw);
        rg_typed wg = w; /* int8: the group's output channels' scales, one per row */
        if (w.scale) wg.scale = w.scale + k * g.gout, wg.scale_div = 1;
        rg_gemm_panels(g.gout, cw, g.rows, wg, k * gw, 0, col, cw, yg + n0, g.cols);
      }
    }
}

/* col[rows, cols] = w_g[gout, rows]^T * dy_g (conv_ref.cpp matmul_at), then
 * dx = col2im(col), a slab of rows at a time: col2im adds rows in order, so
 * every dx element receives the same terms in the same order. */
void rg_conv_transpose2d(const uint32_t* p, const float* dy, rg_typed w, float* dx, float* col) {
  const conv_geo g = conv_geometry(p);
  const size_t gi = g.gin * g.h * g.w, go = g.gout * g.cols, gw = panels(g.rows, g.gout);
  const size_t slab = P(RG_P_CONV_SLAB);
  for (size_t n = 0; n < g.n; ++n)
    for (size_t k = 0; k < g.groups; ++k) {
      float* dxg = dx + (n * g.groups + k) * gi;
      memset(dxg, 0, gi * sizeof(float));
      for (size_t r0 = 0; r0 < g.rows; r0 += slab) {
        const size_t rn = g.rows - r0 < slab ? g.rows - r0 : slab;
        memset(col, 0, rn * g.cols * sizeof(float));
        rg_typed wg = w; /* int8: rows (c, i, j) share output channel c's scale */
        if (w.scale) wg.scale = w.scale + k * g.gin, wg.scale_div = g.kh * g.kw;
        rg_gemm_panels(rn, g.cols, g.gout, wg, k * gw, r0, dy + (n * g.groups + k) * go, g.cols, col,
                       g.cols);
        col2im_rows(&g, col, dxg, r0, rn);
      }
    }
}

/* ---- Batch norm (backends/ref/ops/normalization.cpp, graph/batch_norm_rules.h) ---- */

/* Where there is no double-precision FPU (Cortex-M4F), or in RG_FAST builds,
 * batch norm is one f32 multiply-add per element, y = x * scale + shift,
 * with scale and shift computed per channel in double: within an ulp or two
 * of the reference, not bit-identical. */
#if defined(RG_FAST) || (defined(__ARM_FP) && !(__ARM_FP & 8))
#define RG_BN_FLOAT 1
#endif

void rg_batch_norm(const uint32_t* p, double eps, const float* x, rg_typed gamma, rg_typed beta,
                   rg_typed mean, rg_typed var, float* y) {
  const size_t N = P(RG_P_BN_N), C = P(RG_P_BN_C), HW = P(RG_P_BN_H) * P(RG_P_BN_W);
  for (size_t c = 0; c < C; ++c) {
    const double mu = (double)rg_typed_at(mean, c);
    const double inv = 1.0 / sqrt((double)rg_typed_at(var, c) + eps);
    const double g = (double)rg_typed_at(gamma, c), b = (double)rg_typed_at(beta, c);
#ifdef RG_BN_FLOAT
    const float scale = (float)(inv * g), shift = (float)(b - mu * inv * g);
    for (size_t i = 0; i < N; ++i) {
      const size_t base = (i * C + c) * HW;
      for (size_t k = 0; k < HW; ++k) y[base + k] = x[base + k] * scale + shift;
    }
#else
    for (size_t i = 0; i < N; ++i) {
      const size_t base = (i * C + c) * HW;
      for (size_t k = 0; k < HW; ++k) y[base + k] = (float)(((double)x[base + k] - mu) * inv * g + b);
    }
#endif
  }
}

/* ---- Pooling (engine/plane_loops.h pool2d_plane, engine/op_geometry.cpp windows) ---- */

/* Taps t0 + i * d (i < k) inside [0, len): the first, and one past the last. */
static void taps_inside(int64_t t0, int64_t k, int64_t d, int64_t len, int64_t* first, int64_t* end) {
  const int64_t f = t0 >= 0 ? t0 : t0 + (-t0 + d - 1) / d * d;
  int64_t last_i = t0 + (k - 1) * d < len ? k - 1 : (len - 1 - t0) / d;
  if (last_i > k - 1) last_i = k - 1;
  const int64_t last = t0 + last_i * d;
  *first = f;
  *end = last >= f ? last + 1 : f;
}

void rg_pool(const uint32_t* p, const float* x, float* y) {
  const int64_t h = (int64_t)p[RG_P_POOL_H], w = (int64_t)p[RG_P_POOL_W];
  const int64_t ho = (int64_t)p[RG_P_POOL_HO], wo = (int64_t)p[RG_P_POOL_WO];
  const int64_t kh = (int64_t)p[RG_P_POOL_KH], kw = (int64_t)p[RG_P_POOL_KW];
  const int64_t sh = (int64_t)p[RG_P_POOL_SH], sw = (int64_t)p[RG_P_POOL_SW];
  const int64_t ph = (int64_t)p[RG_P_POOL_PH], pw = (int64_t)p[RG_P_POOL_PW];
  const int64_t ph_end = (int64_t)p[RG_P_POOL_PH_END], pw_end = (int64_t)p[RG_P_POOL_PW_END];
  const int64_t dh = (int64_t)p[RG_P_POOL_DH], dw = (int64_t)p[RG_P_POOL_DW];
  const int max = p[RG_P_POOL_MAX] != 0, include_pad = p[RG_P_POOL_COUNT_INCLUDE_PAD] != 0;
  for (size_t plane = 0; plane < P(RG_P_POOL_PLANES); ++plane) {
    const float* xp = x + plane * (size_t)(h * w);
    float* yp = y + plane * (size_t)(ho * wo);
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow) {
        const int64_t h0 = oh * sh - ph, w0 = ow * sw - pw;
        int64_t hs, h1, ws, w1;
        taps_inside(h0, kh, dh, h, &hs, &h1);
        taps_inside(w0, kw, dw, w, &ws, &w1);
        float* out = yp + oh * wo + ow;
        if (max) {
          /* The first maximum; a NaN wins (pool_window_argmax). An empty window
           * (only possible in a hand-made plan) gives -inf. */
          if (hs >= h1 || ws >= w1) {
            *out = -INFINITY;
            continue;
          }
          int64_t best = hs * w + ws;
          for (int64_t i = hs; i < h1; i += dh)
            for (int64_t j = ws; j < w1; j += dw) {
              const float v = xp[i * w + j];
              if (v > xp[best] || (isnan(v) && !isnan(xp[best]))) best = i * w + j;
            }
          *out = xp[best];
          continue;
        }
        double sum = 0;
        for (int64_t i = hs; i < h1; i += dh)
          for (int64_t j = ws; j < w1; j += dw) sum += (double)xp[i * w + j];
        int64_t count;
        if (!include_pad) {
          count = ((h1 - hs + dh - 1) / dh) * ((w1 - ws + dw - 1) / dw);
        } else { /* PoolGeometry::average_count: the padding counts, a window's part past it not */
          int64_t rows = (h + ph_end - h0 + dh - 1) / dh, cols = (w + pw_end - w0 + dw - 1) / dw;
          if (rows > kh) rows = kh;
          if (cols > kw) cols = kw;
          count = rows * cols;
        }
        *out = (float)(sum / (double)count);
      }
  }
}

/* ---- MatMul (backends/ref/ops/linear.cpp): per output, k ascending, in double ---- */

void rg_matmul(const uint32_t* p, rg_typed a, rg_typed b, float* y) {
  const size_t batch = P(RG_P_MM_BATCH), M = P(RG_P_MM_M), K = P(RG_P_MM_K), N = P(RG_P_MM_N);
  const int ta = p[RG_P_MM_TA] != 0, tb = p[RG_P_MM_TB] != 0;
  for (size_t t = 0; t < batch; ++t) {
    const size_t ao = t * P(RG_P_MM_A_STRIDE), bo = t * P(RG_P_MM_B_STRIDE);
    float* yt = y + t * M * N;
    for (size_t i = 0; i < M; ++i)
      for (size_t j = 0; j < N; ++j) {
        double acc = 0;
        for (size_t k = 0; k < K; ++k)
          acc += (double)rg_typed_at(a, ao + (ta ? k * M + i : i * K + k)) *
                 (double)rg_typed_at(b, bo + (tb ? j * K + k : k * N + j));
        yt[i * N + j] = (float)acc;
      }
  }
}

/* ---- Reduce (engine/strided_walk.h reduce_in_double) ---- */

void rg_reduce(const uint32_t* p, const float* x, double* acc, float* y) {
  const size_t rank = P(RG_P_RED_RANK), inn = P(RG_P_RED_IN), outn = P(RG_P_RED_OUT);
  const double scale = p[RG_P_RED_MEAN] ? (double)outn / (double)inn : 1.0;
  if (outn == 1) { /* the same sums, without the walk */
    double s = 0;
    for (size_t e = 0; e < inn; ++e) s += (double)x[e];
    y[0] = (float)(s * scale);
    return;
  }
  for (size_t i = 0; i < outn; ++i) acc[i] = 0.0;
  size_t idx[RG_PLAN_MAX_RANK] = {0}, off = 0;
  const uint32_t* dims = p + RG_P_RED_DIMS;
  const uint32_t* strides = p + RG_P_RED_STRIDES;
  for (size_t e = 0; e < inn; ++e) {
    acc[off] += (double)x[e];
    for (size_t d = rank; d-- > 0;) {
      off += strides[d];
      if (++idx[d] < dims[d]) break;
      off -= (size_t)strides[d] * dims[d];
      idx[d] = 0;
    }
  }
  for (size_t i = 0; i < outn; ++i) y[i] = (float)(acc[i] * scale);
}

/* ---- Softmax and log_softmax (engine/plane_loops.h softmax_row) ---- */

void rg_softmax(const uint32_t* p, const float* x, float* y) {
  const size_t L = P(RG_P_SM_LENGTH), S = P(RG_P_SM_INNER);
  const int softmax = p[RG_P_SM_SOFTMAX] != 0;
  for (size_t r = 0; r < P(RG_P_SM_ROWS); ++r) {
    const size_t b = (r / S) * L * S + r % S;
    double m = -HUGE_VAL, sum = 0;
    for (size_t i = 0; i < L; ++i) {
      const double v = (double)x[b + i * S];
      m = m < v ? v : m; /* std::max(m, v) */
    }
    for (size_t i = 0; i < L; ++i) sum += exp((double)x[b + i * S] - m);
    const double lse = m + log(sum);
    for (size_t i = 0; i < L; ++i) {
      const double v = (double)x[b + i * S];
      y[b + i * S] = (float)(softmax ? exp(v - m) / sum : v - lse);
    }
  }
}

/* ---- Copies (concat, transpose, broadcast_to) and fill ---- */

void rg_copy(const uint32_t* p, rg_typed x, float* y) {
  const size_t rank = P(RG_P_COPY_RANK);
  const uint32_t* dims = p + RG_P_COPY_DIMS;
  const uint32_t* src = p + RG_P_COPY_SRC;
  const uint32_t* dst = p + RG_P_COPY_DST;
  size_t count = 1, idx[RG_PLAN_MAX_RANK] = {0}, si = 0, di = 0;
  for (size_t d = 0; d < rank; ++d) count *= dims[d];
  for (size_t e = 0; e < count; ++e) {
    y[di] = rg_typed_at(x, si);
    for (size_t d = rank; d-- > 0;) {
      si += src[d], di += dst[d];
      if (++idx[d] < dims[d]) break;
      si -= (size_t)src[d] * dims[d], di -= (size_t)dst[d] * dims[d];
      idx[d] = 0;
    }
  }
}

void rg_fill(const uint32_t* p, double value, float* y) {
  const float v = (float)value;
  for (size_t i = 0; i < P(RG_P_FILL_COUNT_ELEMENTS); ++i) y[i] = v;
}

/* ---- LRN (engine/plane_loops.h lrn_plane) ---- */

double rg_param_double(const uint32_t* p) {
  const uint64_t bits = (uint64_t)p[0] | (uint64_t)p[1] << 32;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

void rg_lrn(const uint32_t* p, const float* x, float* y) {
  const size_t N = P(RG_P_LRN_N), C = P(RG_P_LRN_C), HW = P(RG_P_LRN_HW);
  const size_t before = P(RG_P_LRN_BEFORE), after = P(RG_P_LRN_AFTER);
  const double size = (double)p[RG_P_LRN_SIZE], alpha = rg_param_double(p + RG_P_LRN_ALPHA);
  const double beta = rg_param_double(p + RG_P_LRN_BETA), bias = rg_param_double(p + RG_P_LRN_BIAS);
  for (size_t b = 0; b < N; ++b)
    for (size_t c = 0; c < C; ++c) {
      const size_t lo = c > before ? c - before : 0, hi = c + after < C - 1 ? c + after : C - 1;
      for (size_t i = 0; i < HW; ++i) {
        double sum = 0;
        for (size_t j = lo; j <= hi; ++j) {
          const double v = (double)x[(b * C + j) * HW + i];
          sum += v * v;
        }
        const size_t e = (b * C + c) * HW + i;
        y[e] = (float)((double)x[e] / pow(bias + alpha / size * sum, beta));
      }
    }
}

/* ---- Pad and nearest resize (backends/ref/ops/image.cpp lower_axis_gather) ---- */

static uint32_t u32_at(const uint8_t* table, size_t i) {
  uint32_t v;
  memcpy(&v, table + 4 * i, 4);
  return v;
}

void rg_gather(const uint32_t* p, double fill, const float* x, const uint8_t* maps, float* y) {
  const size_t rank = P(RG_P_GATHER_RANK);
  const uint32_t* out = p + RG_P_GATHER_OUT;
  const uint32_t* in = p + RG_P_GATHER_IN;
  size_t base[RG_PLAN_MAX_RANK], stride[RG_PLAN_MAX_RANK], count = 1;
  for (size_t d = 0, at = 0; d < rank; at += out[d], ++d) base[d] = at;
  for (size_t d = rank; d-- > 0;) stride[d] = d + 1 < rank ? stride[d + 1] * in[d + 1] : 1;
  for (size_t d = 0; d < rank; ++d) count *= out[d];
  size_t idx[RG_PLAN_MAX_RANK] = {0};
  const float f = (float)fill;
  for (size_t e = 0; e < count; ++e) {
    size_t off = 0;
    int pad = 0;
    for (size_t d = 0; d < rank; ++d) {
      const uint32_t m = u32_at(maps, base[d] + idx[d]);
      if (m >= in[d]) { /* RG_GATHER_FILL, or an entry past the axis */
        pad = 1;
        break;
      }
      off += m * stride[d];
    }
    y[e] = pad ? f : x[off];
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
}

/* ---- Bilinear resize (engine/plane_loops.h resize_bilinear_plane) ---- */

static rg_bilinear_tap tap_at(const uint8_t* taps, size_t i, size_t len) {
  rg_bilinear_tap t;
  memcpy(&t, taps + i * sizeof t, sizeof t);
  if (t.i0 >= len) t.i0 = (uint32_t)(len - 1); /* the table is the caller's bytes */
  if (t.i1 >= len) t.i1 = (uint32_t)(len - 1);
  return t;
}

void rg_resize_bilinear(const uint32_t* p, const float* x, const uint8_t* taps, float* y) {
  const size_t H = P(RG_P_BL_H), W = P(RG_P_BL_W), Ho = P(RG_P_BL_HO), Wo = P(RG_P_BL_WO);
  for (size_t plane = 0; plane < P(RG_P_BL_PLANES); ++plane) {
    const float* xp = x + plane * H * W;
    float* yp = y + plane * Ho * Wo;
    for (size_t oh = 0; oh < Ho; ++oh) {
      const rg_bilinear_tap a = tap_at(taps, oh, H);
      for (size_t ow = 0; ow < Wo; ++ow) {
        const rg_bilinear_tap b = tap_at(taps, Ho + ow, W);
        const double v = a.l0 * (b.l0 * (double)xp[a.i0 * W + b.i0] + b.l1 * (double)xp[a.i0 * W + b.i1]) +
                         a.l1 * (b.l0 * (double)xp[a.i1 * W + b.i0] + b.l1 * (double)xp[a.i1 * W + b.i1]);
        yp[oh * Wo + ow] = (float)v;
      }
    }
  }
}

/* ---- Elementwise chains (backends/ref/elementwise_ref.cpp) ----
 * The register program is run on a block of elements at a time, one
 * instruction over the whole block (vectors where there are), instead of one
 * element through the whole program: each element still sees the same
 * operations in the same order, so the values are the reference's. */

#if RG_VW > 1
#define RG_BLOCK 64
#else
#define RG_BLOCK 8 /* small stacks: 64 registers x 8 floats = 2 KiB */
#endif

static void chain_op(const rg_chain_instr* in, float (*r)[RG_BLOCK], size_t nb) {
  float* out = r[in->out];
  const float* x = r[in->x];
  const float* y = in->y != RG_CHAIN_NO_REG ? r[in->y] : 0;
  const float* z = in->z != RG_CHAIN_NO_REG ? r[in->z] : 0;
  size_t e = 0;
#if RG_VW > 1
  /* Whole vectors: registers are RG_BLOCK floats, so every block but the
   * last is whole vectors; the last's tail lanes compute on stale values and
   * are never stored. */
  const size_t nv = (nb + RG_VW - 1) / RG_VW * RG_VW;
  switch (in->op) {
    case RG_CHAIN_ADD:
      for (; e < nv; e += RG_VW) rg_store(out + e, rg_load(x + e) + rg_load(y + e));
      return;
    case RG_CHAIN_SUB:
      for (; e < nv; e += RG_VW) rg_store(out + e, rg_load(x + e) - rg_load(y + e));
      return;
    case RG_CHAIN_MUL:
      for (; e < nv; e += RG_VW) rg_store(out + e, rg_load(x + e) * rg_load(y + e));
      return;
    case RG_CHAIN_DIV:
      for (; e < nv; e += RG_VW) rg_store(out + e, rg_load(x + e) / rg_load(y + e));
      return;
    case RG_CHAIN_SELECT_POSITIVE:
      for (; e < nv; e += RG_VW) {
        const rg_vi pos = rg_load(x + e) > (rg_vf){0}; /* false for NaN */
        rg_store(out + e, (rg_vf)(((rg_vi)rg_load(y + e) & pos) | ((rg_vi)rg_load(z + e) & ~pos)));
      }
      return;
    default:
      break;
  }
#endif
  for (; e < nb; ++e) {
    switch (in->op) {
      case RG_CHAIN_ADD:
        out[e] = x[e] + y[e];
        break;
      case RG_CHAIN_SUB:
        out[e] = x[e] - y[e];
        break;
      case RG_CHAIN_MUL:
        out[e] = x[e] * y[e];
        break;
      case RG_CHAIN_DIV:
        out[e] = x[e] / y[e];
        break;
      case RG_CHAIN_TANH:
        out[e] = rg_tanhf(x[e]); /* not libm's tanhf: rg_portable_math.h */
        break;
      case RG_CHAIN_EXP:
        out[e] = expf(x[e]);
        break;
      default: /* RG_CHAIN_SELECT_POSITIVE; validation refuses others */
        out[e] = x[e] > 0.0f ? y[e] : z[e];
        break;
    }
  }
}

void rg_chain(const rg_chain_record* c, const rg_chain_operands* o) {
  float r[RG_CHAIN_MAX_REGS][RG_BLOCK];
  memset(r, 0, (size_t)c->n_regs * sizeof r[0]);
  for (uint32_t i = 0; i < c->n_consts; ++i)
    for (size_t e = 0; e < RG_BLOCK; ++e) r[c->consts[i].reg][e] = c->consts[i].value;
  size_t total = 1, idx[RG_PLAN_MAX_RANK] = {0};
  for (uint32_t d = 0; d < c->rank; ++d) total *= c->dims[d];
  for (size_t e0 = 0; e0 < total; e0 += RG_BLOCK) {
    const size_t nb = total - e0 < RG_BLOCK ? total - e0 : RG_BLOCK;
    for (uint32_t k = 0; k < c->n_loads; ++k) {
      const rg_chain_load* l = &c->loads[k];
      float* dst = r[l->reg];
      if (l->full && o->load[k].type == RG_WEIGHTS_F32) {
        memcpy(dst, (const float*)o->load[k].p + e0, nb * sizeof(float));
      } else if (l->full) {
        for (size_t e = 0; e < nb; ++e) dst[e] = rg_typed_at(o->load[k], e0 + e);
      } else { /* broadcast strides: an odometer from the block's first index, a run of
                  the innermost axis at a time (a repeated value is one fill) */
        size_t at[RG_PLAN_MAX_RANK], off = 0;
        memcpy(at, idx, sizeof at);
        for (uint32_t d = 0; d < c->rank; ++d) off += at[d] * l->strides[d];
        const uint32_t in = c->rank - 1;
        const size_t step = l->strides[in];
        for (size_t e = 0; e < nb;) {
          const size_t run = nb - e < c->dims[in] - at[in] ? nb - e : c->dims[in] - at[in];
          if (step == 0) {
            const float v = rg_typed_at(o->load[k], off);
            for (size_t i = 0; i < run; ++i) dst[e + i] = v;
          } else {
            for (size_t i = 0; i < run; ++i) dst[e + i] = rg_typed_at(o->load[k], off + i * step);
          }
          e += run;
          at[in] += run, off += run * step;
          for (uint32_t d = in + 1; d-- > 0 && at[d] == c->dims[d];) { /* carry */
            off -= (size_t)l->strides[d] * c->dims[d];
            at[d] = 0;
            if (d == 0) break;
            ++at[d - 1], off += l->strides[d - 1];
          }
        }
      }
    }
    for (uint32_t k = 0; k < c->n_code; ++k) chain_op(&c->code[k], r, nb);
    for (uint32_t k = 0; k < c->n_stores; ++k)
      memcpy(o->store[k] + e0, r[c->stores[k].reg], nb * sizeof(float));
    /* The next block's first index: nb more along the innermost axis, carried. */
    size_t carry = nb;
    for (uint32_t d = c->rank; d-- > 0 && carry;) {
      const size_t v = idx[d] + carry;
      idx[d] = v % c->dims[d];
      carry = v / c->dims[d];
    }
  }
}
