// SPDX-License-Identifier: Apache-2.0
// Code generators: CUDA C++ source for elementwise chains and fixed-order
// reductions. Shapes, strides and scalars are compile-time constants in the
// source, so index arithmetic is multiplies and shifts.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "backends/cuda/cuda_internal.h"

namespace rg::cuda {

std::string literal(double v, const std::string& T) {
  char b[64];
  if (T == "float") std::snprintf(b, sizeof b, "%.9e", double(float(v)));
  else std::snprintf(b, sizeof b, "%.17e", v);
  std::string s = b;
  if (s.find("inf") != std::string::npos || s.find("nan") != std::string::npos) fail("non-finite scalar in a kernel");
  return T == "float" ? "(" + s + "f)" : "(" + s + ")";
}

namespace {

std::string ll(int64_t v) { return "(i64)" + std::to_string(v) + "LL"; }

// Names the kernel by a hash of its source (with a placeholder name).
LaunchSpec finish(std::string src, unsigned grid, unsigned block, std::vector<Arg> args, const char* prefix) {
  LaunchSpec l;
  l.name = std::string(prefix) + hex64(fnv1a(src));
  size_t p;
  while ((p = src.find("KNAME")) != std::string::npos) src.replace(p, 5, l.name);
  l.source = std::move(src);
  l.grid = grid;
  l.block = block;
  l.args = std::move(args);
  return l;
}

}  // namespace

LaunchSpec make_elementwise(const EwSpec& s, int sms) {
  const int kBlock = s.block;
  const int64_t n = numel(s.shape);
  const size_t rank = s.shape.size();
  std::ostringstream o;
  std::vector<Arg> args;
  o << "extern \"C\" __global__ void __launch_bounds__(" << kBlock << ") KNAME(";
  for (size_t i = 0; i < s.loads.size(); ++i) {
    const std::string t = s.loads[i].bf16 ? "unsigned short" : s.loads[i].type.empty() ? s.T : s.loads[i].type;
    o << (i ? ", " : "") << "const " << t << "* __restrict__ in" << i;
    args.push_back(s.loads[i].arg);
  }
  for (size_t i = 0; i < s.stores.size(); ++i) {
    o << (args.empty() ? "" : ", ") << s.T << "* out" << i;
    args.push_back(s.stores[i].first);
  }
  o << ") {\n";
  for (size_t i = 0; i < s.loads.size(); ++i)
    if (s.loads[i].scalar)
      o << "  const " << (s.loads[i].type.empty() ? s.T : s.loads[i].type) << " l" << i << " = in" << i << "[0];\n";
  for (const std::string& p : s.prelude) o << "  " << p << "\n";
  bool need_index = false;
  for (const EwLoad& l : s.loads) need_index |= !l.full && !l.scalar;
  o << "  for (i64 e = (i64)blockIdx.x * " << kBlock << " + threadIdx.x; e < " << ll(n)
    << "; e += (i64)gridDim.x * " << kBlock << ") {\n";
  if (need_index) {
    o << "    i64 t = e;\n";
    for (size_t d = rank; d-- > 0;) {
      if (d > 0) o << "    const i64 i" << d << " = t % " << ll(s.shape[d]) << "; t /= " << ll(s.shape[d]) << ";\n";
      else o << "    const i64 i0 = t;\n";
    }
  }
  for (size_t i = 0; i < s.loads.size(); ++i) {
    const EwLoad& l = s.loads[i];
    if (l.scalar) continue;
    const std::string t = l.type.empty() ? s.T : l.type;
    o << "    const " << t << " l" << i << " = " << (l.bf16 ? "rg_bf2f(" : "") << "in" << i << "[";
    if (l.full) {
      o << "e";
    } else {
      std::string off;
      for (size_t d = 0; d < rank; ++d)
        if (l.strides[d]) off += (off.empty() ? "" : " + ") + std::string("i") + std::to_string(d) + " * " + ll(l.strides[d]);
      o << (off.empty() ? "0" : off);
    }
    o << "]" << (l.bf16 ? ")" : "") << ";\n";
  }
  for (const std::string& b : s.body) o << "    " << b << "\n";
  for (size_t i = 0; i < s.stores.size(); ++i) o << "    out" << i << "[e] = " << s.stores[i].second << ";\n";
  o << "  }\n}\n";
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((n + kBlock - 1) / kBlock, int64_t(sms) * 16));
  return finish(o.str(), unsigned(blocks), kBlock, std::move(args), "ew_");
}

namespace {

// The grid-stride loop over n outputs (and its grid) of the gather and
// conversion kernels.
std::string gather_loop(int64_t n, int block) {
  std::ostringstream o;
  o << "  for (i64 e = (i64)blockIdx.x * " << block << " + threadIdx.x; e < " << ll(n) << "; e += (i64)gridDim.x * " << block
    << ") {\n";
  return o.str();
}
unsigned gather_grid(int64_t n, int sms, int block) {
  return unsigned(std::clamp<int64_t>((n + block - 1) / block, 1, int64_t(sms) * 16));
}

}  // namespace

LaunchSpec make_pool2d(const PoolGeometry& geo, const std::string& T, Arg in, Arg out, int sms, int block) {
  const int64_t H = geo.h, W = geo.w, Ho = geo.ho, Wo = geo.wo, n = geo.planes * Ho * Wo;
  const int kh = geo.kh, kw = geo.kw, sh = geo.sh, sw = geo.sw, ph = geo.ph, pw = geo.pw;
  std::ostringstream o;
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const " << T << "* __restrict__ x, " << T
    << "* y) {\n"
    << gather_loop(n, block) << "    const i64 ow = e % " << ll(Wo) << ", t = e / " << ll(Wo) << ", oh = t % " << ll(Ho)
    << ", plane = t / " << ll(Ho) << ";\n"
    << "    const i64 h0 = oh * " << sh << " - " << ph << ", w0 = ow * " << sw << " - " << pw << ";\n";
  // PoolGeometry::window: the taps h0 + i * dh inside the input, hs up to below h1.
  const int dh = geo.dh, dw = geo.dw;
  auto taps = [&](const char* t0, const char* first, const char* end, int k, int d, int64_t len) {
    o << "    const i64 " << first << " = " << t0 << " >= 0 ? " << t0 << " : " << t0 << " + (-" << t0 << " + " << d - 1
      << ") / " << d << " * " << d << ";\n"
      << "    const i64 " << end << "_i = " << t0 << " + " << ll(int64_t(k - 1) * d) << " < " << ll(len) << " ? " << k - 1
      << " : (" << ll(len - 1) << " - " << t0 << ") / " << d << ";\n"
      << "    const i64 " << end << " = " << t0 << " + " << end << "_i * " << d << " >= " << first << " ? " << t0 << " + "
      << end << "_i * " << d << " + 1 : " << first << ";\n";
  };
  taps("h0", "hs", "h1", kh, dh, H);
  taps("w0", "ws", "w1", kw, dw, W);
  o << "    const " << T << "* xp = x + plane * " << ll(H * W) << ";\n";
  const std::string loops = "    for (i64 i = hs; i < h1; i += " + std::to_string(dh) + ")\n      for (i64 j = ws; j < w1; j += " +
                            std::to_string(dw) + ")";
  if (geo.max) {
    // Windows are never empty (padding < kernel); a NaN wins, as in the reference.
    o << "    " << T << " m = xp[hs * " << ll(W) << " + ws];\n"
      << loops << " {\n"
      << "        const " << T << " v = xp[i * " << ll(W) << " + j];\n        if (v > m || v != v) m = v;\n      }\n"
      << "    y[e] = m;\n";
  } else {
    o << "    double sum = 0;\n" << loops << " sum += (double)xp[i * " << ll(W) << " + j];\n";
    if (geo.count_include_pad)  // PoolGeometry::average_count
      o << "    const i64 count = min((i64)" << kh << ", (" << ll(H + geo.ph_end) << " - h0 + " << dh - 1 << ") / " << dh
        << ") * min((i64)" << kw << ", (" << ll(W + geo.pw_end) << " - w0 + " << dw - 1 << ") / " << dw << ");\n";
    else
      o << "    const i64 count = ((h1 - hs + " << dh - 1 << ") / " << dh << ") * ((w1 - ws + " << dw - 1 << ") / " << dw
        << ");\n";
    o << "    y[e] = (" << T << ")(sum / (double)count);\n";
  }
  o << "  }\n}\n";
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), {in, out}, geo.max ? "maxpool_" : "avgpool_");
}

// One thread per input element: the sum of the output gradients of the
// windows whose first maximum it is (the reference's tie rule), added in the
// reference's window order, so no atomics and the same rounding.
LaunchSpec make_max_pool2d_backward(const PoolGeometry& geo, const std::string& T, Arg dy, Arg x, Arg dx, int sms, int block) {
  const int64_t H = geo.h, W = geo.w, Ho = geo.ho, Wo = geo.wo, n = geo.planes * H * W;
  const int kh = geo.kh, kw = geo.kw, sh = geo.sh, sw = geo.sw, ph = geo.ph, pw = geo.pw;
  std::ostringstream o;
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const " << T << "* __restrict__ dy, const " << T
    << "* __restrict__ x, " << T << "* dx) {\n"
    << gather_loop(n, block) << "    const i64 w = e % " << ll(W) << ", t = e / " << ll(W) << ", h = t % " << ll(H)
    << ", plane = t / " << ll(H) << ";\n"
    << "    const " << T << "* xp = x + plane * " << ll(H * W) << ";\n"
    << "    const " << T << "* dyp = dy + plane * " << ll(Ho * Wo) << ";\n"
    << "    " << T << " acc = 0;\n"
    // Windows [oh * sh - ph, + kh) that contain h: oh in [ceil((h + ph - kh + 1) / sh), (h + ph) / sh].
    << "    const i64 oh_lo = h + " << ph - kh + 1 << " > 0 ? (h + " << ph - kh + 1 + sh - 1 << ") / " << sh << " : 0;\n"
    << "    const i64 ow_lo = w + " << pw - kw + 1 << " > 0 ? (w + " << pw - kw + 1 + sw - 1 << ") / " << sw << " : 0;\n"
    << "    const i64 oh_hi = min((h + " << ph << ") / " << sh << ", " << ll(Ho - 1) << ");\n"
    << "    const i64 ow_hi = min((w + " << pw << ") / " << sw << ", " << ll(Wo - 1) << ");\n"
    << "    for (i64 oh = oh_lo; oh <= oh_hi; ++oh)\n      for (i64 ow = ow_lo; ow <= ow_hi; ++ow) {\n"
    << "        const i64 h0 = oh * " << sh << " - " << ph << ", w0 = ow * " << sw << " - " << pw << ";\n"
    << "        const i64 h1 = min(h0 + " << kh << ", " << ll(H) << "), w1 = min(w0 + " << kw << ", " << ll(W) << ");\n"
    << "        const i64 hs = h0 > 0 ? h0 : 0, ws = w0 > 0 ? w0 : 0;\n"
    << "        i64 best = hs * " << ll(W) << " + ws;\n"
    << "        for (i64 i = hs; i < h1; ++i)\n          for (i64 j = ws; j < w1; ++j) {\n"
    << "            const " << T << " v = xp[i * " << ll(W) << " + j], b = xp[best];\n"
    << "            if (v > b || (v != v && b == b)) best = i * " << ll(W) << " + j;\n          }\n"
    << "        if (best == h * " << ll(W) << " + w) acc += dyp[oh * " << ll(Wo) << " + ow];\n      }\n"
    << "    dx[e] = acc;\n  }\n}\n";
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), {dy, x, dx}, "maxpool_bwd_");
}

LaunchSpec make_avg_pool2d_backward(const PoolGeometry& geo, const std::string& T, Arg dy, Arg dx, int sms, int block) {
  const int64_t H = geo.h, W = geo.w, Ho = geo.ho, Wo = geo.wo, n = geo.planes * H * W;
  const int kh = geo.kh, kw = geo.kw, sh = geo.sh, sw = geo.sw, ph = geo.ph, pw = geo.pw;
  std::ostringstream o;
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const " << T << "* __restrict__ dy, " << T
    << "* dx) {\n"
    << gather_loop(n, block) << "    const i64 w = e % " << ll(W) << ", t = e / " << ll(W) << ", h = t % " << ll(H)
    << ", plane = t / " << ll(H) << ";\n"
    << "    const " << T << "* dyp = dy + plane * " << ll(Ho * Wo) << ";\n"
    << "    double acc = 0;\n"
    << "    const i64 oh_lo = h + " << ph - kh + 1 << " > 0 ? (h + " << ph - kh + 1 + sh - 1 << ") / " << sh << " : 0;\n"
    << "    const i64 ow_lo = w + " << pw - kw + 1 << " > 0 ? (w + " << pw - kw + 1 + sw - 1 << ") / " << sw << " : 0;\n"
    << "    const i64 oh_hi = min((h + " << ph << ") / " << sh << ", " << ll(Ho - 1) << ");\n"
    << "    const i64 ow_hi = min((w + " << pw << ") / " << sw << ", " << ll(Wo - 1) << ");\n"
    << "    for (i64 oh = oh_lo; oh <= oh_hi; ++oh)\n      for (i64 ow = ow_lo; ow <= ow_hi; ++ow) {\n"
    << "        const i64 h0 = oh * " << sh << " - " << ph << ", w0 = ow * " << sw << " - " << pw << ";\n";
  if (geo.count_include_pad)  // PoolGeometry::average_count
    o << "        const i64 count = (min(h0 + " << kh << ", " << ll(H + geo.ph_end) << ") - h0) * (min(w0 + " << kw << ", "
      << ll(W + geo.pw_end) << ") - w0);\n";
  else
    o << "        const i64 count = (min(h0 + " << kh << ", " << ll(H) << ") - (h0 > 0 ? h0 : 0)) * (min(w0 + " << kw
      << ", " << ll(W) << ") - (w0 > 0 ? w0 : 0));\n";
  o << "        acc += (double)dyp[oh * " << ll(Wo) << " + ow] / (double)count;\n      }\n"
    << "    dx[e] = (" << T << ")acc;\n  }\n}\n";
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), {dy, dx}, "avgpool_bwd_");
}

// One thread per output element, accumulated in double as the reference.
LaunchSpec make_matmul(const MatMulGeometry& geo, const std::string& T, Arg a, Arg b, Arg y, int sms, int block) {
  const int64_t M = geo.m, N = geo.n, K = geo.k, n = geo.batch * M * N;
  // MatMulGeometry::a_index and b_index, printed; batched: its offset tables.
  const std::string ai = geo.ta ? "k * " + ll(M) + " + i" : "i * " + ll(K) + " + k";
  const std::string bi = geo.tb ? "j * " + ll(K) + " + k" : "k * " + ll(N) + " + j";
  std::ostringstream o;
  const bool batched = geo.batch > 1;
  if (batched) {
    o << "__device__ const i64 KNAME_aoff[] = {";
    for (int64_t v : geo.a_off) o << ll(v) << ", ";
    o << "};\n__device__ const i64 KNAME_boff[] = {";
    for (int64_t v : geo.b_off) o << ll(v) << ", ";
    o << "};\n";
  }
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const " << T << "* __restrict__ a0, const " << T
    << "* __restrict__ b0, " << T << "* y) {\n"
    << gather_loop(n, block) << "    const i64 j = e % " << ll(N) << ", i = (e / " << ll(N) << ") % " << ll(M) << ";\n";
  if (batched)
    o << "    const i64 t = e / " << ll(M * N) << ";\n"
      << "    const " << T << "* a = a0 + KNAME_aoff[t];\n    const " << T << "* b = b0 + KNAME_boff[t];\n";
  else
    o << "    const " << T << "* a = a0;\n    const " << T << "* b = b0;\n";
  o << "    double acc = 0;\n"
    << "    for (i64 k = 0; k < " << ll(K) << "; ++k) acc += (double)a[" << ai << "] * (double)b[" << bi << "];\n"
    << "    y[e] = (" << T << ")acc;\n  }\n}\n";
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), {a, b, y}, "matmul_");
}

// One thread per row along the axis, in double as the reference: log_softmax
// or softmax of `in`, or (backward) dx = dy - exp(y) * sum(dy) with in = dy, y = y.
LaunchSpec make_log_softmax(const RowGeometry& geo, const std::string& T, Arg in, Arg y, Arg out, int sms, int block) {
  const int64_t L = geo.length, rows = geo.rows, S = geo.inner;
  const bool backward = geo.backward;
  const std::string at = "[b + i * " + ll(S) + "]";
  std::ostringstream o;
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const " << T << "* __restrict__ x, ";
  if (backward) o << "const " << T << "* __restrict__ y, ";
  o << T << "* out) {\n"
    << gather_loop(rows, block) << "    const i64 b = (e / " << ll(S) << ") * " << ll(L * S) << " + e % " << ll(S)
    << ";\n";
  if (backward) {
    o << "    double sum = 0;\n    for (i64 i = 0; i < " << ll(L) << "; ++i) sum += (double)x" << at << ";\n"
      << "    for (i64 i = 0; i < " << ll(L) << "; ++i) out" << at << " = (" << T << ")((double)x" << at
      << " - exp((double)y" << at << ") * sum);\n";
  } else {
    o << "    double m = (double)x[b], sum = 0;\n"
      << "    for (i64 i = 1; i < " << ll(L) << "; ++i) m = fmax(m, (double)x" << at << ");\n"
      << "    for (i64 i = 0; i < " << ll(L) << "; ++i) sum += exp((double)x" << at << " - m);\n"
      << "    const double lse = m + log(sum);\n"
      << "    for (i64 i = 0; i < " << ll(L) << "; ++i) out" << at << " = (" << T << ")("
      << (geo.softmax ? "exp((double)x" + at + " - m) / sum" : "(double)x" + at + " - lse") << ");\n";
  }
  o << "  }\n}\n";
  std::vector<Arg> args = {in};
  if (backward) args.push_back(y);
  args.push_back(out);
  return finish(o.str(), gather_grid(rows, sms, block), unsigned(block), std::move(args),
                backward ? "logsoftmax_bwd_" : geo.softmax ? "softmax_" : "logsoftmax_");
}

LaunchSpec make_concat(const ConcatGeometry& geo, const std::string& T, const std::vector<Arg>& ins, Arg out, int sms,
                       int block) {
  const int64_t inner = geo.inner, total = geo.total(), n = geo.outer * total * inner;
  std::ostringstream o;
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(";
  for (size_t i = 0; i < ins.size(); ++i) o << "const " << T << "* __restrict__ x" << i << ", ";
  o << T << "* y) {\n"
    << gather_loop(n, block) << "    const i64 r = e % " << ll(inner) << ", t = e / " << ll(inner) << ", a = t % " << ll(total)
    << ", outer = t / " << ll(total) << ";\n";
  int64_t at = 0;
  for (size_t i = 0; i < ins.size(); ++i) {
    const int64_t c = geo.sizes[i];
    o << "    " << (i ? "else " : "") << "if (a < " << ll(at + c) << ") y[e] = x" << i << "[(outer * " << ll(c) << " + a - "
      << ll(at) << ") * " << ll(inner) << " + r];\n";
    at += c;
  }
  o << "  }\n}\n";
  std::vector<Arg> args = ins;
  args.push_back(out);
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), std::move(args), "concat_");
}

// The taps are ResizeGeometry's, printed as tables next to the kernel (the
// weights exactly as the reference computes them, in double).
LaunchSpec make_resize_bilinear(const ResizeGeometry& geo, const std::string& T, Arg in, Arg out, int sms, int block) {
  const int64_t W = geo.w, Ho = geo.ho, Wo = geo.wo, n = geo.planes * Ho * Wo;
  std::ostringstream o;
  auto table = [&](const char* p, const std::vector<BilinearTap>& taps) {
    o << "__device__ const i64 KNAME_" << p << "i[] = {";
    for (const BilinearTap& t : taps) o << ll(t.i0) << ", " << ll(t.i1) << ", ";
    o << "};\n__device__ const double KNAME_" << p << "l[] = {";
    for (const BilinearTap& t : taps) o << literal(t.l0, "double") << ", " << literal(t.l1, "double") << ", ";
    o << "};\n";
  };
  table("h", geo.rows);
  table("w", geo.cols);
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const " << T << "* __restrict__ x, " << T
    << "* y) {\n"
    << gather_loop(n, block) << "    const i64 ow = e % " << ll(Wo) << ", t = e / " << ll(Wo) << ", oh = t % " << ll(Ho)
    << ", plane = t / " << ll(Ho) << ";\n"
    << "    const i64 h0 = KNAME_hi[2 * oh], h1 = KNAME_hi[2 * oh + 1], w0 = KNAME_wi[2 * ow], w1 = KNAME_wi[2 * ow + 1];\n"
    << "    const double hl0 = KNAME_hl[2 * oh], hl1 = KNAME_hl[2 * oh + 1], wl0 = KNAME_wl[2 * ow], wl1 = KNAME_wl[2 * ow + 1];\n"
    << "    const " << T << "* xp = x + plane * " << ll(geo.h * W) << ";\n"
    << "    const double v = hl0 * (wl0 * (double)xp[h0 * " << ll(W) << " + w0] + wl1 * (double)xp[h0 * " << ll(W)
    << " + w1]) + hl1 * (wl0 * (double)xp[h1 * " << ll(W) << " + w0] + wl1 * (double)xp[h1 * " << ll(W) << " + w1]);\n"
    << "    y[e] = (" << T << ")v;\n  }\n}\n";
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), {in, out}, "resize_");
}

LaunchSpec make_lrn(const LrnGeometry& l, const std::string& T, Arg in, Arg out, int sms, int block) {
  const int64_t n = l.n * l.c * l.hw;
  std::ostringstream o;
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const " << T << "* __restrict__ x, " << T
    << "* y) {\n"
    << gather_loop(n, block) << "    const i64 i = e % " << ll(l.hw) << ", c = (e / " << ll(l.hw) << ") % " << ll(l.c)
    << ", b = e / " << ll(l.hw * l.c) << ";\n"
    << "    const i64 lo = c - " << ll(l.before) << " > 0 ? c - " << ll(l.before) << " : 0, hi = c + " << ll(l.after)
    << " < " << ll(l.c - 1) << " ? c + " << ll(l.after) << " : " << ll(l.c - 1) << ";\n"
    << "    double sum = 0;\n    for (i64 j = lo; j <= hi; ++j) { const double v = (double)x[(b * " << ll(l.c)
    << " + j) * " << ll(l.hw) << " + i]; sum += v * v; }\n"
    << "    y[e] = (" << T << ")((double)x[e] / pow(" << literal(l.bias, "double") << " + "
    << literal(l.alpha / double(l.size), "double") << " * sum, " << literal(l.beta, "double") << "));\n  }\n}\n";
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), {in, out}, "lrn_");
}

LaunchSpec make_axis_gather(const AxisGather& geo, const std::string& T, Arg in, Arg out, int sms, int block) {
  const int64_t n = numel(geo.out);
  const size_t r = geo.out.size();
  std::ostringstream o;
  for (size_t i = 0; i < r; ++i) {
    o << "__device__ const i64 KNAME_m" << i << "[] = {";
    for (int64_t m : geo.map[i]) o << ll(m) << ", ";
    o << "};\n";
  }
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const " << T << "* __restrict__ x, " << T
    << "* y) {\n"
    << gather_loop(n, block) << "    i64 t = e, off = 0; bool fill = false;\n";
  for (size_t i = r; i-- > 0;)
    o << "    { const i64 m = KNAME_m" << i << "[t % " << ll(geo.out[i]) << "]; t /= " << ll(geo.out[i])
      << "; if (m < 0) fill = true; else off += m * " << ll(geo.in_strides[i]) << "; }\n";
  o << "    y[e] = fill ? (" << T << ")" << literal(geo.fill, "double") << " : x[off];\n  }\n}\n";
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), {in, out}, "gather_");
}

LaunchSpec make_bf16_convert(int64_t n, bool to_bf16, Arg in, Arg out, int sms, int block) {
  std::ostringstream o;
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const "
    << (to_bf16 ? "float" : "unsigned short") << "* __restrict__ in0, " << (to_bf16 ? "unsigned short" : "float") << "* out0) {\n"
    << gather_loop(n, block) << "    out0[e] = " << (to_bf16 ? "rg_f2bf(in0[e])" : "rg_bf2f(in0[e])") << ";\n  }\n}\n";
  return finish(o.str(), gather_grid(n, sms, block), unsigned(block), {in, out}, to_bf16 ? "to_bf16_" : "from_bf16_");
}

namespace {

// Domain dims after dropping size-1 dims and merging neighbours of one kind.
struct Dims {
  std::vector<int64_t> size, stride;
  std::vector<bool> reduced;
};
Dims collapse(const Shape& domain, const std::vector<bool>& red) {
  Dims d;
  std::vector<int64_t> strides(domain.size());
  int64_t st = 1;
  for (size_t i = domain.size(); i-- > 0;) strides[i] = st, st *= domain[i];
  for (size_t i = 0; i < domain.size(); ++i) {
    if (domain[i] == 1) continue;
    if (!d.size.empty() && d.reduced.back() == red[i] && d.stride.back() == strides[i] * domain[i]) {
      d.size.back() *= domain[i];
      d.stride.back() = strides[i];
      continue;
    }
    d.size.push_back(domain[i]);
    d.stride.push_back(strides[i]);
    d.reduced.push_back(red[i]);
  }
  return d;
}

// Statements decomposing `var` over the dims of one kind into an offset `off`.
std::string decompose(const Dims& d, bool reduced, const std::string& var, const std::string& off) {
  std::ostringstream o;
  o << "i64 " << off << " = 0; { i64 t = " << var << ";";
  for (size_t i = d.size.size(); i-- > 0;) {
    if (d.reduced[i] != reduced) continue;
    o << " " << off << " += (t % " << ll(d.size[i]) << ") * " << ll(d.stride[i]) << "; t /= " << ll(d.size[i]) << ";";
  }
  o << " }";
  return o.str();
}

}  // namespace

RedPlan plan_reduction(const RedSpec& s, int sms) {
  RedPlan p;
  for (size_t i = 0; i < s.domain.size(); ++i) (s.reduced[i] ? p.reduce : p.outputs) *= s.domain[i];
  // Enough blocks to fill the card, each with at least 2048 elements. Fixed for a
  // given shape and card, so the summation order (and the bits) never change.
  const int64_t want_blocks = int64_t(sms) * 8;
  int64_t parts = std::min<int64_t>((p.reduce + 2047) / 2048, (want_blocks + p.outputs - 1) / p.outputs);
  p.parts = int(std::clamp<int64_t>(parts, 1, 1024));
  const size_t elem = s.T == "float" ? 4 : 8;
  p.partial_bytes = size_t(p.outputs) * size_t(p.parts) * s.terms.size() * elem;
  return p;
}

std::vector<LaunchSpec> make_reduction(const RedSpec& s, const RedPlan& p) {
  const int kBlock = s.block;
  const Dims d = collapse(s.domain, s.reduced);
  const size_t K = s.terms.size();
  const int64_t O = p.outputs, R = p.reduce, P = p.parts, chunk = (R + P - 1) / P;
  std::vector<LaunchSpec> out;
  {  // pass 1: partial sums
    std::ostringstream o;
    std::vector<Arg> args;
    o << "extern \"C\" __global__ void __launch_bounds__(" << kBlock << ") KNAME(";
    size_t a = 0;
    for (size_t i = 0; i < s.full_loads.size(); ++i, ++a) o << (a ? ", " : "") << "const " << s.T << "* __restrict__ x" << i << "p", args.push_back(s.full_loads[i]);
    for (size_t i = 0; i < s.out_loads.size(); ++i, ++a) o << (a ? ", " : "") << "const " << s.T << "* __restrict__ q" << i << "p", args.push_back(s.out_loads[i]);
    o << (a ? ", " : "") << s.T << "* partials";
    args.push_back(s.partials);
    o << ") {\n  __shared__ " << s.T << " sm[" << K << "][" << kBlock << "];\n";
    o << "  const i64 o = blockIdx.x / " << P << ", p = blockIdx.x % " << P << ";\n";
    o << "  " << decompose(d, false, "o", "base") << "\n";
    for (size_t i = 0; i < s.out_loads.size(); ++i) o << "  const " << s.T << " q" << i << " = q" << i << "p[o];\n";
    for (const std::string& l : s.prelude) o << "  " << l << "\n";
    for (size_t k = 0; k < K; ++k) o << "  " << s.T << " acc" << k << " = 0;\n";
    o << "  const i64 r1 = min((p + 1) * " << ll(chunk) << ", " << ll(R) << ");\n";
    o << "  for (i64 r = p * " << ll(chunk) << " + threadIdx.x; r < r1; r += " << kBlock << ") {\n";
    o << "    " << decompose(d, true, "r", "roff") << "\n    const i64 e = base + roff;\n";
    for (size_t i = 0; i < s.full_loads.size(); ++i) o << "    const " << s.T << " x" << i << " = x" << i << "p[e];\n";
    for (size_t k = 0; k < K; ++k) o << "    acc" << k << " += " << s.terms[k] << ";\n";
    o << "  }\n";
    for (size_t k = 0; k < K; ++k) o << "  sm[" << k << "][threadIdx.x] = acc" << k << ";\n";
    o << "  __syncthreads();\n";
    o << "  for (int h = " << kBlock / 2 << "; h > 0; h >>= 1) {\n    if (threadIdx.x < h) {\n";
    for (size_t k = 0; k < K; ++k) o << "      sm[" << k << "][threadIdx.x] += sm[" << k << "][threadIdx.x + h];\n";
    o << "    }\n    __syncthreads();\n  }\n";
    o << "  if (threadIdx.x == 0) {\n";
    for (size_t k = 0; k < K; ++k) o << "    partials[(" << ll(int64_t(k)) << " * " << ll(O) << " + o) * " << P << " + p] = sm[" << k << "][0];\n";
    o << "  }\n}\n";
    out.push_back(finish(o.str(), unsigned(O * P), kBlock, std::move(args), "rp_"));
  }
  {  // pass 2: partials -> outputs, in order
    std::ostringstream o;
    std::vector<Arg> args;
    o << "extern \"C\" __global__ void __launch_bounds__(" << kBlock << ") KNAME(const " << s.T << "* __restrict__ partials";
    args.push_back(s.partials);
    for (size_t i = 0; i < s.out_loads.size(); ++i) o << ", const " << s.T << "* __restrict__ q" << i << "p", args.push_back(s.out_loads[i]);
    for (size_t i = 0; i < s.outs.size(); ++i) o << ", " << s.T << "* y" << i, args.push_back(s.outs[i].first);
    o << ") {\n  const i64 o = (i64)blockIdx.x * " << kBlock << " + threadIdx.x;\n  if (o >= " << ll(O) << ") return;\n";
    for (size_t i = 0; i < s.out_loads.size(); ++i) o << "  const " << s.T << " q" << i << " = q" << i << "p[o];\n";
    for (size_t k = 0; k < K; ++k) {
      o << "  " << s.T << " a" << k << " = 0;\n";
      o << "  for (int p = 0; p < " << P << "; ++p) a" << k << " += partials[(" << ll(int64_t(k)) << " * " << ll(O) << " + o) * " << P << " + p];\n";
    }
    for (const std::string& l : s.final_pre) o << "  " << l << "\n";
    for (size_t i = 0; i < s.outs.size(); ++i) o << "  y" << i << "[o] = " << s.outs[i].second << ";\n";
    o << "}\n";
    out.push_back(finish(o.str(), unsigned((O + kBlock - 1) / kBlock), kBlock, std::move(args), "rf_"));
  }
  return out;
}

}  // namespace rg::cuda
