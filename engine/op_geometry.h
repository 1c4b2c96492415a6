// SPDX-License-Identifier: Apache-2.0
// The index geometry of the gather-style anchors (pooling, matmul,
// log_softmax, concat, bilinear resize), derived once from a node for every
// backend: the reference loops over it, CUDA prints it into source as
// constants. Convolutions have theirs in engine/conv_geometry.h; docs/lowering.md
// says what the engine derives for the backends.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/graph.h"

namespace rg {

// kMaxPool2d / kAvgPool2d (x -> y), kMaxPool2dBackward (dy, x -> dx) and
// kAvgPool2dBackward (dy -> dx), NCHW: windows are clipped to the input, so
// padding never wins a max.
struct PoolGeometry {
  int64_t planes = 0, h = 0, w = 0;  // x [planes = N * C, h, w]
  int64_t ho = 0, wo = 0;            // y (dy) [planes, ho, wo]
  int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  int ph_end = 0, pw_end = 0;  // padding at the bottom and right (ONNX's asymmetric pads)
  int dh = 1, dw = 1;          // dilation: the spacing of a window's taps (forward only)
  bool max = true;
  bool count_include_pad = true;  // average: divide by kh * kw, else by the clipped window

  // Output (oh, ow)'s window: taps h0 + i * dh (i < kh) before clipping; the
  // taps inside the input are hs, hs + dh, ... below h1 (columns alike).
  struct Window {
    int64_t h0, w0, hs, h1, ws, w1;
  };
  Window window(int64_t oh, int64_t ow) const;
  // The outputs whose windows contain input row h: [lo, hi] (empty when lo > hi); columns alike.
  std::pair<int64_t, int64_t> rows_containing(int64_t h) const;
  std::pair<int64_t, int64_t> cols_containing(int64_t w) const;
  // An average window's divisor.
  int64_t average_count(const Window& win) const;
};
PoolGeometry pool_geometry(const Graph& g, const Node& n);

// y [batch..., m, n] = op(a) @ op(b), op = transpose where set; a and b
// row-major as stored, their batch dimensions broadcast as numpy's matmul.
// Batch matrix t of y reads a's matrix at a_off[t] and b's at b_off[t].
struct MatMulGeometry {
  int64_t m = 0, n = 0, k = 0;
  bool ta = false, tb = false;
  int64_t batch = 1;
  std::vector<int64_t> a_off{0}, b_off{0};
  int64_t a_index(int64_t i, int64_t kk) const { return ta ? kk * m + i : i * k + kk; }
  int64_t b_index(int64_t kk, int64_t j) const { return tb ? j * k + kk : kk * n + j; }
};
MatMulGeometry matmul_geometry(const Graph& g, const Node& n);

// kLogSoftmax, kLogSoftmaxBackward and kSoftmax: independent rows along one
// axis. Row r's element i is at base(r) + i * inner (inner: the elements
// after the axis; 1 for the last axis).
struct RowGeometry {
  int64_t rows = 0, length = 0, inner = 1;
  int axis = 0;
  int64_t base(int64_t r) const { return (r / inner) * length * inner + r % inner; }
  bool backward = false;  // dx from (dy, y)
  bool softmax = false;   // exp(x - max) / sum, not x - max - log(sum)
};
RowGeometry row_geometry(const Graph& g, const Node& n);

// kConcat: y viewed as [outer, sum of sizes, inner]; input i is [outer, sizes[i], inner].
struct ConcatGeometry {
  int axis = 0;  // non-negative
  int64_t outer = 1, inner = 1;
  std::vector<int64_t> sizes;
  int64_t total() const;
};
ConcatGeometry concat_geometry(const Graph& g, const Node& n);

// kTranspose: y (its own shape) read from x with these strides per y axis.
std::vector<int64_t> transpose_strides(const Graph& g, const Node& n);

// kResizeBilinear as F.interpolate(mode="bilinear", align_corners=False, no
// antialias): output row d reads input rows i0 and i1 with weights l0 and l1
// (columns alike), from the source coordinate (d + 0.5) * in / out - 0.5
// clamped at 0, the upper neighbour clamped to the last row. Computed here in
// double, once, so every backend interpolates with the same weights.
struct BilinearTap {
  int64_t i0, i1;
  double l0, l1;
};
struct ResizeGeometry {
  int64_t planes = 0, h = 0, w = 0, ho = 0, wo = 0;
  std::vector<BilinearTap> rows, cols;  // ho and wo taps
};
ResizeGeometry resize_geometry(const Graph& g, const Node& n);

// kLrn over NCHW: channel c's window is [c - before, c + after] clipped to the channels.
struct LrnGeometry {
  int64_t n = 0, c = 0, hw = 0;
  int64_t before = 0, after = 0, size = 1;
  double alpha = 0, beta = 0, bias = 1;
};
LrnGeometry lrn_geometry(const Graph& g, const Node& n);

// kPad and kResizeNearest: y[o] = x[sum of map[i][o_i] * stride[i]], or
// `fill` where some map[i][o_i] is -1 (constant padding). One table per axis,
// computed once here for every backend.
struct AxisGather {
  Shape out;
  std::vector<int64_t> in_strides;
  std::vector<std::vector<int64_t>> map;  // per axis, one entry per output index
  double fill = 0;
  // The input offset of row r's start (every axis but the last), or -1
  // where the row is padding.
  int64_t row_offset(int64_t r) const {
    int64_t off = 0;
    for (size_t i = out.size() - 1; i-- > 0;) {
      const int64_t m = map[i][size_t(r % out[i])];
      if (m < 0) return -1;
      off += m * in_strides[i];
      r /= out[i];
    }
    return off;
  }
  // The input offset of output element e, or -1 (fill).
  int64_t offset(int64_t e) const {
    const int64_t row = out.back(), base = row_offset(e / row), m = map.back()[size_t(e % row)];
    return base < 0 || m < 0 ? -1 : base + m * in_strides.back();
  }
};
AxisGather axis_gather(const Graph& g, const Node& n);

}  // namespace rg
