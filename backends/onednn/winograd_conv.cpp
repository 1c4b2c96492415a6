// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/winograd_conv.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "backends/onednn/channel_groups.h"
#include "backends/onednn/micro_gemm.h"

namespace rg::onednn {
namespace {

// Transposed: output row 2m + py of phase py reads input rows m + py - 1 + j
// (j = 0, 1) with kernel row 3 - py - 2j; columns alike. A tile is a 2x2
// block of one phase (phase rows 2ty, 2ty + 1), from the 3x3 input patch at
// rows 2ty + py - 1 + a (a = 0..2). The four phases are four GEMM groups.
//
// Strided: output row i reads input rows 2i - 1 + k, k = 2j + q: the input
// split by row parity q (s_q[m] = in[2m + q - 1]) is read at s_q[i + j] with
// kernel row 2j + q. A tile is a 2x2 output block (rows 2ty, 2ty + 1), from
// s_q[2ty + a] = input row 4ty + 2a + q - 1 for each of the four parities
// (qy, qx); their products add up, so the four parities are one GEMM with
// K = 4 ci (k = q * ci + channel).
//
// F(2, 2) in one dimension, for input d0..d2 and taps g0, g1 (y0 = d0 g0 + d1 g1,
// y1 = d1 g0 + d2 g1):  V = (d0 - d1, d1, d2 - d1), U = (g0, g0 + g1, g1),
// y0 = M0 + M1, y1 = M1 + M2 with M = U * V. In two dimensions the same
// transforms run over rows, then columns; point a * 3 + b is row a, column b.
constexpr int kPoints = 9;
constexpr int kPhases = 4;

bool strided(const WinogradConv& c) {
  return c.kind == WinogradKind::strided;
}
// bf16 operands: the transformed input and weights rounded to bf16, the
// GEMMs' products summed in f32 by the bf16 micro-kernel.
bool bf16_of(const WinogradConv& c) {
  return c.isa == MicroIsa::avx512_bf16;
}

// Where the transforms write their operands for the GEMMs, element (t, k) of
// point p (planes `plane` elements apart, rows `ld`):
//   f32:        float at p * plane + t * ld + k (the f32 micro-kernels);
//   bf16_rows:  bf16 at the same index (A of the bf16 forward GEMMs: each
//               row's pairs of k are adjacent);
//   bf16_pairs: bf16 at p * plane + ((t / 2) * ld + k) * 2 + t % 2 (both
//               operands of the bf16 weight gradient, which sums over t: each
//               pair of tiles adjacent). Tile offsets of a base stay t * ld
//               for even t.
enum class Pack : uint8_t { f32, bf16_rows, bf16_pairs };

// Eight pairs (even[i], odd[i]) rounded to bf16, each pair adjacent: the
// operand layout of vdpbf16ps (16 bf16 at p).
inline void store_bf16_pairs(uint16_t* p, V8 even, V8 odd) {
  typedef uint16_t H16 __attribute__((vector_size(32)));
  const H16 h = __builtin_shufflevector(to_bf16(even), to_bf16(odd), 0, 8, 1, 9, 2, 10, 3, 11, 4,
                                        12, 5, 13, 6, 14, 7, 15);
  std::memcpy(p, &h, sizeof h);
}

// The transforms produce kTiles tiles at a time for a store (bf16_pairs: both
// tiles of a pair, interleaved in registers; a missing last tile is zero).
template <Pack P>
struct PackedOut {
  static constexpr int kTiles = P == Pack::bf16_pairs ? 2 : 1;
  void* base;
  int64_t plane, ld;
  // Channels k .. k + 7 of point `point` of tiles t .. t + kTiles - 1 (t even for pairs).
  void put(int point, int64_t t, int64_t k, const V8* x) const {
    if constexpr (P == Pack::f32) {
      store8(static_cast<float*>(base) + point * plane + t * ld + k, x[0]);
    } else if constexpr (P == Pack::bf16_rows) {
      store_act(static_cast<uint16_t*>(base) + point * plane + t * ld + k, x[0]);
    } else {
      store_bf16_pairs(static_cast<uint16_t*>(base) + point * plane + ((t / 2) * ld + k) * 2, x[0],
                       x[1]);
    }
  }
};
// GEMM groups (transposed: one per output phase) and their K.
int groups_of(const WinogradConv& c) {
  return strided(c) ? 1 : kPhases;
}
int64_t k_of(const WinogradConv& c) {
  return strided(c) ? kPhases * c.ci : c.ci;
}
// Row strides of the transformed input (K) and of the products (co), padded
// by 64 bytes: with K or co a multiple of 1024 the micro-kernel's 12 rows
// would otherwise fall into the same L1 set.
constexpr int64_t kRowPad = 16;
int64_t lda_of(const WinogradConv& c) {
  return k_of(c) + kRowPad;
}
int64_t ldc_of(const WinogradConv& c) {
  return c.co + kRowPad;
}
// Tiles of one group: 2x2 blocks of a phase (transposed, h x w each) or of the output (h/2 x w/2).
int64_t tile_rows(const WinogradConv& c) {
  return strided(c) ? c.h / 4 : c.h / 2;
}
int64_t tile_cols(const WinogradConv& c) {
  return strided(c) ? c.w / 4 : c.w / 2;
}
constexpr int64_t kKc =
    256;  // input channels per pass of the micro-kernel (its weight panel stays in L1)

// Tiles per chunk: a multiple of both micro-kernels' row count (12, 6); at
// least 240, so each weight panel (read from memory once per chunk) serves
// 240 rows (the 1024-channel layer is bound by its 75 MB of transformed
// weights otherwise); at most kMaxChunk, or about 4 MiB of transformed input
// (9 x tiles x K floats); and the chunks of a group about equal (so two
// threads share a small layer's work evenly). Measured on the seed's layers
// (AVX-512, 2 threads): 12..96-tile chunks were up to 1.4x slower on the
// 1024-channel layer, no faster on the others.
constexpr int64_t kMaxChunk = 480;
int64_t tiles_per_chunk(const WinogradConv& c) {
  const int64_t group_tiles = c.n * tile_rows(c) * tile_cols(c);
  const int64_t t =
      std::clamp<int64_t>((int64_t(4) << 20) / (4 * kPoints * k_of(c)) / 12 * 12, 240, kMaxChunk);
  const int64_t chunks = (group_tiles + t - 1) / t;
  return ((group_tiles + chunks - 1) / chunks + 11) / 12 * 12;
}

// C[rows x co] = A[rows x K] * B, B packed as [co / NR][K][NR] (bf16: [co /
// NR][K / 2][NR][2]); A and C rows lda and ldc apart (A f32 or bf16 elements
// as B); rows a multiple of MR. K is split in passes of kKc so a panel slice
// stays in L1 while every row block of A streams past it.
void gemm(MicroIsa isa, int64_t rows, int64_t K, int64_t co, const void* a, int64_t lda,
          const void* b, float* c, int64_t ldc) {
  const int64_t mr = mr_of(isa), nr = nr_of(isa);
  for (int64_t k0 = 0; k0 < K; k0 += kKc) {
    const int64_t kc = std::min(kKc, K - k0);
    for (int64_t j = 0; j < co; j += nr) {
      const int64_t panel = j * K + k0 * nr;  // elements, either type (k0 is even)
      for (int64_t r = 0; r < rows; r += mr) {
        if (isa == MicroIsa::avx512_bf16)
          micro_rows_bf16<false>(mr, kc / 2, static_cast<const uint16_t*>(a) + r * lda + k0, lda,
                                 static_cast<const uint16_t*>(b) + panel, 2 * nr, c + r * ldc + j,
                                 ldc, k0 > 0);
        else
          micro_rows<false>(isa, mr, kc, static_cast<const float*>(a) + r * lda + k0, lda,
                            static_cast<const float*>(b) + panel, nr, c + r * ldc + j, ldc, k0 > 0);
      }
    }
  }
}

struct Tile {
  int64_t n, ty, tx;
};
// Tile f of a group (image-major, then rows of th x tw tiles).
Tile tile_at(int64_t f, int64_t th, int64_t tw) {
  return Tile{f / (th * tw), (f / tw) % th, f % tw};
}

// v[point][t][k] (PackedOut's layout) for `count` tiles of group ph.
template <Pack P, typename In>
void transform_input(const WinogradConv& c, const ChannelGroupAddress& in, const In* src, int ph,
                     const Tile* tiles, int64_t count, const PackedOut<P>& v) {
  constexpr int T = PackedOut<P>::kTiles;
  const int64_t groups = c.ci / kGroupLanes;
  const int parts = strided(c) ? kPhases : 1, step = strided(c) ? 2 : 1;
  for (int64_t t = 0; t < count; t += T)
    for (int q = 0; q < parts; ++q) {
      int64_t off[T][3][3];  // -1: padding, or no tile
      for (int u = 0; u < T; ++u) {
        const Tile& tl = tiles[std::min(t + u, count - 1)];
        // Top-left input pixel of the patch and its row/column step.
        const int64_t y0 = strided(c) ? 4 * tl.ty + q / 2 - 1 : 2 * tl.ty + ph / 2 - 1;
        const int64_t x0 = strided(c) ? 4 * tl.tx + q % 2 - 1 : 2 * tl.tx + ph % 2 - 1;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            const int64_t y = y0 + step * i, x = x0 + step * j;
            off[u][i][j] =
                t + u < count && y >= 0 && y < c.h && x >= 0 && x < c.w ? in.at(tl.n, y, x) : -1;
          }
      }
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t go = in.group(g);
        V8 r[kPoints][T];
        for (int u = 0; u < T; ++u) {
          V8 d[3][3];
          for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j)
              d[i][j] = off[u][i][j] >= 0 ? load_act(src + off[u][i][j] + go) : V8{};
          V8 e[3][3];
          for (int j = 0; j < 3; ++j)
            e[0][j] = d[0][j] - d[1][j], e[1][j] = d[1][j], e[2][j] = d[2][j] - d[1][j];
          for (int a = 0; a < 3; ++a) {
            r[a * 3][u] = e[a][0] - e[a][1];
            r[a * 3 + 1][u] = e[a][1];
            r[a * 3 + 2][u] = e[a][2] - e[a][1];
          }
        }
        const int64_t k = q * c.ci + g * kGroupLanes;
        for (int p = 0; p < kPoints; ++p) v.put(p, t, k, r[p]);
      }
    }
}

// The chunk's 2x2 output blocks from m[point][t][co], plus the bias.
template <typename Out>
void transform_output(const WinogradConv& c, const ChannelGroupAddress& out, const float* m,
                      const float* bias, int ph, const Tile* tiles, int64_t count, int64_t rows,
                      Out* dst) {
  // Output pixel of block row r: 2r + py (transposed, phase rows interleave) or r.
  const int64_t ostep = strided(c) ? 1 : 2, py = strided(c) ? 0 : ph / 2,
                px = strided(c) ? 0 : ph % 2;
  const int64_t groups = c.co / kGroupLanes, ldc = ldc_of(c), plane = rows * ldc;
  for (int64_t t = 0; t < count; ++t) {
    const float* mt = m + t * ldc;
    int64_t off[2][2];
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx)
        off[dy][dx] = out.at(tiles[t].n, ostep * (2 * tiles[t].ty + dy) + py,
                             ostep * (2 * tiles[t].tx + dx) + px);
    for (int64_t g = 0; g < groups; ++g) {
      V8 q[9];
      for (int p = 0; p < kPoints; ++p) q[p] = load8(mt + p * plane + g * kGroupLanes);
      const V8 b = bias ? load8(bias + g * kGroupLanes) : V8{};
      // Rows: s0 = M0 + M1, s1 = M1 + M2; then the same over columns.
      V8 s[2][3];
      for (int j = 0; j < 3; ++j) s[0][j] = q[j] + q[3 + j], s[1][j] = q[3 + j] + q[6 + j];
      const int64_t go = out.group(g);
      for (int dy = 0; dy < 2; ++dy) {
        store_act(dst + off[dy][0] + go, s[dy][0] + s[dy][1] + b);
        store_act(dst + off[dy][1] + go, s[dy][1] + s[dy][2] + b);
      }
    }
  }
}

// Wide enough for the GEMMs to outweigh the transforms: ci co / (ci + co) >= min_width.
bool wide_enough(const WinogradConv& c, int64_t min_width) {
  return c.ci * c.co >= min_width * (c.ci + c.co);
}

// Whole 2x2 output blocks, 8-channel groups on both sides, layouts we address.
bool whole_tiles_and_groups(const WinogradConv& c) {
  auto layout_ok = [](Layout l) {
    return l == Layout::nhwc || l == Layout::blk8 || l == Layout::blk16;
  };
  const int64_t m = strided(c) ? 4 : 2;
  return c.n >= 1 && c.h >= m && c.w >= m && c.h % m == 0 && c.w % m == 0 &&
         c.ci % kGroupLanes == 0 && c.co % kGroupLanes == 0 && c.threads >= 1 &&
         layout_ok(c.src_layout) && layout_ok(c.dst_layout);
}

// The weight gradient of the strided kind (what the backward pass of every
// such layer, transposed or not, needs: see winograd_conv.h) is the adjoint of
// its forward pass. With M = the products of the forward GEMMs, dM[point][t][co]
// is the adjoint of the output transform applied to dy's 2x2 blocks, the
// transformed-weight gradient D[point][co][k] = sum over tiles of
// dM[point][t][co] V[point][t][k], and dw the adjoint of the weight transform
// of D. D is summed over chunks of tiles in a fixed order, each element by one
// thread, so the result does not depend on the thread count.

// Tiles per chunk: its transformed input and dy (9 x tiles x (K + co)
// floats) in about 16 MiB, at least 256 (D, 9 x co x K floats, is read and
// written once per chunk and pass of kWgradPass tiles), at most 1024; the
// chunks about equal.
int64_t wgrad_tiles_per_chunk(const WinogradConv& c) {
  const int64_t all = c.n * tile_rows(c) * tile_cols(c);
  const int64_t t =
      std::clamp<int64_t>((int64_t(16) << 20) / (4 * kPoints * (lda_of(c) + ldc_of(c))), 256, 1024);
  const int64_t chunks = (all + t - 1) / t;
  const int64_t per = (all + chunks - 1) / chunks;
  return bf16_of(c) ? (per + 1) / 2 * 2
                    : per;  // bf16: whole pairs of tiles (a short chunk pads one)
}
// Tiles per micro-kernel call: its slice of V (128 x NR floats) stays in L1
// while the co rows of dM stream past it.
constexpr int64_t kWgradPass = 128;

// dm[point][t][co] (PackedOut's layout) for `count` tiles: transform_output's
// adjoint (bias aside) on dy's 2x2 blocks.
template <Pack P, typename In>
void transform_output_adjoint(const WinogradConv& c, const ChannelGroupAddress& out, const In* dy,
                              const Tile* tiles, int64_t count, const PackedOut<P>& dm) {
  constexpr int T = PackedOut<P>::kTiles;
  const int64_t groups = c.co / kGroupLanes;
  for (int64_t t = 0; t < count; t += T) {
    int64_t off[T][2][2];
    for (int u = 0; u < T; ++u) {
      const Tile& tl = tiles[std::min(t + u, count - 1)];
      for (int r = 0; r < 2; ++r)
        for (int x = 0; x < 2; ++x) off[u][r][x] = out.at(tl.n, 2 * tl.ty + r, 2 * tl.tx + x);
    }
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t go = out.group(g);
      V8 m[kPoints][T];
      for (int u = 0; u < T; ++u) {
        // Columns: y0 = s0 + s1, y1 = s1 + s2 -> (y0, y0 + y1, y1); then rows alike. No tile: zero.
        const bool tile = t + u < count;
        V8 s[2][3];
        for (int r = 0; r < 2; ++r) {
          const V8 y0 = tile ? load_act(dy + off[u][r][0] + go) : V8{},
                   y1 = tile ? load_act(dy + off[u][r][1] + go) : V8{};
          s[r][0] = y0, s[r][1] = y0 + y1, s[r][2] = y1;
        }
        for (int j = 0; j < 3; ++j) {
          m[j][u] = s[0][j];
          m[3 + j][u] = s[0][j] + s[1][j];
          m[6 + j][u] = s[1][j];
        }
      }
      const int64_t k = g * kGroupLanes;
      for (int p = 0; p < kPoints; ++p) dm.put(p, t, k, m[p]);
    }
  }
}

// D[co x NR] (+)= dM^T V over `count` tiles for one panel of NR columns of
// one point: dM rows ldm apart, V rows lda apart, D rows ldd apart. bf16: dM
// and V in bf16_pairs layout (count even, the panel's column offset already
// in v), each micro-kernel step a pair of tiles.
void gemm_weight_gradient(MicroIsa isa, int64_t co, int64_t count, const void* dm, int64_t ldm,
                          const void* v, int64_t lda, float* d, int64_t ldd, bool accumulate) {
  const int64_t mr = mr_of(isa);
  for (int64_t t0 = 0; t0 < count; t0 += kWgradPass) {
    const int64_t tc = std::min(kWgradPass, count - t0);
    for (int64_t r = 0; r < co; r += mr) {
      if (isa == MicroIsa::avx512_bf16)
        micro_rows_bf16<true>(std::min(mr, co - r), tc / 2,
                              static_cast<const uint16_t*>(dm) + t0 * ldm + 2 * r, 2 * ldm,
                              static_cast<const uint16_t*>(v) + t0 * lda, 2 * lda, d + r * ldd, ldd,
                              accumulate || t0 > 0);
      else
        micro_rows<true>(
            isa, std::min(mr, co - r), tc, static_cast<const float*>(dm) + t0 * ldm + r, ldm,
            static_cast<const float*>(v) + t0 * lda, lda, d + r * ldd, ldd, accumulate || t0 > 0);
    }
  }
}

}  // namespace

bool winograd_applies(const WinogradConv& c) {
  return whole_tiles_and_groups(c) && c.co % nr_of(c.isa) == 0;
}

bool winograd_pays(const WinogradConv& c) {
  // bf16 (against oneDNN's bf16 kernels, which read bf16 copies of src and
  // weights; Zen 4, 2 threads, the seed step's layers, bench/RESULTS.md):
  // transposed from 128 -> 64 channels up (G 1024 -> 512 at 4 px 0.71x the
  // time, 128 -> 64 at 32 px 0.97x; 64 -> 32 at 64 px 1.25x); strided from 64 -> 128 channels up,
  // given an input of at least 16 x 16 (D's 32 -> 64 at 64 px measured
  // 1.15x oneDNN's time, G's 1024 -> 512 input gradient at 8 px 1.40x).
  if (bf16_of(c)) return wide_enough(c, 40) && (c.kind == WinogradKind::transposed || c.h >= 16);
  // A strided layer with a 4x4 output has few tiles to reuse its transformed
  // weights, and oneDNN's direct kernel is at its best there: D 256 -> 512
  // at 8 -> 4 px measured 0.95x (AVX-512) and 0.85x (AVX2) of oneDNN's speed,
  // G's 1024 -> 512 input gradient (512 -> 1024 channels) 1.15x and 1.11x.
  if (c.kind == WinogradKind::strided && c.h < 16 && c.ci < 512) return false;
  // The strided kind gains down to 32 -> 64 channels (ci co / (ci + co) = 21;
  // G's 64 -> 32 input gradient 1.13x / 1.25x, D's 32 -> 64 forward 1.0x /
  // 1.2x on AVX-512 / AVX2); the transposed kind loses there on AVX-512
  // (G's 64 -> 32 forward 0.76x, D's 64 -> 32 input gradient 0.68x).
  return wide_enough(c, c.kind == WinogradKind::strided ? 20 : 40);
}

int64_t winograd_weights_floats(const WinogradConv& c) {
  const int64_t n = kPhases * kPoints * c.ci * c.co;
  return bf16_of(c) ? (n + 1) / 2 : n;  // bf16: two a float
}

int64_t winograd_scratch_floats(const WinogradConv& c) {
  const int64_t t = tiles_per_chunk(c);
  return int64_t(c.threads) * kPoints * t * (lda_of(c) + ldc_of(c));
}

void winograd_transform_weights(const WinogradConv& c, const float* w, float* u) {
  // Packed: [group][point][co / nr][K][nr] (bf16: [co / nr][K / 2][nr][2],
  // rounded once from the f32 transform); transposed: group = phase, K = ci;
  // strided: one group, k = parity * ci + channel. This runs at every
  // training step for every layer whose weights the step updates (40 ms a
  // step in scalar code, bench winograd_weights/), so it is vectorised over 8
  // output channels: a task is one panel of nr output channels and a block
  // of input channels, taken in pairs (the bf16 rows pair them; ci % 8 == 0);
  // each (channel, 8 output channels) loads its 16 taps once for all four
  // phases, and each of the 36 (phase, point) rows is written in runs of 8.
  const int64_t nr = nr_of(c.isa), K = k_of(c), per_point = K * c.co;
  const bool bf16 = bf16_of(c);
  // Taps of (input channel i, output channel o) start at w + i * ti + o * to (16 floats).
  const int64_t ti = strided(c) ? 16 : c.co * 16, to = strided(c) ? c.ci * 16 : 16;
  // Tap (j, l) of phase (py, px): transposed [ci][co][4][4] at kernel row
  // 3 - py - 2j; strided [co][ci][4][4], parity (py, px), at row 2j + py.
  int tap[kPhases][2][2];
  for (int ph = 0; ph < kPhases; ++ph)
    for (int j = 0; j < 2; ++j)
      for (int l = 0; l < 2; ++l) {
        const int py = ph / 2, px = ph % 2;
        tap[ph][j][l] =
            strided(c) ? (2 * j + py) * 4 + 2 * l + px : (3 - py - 2 * j) * 4 + (3 - px - 2 * l);
      }
  constexpr int64_t kBlockCi = 64;  // input channels per task (even)
  const int64_t blocks = (c.ci + kBlockCi - 1) / kBlockCi;
#pragma omp parallel for collapse(2) num_threads(c.threads) schedule(static)
  for (int64_t o0 = 0; o0 < c.co; o0 += nr)
    for (int64_t b = 0; b < blocks; ++b)
      for (int64_t i = b * kBlockCi; i < std::min(c.ci, (b + 1) * kBlockCi); i += 2)
        for (int64_t oc = o0; oc < o0 + nr; oc += kGroupLanes) {
          // x[e][ph * 9 + point]: the transformed weights of channels i + e and oc .. oc + 7.
          V8 x[2][kPhases * kPoints];
          for (int e = 0; e < 2; ++e) {
            const float* base = w + (i + e) * ti + oc * to;
            // The next pair's taps (a line of 16 floats for each of the 8 columns):
            // the loads are scattered enough to defeat the hardware prefetcher
            // (G's 1024 -> 512 layer, bf16: 10.4 -> 8.3 ms).
            for (int lane = 0; lane < kGroupLanes; ++lane)
              _mm_prefetch(reinterpret_cast<const char*>(base + 2 * ti + lane * to), _MM_HINT_T0);
            V8 t[16];
            for (int q = 0; q < 16; ++q)
              for (int lane = 0; lane < kGroupLanes; ++lane) t[q][lane] = base[lane * to + q];
            for (int ph = 0; ph < kPhases; ++ph) {
              const V8 g00 = t[tap[ph][0][0]], g01 = t[tap[ph][0][1]], g10 = t[tap[ph][1][0]],
                       g11 = t[tap[ph][1][1]];
              const V8 r[3][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g10, g11}};
              for (int a = 0; a < 3; ++a) {
                x[e][ph * kPoints + a * 3 + 0] = r[a][0];
                x[e][ph * kPoints + a * 3 + 1] = r[a][0] + r[a][1];
                x[e][ph * kPoints + a * 3 + 2] = r[a][1];
              }
            }
          }
          for (int ph = 0; ph < kPhases; ++ph) {
            const int64_t group = strided(c) ? 0 : ph, k = strided(c) ? ph * c.ci + i : i;
            for (int p = 0; p < kPoints; ++p) {
              // Element (k, column) of the panel: k * nr + column, or bf16 (k / 2) * 2 nr + 2
              // column + k % 2.
              const int64_t panel = (group * kPoints + p) * per_point + o0 * K, col = oc - o0;
              const V8 &even = x[0][ph * kPoints + p], &odd = x[1][ph * kPoints + p];
              if (bf16) {
                store_bf16_pairs(
                    reinterpret_cast<uint16_t*>(u) + panel + (k / 2) * 2 * nr + 2 * col, even, odd);
              } else {
                store8(u + panel + k * nr + col, even);
                store8(u + panel + (k + 1) * nr + col, odd);
              }
            }
          }
        }
}

namespace {
// f(p) with p typed as the activation's element type says (const: a read side).
template <typename F>
void with_elem(const void* p, Elem e, F&& f) {
  if (e == Elem::bf16)
    f(static_cast<const uint16_t*>(p));
  else
    f(static_cast<const float*>(p));
}
template <typename F>
void with_elem(void* p, Elem e, F&& f) {
  if (e == Elem::bf16)
    f(static_cast<uint16_t*>(p));
  else
    f(static_cast<float*>(p));
}

template <typename In, typename Out>
void run_typed(const WinogradConv& c, const In* src, const float* u, const float* bias, Out* dst,
               float* scratch) {
  const int64_t ho = strided(c) ? c.h / 2 : 2 * c.h, wo = strided(c) ? c.w / 2 : 2 * c.w;
  const ChannelGroupAddress in(c.src_layout, c.ci, c.h, c.w), out(c.dst_layout, c.co, ho, wo);
  const int64_t tw = tile_cols(c), th = tile_rows(c), group_tiles = c.n * th * tw, K = k_of(c);
  const int64_t chunk = tiles_per_chunk(c), per_group = (group_tiles + chunk - 1) / chunk;
  const int64_t chunks = groups_of(c) * per_group, per_point = K * c.co, mr = mr_of(c.isa);
#pragma omp parallel num_threads(c.threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lda = lda_of(c), ldc = ldc_of(c);
    float* v = scratch + int64_t(t) * kPoints * chunk * (lda + ldc);
    float* m = v + kPoints * chunk * lda;
    Tile tiles[kMaxChunk];
    for (int64_t k = chunks * t / nt; k < chunks * (t + 1) / nt; ++k) {
      const int ph = int(k / per_group);
      const int64_t first = (k % per_group) * chunk, count = std::min(chunk, group_tiles - first);
      for (int64_t i = 0; i < count; ++i) tiles[i] = tile_at(first + i, th, tw);
      const int64_t rows = (count + mr - 1) / mr * mr;
      const size_t el = bf16_of(c) ? 2 : 4;  // bytes of an operand element
      if (bf16_of(c))
        transform_input(c, in, src, ph, tiles, count,
                        PackedOut<Pack::bf16_rows>{v, rows * lda, lda});
      else
        transform_input(c, in, src, ph, tiles, count, PackedOut<Pack::f32>{v, rows * lda, lda});
      char* vb = reinterpret_cast<char*>(v);
      for (int p = 0; p < kPoints; ++p)  // the micro-kernel's last row block reads whole blocks
        std::memset(vb + size_t(p * rows * lda + count * lda) * el, 0,
                    size_t((rows - count) * lda) * el);
      const char* ub =
          reinterpret_cast<const char*>(u) + size_t(int64_t(ph) * kPoints * per_point) * el;
      for (int p = 0; p < kPoints; ++p)
        gemm(c.isa, rows, K, c.co, vb + size_t(p * rows * lda) * el, lda,
             ub + size_t(p * per_point) * el, m + p * rows * ldc, ldc);
      transform_output(c, out, m, bias, ph, tiles, count, rows, dst);
    }
  }
}

}  // namespace

void winograd_run(const WinogradConv& c, const void* src, Elem src_elem, const float* u,
                  const float* bias, void* dst, Elem dst_elem, float* scratch) {
  with_elem(src, src_elem, [&](auto s) {
    with_elem(dst, dst_elem, [&](auto d) { run_typed(c, s, u, bias, d, scratch); });
  });
}

bool winograd_weight_gradient_applies(const WinogradConv& c) {
  // D's rows come in multiples of 4 (co % 8 == 0), V's panels of NR columns
  // (K = 4 ci, ci % 8 == 0).
  return c.kind == WinogradKind::strided && whole_tiles_and_groups(c);
}

bool winograd_weight_gradient_pays(const WinogradConv& c) {
  // bf16: from 64 -> 128 channels up (1024 -> 512 at 8 px 0.24x oneDNN's
  // bf16 time, 256 -> 512 at 16 px 0.76x; 32 -> 64 at 128 px 1.07x).
  if (bf16_of(c)) return wide_enough(c, 40);
  // Faster than oneDNN's kernel on every seed layer it applies to, down to 32
  // and 64 channels (ci co / (ci + co) = 21): 1.1-1.9x on AVX-512, 1.1-1.8x
  // on AVX2 (bench/RESULTS.md); narrower layers are unmeasured and stay on oneDNN.
  return wide_enough(c, 20);
}

int64_t winograd_weight_gradient_scratch_floats(const WinogradConv& c) {
  // D's rows are K wide, like V's: the same padded stride.
  return kPoints * (c.co * lda_of(c) + wgrad_tiles_per_chunk(c) * (lda_of(c) + ldc_of(c)));
}

namespace {
template <typename In, typename Dy>
void weight_gradient_typed(const WinogradConv& c, const In* src, const Dy* dy, float* dw,
                           float* scratch) {
  const ChannelGroupAddress in(c.src_layout, c.ci, c.h, c.w),
      out(c.dst_layout, c.co, c.h / 2, c.w / 2);
  const int64_t tw = tile_cols(c), th = tile_rows(c), all = c.n * th * tw, K = k_of(c);
  const int64_t chunk = wgrad_tiles_per_chunk(c), chunks = (all + chunk - 1) / chunk;
  const int64_t lda = lda_of(c), ldc = ldc_of(c), ldd = lda, nr = nr_of(c.isa),
                panels = K / nr;  // D rows: K wide
  float* d = scratch;
  float* v = d + kPoints * c.co * ldd;
  float* m = v + kPoints * chunk * lda;
  const bool bf16 = bf16_of(c);
  const size_t el = bf16 ? 2 : 4;  // bytes of an operand element
  char *vb = reinterpret_cast<char*>(v), *mb = reinterpret_cast<char*>(m);
  constexpr int64_t kBlock =
      16;  // tiles per transform task (even: bf16 pairs of tiles stay in one task)
#pragma omp parallel num_threads(c.threads)
  {
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t first = k * chunk, count = std::min(chunk, all - first);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < count; i += kBlock) {
        Tile tiles[kBlock];
        const int64_t nb = std::min(kBlock, count - i);
        for (int64_t j = 0; j < nb; ++j) tiles[j] = tile_at(first + i + j, th, tw);
        if (bf16) {
          transform_input(c, in, src, 0, tiles, nb,
                          PackedOut<Pack::bf16_pairs>{vb + size_t(i * lda) * el, chunk * lda, lda});
          transform_output_adjoint(
              c, out, dy, tiles, nb,
              PackedOut<Pack::bf16_pairs>{mb + size_t(i * ldc) * el, chunk * ldc, ldc});
        } else {
          transform_input(c, in, src, 0, tiles, nb,
                          PackedOut<Pack::f32>{v + i * lda, chunk * lda, lda});
          transform_output_adjoint(c, out, dy, tiles, nb,
                                   PackedOut<Pack::f32>{m + i * ldc, chunk * ldc, ldc});
        }
      }
      // bf16 with an odd count: the transforms wrote the last pair's missing tile as zeros.
      const int64_t summed = bf16 ? (count + 1) / 2 * 2 : count;
#pragma omp for schedule(static)
      for (int64_t item = 0; item < kPoints * panels; ++item) {
        const int64_t p = item / panels, col = (item % panels) * nr;
        gemm_weight_gradient(c.isa, c.co, summed, mb + size_t(p * chunk * ldc) * el, ldc,
                             vb + size_t(p * chunk * lda + col * (bf16 ? 2 : 1)) * el, lda,
                             d + p * c.co * ldd + col, ldd, k > 0);
      }
    }
    // dw[o][i][4][4] from D: winograd_transform_weights' adjoint (rows
    // r = (g0, g0 + g1, g1) -> (d0 + d1, d1 + d2), then columns alike).
#pragma omp for schedule(static)
    for (int64_t o = 0; o < c.co; ++o)
      for (int q = 0; q < kPhases; ++q) {
        const int py = q / 2, px = q % 2;
        for (int64_t i = 0; i < c.ci; ++i) {
          const float* at = d + o * ldd + q * c.ci + i;
          float u[kPoints];
          for (int p = 0; p < kPoints; ++p) u[p] = at[p * c.co * ldd];
          float r[3][2];
          for (int a = 0; a < 3; ++a)
            r[a][0] = u[a * 3] + u[a * 3 + 1], r[a][1] = u[a * 3 + 1] + u[a * 3 + 2];
          float* kw = dw + (o * c.ci + i) * 16;
          for (int l = 0; l < 2; ++l) {
            kw[py * 4 + 2 * l + px] = r[0][l] + r[1][l];
            kw[(2 + py) * 4 + 2 * l + px] = r[1][l] + r[2][l];
          }
        }
      }
  }
}

}  // namespace

void winograd_weight_gradient(const WinogradConv& c, const void* src, Elem src_elem, const void* dy,
                              Elem dy_elem, float* dw, float* scratch) {
  with_elem(src, src_elem, [&](auto s) {
    with_elem(dy, dy_elem, [&](auto d) { weight_gradient_typed(c, s, d, dw, scratch); });
  });
}

}  // namespace rg::onednn
