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

LaunchSpec make_bf16_convert(int64_t n, bool to_bf16, Arg in, Arg out, int sms, int block) {
  std::ostringstream o;
  o << "extern \"C\" __global__ void __launch_bounds__(" << block << ") KNAME(const "
    << (to_bf16 ? "float" : "unsigned short") << "* __restrict__ in0, " << (to_bf16 ? "unsigned short" : "float") << "* out0) {\n"
    << "  for (i64 e = (i64)blockIdx.x * " << block << " + threadIdx.x; e < " << ll(n) << "; e += (i64)gridDim.x * " << block
    << ") out0[e] = " << (to_bf16 ? "rg_f2bf(in0[e])" : "rg_bf2f(in0[e])") << ";\n}\n";
  const int64_t blocks = std::clamp<int64_t>((n + block - 1) / block, 1, int64_t(sms) * 16);
  return finish(o.str(), unsigned(blocks), unsigned(block), {in, out}, to_bf16 ? "to_bf16_" : "from_bf16_");
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
