// SPDX-License-Identifier: Apache-2.0
#include "engine/op_geometry.h"

#include <algorithm>
#include <cmath>

namespace rg {

PoolGeometry pool_geometry(const Graph& g, const Node& n) {
  const bool backward = n.op == OpKind::kMaxPool2dBackward || n.op == OpKind::kAvgPool2dBackward;
  const Shape& x = n.op == OpKind::kMaxPool2dBackward   ? g.shape(n.inputs[1])  // (dy, x) -> dx
                   : n.op == OpKind::kAvgPool2dBackward ? n.attrs.shape         // (dy) -> dx
                                                        : g.shape(n.inputs[0]);
  const Shape& y = g.shape(backward ? n.inputs[0] : n.outputs[0]);
  PoolGeometry p;
  p.planes = x[0] * x[1], p.h = x[2], p.w = x[3], p.ho = y[2], p.wo = y[3];
  p.kh = n.attrs.kernel[0], p.kw = n.attrs.kernel[1], p.sh = n.attrs.stride[0],
  p.sw = n.attrs.stride[1];
  p.ph = n.attrs.padding[0], p.pw = n.attrs.padding[1];
  p.ph_end = n.attrs.pad_end(0), p.pw_end = n.attrs.pad_end(1);
  p.dh = n.attrs.dilation[0], p.dw = n.attrs.dilation[1];
  p.max = n.op == OpKind::kMaxPool2d || n.op == OpKind::kMaxPool2dBackward;
  p.count_include_pad = n.attrs.count_include_pad;
  return p;
}

namespace {
// Taps t0 + i * d (i < k) inside [0, len): the first, and one past the last.
std::pair<int64_t, int64_t> taps_inside(int64_t t0, int k, int d, int64_t len) {
  const int64_t first = t0 >= 0 ? t0 : t0 + (-t0 + d - 1) / d * d;
  const int64_t last_i = std::min<int64_t>(k - 1, t0 + int64_t(k - 1) * d < len ? k - 1 : (len - 1 - t0) / d);
  const int64_t last = t0 + last_i * d;
  return {first, last >= first ? last + 1 : first};
}
}  // namespace

PoolGeometry::Window PoolGeometry::window(int64_t oh, int64_t ow) const {
  const int64_t h0 = oh * sh - ph, w0 = ow * sw - pw;
  const auto [hs, h1] = taps_inside(h0, kh, dh, h);
  const auto [ws, w1] = taps_inside(w0, kw, dw, w);
  return {h0, w0, hs, h1, ws, w1};
}

namespace {
// Windows [o * s - p, o * s - p + k) that contain i: o in [ceil((i + p - k + 1) / s), (i + p) / s].
std::pair<int64_t, int64_t> containing(int64_t i, int64_t k, int64_t s, int64_t p, int64_t outs) {
  const int64_t a = i + p - k + 1;
  const int64_t lo = a > 0 ? (a + s - 1) / s : 0;
  return {lo, std::min((i + p) / s, outs - 1)};
}
}  // namespace

std::pair<int64_t, int64_t> PoolGeometry::rows_containing(int64_t h) const { return containing(h, kh, sh, ph, ho); }
std::pair<int64_t, int64_t> PoolGeometry::cols_containing(int64_t w) const { return containing(w, kw, sw, pw, wo); }

int64_t PoolGeometry::average_count(const Window& win) const {
  if (!count_include_pad) return ((win.h1 - win.hs + dh - 1) / dh) * ((win.w1 - win.ws + dw - 1) / dw);
  // PyTorch counts the padding but not a window's part past it: the taps below h + ph_end.
  const int64_t rows = std::min<int64_t>(kh, (h + ph_end - win.h0 + dh - 1) / dh);
  const int64_t cols = std::min<int64_t>(kw, (w + pw_end - win.w0 + dw - 1) / dw);
  return rows * cols;
}

MatMulGeometry matmul_geometry(const Graph& g, const Node& n) {
  const Shape &a = g.shape(n.inputs[0]), &b = g.shape(n.inputs[1]), &y = g.shape(n.outputs[0]);
  const size_t r = y.size();
  MatMulGeometry m;
  m.ta = n.attrs.transpose_a, m.tb = n.attrs.transpose_b;
  m.m = y[r - 2], m.n = y[r - 1], m.k = a[a.size() - (m.ta ? 2 : 1)];
  const Shape batch(y.begin(), y.end() - 2);
  m.batch = numel(batch);
  const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  const std::vector<int64_t> sa = broadcast_strides(batch, ab), sb = broadcast_strides(batch, bb);
  m.a_off.assign(size_t(m.batch), 0);
  m.b_off.assign(size_t(m.batch), 0);
  for (int64_t t = 0; t < m.batch; ++t) {
    int64_t rest = t, oa = 0, ob = 0;
    for (size_t d = batch.size(); d-- > 0;) {
      const int64_t i = rest % batch[d];
      rest /= batch[d];
      oa += i * sa[d], ob += i * sb[d];
    }
    m.a_off[size_t(t)] = oa * m.m * m.k, m.b_off[size_t(t)] = ob * m.k * m.n;
  }
  return m;
}

RowGeometry row_geometry(const Graph& g, const Node& n) {
  const Shape& s = g.shape(n.outputs[0]);
  const int rank = int(s.size());
  RowGeometry r;
  r.axis = n.attrs.axes.empty() ? rank - 1 : (n.attrs.axes[0] < 0 ? n.attrs.axes[0] + rank : n.attrs.axes[0]);
  r.length = s[size_t(r.axis)];
  for (int k = r.axis + 1; k < rank; ++k) r.inner *= s[size_t(k)];
  r.rows = numel(s) / r.length;
  r.backward = n.op == OpKind::kLogSoftmaxBackward;
  r.softmax = n.op == OpKind::kSoftmax;
  return r;
}

std::vector<int64_t> transpose_strides(const Graph& g, const Node& n) {
  const Shape& x = g.shape(n.inputs[0]);
  std::vector<int64_t> xs(x.size(), 1), r;
  for (size_t i = x.size(); i-- > 1;) xs[i - 1] = xs[i] * x[i];
  for (int a : n.attrs.axes) r.push_back(xs[size_t(a)]);
  return r;
}

ConcatGeometry concat_geometry(const Graph& g, const Node& n) {
  const Shape& y = g.shape(n.outputs[0]);
  const int rank = int(y.size());
  ConcatGeometry c;
  c.axis = n.attrs.axes[0] < 0 ? n.attrs.axes[0] + rank : n.attrs.axes[0];
  for (int k = 0; k < c.axis; ++k) c.outer *= y[size_t(k)];
  for (int k = c.axis + 1; k < rank; ++k) c.inner *= y[size_t(k)];
  for (ValueId v : n.inputs) c.sizes.push_back(g.shape(v)[size_t(c.axis)]);
  return c;
}

int64_t ConcatGeometry::total() const {
  int64_t t = 0;
  for (int64_t s : sizes) t += s;
  return t;
}

namespace {

using Coord = OpAttrs::ResizeCoord;

// Output index d's source coordinate on an axis of `in` resized to `out`
// (OpAttrs::ResizeMode; kTorch is the bilinear one here).
double source_coordinate(const OpAttrs::ResizeMode& m, size_t axis, int64_t d, int64_t in, int64_t out) {
  const bool given = m.scale[axis] > 0;
  const double scale = given ? m.scale[axis] : double(out) / double(in);
  const double length = given ? double(in) * scale : double(out);  // ONNX's length_resized
  switch (m.coord) {
    case Coord::kTorch: return double(in) / double(out) * (double(d) + 0.5) - 0.5;
    case Coord::kHalfPixel: return (double(d) + 0.5) / scale - 0.5;
    case Coord::kPytorchHalfPixel: return length > 1 ? (double(d) + 0.5) / scale - 0.5 : 0.0;
    case Coord::kAlignCorners: return length > 1 ? double(d) * double(in - 1) / (length - 1) : 0.0;
    case Coord::kAsymmetric: return double(d) / scale;
    case Coord::kTfHalfPixelForNn: return (double(d) + 0.5) / scale;
  }
  return 0;
}

// Sources outside the axis read its edge (PyTorch clamps the coordinate at 0
// and repeats the last row; ONNX pads with the edge value: the same).
std::vector<BilinearTap> bilinear_taps(const OpAttrs::ResizeMode& m, size_t axis, int64_t in, int64_t out) {
  std::vector<BilinearTap> t(static_cast<size_t>(out));
  for (int64_t d = 0; d < out; ++d) {
    const double src = std::max(source_coordinate(m, axis, d, in, out), 0.0);
    const int64_t i0 = std::min<int64_t>(int64_t(src), in - 1);
    const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    const double l1 = std::min(src - double(i0), 1.0);
    t[size_t(d)] = {i0, i1, 1.0 - l1, l1};
  }
  return t;
}

int64_t nearest_index(const OpAttrs::ResizeMode& m, size_t axis, int64_t d, int64_t in, int64_t out) {
  using R = OpAttrs::NearestRound;
  if (m.coord == Coord::kTorch) return std::min(in - 1, d * in / out);  // floor(d * in / out), exactly
  const double src = source_coordinate(m, axis, d, in, out);
  double i = 0;
  switch (m.round) {
    case R::kFloor: i = std::floor(src); break;
    case R::kCeil: i = std::ceil(src); break;
    case R::kRoundPreferFloor: i = src - std::floor(src) == 0.5 ? std::floor(src) : std::round(src); break;
    case R::kRoundPreferCeil: i = src - std::floor(src) == 0.5 ? std::ceil(src) : std::round(src); break;
  }
  return std::clamp<int64_t>(int64_t(i), 0, in - 1);
}

}  // namespace

ResizeGeometry resize_geometry(const Graph& g, const Node& n) {
  const Shape &x = g.shape(n.inputs[0]), &y = g.shape(n.outputs[0]);
  ResizeGeometry r;
  r.planes = x[0] * x[1], r.h = x[2], r.w = x[3], r.ho = y[2], r.wo = y[3];
  r.rows = bilinear_taps(n.attrs.resize, 0, r.h, r.ho);
  r.cols = bilinear_taps(n.attrs.resize, 1, r.w, r.wo);
  return r;
}

LrnGeometry lrn_geometry(const Graph& g, const Node& n) {
  const Shape& x = g.shape(n.inputs[0]);
  LrnGeometry l;
  l.n = x[0], l.c = x[1], l.hw = x[2] * x[3];
  l.size = n.attrs.kernel[0];
  l.before = (l.size - 1) / 2, l.after = l.size / 2;  // floor and ceil of (size - 1) / 2
  l.alpha = n.attrs.scalar, l.beta = n.attrs.scalar2, l.bias = n.attrs.bias;
  return l;
}

AxisGather axis_gather(const Graph& g, const Node& n) {
  const Shape &x = g.shape(n.inputs[0]), &y = g.shape(n.outputs[0]);
  AxisGather a;
  a.out = y;
  a.in_strides.assign(x.size(), 1);
  for (size_t i = x.size(); i-- > 1;) a.in_strides[i - 1] = a.in_strides[i] * x[i];
  const size_t r = x.size();
  for (size_t i = 0; i < r; ++i) {
    std::vector<int64_t> m(static_cast<size_t>(y[i]));
    for (int64_t o = 0; o < y[i]; ++o) {
      if (n.op == OpKind::kResizeNearest) {  // NCHW: the spatial axes map, the others are copied
        m[size_t(o)] = i < 2 ? o : nearest_index(n.attrs.resize, i - 2, o, x[i], y[i]);
        continue;
      }
      const int64_t begin = n.attrs.pads[i], s = o - begin, len = x[i];
      if (s >= 0 && s < len) {
        m[size_t(o)] = s;
      } else if (n.attrs.pad_mode == OpAttrs::PadMode::kConstant) {
        m[size_t(o)] = -1;
      } else if (n.attrs.pad_mode == OpAttrs::PadMode::kEdge) {
        m[size_t(o)] = std::clamp<int64_t>(s, 0, len - 1);
      } else {  // reflect, without repeating the edge (numpy's "reflect")
        m[size_t(o)] = s < 0 ? -s : 2 * (len - 1) - s;
      }
    }
    a.map.push_back(std::move(m));
  }
  a.fill = n.op == OpKind::kPad ? n.attrs.scalar : 0.0;
  return a;
}

}  // namespace rg
